package cli

// parley ctl: the control socket of a running parley, and the command
// that drives it.

import (
	"bufio"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/spf13/cobra"

	"github.com/parley-voice/parley/call"
	"github.com/parley-voice/parley/config"
	"github.com/parley-voice/parley/internal/callfmt"
	"github.com/parley-voice/parley/signaling"
)

// ctlDir is where the running parleys of this user keep their control
// sockets: $XDG_RUNTIME_DIR/parley (a directory of the user's alone, gone
// at logout), else run/ in the state directory.
func ctlDir(getenv func(string) string) string {
	if d := getenv("XDG_RUNTIME_DIR"); d != "" {
		return filepath.Join(d, "parley")
	}
	return filepath.Join(config.StateDir(getenv), "run")
}

// controlSocket is a running parley's control socket (PID.sock in ctlDir):
// each connection sends command lines as the standard input of parley
// call does and gets each one's reply or error event, as JSON, on one
// line; "status" is answered with the calls in progress.
type controlSocket struct {
	ln   *net.UnixListener
	path string
	ph   *call.Phone
}

// serveControl opens the control socket of the running phone ph. Only this
// user can reach it: the directory is 0700 (made so if it is not), the
// socket 0600, and a peer of another uid is refused (SO_PEERCRED), should
// the directory's mode be changed behind parley's back.
func (e *env) serveControl(ph *call.Phone) (*controlSocket, error) {
	dir := ctlDir(e.getenv)
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return nil, fmt.Errorf("control socket: %w", err)
	}
	if err := os.Chmod(dir, 0o700); err != nil {
		return nil, fmt.Errorf("control socket: %w", err)
	}
	path := filepath.Join(dir, strconv.Itoa(os.Getpid())+".sock")
	_ = os.Remove(path) // a parley of the same pid that did not clean up
	ln, err := net.ListenUnix("unix", &net.UnixAddr{Name: path, Net: "unix"})
	if err != nil {
		return nil, fmt.Errorf("control socket: %w", err)
	}
	if err := os.Chmod(path, 0o600); err != nil {
		_ = ln.Close()
		return nil, fmt.Errorf("control socket: %w", err)
	}
	s := &controlSocket{ln: ln, path: path, ph: ph}
	go s.accept()
	return s, nil
}

// openControl opens ph's control socket until the command ends. A parley
// that cannot open one goes on without (and says why in its log).
func (e *env) openControl(ph *call.Phone, log *slog.Logger) {
	s, err := e.serveControl(ph)
	if err != nil {
		log.Warn("parley ctl cannot reach this parley", "err", err)
		return
	}
	e.closers = append(e.closers, s)
}

// Close stops taking commands and removes the socket.
func (s *controlSocket) Close() error {
	return s.ln.Close() // a listener it made removes its socket file
}

func (s *controlSocket) accept() {
	for {
		c, err := s.ln.AcceptUnix()
		if err != nil {
			return // closed
		}
		go s.serve(c)
	}
}

// serve answers the commands of one connection until it closes.
func (s *controlSocket) serve(c *net.UnixConn) {
	defer func() { _ = c.Close() }()
	pr := callfmt.NewPrinter(c, c, true, untoldWait)
	sc := bufio.NewScanner(c)
	if uid, err := peerUID(c); err != nil || uid != os.Getuid() {
		// Its command is read first: closing with it unread would reset
		// the connection, and the refusal would be lost.
		_ = c.SetReadDeadline(time.Now().Add(time.Second))
		sc.Scan()
		pr.Refused("", "", signaling.Errorf(signaling.PermissionDenied, "this parley belongs to uid %d, "+
			"not to uid %d: drive your own parley", os.Getuid(), uid))
		return
	}
	for sc.Scan() {
		callAction(s.ph, pr, sc.Text()) // status too
	}
}

// answerStatus answers a status command (on standard input or the control
// socket) with the calls in progress and the room: a status object with
// --json (always on the socket), else a line for each call, and for the
// room and each one in it.
func answerStatus(ph *call.Phone, pr *callfmt.Printer, ref string) {
	st, err := ph.Status()
	if err != nil {
		pr.Refused("status", ref, signaling.Errorf(signaling.UnknownError, "the phone has stopped"))
		return
	}
	r := statusReply(st, ref)
	pr.Answer(r, statusLines(r))
}

