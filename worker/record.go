package worker

import (
	"context"
	"fmt"
	"time"

	"github.com/hibiken/asynq"
	"github.com/nudgehq/nudge/internal/store"
)

// recordPatience is how long an attempt keeps trying to write its outcome
// while Redis does not answer (a restart, a Sentinel failover). After a
// provider call the outcome is worth the wait: without it the occurrence
// can only end unknown.
const recordPatience = 20 * time.Second

// record runs write until it succeeds, ctx ends or recordPatience has
// passed, waiting longer between tries (100 ms doubling, up to 2 s).
func record(ctx context.Context, write func(context.Context) error) error {
	deadline := time.Now().Add(recordPatience)
	wait := 100 * time.Millisecond
	for {
		err := write(ctx)
		if err == nil || time.Now().Add(wait).After(deadline) {
			return err
		}
		select {
		case <-ctx.Done():
			return err
		case <-time.After(wait):
		}
		wait = min(2*wait, 2*time.Second)
	}
}

// finishSent records that the provider accepted the message. If Redis
// stays away past recordPatience the claim is left as it is and the task
// fails without SkipRetry: the next attempt finds the claim and records
// unknown, never sends again. (With SkipRetry the task would end and the
// record stay "claimed" for good.)
func (h *Handler) finishSent(ctx context.Context, key store.DeliveryKey, providerID string, marks store.SentMarks) error {
	err := record(ctx, func(ctx context.Context) error {
		return h.d.Store.FinishSent(ctx, key, providerID, h.d.Now(), marks)
	})
	if err != nil {
		return fmt.Errorf("sent, but %w; the next attempt records it unknown", err)
	}
	return nil
}

// finishEnded records a final outcome other than sent and stops asynq's
// retries, or, if Redis stays away, fails for a retry that will find the
// claim and record unknown (see finishSent).
func (h *Handler) finishEnded(ctx context.Context, key store.DeliveryKey, st store.DeliveryState, reason string, sendErr error) error {
	err := record(ctx, func(ctx context.Context) error {
		return h.d.Store.FinishDelivery(ctx, key, st, "", reason, h.d.Now())
	})
	if err != nil {
		return fmt.Errorf("send %s: %w; and record %s: %w", key.Channel, sendErr, st, err)
	}
	return fmt.Errorf("send %s: %w: %w", key.Channel, sendErr, asynq.SkipRetry)
}
