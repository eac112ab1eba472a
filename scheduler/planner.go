package scheduler

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"sync"
	"time"

	"github.com/hibiken/asynq"
	"github.com/nudgehq/nudge/internal/domain"
	"github.com/nudgehq/nudge/internal/store"
	"github.com/nudgehq/nudge/internal/task"
)

// Enqueuer is the part of asynq.Client the planner uses.
type Enqueuer interface {
	EnqueueContext(ctx context.Context, t *asynq.Task, opts ...asynq.Option) (*asynq.TaskInfo, error)
}

// PlannerConfig sets up a Planner.
type PlannerConfig struct {
	Store    *store.Store
	Enqueuer Enqueuer
	Now      func() time.Time
	Logger   *slog.Logger
	// Interval is how often the planner looks at the due index.
	Interval time.Duration
	// Horizon is how far ahead it queues: an occurrence due within it is
	// enqueued now with ProcessIn, so it goes out on the second.
	Horizon time.Duration
	// Grace is how late an occurrence may still be sent after downtime.
	Grace time.Duration
	// Owner names this planner in shard leases; unique per process.
	Owner string
	// Batch is how many due entries one Redis round trip reads; Workers is
	// how many enqueue at once.
	Batch, Workers int
	// Queue overrides the queue nudges go to (tests use their own).
	Queue string
}

// Planner moves due schedules into asynq, one task per occurrence. Any number
// of planners may run against one Redis: each occurrence has a deterministic
// task id, and moving an entry to its next instant is a compare-and-set, so a
// second planner's work is a harmless no-op.
type Planner struct {
	c PlannerConfig
}

// NewPlanner returns a Planner with defaults filled in.
func NewPlanner(c PlannerConfig) *Planner {
	if c.Interval <= 0 {
		c.Interval = 5 * time.Second
	}
	if c.Horizon <= 0 {
		c.Horizon = time.Minute
	}
	if c.Grace <= 0 {
		c.Grace = 6 * time.Hour
	}
	if c.Batch <= 0 {
		c.Batch = 500
	}
	if c.Workers <= 0 {
		c.Workers = 8
	}
	if c.Owner == "" {
		c.Owner = store.NewID()
	}
	return &Planner{c: c}
}

// Run plans until ctx is cancelled. A failed pass is logged and tried again
// at the next interval.
func (p *Planner) Run(ctx context.Context) error {
	t := time.NewTicker(p.c.Interval)
	defer t.Stop()
	for {
		if _, err := p.Tick(ctx); err != nil && ctx.Err() == nil {
			p.c.Logger.Error("planner pass failed", "err", err)
		}
		select {
		case <-ctx.Done():
			return nil
		case <-t.C:
		}
	}
}

// Tick makes one pass over every shard it can lease and returns how many
// occurrences it enqueued (conflicts with another planner's tasks count as
// enqueued by that planner, not this one).
func (p *Planner) Tick(ctx context.Context) (int, error) {
	var total int
	var errs []error
	for shard := range store.Shards {
		n, err := p.planShard(ctx, shard)
		total += n
		if err != nil {
			errs = append(errs, err)
		}
		if ctx.Err() != nil {
			break
		}
	}
	return total, errors.Join(errs...)
}

func (p *Planner) planShard(ctx context.Context, shard int) (int, error) {
	ok, err := p.c.Store.Lease(ctx, shard, p.c.Owner, 30*time.Second)
	if err != nil || !ok {
		return 0, err
	}
	defer func() {
		// A fresh context: the lease is given back even while stopping.
		rctx, cancel := context.WithTimeout(context.Background(), time.Second)
		defer cancel()
		if err := p.c.Store.Release(rctx, shard, p.c.Owner); err != nil {
			p.c.Logger.Warn("release shard lease", "shard", shard, "err", err)
		}
	}()
	var total int
	for {
		now := p.c.Now()
		batch, err := p.c.Store.DueBatch(ctx, shard, now.Add(p.c.Horizon), p.c.Batch)
		if err != nil {
			return total, err
		}
		n, err := p.planBatch(ctx, now, batch)
		total += n
		if err != nil {
			return total, err
		}
		if len(batch) < p.c.Batch || ctx.Err() != nil {
			return total, nil
		}
	}
}

