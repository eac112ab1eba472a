package safety

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/hibiken/asynq"
	"github.com/nudgehq/nudge/internal/store"
	"github.com/nudgehq/nudge/internal/task"
)

// AlertQueue is told of each distress alert raised.
type AlertQueue interface {
	AlertRaised(ctx context.Context, clinicID string, a store.Alert) error
}

// Enqueuer is the part of asynq.Client AlertMail uses.
type Enqueuer interface {
	EnqueueContext(ctx context.Context, t *asynq.Task, opts ...asynq.Option) (*asynq.TaskInfo, error)
}

// AlertMail queues a distress alert's emails to the clinic's staff: one to
// the assigned clinician (or the owners) at once, and the escalation to
// every owner, processed once the clinic's escalation time has passed. Each
// task's id is the alert's, so a repeat queues nothing.
type AlertMail struct {
	Store   *store.Store
	Enqueue Enqueuer
	Now     func() time.Time
}

// AlertRaised queues the alert's emails.
func (m *AlertMail) AlertRaised(ctx context.Context, clinicID string, a store.Alert) error {
	if a.KindOf() != store.AlertDistress {
		return nil
	}
	set, err := m.Store.AlertSettingsOf(ctx, clinicID)
	if err != nil {
		return err
	}
	now, err := task.NewSendAlertEmail(task.SendAlertEmail{ClinicID: clinicID, AlertID: a.ID})
	if err != nil {
		return err
	}
	// The delay runs on the service's clock, as the planners' do.
	later, err := task.NewEscalateAlert(task.EscalateAlert{ClinicID: clinicID, AlertID: a.ID}, a.At.Add(set.Escalation).Sub(m.Now()))
	if err != nil {
		return err
	}
	var errs []error
	for _, t := range []*asynq.Task{now, later} {
		if _, err := m.Enqueue.EnqueueContext(ctx, t); err != nil && !errors.Is(err, asynq.ErrTaskIDConflict) {
			errs = append(errs, fmt.Errorf("enqueue %s: %w", t.Type(), err))
		}
	}
	return errors.Join(errs...)
}
