package signaling

import (
	"context"
	"errors"
	"net"
	"net/http"
	"net/http/httptest"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/coder/websocket"
)

func TestAddresses(t *testing.T) {
	got := Addresses("http://b:7700", "", " http://a:7700 ", "http://b:7700", "http://c:7700")
	want := []string{"http://b:7700", "http://a:7700", "http://c:7700"}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("Addresses = %q, want %q", got, want)
	}
	if got := Addresses("", " "); len(got) != 0 {
		t.Errorf("Addresses of blanks = %q, want none", got)
	}
}

func TestFailoverOrder(t *testing.T) {
	addrs := []string{"a", "b", "c"}
	for _, tc := range []struct {
		current string
		want    []string
	}{
		{"a", []string{"b", "c", "a"}},
		{"b", []string{"c", "a", "b"}},
		{"c", []string{"a", "b", "c"}},
		{"elsewhere", []string{"a", "b", "c"}},
		{"", []string{"a", "b", "c"}},
	} {
		if got := FailoverOrder(addrs, tc.current); !reflect.DeepEqual(got, tc.want) {
			t.Errorf("FailoverOrder(%q, %q) = %q, want %q", addrs, tc.current, got, tc.want)
		}
	}
	if got := FailoverOrder([]string{"a"}, "a"); !reflect.DeepEqual(got, []string{"a"}) {
		t.Errorf("one address: %q, want [a]", got)
	}
	if addrs[0] != "a" || addrs[1] != "b" || addrs[2] != "c" {
		t.Errorf("FailoverOrder changed its argument: %q", addrs)
	}
}

// fakeNode answers a connect with welcome, or with refusal when not nil,
// then hands what the client sends to got, if not nil.
func fakeNode(t *testing.T, refusal *Error, got chan<- []byte) string {
	t.Helper()
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		c, err := websocket.Accept(w, r, nil)
		if err != nil {
			return
		}
		defer c.CloseNow()
		ctx := r.Context()
		if _, _, err := c.Read(ctx); err != nil {
			return
		}
		m := Message{Type: TypeWelcome, User: "alice", Session: "s1"}
		if refusal != nil {
			m = Message{Type: TypeError, Error: refusal}
		}
		b, _ := Encode(m)
		_ = c.Write(ctx, websocket.MessageText, b) // a client gone already is seen by the reads below
		for {                                      // until the client goes
			_, b, err := c.Read(ctx)
			if err != nil {
				return
			}
			if got != nil {
				got <- b
			}
		}
	}))
	t.Cleanup(srv.Close)
	return srv.URL
}

// deadAddress is an address where nothing listens.
func deadAddress(t *testing.T) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := ln.Addr().String()
	ln.Close()
	return "http://" + addr
}

func TestDialAny(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	dead, live := deadAddress(t), fakeNode(t, nil, nil)

	c, err := DialAny(ctx, []string{dead, live}, "tok", DialOptions{})
	if err != nil {
		t.Fatalf("dead then live: %v", err)
	}
	if c.Server != live || c.Session != "s1" {
		t.Errorf("connected to %s session %s, want %s session s1", c.Server, c.Session, live)
	}
	c.Close()

	// A refusal is the service's answer: the next node is not asked.
	refusing := fakeNode(t, Errorf(InvalidToken, "bad token"), nil)
	_, err = DialAny(ctx, []string{refusing, live}, "tok", DialOptions{})
	var se *Error
	if !errors.As(err, &se) || se.Code != InvalidToken {
		t.Errorf("refused then live: %v, want InvalidToken", err)
	}

	// Nothing reachable: every address's error.
	dead2 := deadAddress(t)
	_, err = DialAny(ctx, []string{dead, dead2}, "tok", DialOptions{})
	if err == nil || errors.As(err, &se) {
		t.Fatalf("nothing reachable: %v, want a transport error", err)
	}
	for _, a := range []string{dead, dead2} {
		if !strings.Contains(err.Error(), a) {
			t.Errorf("error %q does not name %s", err, a)
		}
	}

	if _, err := DialAny(ctx, nil, "tok", DialOptions{}); !errors.As(err, &se) || se.Code != InvalidParameter {
		t.Errorf("no address: %v, want InvalidParameter", err)
	}
}

// TestCloseDelivers: what was sent before Close has reached the server when
// Close returns, so that a program that hangs up and exits is heard.
func TestCloseDelivers(t *testing.T) {
	got := make(chan []byte, 100)
	c, err := Dial(t.Context(), fakeNode(t, nil, got), "tok", DialOptions{})
	if err != nil {
		t.Fatal(err)
	}
	const n = 50
	for range n {
		if err := c.Send(Message{Type: TypeHangup, CallID: "c1"}); err != nil {
			t.Fatal(err)
		}
	}
	c.Close()
	if len(got) != n {
		t.Fatalf("the server had %d of the %d messages when Close returned", len(got), n)
	}
}
