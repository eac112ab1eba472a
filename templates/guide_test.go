package templates_test

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
	"unicode"

	"github.com/nudgehq/nudge/internal/render"
	"github.com/nudgehq/nudge/templates"
)

// guidePath is the guide the copy is written from, relative to this package:
// shared/ sits beside the checkout, here and in CI. Its text never enters
// the repository; this test reads it where it is.
const guidePath = "../../shared/guide/loneliness-and-reciprocity.txt"

// runLen is the length, in words, of the shortest run of the guide's words
// that counts as pasted rather than paraphrased.
const runLen = 10

// TestCopyIsOurs renders every message, in every locale, as email (subject
// and text) and as SMS, for a person with a goal and one without, and fails
// on any run of runLen consecutive words that is also in the guide.
func TestCopyIsOurs(t *testing.T) {
	t.Parallel()
	guide := loadGuide(t)

	lib, err := templates.Default()
	if err != nil {
		t.Fatalf("the embedded library does not load:\n%v", err)
	}
	r := render.New(lib, render.Options{
		ServiceName:   "nudge",
		PostalAddress: "nudge, 1 Main St, Springfield",
		CrisisLine:    render.DefaultCrisisLines(),
	})
	links := render.Links{
		Manage:      "https://nudge.example/manage/tok-m",
		Unsubscribe: "https://nudge.example/unsubscribe/tok-u",
	}
	people := []render.Data{
		{FirstName: "Sam", Goal: "call my sister more often", Week: 3},
		{FirstName: "Sam", Week: 3},
		{Week: 1},
	}

	checked := 0
	for _, m := range lib.Messages() {
		for _, d := range people {
			var parts []part
			if m.Subject != nil {
				l := links
				if m.Name == templates.Confirm {
					l.Action, l.ActionLabel = "https://nudge.example/confirm/tok-c", "Yes, send me these"
				}
				e, err := r.Email(m, d, l)
				if err != nil {
					t.Fatalf("%s: %v", m.File, err)
				}
				parts = append(parts, part{"subject", e.Subject}, part{"email text", e.Text})
			}
			if m.SMS != nil {
				s, err := r.SMS(m, d, render.FooterOptOut)
				if err != nil {
					t.Fatalf("%s: %v", m.File, err)
				}
				parts = append(parts, part{"SMS", s})
			}
			for _, p := range parts {
				checked++
				if run := guide.sharedRun(p.text); run != "" {
					t.Errorf("%s, %s (goal %q): %d or more words in a row from the guide: %q\nsay it in our own words",
						m.File, p.name, d.Goal, runLen, run)
				}
			}
		}
	}
	if checked < 2*len(lib.Messages()) {
		t.Errorf("checked %d rendered parts of %d messages: the loop missed some", checked, len(lib.Messages()))
	}
}

// TestCopyIsOursDetects makes sure the check above can fail: a run taken
// from the guide is found inside other text, and one word fewer is not.
func TestCopyIsOursDetects(t *testing.T) {
	t.Parallel()
	guide := loadGuide(t)
	words := strings.Fields(guide.text)
	mid := len(words) / 2
	run := strings.Join(words[mid:mid+runLen], " ")
	if got := guide.sharedRun("Hi Sam. " + strings.ToUpper(run) + " What do you think?"); got == "" {
		t.Errorf("a %d-word run from the guide was not found: %q", runLen, run)
	}
	short := strings.Join(words[mid:mid+runLen-1], " ")
	if got := guide.sharedRun("zzz " + short + " zzz"); got != "" {
		t.Errorf("a %d-word run was reported: %q", runLen-1, got)
	}
	if got := guide.sharedRun("Hi Sam. Think of one chat this week that felt easy, and why."); got != "" {
		t.Errorf("our own sentence was reported: %q", got)
	}
}

// part is one rendered part of a message: its subject, text or SMS.
type part struct{ name, text string }

// guide holds every runLen-word run of the guide, normalised.
type guide struct {
	text string
	runs map[string]bool
}

// loadGuide reads the guide. Without it the test cannot say the copy is
// ours, so it fails rather than skips.
func loadGuide(t *testing.T) *guide {
	t.Helper()
	b, err := os.ReadFile(guidePath)
	if err != nil {
		abs, _ := filepath.Abs(guidePath)
		t.Fatalf("cannot read the guide the copy is checked against (%v).\n"+
			"It lives outside the repository, at %s (shared/guide/ beside the checkout; CI keeps a copy there).\n"+
			"This test fails without it: it cannot tell whether a message pastes the guide.", err, abs)
	}
	g := &guide{text: string(b), runs: make(map[string]bool)}
	for _, words := range normalisations(g.text) {
		for i := 0; i+runLen <= len(words); i++ {
			g.runs[strings.Join(words[i:i+runLen], " ")] = true
		}
	}
	if len(g.runs) == 0 {
		t.Fatalf("the guide at %s has fewer than %d words", guidePath, runLen)
	}
	return g
}

// sharedRun returns the first runLen-word run of s that is also in the
// guide, or "".
func (g *guide) sharedRun(s string) string {
	for _, words := range normalisations(s) {
		for i := 0; i+runLen <= len(words); i++ {
			if run := strings.Join(words[i:i+runLen], " "); g.runs[run] {
				return run
			}
		}
	}
	return ""
}

// normalisations returns s lower-cased and split on white space, once with
// punctuation deleted ("don't" → "dont") and once with punctuation read as a
// space ("goals—sharing" → "goals sharing"), so that neither way of writing
// a word hides a match.
func normalisations(s string) [][]string {
	s = strings.ToLower(s)
	isPunct := func(r rune) bool { return unicode.IsPunct(r) || unicode.IsSymbol(r) }
	deleted := strings.Map(func(r rune) rune {
		if isPunct(r) {
			return -1
		}
		return r
	}, s)
	spaced := strings.Map(func(r rune) rune {
		if isPunct(r) {
			return ' '
		}
		return r
	}, s)
	return [][]string{strings.Fields(deleted), strings.Fields(spaced)}
}
