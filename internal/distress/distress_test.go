package distress_test

import (
	"testing"

	"github.com/nudgehq/nudge/internal/distress"
	"github.com/nudgehq/nudge/internal/keyword"
)

func TestDetectRules(t *testing.T) {
	t.Parallel()
	tests := []struct {
		text string
		rule string // "" for no distress
	}{
		// rules and their languages
		{"I want to kill myself", "en.kill-myself"},
		{"kms", "en.kill-myself"},
		{"I've been thinking about suicde", "en.suicide"},
		{"sucidal again", "en.suicide"},
		{"i wanna dieeeee", "en.want-to-die"},
		{"I don't want to be here anymore", "en.not-live"},
		{"no reason to go on", "en.no-reason"},
		{"nobody would miss me", "en.nobody-miss"},
		{"I'm not safe right now", "en.not-safe"},
		{"started self-harming again", "en.self-harm"},
		{"me quiero morir", "es.want-to-die"},
		{"me kiero moriiir", "es.want-to-die"},
		{"ya no aguanto", "es.no-aguanto"},
		{"nadie me extrañaría", "es.nobody-miss"},
		{"quiero suisidarme", "es.kill-myself"},
		{"no estoy a salvo", "es.not-safe"},
		// short texts err towards help
		{"help me", "en.short-ambiguous"},
		{"im dying", "en.short-ambiguous"},
		{"auxilio", "es.short-ambiguous"},
		{"me muero", "es.short-ambiguous"},
		// negation
		{"I'm not suicidal, just tired", ""},
		{"I would never kill myself", ""},
		{"I don't want to die alone, so I called my sister", ""},
		{"no me quiero morir sin ver a mis nietos", ""},
		{"no quiero morir", ""},
		{"ya no sé para qué vivo", "es.wish-death"},
		// idioms
		{"dying to see her", ""},
		{"me muero de risa", ""},
		{"this traffic is killing me", ""},
		{"killed it at work", ""},
		{"I'd kill for a coffee", ""},
		{"the view was to die for", ""},
		{"lol I'm dying", ""},
		{"Live and Let Die", ""},
		{"killing me softly is on the radio", ""},
		{"I killed myself laughing", ""},
		{"mátame camión jaja", ""},
		{"", ""},
		{"3", ""},
		{"STOP", ""},
	}
	for _, tt := range tests {
		res, ok := distress.Detect(keyword.Normalise(tt.text))
		if ok != (tt.rule != "") || res.Rule != tt.rule {
			t.Errorf("Detect(%q) = %+v, %v; want rule %q", tt.text, res, ok, tt.rule)
		}
		if ok && tt.rule != "" && res.Lang != tt.rule[:2] {
			t.Errorf("Detect(%q) has language %q for rule %q", tt.text, res.Lang, res.Rule)
		}
	}
}

func TestDetectTakesRawTextWithoutPanic(t *testing.T) {
	t.Parallel()
	for _, s := range []string{"\x00\xff", "ＳＵＩＣＩＤＥ", "a\u202eb", "   ", "!!!!", "\\b(", "$"} {
		distress.Detect(s) // never panics, whatever it is given
	}
	if _, ok := distress.Detect(keyword.Normalise("ＳＵＩＣＩＤＥ")); !ok {
		t.Error("full-width SUICIDE is not recognised once normalised")
	}
}
