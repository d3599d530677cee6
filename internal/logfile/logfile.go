// Package logfile is parley's log file, capped in size: when a write would
// take it past its cap, the file is renamed NAME.1 (replacing the one
// before) and a new one begins, so that the log of a UI or a service left
// running for weeks does not fill the disk: at most twice the cap is kept.
//
// The process's file descriptor 2 follows the file (onOpen): what C
// libraries print lands in it too. Those writes are not counted until the
// file is opened again; they are a few lines a call.
package logfile

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"sync"
)

// DefaultMax is the cap of parley's logs: 10 MB, a few weeks of a UI's
// log at the info level.
const DefaultMax = 10 << 20

// File is a log file capped at a size. Its methods may be called from any
// goroutine (the log's handler and the phone's both write).
type File struct {
	path   string
	max    int64
	onOpen func(*os.File) error

	mu   sync.Mutex
	f    *os.File
	size int64
}

// Open opens the log at path for appending, making its folder, and
// renames it NAME.1 first when it has reached limit bytes already. onOpen,
// when not nil, is given each file as it is opened (parley points file
// descriptor 2 at it); an error of it is returned by Open, and ignored when
// a write begins a new file.
func Open(path string, limit int64, onOpen func(*os.File) error) (*File, error) {
	if err := os.MkdirAll(filepath.Dir(path), 0o700); err != nil {
		return nil, fmt.Errorf("logfile: %w", err)
	}
	l := &File{path: path, max: limit, onOpen: onOpen}
	if fi, err := os.Stat(path); err == nil && fi.Size() >= limit {
		if err := os.Rename(path, path+".1"); err != nil {
			return nil, fmt.Errorf("logfile: %w", err)
		}
	} else if err != nil && !errors.Is(err, fs.ErrNotExist) {
		return nil, fmt.Errorf("logfile: %w", err)
	}
	if err := l.open(); err != nil {
		return nil, err
	}
	if onOpen != nil {
		if err := onOpen(l.f); err != nil {
			return l, fmt.Errorf("logfile: %w", err)
		}
	}
	return l, nil
}

// open opens l.path for appending and learns its size; l.mu is held (or l
// is not shared yet).
func (l *File) open() error {
	f, err := os.OpenFile(l.path, os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o600)
	if err != nil {
		return fmt.Errorf("logfile: %w", err)
	}
	fi, err := f.Stat()
	if err != nil {
		_ = f.Close()
		return fmt.Errorf("logfile: %w", err)
	}
	l.f, l.size = f, fi.Size()
	return nil
}

// Write appends p, first beginning a new file when p would take this one
// past the cap (unless it is empty: a line longer than the cap is kept).
func (l *File) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.f == nil {
		return 0, fmt.Errorf("logfile: %s is closed", l.path)
	}
	if l.size > 0 && l.size+int64(len(p)) > l.max {
		if err := l.rotate(); err != nil {
			return 0, err
		}
	}
	n, err := l.f.Write(p)
	l.size += int64(n)
	return n, err
}

// rotate renames the file NAME.1 and opens a new one; l.mu is held.
func (l *File) rotate() error {
	old := l.f
	if err := os.Rename(l.path, l.path+".1"); err != nil {
		return fmt.Errorf("logfile: %w", err)
	}
	if err := l.open(); err != nil {
		l.f = old // go on in the renamed file rather than lose the log
		return err
	}
	if l.onOpen != nil {
		_ = l.onOpen(l.f) // fd 2 stays on the old file: C libraries' lines land in NAME.1
	}
	return old.Close()
}

// Close closes the file. Writes after it fail.
func (l *File) Close() error {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.f == nil {
		return nil
	}
	err := l.f.Close()
	l.f = nil
	return err
}
