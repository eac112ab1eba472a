package clinic

import (
	"context"

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
