package server

import (
	"testing"
	"time"

	"github.com/parley-voice/parley/signaling"
)

// BenchmarkDialToRinging measures, over real WebSockets on loopback, the
// time from the caller sending dial to the caller hearing "ringing" (the
// callee answering the offer with ringing in between), and the whole cycle
// with the cancel that follows.
func BenchmarkDialToRinging(b *testing.B) {
	s := startServer(b)
	alice := s.connect(b, "alice", "")
	bob := s.connect(b, "bob", "")
	var ringing time.Duration
	b.ResetTimer()
	for range b.N {
		start := time.Now()
		alice.send(signaling.Message{Type: signaling.TypeDial, Ref: "d", To: "bob", SDP: "offer"})
		id := bob.next().Event.ID
		bob.send(signaling.Message{Type: signaling.TypeRinging, CallID: id})
		alice.next() // call
		if m := alice.next(); m.Event.Status != signaling.Ringing {
			b.Fatalf("got %s", js(m))
		}
		ringing += time.Since(start)
		alice.send(signaling.Message{Type: signaling.TypeHangup, CallID: id})
		bob.next() // ringing
		for _, c := range []*client{alice, bob} {
			if m := c.next(); m.Event.Status != signaling.Unanswered {
				b.Fatalf("got %s", js(m))
			}
		}
	}
	b.ReportMetric(float64(ringing.Microseconds())/float64(b.N), "µs-dial-to-ringing")
}
