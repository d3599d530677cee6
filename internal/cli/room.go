package cli

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"os"
	"strings"
	"time"

	"github.com/spf13/cobra"

	"github.com/parley-voice/parley/call"
	"github.com/parley-voice/parley/internal/callfmt"
	"github.com/parley-voice/parley/signaling"
)

// Rooms: `parley room create|list|show|end` (the rooms API) and `parley
// join ROOM` (the room's audio, until it is left).

func (e *env) roomCommand() *cobra.Command {
	var asJSON bool
	room := &cobra.Command{
		Use:   "room",
		Short: "Create, list, show and end rooms: calls of several people",
		Long: `A room is a call of several people through the server, named within your team.
Its creator is its host, who can mute and remove participants, lock the room
and end it; members speak and listen; listeners only listen. Members join with
'parley join NAME'. A room's audio is encrypted to the server, not end to end
as a 1:1 call's is.`,
		Args: cobra.NoArgs,
	}
	jsonFlag := func(c *cobra.Command, what string) *cobra.Command {
		c.Flags().BoolVar(&asJSON, "json", false, "print "+what)
		return c
	}
	var at string
	var dur time.Duration
	var invite, guests []string
	var guestTTL time.Duration
	create := &cobra.Command{
		Use:   "create NAME",
		Short: "Create the room NAME, of which you are the host",
		Long: `Create the room NAME, of which you are the host, and print how members join it.
With --at and --for it is a session: members may join from 10 minutes before
its start, and it ends when its time is over; --invite rings the members named
at its start. Each --guest makes a guest link, printed here: a page that joins
the room from a browser, for someone with no account; the guest waits in the
lobby until the host or a member lets them in (or turns them away). A link
works in one browser, until the room ends or --guest-ttl is over.`,
		Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			req, err := roomRequest(args[0], at, dur, invite, time.Now())
			if err == nil {
				err = roomGuests(&req, guests, guestTTL)
			}
			if err != nil {
				return &exitCode{code: exitUsage, err: err}
			}
			api, _, err := e.userAPI()
			if err != nil {
				return fail(err)
			}
			r, err := api.CreateRoom(cmd.Context(), req)
			if err != nil {
				return fail(err)
			}
			if asJSON {
				return callfmt.JSON(e.stdout, struct {
					signaling.Room
					Join string `json:"join"`
				}{r, "parley join " + r.Name})
			}
			say(e.stdout, "Created room %s; you are its host.", r.Name)
			e.printSession(r)
			say(e.stdout, "Members join with: parley join %s", r.Name)
			for _, l := range r.Links {
				say(e.stdout, "Link for %s (guest %s, until %s): %s", l.GuestName, l.Guest,
					l.Expires.Local().Format("2006-01-02 15:04"), l.URL)
			}
			return nil
		},
	}
	create.Flags().StringVar(&at, "at", "", "start the session at `TIME`: 15:04 (the next one), "+
		"2006-01-02 15:04 (local time) or RFC 3339")
	create.Flags().DurationVar(&dur, "for", 0, "end the session after `DURATION` (such as 45m)")
	create.Flags().StringSliceVar(&invite, "invite", nil, "`USERS` (comma-separated) to ring at the session's "+
		"start")
	create.Flags().StringArrayVar(&guests, "guest", nil, "make a guest link for `NAME` (their display name; "+
		"repeat for more guests)")
	create.Flags().DurationVar(&guestTTL, "guest-ttl", 0, "the guest links work for `DURATION` at most "+
		"(default: the server's, or until the session's end)")
	jsonFlag(create, `the room as one JSON object (as room show --json), with "join": how members join, `+
		`and "links":[{"url", "code", "guest", "guest_name", "expires", "room"}…], one per --guest`)

	list := &cobra.Command{
		Use:   "list",
		Short: "List your team's rooms that have not ended",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			api, _, err := e.userAPI()
			if err != nil {
				return fail(err)
			}
			rooms, err := api.Rooms(cmd.Context())
			if err != nil {
				return fail(err)
			}
			if asJSON {
				return callfmt.List(e.stdout, "rooms", rooms)
			}
			if len(rooms) == 0 {
				fmt.Fprintln(e.stdout, "No rooms. Create one with: parley room create NAME")
				return nil
			}
			var rows [][]string
			for _, r := range rooms {
				rows = append(rows, []string{r.Name, r.Host, fmt.Sprint(len(r.Participants)), when(r.Start),
					when(r.End), yesNo(r.Locked)})
			}
			return e.table("ROOM\tHOST\tIN IT\tSTARTS\tENDS\tLOCKED", rows)
		},
	}
	jsonFlag(list, `the rooms as one JSON object: {"rooms":[{"name", "host", "created", "start", "end", `+
		`"invited", "locked", "participants"}…]}`)

	show := &cobra.Command{
		Use:   "show NAME",
		Short: "Show the room NAME and who is in it",
		Args:  cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			api, err := e.roomAPI(args[0])
			if err != nil {
				return err
			}
			r, err := api.Room(cmd.Context(), args[0])
			if err != nil {
				return fail(err)
			}
			if asJSON {
				return callfmt.JSON(e.stdout, r)
			}
			state := ""
			if r.Locked {
				state = " (locked)"
			}
			say(e.stdout, "Room %s%s, hosted by %s.", r.Name, state, r.Host)
			e.printSession(r)
			if len(r.Participants) == 0 {
				fmt.Fprintln(e.stdout, "Nobody is in it.")
				return nil
			}
			var rows [][]string
			for _, p := range r.Participants {
				muted := yesNo(p.Muted)
				if p.MicLocked {
					muted = "by the host"
				}
				rows = append(rows, []string{p.User, p.Name, string(p.Role), muted,
					p.Joined.Local().Format("15:04:05")})
			}
			return e.table("USER\tNAME\tROLE\tMUTED\tJOINED", rows)
		},
	}
	jsonFlag(show, `the room as one JSON object: {"name", "host", "created", "start", "end", "invited", `+
		`"locked", "participants":[{"user", "name", "role", "muted", "mic_locked", "joined"}…]}`)

	end := &cobra.Command{
		Use:   "end NAME",
		Short: "End the room NAME for everyone in it (its host only)",
		Args:  cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			api, err := e.roomAPI(args[0])
			if err != nil {
				return err
			}
			if err := api.EndRoom(cmd.Context(), args[0]); err != nil {
				return fail(err)
			}
			if asJSON {
				return callfmt.JSON(e.stdout, map[string]any{"room": args[0], "ended": true})
			}
			say(e.stdout, "Ended room %s.", args[0])
			return nil
		},
	}
	jsonFlag(end, `{"room", "ended":true}`)
	room.AddCommand(create, list, show, end)
	return room
}

