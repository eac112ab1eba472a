// Package subscription is what a person can do about their own subscription:
// sign up, confirm, unsubscribe. It keeps the rules in one place for every
// door (web form, email link, one-click POST): records go to the store with a
// consent event, and emails are queued as tasks.
package subscription

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"strconv"
	"time"

	"github.com/hibiken/asynq"
	"github.com/nudgehq/nudge/internal/domain"
	"github.com/nudgehq/nudge/internal/notify"
	"github.com/nudgehq/nudge/internal/store"
	"github.com/nudgehq/nudge/internal/task"
	"github.com/nudgehq/nudge/scheduler"
)

// Enqueuer is the part of asynq.Client the service uses.
type Enqueuer interface {
	EnqueueContext(ctx context.Context, t *asynq.Task, opts ...asynq.Option) (*asynq.TaskInfo, error)
}

// Notifier raises a clinic's events (notify.Notifier satisfies it).
type Notifier interface {
	Emit(ctx context.Context, clinicID, eventType string, data any) error
}

// Service carries out subscription changes.
type Service struct {
	store  *store.Store
	enq    Enqueuer
	now    func() time.Time
	logger *slog.Logger
	events Notifier // nil: no clinic events
}

// New returns a Service.
func New(st *store.Store, enq Enqueuer, now func() time.Time, logger *slog.Logger) *Service {
	return &Service{store: st, enq: enq, now: now, logger: logger}
}

// WithNotifier returns a copy of s that tells a client's clinic when the
// client confirms or unsubscribes.
func (s *Service) WithNotifier(n Notifier) *Service {
	c := *s
	c.events = n
	return &c
}

// emit raises a clinic's event. The change it reports is made already, so a
// failure to raise it is logged, not returned.
func (s *Service) emit(ctx context.Context, sub domain.Subscriber, eventType string, data any) {
	if s.events == nil || sub.Clinic == "" {
		return
	}
	if err := s.events.Emit(ctx, sub.Clinic, eventType, data); err != nil {
		s.logger.Warn("could not raise a clinic event", "clinic_id", sub.Clinic, "subscriber_id", sub.ID, "type", eventType, "err", err)
	}
}

// Origin is where a request came from, for the consent ledger.
type Origin struct {
	Source    string // form, link, one-click
	IP        string
	UserAgent string
}

// WordingVersion names the consent wording the signup form shows; it changes
// whenever that wording does, so the ledger says what a person agreed to.
const WordingVersion = "signup-email-2026-11"

// Signup records a pending subscriber and queues the double opt-in email.
// The subscriber and schedules must be valid already. Whatever the address's
// history, the caller shows the same answer ("check your email"), so the form
// never tells who is subscribed.
func (s *Service) Signup(ctx context.Context, sub domain.Subscriber, scheds []domain.Schedule, o Origin) error {
	now := s.now()
	sub.CreatedAt = now
	res, err := s.store.Signup(ctx, sub, scheds, store.ConsentEvent{
		At: now, Action: store.ConsentSignup, Channel: string(domain.Email), Source: o.Source,
		Wording: WordingVersion, IP: o.IP, UserAgent: o.UserAgent,
	})
	if err != nil {
		return err
	}
	// One message per address per minute, however often the form is sent.
	nonce := strconv.FormatInt(now.Unix()/60, 10)
	var tasks []*asynq.Task
	switch {
	case res.Outcome == store.SignupActive && sub.Email != "":
		t, err := task.NewSendNotice(task.SendNotice{SubscriberID: res.ID, Kind: task.NoticeAlreadySubscribed, Nonce: nonce})
		if err != nil {
			return err
		}
		tasks = append(tasks, t)
	case res.Outcome != store.SignupActive:
		if sub.Email != "" {
			t, err := task.NewSendConfirmation(task.SendConfirmation{SubscriberID: res.ID, Nonce: nonce})
			if err != nil {
				return err
			}
			tasks = append(tasks, t)
		}
		if sub.SMSStatus == domain.SMSPending {
			t, err := task.NewSendSMSConfirm(task.SendConfirmation{SubscriberID: res.ID, Nonce: nonce})
			if err != nil {
				return err
			}
			tasks = append(tasks, t)
		}
	}
	for _, t := range tasks {
		if err := s.enqueue(ctx, t); err != nil {
			return err
		}
	}
	s.logger.Info("signup recorded", "subscriber_id", res.ID, "outcome", res.Outcome)
	return nil
}

