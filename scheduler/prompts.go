package scheduler

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"time"

	"github.com/hibiken/asynq"
	"github.com/nudgehq/nudge/internal/store"
	"github.com/nudgehq/nudge/internal/task"
)

// PromptPlannerConfig sets up a PromptPlanner.
type PromptPlannerConfig struct {
	Store    *store.Store
	Enqueuer Enqueuer
	// Queue overrides the queue prompts go to (tests use their own).
	Queue  string
	Now    func() time.Time
	Logger *slog.Logger
	// Horizon is how far ahead it queues: an occurrence due within it is
	// enqueued now, to be processed at its instant.
	Horizon time.Duration
	// Batch is how many due occurrences are read at once.
	Batch int
}

// PromptPlanner moves clinics' prompt occurrences from the prompt due index
// (pdue) into asynq, one task per occurrence, processed at its instant.
//
// Reading the index claims nothing: an occurrence leaves it only once its
// task is queued, and only if its instant is still the one read (a replan in
// between wins). Its task id ("prompt:<client>:<prompt>:<session>") makes a
// second enqueue, by another scheduler or after a lost reply, an
// asynq.ErrTaskIDConflict that counts as success, so any number of
// schedulers may run at once. Whether the occurrence is still wanted is
// decided by the worker at send time (the occurrence is still planned, the
// client active, the cap not reached), so nothing here needs a lease.
type PromptPlanner struct{ c PromptPlannerConfig }

// NewPromptPlanner returns a PromptPlanner with defaults filled in.
func NewPromptPlanner(c PromptPlannerConfig) *PromptPlanner {
	if c.Horizon <= 0 {
		c.Horizon = time.Minute
	}
	if c.Batch <= 0 {
		c.Batch = 500
	}
	if c.Now == nil {
		c.Now = time.Now
	}
	if c.Logger == nil {
		c.Logger = slog.New(slog.DiscardHandler)
	}
	return &PromptPlanner{c: c}
}

// Run queues due prompts every interval until ctx is cancelled. A failed
// pass is logged and tried again at the next interval.
func (p *PromptPlanner) Run(ctx context.Context, interval time.Duration) error {
	if interval <= 0 {
		interval = 5 * time.Second
	}
	t := time.NewTicker(interval)
	defer t.Stop()
	for {
		if _, err := p.Tick(ctx); err != nil && ctx.Err() == nil {
			p.c.Logger.Error("prompt planner pass failed", "err", err)
		}
		select {
		case <-ctx.Done():
			return nil
		case <-t.C:
		}
	}
}

// maxPromptBatches bounds one pass, so that entries that keep coming back
// (each replanned between its read and its removal) cannot hold it forever;
// the next pass carries on.
const maxPromptBatches = 200

// Tick queues every occurrence due within the horizon, a batch at a time
// until a batch comes back short, and returns how many tasks it enqueued
// (occurrences another scheduler had queued already do not count). An
// occurrence whose enqueue failed stays due for the next pass; the pass
// stops at the end of that batch and reports the error.
func (p *PromptPlanner) Tick(ctx context.Context) (int, error) {
	total := 0
	for range maxPromptBatches {
		if ctx.Err() != nil {
			break
		}
		now := p.c.Now()
		due, err := p.c.Store.DuePrompts(ctx, now.Add(p.c.Horizon), p.c.Batch)
		if err != nil {
			return total, err
		}
		queued := make([]store.PromptOccurrence, 0, len(due))
		var errs []error
		for _, o := range due {
			fresh, err := p.enqueue(ctx, now, o)
			if err != nil {
				errs = append(errs, err)
				continue
			}
			if fresh {
				total++
			}
			queued = append(queued, o)
		}
		if err := p.c.Store.DonePrompts(ctx, queued); err != nil {
			// Still due: the next pass finds the tasks queued and tries again.
			errs = append(errs, err)
		}
		if len(errs) > 0 {
			return total, fmt.Errorf("%d of %d prompt occurrences left due for the next pass: %w", len(due)-len(queued), len(due), errors.Join(errs...))
		}
		if len(due) < p.c.Batch {
			return total, nil
		}
	}
	return total, nil
}

// enqueue queues one occurrence's task, to be processed at its instant. It
// reports whether this call queued it (false: it was queued already).
func (p *PromptPlanner) enqueue(ctx context.Context, now time.Time, o store.PromptOccurrence) (bool, error) {
	payload := task.DeliverPrompt{ClientID: o.ClientID, PromptID: o.PromptID, Session: o.Session, At: o.At.Unix()}
	t, err := task.NewDeliverPrompt(payload, o.At.Sub(now))
	if err != nil {
		return false, err
	}
	// The delay is counted on the planner's clock, as the nudge planner
	// counts it: the task runs when the occurrence is due by that clock
	// (with an injected clock, asynq's own would disagree).
	var opts []asynq.Option
	if p.c.Queue != "" {
		opts = append(opts, asynq.Queue(p.c.Queue))
	}
	_, err = p.c.Enqueuer.EnqueueContext(ctx, t, opts...)
	switch {
	case errors.Is(err, asynq.ErrTaskIDConflict):
		return false, nil // another scheduler, or an earlier pass, queued it
	case err != nil:
		return false, fmt.Errorf("enqueue %s: %w", payload.ID(), err)
	}
	p.c.Logger.Debug("prompt queued", "client_id", o.ClientID, "prompt_id", o.PromptID, "session", o.Session)
	return true, nil
}
