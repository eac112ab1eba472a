package main

import (
	"context"
	"errors"
	"fmt"
	"strconv"
	"sync"
	"testing"
	"time"

	"github.com/nudgehq/nudge/internal/domain"
	"github.com/nudgehq/nudge/internal/redistest"
	"github.com/nudgehq/nudge/internal/smtptest"
	"github.com/nudgehq/nudge/internal/store"
	"github.com/redis/go-redis/v9"
)

// acked is a signup whose writes (subscriber, schedule, two consent
// entries) Redis acknowledged at a known time.
type acked struct {
	id string
	at time.Time
}

// aofWindow is how long before a kill an acknowledged write may be lost
// with appendfsync everysec (see the test).
const aofWindow = time.Second

// signupLoop signs up and confirms subscribers one after another until ctx
// is done, and returns those Redis acknowledged. Errors (Redis is down for
// a while) are counted, not fatal.
func signupLoop(ctx context.Context, st *store.Store) func() ([]acked, int) {
	var (
		wg     sync.WaitGroup
		done   []acked
		failed int
	)
	wg.Go(func() {
		for i := 0; ctx.Err() == nil; i++ {
			now := time.Now()
			ev := store.ConsentEvent{At: now, Action: "signup", Channel: "email", Source: "form"}
			res, err := st.Signup(ctx, domain.Subscriber{FirstName: "A" + strconv.Itoa(i), Email: fmt.Sprintf("aof%d@example.org", i), TimeZone: "UTC", Locale: "en"},
				[]domain.Schedule{{Program: domain.Gratitude, Rule: "weekly:sun@10:00"}}, ev)
			if err == nil {
				ev.Action = "confirm"
				_, err = st.Activate(ctx, res.ID, now, map[domain.Program]time.Time{domain.Gratitude: now.Add(7 * 24 * time.Hour)}, ev)
			}
			if err != nil {
				failed++
				time.Sleep(20 * time.Millisecond)
				continue
			}
			done = append(done, acked{id: res.ID, at: time.Now()})
		}
	})
	return func() ([]acked, int) {
		wg.Wait()
		return done, failed
	}
}

