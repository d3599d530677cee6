package audio

import "errors"

// Sentinel errors. Errors returned by this package wrap one of these (test
// with errors.Is) and add what went wrong and where.
var (
	// ErrDeviceNotFound means a named or numbered device does not exist, has
	// no channels in the wanted direction, or the name is ambiguous.
	ErrDeviceNotFound = errors.New("audio: device not found")
	// ErrPermission means the operating system refused access to a device.
	ErrPermission = errors.New("audio: permission denied")
	// ErrBadSpec means a source or sink spec could not be parsed.
	ErrBadSpec = errors.New("audio: bad spec")
	// ErrNoSystem means a spec names a device but no System was given.
	ErrNoSystem = errors.New("audio: no audio system")
	// ErrClosed is returned by Read, Write and Open calls after Close.
	ErrClosed = errors.New("audio: closed")
	// ErrStalled means a device stopped delivering or taking audio.
	ErrStalled = errors.New("audio: device stalled")
)
