package server

import (
	"cmp"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"slices"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/parley-voice/parley/signaling"
	"github.com/parley-voice/parley/signaling/server/store"
)

// Rooms (docs/SERVER.md, "Rooms"): a room's record is kept in the rooms
// bucket; while anyone is in it, one goroutine on one node owns it
// (roomowner.go), reached by NATS request on subjectRoom; its media goes
// through that node's forwarder (roomfwd.go).

// subjectRoom is the request subject of a room's owner:
// parley.room.<token(team)>.<token(name)>. Room actions travel as
// signaling messages with user, session, role and name set by the server
// and the team in hdrTeam; the owner replies with a roomReply.
const subjectRoom = "parley.room."

func roomSubject(team, name string) string { return subjectRoom + store.RoomKey(team, name) }

// typeRoomShow asks a room's owner for the room as the API shows it. It is
// the server's own: clients cannot send it (signaling.DecodeClient).
const typeRoomShow signaling.Type = "room_show"

// Statuses of a room record.
const (
	roomOpen  = "open"
	roomEnded = "ended"
)

// sessionEarly is how long before its start members may join a session.
const sessionEarly = 10 * time.Minute

// roomKeptFor is how long a room's key stays in the rooms bucket after the
// room ended, or after its session's end passed: meanwhile a join is told
// that it has ended, then its name is as if it never was. What happened in
// it stays in its record (roomrecords.go) for CallHistory.
const roomKeptFor = time.Hour

// roomClaimWait is how long a claim of a room by a node is trusted before
// its owner answers: a node that finds no owner of a room claimed more
// recently than that waits for it rather than claiming the room itself.
const roomClaimWait = 2 * time.Second

// roomRecord is the value of a room's key in the rooms bucket.
type roomRecord struct {
	ID      string     `json:"id,omitempty"` // its history's (roomrecords.go); new for each room made
	Team    string     `json:"team"`
	Name    string     `json:"name"`
	Host    string     `json:"host"`
	Created time.Time  `json:"created"`
	Start   *time.Time `json:"start,omitempty"`
	End     *time.Time `json:"end,omitempty"`
	Invited []string   `json:"invited,omitempty"`
	Locked  bool       `json:"locked,omitempty"`
	Status  string     `json:"status"`
	Ended   *time.Time `json:"ended,omitempty"`
	Reason  string     `json:"reason,omitempty"` // why it ended
	Node    string     `json:"node,omitempty"`   // the node that owns it now, or last did
	Claimed time.Time  `json:"claimed,omitzero"` // when Node claimed it
	Rung    *time.Time `json:"rung,omitempty"`   // when its invited members were rung (roominvites.go)
	Call    string     `json:"call,omitempty"`   // the answered call it grew from (growCall)
	// Seats are who is in it, by user, kept by its owner so that the room
	// opened again on another node gives them their places back.
	Seats map[string]roomSeat `json:"seats,omitempty"`
}

// roomSeat is someone in a room as its record keeps them: a lock of the
// room does not keep them out when they join again, and the host's mute
// of them (and the lock of their microphone) is still on.
type roomSeat struct {
	Muted  bool `json:"muted,omitempty"`  // by the host
	Locked bool `json:"locked,omitempty"` // their microphone, by the host
}

// over tells whether the room has ended, or its session's time is over.
func (r roomRecord) over(now time.Time) bool {
	return r.Status == roomEnded || r.End != nil && !now.Before(*r.End)
}

// view is the room as the API shows it.
func (r roomRecord) view() signaling.Room {
	return signaling.Room{ID: r.ID, Name: r.Name, Host: r.Host, Created: r.Created, Start: r.Start, End: r.End,
		Invited: r.Invited, Locked: r.Locked, Call: r.Call, Ended: r.Ended}
}

// roomReply is a room owner's answer to an action: a refusal, the room
// (typeRoomShow), or (from an owner that stopped) ask again.
type roomReply struct {
	Error *signaling.Error `json:"error,omitempty"`
	Room  *signaling.Room  `json:"room,omitempty"`
	Again bool             `json:"again,omitempty"`
}

