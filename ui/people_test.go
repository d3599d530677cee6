package ui

import (
	"context"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/charmbracelet/x/exp/teatest"
	"github.com/parley-voice/parley/call"
	"github.com/parley-voice/parley/signaling"
)

// fakePeople is a People for tests: a directory and contacts kept in
// memory; it records what was added.
type fakePeople struct {
	mu        sync.Mutex
	directory []signaling.Person
	contacts  []signaling.Person
	added     chan string
	searches  chan string
}

func newFakePeople() *fakePeople {
	return &fakePeople{
		directory: []signaling.Person{
			{User: "frank", Name: "Frank Lee", State: signaling.StateOnline, Online: true},
			{User: "gina", Name: "Gina Ruiz", State: signaling.StateOffline},
			{User: "gus", State: signaling.StateOnline, Online: true, Role: "guest"},
		},
		added:    make(chan string, 8),
		searches: make(chan string, 64),
	}
}

func (p *fakePeople) Contacts(context.Context) ([]signaling.Person, error) {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.contacts, nil
}

func (p *fakePeople) AddContact(_ context.Context, user string) (signaling.Person, error) {
	p.mu.Lock()
	defer p.mu.Unlock()
	for _, d := range p.directory {
		if d.User == user {
			p.contacts = append(p.contacts, d)
			p.added <- user
			return d, nil
		}
	}
	return signaling.Person{}, signaling.Errorf(signaling.NotFoundUserSessionID, "user %s is unknown to this server",
		user)
}

func (p *fakePeople) Directory(_ context.Context, q string) ([]signaling.Person, error) {
	p.searches <- q
	var out []signaling.Person
	for _, d := range p.directory {
		if strings.Contains(d.User, q) || strings.Contains(strings.ToLower(d.Name), strings.ToLower(q)) {
			out = append(out, d)
		}
	}
	return out, nil
}

// MakeLink makes a guest link valid for two hours from t0.
func (p *fakePeople) MakeLink(_ context.Context, r signaling.LinkRequest) (signaling.Link, error) {
	name := r.Name
	if name == "" {
		name = "Guest"
	}
	return signaling.Link{
		URL: "http://127.0.0.1:7700/join/k7dmq2xehw4nx5p3m8tr6wz9ca", Code: "k7dmq2xehw4nx5p3m8tr6wz9ca",
		Host: "alice", Guest: "guest-2f7c9d1e0a3b", GuestName: name, Expires: t0.Add(2 * time.Hour),
	}, nil
}

// fakePresence is a PresenceSetter that records its calls.
type fakePresence chan bool

func (p fakePresence) SetIdle(idle bool) { p <- idle }

// startPeopleFlow is startFlow with options changed by change.
func startPeopleFlow(t *testing.T, change func(*Options)) *flow {
	t.Helper()
	f := &flow{t: t, phone: newFakePhone(), devices: newFakeDevices(), clock: &clock{t: t0}, bell: make(bellWriter, 8)}
	f.opts = testOptions(f.phone, f.devices, f.clock)
	f.opts.HistoryPath = filepath.Join(t.TempDir(), "history.jsonl")
	f.opts.Bell = f.bell
	change(&f.opts)
	f.tm = teatest.NewTestModel(t, testModel(t, f.opts), teatest.WithInitialTermSize(100, 30))
	t.Cleanup(func() { _ = f.tm.Quit() })
	return f
}

// TestFlowServerContactsAndAdd: the contacts kept on the server are shown
// with the config's and watched; + searches the directory and adds one.
func TestFlowServerContactsAndAdd(t *testing.T) {
	people := newFakePeople()
	people.contacts = []signaling.Person{{User: "gina", Name: "Gina Ruiz", State: signaling.StateOffline}}
	f := startPeopleFlow(t, func(o *Options) { o.People = people })
	f.phone.expectWatch(t, "bob", "carol", "dave", "erin", "gina")
	f.phone.push(
		call.Connected{Up: true, User: "alice"},
		call.Presence{User: "bob", Online: true},
		call.Presence{User: "carol", Online: true},
	)
	f.waitFor("Gina Ruiz (gina)", "Contacts 2/5 online", "+ add contact")

	f.press("+")
	f.waitFor("Add a contact from your team", "Frank Lee (frank)", "gus", "guest")
	for _, r := range "fr" {
		f.press(string(r))
	}
	// A search goes out as the user types; "f" found Frank already, so
	// the test waits for the search for "fr" itself.
	waitSearch(t, people.searches, "fr")
	f.waitFor("Frank Lee (frank)")
	f.press("enter")
	select {
	case u := <-people.added:
		if u != "frank" {
			t.Fatalf("added %s; want frank", u)
		}
	case <-time.After(wait):
		t.Fatal("nothing added")
	}
	f.waitFor("Added Frank Lee (frank) to your contacts.", "Contacts 3/6 online")
	f.phone.expectWatch(t, "bob", "carol", "dave", "erin", "gina", "frank")
}

