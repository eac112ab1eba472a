package worker_test

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/nudgehq/nudge/internal/domain"
	"github.com/nudgehq/nudge/internal/store"
	"github.com/nudgehq/nudge/internal/task"
)

func TestTheMonthlyReviewIsWrittenFromTheMonthsAnswers(t *testing.T) {
	due := time.Date(2026, 12, 28, 18, 0, 0, 0, time.UTC)
	b := setup(t, due.Add(time.Second))
	ctx := context.Background()
	res, err := b.st.Signup(ctx, domain.Subscriber{FirstName: "Mo", Email: "mo@example.org", TimeZone: "UTC", Locale: "en", CreatedAt: due.AddDate(0, -2, 0)},
		[]domain.Schedule{{Program: domain.WeeklyCheckin, Rule: "weekly:mon@18:00"}, {Program: domain.MonthlyReview, Rule: "monthly:28@18:00"}}, store.ConsentEvent{})
	if err != nil {
		t.Fatal(err)
	}
	id := res.ID
	if _, err := b.st.Activate(ctx, id, due.AddDate(0, -2, 0), map[domain.Program]time.Time{domain.WeeklyCheckin: due, domain.MonthlyReview: due}, store.ConsentEvent{}); err != nil {
		t.Fatal(err)
	}
	// The previous review went out on 28 November; four check-ins since,
	// three answered; one in the month before, scored 2.
	if err := b.st.MarkSent(ctx, id, "monthly-review:2026-11-28", time.Date(2026, 11, 28, 18, 0, 0, 0, time.UTC)); err != nil {
		t.Fatal(err)
	}
	for i, tc := range []struct {
		date  string
		score int
		note  string
	}{{"2026-11-23", 2, ""}, {"2026-11-30", 3, ""}, {"2026-12-07", 5, "dinner with Ana"}, {"2026-12-14", 0, ""}, {"2026-12-21", 4, ""}} {
		at, _ := time.Parse(time.DateOnly, tc.date)
		occ := "weekly-checkin:" + tc.date
		if err := b.st.MarkSent(ctx, id, occ, at.Add(18*time.Hour)); err != nil {
			t.Fatal(err)
		}
		if tc.score > 0 {
			if err := b.st.RecordAnswer(ctx, id, store.Answer{Occurrence: occ, Score: tc.score, Note: tc.note, AnsweredAt: at.Add(20 * time.Hour)}); err != nil {
				t.Fatalf("answer %d: %v", i, err)
			}
		}
	}
	deliver := func(date string, at time.Time) string {
		t.Helper()
		tk, err := task.NewDeliverNudge(task.DeliverNudge{SubscriberID: id, Program: domain.MonthlyReview, Date: date, At: at.Unix(), Version: 1}, 0)
		if err != nil {
			t.Fatal(err)
		}
		if err := b.h.DeliverNudge(ctx, tk); err != nil {
			t.Fatal(err)
		}
		msgs := b.sink.Messages()
		return msgs[len(msgs)-1].Text
	}
	text := deliver("2026-12-28", due)
	for _, want := range []string{"You answered 3 of 4 check-ins.", "Your average: 4.0 out of 5, up from 2.0 the month before.", "the week of 7 Dec (5 of 5)"} {
		if !strings.Contains(strings.Join(strings.Fields(text), " "), want) {
			t.Errorf("the review lacks %q:\n%s", want, text)
		}
	}
	if strings.Contains(text, "dinner with Ana") {
		t.Error("a note is quoted without the opt-in")
	}
	// With the opt-in, the next review (a month on, nothing new) quotes nothing
	// new but says there were no answers, kindly.
	if _, err := b.st.SetQuoteNotes(ctx, id, true, store.ConsentEvent{}); err != nil {
		t.Fatal(err)
	}
	b.now = due.AddDate(0, 1, 0).Add(time.Second)
	text = deliver("2027-01-28", due.AddDate(0, 1, 0))
	if n := len(b.sink.Messages()); n != 2 {
		t.Fatalf("%d reviews sent, want 2", n)
	}
	if !strings.Contains(text, "No answers this month") {
		t.Errorf("an empty month does not say so kindly:\n%s", text)
	}
}