// readRoom reads a room's record; found is false when there is none.
func (s *Server) readRoom(ctx context.Context, team, name string) (rec roomRecord, rev uint64, found bool,
	err error) {
	ctx, cancel := context.WithTimeout(ctx, s.cfg.RequestTimeout)
	defer cancel()
	rev, found, err = store.GetJSON(ctx, s.store.Rooms, store.RoomKey(team, name), &rec)
	if err != nil {
		return rec, 0, false, fmt.Errorf("could not read room %s: %w", name, err)
	}
	return rec, rev, found, nil
}

// noRoom is the refusal of a room that does not exist.
func noRoom(name string) *signaling.Error {
	return signaling.Errorf(signaling.NotFoundUserSessionID,
		"there is no room %s: create it with `parley room create %s`, or see your team's rooms with `parley room "+
			"list`", name, name)
}

// roomOver is the refusal of a room that ended.
func roomOver(rec roomRecord) *signaling.Error {
	return signaling.Errorf(signaling.NotFoundUserSessionID,
		"room %s has ended: create it again with `parley room create %s`", rec.Name, rec.Name)
}

// room handles a room message of the connection: it goes to the room's
// owner, wherever it runs, on a goroutine of its own once the connection's
// earlier room messages are done. An owner may take seconds to answer (one
// whose node froze is waited for until its lease lapses, askRoom), and the
// connection answers pings meanwhile: a client that had none answered
// would leave it.
func (c *conn) room(m signaling.Message) {
	prev, done := c.rooms, make(chan struct{})
	c.rooms = done
	started := c.q.whileOpen(func() { // serve waits for c.wg once the socket is closed
		c.wg.Add(1)
		go func() {
			defer c.wg.Done()
			defer close(done)
			if prev != nil {
				<-prev
			}
			c.roomAction(m)
		}()
	})
	if !started {
		close(done)
	}
}

// roomAction sends a room message of the connection to the room's owner,
// and refuses it when it answers so.
func (c *conn) roomAction(m signaling.Message) {
	a := m
	if c.link != nil || c.role == RoleGuest {
		if e := c.roomGuest(&a); e != nil { // roomguests.go
			c.refuse(e, m.Ref, "")
			return
		}
	}
	a.User, a.Session, a.Role, a.Name = c.user, c.session, c.role, c.name
	// The action goes on when the connection closes right after it (a
	// leave, then the close, as a client that quits sends them): only a
	// shutdown stops it.
	ctx := c.s.connCtx
	if c.takenOver(ctx, m.Type) {
		return
	}
	r, e := c.s.roomRequest(ctx, c.team, a)
	if e == nil {
		e = r.Error
	}
	if e != nil && c.ctx.Err() == nil {
		c.refuse(e, m.Ref, "")
	}
}

// takenOver tells whether the connection's session is another
// connection's now, and then closes this one (errLost). A node that was
// frozen reads, once it goes on, what its clients sent before they gave it
// up and connected again elsewhere: a room action from then would undo
// their newer ones (a stale join would replace the media of the client's
// rejoin with a peer connection nobody answers).
func (c *conn) takenOver(ctx context.Context, typ signaling.Type) bool {
	ctx, cancel := context.WithTimeout(ctx, c.s.cfg.RequestTimeout)
	defer cancel()
	_, ours, err := c.presenceRevision(ctx, presenceKey(c.key, c.session))
	if err != nil || ours { // gone (expired): the keeper writes it again; unreadable: the action decides
		return false
	}
	c.logger().Info("room action of a session taken over by another connection: dropped", "type", typ)
	c.cancel(errLost)
	return true
}

