package prompt

import (
	"strings"
	"testing"
)

func TestValidate(t *testing.T) {
	tests := []struct{ id, want string }{
		{"bob", ""},
		{"bob@example.com", ""},
		{"", "Type a user id."},
		{"bob.smith+test_1-x", ""},
		{"bo b", "A user id is 1 to 64 letters, digits and . _ - @ +"},
		{"bob\x00", "A user id is 1 to 64 letters, digits and . _ - @ +"},
		{"bøb", "A user id is 1 to 64 letters, digits and . _ - @ +"},
		{strings.Repeat("x", 64), ""},
		{strings.Repeat("x", 65), "A user id is 1 to 64 letters, digits and . _ - @ +"},
	}
	for _, tt := range tests {
		if got := Validate(tt.id); got != tt.want {
			t.Errorf("Validate(%q) = %q; want %q", tt.id, got, tt.want)
		}
	}
}
