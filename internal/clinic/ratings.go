package clinic

import (
	"context"
	"time"

	"github.com/nudgehq/nudge/internal/store"
)

// Ratings lists the scores a client gave, oldest first, each with the
// occurrence it answers (a prompt's answer stays with that prompt's
// occurrence) and when it was sent and answered. from and to bound the
// occurrence's time (zero: open); from must not be after to.
func (s *Service) Ratings(ctx context.Context, cid, id string, from, to time.Time) ([]store.Answer, error) {
	if !from.IsZero() && !to.IsZero() && from.After(to) {
		return nil, fieldErr("from", "must not be after to")
	}
	if _, err := s.c.Store.Client(ctx, cid, id); err != nil {
		return nil, err
	}
	all, err := s.c.Store.Answers(ctx, id, from, to)
	if err != nil {
		return nil, err
	}
	out := make([]store.Answer, 0, len(all))
	for _, a := range all {
		if a.Score > 0 {
			out = append(out, a)
		}
	}
	return out, nil
}