// roomRequest sends a room action to the room's owner and returns its
// reply. When nobody owns the room, a join has this node claim it and
// start its owner, then asks again; an end, from its host or an admin,
// marks the record ended; a show answers from the record; anything else
// is refused (nobody is in the room).
func (s *Server) roomRequest(ctx context.Context, team string, a signaling.Message) (roomReply, *signaling.Error) {
	data, err := signaling.Encode(a)
	if err != nil {
		return roomReply{}, signaling.Errorf(signaling.UnknownError, "could not encode %s: %v", a.Type, err)
	}
	ctx, cancel := context.WithTimeout(ctx, s.cfg.RequestTimeout+5*time.Second) // a join waits for ICE gathering
	defer cancel()
	for {
		req := nats.NewMsg(roomSubject(team, a.Room))
		req.Data = data
		req.Header.Set(hdrTeam, team)
		msg, lapsed, err := s.askRoom(ctx, req, team, a.Room)
		switch {
		case errors.Is(err, nats.ErrNoResponders), lapsed != 0:
		case errors.Is(err, errRoomMoved):
			if !pause(ctx, 20*time.Millisecond) {
				return roomReply{}, signaling.Errorf(signaling.UnknownError, "room %s did not respond in time", a.Room)
			}
			continue
		case err != nil:
			return roomReply{}, signaling.Errorf(signaling.UnknownError, "room %s did not respond: %v; try again",
				a.Room, err)
		default:
			var r roomReply
			if err := json.Unmarshal(msg.Data, &r); err != nil {
				return roomReply{}, signaling.Errorf(signaling.UnknownError, "room %s answered nonsense: %v", a.Room,
					err)
			}
			if !r.Again {
				return r, nil
			}
			if !pause(ctx, 20*time.Millisecond) {
				return roomReply{}, signaling.Errorf(signaling.UnknownError, "room %s did not respond in time", a.Room)
			}
			continue
		}
		r, e, again := s.unowned(ctx, team, a, lapsed)
		if !again {
			return r, e
		}
		if !pause(ctx, 20*time.Millisecond) {
			return roomReply{}, signaling.Errorf(signaling.UnknownError, "room %s did not respond in time", a.Room)
		}
	}
}

// errRoomMoved is askRoom's: another node claimed the room while the
// answer was awaited, and its owner never got the request: send it again.
var errRoomMoved = errors.New("server: the room moved to another node")

// askRoom sends a room action to the room's owner and waits for its
// answer. An owner that stops renewing its lease (roomowner.go: its node
// froze, or lost NATS, but is still subscribed, so that NATS does not say
// nobody responds) is not waited for: once the record's revision, read
// every roomRenew/4 while the answer is awaited, stayed the same for
// roomLease, askRoom gives up and returns that revision as lapsed; when
// another node claims the room meanwhile (for another request), it
// returns errRoomMoved.
func (s *Server) askRoom(ctx context.Context, req *nats.Msg, team, name string) (msg *nats.Msg, lapsed uint64,
	err error) {
	type answer struct {
		msg *nats.Msg
		err error
	}
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	got := make(chan answer, 1)
	go func() {
		m, err := s.bus.nc.RequestMsgWithContext(ctx, req)
		got <- answer{m, err}
	}()
	check := time.NewTicker(roomRenew / 4)
	defer check.Stop()
	var seen uint64
	var since, claimed time.Time
	for {
		select {
		case a := <-got:
			return a.msg, 0, a.err
		case <-check.C:
		}
		rec, rev, found, err := s.readRoom(ctx, team, name)
		switch {
		case err != nil || !found: // the answer decides
		case !claimed.IsZero() && !rec.Claimed.Equal(claimed):
			return nil, 0, errRoomMoved
		case rev != seen:
			seen, since, claimed = rev, time.Now(), rec.Claimed
		case time.Since(since) >= roomLease:
			s.log.Warn("room's owner stopped renewing its lease", "room", name, "team", team,
				"for", time.Since(since).Round(time.Millisecond))
			return nil, rev, nil
		}
	}
}

