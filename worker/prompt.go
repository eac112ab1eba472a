package worker

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/hibiken/asynq"
	"github.com/nudgehq/nudge/internal/domain"
	"github.com/nudgehq/nudge/internal/render"
	"github.com/nudgehq/nudge/internal/store"
	"github.com/nudgehq/nudge/internal/task"
	"github.com/nudgehq/nudge/scheduler"
)

// Reasons a prompt occurrence is recorded as skipped (besides those it
// shares with nudges: paused, too late, outside the SMS window, …).
const (
	ReasonNotPlanned   = "no longer planned (the session moved or the prompt was removed)"
	ReasonFrequencyCap = "frequency cap"
)

// DeliverPrompt sends one between-session prompt occurrence on each channel
// the client wants, or records why not. At send time the client, the
// clinic and the prompt are read again, and the occurrence goes out only if
// the client is active and not paused, the occurrence is still planned (a
// moved session or a removed prompt wins over a queued task), it is not
// later than the grace window, and it passes the clinic's frequency cap for
// the client's local day and week. Each channel has its own delivery
// record, named by the occurrence ("<prompt>|<session>"), which the clinic
// API lists.
//
// The message comes from the clinic: a library message or the clinic's own
// text, opened with its display name in a text, signed with its sign-off
// and sent From its display name by email.
func (h *Handler) DeliverPrompt(ctx context.Context, t *asynq.Task) error {
	var p task.DeliverPrompt
	if err := task.Decode(t, &p); err != nil {
		return err
	}
	now := h.d.Now()
	occ := store.PromptOccurrence{ClientID: p.ClientID, PromptID: p.PromptID, Session: p.Session, At: time.Unix(p.At, 0).UTC()}
	log := h.d.Logger.With("client_id", p.ClientID, "prompt_id", p.PromptID, "session", p.Session)
	ctx = withDue(ctx, occ.At)

	sub, err := h.d.Store.Subscriber(ctx, p.ClientID)
	if errors.Is(err, store.ErrNotFound) {
		log.Info("prompt skipped", "reason", "client gone")
		return nil // erased: nothing to record against
	}
	if err != nil {
		return err
	}
	if sub.Clinic == "" {
		log.Warn("prompt skipped", "reason", "not a clinic's client")
		return nil
	}
	log = log.With("clinic_id", sub.Clinic)
	key := func(c domain.Channel) store.DeliveryKey {
		return store.DeliveryKey{SubscriberID: sub.ID, Program: domain.BetweenSession, Date: occ.Key(), Channel: c}
	}
	channels := wantedChannels(sub)
	h.settleUnwanted(ctx, log, sub, channels, key)
	if len(channels) == 0 {
		log.Info("prompt skipped", "reason", "no channel the client confirmed")
		return nil
	}
	skipAll := func(reason string) error { return h.skipAll(ctx, log, "prompt", sub, channels, key, reason) }
	if sub.Status != domain.Active {
		return skipAll("client " + string(sub.Status))
	}
	// After distress the clinic has its flag; prompts wait for the client.
	if !sub.DistressAt.IsZero() {
		return skipAll("held after a reply in distress, until the client resumes")
	}
	if now.Before(sub.PausedUntil) {
		return skipAll("paused")
	}
	planned, err := h.d.Store.PromptPlanned(ctx, occ)
	if err != nil {
		return err
	}
	if !planned {
		return skipAll(ReasonNotPlanned)
	}
	if late := now.Sub(occ.At); late > h.d.Grace {
		return skipAll(fmt.Sprintf("too late (%s after its time)", late.Round(time.Minute)))
	}
	clinic, err := h.d.Store.Clinic(ctx, sub.Clinic)
	if errors.Is(err, store.ErrNotFound) {
		return skipAll("clinic gone")
	}
	if err != nil {
		return err
	}
	prompt, err := h.d.Store.Prompt(ctx, sub.ID, p.PromptID)
	if errors.Is(err, store.ErrNotFound) {
		return skipAll(ReasonNotPlanned)
	}
	if err != nil {
		return err
	}
	loc, err := scheduler.LoadZone(sub.TimeZone)
	if err != nil {
		return skipAll("time zone unknown")
	}

	data := render.Data{FirstName: sub.FirstName, Goal: sub.Goal, Locale: sub.Locale, Week: 1, Sender: clinic.DisplayName, SignOff: clinic.SignOff, Country: countryOf(sub), ClinicCrisis: clinic.CrisisText}
	var (
		emailOf func(render.Links) (render.Email, error)
		textOf  func(render.SMSFooter) (string, error)
	)
	switch {
	case prompt.Template > 0:
		msg, err := h.d.Library.Pick(domain.BetweenSession, sub.Locale, int64(prompt.Template-1))
		if err != nil {
			return fmt.Errorf("pick prompt message: %v: %w", err, asynq.SkipRetry)
		}
		emailOf = func(l render.Links) (render.Email, error) { return h.d.Renderer.Email(msg, data, l) }
		textOf = func(f render.SMSFooter) (string, error) { return h.d.Renderer.SMS(msg, data, f) }
	case prompt.Text != "":
		// The clinic's own words: placed as written, never run as a template.
		emailOf = func(l render.Links) (render.Email, error) { return h.d.Renderer.TextEmail(prompt.Text, data, l) }
		textOf = func(f render.SMSFooter) (string, error) { return h.d.Renderer.TextSMS(prompt.Text, data, f) }
	default:
		return skipAll("the prompt has no message")
	}

	// The cap is taken last, so that nothing above uses up a slot. A retry
	// of an occurrence already let through passes again.
	dayStart, dayEnd := localDay(occ.At, loc)
	capDay, capWeek := clinic.CapDay, clinic.CapWeek
	if capDay <= 0 {
		capDay = domain.DefaultCapDay
	}
	if capWeek <= 0 {
		capWeek = domain.DefaultCapWeek
	}
	ok, err := h.d.Store.PassCap(ctx, occ, dayStart, dayEnd, capDay, capWeek)
	if err != nil {
		return err
	}
	if !ok {
		return skipAll(ReasonFrequencyCap)
	}

	from := h.fromClinic(clinic)
	// Once it goes out on some channel, a reply answers this occurrence.
	lastNudge := string(domain.BetweenSession) + ":" + occ.Key()
	var errs []error
	for _, c := range channels {
		clog := log.With("channel", c)
		switch c {
		case domain.Email:
			errs = append(errs, h.deliverEmailAs(ctx, clog, key(c), sub, p.ID(), from, lastNudge, emailOf))
		case domain.SMS:
			errs = append(errs, h.deliverSMS(ctx, clog, key(c), sub, lastNudge, textOf))
		}
	}
	err = combine(errs)
	if err == nil {
		// The prompt before this one now counts as unanswered if nothing
		// answered it (console alerts).
		h.notePromptSent(ctx, log, sub.ID, lastNudge)
	}
	return err
}

// localDay returns the bounds of the local date of at in loc: [its first
// instant, the first instant of the next date). A midnight the clocks skip
// starts the day when the clocks resume; one they repeat, at its first
// instant.
func localDay(at time.Time, loc *time.Location) (time.Time, time.Time) {
	y, m, d := at.In(loc).Date()
	ny, nm, nd := time.Date(y, m, d+1, 0, 0, 0, 0, time.UTC).Date()
	return scheduler.ResolveLocal(loc, y, m, d, 0, 0), scheduler.ResolveLocal(loc, ny, nm, nd, 0, 0)
}
