package web_test

import (
	"context"
	"errors"
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/nudgehq/nudge/internal/links"
	"github.com/nudgehq/nudge/internal/store"
	"github.com/nudgehq/nudge/internal/token"
)

// answerPath is the path of the answer link for occurrence with score.
func (b *bundle) answerPath(id, occurrence string, score int) string {
	return "/answer/" + b.signer.Sign(token.Rate, links.AnswerSubject(id, occurrence, score), b.now.Add(links.AnswerTTL))
}

func (b *bundle) answers(t *testing.T, id string) []store.Answer {
	t.Helper()
	got, err := b.st.Answers(context.Background(), id, time.Time{}, time.Time{})
	if err != nil {
		t.Fatal(err)
	}
	return got
}

func TestScannersOpeningAnswerLinksRecordNothing(t *testing.T) {
	b := setup(t)
	id, _ := b.confirmed(t, nil)
	occ := "weekly-checkin:2026-11-24"
	scanner := http.Header{"User-Agent": {"Mozilla/5.0 (compatible; SafeLinks)"}, "Purpose": {"prefetch"}, "Sec-Purpose": {"prefetch"}}
	for score := 0; score <= 5; score++ {
		p := b.answerPath(id, occ, score)
		for _, method := range []string{"GET", "HEAD", "GET"} {
			if res := b.send(t, method, p, nil, scanner); res.code != http.StatusOK {
				t.Fatalf("%s score %d = %d", method, score, res.code)
			}
		}
	}
	if got := b.answers(t, id); len(got) != 0 {
		t.Fatalf("link opens recorded %+v", got)
	}
	// The page has the link's score chosen and a form that posts to itself.
	p := b.answerPath(id, occ, 4)
	res := b.send(t, "GET", p, nil, nil)
	if !strings.Contains(res.body, `id="score-4" name="score" value="4" checked`) || strings.Contains(res.body, `value="3" checked`) {
		t.Fatalf("score 4 not the one chosen:\n%s", res.body)
	}
	if !strings.Contains(res.body, `<form method="post" action="`+p+`"`) || !strings.Contains(res.body, `maxlength="500"`) {
		t.Fatalf("no form posting to %s:\n%s", p, res.body)
	}
}

func TestAnswerPostRecordsAndASecondReplaces(t *testing.T) {
	b := setup(t)
	id, _ := b.confirmed(t, nil)
	occ := "weekly-checkin:2026-11-24"
	res := b.send(t, "POST", b.answerPath(id, occ, 2), url.Values{"score": {"2"}, "note": {"quiet week"}}, nil)
	if res.code != 200 || !strings.Contains(res.body, "Your answer is saved.") {
		t.Fatalf("POST = %d:\n%s", res.code, res.body)
	}
	first := between(res.body, `<p class="notice" role="status">Your answer is saved.</p>`+"\n<p>", "</p>")
	// A second answer (from another link of the same email) replaces it.
	res = b.send(t, "POST", b.answerPath(id, occ, 5), url.Values{"score": {"5"}, "note": {"saw my brother"}}, nil)
	if res.code != 200 {
		t.Fatalf("second POST = %d", res.code)
	}
	second := between(res.body, `<p class="notice" role="status">Your answer is saved.</p>`+"\n<p>", "</p>")
	got := b.answers(t, id)
	if len(got) != 1 || got[0].Score != 5 || got[0].Note != "saw my brother" || got[0].Occurrence != occ || got[0].Channel != "email" {
		t.Fatalf("answers = %+v", got)
	}
	if first == "" || first == second {
		t.Fatalf("acknowledgements %q and %q: want two different lines", first, second)
	}
	// The page opened again says it was answered and keeps the note.
	res = b.send(t, "GET", b.answerPath(id, occ, 0), nil, nil)
	if !strings.Contains(res.body, "You answered this one already") || !strings.Contains(res.body, "saw my brother") || !strings.Contains(res.body, `value="5" checked`) {
		t.Fatalf("reopened page:\n%s", res.body)
	}
}

func TestALateAnswerAttachesToItsOwnWeek(t *testing.T) {
	b := setup(t)
	id, _ := b.confirmed(t, nil)
	ctx := context.Background()
	for i, date := range []string{"2026-11-24", "2026-12-01"} {
		if err := b.st.MarkSent(ctx, id, "weekly-checkin:"+date, b.now.Add(time.Duration(i)*7*24*time.Hour)); err != nil {
			t.Fatal(err)
		}
	}
	old := b.answerPath(id, "weekly-checkin:2026-11-24", 3)
	b.now = b.now.Add(10 * 24 * time.Hour) // after the newer check-in went out
	if res := b.send(t, "POST", old, url.Values{"score": {"3"}}, nil); res.code != 200 {
		t.Fatalf("late POST = %d", res.code)
	}
	got := b.answers(t, id)
	if len(got) != 1 || got[0].Occurrence != "weekly-checkin:2026-11-24" {
		t.Fatalf("late answer landed on %+v", got)
	}
	if _, err := b.st.Answer(ctx, id, "weekly-checkin:2026-12-01"); !errors.Is(err, store.ErrNotFound) {
		t.Fatalf("the newer week got an answer: %v", err)
	}
}

