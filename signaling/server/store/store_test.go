package store

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"sync"
	"testing"
	"time"

	natsserver "github.com/nats-io/nats-server/v2/server"
	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
	"go.uber.org/goleak"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

// patience bounds every wait in the tests: a failure, never a delay.
const patience = 5 * time.Second

// open opens a store on an embedded NATS of its own (in-process, with its
// logs and signal handling off), closed when the test ends.
func open(t *testing.T) *Store {
	t.Helper()
	ns, err := natsserver.NewServer(&natsserver.Options{
		JetStream: true, StoreDir: t.TempDir(), DontListen: true, NoLog: true, NoSigs: true,
	})
	if err != nil {
		t.Fatal(err)
	}
	ns.Start()
	t.Cleanup(func() {
		ns.Shutdown()
		ns.WaitForShutdown()
	})
	if !ns.ReadyForConnections(patience) {
		t.Fatal("NATS not ready")
	}
	nc, err := nats.Connect("", nats.InProcessServer(ns))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(nc.Close)
	js, err := jetstream.New(nc)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), patience)
	defer cancel()
	st, err := Open(ctx, nc, js, Options{Expiry: time.Minute, CallHistory: time.Hour, InviteTTL: time.Hour,
		LinkTTL: time.Hour, Timeout: patience})
	if err != nil {
		t.Fatalf("Open: %v", err)
	}
	return st
}

func TestToken(t *testing.T) {
	tests := []struct{ id, want string }{
		{"alice", "alice"},
		{"Bob_2-x", "Bob_2-x"},
		{"bob.smith@example.com", "bob=2Esmith=40example=2Ecom"},
		{"a+b", "a=2Bb"},
		{"*", "=2A"},
		{">", "=3E"},
		{"a=2E", "a=3D2E"},
	}
	seen := map[string]string{}
	for _, tt := range tests {
		got := Token(tt.id)
		if got != tt.want {
			t.Errorf("Token(%q) = %q, want %q", tt.id, got, tt.want)
		}
		if other, ok := seen[got]; ok {
			t.Errorf("Token(%q) = Token(%q)", tt.id, other)
		}
		seen[got] = tt.id
	}
}

// TestUserKey: a default user's key is one token, another team's two; a
// team's filter matches its users' keys and no other team's.
func TestUserKey(t *testing.T) {
	for _, c := range []struct{ team, user, key, filter string }{
		{"", "alice", "alice", "*"},
		{"default", "a.b", "a=2Eb", "*"},
		{"t1", "alice", "t1.alice", "t1.*"},
		{"a.b", "c", "a=2Eb.c", "a=2Eb.*"},
	} {
		if got := UserKey(c.team, c.user); got != c.key {
			t.Errorf("UserKey(%q, %q) = %q, want %q", c.team, c.user, got, c.key)
		}
		if got := TeamFilter(c.team); got != c.filter {
			t.Errorf("TeamFilter(%q) = %q, want %q", c.team, got, c.filter)
		}
	}
}

// TestUpdate: concurrent changes of one key all land, none lost; a change
// that another writer beats every time is tried MaxTries times, then
// given up with ErrContended.
func TestUpdate(t *testing.T) {
	st := open(t)
	ctx := t.Context()
	const writers, each = 8, 10
	var wg sync.WaitGroup
	for range writers {
		wg.Go(func() {
			for range each {
				_, err := Update(ctx, st.Contacts, "alice", func(c *Contacts, _ bool) bool {
					c.Contacts = append(c.Contacts, "x")
					return true
				})
				if err != nil {
					t.Error(err)
				}
			}
		})
	}
	wg.Wait()
	var got Contacts
	_, found, err := GetJSON(ctx, st.Contacts, "alice", &got)
	if err != nil || !found || len(got.Contacts) != writers*each {
		t.Errorf("after %d changes: %d contacts, found %v, %v", writers*each, len(got.Contacts), found, err)
	}

	tries := 0
	_, err = Update(ctx, st.Users, "bob", func(u *User, _ bool) bool {
		tries++
		// Another writer changes bob between this read and its write.
		if _, err := st.Users.Put(ctx, "bob", []byte(`{"user":"bob"}`)); err != nil {
			t.Fatal(err)
		}
		u.Name = "Bob"
		return true
	})
	if tries != MaxTries || !errors.Is(err, ErrContended) {
		t.Errorf("%d tries: %v; want %d tries and ErrContended", tries, err, MaxTries)
	}
	if _, err := Update(ctx, st.Users, "carol", func(*User, bool) bool { return false }); err != nil {
		t.Fatal(err)
	}
	if _, found, _ := GetJSON(ctx, st.Users, "carol", &User{}); found {
		t.Errorf("a change that said false wrote the key")
	}
}

// TestReads: Latest reads the last value of the keys asked for, Scan every
// key of a filter over many pages; neither returns a deleted key.
func TestReads(t *testing.T) {
	st := open(t)
	ctx := t.Context()
	const n = 2*scanPage + 7
	for i := range n {
		b, _ := json.Marshal(Seen{Seen: time.Unix(int64(i), 0).UTC()})
		if _, err := st.Seen.Put(ctx, fmt.Sprintf("t1.u%d", i), b); err != nil {
			t.Fatal(err)
		}
	}
	if _, err := st.Seen.Put(ctx, "other", []byte(`{}`)); err != nil {
		t.Fatal(err)
	}
	if _, err := st.Seen.Put(ctx, "t1.u0", []byte(`{"seen":"2030-01-01T00:00:00Z"}`)); err != nil { // written twice
		t.Fatal(err)
	}
	if err := st.Seen.Delete(ctx, "t1.u1"); err != nil {
		t.Fatal(err)
	}
	got, err := st.Latest(ctx, BucketSeen, "t1.u0", "t1.u1", "t1.u2", "t1.nobody")
	if err != nil {
		t.Fatal(err)
	}
	if len(got) != 2 || string(got["t1.u0"].Data) != `{"seen":"2030-01-01T00:00:00Z"}` || got["t1.u2"] == nil {
		t.Errorf("Latest: %d keys %v, want u0's last value and u2", len(got), got)
	}
	keys := map[string]bool{}
	read, err := st.Scan(ctx, BucketSeen, []string{"t1.*"}, func(key string, _ *jetstream.RawStreamMsg) {
		if keys[key] {
			t.Errorf("Scan: %s twice", key)
		}
		keys[key] = true
	})
	if err != nil {
		t.Fatal(err)
	}
	if len(keys) != n-1 || keys["t1.u1"] || keys["other"] || !keys["t1.u0"] || read < n {
		t.Errorf("Scan: %d keys in %d messages, want %d keys (not u1, not other) in at least %d", len(keys), read, n-1,
			n)
	}
}

// TestOpenRacing: nodes that start together on one NATS open the same
// buckets, whoever creates them.
func TestOpenRacing(t *testing.T) {
	st := open(t)
	errs := make(chan error, 4)
	for range 4 {
		go func() {
			_, err := Open(t.Context(), st.nc, st.js, Options{Expiry: time.Minute, CallHistory: time.Hour,
				InviteTTL: time.Hour, LinkTTL: time.Hour, Timeout: patience})
			errs <- err
		}()
	}
	for range 4 {
		if err := <-errs; err != nil {
			t.Error(err)
		}
	}
}