// planBatch plans entries on up to Workers goroutines and waits for all.
func (p *Planner) planBatch(ctx context.Context, now time.Time, batch []store.DueEntry) (int, error) {
	var (
		mu    sync.Mutex
		total int
		errs  []error
		wg    sync.WaitGroup
	)
	entries := make(chan store.DueEntry)
	for range min(p.c.Workers, len(batch)) {
		wg.Go(func() {
			for e := range entries {
				enq, err := p.planEntry(ctx, now, e)
				mu.Lock()
				if enq {
					total++
				}
				if err != nil {
					errs = append(errs, err)
				}
				mu.Unlock()
			}
		})
	}
	for _, e := range batch {
		if ctx.Err() != nil {
			break
		}
		entries <- e
	}
	close(entries)
	wg.Wait()
	return total, errors.Join(errs...)
}

// planEntry enqueues one due entry's occurrence (or records it as too late)
// and moves the entry to the occurrence after.
func (p *Planner) planEntry(ctx context.Context, now time.Time, e store.DueEntry) (bool, error) {
	log := p.c.Logger.With("subscriber_id", e.SubscriberID, "program", e.Program)
	if e.Status != domain.Active {
		_, err := p.c.Store.Unplan(ctx, e)
		return false, err
	}
	rule, err := ParseRule(e.Rule)
	if err != nil {
		log.Error("unplanned: rule unreadable", "err", err)
		_, err = p.c.Store.Unplan(ctx, e)
		return false, err
	}
	loc, err := LoadZone(e.TimeZone)
	if err != nil {
		log.Error("unplanned: zone unknown", "err", err)
		_, err = p.c.Store.Unplan(ctx, e)
		return false, err
	}
	occ := rule.Next(e.At.Add(-time.Second), loc)
	if !occ.At.Equal(e.At) {
		// The entry was planned by an earlier rule; name it by its own date.
		occ = Occurrence{At: e.At, Date: e.At.In(loc).Format(time.DateOnly)}
	}

	if late := now.Sub(e.At); late > p.c.Grace {
		key := store.DeliveryKey{SubscriberID: e.SubscriberID, Program: e.Program, Date: occ.Date, Channel: domain.Email}
		if err := p.c.Store.SkipDelivery(ctx, key, fmt.Sprintf("too late (%s after its time)", late.Round(time.Minute)), now); err != nil {
			return false, err
		}
		log.Info("occurrence skipped", "date", occ.Date, "reason", "too late")
		// Plan from now, not from the missed instant: one skip record, not a
		// catch-up burst.
		_, err := p.c.Store.Advance(ctx, e, rule.Next(now, loc).At)
		return false, err
	}

	payload := task.DeliverNudge{
		SubscriberID: e.SubscriberID, Program: e.Program, Date: occ.Date,
		At: e.At.Unix(), Version: e.Version, Step: e.Step,
	}
	t, err := task.NewDeliverNudge(payload, e.At.Sub(now))
	if err != nil {
		return false, err
	}
	var opts []asynq.Option
	if p.c.Queue != "" {
		opts = append(opts, asynq.Queue(p.c.Queue))
	}
	enqueued := true
	if _, err := p.c.Enqueuer.EnqueueContext(ctx, t, opts...); errors.Is(err, asynq.ErrTaskIDConflict) {
		enqueued = false // another planner, or an earlier pass of ours, queued it
	} else if err != nil {
		return false, fmt.Errorf("enqueue %s: %w", payload.ID(), err)
	}
	if _, err := p.c.Store.Advance(ctx, e, rule.Next(e.At, loc).At); err != nil {
		return enqueued, err
	}
	return enqueued, nil
}
