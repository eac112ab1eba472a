package worker

import (
	"context"
	"io"
	"log/slog"
	"testing"
	"time"

	"github.com/nudgehq/nudge/internal/domain"
	"github.com/nudgehq/nudge/internal/redistest"
	"github.com/nudgehq/nudge/internal/render"
	"github.com/nudgehq/nudge/internal/store"
	"github.com/nudgehq/nudge/templates"
)

// BenchmarkMonthlyReviewFrom400Days renders a monthly review for a
// subscriber with 400 days of history (a weekly check-in and a gratitude
// prompt every week, both answered with notes, a review every month, note
// quoting on): the reads from Redis, the month's numbers, and the email and
// the text. BENCHMARKS.md ("Monthly review") holds the figures.
//
//	go test -run '^$' -bench MonthlyReview -benchmem ./worker/
func BenchmarkMonthlyReviewFrom400Days(b *testing.B) {
	ctx := context.Background()
	st := store.New(redistest.Client(b, redistest.DBWorker), redistest.Prefix(b))
	lib, err := templates.Default()
	if err != nil {
		b.Fatal(err)
	}
	h := New(Deps{Store: st, Library: lib, Logger: slog.New(slog.NewTextHandler(io.Discard, nil)),
		Renderer: render.New(lib, render.Options{ServiceName: "nudge", PostalAddress: "1 Test Street", CrisisLine: render.DefaultCrisisLines()})})
	now := time.Date(2026, 12, 28, 18, 0, 0, 0, time.UTC)
	start := now.AddDate(0, 0, -400)
	res, err := st.Signup(ctx, domain.Subscriber{FirstName: "Mo", Email: "bench-month@example.org", TimeZone: "UTC", Locale: "en", CreatedAt: start},
		[]domain.Schedule{{Program: domain.MonthlyReview, Rule: "monthly:28@18:00"}}, store.ConsentEvent{})
	if err != nil {
		b.Fatal(err)
	}
	id := res.ID
	if _, err := st.SetQuoteNotes(ctx, id, true, store.ConsentEvent{}); err != nil {
		b.Fatal(err)
	}
	answers := 0
	for d := start; d.Before(now); d = d.AddDate(0, 0, 7) {
		for _, o := range []struct {
			prog domain.Program
			at   time.Time
		}{{domain.WeeklyCheckin, d}, {domain.Gratitude, d.AddDate(0, 0, 3)}} {
			occ := string(o.prog) + ":" + o.at.Format(time.DateOnly)
			if err := st.MarkSent(ctx, id, occ, o.at); err != nil {
				b.Fatal(err)
			}
			a := store.Answer{Occurrence: occ, Note: "a line about the week, long enough to be a real note", AnsweredAt: now.Add(-time.Hour)}
			if o.prog == domain.WeeklyCheckin {
				a.Score = 1 + answers%5
			}
			if err := st.RecordAnswer(ctx, id, a); err != nil {
				b.Fatal(err)
			}
			answers++
		}
	}
	for m := start.AddDate(0, 1, 0); m.Before(now); m = m.AddDate(0, 1, 0) {
		if err := st.MarkSent(ctx, id, "monthly-review:"+m.Format(time.DateOnly), m); err != nil {
			b.Fatal(err)
		}
	}
	msg, err := lib.Pick(domain.MonthlyReview, "en", 3)
	if err != nil {
		b.Fatal(err)
	}
	links := render.Links{Manage: "https://nudge.test/manage/x", Unsubscribe: "https://nudge.test/unsubscribe/x"}
	b.ReportAllocs()
	b.ResetTimer()
	for b.Loop() {
		d := render.Data{FirstName: "Mo", Locale: "en"}
		if err := h.addMonth(ctx, &d, id, domain.MonthlyReview, now); err != nil {
			b.Fatal(err)
		}
		if d.Month.Sent == 0 {
			b.Fatal("the month has no check-ins")
		}
		if _, err := h.d.Renderer.Email(msg, d, links); err != nil {
			b.Fatal(err)
		}
		if _, err := h.d.Renderer.SMS(msg, d, render.FooterOptOut); err != nil {
			b.Fatal(err)
		}
	}
	b.ReportMetric(float64(answers), "answers")
}
