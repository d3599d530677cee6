package e2e

import (
	"go/build"
	"go/parser"
	"go/token"
	"io/fs"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
)

// TestTiers keeps the two tiers apart (see doc.go). It is this folder's one
// test of the fast tier, and the one file here without the e2e build tag:
// every other test file in e2e/ must carry it (an untagged one would build
// parley and start servers in the fast tier), and no test file of the fast
// tier anywhere may import the helpers that start PulseAudio or nats-server.
func TestTiers(t *testing.T) {
	daemons := map[string]bool{
		"github.com/parley-voice/parley/internal/pulsetest": true,
		"github.com/parley-voice/parley/internal/natstest":  true,
	}
	fset := token.NewFileSet()
	checked := 0
	err := filepath.WalkDir("..", func(path string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if d.IsDir() {
			if path != ".." && (strings.HasPrefix(d.Name(), ".") || d.Name() == "testdata") {
				return filepath.SkipDir
			}
			return nil
		}
		if !strings.HasSuffix(path, "_test.go") {
			return nil
		}
		// build.Default has no e2e tag: a file it matches is in the fast tier.
		fast, err := build.Default.MatchFile(filepath.Dir(path), d.Name())
		if err != nil || !fast {
			return err
		}
		checked++
		if filepath.Dir(path) == filepath.Join("..", "e2e") && d.Name() != "tier_test.go" {
			t.Errorf("e2e/%s has no //go:build e2e line: the fast tier would run it", d.Name())
		}
		f, err := parser.ParseFile(fset, path, nil, parser.ImportsOnly)
		if err != nil {
			return err
		}
		for _, imp := range f.Imports {
			if p, _ := strconv.Unquote(imp.Path.Value); daemons[p] {
				t.Errorf("%s imports %s but has no //go:build e2e line: the fast tier needs no daemon", path, p)
			}
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	if checked < 50 {
		t.Errorf("%d test files of the fast tier found from the module's root; want the module's 50 or more", checked)
	}
}
