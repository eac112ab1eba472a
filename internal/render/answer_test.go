package render

import (
	"regexp"
	"strconv"
	"strings"
	"testing"

	"github.com/nudgehq/nudge/internal/domain"
	"github.com/nudgehq/nudge/templates"
)

// answerTestLinks are testLinks with the answer page's links.
var answerTestLinks = func() Links {
	l := testLinks
	for i := 1; i <= 5; i++ {
		l.Answer.Scores = append(l.Answer.Scores, "https://nudge.example/answer/tok-"+strconv.Itoa(i))
	}
	l.Answer.Note = "https://nudge.example/answer/tok-0"
	return l
}()

// TestEveryCheckinTextInvitesAScore renders every check-in and gratitude
// text of the library, with Check's long name and the opt-out footer, and
// wants the invitation in it, within two segments.
func TestEveryCheckinTextInvitesAScore(t *testing.T) {
	t.Parallel()
	lib, err := templates.Default()
	if err != nil {
		t.Fatal(err)
	}
	r := testRenderer(lib)
	d := Data{FirstName: "Maximiliana-Alejandra", Goal: "call my sister every Sunday and meet a neighbour", Week: 52, InviteAnswer: true}
	n := 0
	for _, m := range lib.Messages() {
		inv := InvitationOf(m.Program)
		if inv == InviteNothing || m.SMS == nil {
			continue
		}
		for _, f := range []SMSFooter{FooterNone, FooterOptOut} {
			s, err := r.SMS(m, d, f)
			if err != nil {
				t.Fatalf("%s: %v", m.File, err)
			}
			lb := answerLabelsFor(m.Locale)
			want := lb.smsScore
			if inv == InviteLine {
				want = lb.smsLine
			}
			if f == FooterOptOut {
				want += " " + labelsFor(m.Locale).optOut
			}
			if !strings.HasSuffix(s, stripAccents(want)) && !strings.HasSuffix(s, want) {
				t.Errorf("%s: %q does not end with %q", m.File, s, want)
			}
			if segs, _ := GSM7Segments(s); segs > MaxSMSSegments {
				t.Errorf("%s: %d segments", m.File, segs)
			}
		}
		n++
	}
	if n < 2*(26+26) {
		t.Fatalf("checked %d messages, want every check-in and gratitude prompt in both languages", n)
	}
}

func TestInvitationOnlyWhenAsked(t *testing.T) {
	t.Parallel()
	lib, err := templates.Default()
	if err != nil {
		t.Fatal(err)
	}
	r := testRenderer(lib)
	m := pick(t, lib, domain.WeeklyCheckin, "en")
	s, err := r.SMS(m, Data{FirstName: "Sam"}, FooterNone)
	if err != nil || strings.Contains(s, "Reply 1-5") {
		t.Fatalf("uninvited SMS = %q, %v", s, err)
	}
	e, err := r.Email(m, Data{FirstName: "Sam"}, answerTestLinks)
	if err != nil || strings.Contains(e.HTML, "/answer/") {
		t.Fatalf("uninvited email has answer links: %v", err)
	}
	// A monthly review or a clinic prompt invites nothing, even when asked.
	for _, p := range []domain.Program{domain.MonthlyReview, domain.BetweenSession} {
		m := pick(t, lib, p, "en")
		s, err := r.SMS(m, Data{InviteAnswer: true}, FooterNone)
		if err != nil || strings.Contains(s, "Reply 1-5") || strings.Contains(s, "Reply with a line") {
			t.Fatalf("%s SMS = %q, %v", p, s, err)
		}
	}
}

var anchor = regexp.MustCompile(`<a href="([^"]+)"[^>]*>([^<]*)</a>`)