// unowned handles a room action that found no owner, or whose owner's
// lease lapsed at revision lapsed of the record (askRoom); again asks
// roomRequest to send it again.
func (s *Server) unowned(ctx context.Context, team string, a signaling.Message, lapsed uint64) (roomReply,
	*signaling.Error, bool) {
	rec, rev, found, err := s.readRoom(ctx, team, a.Room)
	switch {
	case err != nil:
		return roomReply{}, signaling.Errorf(signaling.UnknownError, "%v", err), false
	case !found:
		return roomReply{}, noRoom(a.Room), false
	case lapsed != 0 && rev != lapsed:
		return roomReply{}, nil, true // its owner wrote after all: ask it again
	}
	now := time.Now()
	switch a.Type {
	case typeRoomShow:
		v := rec.view()
		return roomReply{Room: &v}, nil, false
	case signaling.TypeRoomEnd:
		if rec.over(now) {
			return roomReply{}, roomOver(rec), false
		}
		if e := mayEnd(rec, a); e != nil {
			return roomReply{}, e, false
		}
		rec.Status, rec.Ended, rec.Reason = roomEnded, &now, signaling.EndedByHost
		if _, err := s.saveRoom(ctx, rec, rev); err != nil {
			return roomReply{}, nil, true // changed meanwhile: look again
		}
		s.endedUnowned(ctx, rec) // roomrecords.go
		s.log.Info("room ended", "room", rec.Name, "team", team, "by", a.User)
		return roomReply{}, nil, false
	case signaling.TypeRoomJoin:
	case typeRoomRing: // roominvites.go: the owner rings, once
		if rec.Rung != nil || len(rec.Invited) == 0 || rec.over(now) {
			return roomReply{}, nil, false
		}
	default:
		return roomReply{}, signaling.Errorf(signaling.NotFoundUserSessionID,
			"you are not in room %s: join it with `parley join %s`", a.Room, a.Room), false
	}
	if rec.over(now) {
		return roomReply{}, roomOver(rec), false
	}
	if lapsed == 0 && rec.Node != "" && rec.Node != s.cfg.NodeName && now.Sub(rec.Claimed) < roomClaimWait {
		return roomReply{}, nil, true // its owner is starting on another node
	}
	from := rec.Node
	rec.Node, rec.Claimed = s.cfg.NodeName, now.UTC()
	rev, err = s.saveRoom(ctx, rec, rev)
	if err != nil {
		return roomReply{}, nil, true // another node claimed it: ask again
	}
	if lapsed != 0 {
		s.log.Warn("room taken over: its owner's lease lapsed", "room", rec.Name, "team", team, "from", from)
	}
	if err := s.startRoom(rec, rev, now); err != nil {
		return roomReply{}, signaling.Errorf(signaling.UnknownError, "could not open room %s: %v", a.Room, err), false
	}
	return roomReply{}, nil, true
}

// saveRoom writes a room's record at revision rev (0: a new one), to be
// kept until roomTTL, and returns its new revision.
func (s *Server) saveRoom(ctx context.Context, rec roomRecord, rev uint64) (uint64, error) {
	b, _ := json.Marshal(rec)
	ctx, cancel := context.WithTimeout(ctx, s.cfg.RequestTimeout)
	defer cancel()
	rev, err := s.store.Write(ctx, s.store.Rooms, store.RoomKey(rec.Team, rec.Name), b, rev, s.roomTTL(rec))
	if err != nil {
		return 0, fmt.Errorf("server: save room %s: %w", rec.Name, err)
	}
	return rev, nil
}

// roomTTL is how long a room's record is kept from now: roomKept past its
// end, or for ever (0) while it may still run.
func (s *Server) roomTTL(rec roomRecord) time.Duration {
	switch {
	case rec.Ended != nil:
		return s.cfg.roomKept
	case rec.End != nil:
		return max(time.Until(*rec.End), 0) + s.cfg.roomKept
	}
	return 0
}

// mayEnd refuses an end by anyone but the room's host or an admin.
func mayEnd(rec roomRecord, a signaling.Message) *signaling.Error {
	if a.User == rec.Host || a.Role == RoleAdmin {
		return nil
	}
	return signaling.Errorf(signaling.PermissionDenied,
		"only the host of room %s (%s) or an admin can end it: leave it instead, or ask %s", rec.Name, rec.Host,
		rec.Host)
}

// The rooms API (signaling/room.go).

