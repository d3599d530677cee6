package recents

import (
	"testing"
	"time"
)

func TestWhen(t *testing.T) {
	berlin := time.FixedZone("CET", 3600)
	now := time.Date(2025, 3, 14, 15, 4, 5, 0, time.UTC) // a Friday
	tests := []struct {
		t    time.Time
		want string
	}{
		{now, "15:04"},
		{time.Date(2025, 3, 14, 0, 1, 0, 0, time.UTC), "00:01"},
		{time.Date(2025, 3, 13, 23, 59, 0, 0, time.UTC), "Thu 23:59"},
		{time.Date(2025, 3, 8, 12, 0, 0, 0, time.UTC), "Sat 12:00"},
		{time.Date(2025, 3, 7, 12, 0, 0, 0, time.UTC), "Mar 7 12:00"},
		{time.Date(2024, 12, 31, 12, 0, 0, 0, time.UTC), "Dec 31 2024"},
		{time.Date(2025, 3, 14, 16, 4, 0, 0, berlin), "15:04"}, // shown in now's zone
	}
	for _, tt := range tests {
		if got := When(tt.t, now); got != tt.want {
			t.Errorf("When(%v) = %q; want %q", tt.t, got, tt.want)
		}
	}
}
