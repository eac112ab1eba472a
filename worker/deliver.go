package worker

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"strconv"
	"time"

	"github.com/hibiken/asynq"
	"github.com/nudgehq/nudge/internal/domain"
	"github.com/nudgehq/nudge/internal/render"
	"github.com/nudgehq/nudge/internal/store"
	"github.com/nudgehq/nudge/internal/task"
	"github.com/nudgehq/nudge/scheduler"
	"github.com/nudgehq/nudge/templates"
)

// DeliverNudge sends one occurrence of a schedule on each channel the
// subscriber wants, or records why not. Each channel has its own delivery
// record, so a retry after one channel went out sends only the other.
func (h *Handler) DeliverNudge(ctx context.Context, t *asynq.Task) error {
	var p task.DeliverNudge
	if err := task.Decode(t, &p); err != nil {
		return err
	}
	now := h.d.Now()
	log := h.d.Logger.With("subscriber_id", p.SubscriberID, "program", p.Program, "date", p.Date)
	ctx = withDue(ctx, time.Unix(p.At, 0))

	// One round trip reads both; the claim checks suppression and the
	// "sent" record carries the latest-nudge mark, so a nudge takes three.
	sub, version, scheduled, err := h.d.Store.SubscriberWithVersion(ctx, p.SubscriberID, p.Program)
	if errors.Is(err, store.ErrNotFound) {
		log.Info("nudge skipped", "reason", "subscriber gone")
		return nil // erased: nothing to record against
	}
	if err != nil {
		return err
	}
	key := func(c domain.Channel) store.DeliveryKey {
		return store.DeliveryKey{SubscriberID: p.SubscriberID, Program: p.Program, Date: p.Date, Channel: c}
	}
	channels := wantedChannels(sub)
	h.settleUnwanted(ctx, log, sub, channels, key)
	skipAll := func(reason string) error { return h.skipAll(ctx, log, "nudge", sub, channels, key, reason) }
	if sub.Status != domain.Active {
		return skipAll("subscriber " + string(sub.Status))
	}
	if !sub.DistressAt.IsZero() {
		return h.afterDistress(ctx, log, sub, p.Date, channels, skipAll)
	}
	if now.Before(sub.PausedUntil) {
		return skipAll("paused")
	}
	if !scheduled || version != p.Version {
		return skipAll("schedule changed since planned")
	}
	if late := now.Sub(time.Unix(p.At, 0)); late > h.d.Grace {
		return skipAll(fmt.Sprintf("too late (%s after its time)", late.Round(time.Minute)))
	}
	msg, err := h.d.Library.Pick(p.Program, sub.Locale, p.Step)
	if err != nil {
		return fmt.Errorf("pick message: %v: %w", err, asynq.SkipRetry)
	}
	week := 1
	if !sub.ConfirmedAt.IsZero() && now.After(sub.ConfirmedAt) {
		week = int(now.Sub(sub.ConfirmedAt)/(7*24*time.Hour)) + 1
	}
	// The first nudge after a pause ran out says welcome back.
	welcomeBack := !sub.PausedUntil.IsZero()
	data := render.Data{FirstName: sub.FirstName, Goal: sub.Goal, Locale: sub.Locale, Week: week, WelcomeBack: welcomeBack, InviteAnswer: true, Country: countryOf(sub)}
	if err := h.addMonth(ctx, &data, sub.ID, p.Program, now); err != nil {
		return err
	}

	// A reply from now on answers this nudge: marked with its "sent" record.
	lastNudge := string(p.Program) + ":" + p.Date
	var errs []error
	for _, c := range channels {
		clog := log.With("channel", c)
		switch c {
		case domain.Email:
			errs = append(errs, h.deliverEmail(ctx, clog, key(c), sub, p, msg, data, lastNudge))
		case domain.SMS:
			errs = append(errs, h.deliverSMS(ctx, clog, key(c), sub, lastNudge, func(f render.SMSFooter) (string, error) {
				return h.d.Renderer.SMS(msg, data, f)
			}))
		}
	}
	if err := combine(errs); err != nil {
		return err
	}
	if welcomeBack {
		if err := h.d.Store.Pause(ctx, sub.ID, time.Time{}, store.ConsentEvent{}); err != nil {
			log.Warn("could not clear the finished pause", "err", err)
		}
	}
	return nil
}