// roomAPI checks the room name that show and end are given (a usage error)
// and returns the API as the signed-in user.
func (e *env) roomAPI(name string) (*signaling.API, error) {
	if err := signaling.CheckRoomName(name); err != nil {
		return nil, &exitCode{code: exitUsage, err: err}
	}
	api, _, err := e.userAPI()
	if err != nil {
		return nil, fail(err)
	}
	return api, nil
}

// roomRequest checks create's arguments, before anything is asked of the
// server.
func roomRequest(name, at string, dur time.Duration, invite []string, now time.Time) (signaling.RoomRequest, error) {
	req := signaling.RoomRequest{Name: name, Invite: invite}
	if err := signaling.CheckRoomName(name); err != nil {
		return req, err
	}
	if at != "" {
		t, err := parseAt(at, now)
		if err != nil {
			return req, err
		}
		req.Start = &t
	}
	switch {
	case dur < 0:
		return req, fmt.Errorf("--for %v: use a positive duration, such as 45m", dur)
	case dur > 0:
		req.Duration = dur.String()
	}
	for _, u := range invite {
		if err := signaling.CheckUserID(u); err != nil {
			return req, signaling.Errorf(signaling.InvalidParameter, "--invite: %s", signaling.AsError(err).Message)
		}
	}
	return req, nil
}

// roomGuests checks create's --guest and --guest-ttl and sets them on req.
func roomGuests(req *signaling.RoomRequest, guests []string, ttl time.Duration) error {
	for _, g := range guests {
		if _, err := signaling.CheckName("--guest", g); err != nil {
			return err
		}
	}
	switch {
	case ttl < 0:
		return fmt.Errorf("--guest-ttl %v: use a positive duration, such as 2h", ttl)
	case ttl > 0 && len(guests) == 0:
		return errors.New("--guest-ttl is for the links of --guest: name a guest")
	case ttl > 0:
		req.GuestTTL = ttl.String()
	}
	req.Guests = guests
	return nil
}

