package render

import (
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/nudgehq/nudge/internal/domain"
	"github.com/nudgehq/nudge/internal/review"
	"github.com/nudgehq/nudge/templates"
)

// monthOf builds a month of n weekly check-ins, the first answered of them
// with scores from scores (0: a note only), the month before averaging 3.
func monthOf(n int, scores []int, quote bool) *review.Summary {
	start := time.Date(2026, 11, 2, 18, 0, 0, 0, time.UTC)
	in := review.Input{PrevFrom: start.AddDate(0, -1, 0), From: start.Add(-time.Hour), To: start.AddDate(0, 0, 7*n), Quote: quote}
	prev := start.AddDate(0, 0, -14)
	in.Sent = append(in.Sent, review.Sent{Occurrence: "weekly-checkin:" + prev.Format(time.DateOnly), At: prev})
	in.Answers = append(in.Answers, review.Answer{Occurrence: "weekly-checkin:" + prev.Format(time.DateOnly), Score: 3})
	notes := []string{"walked with my neighbour", "quiet week", "called my sister <3", "lunch with Jo & Sam", "book club"}
	for i := range n {
		at := start.AddDate(0, 0, 7*i)
		o := "weekly-checkin:" + at.Format(time.DateOnly)
		in.Sent = append(in.Sent, review.Sent{Occurrence: o, At: at})
		if i < len(scores) {
			in.Answers = append(in.Answers, review.Answer{Occurrence: o, Score: scores[i], Note: notes[i%len(notes)]})
		}
		g := "gratitude:" + at.AddDate(0, 0, 2).Format(time.DateOnly)
		in.Sent = append(in.Sent, review.Sent{Occurrence: g, At: at.AddDate(0, 0, 2)})
		if i < len(scores) && i%2 == 0 {
			in.Answers = append(in.Answers, review.Answer{Occurrence: g, Note: "the bus driver waited for me"})
		}
	}
	s := review.Summarise(in)
	return &s
}

var monthCases = []struct {
	name   string
	locale string
	month  *review.Summary
}{
	{"none-en", "en", monthOf(4, nil, false)},
	{"none-es", "es", monthOf(4, nil, true)},
	{"one-en", "en", monthOf(4, []int{4}, false)},
	{"few-en", "en", monthOf(4, []int{2, 0, 5}, false)},
	{"few-quote-en", "en", monthOf(4, []int{2, 0, 5}, true)},
	{"few-es", "es", monthOf(4, []int{2, 0, 5}, false)},
	{"few-quote-es", "es", monthOf(4, []int{2, 0, 5}, true)},
	{"many-en", "en", monthOf(5, []int{3, 4, 4, 5, 2}, false)},
	{"many-quote-es", "es", monthOf(5, []int{1, 2, 1, 2, 1}, true)},
}

func TestGoldenMonthlyReview(t *testing.T) {
	t.Parallel()
	lib, err := templates.Default()
	if err != nil {
		t.Fatal(err)
	}
	r := testRenderer(lib)
	for _, tc := range monthCases {
		t.Run(tc.name, func(t *testing.T) {
			m := pick(t, lib, domain.MonthlyReview, tc.locale)
			d := Data{FirstName: "Sam", Week: 9, Month: tc.month}
			e, err := r.Email(m, d, testLinks)
			if err != nil {
				t.Fatal(err)
			}
			s, err := r.SMS(m, d, FooterOptOut)
			if err != nil {
				t.Fatal(err)
			}
			golden(t, "month-"+tc.name+".txt", "Subject: "+e.Subject+"\n\n"+e.Text)
			golden(t, "month-"+tc.name+".html", e.HTML)
			golden(t, "month-"+tc.name+".sms", s+"\n")

			if n, _ := GSM7Segments(s); n > MaxSMSSegments {
				t.Errorf("SMS takes %d segments", n)
			}
			for _, note := range []string{"my neighbour", "my sister", "Jo &", "Jo &amp;", "book club", "bus driver"} {
				if strings.Contains(s, note) {
					t.Errorf("the SMS quotes a note: %q", s)
				}
				if !tc.month.Quoting && (strings.Contains(e.Text, note) || strings.Contains(e.HTML, note)) {
					t.Errorf("a note (%q) is quoted without the opt-in", note)
				}
			}
			// The numbers come before the library's reflection.
			first := strings.Index(e.Text, monthLabelsFor(tc.locale).heading)
			// The reflection's first sentence long enough to find (a short
			// greeting such as "Hola, Sam:" comes before it).
			var reflection string
			for _, b := range m.Body {
				if out, _ := templates.Execute(b.Items[0], r.vars(d)); len(out) >= 20 {
					reflection = out[:20]
					break
				}
			}
			if first < 0 || reflection == "" || !strings.Contains(e.Text, reflection) || strings.Index(e.Text, reflection) < first {
				t.Errorf("the numbers do not come before the reflection")
			}
			if tc.month.NoAnswers() {
				if !strings.Contains(e.HTML, strings.ReplaceAll(monthLabelsFor(tc.locale).none, "'", "&#39;")) || strings.Contains(e.HTML, "<caption") {
					t.Errorf("a month without answers should say so, without a chart")
				}
				return
			}
			// Every week's score is in the chart as text.
			for _, w := range tc.month.Weeks {
				if w.Score > 0 && !strings.Contains(e.HTML, fmt.Sprintf(monthLabelsFor(tc.locale).outOf, w.Score)) {
					t.Errorf("score %d not written out in the chart", w.Score)
				}
			}
			if !strings.Contains(e.HTML, "<caption") || strings.Contains(e.HTML, "<img") {
				t.Errorf("the chart should be a captioned table without images")
			}
		})
	}
}

func TestMonthNumbersSayTheDirection(t *testing.T) {
	t.Parallel()
	up := monthNumbers(monthOf(4, []int{4, 5}, false), "en", func(s string) string { return s })
	if got := strings.Join(up.Lines, "\n"); !strings.Contains(got, "Your average: 4.5 out of 5, up from 3.0 the month before.") ||
		!strings.Contains(got, "You answered 2 of 4 check-ins.") || !strings.Contains(got, "Longest run: 2 weeks in a row.") ||
		!strings.Contains(got, "You replied to 1 of 4 gratitude prompts.") || !strings.Contains(got, "the week of 9 Nov (5 of 5)") {
		t.Fatalf("lines:\n%s", got)
	}
	down := monthNumbers(monthOf(4, []int{1, 2}, false), "es", func(s string) string { return s })
	if got := strings.Join(down.Lines, "\n"); !strings.Contains(got, "Tu promedio: 1,5 de 5, más bajo que el mes anterior (3,0).") {
		t.Fatalf("lines:\n%s", got)
	}
}

func TestMonthlyReviewWithoutNumbersIsTheLibraryMessage(t *testing.T) {
	t.Parallel()
	lib, err := templates.Default()
	if err != nil {
		t.Fatal(err)
	}
	r := testRenderer(lib)
	m := pick(t, lib, domain.MonthlyReview, "en")
	e, err := r.Email(m, Data{FirstName: "Sam"}, testLinks)
	if err != nil || strings.Contains(e.Text, "Your month in numbers") {
		t.Fatalf("a review without Month shows numbers: %v", err)
	}
}