// handleCreateRoom makes a room: POST /v1/rooms with a RoomRequest; the
// caller is its host.
func (s *Server) handleCreateRoom(w http.ResponseWriter, r *http.Request) {
	c, u, ok := s.bearer(w, r)
	if !ok {
		return
	}
	refuse := func(e *signaling.Error) { s.httpError(w, r, c.Subject, e) }
	if c.Role == RoleGuest {
		refuse(signaling.Errorf(signaling.PermissionDenied,
			"a guest cannot make rooms: ask a member of your team to make one and invite you"))
		return
	}
	var req signaling.RoomRequest
	if e := decodeBody(r, &req); e != nil {
		refuse(e)
		return
	}
	if err := signaling.CheckRoomName(req.Name); err != nil {
		refuse(signaling.AsError(err))
		return
	}
	now := time.Now().UTC()
	rec := roomRecord{ID: newID(), Team: c.TeamID(), Name: req.Name, Host: c.Subject, Created: now, Status: roomOpen}
	if e := checkSession(req, now, &rec); e != nil {
		refuse(e)
		return
	}
	for _, u := range req.Invite {
		if err := signaling.CheckUserID(u); err != nil {
			refuse(signaling.Errorf(signaling.InvalidParameter, "invite: %s", signaling.AsError(err).Message))
			return
		}
		if !slices.Contains(rec.Invited, u) && u != c.Subject {
			rec.Invited = append(rec.Invited, u)
		}
	}
	if e := s.growCall(r.Context(), req, &rec); e != nil {
		refuse(e)
		return
	}
	guests, guestsUntil, e := s.roomGuestLinks(req, rec, now) // roomguests.go
	if e != nil {
		refuse(e)
		return
	}
	if len(rec.Invited) >= signaling.MaxRoomParticipants {
		refuse(signaling.Errorf(signaling.InvalidParameter, "invite at most %d people: a room holds %d",
			signaling.MaxRoomParticipants-1, signaling.MaxRoomParticipants))
		return
	}
	ctx, cancel := context.WithTimeout(r.Context(), s.cfg.RequestTimeout)
	defer cancel()
	_, err := s.saveRoom(ctx, rec, 0)
	if errors.Is(err, jetstream.ErrKeyExists) {
		old, rev, found, rerr := s.readRoom(ctx, rec.Team, rec.Name)
		switch {
		case rerr != nil:
			err = rerr
		case found && !old.over(time.Now()):
			refuse(signaling.Errorf(signaling.InvalidParameter,
				"room %s exists already (host %s): join it with `parley join %s`, or pick another name", rec.Name,
				old.Host, rec.Name))
			return
		default: // an ended room's name is free again
			_, err = s.saveRoom(ctx, rec, rev)
		}
	}
	if err != nil {
		refuse(signaling.Errorf(signaling.UnknownError, "could not make room %s: %v; try again", rec.Name, err))
		return
	}
	s.log.Info("room created", "room", rec.Name, "team", rec.Team, "host", rec.Host)
	s.roomMade(r.Context(), rec) // roomrecords.go, roominvites.go: its record; its invitations rung
	v := rec.view()
	if len(guests) > 0 {
		if v.Links, e = s.makeRoomLinks(ctx, rec, u.Name, guests, guestsUntil); e != nil {
			refuse(signaling.Errorf(e.Code, "room %s is made, but not all its guest links: %s", rec.Name, e.Message))
			return
		}
	}
	writeJSON(w, http.StatusOK, v)
}

// growCall checks a room request that grows a call (RoomRequest.Call) and
// sets it on rec: the call is answered, of the creator's team, and the
// creator is one of its two people. Its peer need not be invited: they are
// asked to at the start (but for that, the room is as any other).
func (s *Server) growCall(ctx context.Context, req signaling.RoomRequest, rec *roomRecord) *signaling.Error {
	if req.Call == "" {
		return nil
	}
	if !signaling.ValidID(req.Call) {
		return signaling.Errorf(signaling.InvalidParameter,
			"call %.64q is not a call id: give the id of the call you are in (parley call prints it)", req.Call)
	}
	unknown := signaling.Errorf(signaling.NoConnectedCall,
		"you are in no answered call %s: grow a call you are talking in, or make a room without call", req.Call)
	if req.Start != nil || req.Duration != "" {
		return signaling.Errorf(signaling.InvalidParameter,
			"a room grown from call %s starts now and has no duration: leave out start and duration", req.Call)
	}
	ctx, cancel := context.WithTimeout(ctx, s.cfg.RequestTimeout)
	defer cancel()
	e, err := s.callEntry(ctx, rec.Team, req.Call) // records.go
	if errors.Is(err, jetstream.ErrKeyNotFound) {
		return unknown
	}
	if err != nil {
		return signaling.Errorf(signaling.UnknownError, "could not read call %s: %v; try again", req.Call, err)
	}
	var call callRecord
	if json.Unmarshal(e.Value(), &call) != nil || cmp.Or(call.Team, DefaultTeam) != rec.Team ||
		rec.Host != call.From && rec.Host != call.To || call.Status != signaling.Answered {
		return unknown
	}
	rec.Call = req.Call
	return nil
}

// maxSession is the longest a session may last, and the furthest ahead it
// may start.
const maxSession = 366 * 24 * time.Hour

