package subscription_test

import (
	"context"
	"errors"
	"io"
	"log/slog"
	"testing"
	"time"

	"github.com/hibiken/asynq"
	"github.com/nudgehq/nudge/internal/domain"
	"github.com/nudgehq/nudge/internal/redistest"
	"github.com/nudgehq/nudge/internal/store"
	"github.com/nudgehq/nudge/internal/subscription"
)

func TestUnconfirmedSignupsAreRemindedOnceThenForgotten(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	rdb := redistest.Client(t, redistest.DBClinic)
	st := store.New(rdb, redistest.Prefix(t))
	t0 := time.Date(2026, 12, 1, 12, 0, 0, 0, time.UTC)
	now := t0
	clock := func() time.Time { return now }
	logger := slog.New(slog.NewTextHandler(io.Discard, nil))
	insp := asynq.NewInspectorFromRedisClient(rdb)
	queue := "critical-" + st.Prefix()
	enq := queueOverride{asynq.NewClientFromRedisClient(rdb), queue}
	mgr := subscription.NewManager(subscription.ManagerConfig{Store: st, Tasks: insp, Queues: []string{queue}, Now: clock, Logger: logger})
	exp := subscription.NewExpirer(st, enq, mgr, clock, logger)

	signup := func(addr string) string {
		res, err := st.Signup(ctx, domain.Subscriber{FirstName: "Kim", Email: addr, TimeZone: "UTC", Locale: "en", CreatedAt: t0},
			[]domain.Schedule{{Program: domain.WeeklyCheckin, Rule: "weekly:mon@10:00"}}, store.ConsentEvent{})
		if err != nil {
			t.Fatal(err)
		}
		return res.ID
	}
	waiting := signup("kim@example.org")
	confirmed := signup("lee@example.org")
	if _, err := st.Activate(ctx, confirmed, t0, nil, store.ConsentEvent{}); err != nil {
		t.Fatal(err)
	}
	reminders := func() int {
		tasks, err := insp.ListPendingTasks(queue)
		if err != nil {
			return 0 // the queue does not exist until the first task
		}
		return len(tasks)
	}

	now = t0.Add(subscription.RemindAfter - time.Minute)
	if err := exp.Pass(ctx); err != nil {
		t.Fatal(err)
	}
	if n := reminders(); n != 0 {
		t.Fatalf("%d reminders before 48 hours", n)
	}
	now = t0.Add(subscription.RemindAfter + time.Minute)
	for range 3 {
		if err := exp.Pass(ctx); err != nil {
			t.Fatal(err)
		}
	}
	if n := reminders(); n != 1 {
		t.Fatalf("%d reminders after 48 hours, want exactly 1 (and none to the confirmed one)", n)
	}
	now = t0.Add(subscription.ExpireAfter + time.Minute)
	if err := exp.Pass(ctx); err != nil {
		t.Fatal(err)
	}
	if _, err := st.Subscriber(ctx, waiting); !errors.Is(err, store.ErrNotFound) {
		t.Fatalf("an unconfirmed signup is still on file after a week: %v", err)
	}
	if n := reminders(); n != 0 {
		t.Fatalf("the erased signup's reminder is still queued (%d)", n)
	}
	if sub, err := st.Subscriber(ctx, confirmed); err != nil || sub.Status != domain.Active {
		t.Fatalf("the confirmed subscriber was touched: %+v, %v", sub, err)
	}
	if left, _ := st.PendingSince(ctx, now, 10); len(left) != 0 {
		t.Fatalf("pending list still holds %v", left)
	}
}

// queueOverride sends every task to one queue, so parallel tests do not
// share asynq's queues.
type queueOverride struct {
	c     *asynq.Client
	queue string
}

func (q queueOverride) EnqueueContext(ctx context.Context, t *asynq.Task, opts ...asynq.Option) (*asynq.TaskInfo, error) {
	return q.c.EnqueueContext(ctx, t, append(opts, asynq.Queue(q.queue))...)
}

