// Package signuplimit keeps the signup form from being used to flood an
// inbox or a phone: a budget per client IP and a budget per address (or
// number), both shared by every web process through Redis.
package signuplimit

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/nudgehq/nudge/internal/ratelimit"
	"github.com/nudgehq/nudge/internal/store"
	"github.com/redis/go-redis/v9"
)

// The budgets: a few signups from one IP in a short while, and a few
// confirmation messages to one address a day.
const (
	IPBurst      = 5
	IPPer        = 10 * time.Minute
	AddressBurst = 3
	AddressPer   = 24 * time.Hour
)

// Limits checks the budgets.
type Limits struct {
	rdb    redis.UniversalClient
	prefix string
	now    func() time.Time // nil: Redis's clock
}

// New returns Limits whose keys start with prefix. now is nil in
// production (every process shares Redis's clock); tests pass a clock.
func New(rdb redis.UniversalClient, prefix string, now func() time.Time) *Limits {
	return &Limits{rdb: rdb, prefix: prefix, now: now}
}

// AllowIP takes one signup from ip's budget, or says how long to wait.
func (l *Limits) AllowIP(ctx context.Context, ip string) (time.Duration, error) {
	lim := ratelimit.New(l.rdb, l.prefix+"limit:ip:"+ip, float64(IPBurst)/IPPer.Seconds(), IPBurst, l.now)
	wait, err := lim.Reserve(ctx)
	if err != nil {
		// The limiter's error names its key, which holds the IP: logs
		// carry no client addresses, so keep only what went wrong.
		if cause := errors.Unwrap(err); cause != nil {
			err = cause
		}
		return 0, fmt.Errorf("signup limit per IP: %w", err)
	}
	return wait, nil
}

// AllowAddress takes one confirmation from an address's (or number's)
// budget and reports whether there was one. The key holds a hash, never the
// address.
func (l *Limits) AllowAddress(ctx context.Context, addr string) (bool, error) {
	lim := ratelimit.New(l.rdb, l.prefix+"limit:addr:"+store.AddressHash(addr), float64(AddressBurst)/AddressPer.Seconds(), AddressBurst, l.now)
	wait, err := lim.Reserve(ctx)
	if err != nil {
		return false, fmt.Errorf("signup limit: %w", err)
	}
	return wait == 0, nil
}