func TestCheckinEmailHasFiveOneTapAnswersAndALineBack(t *testing.T) {
	t.Parallel()
	lib, err := templates.Default()
	if err != nil {
		t.Fatal(err)
	}
	r := testRenderer(lib)
	for _, locale := range []string{"en", "es"} {
		m := pick(t, lib, domain.WeeklyCheckin, locale)
		e, err := r.Email(m, Data{FirstName: "Sam", InviteAnswer: true}, answerTestLinks)
		if err != nil {
			t.Fatal(err)
		}
		var scores []string
		note := ""
		for _, a := range anchor.FindAllStringSubmatch(e.HTML, -1) {
			if !strings.Contains(a[1], "/answer/") {
				continue
			}
			if a[1] == answerTestLinks.Answer.Note {
				note = a[2]
				continue
			}
			scores = append(scores, a[2])
			if want := answerTestLinks.Answer.Scores[len(scores)-1]; a[1] != want {
				t.Errorf("%s: link %d goes to %s, want %s", locale, len(scores), a[1], want)
			}
		}
		if len(scores) != 5 {
			t.Fatalf("%s: %d score links, want 5: %v", locale, len(scores), scores)
		}
		for i, label := range scores {
			if !strings.HasPrefix(label, strconv.Itoa(i+1)+" ") {
				t.Errorf("%s: link %d reads %q, want it to begin with %d", locale, i+1, label, i+1)
			}
		}
		if want := answerLabelsFor(locale).writeLine; note != want {
			t.Errorf("%s: the line-back link reads %q, want %q", locale, note, want)
		}
		// The plain text carries the same links, one a line.
		for i, u := range answerTestLinks.Answer.Scores {
			if !strings.Contains(e.Text, strconv.Itoa(i+1)+" – ") || !strings.Contains(e.Text, u+"\n") {
				t.Errorf("%s: plain text lacks score %d and its link %s:\n%s", locale, i+1, u, e.Text)
			}
		}
		if !strings.Contains(e.Text, answerTestLinks.Answer.Note) {
			t.Errorf("%s: plain text lacks the line-back link", locale)
		}
	}
}

func TestGratitudeEmailInvitesALineWithoutAScore(t *testing.T) {
	t.Parallel()
	lib, err := templates.Default()
	if err != nil {
		t.Fatal(err)
	}
	r := testRenderer(lib)
	m := pick(t, lib, domain.Gratitude, "en")
	e, err := r.Email(m, Data{FirstName: "Sam", InviteAnswer: true}, Links{Manage: testLinks.Manage, Unsubscribe: testLinks.Unsubscribe, Answer: AnswerLinks{Note: "https://nudge.example/answer/tok-0"}})
	if err != nil {
		t.Fatal(err)
	}
	if strings.Contains(e.HTML, "tok-1") || !strings.Contains(e.HTML, `href="https://nudge.example/answer/tok-0"`) || !strings.Contains(e.HTML, "One line is plenty") {
		t.Fatalf("gratitude email invitation wrong:\n%s", e.HTML)
	}
}

func TestBadAnswerLinksAreRefused(t *testing.T) {
	t.Parallel()
	lib, err := templates.Default()
	if err != nil {
		t.Fatal(err)
	}
	r := testRenderer(lib)
	m := pick(t, lib, domain.WeeklyCheckin, "en")
	bad := answerTestLinks
	bad.Answer.Scores = bad.Answer.Scores[:4]
	if _, err := r.Email(m, Data{InviteAnswer: true}, bad); err == nil {
		t.Fatal("four score links accepted")
	}
	bad = answerTestLinks
	bad.Answer.Scores = append([]string{"javascript:alert(1)"}, bad.Answer.Scores[1:]...)
	if _, err := r.Email(m, Data{InviteAnswer: true}, bad); err == nil {
		t.Fatal("a javascript: link accepted")
	}
}

func TestGoldenAnswerInvitation(t *testing.T) {
	t.Parallel()
	lib, err := templates.Default()
	if err != nil {
		t.Fatal(err)
	}
	r := testRenderer(lib)
	for _, locale := range []string{"en", "es"} {
		m := pick(t, lib, domain.WeeklyCheckin, locale)
		d := Data{FirstName: "Sam", Week: 3, InviteAnswer: true}
		e, err := r.Email(m, d, answerTestLinks)
		if err != nil {
			t.Fatal(err)
		}
		s, err := r.SMS(m, d, FooterOptOut)
		if err != nil {
			t.Fatal(err)
		}
		name := "checkin-answer-" + locale
		golden(t, name+".txt", "Subject: "+e.Subject+"\n\n"+e.Text)
		golden(t, name+".html", e.HTML)
		golden(t, name+".sms", s+"\n")
	}
}
