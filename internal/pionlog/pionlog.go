// Package pionlog hands Pion (WebRTC, ICE, TURN) loggers that write to a
// log/slog logger, so that nothing Pion says reaches the terminal.
package pionlog

import (
	"context"
	"fmt"
	"log/slog"
	"strings"

	"github.com/pion/logging"
)

// Factory makes Pion loggers that write to a slog logger, each tagged with
// its Pion scope ("ice", "dtls", "turn", ...). Quiet logs everything at
// debug: for a server, where what Pion says is set off by what strangers
// send (pion/turn logs each refused credential as an error), so that they
// cannot flood the log.
type Factory struct {
	Log   *slog.Logger
	Quiet bool
}

// NewLogger implements logging.LoggerFactory.
func (f Factory) NewLogger(scope string) logging.LeveledLogger {
	return logger{f.Log.With("pion", scope), f.Quiet}
}

// levelTrace is below slog's Debug: Pion's trace output is very chatty.
const levelTrace = slog.LevelDebug - 4

type logger struct {
	log   *slog.Logger
	quiet bool
}

func (l logger) logf(level slog.Level, format string, args ...any) {
	if l.quiet {
		level = min(level, slog.LevelDebug)
	}
	if level < slog.LevelWarn && !l.log.Enabled(context.Background(), level) {
		return
	}
	msg := fmt.Sprintf(format, args...)
	if level >= slog.LevelWarn && routine(msg) {
		level = slog.LevelDebug
	}
	if l.log.Enabled(context.Background(), level) {
		l.log.Log(context.Background(), level, msg)
	}
}

// routine reports whether a warning or an error of Pion's is what every
// call's end brings, as its goroutines find the streams and the ICE agent
// closed under them ("Failed to accept RTP stream is already closed",
// "… the agent is closed"): nothing is wrong, so it is logged at debug.
func routine(msg string) bool {
	for _, s := range []string{"stream is already closed", "agent is closed"} {
		if strings.HasSuffix(msg, s) {
			return true
		}
	}
	return false
}

func (l logger) Trace(msg string)          { l.logf(levelTrace, "%s", msg) }
func (l logger) Tracef(f string, a ...any) { l.logf(levelTrace, f, a...) }
func (l logger) Debug(msg string)          { l.logf(slog.LevelDebug, "%s", msg) }
func (l logger) Debugf(f string, a ...any) { l.logf(slog.LevelDebug, f, a...) }
func (l logger) Info(msg string)           { l.logf(slog.LevelInfo, "%s", msg) }
func (l logger) Infof(f string, a ...any)  { l.logf(slog.LevelInfo, f, a...) }
func (l logger) Warn(msg string)           { l.logf(slog.LevelWarn, "%s", msg) }
func (l logger) Warnf(f string, a ...any)  { l.logf(slog.LevelWarn, f, a...) }
func (l logger) Error(msg string)          { l.logf(slog.LevelError, "%s", msg) }
func (l logger) Errorf(f string, a ...any) { l.logf(slog.LevelError, f, a...) }
