package signaling

import (
	"fmt"
	"testing"
)

// TestTransitions checks every pair of statuses against the state machine
// written out by hand from the Gitple SDK's call flow.
func TestTransitions(t *testing.T) {
	legal := map[[2]Status]bool{
		{Started, Ringing}: true, {Started, Answered}: true, {Started, Rejected}: true,
		{Started, Unanswered}: true, {Started, Failed}: true,
		{Ringing, Answered}: true, {Ringing, Rejected}: true, {Ringing, Unanswered}: true,
		{Ringing, Failed}:     true,
		{Answered, Completed}: true, {Answered, Failed}: true, {Answered, Reconnecting}: true,
		{Reconnecting, Answered}: true, {Reconnecting, Completed}: true, {Reconnecting, Failed}: true,
	}
	n := 0
	for _, from := range Statuses() {
		for _, to := range Statuses() {
			t.Run(fmt.Sprintf("%s->%s", from, to), func(t *testing.T) {
				if got, want := CanTransition(from, to), legal[[2]Status{from, to}]; got != want {
					t.Errorf("CanTransition(%s, %s) = %v, want %v", from, to, got, want)
				}
			})
			n++
		}
	}
	if n != 64 {
		t.Fatalf("checked %d pairs, want 64", n)
	}
	if CanTransition("bogus", Ringing) || CanTransition(Started, "bogus") {
		t.Error("a status outside the table must not transition")
	}
}

func TestTerminal(t *testing.T) {
	want := map[Status]bool{Completed: true, Failed: true, Rejected: true, Unanswered: true}
	for _, s := range Statuses() {
		if got := s.Terminal(); got != want[s] {
			t.Errorf("%s.Terminal() = %v, want %v", s, got, want[s])
		}
		if s.Terminal() && len(transitions[s]) != 0 {
			t.Errorf("terminal status %s has transitions", s)
		}
	}
}

func TestErrorTable(t *testing.T) {
	want := map[Code]string{
		80101: "invalid_parameter", 80102: "not_found_user_session_id", 80103: "same_caller_and_destination",
		80201: "already_connected_session", 80202: "already_busy_call", 80401: "invalid_token",
		80402: "no_connected_session", 80403: "no_connected_call", 80404: "no_connected_destination",
		80801: "not_found_device", 80802: "permission_denied", 80999: "unknown_error",
	}
	if len(Codes()) != len(want) {
		t.Fatalf("Codes() has %d codes, want %d", len(Codes()), len(want))
	}
	for _, c := range Codes() {
		if c.Name() != want[c] {
			t.Errorf("%d.Name() = %q, want %q", c, c.Name(), want[c])
		}
	}
	e := Errorf(12345, "x")
	if e.Code != UnknownError || e.Name != "unknown_error" {
		t.Errorf("Errorf with a code outside the table = %+v, want unknown_error", e)
	}
}
