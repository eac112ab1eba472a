// Package ratelimit keeps a whole fleet of workers under a provider's rate
// limit: one token bucket per channel, held in Redis, that every worker
// process takes its tokens from.
//
// The bucket is a hash (tokens, and the instant they were counted) updated
// by one Lua script, so that refilling by the time elapsed and taking a
// token are one atomic step, whichever process calls. It holds up to burst
// tokens and gains rate tokens a second; a key left unused expires a minute
// after the bucket would be full anyway. A bucket that is lost (expired,
// flushed, or not yet replicated when Redis failed over) starts full again:
// at worst one extra burst.
//
// # Clock
//
// By default the script reads Redis's own clock (TIME): one clock for every
// worker, so skew between machines cannot hand out extra tokens. New takes
// a clock function instead for tests, which can then step time without
// sleeping. A key's expiry is always in Redis's real time. After a failover
// to a replica whose clock is behind, the bucket refills only once that
// clock has caught up: a pause, never extra tokens.
package ratelimit

import (
	"context"
	"fmt"
	"math"
	"strconv"
	"time"

	"github.com/redis/go-redis/v9"
)

// reserveScript refills the bucket at KEYS[1] for the time elapsed and takes
// one token, or says how long until one is there.
//
// ARGV: rate (tokens a second), burst, now in microseconds ("" for Redis's
// TIME), expiry in milliseconds. Returns 0 when a token was taken, else the
// wait in microseconds.
//
// Numbers are written back with string.format: Redis turns a Lua number
// argument into a string with 14 significant digits, which would round a
// microsecond timestamp.
const reserveScript = `
-- Redis before 5 replicates scripts verbatim and refuses a write after
-- TIME unless told to replicate the effects; from 7 this is a no-op.
if redis.replicate_commands then redis.replicate_commands() end

local rate = tonumber(ARGV[1])
local burst = tonumber(ARGV[2])
local now
if ARGV[3] == "" then
  local t = redis.call("TIME")
  now = tonumber(t[1]) * 1000000 + tonumber(t[2])
else
  now = tonumber(ARGV[3])
end

local state = redis.call("HMGET", KEYS[1], "tokens", "at")
local tokens = tonumber(state[1])
local at = tonumber(state[2])
if tokens == nil or at == nil then
  tokens = burst
  at = now
end
if now > at then
  tokens = math.min(burst, tokens + (now - at) * rate / 1000000)
  at = now
end

local wait = 0
if tokens >= 1 then
  tokens = tokens - 1
else
  wait = math.ceil((1 - tokens) * 1000000 / rate)
end
redis.call("HSET", KEYS[1], "tokens", string.format("%.17g", tokens), "at", string.format("%.0f", at))
redis.call("PEXPIRE", KEYS[1], ARGV[4])
return wait
`

// expiryMargin is how long past "full again" an unused bucket is kept.
const expiryMargin = time.Minute

// Limiter is one shared token bucket. It is safe for concurrent use, and
// every Limiter on the same key, in any process, shares one budget.
type Limiter struct {
	rdb    redis.UniversalClient
	key    string
	rate   float64
	burst  int
	now    func() time.Time
	expiry time.Duration
	script *redis.Script
}

// New returns a limiter of ratePerSec tokens a second, holding up to burst
// tokens (at least 1), kept in Redis at key (the caller's prefix and the
// channel: "nudge:ratelimit:sms"). A ratePerSec of 0 or less means no limit:
// every Reserve succeeds without asking Redis. now is the clock; nil means
// Redis's own (see the package documentation).
//
// A burst of 1 sends most evenly; a larger burst lets a quiet fleet start
// faster but lets up to burst messages go at once.
func New(rdb redis.UniversalClient, key string, ratePerSec float64, burst int, now func() time.Time) *Limiter {
	burst = max(burst, 1)
	l := &Limiter{rdb: rdb, key: key, rate: ratePerSec, burst: burst, now: now, script: redis.NewScript(reserveScript)}
	if ratePerSec > 0 {
		// Once the bucket would be full again the hash holds nothing a
		// fresh one would not. The margin keeps a bucket on a stepped test
		// clock from vanishing during a pause in real time.
		l.expiry = time.Duration(float64(burst)/ratePerSec*float64(time.Second)) + expiryMargin
	}
	return l
}

// Reserve takes a token if one is there and returns 0: go now. Otherwise
// it takes nothing and returns how long until a token will be there; the
// caller tries again after that (another worker may take it first).
func (l *Limiter) Reserve(ctx context.Context) (wait time.Duration, err error) {
	if l.rate <= 0 {
		return 0, nil
	}
	now := ""
	if l.now != nil {
		now = strconv.FormatInt(l.now().UnixMicro(), 10)
	}
	us, err := l.script.Run(ctx, l.rdb, []string{l.key},
		strconv.FormatFloat(l.rate, 'g', -1, 64),
		l.burst,
		now,
		l.expiry.Milliseconds(),
	).Int64()
	if err != nil {
		return 0, fmt.Errorf("ratelimit %s: reserve: %w", l.key, err)
	}
	if us <= 0 {
		return 0, nil
	}
	if us > math.MaxInt64/int64(time.Microsecond) {
		return time.Duration(math.MaxInt64), nil
	}
	return time.Duration(us) * time.Microsecond, nil
}

// Wait blocks until it has taken a token, or ctx is done. Waiting is not a
// failure: the only errors are ctx's and Redis's.
func (l *Limiter) Wait(ctx context.Context) error {
	for {
		wait, err := l.Reserve(ctx)
		if err != nil {
			return err
		}
		if wait == 0 {
			return nil
		}
		t := time.NewTimer(wait)
		select {
		case <-ctx.Done():
			t.Stop()
			return fmt.Errorf("ratelimit %s: wait: %w", l.key, context.Cause(ctx))
		case <-t.C:
		}
	}
}