func TestRedisKilledAndRestartedFromAOFLosesNothingAcknowledged(t *testing.T) {
	bin := buildNudge(t)
	srv := redistest.StartServer(t, "--appendonly", "yes", "--appendfsync", "everysec")
	rdb := redis.NewClient(&redis.Options{Addr: srv.Addr})
	t.Cleanup(func() { rdb.Close() })
	st := store.New(rdb, "nudge:")
	ctx := context.Background()

	due := time.Now().UTC().Truncate(time.Minute)
	ids := seedDue(t, st, crashBatch, due)
	sink := smtptest.StartWith(t, smtptest.Options{Delay: 5 * time.Millisecond})
	env := []string{
		"NUDGE_REDIS_URL=redis://" + srv.Addr + "/0", "NUDGE_REDIS_PREFIX=nudge:",
		"NUDGE_SMTP_HOST=" + sink.Host(), "NUDGE_SMTP_PORT=" + strconv.Itoa(sink.Port()), "NUDGE_SMTP_TLS=none",
		"NUDGE_SMTP_POOL=4", "NUDGE_WORKER_CONCURRENCY=" + strconv.Itoa(crashConcurrency),
		"NUDGE_HTTP_ADDR=127.0.0.1:0", "NUDGE_BASE_URL=https://nudge.test",
		"NUDGE_SECRET=an-aof-test-secret-of-enough-length!!", "NUDGE_PLANNER_INTERVAL=1s", "NUDGE_PLANNER_HORIZON=2s",
		"NUDGE_EMAIL_FROM=nudge <hello@nudge.test>", "NUDGE_POSTAL_ADDRESS=1 Test Street", "NUDGE_LOG_LEVEL=warn",
	}
	// Signups are written from before the processes start until after
	// the restart.
	writeCtx, stopWriting := context.WithCancel(ctx)
	defer stopWriting()
	writingSince := time.Now()
	signups := signupLoop(writeCtx, st)
	worker := startNudge(t, bin, "worker", env)
	startNudge(t, bin, "scheduler", env)

	// Kill Redis a quarter of the way through the sends (or later), while signups
	// are being written, and start it again from its files.
	// Signups must have run for more than the window below by then, or
	// none would be old enough to check.
	waitMessages(t, sink, worker, crashBatch/4)
	time.Sleep(time.Until(writingSince.Add(3 * time.Second)))
	srv.Kill()
	killedAt := time.Now()
	time.Sleep(time.Second)
	srv.Restart(t)
	time.Sleep(time.Second) // signups go on against the restarted Redis
	stopWriting()
	written, failed := signups()

	// Every signup acknowledged more than aofWindow before the kill is
	// there, whole; those of the last second are counted. With appendfsync
	// everysec Redis writes the AOF before it answers, and a SIGKILL leaves
	// what was written in the kernel's cache, so a kill loses nothing
	// answered unless a slow background fsync made Redis hold writes back
	// (for up to two seconds; INFO persistence counts aof_delayed_fsync).
	// The promise checked is the one the README makes: nothing
	// acknowledged more than a second before the kill is lost.
	var checked, lastSecond, lostLastSecond int
	for _, a := range written {
		if !a.at.Before(killedAt) {
			continue
		}
		complete, err := signupComplete(ctx, st, a.id)
		if err != nil {
			t.Fatalf("signup %s cannot be read back: %v", a.id, err)
		}
		if a.at.After(killedAt.Add(-aofWindow)) {
			lastSecond++
			if !complete {
				lostLastSecond++
			}
			continue
		}
		checked++
		if !complete {
			sub, err1 := st.Subscriber(ctx, a.id)
			_, err2 := st.Schedule(ctx, a.id, domain.Gratitude)
			evs, err3 := st.Consent(ctx, a.id)
			t.Errorf("signup %s acknowledged %s before the kill is lost or incomplete: subscriber %+v (%v), schedule err %v, consent %d (%v)", a.id, killedAt.Sub(a.at), sub, err1, err2, len(evs), err3)
		}
	}
	if checked == 0 {
		t.Fatalf("no signup was acknowledged more than %s before the kill (%d acknowledged, %d within it, %d failed): the test checked nothing", aofWindow, len(written), lastSecond, failed)
	}

	states := waitAllRecorded(t, st, ids, due.Format(time.DateOnly), 3*time.Minute)
	received := checkAtMostOnce(t, sink)
	t.Logf("%d signups checked whole, %d in the last second before the kill (%d of them lost), %d failed while Redis was down; records %v, %d received",
		checked, lastSecond, lostLastSecond, failed, states, received)
	if states[store.Sent]+states[store.Unknown] != crashBatch {
		t.Errorf("records %v: every occurrence must end sent or unknown", states)
	}
	if states[store.Unknown] > crashConcurrency {
		t.Errorf("%d unknown, more than the worker's concurrency %d", states[store.Unknown], crashConcurrency)
	}
	if received < states[store.Sent] || received > crashBatch {
		t.Errorf("%d received for %d recorded sent of %d", received, states[store.Sent], crashBatch)
	}
}

// signupComplete reports whether a confirmed signup's subscriber, schedule
// and both consent entries are all stored.
func signupComplete(ctx context.Context, st *store.Store, id string) (bool, error) {
	// A read that fails (a connection the restart broke, Redis still
	// loading its files) says nothing of the data: read again for a while.
	deadline := time.Now().Add(5 * time.Second)
	for {
		complete, err := signupState(ctx, st, id)
		if err == nil || time.Now().After(deadline) {
			return complete, err
		}
		time.Sleep(100 * time.Millisecond)
	}
}

// signupState reports whether signup id is stored whole: confirmed, with
// its schedule and both consent entries. A missing part is incomplete, not
// an error.
func signupState(ctx context.Context, st *store.Store, id string) (bool, error) {
	sub, err := st.Subscriber(ctx, id)
	if errors.Is(err, store.ErrNotFound) {
		return false, nil
	}
	if err != nil || !sub.EmailConfirmed {
		return false, err
	}
	if _, err := st.Schedule(ctx, id, domain.Gratitude); errors.Is(err, store.ErrNotFound) {
		return false, nil
	} else if err != nil {
		return false, err
	}
	evs, err := st.Consent(ctx, id)
	return err == nil && len(evs) >= 2, err
}