// waitSearch waits for a search for q, skipping the others.
func waitSearch(t *testing.T, searches <-chan string, q string) {
	t.Helper()
	timeout := time.After(wait)
	for {
		select {
		case s := <-searches:
			if s == q {
				return
			}
		case <-timeout:
			t.Fatalf("no search for %q within %v", q, wait)
		}
	}
}

// TestFlowRichPresenceAndNotify: every state shows with its word; w on an
// offline contact rings the bell when they come online.
func TestFlowRichPresenceAndNotify(t *testing.T) {
	f := startFlow(t, "")
	f.phone.expectWatch(t, "bob", "carol", "dave", "erin")
	f.connect()
	seen := t0.Add(-2 * time.Hour)
	f.phone.push(
		call.Presence{User: "bob", Online: true, State: signaling.StateAway, Name: "Bob Builder"},
		call.Presence{User: "carol", Online: false, State: signaling.StateOffline, LastSeen: seen},
		call.Presence{User: "dave", Online: true, State: signaling.StateDND},
		call.Presence{User: "erin", Online: true, State: signaling.StateInCall},
	)
	f.waitFor("◐ Bob Builder (bob)", "away", "○ carol", "offline, seen 2 hours ago", "⊘ dave", "do not disturb",
		"◉ erin", "in a call")
	f.press("j", "w") // carol
	f.waitFor("You will be told (with the bell) when carol comes online.", "will notify")
	f.phone.push(call.Presence{User: "carol", Online: true, State: signaling.StateOnline})
	f.waitFor("carol is online now (online)")
	select {
	case b := <-f.bell:
		if b != "\a" {
			t.Errorf("bell wrote %q", b)
		}
	case <-time.After(wait):
		t.Fatal("the bell did not ring when carol came online")
	}
	// Asked of someone online, it says so.
	f.press("w")
	f.waitFor("carol is online already.")
}

// TestFlowIdleAway: after IdleAfter without a key press the user is idle
// (away); the next key press brings them back.
func TestFlowIdleAway(t *testing.T) {
	pres := make(fakePresence, 8)
	f := startPeopleFlow(t, func(o *Options) { o.Presence = pres; o.IdleAfter = 10 * time.Minute })
	f.connect()
	expect := func(want bool) {
		t.Helper()
		select {
		case got := <-pres:
			if got != want {
				t.Fatalf("SetIdle(%v); want SetIdle(%v)", got, want)
			}
		case <-time.After(wait):
			t.Fatalf("SetIdle(%v) not called", want)
		}
	}
	f.clock.Add(9 * time.Minute)
	f.tm.Send(idleCheckMsg{})
	select {
	case got := <-pres:
		t.Fatalf("SetIdle(%v) after 9 minutes", got)
	case <-time.After(100 * time.Millisecond):
	}
	f.clock.Add(2 * time.Minute)
	f.tm.Send(idleCheckMsg{})
	expect(true)
	f.press("j")
	expect(false)
}

// TestVerificationAndNamesInCall: the call view shows the peer's name and
// the verification code.
func TestVerificationAndNamesInCall(t *testing.T) {
	f := startFlow(t, "")
	f.connect()
	f.press("enter")
	f.phone.expectCalls(t, "Dial(bob)")
	ev := statusEvent("c1", signaling.Started, signaling.Outbound, "alice", "bob", f.clock.Now())
	ev.ToName = "Bob Builder"
	f.phone.push(ev)
	f.waitFor("Calling Bob Builder (bob)…")
	ans := statusEvent("c1", signaling.Answered, signaling.Outbound, "alice", "bob", f.clock.Now())
	ans.ToName = "Bob Builder"
	f.phone.push(ans, call.Verification{CallID: "c1", Code: "482 913 207 551"})
	f.waitFor("In call with Bob Builder (bob)", "Verification code: 482 913 207 551 (compare it with Bob Builder)")
}

// TestFlowGuestLink: g asks for the guest's name, makes a guest link with
// it, copies the link and shows it; the guest's knock then reads as one, and
// a lets them in.
func TestFlowGuestLink(t *testing.T) {
	copied := make(chan string, 1)
	f := startPeopleFlow(t, func(o *Options) {
		o.People = newFakePeople()
		o.Clipboard = func(s string) error { copied <- s; return nil }
	})
	f.connect()
	f.press("g")
	f.waitFor("Invite a guest from a browser", "Guest's name:")
	for _, r := range "Carol" {
		f.press(string(r))
	}
	f.press("enter")
	want := "http://127.0.0.1:7700/join/k7dmq2xehw4nx5p3m8tr6wz9ca"
	f.waitFor("Guest link for Carol (copied)", want)
	select {
	case got := <-copied:
		if got != want {
			t.Errorf("copied %q; want %q", got, want)
		}
	case <-time.After(wait):
		t.Fatal("nothing copied")
	}
	f.phone.push(call.StatusChanged{CallEvent: signaling.CallEvent{ID: "g1", Status: signaling.Ringing,
		Direction: signaling.Inbound,
		From:      "guest-2f7c9d1e0a3b", FromName: "Carol", To: "alice", Guest: true}, First: true, At: t0})
	f.waitFor("Guest Carol is waiting", "a let in", "r turn away")
	f.press("a")
	f.phone.expectCalls(t, "Answer()")
}
