package subscription

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"time"

	"github.com/hibiken/asynq"
	"github.com/nudgehq/nudge/internal/domain"
	"github.com/nudgehq/nudge/internal/store"
	"github.com/nudgehq/nudge/internal/task"
)

// How long an unconfirmed signup waits before its one reminder, and before
// it is forgotten.
const (
	RemindAfter = 48 * time.Hour
	ExpireAfter = 7 * 24 * time.Hour
)

// Eraser forgets an unconfirmed signup entirely, and a signup confirmed
// meanwhile not at all.
type Eraser interface {
	EraseUnconfirmed(ctx context.Context, id string, cutoff time.Time) (Erasure, error)
}

// Expirer reminds unconfirmed signups once and forgets them after a week:
// nobody stays on file, or gets more than two confirmation messages, for a
// signup they never confirmed.
type Expirer struct {
	store  *store.Store
	enq    Enqueuer
	erase  Eraser
	now    func() time.Time
	logger *slog.Logger
}

// NewExpirer returns an Expirer.
func NewExpirer(st *store.Store, enq Enqueuer, erase Eraser, now func() time.Time, logger *slog.Logger) *Expirer {
	return &Expirer{store: st, enq: enq, erase: erase, now: now, logger: logger}
}

// Run makes a pass every interval until ctx is cancelled.
func (e *Expirer) Run(ctx context.Context, interval time.Duration) error {
	t := time.NewTicker(interval)
	defer t.Stop()
	for {
		if err := e.Pass(ctx); err != nil && ctx.Err() == nil {
			e.logger.Error("expire unconfirmed signups", "err", err)
		}
		select {
		case <-ctx.Done():
			return nil
		case <-t.C:
		}
	}
}

// batch bounds one pass; the next pass takes the rest.
const batch = 500

// Pass reminds the signups older than RemindAfter that were not reminded
// yet, and erases those older than ExpireAfter. Any number of processes
// may run it: the reminder is claimed once, and erasing twice is harmless.
func (e *Expirer) Pass(ctx context.Context) error {
	now := e.now()
	var errs []error
	expired, err := e.store.PendingSince(ctx, now.Add(-ExpireAfter), batch)
	if err != nil {
		return err
	}
	for _, id := range expired {
		errs = append(errs, e.expire(ctx, id, now.Add(-ExpireAfter)))
	}
	due, err := e.store.PendingSince(ctx, now.Add(-RemindAfter), batch)
	if err != nil {
		return errors.Join(append(errs, err)...)
	}
	for _, id := range due {
		errs = append(errs, e.remind(ctx, id))
	}
	return errors.Join(errs...)
}

// expire erases a signup still unconfirmed a week after it was made. The
// pending index only says where to look: the erasure itself checks, in its
// transaction, that the record is still unconfirmed and old enough, so a
// confirmation racing the expirer (or a signup made again meanwhile) is
// never erased.
func (e *Expirer) expire(ctx context.Context, id string, cutoff time.Time) error {
	res, err := e.erase.EraseUnconfirmed(ctx, id, cutoff)
	if err != nil {
		return fmt.Errorf("erase unconfirmed %s: %w", id, err)
	}
	if res.Found {
		e.logger.Info("unconfirmed signup forgotten", "subscriber_id", id)
		return e.store.ForgetPending(ctx, id)
	}
	sub, err := e.store.Subscriber(ctx, id)
	if err == nil && sub.Status == domain.Pending {
		// Signed up again since: the index entry is renewed with it.
		return nil
	}
	if err != nil && !errors.Is(err, store.ErrNotFound) {
		return err
	}
	return e.store.ForgetPending(ctx, id)
}

func (e *Expirer) remind(ctx context.Context, id string) error {
	sub, err := e.store.Subscriber(ctx, id)
	if errors.Is(err, store.ErrNotFound) {
		return e.store.ForgetPending(ctx, id)
	}
	if err != nil {
		return err
	}
	if sub.Status != domain.Pending {
		return e.store.ForgetPending(ctx, id)
	}
	first, err := e.store.MarkReminded(ctx, id)
	if err != nil || !first {
		return err
	}
	var tasks []*asynq.Task
	if sub.Email != "" {
		t, err := task.NewSendConfirmation(task.SendConfirmation{SubscriberID: id, Nonce: "reminder"})
		if err != nil {
			return err
		}
		tasks = append(tasks, t)
	}
	if sub.SMSStatus == domain.SMSPending {
		t, err := task.NewSendSMSConfirm(task.SendConfirmation{SubscriberID: id, Nonce: "reminder"})
		if err != nil {
			return err
		}
		tasks = append(tasks, t)
	}
	for _, t := range tasks {
		if _, err := e.enq.EnqueueContext(ctx, t); err != nil && !errors.Is(err, asynq.ErrTaskIDConflict) {
			return fmt.Errorf("enqueue reminder for %s: %w", id, err)
		}
	}
	e.logger.Info("unconfirmed signup reminded", "subscriber_id", id)
	return nil
}
