package scheduler

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"sync"
	"sync/atomic"
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
	// Batch is how many due entries are read (in one round trip) and moved
	// on (in one more) together; Workers is how many enqueue at once.
	Batch, Workers int
	// Lanes is how many shards one pass works side by side, so that one
	// shard's reads and moves overlap another's enqueues. The Workers are
	// shared between the lanes.
	Lanes int
	// Queue overrides the queue nudges go to (tests use their own).
	Queue string
	// Metrics, when set, gets each pass's duration and the backlog left
	// after it.
	Metrics PlannerMetrics
}

// PlannerMetrics counts the planner's work (metrics.Metrics satisfies it).
type PlannerMetrics interface {
	PlannerTick(d time.Duration)
	PlannerBacklog(n int64)
}

// Planner moves due schedules into asynq, one task per occurrence. Any number
// of planners may run against one Redis: each occurrence has a deterministic
// task id, and moving an entry to its next instant is a compare-and-set, so a
// second planner's work is a harmless no-op.
//
// A batch of due entries is read in one round trip, its occurrences are
// enqueued (one asynq call each, Workers at a time), and then every entry
// whose occurrence is safely queued is moved on in one more round trip. An
// entry is never moved before its task is in asynq: if an enqueue fails, or
// its reply is lost, the entry stays due and the next pass enqueues it again,
// which asynq answers with ErrTaskIDConflict when the first attempt had
// landed after all. So a lost reply costs a repeat call, never a lost or a
// second message.
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
	if c.Lanes <= 0 {
		c.Lanes = 4
	}
	if c.Owner == "" {
		c.Owner = store.NewID()
	}
	if c.Now == nil {
		c.Now = time.Now
	}
	if c.Logger == nil {
		c.Logger = slog.New(slog.DiscardHandler)
	}
	return &Planner{c: c}
}

// leaseTTL is how long a shard lease lasts unless renewed; the planner renews
// it after every batch.
const leaseTTL = 30 * time.Second

// Run plans until ctx is cancelled. A failed pass is logged and tried again
// at the next interval.
func (p *Planner) Run(ctx context.Context) error {
	t := time.NewTicker(p.c.Interval)
	defer t.Stop()
	for {
		start := time.Now() // a pass's duration is real time, whatever Now says
		if _, err := p.Tick(ctx); err != nil && ctx.Err() == nil {
			p.c.Logger.Error("planner pass failed", "err", err)
		}
		if p.c.Metrics != nil && ctx.Err() == nil {
			p.c.Metrics.PlannerTick(time.Since(start))
			if n, err := p.c.Store.DueBacklog(ctx, p.c.Now()); err == nil {
				p.c.Metrics.PlannerBacklog(n)
			}
		}
		select {
		case <-ctx.Done():
			return nil
		case <-t.C:
		}
	}
}

// Tick makes one pass over the shards that hold something due (found in one
// round trip) and that it can lease, and returns how many occurrences it
// enqueued (conflicts with another planner's tasks count as enqueued by that
// planner, not this one). It returns once all its goroutines have stopped.
func (p *Planner) Tick(ctx context.Context) (int, error) {
	shards, err := p.c.Store.DueShards(ctx, p.c.Now().Add(p.c.Horizon))
	if err != nil || len(shards) == 0 {
		return 0, err
	}
	ps := &pass{Planner: p, zones: map[string]loadedZone{}, rules: map[string]parsedRule{}, steps: map[stepKey]step{}}
	// Room for every lane's whole batch: a lane hands over its batch without
	// waiting for each worker in turn.
	jobs := make(chan func(), p.c.Lanes*p.c.Batch)
	var pool sync.WaitGroup
	for range p.c.Workers {
		pool.Go(func() {
			for job := range jobs {
				job()
			}
		})
	}

	var (
		next  atomic.Int64
		total atomic.Int64
		mu    sync.Mutex
		errs  []error
		lanes sync.WaitGroup
	)
	for range min(p.c.Lanes, len(shards)) {
		lanes.Go(func() {
			for ctx.Err() == nil {
				i := int(next.Add(1) - 1)
				if i >= len(shards) {
					return
				}
				n, err := ps.planShard(ctx, shards[i], jobs)
				total.Add(int64(n))
				if err != nil {
					mu.Lock()
					errs = append(errs, err)
					mu.Unlock()
				}
			}
		})
	}
	lanes.Wait()
	close(jobs)
	pool.Wait()
	return int(total.Load()), errors.Join(errs...)
}