// confirmingEraser confirms the signup it is asked to erase just before the
// erasure runs: a person tapping the link a week late, at the moment the
// expirer picked their signup from the pending index.
type confirmingEraser struct {
	st  *store.Store
	mgr *subscription.Manager
	at  time.Time
}

func (c confirmingEraser) EraseUnconfirmed(ctx context.Context, id string, cutoff time.Time) (subscription.Erasure, error) {
	if _, err := c.st.Activate(ctx, id, c.at, nil, store.ConsentEvent{At: c.at, Action: "confirm"}); err != nil {
		return subscription.Erasure{}, err
	}
	return c.mgr.EraseUnconfirmed(ctx, id, cutoff)
}

func TestASignupConfirmedAsTheExpirerPicksItIsKept(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	rdb := redistest.Client(t, redistest.DBClinic)
	st := store.New(rdb, redistest.Prefix(t))
	t0 := time.Date(2026, 12, 1, 12, 0, 0, 0, time.UTC)
	now := t0.Add(subscription.ExpireAfter + time.Hour)
	clock := func() time.Time { return now }
	logger := slog.New(slog.NewTextHandler(io.Discard, nil))
	queue := "critical-" + st.Prefix()
	enq := queueOverride{asynq.NewClientFromRedisClient(rdb), queue}
	mgr := subscription.NewManager(subscription.ManagerConfig{Store: st, Tasks: asynq.NewInspectorFromRedisClient(rdb), Queues: []string{queue}, Now: clock, Logger: logger})

	// Made without a time, as a caller may: the signup is as old as its
	// consent entry, not a week past expiry at once.
	fresh, err := st.Signup(ctx, domain.Subscriber{FirstName: "Ana", Email: "ana@example.org", TimeZone: "UTC", Locale: "en"},
		[]domain.Schedule{{Program: domain.WeeklyCheckin, Rule: "weekly:mon@10:00"}}, store.ConsentEvent{At: now.Add(-time.Minute), Action: "signup"})
	if err != nil {
		t.Fatal(err)
	}
	late, err := st.Signup(ctx, domain.Subscriber{FirstName: "Kim", Email: "kim@example.org", TimeZone: "UTC", Locale: "en", CreatedAt: t0},
		[]domain.Schedule{{Program: domain.WeeklyCheckin, Rule: "weekly:mon@10:00"}}, store.ConsentEvent{At: t0, Action: "signup"})
	if err != nil {
		t.Fatal(err)
	}
	// Only the old signup is in the pass: the eraser confirms it at the
	// last moment.
	exp := subscription.NewExpirer(st, enq, confirmingEraser{st: st, mgr: mgr, at: now}, clock, logger)
	if err := exp.Pass(ctx); err != nil {
		t.Fatal(err)
	}
	if sub, err := st.Subscriber(ctx, late.ID); err != nil || sub.Status != domain.Active {
		t.Fatalf("a signup confirmed as the expirer picked it was erased or changed: %+v, %v", sub, err)
	}
	if sub, err := st.Subscriber(ctx, fresh.ID); err != nil || sub.Status != domain.Pending {
		t.Fatalf("a minute-old signup made without a time was touched: %+v, %v", sub, err)
	}

	// The erasure itself leaves a young or confirmed record alone and
	// takes an old unconfirmed one.
	if res, err := st.EraseUnconfirmed(ctx, fresh.ID, now.Add(-subscription.ExpireAfter)); err != nil || res.Found {
		t.Fatalf("a young signup was erased: %+v, %v", res, err)
	}
	if res, err := st.EraseUnconfirmed(ctx, late.ID, now); err != nil || res.Found {
		t.Fatalf("a confirmed subscriber was erased: %+v, %v", res, err)
	}
	if res, err := st.EraseUnconfirmed(ctx, fresh.ID, now); err != nil || !res.Found {
		t.Fatalf("an unconfirmed signup before the cutoff was kept: %+v, %v", res, err)
	}
	if _, err := st.Subscriber(ctx, fresh.ID); !errors.Is(err, store.ErrNotFound) {
		t.Fatalf("the erased signup is still on file: %v", err)
	}
}
