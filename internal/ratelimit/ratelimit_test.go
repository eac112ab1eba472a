package ratelimit

import (
	"context"
	"errors"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/redis/go-redis/v9"

	"github.com/nudgehq/nudge/internal/redistest"
)

func TestMain(m *testing.M) {
	redistest.Main(m, redistest.DBRateLimit)
}

// clock is a test clock that only moves when stepped; safe for concurrent use.
type clock struct{ us atomic.Int64 }

func newClock() *clock {
	c := &clock{}
	c.us.Store(time.Date(2025, 6, 1, 9, 0, 0, 0, time.UTC).UnixMicro())
	return c
}

func (c *clock) now() time.Time       { return time.UnixMicro(c.us.Load()) }
func (c *clock) step(d time.Duration) { c.us.Add(d.Microseconds()) }

type testBundle struct {
	rdb   *redis.Client
	key   string
	clock *clock
}

func setup(t *testing.T) *testBundle {
	t.Helper()
	return &testBundle{
		rdb:   redistest.Client(t, redistest.DBRateLimit),
		key:   redistest.Prefix(t) + "ratelimit:sms",
		clock: newClock(),
	}
}

// reserve calls Reserve and fails the test on an error.
func reserve(t *testing.T, l *Limiter) time.Duration {
	t.Helper()
	wait, err := l.Reserve(context.Background())
	if err != nil {
		t.Fatalf("Reserve: %v", err)
	}
	return wait
}

func TestBurstThenRefusal(t *testing.T) {
	t.Parallel()
	b := setup(t)
	l := New(b.rdb, b.key, 4, 3, b.clock.now) // a token every 250 ms
	var got []time.Duration
	for range 5 {
		got = append(got, reserve(t, l))
	}
	want := []time.Duration{0, 0, 0, 250 * time.Millisecond, 250 * time.Millisecond}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("waits (-want +got):\n%s", diff)
	}
}

func TestRefillAfterSteppingTheClock(t *testing.T) {
	t.Parallel()
	b := setup(t)
	l := New(b.rdb, b.key, 2, 3, b.clock.now) // a token every 500 ms
	for range 3 {
		if w := reserve(t, l); w != 0 {
			t.Fatalf("burst refused: wait %s", w)
		}
	}
	steps := []struct {
		step time.Duration
		want time.Duration
	}{
		{0, 500 * time.Millisecond},
		{200 * time.Millisecond, 300 * time.Millisecond}, // 0.4 token
		{300 * time.Millisecond, 0},                      // 1 token: taken
		{0, 500 * time.Millisecond},
		{time.Hour, 0}, // full again: three, never more
		{0, 0},
		{0, 0},
		{0, 500 * time.Millisecond},
	}
	for i, s := range steps {
		b.clock.step(s.step)
		if w := reserve(t, l); w != s.want {
			t.Errorf("step %d (+%s): wait %s, want %s", i, s.step, w, s.want)
		}
	}
	// A clock that goes back adds nothing.
	b.clock.step(-time.Minute)
	if w := reserve(t, l); w == 0 {
		t.Error("a token appeared when the clock went back")
	}
}

func TestLimitersShareAKey(t *testing.T) {
	t.Parallel()
	b := setup(t)
	// Two workers' limiters on the same key (separate clients, as separate
	// processes would have).
	other := redistest.Client(t, redistest.DBRateLimit)
	l1 := New(b.rdb, b.key, 1, 4, b.clock.now)
	l2 := New(other, b.key, 1, 4, b.clock.now)
	granted := 0
	for range 5 {
		for _, l := range []*Limiter{l1, l2} {
			if reserve(t, l) == 0 {
				granted++
			}
		}
	}
	if granted != 4 {
		t.Errorf("two limiters on one key granted %d, want the burst of 4", granted)
	}
	b.clock.step(time.Second)
	if reserve(t, l2) != 0 || reserve(t, l1) == 0 {
		t.Error("after one second the two limiters did not share one new token")
	}
	// A different key is a different budget.
	l3 := New(b.rdb, b.key+":email", 1, 4, b.clock.now)
	if reserve(t, l3) != 0 {
		t.Error("another key's bucket was not full")
	}
}

