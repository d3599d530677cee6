package server

import (
	"errors"
	"fmt"
	"log/slog"
	"net"
	"path/filepath"
	"strconv"
	"time"

	natsserver "github.com/nats-io/nats-server/v2/server"
	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/parley-voice/parley/signaling/server/store"
)

// NATS subjects. Every id in a subject goes through store.Token, so that
// ids with dots or other characters NATS gives a meaning cannot spill into
// other subjects.
const (
	// subjectUser carries, as wire-form signaling messages, everything for
	// a user's connections. A message with the header hdrSession is for that
	// one session only; the others drop it.
	subjectUser = "parley.user."
	// subjectCall is the request subject of a call's owner: call actions as
	// signaling messages (with user and session set by the server), replied
	// to with an actionReply.
	subjectCall = "parley.call."

	hdrSession = "Parley-Session"
	// hdrTeam is the team of the user who sends a call action: a call's
	// parties are (team, user, session).
	hdrTeam = "Parley-Team"

	// hdrControl marks a message on a user's subject that is for the
	// server's connections, not for the client: ctlRevoke (with hdrDevice
	// naming the device, or none for every connection of the user),
	// ctlStatus (the body is the store.Status set by hand), ctlContacts
	// (the body is a user id added to the contacts).
	hdrControl  = "Parley-Control"
	hdrDevice   = "Parley-Device"
	ctlRevoke   = "revoke"
	ctlStatus   = "status"
	ctlContacts = "contacts"
)

// userSubject is the subject of a user, by userKey.
func userSubject(key string) string { return subjectUser + key }
func callSubject(id string) string  { return subjectCall + store.Token(id) }

// presenceKey is the presence key of one session of the user with userKey
// key; presenceFilter matches every session of that user.
func presenceKey(key, session string) string { return key + "." + store.Token(session) }
func presenceFilter(key string) string       { return key + ".*" }

// bus is the server's connection to NATS; the buckets on it are the
// store's (package store).
type bus struct {
	ns     *natsserver.Server // nil when NATSURL is used
	nc     *nats.Conn
	js     jetstream.JetStream
	closed chan struct{} // closed when nc is closed
}

// startBus starts the embedded NATS (or connects to cfg.NATSURL). On
// error everything started is stopped again.
func startBus(cfg Config, log *slog.Logger) (_ *bus, err error) {
	b := &bus{closed: make(chan struct{})}
	defer func() {
		if err != nil {
			b.close()
		}
	}()
	opts := []nats.Option{
		nats.Name("parley-server " + cfg.NodeName),
		nats.MaxReconnects(-1),
		nats.ClosedHandler(func(*nats.Conn) { close(b.closed) }),
		nats.ErrorHandler(func(_ *nats.Conn, sub *nats.Subscription, err error) {
			subject := ""
			if sub != nil {
				subject = sub.Subject
			}
			log.Warn("nats", "subject", subject, "err", err)
		}),
	}
	if cfg.NATSURL != "" {
		b.nc, err = nats.Connect(cfg.NATSURL, opts...)
		if err != nil {
			return nil, fmt.Errorf("server: connect to NATS at %s: %w", cfg.NATSURL, err)
		}
		if v := b.nc.ConnectedServerVersion(); !natsAtLeast(v, 2, 11) {
			return nil, fmt.Errorf("server: the NATS server at %s is version %s: parley needs nats-server 2.11 or "+
				"later, with JetStream (watches on several subjects, limit markers)",
				b.nc.ConnectedUrlRedacted(), v)
		}
	} else {
		if b.ns, err = startEmbedded(cfg, log); err != nil {
			return nil, err
		}
		b.nc, err = nats.Connect("", append(opts, nats.InProcessServer(b.ns))...)
		if err != nil {
			return nil, fmt.Errorf("server: connect to embedded NATS: %w", err)
		}
	}
	if b.js, err = jetstream.New(b.nc); err != nil {
		return nil, fmt.Errorf("server: jetstream: %w", err)
	}
	return b, nil
}

// natsAtLeast reports whether the NATS server version v ("2.11.3") is at
// least major.minor.
func natsAtLeast(v string, major, minor int) bool {
	var ma, mi int
	if _, err := fmt.Sscanf(v, "%d.%d", &ma, &mi); err != nil {
		return false
	}
	return ma > major || ma == major && mi >= minor
}

// startEmbedded starts the embedded NATS server with JetStream stored under
// cfg.DataDir/jetstream, with its own logging and signal handling off.
func startEmbedded(cfg Config, log *slog.Logger) (*natsserver.Server, error) {
	opts := &natsserver.Options{
		ServerName: cfg.NodeName,
		JetStream:  true,
		StoreDir:   filepath.Join(cfg.DataDir, "jetstream"),
		NoLog:      true,
		NoSigs:     true,
		DontListen: cfg.NATSListen == "",
	}
	if cfg.NATSListen != "" {
		host, port, err := net.SplitHostPort(cfg.NATSListen)
		if err != nil {
			return nil, fmt.Errorf("server: NATSListen: %w", err)
		}
		opts.Host = host
		if opts.Port, err = strconv.Atoi(port); err != nil {
			return nil, fmt.Errorf("server: NATSListen port: %w", err)
		}
		if opts.Port == 0 {
			opts.Port = natsserver.RANDOM_PORT
		}
	}
	ns, err := natsserver.NewServer(opts)
	if err != nil {
		return nil, fmt.Errorf("server: embedded NATS: %w", err)
	}
	ns.SetLoggerV2(natsLogger{log.With("component", "nats")}, false, false, false)
	ns.Start()
	if !ns.ReadyForConnections(10 * time.Second) {
		ns.Shutdown()
		ns.WaitForShutdown()
		return nil, errors.New("server: embedded NATS not ready after 10s")
	}
	return ns, nil
}

// close drains the NATS connection and stops the embedded server.
func (b *bus) close() {
	if b == nil {
		return
	}
	if b.nc != nil {
		// Drain delivers what is in flight, bounded by the connection's
		// drain timeout (30s); Close when it cannot start.
		if err := b.nc.Drain(); err != nil {
			b.nc.Close()
		}
		<-b.closed
	}
	if b.ns != nil {
		b.ns.Shutdown()
		b.ns.WaitForShutdown()
	}
}

// natsLogger sends the embedded NATS server's logs to slog.
type natsLogger struct{ log *slog.Logger }

func (l natsLogger) Noticef(format string, v ...any) { l.log.Debug(fmt.Sprintf(format, v...)) }
func (l natsLogger) Warnf(format string, v ...any)   { l.log.Warn(fmt.Sprintf(format, v...)) }
func (l natsLogger) Fatalf(format string, v ...any)  { l.log.Error(fmt.Sprintf(format, v...)) }
func (l natsLogger) Errorf(format string, v ...any)  { l.log.Error(fmt.Sprintf(format, v...)) }
func (l natsLogger) Debugf(format string, v ...any)  { l.log.Debug(fmt.Sprintf(format, v...)) }
func (l natsLogger) Tracef(format string, v ...any)  { l.log.Debug(fmt.Sprintf(format, v...)) }
