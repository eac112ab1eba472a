// Package signuplimit keeps the signup form and clinic enrolments from being
// used to flood an inbox or a phone: a budget per client IP (an IPv6 client
// counted by its /64, which one host is usually given whole), a budget per
// address, and a budget per number that every confirmation text counts
// against, whichever door asked for it. All are shared by every process
// through Redis.
package signuplimit

import (
	"context"
	"errors"
	"fmt"
	"net/netip"
	"strconv"
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
	// A number gets at most NumberPerDay confirmation texts in any 24
	// hours and NumberPerMonth in any 30 days, counting the form and every
	// clinic's enrolments together.
	NumberPerDay   = 3
	NumberPerMonth = 5
	numberDay      = 24 * time.Hour
	numberMonth    = 30 * 24 * time.Hour
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
	lim := ratelimit.New(l.rdb, l.prefix+"limit:ip:"+IPGroup(ip), float64(IPBurst)/IPPer.Seconds(), IPBurst, l.now)
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

// IPGroup is the budget key of a client address: an IPv4 address as it is,
// an IPv6 address by its /64 (an IPv4-mapped one as IPv4). Anything that is
// not an address is its own group.
func IPGroup(ip string) string {
	a, err := netip.ParseAddr(ip)
	if err != nil {
		return ip
	}
	a = a.Unmap()
	if a.Is4() {
		return a.String()
	}
	p, err := a.WithZone("").Prefix(64)
	if err != nil {
		return ip
	}
	return p.String()
}

// numberScript keeps a log of one number's confirmation texts (a sorted set
// of instants) and takes one more only while the last day and the last 30
// days are under their budgets. KEYS[1]: the log; ARGV: now (ms), day and
// month (ms), the two budgets, a unique member.
var numberScript = redis.NewScript(`
local now, day, month = tonumber(ARGV[1]), tonumber(ARGV[2]), tonumber(ARGV[3])
redis.call('ZREMRANGEBYSCORE', KEYS[1], '-inf', now - month)
if redis.call('ZCARD', KEYS[1]) >= tonumber(ARGV[5]) then return 0 end
if redis.call('ZCOUNT', KEYS[1], now - day, '+inf') >= tonumber(ARGV[4]) then return 0 end
redis.call('ZADD', KEYS[1], now, ARGV[6])
redis.call('PEXPIRE', KEYS[1], month)
return 1
`)

// AllowNumber takes one confirmation text from a number's budget and
// reports whether there was one. The key holds a hash, never the number.
func (l *Limits) AllowNumber(ctx context.Context, phone string) (bool, error) {
	now, err := l.clock(ctx)
	if err != nil {
		return false, err
	}
	ms := now.UnixMilli()
	member := strconv.FormatInt(now.UnixNano(), 36) + store.NewID()
	ok, err := numberScript.Run(ctx, l.rdb, []string{l.prefix + "limit:num:" + store.AddressHash(phone)},
		ms, numberDay.Milliseconds(), numberMonth.Milliseconds(), NumberPerDay, NumberPerMonth, member).Int()
	if err != nil {
		return false, fmt.Errorf("number budget: %w", err)
	}
	return ok == 1, nil
}

// clock is the injected clock, or Redis's own, which every process shares.
func (l *Limits) clock(ctx context.Context) (time.Time, error) {
	if l.now != nil {
		return l.now(), nil
	}
	t, err := l.rdb.Time(ctx).Result()
	if err != nil {
		return time.Time{}, fmt.Errorf("redis time: %w", err)
	}
	return t, nil
}
