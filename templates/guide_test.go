package templates_test

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/nudgehq/nudge/internal/render"
	"github.com/nudgehq/nudge/templates"
	"github.com/nudgehq/nudge/templates/internal/guideprint"
)

// fingerprintPath is the guide's fingerprint, checked in beside this test
// (go generate ./templates rebuilds it from the guide).
const fingerprintPath = "guide_fingerprint.txt"

// guideDir is where the guide itself sits when it is beside the checkout, as
// in CI; a plain clone does without it.
const guideDir = "../../shared/guide"

// runLen is the length, in words, of the shortest run of the guide's words
// that counts as pasted rather than paraphrased.
const runLen = guideprint.RunLen

// TestCopyIsOurs renders every message, in every locale, as email (subject
// and text) and as SMS, for a person with a goal and one without, and fails
// on any run of runLen consecutive words that is also in the guide.
func TestCopyIsOurs(t *testing.T) {
	t.Parallel()
	guide := loadFingerprint(t)

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
				if run := guide.SharedRun(p.text); run != "" {
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

// TestCopyIsOursDetects makes sure the check above can fail: a fingerprint
// made from a known text finds a run of it inside other text, upper-cased
// and punctuated differently, and does not report one word fewer.
func TestCopyIsOursDetects(t *testing.T) {
	t.Parallel()
	source := "When the evening gets quiet and the phone stays dark, a short walk to the corner shop can turn into a chat with the owner."
	fp := guideprint.FromText(source)
	words := strings.Fields(source)
	run := strings.Join(words[3:3+runLen], " ")
	if got := fp.SharedRun("Hi Sam. " + strings.ToUpper(run) + " What do you think?"); got == "" {
		t.Errorf("a %d-word run of the fingerprinted text was not found: %q", runLen, run)
	}
	if got := fp.SharedRun("Hi Sam: the phone—stays dark, a short walk to the corner shop can help?"); got == "" {
		t.Errorf("a run written with other punctuation was not found")
	}
	short := strings.Join(words[3:3+runLen-1], " ")
	if got := fp.SharedRun("zzz " + short + " zzz"); got != "" {
		t.Errorf("a %d-word run was reported: %q", runLen-1, got)
	}
	if got := fp.SharedRun("Hi Sam. Think of one chat this week that felt easy, and why."); got != "" {
		t.Errorf("our own sentence was reported: %q", got)
	}
}

// TestGuideFingerprint checks the checked-in fingerprint: it parses, it is
// the size of a real guide, it rejects a damaged line, and, where the guide
// is beside the checkout (as in CI), it is the guide's current fingerprint.
func TestGuideFingerprint(t *testing.T) {
	t.Parallel()
	fp := loadFingerprint(t)
	if fp.Len() < 500 {
		t.Errorf("the fingerprint holds %d runs; a guide of a few pages has well over 500", fp.Len())
	}
	if _, err := guideprint.Parse(strings.NewReader("# comment\n00112233445566\n")); err == nil {
		t.Error("a 7-byte hash was accepted")
	}
	if _, err := guideprint.Parse(strings.NewReader("zz112233445566ff\n")); err == nil {
		t.Error("a line that is not hex was accepted")
	}
	var b strings.Builder
	if _, err := fp.WriteTo(&b); err != nil {
		t.Fatal(err)
	}
	again, err := guideprint.Parse(strings.NewReader(b.String()))
	if err != nil || !again.Equal(fp) {
		t.Errorf("the fingerprint does not survive writing and reading back (%v)", err)
	}

	entries, err := os.ReadDir(guideDir)
	if err != nil {
		t.Logf("no guide beside the checkout (%v): the checked-in fingerprint is used as it is", err)
		return
	}
	var texts []string
	for _, e := range entries {
		if strings.HasSuffix(e.Name(), ".txt") {
			b, err := os.ReadFile(filepath.Join(guideDir, e.Name()))
			if err != nil {
				t.Fatal(err)
			}
			texts = append(texts, string(b))
		}
	}
	if !guideprint.FromText(texts...).Equal(fp) {
		t.Errorf("%s is not the fingerprint of the guide in %s: run go generate ./templates", fingerprintPath, guideDir)
	}
}

// part is one rendered part of a message: its subject, text or SMS.
type part struct{ name, text string }

// loadFingerprint reads the checked-in fingerprint of the guide.
func loadFingerprint(t *testing.T) *guideprint.Fingerprint {
	t.Helper()
	f, err := os.Open(fingerprintPath)
	if err != nil {
		t.Fatalf("cannot read the guide's fingerprint: %v (go generate ./templates makes it)", err)
	}
	defer f.Close()
	fp, err := guideprint.Parse(f)
	if err != nil {
		t.Fatal(err)
	}
	return fp
}
