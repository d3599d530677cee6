package ui

import (
	"context"
	"fmt"
	"io"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/charmbracelet/lipgloss"
	"github.com/muesli/termenv"
	"github.com/parley-voice/parley/call"
	"github.com/parley-voice/parley/signaling"
)

// fakePhone is a Phone for tests: it records the calls made on it, and the
// test pushes events into its channel.
type fakePhone struct {
	events  chan call.Event
	calls   chan string // Dial(bob), Answer(), SetMuted(true), ... in order
	watches chan []string
	once    sync.Once
}

func newFakePhone() *fakePhone {
	return &fakePhone{
		events:  make(chan call.Event, 64),
		calls:   make(chan string, 64),
		watches: make(chan []string, 64),
	}
}

func (p *fakePhone) Dial(user string)          { p.calls <- "Dial(" + user + ")" }
func (p *fakePhone) Answer()                   { p.calls <- "Answer()" }
func (p *fakePhone) Reject()                   { p.calls <- "Reject()" }
func (p *fakePhone) Hangup()                   { p.calls <- "Hangup()" }
func (p *fakePhone) SetMuted(muted bool)       { p.calls <- fmt.Sprintf("SetMuted(%t)", muted) }
func (p *fakePhone) SetHeld(held bool)         { p.calls <- fmt.Sprintf("SetHeld(%t)", held) }
func (p *fakePhone) Swap()                     { p.calls <- "Swap" }
func (p *fakePhone) Watch(users []string)      { p.watches <- users }
func (p *fakePhone) Events() <-chan call.Event { return p.events }

func (p *fakePhone) Grow(users ...string) {
	p.calls <- fmt.Sprintf("Grow(%s)", strings.Join(users, ", "))
}

func (p *fakePhone) JoinRoom(name string, muted, listenOnly bool) {
	p.calls <- fmt.Sprintf("JoinRoom(%s, %t, %t)", name, muted, listenOnly)
}
func (p *fakePhone) LeaveRoom() { p.calls <- "LeaveRoom()" }
func (p *fakePhone) MuteParticipant(target string, muted, lock bool) {
	p.calls <- fmt.Sprintf("MuteParticipant(%s, %t, %t)", target, muted, lock)
}
func (p *fakePhone) RemoveParticipant(target string) { p.calls <- "RemoveParticipant(" + target + ")" }
func (p *fakePhone) Admit(guest string)              { p.calls <- "Admit(" + guest + ")" }
func (p *fakePhone) TurnAway(guest string)           { p.calls <- "TurnAway(" + guest + ")" }
func (p *fakePhone) DeclineRoom(room string)         { p.calls <- "DeclineRoom(" + room + ")" }
func (p *fakePhone) LockRoom(locked bool)            { p.calls <- fmt.Sprintf("LockRoom(%t)", locked) }
func (p *fakePhone) EndRoom()                        { p.calls <- "EndRoom()" }

// close closes the event channel, as a phone that shuts down does.
func (p *fakePhone) close() { p.once.Do(func() { close(p.events) }) }

// push sends events to the UI.
func (p *fakePhone) push(evs ...call.Event) {
	for _, ev := range evs {
		p.events <- ev
	}
}

// wait is how long a test waits for something that should happen at once.
const wait = 5 * time.Second

// expectCalls waits for the next Phone calls (other than Watch) and checks
// them.
func (p *fakePhone) expectCalls(t *testing.T, want ...string) {
	t.Helper()
	for _, w := range want {
		select {
		case got := <-p.calls:
			if got != w {
				t.Fatalf("phone call = %s; want %s", got, w)
			}
		case <-time.After(wait):
			t.Fatalf("phone call %s not made within %v", w, wait)
		}
	}
}

// expectNoCalls checks that no Phone call is pending.
func (p *fakePhone) expectNoCalls(t *testing.T) {
	t.Helper()
	select {
	case got := <-p.calls:
		t.Fatalf("unexpected phone call %s", got)
	default:
	}
}

// expectWatch waits for a Watch call with users want. The UI repeats the
// same set after each reconnect, so earlier calls with another set are
// skipped.
func (p *fakePhone) expectWatch(t *testing.T, want ...string) {
	t.Helper()
	var seen [][]string
	timeout := time.After(wait)
	for {
		select {
		case got := <-p.watches:
			if strings.Join(got, ",") == strings.Join(want, ",") {
				return
			}
			seen = append(seen, got)
		case <-timeout:
			t.Fatalf("Watch(%v) not called within %v; saw %v", want, wait, seen)
		}
	}
}

