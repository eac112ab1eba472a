package clinic

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/nudgehq/nudge/internal/domain"
	"github.com/nudgehq/nudge/internal/store"
)

// CheckEnrolment checks an enrolment as Enrol would, without recording or
// sending anything: a form can show what will be sent before it is.
func (s *Service) CheckEnrolment(in Enrolment) (domain.Subscriber, error) {
	return s.checkEnrolment(in, s.c.Now().UTC())
}

// Discharge ends a client's care: nothing more is sent (the status is
// discharged, the schedules leave the due index, the planned prompts are
// dropped, so a queued one is not sent), and the record, answers and
// replies are kept for their retention. Repeating it changes nothing.
func (s *Service) Discharge(ctx context.Context, cid, id, by string) (ClientView, error) {
	now := s.c.Now()
	ev := store.ConsentEvent{At: now, Action: store.ConsentDischarge, Source: "clinic", Detail: "discharged by " + by}
	if _, err := s.c.Store.Discharge(ctx, cid, id, ev); err != nil {
		return ClientView{}, err
	}
	// Replanned as discharged, the plan is empty (see plan).
	st, err := s.c.Store.UpdatePrompts(ctx, cid, id, now, func(*store.PromptState) error { return nil }, s.plan(now))
	if err != nil {
		return ClientView{}, err
	}
	s.c.Logger.Info("client discharged", "clinic_id", cid, "client_id", id)
	return ClientView{Subscriber: st.Client, NextSession: st.NextSession(now)}, nil
}

// Readmit undoes a discharge within its retention: the client is active
// again (pending if they never confirmed a channel) and their prompts are
// planned again from their sessions. A client not discharged is left as
// it is.
func (s *Service) Readmit(ctx context.Context, cid, id, by string) (ClientView, error) {
	now := s.c.Now()
	ev := store.ConsentEvent{At: now, Action: store.ConsentReadmit, Source: "clinic", Detail: "discharge undone by " + by}
	if _, err := s.c.Store.Readmit(ctx, cid, id, ev); err != nil {
		return ClientView{}, err
	}
	st, err := s.c.Store.UpdatePrompts(ctx, cid, id, now, func(*store.PromptState) error { return nil }, s.plan(now))
	if err != nil {
		return ClientView{}, err
	}
	s.c.Logger.Info("client readmitted", "clinic_id", cid, "client_id", id)
	return ClientView{Subscriber: st.Client, NextSession: st.NextSession(now)}, nil
}

// DischargeRetention is how long a discharged client's record, answers and
// replies are kept before they are erased: the 400 days replies and the
// audit log are kept.
const DischargeRetention = 400 * 24 * time.Hour

// EraseDischarged erases the clients discharged more than
// DischargeRetention ago (a batch at a time; the next pass takes the
// rest), as a removal does, and reports how many. A client found no longer
// discharged, or gone, only leaves the list.
func (s *Service) EraseDischarged(ctx context.Context) (int, error) {
	due, err := s.c.Store.DischargedBefore(ctx, s.c.Now().Add(-DischargeRetention), 200)
	if err != nil {
		return 0, err
	}
	n := 0
	var errs []error
	for _, d := range due {
		sub, err := s.c.Store.Client(ctx, d.Clinic, d.ID)
		switch {
		case err == nil && sub.Status == domain.Discharged:
			if err := s.c.Erase.EraseSubscriber(ctx, d.ID); err != nil {
				errs = append(errs, fmt.Errorf("erase discharged %s: %w", d.ID, err))
				continue
			}
			n++
			s.c.Logger.Info("discharged client erased after the retention", "clinic_id", d.Clinic, "client_id", d.ID)
		case err != nil && !errors.Is(err, store.ErrNotFound):
			errs = append(errs, err)
			continue
		}
		if err := s.c.Store.ForgetDischarged(ctx, d.Clinic, d.ID); err != nil {
			errs = append(errs, err)
		}
	}
	return n, errors.Join(errs...)
}

// RunRetention erases discharged clients past their retention every
// interval until ctx is cancelled.
func (s *Service) RunRetention(ctx context.Context, interval time.Duration) error {
	t := time.NewTicker(interval)
	defer t.Stop()
	for {
		if _, err := s.EraseDischarged(ctx); err != nil && ctx.Err() == nil {
			s.c.Logger.Error("erase discharged clients", "err", err)
		}
		select {
		case <-ctx.Done():
			return nil
		case <-t.C:
		}
	}
}