// statusLines are a status reply as text: a line for each call, and for
// the room and each participant.
func statusLines(r jsonStatus) []string {
	if len(r.Calls) == 0 && r.Room == nil {
		return []string{"no call in progress"}
	}
	var lines []string
	for _, c := range r.Calls {
		lines = append(lines, ctlCallText(c))
	}
	if r.Room != nil {
		lines = append(lines, ctlRoomText(*r.Room)...)
	}
	return lines
}

// jsonCall is a call in progress in the reply to status.
type jsonCall struct {
	ID         string              `json:"id"`
	Status     signaling.Status    `json:"status"`
	Direction  signaling.Direction `json:"direction"`
	Peer       string              `json:"peer"`
	PeerName   string              `json:"peer_name,omitempty"`
	Muted      bool                `json:"muted"`
	Held       bool                `json:"held"`              // this side holds it
	RemoteHeld bool                `json:"remote_held"`       // the other side does
	Waiting    bool                `json:"waiting,omitempty"` // it rang during another call (call waiting)
	Quality    *jsonQuality        `json:"quality,omitempty"`
}

// jsonQuality is a call's quality over the last second, graded as the
// quality warnings are.
type jsonQuality struct {
	Grade    signaling.Grade `json:"grade"`
	Problems []string        `json:"problems,omitempty"`
	MOS      float64         `json:"mos"`
	RTTMs    float64         `json:"rtt_ms"`
	JitterMs float64         `json:"jitter_ms"`
	Loss     float64         `json:"loss"`
	Relayed  bool            `json:"relayed"`
}

// text is q as status prints it after a call or the room.
func (q *jsonQuality) text() string {
	return fmt.Sprintf(", quality %s (MOS %.1f, %.0f ms, %.1f%% lost)", q.Grade, q.MOS, q.RTTMs, 100*q.Loss)
}

// jsonRoom is the room the phone is in, in the reply to status.
type jsonRoom struct {
	Name         string             `json:"name"`
	Joined       bool               `json:"joined"` // false while joining or joining again
	Role         signaling.RoomRole `json:"role,omitempty"`
	Muted        bool               `json:"muted"`
	MicLocked    bool               `json:"mic_locked,omitempty"` // the host muted you and locked it
	ListenOnly   bool               `json:"listen_only,omitempty"`
	Locked       bool               `json:"locked,omitempty"` // the room
	Participants []jsonParticipant  `json:"participants"`
	Quality      *jsonQuality       `json:"quality,omitempty"` // what you receive
}

// jsonParticipant is someone in the room, with the last grade of their
// connection the server sent (room_event quality).
type jsonParticipant struct {
	signaling.Participant
	Quality *signaling.Quality `json:"quality,omitempty"`
}

type jsonStatus struct {
	Event string     `json:"event"` // "status"
	Ref   string     `json:"ref,omitempty"`
	Calls []jsonCall `json:"calls"`
	Room  *jsonRoom  `json:"room,omitempty"`
}

func statusReply(st call.Snapshot, ref string) jsonStatus {
	r := jsonStatus{Event: "status", Ref: ref, Calls: []jsonCall{}}
	if rs := st.Room; rs != nil {
		jr := &jsonRoom{Name: rs.Name, Joined: rs.Joined, Role: rs.Role, Muted: rs.Muted, MicLocked: rs.MicLocked,
			ListenOnly: rs.ListenOnly, Locked: rs.Locked, Participants: []jsonParticipant{},
			Quality: qualityOf(rs.Stats)}
		for _, pt := range rs.Participants {
			jp := jsonParticipant{Participant: pt}
			if q, ok := rs.Grades[pt.User]; ok {
				jp.Quality = &q
			}
			jr.Participants = append(jr.Participants, jp)
		}
		r.Room = jr
	}
	for _, c := range st.Calls {
		j := jsonCall{ID: c.Event.ID, Status: c.Event.Status, Direction: c.Event.Direction, Peer: c.Event.Peer(),
			PeerName: c.Event.PeerName(), Muted: c.Muted, Held: c.Held, RemoteHeld: c.RemoteHeld,
			Waiting: c.Event.Waiting}
		j.Quality = qualityOf(c.Stats)
		r.Calls = append(r.Calls, j)
	}
	return r
}

