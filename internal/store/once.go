package store

import (
	"context"
	"fmt"
	"time"
)

// UseOnce records the use of a single-use link named by nonce and reports
// whether this is its first use. The mark outlives the link (ttl), so a
// link can never be used twice.
func (s *Store) UseOnce(ctx context.Context, nonce string, ttl time.Duration) (bool, error) {
	first, err := s.rdb.SetNX(ctx, s.prefix+"once:"+nonce, 1, ttl).Result()
	if err != nil {
		return false, fmt.Errorf("use link once: %w", err)
	}
	return first, nil
}
