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