func TestAnswerPostRefusesBadInputWithAMessage(t *testing.T) {
	b := setup(t)
	id, _ := b.confirmed(t, nil)
	p := b.answerPath(id, "weekly-checkin:2026-11-24", 3)
	for _, tc := range []struct {
		form url.Values
		want string
	}{
		{url.Values{}, "Please choose a number or write a line."},
		{url.Values{"score": {"9"}}, "Please choose a number from 1 to 5."},
		{url.Values{"score": {"x"}}, "Please choose a number from 1 to 5."},
		{url.Values{"score": {"3"}, "note": {strings.Repeat("a", 501)}}, "Please keep the note to 500 characters."},
	} {
		res := b.send(t, "POST", p, tc.form, nil)
		if res.code != http.StatusUnprocessableEntity || !strings.Contains(res.body, tc.want) || !strings.Contains(res.body, `role="alert"`) {
			t.Errorf("POST %v = %d, want 422 with %q", tc.form, res.code, tc.want)
		}
	}
	// Cross-site posts are refused; a token for another purpose is no answer link.
	if res := b.send(t, "POST", p, url.Values{"score": {"3"}}, http.Header{"Sec-Fetch-Site": {"cross-site"}}); res.code != http.StatusForbidden {
		t.Errorf("cross-site POST = %d, want 403", res.code)
	}
	manage := "/answer/" + b.signer.Sign(token.Manage, links.AnswerSubject(id, "weekly-checkin:2026-11-24", 3), b.now.Add(time.Hour))
	if res := b.send(t, "POST", manage, url.Values{"score": {"3"}}, nil); res.code != http.StatusNotFound {
		t.Errorf("POST with a manage token = %d, want 404", res.code)
	}
	expired := "/answer/" + b.signer.Sign(token.Rate, links.AnswerSubject(id, "weekly-checkin:2026-11-24", 3), b.now.Add(-time.Second))
	if res := b.send(t, "GET", expired, nil, nil); res.code != http.StatusNotFound {
		t.Errorf("expired link = %d, want 404", res.code)
	}
	if got := b.answers(t, id); len(got) != 0 {
		t.Fatalf("refused posts recorded %+v", got)
	}
}

func TestGratitudeAnswerIsALineInSpanish(t *testing.T) {
	b := setup(t)
	id, _ := b.confirmed(t, url.Values{"locale": {"es"}})
	p := b.answerPath(id, "gratitude:2026-11-26", 0)
	res := b.send(t, "GET", p, nil, nil)
	if res.code != 200 || !strings.Contains(res.body, `<html lang="es">`) || !strings.Contains(res.body, "Tu nota de gratitud") || strings.Contains(res.body, `name="score"`) {
		t.Fatalf("gratitude page = %d:\n%s", res.code, res.body)
	}
	if res := b.send(t, "POST", p, url.Values{}, nil); res.code != http.StatusUnprocessableEntity || !strings.Contains(res.body, "Escribe una línea") {
		t.Fatalf("empty gratitude POST = %d", res.code)
	}
	if res := b.send(t, "POST", p, url.Values{"note": {"la vecina me ayudó"}}, nil); res.code != 200 || !strings.Contains(res.body, "Tu respuesta está guardada.") {
		t.Fatalf("gratitude POST = %d:\n%s", res.code, res.body)
	}
	got := b.answers(t, id)
	if len(got) != 1 || got[0].Score != 0 || got[0].Note != "la vecina me ayudó" {
		t.Fatalf("answers = %+v", got)
	}
}

// A note in distress on the answer page gets what a text in distress gets:
// at once, the crisis resources of the person's country in their language,
// and their nudges held. The note is not kept as an answer.
func TestADistressNoteGetsHelpAndHoldsTheNudges(t *testing.T) {
	for _, tt := range []struct {
		name   string
		form   url.Values
		note   string
		want   []string
		notWhy string
	}{
		{"New York, English", url.Values{"tz": {"America/New_York"}}, "honestly I want to kill myself", []string{"988", "Thank you for telling us"}, "024"},
		{"Madrid, Spanish", url.Values{"tz": {"Europe/Madrid"}, "locale": {"es"}}, "ya no aguanto, me quiero morir", []string{"024", "112", "Gracias por contárnoslo", `lang="es"`}, "988"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			b := setup(t)
			id, _ := b.confirmed(t, tt.form)
			res := b.send(t, "POST", b.answerPath(id, "weekly-checkin:2026-11-24", 1), url.Values{"score": {"1"}, "note": {tt.note}}, nil)
			if res.code != 200 {
				t.Fatalf("POST = %d:\n%s", res.code, res.body)
			}
			for _, w := range tt.want {
				if !strings.Contains(res.body, w) {
					t.Errorf("page lacks %q:\n%s", w, res.body)
				}
			}
			if strings.Contains(res.body, tt.notWhy) || strings.Contains(res.body, `role="status"`) {
				t.Errorf("page names another country's line or says the answer was saved:\n%s", res.body)
			}
			sub, err := b.st.Subscriber(context.Background(), id)
			if err != nil {
				t.Fatal(err)
			}
			if sub.DistressAt.IsZero() || !sub.PausedUntil.After(b.now) {
				t.Errorf("nudges not held: distress at %v, paused until %v", sub.DistressAt, sub.PausedUntil)
			}
			if got := b.answers(t, id); len(got) != 0 {
				t.Errorf("the note in distress was kept as an answer: %+v", got)
			}
		})
	}
}