// Confirm activates a pending subscriber and plans each of their schedules
// from now. A second confirmation changes nothing and is not an error.
func (s *Service) Confirm(ctx context.Context, id string, o Origin) error {
	sub, err := s.store.Subscriber(ctx, id)
	if err != nil {
		return err
	}
	if sub.Status != domain.Pending {
		return nil
	}
	now := s.now()
	next, err := s.firstOccurrences(ctx, sub, now)
	if err != nil {
		return err
	}
	ok, err := s.store.Activate(ctx, id, now, next, store.ConsentEvent{
		At: now, Action: store.ConsentConfirm, Channel: string(domain.Email), Source: o.Source,
		Wording: WordingVersion, IP: o.IP, UserAgent: o.UserAgent,
	})
	if err != nil || !ok {
		return err
	}
	s.logger.Info("subscriber confirmed", "subscriber_id", id)
	if sub.Clinic != "" {
		// A client hears from their clinic, not from the public list.
		s.emit(ctx, sub, notify.ClientConfirmed, notify.Confirmed{ClientID: id, Channel: string(domain.Email)})
		return nil
	}
	t, err := task.NewSendNotice(task.SendNotice{SubscriberID: id, Kind: task.NoticeWelcome, Nonce: "1"})
	if err != nil {
		return err
	}
	return s.enqueue(ctx, t)
}

// firstOccurrences plans each of a subscriber's schedules from now.
func (s *Service) firstOccurrences(ctx context.Context, sub domain.Subscriber, now time.Time) (map[domain.Program]time.Time, error) {
	scheds, err := s.store.Schedules(ctx, sub.ID)
	if err != nil {
		return nil, err
	}
	loc, err := scheduler.LoadZone(sub.TimeZone)
	if err != nil {
		return nil, fmt.Errorf("plan %s: %w", sub.ID, err)
	}
	next := make(map[domain.Program]time.Time, len(scheds))
	for _, sc := range scheds {
		rule, err := scheduler.ParseRule(sc.Rule)
		if err != nil {
			return nil, fmt.Errorf("plan %s: %w", sub.ID, err)
		}
		next[sc.Program] = rule.Next(now, loc).At
	}
	return next, nil
}

// ConfirmSMS records a YES (or START) from a subscriber's number. A pending
// subscriber becomes active and their schedules are planned; one who said
// STOP earlier gets texts again from the next occurrence.
func (s *Service) ConfirmSMS(ctx context.Context, id string, ev store.ConsentEvent) error {
	sub, err := s.store.Subscriber(ctx, id)
	if err != nil {
		return err
	}
	if sub.Status == domain.Pending {
		next, err := s.firstOccurrences(ctx, sub, ev.At)
		if err != nil {
			return err
		}
		ev.Wording = WordingVersion
		ok, err := s.store.ActivateBySMS(ctx, id, ev.At, next, ev)
		if err != nil || ok {
			if ok {
				s.logger.Info("subscriber confirmed by sms", "subscriber_id", id)
				s.emit(ctx, sub, notify.ClientConfirmed, notify.Confirmed{ClientID: id, Channel: string(domain.SMS)})
			}
			return err
		}
	}
	if _, err = s.store.ConfirmSMS(ctx, id, ev); err != nil {
		return err
	}
	// Texts turned on (a first YES after the email link, or a START after a
	// STOP) confirm the SMS channel; a YES while they are on changes nothing.
	if sub.SMSStatus != domain.SMSActive {
		s.emit(ctx, sub, notify.ClientConfirmed, notify.Confirmed{ClientID: id, Channel: string(domain.SMS)})
	}
	return nil
}

// Unsubscribe stops every message to the subscriber at once, including any
// already queued. Repeating it is harmless.
func (s *Service) Unsubscribe(ctx context.Context, id string, o Origin) error {
	changed, err := s.store.Unsubscribe(ctx, id, store.ConsentEvent{
		At: s.now(), Action: store.ConsentUnsubscribe, Channel: string(domain.Email), Source: o.Source,
		IP: o.IP, UserAgent: o.UserAgent,
	})
	if err != nil {
		return err
	}
	if changed {
		s.logger.Info("subscriber unsubscribed", "subscriber_id", id, "source", o.Source)
		if s.events != nil {
			if sub, err := s.store.Subscriber(ctx, id); err == nil {
				// An unsubscribe stops every message, texts included.
				s.emit(ctx, sub, notify.ClientOptedOut, notify.OptedOut{ClientID: id, Channel: notify.OptOutAll, Source: o.Source})
			}
		}
	}
	return nil
}

func (s *Service) enqueue(ctx context.Context, t *asynq.Task) error {
	_, err := s.enq.EnqueueContext(ctx, t)
	if err != nil && !errors.Is(err, asynq.ErrTaskIDConflict) {
		return fmt.Errorf("enqueue %s: %w", t.Type(), err)
	}
	return nil
}