func TestConcurrentReservesNeverOverGrant(t *testing.T) {
	t.Parallel()
	b := setup(t)
	const (
		rate    = 100.0
		burst   = 10
		callers = 1000
	)
	start := b.clock.now()
	// The latest instant any call passed to Redis bounds what it may grant.
	var latest atomic.Int64
	now := func() time.Time {
		t := b.clock.now()
		for {
			m := latest.Load()
			if t.UnixMicro() <= m || latest.CompareAndSwap(m, t.UnixMicro()) {
				return t
			}
		}
	}
	l := New(b.rdb, b.key, rate, burst, now)

	stop := make(chan struct{})
	var stepper sync.WaitGroup
	stepper.Go(func() {
		for {
			select {
			case <-stop:
				return
			default:
				b.clock.step(time.Millisecond)
				time.Sleep(100 * time.Microsecond)
			}
		}
	})

	// Every caller keeps asking until the stepped clock has passed the
	// horizon, so demand exceeds supply throughout.
	horizon := start.Add(300 * time.Millisecond)
	var granted, refused atomic.Int64
	var maxWait atomic.Int64
	var wg sync.WaitGroup
	errs := make(chan error, callers)
	for range callers {
		wg.Go(func() {
			for b.clock.now().Before(horizon) {
				wait, err := l.Reserve(context.Background())
				if err != nil {
					errs <- err
					return
				}
				if wait == 0 {
					granted.Add(1)
					continue
				}
				refused.Add(1)
				for {
					m := maxWait.Load()
					if int64(wait) <= m || maxWait.CompareAndSwap(m, int64(wait)) {
						break
					}
				}
			}
		})
	}
	wg.Wait()
	close(stop)
	stepper.Wait()
	close(errs)
	for err := range errs {
		t.Fatalf("Reserve: %v", err)
	}

	elapsed := float64(latest.Load()-start.UnixMicro()) / 1e6
	// A hair of tolerance for floating point at the boundary.
	limit := int64(rate*elapsed+1e-6) + burst
	t.Logf("%d granted, %d refused over %.3f s of stepped clock (bound %d)", granted.Load(), refused.Load(), elapsed, limit)
	if granted.Load() > limit {
		t.Errorf("granted %d, more than rate×elapsed+burst = %d", granted.Load(), limit)
	}
	if granted.Load() < burst {
		t.Errorf("granted %d, not even the burst", granted.Load())
	}
	// A refusal never asks for more than one token's time.
	if w := time.Duration(maxWait.Load()); w > time.Second/rate {
		t.Errorf("a refusal asked to wait %s, more than a token's %s", w, time.Second/rate)
	}
}

// Called at every step of the clock, the bucket grants exactly the burst
// and then rate×elapsed: never more, and not less.
func TestSequentialGrantsAreExact(t *testing.T) {
	t.Parallel()
	b := setup(t)
	l := New(b.rdb, b.key, 100, 10, b.clock.now)
	granted := 0
	for range 1000 {
		if reserve(t, l) == 0 {
			granted++
		}
		b.clock.step(time.Millisecond)
	}
	// 10 + 100/s × 0.999 s; floating point may hold back the last one.
	if granted < 108 || granted > 109 {
		t.Errorf("granted %d over 999 ms at 100/s with a burst of 10, want 109", granted)
	}
}

// With Redis's own clock, Wait paces callers at the rate.
func TestWaitPacesAtTheRate(t *testing.T) {
	t.Parallel()
	b := setup(t)
	l := New(b.rdb, b.key, 50, 1, nil) // a token every 20 ms
	start := time.Now()
	for range 6 {
		if err := l.Wait(context.Background()); err != nil {
			t.Fatalf("Wait: %v", err)
		}
	}
	// The first at once, five more 20 ms apart.
	if d := time.Since(start); d < 90*time.Millisecond || d > 2*time.Second {
		t.Errorf("6 tokens at 50/s with a burst of 1 took %s, want about 100ms", d)
	}
}

func TestRedisClockRefusal(t *testing.T) {
	t.Parallel()
	b := setup(t)
	l := New(b.rdb, b.key, 10, 2, nil)
	for range 2 {
		if w := reserve(t, l); w != 0 {
			t.Fatalf("burst refused: wait %s", w)
		}
	}
	if w := reserve(t, l); w <= 0 || w > 100*time.Millisecond {
		t.Errorf("wait %s, want up to 100ms", w)
	}
	ttl, err := b.rdb.PTTL(context.Background(), b.key).Result()
	if want := 200*time.Millisecond + expiryMargin; err != nil || ttl <= want-time.Second || ttl > want {
		t.Errorf("key expiry %s (%v), want about %s", ttl, err, want)
	}
}

func TestWaitStopsWithContext(t *testing.T) {
	t.Parallel()
	b := setup(t)
	l := New(b.rdb, b.key, 0.01, 1, nil) // a token every 100 s
	if err := l.Wait(context.Background()); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 50*time.Millisecond)
	defer cancel()
	start := time.Now()
	err := l.Wait(ctx)
	if !errors.Is(err, context.DeadlineExceeded) {
		t.Errorf("Wait: %v, want the context's deadline", err)
	}
	if d := time.Since(start); d > 5*time.Second {
		t.Errorf("Wait returned %s after its context ended", d)
	}
}

func TestNoLimit(t *testing.T) {
	t.Parallel()
	b := setup(t)
	l := New(b.rdb, b.key, 0, 0, b.clock.now)
	for range 100 {
		if w := reserve(t, l); w != 0 {
			t.Fatalf("rate 0 refused: wait %s", w)
		}
	}
	if n, err := b.rdb.Exists(context.Background(), b.key).Result(); err != nil || n != 0 {
		t.Errorf("rate 0 touched Redis: exists=%d err=%v", n, err)
	}
}

func TestRedisErrorIsReturned(t *testing.T) {
	t.Parallel()
	b := setup(t)
	// A key of the wrong type: the script's HMGET fails.
	if err := b.rdb.Set(context.Background(), b.key, "x", time.Minute).Err(); err != nil {
		t.Fatal(err)
	}
	l := New(b.rdb, b.key, 1, 1, b.clock.now)
	if _, err := l.Reserve(context.Background()); err == nil {
		t.Error("Reserve on a string key succeeded")
	}
	if err := l.Wait(context.Background()); err == nil {
		t.Error("Wait on a string key succeeded")
	}
}
