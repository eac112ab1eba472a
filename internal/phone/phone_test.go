package phone

import (
	"errors"
	"strings"
	"testing"
)

func TestNormalise(t *testing.T) {
	t.Parallel()
	n := New("GB", []string{"GB", "US", "ES"})
	tests := []struct {
		in      string
		want    string
		wantErr error
	}{
		{"07400 123456", "+447400123456", nil},
		{"+44 7400 123456", "+447400123456", nil},
		{"(0)7400-123-456", "+447400123456", nil},
		{"+1 (201) 555-0123", "+12015550123", nil},
		{"+34 612 34 56 78", "+34612345678", nil},
		{"020 7946 0018", "", ErrNotMobile},
		{"+33 6 12 34 56 78", "", ErrNotAllowed},
		{"12", "", ErrInvalid},
		{"call me", "", ErrInvalid},
		{"   ", "", ErrEmpty},
		{strings.Repeat("9", 41), "", ErrInvalid},
	}
	for _, tt := range tests {
		got, err := n.Normalise(tt.in)
		if got != tt.want || !errors.Is(err, tt.wantErr) {
			t.Errorf("Normalise(%q) = %q, %v; want %q, %v", tt.in, got, err, tt.want, tt.wantErr)
		}
	}
	if got, err := New("GB", nil).Normalise("+33 6 12 34 56 78"); err != nil || got != "+33612345678" {
		t.Errorf("with no country limit: %q, %v", got, err)
	}
}

func FuzzNormalise(f *testing.F) {
	for _, s := range []string{"07400 123456", "+1 201 555 0123", "+", "00", "+44 (0) 7700", "٠٧٧٠٠"} {
		f.Add(s)
	}
	n := New("GB", nil)
	f.Fuzz(func(t *testing.T, in string) {
		out, err := n.Normalise(in)
		if err != nil {
			return
		}
		if !strings.HasPrefix(out, "+") || len(out) > 16 {
			t.Fatalf("Normalise(%q) = %q: not E.164", in, out)
		}
		again, err := n.Normalise(out)
		if err != nil || again != out {
			t.Fatalf("Normalise is not stable: %q → %q → %q, %v", in, out, again, err)
		}
	})
}
