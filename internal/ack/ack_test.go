package ack_test

import (
	"strings"
	"testing"

	"github.com/nudgehq/nudge/internal/ack"
	"github.com/nudgehq/nudge/internal/render"
)

func TestKindListensToTheScoreAndTheNote(t *testing.T) {
	for _, tc := range []struct {
		score int
		note  string
		want  ack.Kind
	}{
		{1, "", ack.Low}, {2, "tired", ack.Low}, {3, "", ack.Middle}, {4, "", ack.High}, {5, "saw my brother", ack.High},
		{0, "my neighbour waved", ack.NoteOnly},
		{2, "No one, really", ack.NoOne}, {5, "talked to nobody", ack.NoOne}, {1, "NADIE", ack.NoOne},
		{0, "no-one called", ack.NoOne}, {3, "hablé con nadie", ack.NoOne},
		// Words that only contain the phrase are not it.
		{4, "nobodyknows the band", ack.High}, {3, "canadiense", ack.Middle},
	} {
		if got := ack.KindOf(tc.score, tc.note); got != tc.want {
			t.Errorf("KindOf(%d, %q) = %d, want %d", tc.score, tc.note, got, tc.want)
		}
	}
}

func TestPickNeverRepeatsItselfAndChangesWithTheScore(t *testing.T) {
	for _, locale := range []string{"en", "es", "es-MX"} {
		last := -1
		seen := map[string]bool{}
		prev := ""
		for i := range 12 {
			text, idx := ack.Pick(locale, 1+i%5, "", last)
			if text == prev {
				t.Fatalf("%s: the same words twice in a row: %q", locale, text)
			}
			if idx == last {
				t.Fatalf("%s: the same index twice in a row: %d", locale, idx)
			}
			seen[text] = true
			prev, last = text, idx
		}
		// Same kind again and again still varies.
		last = -1
		prev = ""
		for range 6 {
			text, idx := ack.Pick(locale, 2, "", last)
			if text == prev {
				t.Fatalf("%s: low score repeated %q", locale, text)
			}
			prev, last = text, idx
		}
	}
	low, _ := ack.Pick("en", 1, "", -1)
	high, _ := ack.Pick("en", 5, "", -1)
	noOne, _ := ack.Pick("en", 5, "nobody this week", -1)
	if low == high || high == noOne || low == noOne {
		t.Fatalf("low %q, high %q and no-one %q should differ", low, high, noOne)
	}
	if es, _ := ack.Pick("es", 5, "", -1); es == high {
		t.Fatalf("Spanish gave the English line %q", es)
	}
	if fr, _ := ack.Pick("fr", 5, "", -1); fr != high {
		t.Fatalf("a locale without lines gets English, got %q", fr)
	}
}

func TestEveryLineIsOneTextWithALongSender(t *testing.T) {
	sender := strings.Repeat("S", 40)
	for _, locale := range []string{"en", "es"} {
		for score := range 6 {
			for _, note := range []string{"", "nadie", "nobody"} {
				last := -1
				for range 4 {
					text, idx := ack.Pick(locale, score, note, last)
					last = idx
					if n := len([]rune(text)); n > ack.MaxLen {
						t.Errorf("%s %d %q: %d characters, at most %d: %q", locale, score, note, n, ack.MaxLen, text)
					}
					sms := ack.SMS(sender+"more", text)
					if n, gsm := render.GSM7Segments(sms); n != 1 || !gsm {
						t.Errorf("%s: %q takes %d segments (GSM-7 %v)", locale, sms, n, gsm)
					}
				}
			}
		}
	}
	if got := ack.SMS("nudge", "Qué alegría, mañana"); got != "nudge: Qué alegria, mañana" {
		t.Fatalf("SMS = %q", got)
	}
}