// parseAt reads --at: 15:04 (the next such time), 2006-01-02 15:04 in
// local time, or RFC 3339.
func parseAt(s string, now time.Time) (time.Time, error) {
	if t, err := time.Parse(time.RFC3339, s); err == nil {
		return t, nil
	}
	if t, err := time.ParseInLocation("2006-01-02 15:04", s, now.Location()); err == nil {
		return t, nil
	}
	if t, err := time.ParseInLocation("15:04", s, now.Location()); err == nil {
		y, m, d := now.Date()
		t = time.Date(y, m, d, t.Hour(), t.Minute(), 0, 0, now.Location())
		if t.Before(now) {
			t = t.AddDate(0, 0, 1)
		}
		return t, nil
	}
	return time.Time{}, fmt.Errorf("--at %q: use 15:04, 2006-01-02 15:04 or RFC 3339 (2006-01-02T15:04:05Z)", s)
}

// printSession prints a room's times and invitations, when it has them.
func (e *env) printSession(r signaling.Room) {
	switch {
	case r.Start != nil && r.End != nil:
		say(e.stdout, "Session: from %s to %s.", when(r.Start), when(r.End))
	case r.Start != nil:
		say(e.stdout, "Session: from %s.", when(r.Start))
	case r.End != nil:
		say(e.stdout, "Session: until %s.", when(r.End))
	}
	if len(r.Invited) > 0 {
		say(e.stdout, "Invited: %s.", strings.Join(r.Invited, ", "))
	}
}

func yesNo(b bool) string {
	if b {
		return "yes"
	}
	return "no"
}

func (e *env) joinCommand() *cobra.Command {
	var f mediaFlags
	var opts call.RoomOptions
	var commands string
	c := &cobra.Command{
		Use:   "join ROOM",
		Short: "Join the room ROOM and stay in it",
		Long: `Join the room ROOM (see 'parley room') and stay in it until --for elapses, an
interrupt or SIGTERM (which leave it cleanly), the host removes you or the room
ends. With --json, every event is one JSON object on a line. When the room's
media or the connection to the server is lost (say, the server node that runs
the room went down), join joins it again by itself: it prints room_rejoining,
then joined again once it is back in (within a few seconds on a cluster).
parley ctl drives it too: mute, unmute, hangup (leave it), status (the room,
who is in it, quality) and the actions of --commands.

` + specHelp,
		Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			if err := signaling.CheckRoomName(args[0]); err != nil {
				return &exitCode{code: exitUsage, err: err}
			}
			if f.hold < 0 {
				return &exitCode{code: exitUsage, err: fmt.Errorf("--for %v: use a positive duration", f.hold)}
			}
			var cmds <-chan string
			if commands != "" {
				var err error
				if cmds, err = e.readCommands(commands); err != nil {
					return &exitCode{code: exitUsage, err: fmt.Errorf("--commands: %w", err)}
				}
			}
			f.control = true // parley ctl: the commands of parley call, and the room's (callAction)
			ph, pr, err := e.phone(cmd.Context(), f, call.Config{})
			if err != nil {
				return err
			}
			defer ph.Close()
			return attend(cmd.Context(), ph, pr, args[0], opts, f.hold, cmds)
		},
	}
	f.register(c)
	c.Flags().Lookup("for").Usage = "leave the room this long after joining it (default: stay until interrupted)"
	c.Flags().BoolVar(&opts.Muted, "muted", false, "join with the microphone muted")
	c.Flags().BoolVar(&opts.ListenOnly, "listen-only", false, "join as a listener: no microphone is opened, and "+
		"nobody hears you")
	c.Flags().StringVar(&commands, "commands", "", "read actions from `FILE` (- for stdin), one a line: mute, "+
		"unmute, leave, admit USER, deny USER (a guest waiting in the lobby); "+
		"as the host: mute USER [lock], unmute USER, remove USER, lock, unlock, end")
	return c
}

// readCommands opens the --commands file (- for stdin) and reads its
// lines onto the channel it returns, closed at the end of the file. The
// file is closed when the command is over.
func (e *env) readCommands(path string) (<-chan string, error) {
	f := os.Stdin
	if path != "-" {
		var err error
		if f, err = os.Open(path); err != nil {
			return nil, err
		}
		e.closers = append(e.closers, f)
	}
	lines, done := make(chan string), make(chan struct{})
	e.closers = append(e.closers, closeFunc(func() { close(done) }))
	go func() {
		defer close(lines)
		sc := bufio.NewScanner(f)
		for sc.Scan() {
			select {
			case lines <- sc.Text():
			case <-done:
				return
			}
		}
	}()
	return lines, nil
}

