package pionlog_test

import (
	"bytes"
	"errors"
	"log/slog"
	"strings"
	"testing"

	"github.com/parley-voice/parley/internal/pionlog"
)

// TestRoutineWarnings: what Pion warns of at the end of every call (its
// streams and ICE agent closed under its goroutines) is logged at debug,
// not as a warning; other warnings stay warnings.
func TestRoutineWarnings(t *testing.T) {
	var out bytes.Buffer
	log := slog.New(slog.NewTextHandler(&out, &slog.HandlerOptions{Level: slog.LevelDebug}))
	pc := pionlog.Factory{Log: log}.NewLogger("pc")
	closed := errors.New("stream is already closed")
	pc.Warnf("Failed to accept RTP %v", closed)
	pc.Warnf("Failed to accept RTCP %v", closed)
	pionlog.Factory{Log: log}.NewLogger("ice").Warnf("Failed to send packet: %v", errors.New("the agent is closed"))
	pc.Warnf("Incoming unhandled RTCP ssrc(%d), OnTrack will not be fired", 42)
	want := []string{
		`level=DEBUG msg="Failed to accept RTP stream is already closed" pion=pc`,
		`level=DEBUG msg="Failed to accept RTCP stream is already closed" pion=pc`,
		`level=DEBUG msg="Failed to send packet: the agent is closed" pion=ice`,
		`level=WARN msg="Incoming unhandled RTCP ssrc(42), OnTrack will not be fired" pion=pc`,
	}
	lines := strings.Split(strings.TrimSpace(out.String()), "\n")
	for i, w := range want {
		if i >= len(lines) || !strings.HasSuffix(lines[i], w) {
			t.Errorf("logged\n%s\nwant lines that end\n%s", out.String(), strings.Join(want, "\n"))
			break
		}
	}

	// At the info level, they are not logged at all.
	out.Reset()
	log = slog.New(slog.NewTextHandler(&out, nil))
	pionlog.Factory{Log: log}.NewLogger("pc").Warnf("Failed to accept RTP %v", closed)
	if out.Len() > 0 {
		t.Errorf("logged at the info level: %s", out.String())
	}
}