// pass is one Tick's work. It keeps the zones and rules it has read, and
// the occurrences it has worked out: the entries of a pass share few of
// them (all those due in one minute under one rule in one zone share one),
// and loading a zone is slow.
type pass struct {
	*Planner
	mu    sync.Mutex
	zones map[string]loadedZone
	rules map[string]parsedRule
	steps map[stepKey]step
}

// stepKey names an occurrence: a planned instant under a rule in a zone.
type stepKey struct {
	rule, zone string
	at         int64
}

// step is what follows from a planned instant: the occurrence it is, and
// the instant after it.
type step struct {
	occ  Occurrence
	next time.Time
}

type loadedZone struct {
	loc *time.Location
	err error
}

type parsedRule struct {
	r   Rule
	err error
}

// zone loads a zone once per pass.
func (ps *pass) zone(name string) (*time.Location, error) {
	ps.mu.Lock()
	defer ps.mu.Unlock()
	z, ok := ps.zones[name]
	if !ok {
		z.loc, z.err = LoadZone(name)
		ps.zones[name] = z
	}
	return z.loc, z.err
}

// rule parses a rule once per pass.
func (ps *pass) rule(text string) (Rule, error) {
	ps.mu.Lock()
	defer ps.mu.Unlock()
	r, ok := ps.rules[text]
	if !ok {
		r.r, r.err = ParseRule(text)
		ps.rules[text] = r
	}
	return r.r, r.err
}

// step works out, once per pass for all entries alike, the occurrence an
// entry is and the instant after it.
func (ps *pass) step(e store.DueEntry, rule Rule, loc *time.Location) step {
	k := stepKey{e.Rule, e.TimeZone, e.At.Unix()}
	ps.mu.Lock()
	st, ok := ps.steps[k]
	ps.mu.Unlock()
	if ok {
		return st
	}
	st.occ = rule.Next(e.At.Add(-time.Second), loc)
	if !st.occ.At.Equal(e.At) {
		// The entry was planned by an earlier rule; name it by its own date.
		st.occ = Occurrence{At: e.At, Date: e.At.In(loc).Format(time.DateOnly)}
	}
	st.next = rule.Next(e.At, loc).At
	ps.mu.Lock()
	ps.steps[k] = st
	ps.mu.Unlock()
	return st
}

// planShard leases a shard and plans its due entries batch by batch,
// handing the enqueues to the pass's workers.
func (ps *pass) planShard(ctx context.Context, shard int, jobs chan<- func()) (int, error) {
	ok, err := ps.c.Store.Lease(ctx, shard, ps.c.Owner, leaseTTL)
	if err != nil || !ok {
		return 0, err
	}
	defer func() {
		// A fresh context: the lease is given back even while stopping.
		rctx, cancel := context.WithTimeout(context.Background(), time.Second)
		defer cancel()
		if err := ps.c.Store.Release(rctx, shard, ps.c.Owner); err != nil {
			ps.c.Logger.Warn("release shard lease", "shard", shard, "err", err)
		}
	}()
	var total int
	for {
		now := ps.c.Now()
		batch, err := ps.c.Store.DueBatch(ctx, shard, now.Add(ps.c.Horizon), ps.c.Batch)
		if err != nil {
			return total, err
		}
		n, err := ps.planBatch(ctx, now, batch, jobs)
		total += n
		if err != nil {
			return total, fmt.Errorf("plan shard %d: %w", shard, err)
		}
		if len(batch) < ps.c.Batch || ctx.Err() != nil {
			return total, nil
		}
		// A big shard can take a while: keep it, or leave it to whoever
		// took it over (their work and ours cannot collide, only overlap).
		if ok, err := ps.c.Store.Lease(ctx, shard, ps.c.Owner, leaseTTL); err != nil || !ok {
			return total, err
		}
	}
}