// qualityOf grades the figures of the last second, if there are any.
func qualityOf(st *call.Stats) *jsonQuality {
	if st == nil {
		return nil
	}
	problems := signaling.Problems(st.RTT, st.Jitter, st.Loss, st.MOS)
	return &jsonQuality{Grade: signaling.Rate(st.MOS, problems), Problems: problems, MOS: st.MOS,
		RTTMs: ms(st.RTT), JitterMs: ms(st.Jitter), Loss: st.Loss, Relayed: st.Relayed}
}

func ms(d time.Duration) float64 { return float64(d.Microseconds()) / 1000 }

// peerUID is the uid of the process at the other end of c.
func peerUID(c *net.UnixConn) (int, error) {
	raw, err := c.SyscallConn()
	if err != nil {
		return -1, fmt.Errorf("peer credentials: %w", err)
	}
	var cred *syscall.Ucred
	var credErr error
	if err := raw.Control(func(fd uintptr) {
		cred, credErr = syscall.GetsockoptUcred(int(fd), syscall.SOL_SOCKET, syscall.SO_PEERCRED)
	}); err != nil {
		return -1, fmt.Errorf("peer credentials: %w", err)
	}
	if credErr != nil {
		return -1, fmt.Errorf("peer credentials: %w", credErr)
	}
	return int(cred.Uid), nil
}

const ctlLong = `Drive the parley already running for you on this machine (the UI,
parley call, parley answer, parley echo or parley join): COMMAND is one of
the commands they read on standard input (mute, unmute, hold, resume,
hangup, answer, reject, swap, add USER...; in a room, hangup leaves it, and
the actions of parley join --commands work too), or status for the calls
in progress and the room, their state and their quality. It goes over a
socket in $XDG_RUNTIME_DIR/parley (or run/ in the state directory when
unset) that only you can reach. With several parleys running, the newest
is driven, or the one of --pid.`

func (e *env) ctlCommand() *cobra.Command {
	var pid int
	var asJSON bool
	c := &cobra.Command{
		Use:   "ctl COMMAND [ARGS...]",
		Short: "Drive the running parley: mute, hold, resume, hangup, status...",
		Long:  ctlLong,
		Args:  cobra.MinimumNArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			conn, err := dialControl(ctlDir(e.getenv), pid)
			if err != nil {
				return e.ctlRefused(asJSON, err)
			}
			defer func() { _ = conn.Close() }()
			if d, ok := cmd.Context().Deadline(); ok {
				_ = conn.SetDeadline(d)
			}
			if _, err := fmt.Fprintln(conn, strings.Join(args, " ")); err != nil {
				return fail(fmt.Errorf("the running parley: %w", err))
			}
			line, err := bufio.NewReader(conn).ReadBytes('\n')
			if err != nil {
				return fail(fmt.Errorf("the running parley did not answer: %w", err))
			}
			return e.ctlAnswer(asJSON, args[0], line)
		},
	}
	c.Flags().IntVar(&pid, "pid", 0, "drive the parley of process `PID` (default: the newest running)")
	c.Flags().BoolVar(&asJSON, "json", false, "print the answer as the running parley sends it: one JSON object")
	return c
}

// ctlAnswer prints the running parley's answer to command and returns the
// exit status it calls for: an error event is exitError.
func (e *env) ctlAnswer(asJSON bool, command string, line []byte) error {
	var ans struct {
		Event string          `json:"event"`
		Error signaling.Error `json:"error"`
		jsonStatus
	}
	if err := json.Unmarshal(line, &ans); err != nil {
		return fail(fmt.Errorf("the running parley's answer %.80q: %w", line, err))
	}
	if asJSON {
		_, _ = e.stdout.Write(line)
	}
	switch {
	case ans.Event == "error":
		if !asJSON {
			say(e.stderr, "parley: %s: %s (%d): %s", command, ans.Error.Name, ans.Error.Code, ans.Error.Message)
		}
		return &exitCode{code: exitError}
	case asJSON:
	case ans.Event == "status":
		for _, l := range statusLines(ans.jsonStatus) {
			say(e.stdout, "%s", l)
		}
	default:
		say(e.stdout, "%s: ok", command)
	}
	return nil
}