// afterDistress holds a program message back from a person whose reply
// read as distress. In place of the first one, a gentle check-in asks
// whether they want their messages back (never "welcome back", never the
// program's own message); after it, every occurrence is held until they
// choose to resume (START, YES, or resume on the manage page). The check-in
// is claimed on the record before it is sent, so two programs due at once
// never both send it; when no channel could take it, the claim is given
// back and the next occurrence tries again.
func (h *Handler) afterDistress(ctx context.Context, log *slog.Logger, sub domain.Subscriber, date string, channels []domain.Channel, skipAll func(string) error) error {
	if !sub.GentleAt.IsZero() {
		return skipAll("held after a reply in distress, until the person resumes")
	}
	first, err := h.d.Store.MarkGentleCheckin(ctx, sub.ID, h.d.Now())
	if err != nil {
		return err
	}
	if !first {
		return skipAll("held after a reply in distress, until the person resumes")
	}
	if err := skipAll("held after a reply in distress: a gentle check-in went instead"); err != nil {
		return err
	}
	msg, err := h.d.Library.System(templates.GentleCheckin, sub.Locale)
	if err != nil {
		return fmt.Errorf("load %s: %v: %w", templates.GentleCheckin, err, asynq.SkipRetry)
	}
	data := render.Data{FirstName: sub.FirstName, Locale: sub.Locale, Country: countryOf(sub)}
	occurrence := strconv.FormatInt(sub.DistressAt.Unix(), 10) + ":" + date
	key := func(c domain.Channel) store.DeliveryKey {
		return store.DeliveryKey{SubscriberID: sub.ID, Program: "system-gentle", Date: occurrence, Channel: c}
	}
	var errs []error
	for _, c := range channels {
		clog := log.With("channel", c, "message", templates.GentleCheckin)
		switch c {
		case domain.Email:
			errs = append(errs, h.deliverEmailAs(ctx, clog, key(c), sub, "gentle:"+sub.ID+":"+occurrence, h.d.From, "", func(l render.Links) (render.Email, error) {
				return h.d.Renderer.Email(msg, data, l)
			}))
		case domain.SMS:
			errs = append(errs, h.deliverSMS(ctx, clog, key(c), sub, "", func(f render.SMSFooter) (string, error) {
				return h.d.Renderer.SMS(msg, data, f)
			}))
		}
	}
	sent := false
	for _, c := range channels {
		if d, err := h.d.Store.Delivery(ctx, key(c)); err == nil && (d.State == store.Sent || d.State == store.Claimed || d.State == store.Unknown) {
			sent = true
		}
	}
	if !sent {
		if err := h.d.Store.ClearGentleCheckin(ctx, sub.ID); err != nil {
			errs = append(errs, err)
		}
	}
	return combine(errs)
}

// skipAll records an occurrence skipped, for reason, on each of channels
// (what names the kind of message in the log: nudge, prompt).
func (h *Handler) skipAll(ctx context.Context, log *slog.Logger, what string, sub domain.Subscriber, channels []domain.Channel,
	key func(domain.Channel) store.DeliveryKey, reason string) error {
	log.Info(what+" skipped", "reason", reason)
	var errs []error
	for _, c := range channels {
		errs = append(errs, h.skip(ctx, log, sub, key(c), reason))
	}
	return errors.Join(errs...)
}

// wantedChannels are the channels a nudge goes out on for sub. A subscriber
// who chose SMS but has not (or no longer) consented gets nothing by SMS.
func wantedChannels(sub domain.Subscriber) []domain.Channel {
	var out []domain.Channel
	for _, c := range []domain.Channel{domain.Email, domain.SMS} {
		if sub.Wants(c) {
			out = append(out, c)
		}
	}
	return out
}

// combine turns the channels' outcomes into the task's: retry when any
// channel asked for it (the others are protected by their records), stop
// when all are done.
func combine(errs []error) error {
	var retry, final []error
	for _, err := range errs {
		switch {
		case err == nil:
		case errors.Is(err, asynq.SkipRetry):
			final = append(final, err)
		default:
			retry = append(retry, err)
		}
	}
	if len(retry) > 0 {
		return fmt.Errorf("will retry: %v", errors.Join(append(retry, final...)...))
	}
	return errors.Join(final...)
}

func (h *Handler) deliverEmail(ctx context.Context, log *slog.Logger, key store.DeliveryKey, sub domain.Subscriber, p task.DeliverNudge, msg *templates.Message, data render.Data, lastNudge string) error {
	return h.deliverEmailAs(ctx, log, key, sub, p.ID(), h.d.From, lastNudge, func(l render.Links) (render.Email, error) {
		l.Answer = h.answerLinks(sub.ID, p.Program, lastNudge)
		out, err := h.d.Renderer.Email(msg, data, l)
		if err != nil {
			return out, fmt.Errorf("%s step %d: %w", p.Program, p.Step, err)
		}
		return out, nil
	})
}

// deliverEmailAs sends one nudge or prompt by email, From from, unless the
// address is suppressed on sub's list (checked with the claim). build
// renders it with the footer's links; messageKey makes its Message-ID;
// lastNudge is what a reply from now on answers.
func (h *Handler) deliverEmailAs(ctx context.Context, log *slog.Logger, key store.DeliveryKey, sub domain.Subscriber, messageKey, from, lastNudge string, build func(render.Links) (render.Email, error)) error {
	out, err := build(render.Links{Manage: h.d.Links.Manage(sub.ID), Unsubscribe: h.d.Links.Unsubscribe(sub.ID)})
	if err != nil {
		return errors.Join(h.skip(ctx, log, sub, key, "the message could not be rendered"), fmt.Errorf("render email: %v: %w", err, asynq.SkipRetry))
	}
	return h.sendAs(ctx, log, key, sub, out, messageKey, from,
		sendOpts{guard: h.d.Store.SuppressionGuard(sub, domain.Email), lastNudge: lastNudge})
}

// inWindow reports whether now is inside the subscriber's SMS window.
func (h *Handler) inWindow(sub domain.Subscriber, now time.Time) bool {
	loc, err := scheduler.LoadZone(sub.TimeZone)
	if err != nil {
		return false // no zone, no way to know their night: stay quiet
	}
	return h.d.SMSWindow.Contains(now, loc)
}