// planBatch plans a batch: it hands each entry's work (an enqueue, or a skip
// record) to the workers, waits for all, and then moves on, in one round
// trip, every entry whose work is done. An entry whose work failed stays due
// for the next pass.
func (ps *pass) planBatch(ctx context.Context, now time.Time, batch []store.DueEntry, jobs chan<- func()) (int, error) {
	moves := make([]store.DueMove, len(batch))
	done := make([]bool, len(batch))
	enqueued := make([]bool, len(batch))
	failed := make([]error, len(batch))
	var wg sync.WaitGroup
submit:
	for i, e := range batch {
		mv, work := ps.plan(now, e)
		moves[i] = mv
		if work == nil {
			done[i] = true
			continue
		}
		wg.Add(1)
		job := func() {
			defer wg.Done()
			enqueued[i], failed[i] = work(ctx)
			done[i] = failed[i] == nil
		}
		select {
		case jobs <- job:
		case <-ctx.Done():
			wg.Done()
			break submit
		}
	}
	wg.Wait()

	var (
		ready    []store.DueMove
		total    int
		firstErr error
		nFailed  int
	)
	for i := range batch {
		if done[i] {
			ready = append(ready, moves[i])
		}
		if enqueued[i] {
			total++
		}
		if failed[i] != nil {
			nFailed++
			if firstErr == nil {
				firstErr = failed[i]
			}
		}
	}
	var err error
	if nFailed > 0 {
		err = fmt.Errorf("%d of %d occurrences left due for the next pass: %w", nFailed, len(batch), firstErr)
	}
	if _, merr := ps.c.Store.MoveDue(ctx, ready); merr != nil {
		// The entries stay due (or were moved and the reply was lost): the
		// next pass finds their tasks already queued and moves them then.
		err = errors.Join(err, merr)
	}
	return total, err
}

// plan decides what to do with one due entry: the move to make once the
// returned work has succeeded, and the work (nil when there is none). The
// work reports whether it enqueued a task.
func (ps *pass) plan(now time.Time, e store.DueEntry) (store.DueMove, func(context.Context) (bool, error)) {
	log := func() *slog.Logger { return ps.c.Logger.With("subscriber_id", e.SubscriberID, "program", e.Program) }
	// Only active subscribers' schedules are in the due index; one who
	// leaves after the read is caught by the worker, which checks the
	// subscriber and the schedule's version before sending.
	unplan := store.DueMove{Entry: e}
	rule, err := ps.rule(e.Rule)
	if err != nil {
		log().Error("unplanned: rule unreadable", "err", err)
		return unplan, nil
	}
	loc, err := ps.zone(e.TimeZone)
	if err != nil {
		log().Error("unplanned: zone unknown", "err", err)
		return unplan, nil
	}
	st := ps.step(e, rule, loc)
	occ := st.occ

	if late := now.Sub(e.At); late > ps.c.Grace {
		reason := fmt.Sprintf("too late (%s after its time)", late.Round(time.Minute))
		// Plan from now, not from the missed instant: one skip record per
		// channel, not a catch-up burst. The step stays: the message it would
		// have carried has not been seen, so it is still the next one.
		mv := store.DueMove{Entry: e, Next: rule.Next(now, loc).At, KeepStep: true}
		return mv, func(ctx context.Context) (bool, error) {
			// Late entries are few (after downtime): reading the subscriber
			// here, for the channels the occurrence would have gone out on,
			// costs the common path nothing.
			sub, err := ps.c.Store.Subscriber(ctx, e.SubscriberID)
			if errors.Is(err, store.ErrNotFound) {
				return false, nil // erased meanwhile: nothing to record against
			}
			if err != nil {
				return false, err
			}
			for _, c := range []domain.Channel{domain.Email, domain.SMS} {
				if !sub.Wants(c) {
					continue
				}
				key := store.DeliveryKey{SubscriberID: e.SubscriberID, Program: e.Program, Date: occ.Date, Channel: c}
				if _, err := ps.c.Store.SkipDelivery(ctx, key, reason, now); err != nil {
					return false, err
				}
			}
			log().Info("occurrence skipped", "date", occ.Date, "reason", "too late")
			return false, nil
		}
	}

	payload := task.DeliverNudge{
		SubscriberID: e.SubscriberID, Program: e.Program, Date: occ.Date,
		At: e.At.Unix(), Version: e.Version, Step: e.Step,
	}
	mv := store.DueMove{Entry: e, Next: st.next}
	return mv, func(ctx context.Context) (bool, error) {
		t, err := task.NewDeliverNudge(payload, e.At.Sub(now))
		if err != nil {
			return false, err
		}
		var opts []asynq.Option
		if ps.c.Queue != "" {
			opts = append(opts, asynq.Queue(ps.c.Queue))
		}
		_, err = ps.c.Enqueuer.EnqueueContext(ctx, t, opts...)
		switch {
		case errors.Is(err, asynq.ErrTaskIDConflict):
			return false, nil // another planner, or an earlier pass of ours, queued it
		case err != nil:
			return false, fmt.Errorf("enqueue %s: %w", payload.ID(), err)
		}
		return true, nil
	}
}