// fakeDevices is a Devices for tests.
type fakeDevices struct {
	mu              sync.Mutex
	inputs, outputs []string
	input, output   string
	err             error // returned by List
	chosen          chan [2]string
}

func newFakeDevices() *fakeDevices {
	return &fakeDevices{
		inputs:  []string{"Built-in Microphone", "USB Headset Microphone"},
		outputs: []string{"Built-in Speakers", "USB Headset", "HDMI Display Audio"},
		input:   "default",
		output:  "USB Headset",
		chosen:  make(chan [2]string, 8),
	}
}

func (d *fakeDevices) List() ([]string, []string, error) {
	d.mu.Lock()
	defer d.mu.Unlock()
	return d.inputs, d.outputs, d.err
}

func (d *fakeDevices) Current() (string, string) {
	d.mu.Lock()
	defer d.mu.Unlock()
	return d.input, d.output
}

func (d *fakeDevices) Choose(input, output string) error {
	d.mu.Lock()
	d.input, d.output = input, output
	d.mu.Unlock()
	d.chosen <- [2]string{input, output}
	return nil
}

// clock is a settable clock for tests.
type clock struct {
	mu sync.Mutex
	t  time.Time
}

func (c *clock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.t
}

func (c *clock) Add(d time.Duration) {
	c.mu.Lock()
	c.t = c.t.Add(d)
	c.mu.Unlock()
}

// t0 is the pinned time of the tests: Friday 14 March 2025, 15:04:05 UTC.
var t0 = time.Date(2025, 3, 14, 15, 4, 5, 0, time.UTC)

// asciiRenderer is a renderer pinned to no colours, so that views are plain
// text.
func asciiRenderer() *lipgloss.Renderer {
	r := lipgloss.NewRenderer(io.Discard)
	r.SetColorProfile(termenv.Ascii)
	r.SetHasDarkBackground(true)
	return r
}

// testOptions are the options of most tests.
func testOptions(p *fakePhone, d *fakeDevices, c *clock) Options {
	return Options{
		Self:     "alice",
		Server:   "wss://parley.example.com",
		Contacts: []string{"bob", "carol", "dave", "erin"},
		Phone:    p,
		Devices:  d,
		Settings: &fakeSettings{proc: call.DefaultProcessing},
		Now:      c.Now,
		Renderer: asciiRenderer(),
	}
}

// fakeSettings keeps the audio settings in memory.
type fakeSettings struct {
	mu   sync.Mutex
	proc call.Processing
}

func (s *fakeSettings) Processing() call.Processing {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.proc
}

func (s *fakeSettings) SetProcessing(p call.Processing) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.proc = p
	return nil
}

// fakeRooms is a Rooms for tests: the rooms of sampleRooms, or err.
type fakeRooms struct {
	mu    sync.Mutex
	rooms []signaling.Room
	err   error
	reads chan struct{} // one per call of Rooms
}

func newFakeRooms() *fakeRooms {
	return &fakeRooms{rooms: sampleRooms(), reads: make(chan struct{}, 64)}
}

func (f *fakeRooms) Rooms(context.Context) ([]signaling.Room, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	select {
	case f.reads <- struct{}{}:
	default: // a test that no longer counts
	}
	return f.rooms, f.err
}

// sampleRooms are the team's rooms in the tests: standup with bob hosting
// and two more in it, a locked design review, and a session that opens in
// two hours.
func sampleRooms() []signaling.Room {
	start := t0.Add(2 * time.Hour)
	return []signaling.Room{
		{Name: "standup", Host: "bob", Created: t0.Add(-time.Hour), Participants: []signaling.Participant{
			{User: "carol", Name: "Carol Jones", Role: signaling.RoleMember},
			{User: "bob", Name: "Bob Builder", Role: signaling.RoleHost},
			{User: "dave", Role: signaling.RoleListener},
		}},
		{Name: "design-review", Host: "erin", Locked: true, Created: t0.Add(-time.Hour),
			Participants: []signaling.Participant{{User: "erin", Role: signaling.RoleHost}}},
		{Name: "friday-demo", Host: "alice", Created: t0.Add(-time.Hour), Start: &start},
	}
}