// roomAction carries out a line of join's --commands, or a room's action
// that parley ctl sends (callAction).
func roomAction(ph *call.Phone, line string) error {
	w := strings.Fields(line)
	switch {
	case len(w) == 0:
		return nil
	case len(w) == 1 && (w[0] == "mute" || w[0] == "unmute"):
		ph.SetMuted(w[0] == "mute")
	case len(w) == 1 && (w[0] == "leave" || w[0] == "hangup"): // hangup: in a call grown into the room
		ph.LeaveRoom()
	case len(w) == 1 && (w[0] == "lock" || w[0] == "unlock"):
		ph.LockRoom(w[0] == "lock")
	case len(w) == 1 && w[0] == "end":
		ph.EndRoom()
	case len(w) == 2 && w[0] == "remove":
		ph.RemoveParticipant(w[1])
	case len(w) == 2 && w[0] == "admit":
		ph.Admit(w[1])
	case len(w) == 2 && w[0] == "deny":
		ph.TurnAway(w[1])
	case len(w) == 2 && (w[0] == "mute" || w[0] == "unmute"), len(w) == 3 && w[0] == "mute" && w[2] == "lock":
		ph.MuteParticipant(w[1], w[0] == "mute", len(w) == 3)
	default:
		return signaling.Errorf(signaling.InvalidParameter, "%.64q is no action in a room: use mute, unmute, "+
			"leave, admit USER, deny USER, mute USER [lock], unmute USER, remove USER, lock, unlock or end", line)
	}
	return nil
}

// attend joins room and prints the phone's events until the phone is out
// of it, and returns the exit status that says how.
func attend(ctx context.Context, ph *call.Phone, pr *callfmt.Printer, room string, opts call.RoomOptions,
	hold time.Duration, cmds <-chan string) error {
	ph.JoinRoom(room, opts)
	return stay(ctx, ph, pr, room, hold, cmds)
}

// stay prints the phone's events until it is out of the room it joins
// (room: its name, when known), and returns the exit status that says
// how. The end of a call that grew into the room is printed, and the
// room goes on.
func stay(ctx context.Context, ph *call.Phone, pr *callfmt.Printer, room string, hold time.Duration,
	cmds <-chan string) error {
	var leave <-chan time.Time
	interrupted := ctx.Done()
	joined := false
	for {
		select {
		case ev, ok := <-ph.Events():
			if !ok {
				return &exitCode{code: exitFailed, err: errors.New("the phone stopped")}
			}
			pr.Print(ev)
			switch ev := ev.(type) {
			case call.RoomChanged:
				if ev.Kind == signaling.RoomJoined && !joined { // joined again after a rejoin: the same stay
					joined = true
					if hold > 0 {
						leave = time.After(hold)
					}
				}
			case call.RoomLeft:
				return roomExit(ev, joined)
			case call.Connected:
				if cannotSignIn(ev) {
					return &exitCode{code: exitError}
				}
			}
		case line, ok := <-cmds:
			if !ok {
				cmds = nil // the end of the file: stay until told otherwise
			} else if err := roomAction(ph, line); err != nil {
				pr.Print(call.RoomFailure{Room: room, Err: signaling.AsError(err)})
			}
		case <-leave:
			leave = nil
			ph.LeaveRoom()
		case <-interrupted:
			if !joined {
				return &exitCode{code: 130}
			}
			interrupted = nil
			ph.LeaveRoom()
		}
	}
}

// roomExit is join's exit status for how the phone left the room.
func roomExit(ev call.RoomLeft, joined bool) error {
	switch {
	case ev.Reason == signaling.LeftLeft || ev.Reason == call.RoomLeftEnded:
		return nil
	case ev.Reason == signaling.LeftRemoved:
		return &exitCode{code: exitRemoved}
	case !joined:
		return &exitCode{code: exitError} // refused: the error is printed
	}
	return &exitCode{code: exitFailed}
}

// exitRemoved is join's status when the host removed you (as a rejected
// call's is call's).
const exitRemoved = exitRejected

// joinExits is the table of join.
func joinExits() string {
	return exitTable(
		" 0  you left the room (--for, an interrupt or SIGTERM), or it ended",
		rowFailure,
		" 2  bad flags or arguments, a bad room name or --in or --out spec included",
		" 3  the host removed you from the room",
		" 5  the room's media or the connection to the server failed after joining",
		" 6  refused with an error code: 80102 (no such room), 80202 (full), 80802",
		"    (locked), 80801 (a device), …",
		rowNoServer, rowSetup,
		"130 interrupted before the room was joined")
}
