package worker

import (
	"context"
	"fmt"
	"time"

	"github.com/nudgehq/nudge/internal/domain"
	"github.com/nudgehq/nudge/internal/render"
	"github.com/nudgehq/nudge/internal/review"
)

// addMonth gives a monthly review its numbers: the subscriber's month since
// their previous review, against the month before it. Other programs are
// left as they are.
func (h *Handler) addMonth(ctx context.Context, d *render.Data, id string, p domain.Program, now time.Time) error {
	if p != domain.MonthlyReview {
		return nil
	}
	month, err := h.monthOf(ctx, id, now)
	if err != nil {
		return err
	}
	d.Month = month
	return nil
}

// monthOf works out the month a review sent at now covers.
func (h *Handler) monthOf(ctx context.Context, id string, now time.Time) (*review.Summary, error) {
	reviews, err := h.d.Store.SentBetween(ctx, id, domain.MonthlyReview, time.Time{}, now)
	if err != nil {
		return nil, fmt.Errorf("month of %s: %w", id, err)
	}
	times := make([]time.Time, len(reviews))
	for i, r := range reviews {
		times[i] = r.At
	}
	prevFrom, from := review.Window(now, times)
	sent, err := h.d.Store.SentBetween(ctx, id, "", prevFrom, now)
	if err != nil {
		return nil, fmt.Errorf("month of %s: %w", id, err)
	}
	answers, err := h.d.Store.Answers(ctx, id, prevFrom, now)
	if err != nil {
		return nil, fmt.Errorf("month of %s: %w", id, err)
	}
	quote, err := h.d.Store.QuoteNotes(ctx, id)
	if err != nil {
		return nil, fmt.Errorf("month of %s: %w", id, err)
	}
	in := review.Input{PrevFrom: prevFrom, From: from, To: now, Quote: quote}
	for _, s := range sent {
		in.Sent = append(in.Sent, review.Sent{Occurrence: s.Occurrence, At: s.At})
	}
	for _, a := range answers {
		in.Answers = append(in.Answers, review.Answer{Occurrence: a.Occurrence, Score: a.Score, Note: a.Note})
	}
	s := review.Summarise(in)
	return &s, nil
}
