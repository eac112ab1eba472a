package keyword

import (
	"testing"
	"unicode/utf8"
)

func TestRead(t *testing.T) {
	t.Parallel()
	tests := []struct {
		body string
		want Match
	}{
		{"STOP", Match{Kind: Stop}},
		{"  stop  ", Match{Kind: Stop}},
		{"Stop.", Match{Kind: Stop}},
		{"STOP!!!", Match{Kind: Stop}},
		{"StopAll", Match{Kind: Stop}},
		{"unsubscribe", Match{Kind: Stop}},
		{"Cancel", Match{Kind: Stop}},
		{"END", Match{Kind: Stop}},
		{"quit", Match{Kind: Stop}},
		{"REVOKE", Match{Kind: Stop}},
		{"optout", Match{Kind: Stop}},
		{"Opt-Out", Match{Kind: Stop}},
		{"please stop texting me", Match{Kind: Stop}},
		{"Don't text me anymore", Match{Kind: Stop}},
		{"No me escriban más, por favor", Match{Kind: Stop}},
		{"START", Match{Kind: Start}},
		{"unstop", Match{Kind: Start}},
		{"Yes", Match{Kind: Start}},
		{"yes!", Match{Kind: Start}},
		{"HELP", Match{Kind: Help}},
		{"info?", Match{Kind: Help}},
		{"pause", Match{Kind: Pause}},
		{"3", Match{Kind: Rating, Rating: 3}},
		{" 5 ", Match{Kind: Rating, Rating: 5}},
		{"6", Match{Kind: Text}},
		{"0", Match{Kind: Text}},
		{"stopping by the market later", Match{Kind: Text}},
		{"nonstop texting all day", Match{Kind: Text}},
		{"I called my sister, it went well", Match{Kind: Text}},
		{"yes I did it", Match{Kind: Text}},
		{"", Match{Kind: Text}},
	}
	for _, tt := range tests {
		if got := Read(tt.body); got != tt.want {
			t.Errorf("Read(%q) = %+v, want %+v", tt.body, got, tt.want)
		}
	}
}

func FuzzRead(f *testing.F) {
	for _, s := range []string{"STOP", "stop texting me", "3", "yes", "¿Qué?", "\x00", "ＳＴＯＰ", "stop\u200b"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, body string) {
		m := Read(body) // never panics
		if m.Kind == Rating && (m.Rating < 1 || m.Rating > 5) {
			t.Fatalf("Read(%q) = rating %d", body, m.Rating)
		}
		if m.Kind != Rating && m.Rating != 0 {
			t.Fatalf("Read(%q) has a rating without being one", body)
		}
		n := normalise(body)
		if !utf8.ValidString(body) {
			return
		}
		if n != normalise(n) {
			t.Fatalf("normalise is not idempotent on %q: %q then %q", body, n, normalise(n))
		}
	})
}
