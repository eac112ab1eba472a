package store

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/nudgehq/nudge/internal/domain"
	"github.com/redis/go-redis/v9"
)

// Event keys:
//
//	event:<id>   string  one clinic webhook event, the JSON body exactly as it is posted (kept 7 days)
//
// An event is written once, when it happens, and read by every attempt to
// deliver it, so each attempt posts the same bytes under the same id. It is
// not indexed by client: it expires on its own after EventRetention, which
// outlasts every retry of its delivery, and one about a client erased since
// is deleted, unsent, by the attempt that finds the client gone.

// EventRetention is how long an event is kept for its delivery.
const EventRetention = 7 * 24 * time.Hour

func (s *Store) eventKey(id string) string { return s.prefix + "event:" + id }

// SaveEvent keeps an event's JSON body under its id for EventRetention. An
// id already stored is a conflict: an event never changes once written.
func (s *Store) SaveEvent(ctx context.Context, id string, body []byte) error {
	if id == "" {
		return fmt.Errorf("save event: no id")
	}
	ok, err := s.rdb.SetNX(ctx, s.eventKey(id), body, EventRetention).Result()
	if err != nil {
		return fmt.Errorf("save event %s: %w", id, err)
	}
	if !ok {
		return fmt.Errorf("save event: %w", domain.Errorf(domain.ErrConflict, "event %s exists", id))
	}
	return nil
}

// Event returns an event's JSON body, or ErrNotFound once it has expired (or
// was never stored).
func (s *Store) Event(ctx context.Context, id string) ([]byte, error) {
	b, err := s.rdb.Get(ctx, s.eventKey(id)).Bytes()
	if errors.Is(err, redis.Nil) {
		return nil, fmt.Errorf("load event %s: %w", id, ErrNotFound)
	}
	if err != nil {
		return nil, fmt.Errorf("load event %s: %w", id, err)
	}
	return b, nil
}

// DeleteEvent forgets an event (one about a client erased since).
func (s *Store) DeleteEvent(ctx context.Context, id string) error {
	if err := s.rdb.Del(ctx, s.eventKey(id)).Err(); err != nil {
		return fmt.Errorf("delete event %s: %w", id, err)
	}
	return nil
}