// checkSession checks a room request's start and duration and sets them on
// rec.
func checkSession(req signaling.RoomRequest, now time.Time, rec *roomRecord) *signaling.Error {
	start := now
	if req.Start != nil {
		start = req.Start.UTC()
		if start.Before(now.Add(-time.Minute)) || start.After(now.Add(maxSession)) {
			return signaling.Errorf(signaling.InvalidParameter,
				"start %s is not in the coming year: give a time from now on, such as %s", start.Format(time.RFC3339),
				now.Add(time.Hour).Truncate(time.Hour).Format(time.RFC3339))
		}
		rec.Start = &start
	}
	if req.Duration == "" {
		return nil
	}
	d, err := time.ParseDuration(req.Duration)
	if err != nil || d < time.Minute || d > 7*24*time.Hour {
		return signaling.Errorf(signaling.InvalidParameter,
			"duration %.40q is not a duration from 1m to 168h, such as 30m or 1h30m", req.Duration)
	}
	end := start.Add(d)
	rec.End = &end
	return nil
}

// handleRooms lists the caller's team's rooms that have not ended: GET
// /v1/rooms.
func (s *Server) handleRooms(w http.ResponseWriter, r *http.Request) {
	c, _, ok := s.bearer(w, r)
	if !ok {
		return
	}
	out := signaling.Rooms{Rooms: []signaling.Room{}}
	var owned []bool // by index in out.Rooms: its record names a node
	now := time.Now()
	_, err := s.store.Scan(r.Context(), store.BucketRooms, []string{store.RoomFilter(c.TeamID())},
		func(_ string, m *jetstream.RawStreamMsg) {
			var rec roomRecord
			if json.Unmarshal(m.Data, &rec) == nil && !rec.over(now) {
				out.Rooms = append(out.Rooms, rec.view())
				owned = append(owned, rec.Node != "")
			}
		})
	if err != nil {
		s.httpError(w, r, c.Subject, signaling.Errorf(signaling.UnknownError, "could not read the rooms: %v", err))
		return
	}
	// Who is in a room only its owner knows.
	for i, room := range out.Rooms {
		if !owned[i] {
			continue
		}
		res, e := s.roomRequest(r.Context(), c.TeamID(), signaling.Message{Type: typeRoomShow, Room: room.Name,
			User: c.Subject, Role: c.Role})
		if e == nil && res.Error == nil && res.Room != nil {
			out.Rooms[i] = *res.Room
		}
	}
	slices.SortFunc(out.Rooms, func(a, b signaling.Room) int { return a.Created.Compare(b.Created) })
	writeJSON(w, http.StatusOK, out)
}

// handleRoom shows a room with who is in it: GET /v1/rooms/{room}.
func (s *Server) handleRoom(w http.ResponseWriter, r *http.Request) {
	s.roomCall(w, r, typeRoomShow)
}

// handleEndRoom ends a room for everyone in it: DELETE /v1/rooms/{room},
// its host or an admin only.
func (s *Server) handleEndRoom(w http.ResponseWriter, r *http.Request) {
	s.roomCall(w, r, signaling.TypeRoomEnd)
}

// roomCall sends an action of the API's caller to a room and writes the
// room as it is then.
func (s *Server) roomCall(w http.ResponseWriter, r *http.Request, typ signaling.Type) {
	c, u, ok := s.bearer(w, r)
	if !ok {
		return
	}
	name := r.PathValue("room")
	if err := signaling.CheckRoomName(name); err != nil {
		s.httpError(w, r, c.Subject, signaling.AsError(err))
		return
	}
	a := signaling.Message{Type: typ, Room: name, User: c.Subject, Role: c.Role, Name: u.Name}
	res, e := s.roomRequest(r.Context(), c.TeamID(), a)
	if e == nil {
		e = res.Error
	}
	if e != nil {
		s.httpError(w, r, c.Subject, e)
		return
	}
	if res.Room == nil {
		rec, _, found, err := s.readRoom(r.Context(), c.TeamID(), name)
		if err != nil || !found {
			s.httpError(w, r, c.Subject, signaling.Errorf(signaling.UnknownError, "could not read room %s: %v", name,
				err))
			return
		}
		v := rec.view()
		res.Room = &v
	}
	writeJSON(w, http.StatusOK, res.Room)
}

// pause waits for d, or for ctx to end (false).
func pause(ctx context.Context, d time.Duration) bool {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
		return true
	case <-ctx.Done():
		return false
	}
}