func ctlCallText(c jsonCall) string {
	var b strings.Builder
	fmt.Fprintf(&b, "%s %s %s: %s", c.ID, c.Direction, c.Peer, c.Status)
	if c.Waiting {
		b.WriteString(", waiting")
	}
	if c.Muted {
		b.WriteString(", muted")
	}
	if c.Held {
		b.WriteString(", on hold")
	}
	if c.RemoteHeld {
		b.WriteString(", held by " + c.Peer)
	}
	if q := c.Quality; q != nil {
		b.WriteString(q.text())
	}
	return b.String()
}

// ctlRoomText is the room of a status reply as text: a line for the room
// and one for each participant.
func ctlRoomText(r jsonRoom) []string {
	var b strings.Builder
	fmt.Fprintf(&b, "room %s", r.Name)
	if r.Role != "" {
		fmt.Fprintf(&b, " (%s)", r.Role)
	}
	if !r.Joined {
		b.WriteString(": joining")
	}
	switch {
	case r.ListenOnly:
		b.WriteString(", listening only")
	case r.MicLocked:
		b.WriteString(", muted by the host")
	case r.Muted:
		b.WriteString(", muted")
	}
	if r.Locked {
		b.WriteString(", locked")
	}
	if q := r.Quality; q != nil {
		b.WriteString(q.text())
	}
	lines := []string{b.String()}
	for _, p := range r.Participants {
		l := "  " + signaling.Label(p.User, p.Name) + " (" + string(p.Role) + ")"
		switch {
		case p.MicLocked:
			l += ", muted by the host"
		case p.Muted:
			l += ", muted"
		}
		if p.Quality != nil {
			l += ", " + string(p.Quality.Grade)
		}
		lines = append(lines, l)
	}
	return lines
}

// ctlRefused reports that no running parley could be reached.
func (e *env) ctlRefused(asJSON bool, err error) error {
	se := signaling.AsError(err)
	if asJSON {
		callfmt.NewPrinter(e.stdout, e.stderr, true, untoldWait).Error(se)
		return &exitCode{code: exitError}
	}
	return fail(se)
}

// dialControl connects to the control socket of the parley of pid, or of
// the newest one running when pid is 0. Sockets left by a parley that did
// not stop cleanly do not answer and are skipped (and removed).
func dialControl(dir string, pid int) (*net.UnixConn, error) {
	if pid != 0 {
		c, err := net.DialUnix("unix", nil, &net.UnixAddr{Name: filepath.Join(dir, strconv.Itoa(pid)+".sock"),
			Net: "unix"})
		if err != nil {
			return nil, signaling.Errorf(signaling.NoConnectedSession, "no parley of pid %d is running for you "+
				"here (%v): see parley ctl status without --pid", pid, unwrapOp(err))
		}
		return c, nil
	}
	ents, err := os.ReadDir(dir)
	if err != nil && !errors.Is(err, os.ErrNotExist) {
		return nil, signaling.Errorf(signaling.PermissionDenied, "%v: the control sockets' directory must be "+
			"yours", err)
	}
	type sock struct {
		path string
		at   time.Time
	}
	var socks []sock
	for _, d := range ents {
		info, err := d.Info()
		if err != nil || info.Mode()&os.ModeSocket == 0 || !strings.HasSuffix(d.Name(), ".sock") {
			continue
		}
		socks = append(socks, sock{filepath.Join(dir, d.Name()), info.ModTime()})
	}
	slices.SortFunc(socks, func(a, b sock) int { return b.at.Compare(a.at) })
	for _, s := range socks {
		c, err := net.DialUnix("unix", nil, &net.UnixAddr{Name: s.path, Net: "unix"})
		if err == nil {
			return c, nil
		}
		if errors.Is(err, syscall.ECONNREFUSED) {
			_ = os.Remove(s.path) // nobody listens: its parley is gone
		}
	}
	return nil, signaling.Errorf(signaling.NoConnectedSession, "no parley is running for you on this machine: "+
		"start parley call, parley answer, parley join or parley first")
}

// unwrapOp drops the net.OpError's wording around a dial's cause.
func unwrapOp(err error) error {
	var op *net.OpError
	if errors.As(err, &op) {
		return op.Err
	}
	return err
}
