package worker

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"time"

	"github.com/hibiken/asynq"
	"github.com/nudgehq/nudge/internal/domain"
	"github.com/nudgehq/nudge/internal/render"
	"github.com/nudgehq/nudge/internal/sms"
	"github.com/nudgehq/nudge/internal/store"
	"github.com/nudgehq/nudge/internal/task"
	"github.com/nudgehq/nudge/scheduler"
	"github.com/nudgehq/nudge/templates"
)

// OptOutReminder is how often, at the least, a text carries the opt-out
// words after the first one did.
const OptOutReminder = 30 * 24 * time.Hour

// deliverSMS sends one nudge or prompt by text: inside the subscriber's
// quiet-hours window only, within the shared rate, claimed before the
// provider call. text renders the body with the footer it is given.
func (h *Handler) deliverSMS(ctx context.Context, log *slog.Logger, key store.DeliveryKey, sub domain.Subscriber, lastNudge string, text func(render.SMSFooter) (string, error)) error {
	now := h.d.Now()
	if h.d.SMS == nil {
		log.Warn("nudge skipped", "reason", "no SMS channel configured")
		return h.skip(ctx, log, sub, key, "no SMS channel configured")
	}
	if !h.inWindow(sub, now) {
		log.Info("nudge skipped", "reason", "outside quiet-hours window")
		return h.skip(ctx, log, sub, key, "outside the SMS window "+h.d.SMSWindow.String())
	}
	footer := render.FooterNone
	if sub.SMSFooterAt.IsZero() || now.Sub(sub.SMSFooterAt) >= OptOutReminder {
		footer = render.FooterOptOut
	}
	body, err := text(footer)
	if err != nil {
		// No retry can make it fit: say so in the record.
		return errors.Join(h.skip(ctx, log, sub, key, "the message does not fit in a text"), fmt.Errorf("render sms: %v: %w", err, asynq.SkipRetry))
	}

	// The number's suppression is checked with the claim.
	return h.sendText(ctx, log, key, sub, body, footer == render.FooterOptOut,
		sendOpts{guard: h.d.Store.SuppressionGuard(sub, domain.SMS), lastNudge: lastNudge})
}

// sendText claims a text's delivery record, sends it once within the shared
// rate, and records the outcome. Twilio's errors are classified here.
func (h *Handler) sendText(ctx context.Context, log *slog.Logger, key store.DeliveryKey, sub domain.Subscriber, body string, withFooter bool, o sendOpts) error {
	now := h.d.Now()
	if ok, err := h.claim(ctx, log, key, sub, o); !ok {
		return err
	}
	if h.d.SMSLimit != nil {
		if err := h.waitRate(ctx, h.d.SMSLimit, domain.SMS); err != nil {
			return errors.Join(h.release(ctx, key), fmt.Errorf("wait for the sms rate: %w", err))
		}
	}
	sid, err := h.d.SMS.Send(ctx, sms.Message{To: sub.Phone, Body: body, StatusCallback: h.d.Links.StatusCallback()})
	class := sms.Accepted
	if err != nil {
		class = sms.Classify(err)
	}
	switch class {
	case sms.Accepted:
		// Replies from the number answer the record a nudge or prompt last
		// went out from; a confirmation request never moves them.
		marks := store.SentMarks{LastNudge: o.lastNudge}
		if o.lastNudge != "" {
			marks.RoutePhone = sub.Phone
		}
		if o.confirmRequest {
			marks.SMSAskedAt = now
		}
		if withFooter {
			marks.SMSFooterAt = now
		}
		if err := h.finishSent(ctx, key, sid, marks); err != nil {
			return err
		}
		log.Info("sms sent", "sid", sid)
		h.sent(ctx, key)
		return nil
	case sms.Temporary:
		return h.temporary(ctx, log, key, err)
	case sms.Unknown:
		return h.end(ctx, log, key, store.Unknown, "connection lost after the request was sent", err)
	default:
		reason := "refused by the provider"
		if sms.OptedOut(err) {
			reason = "the number has opted out with the carrier"
			if serr := h.d.Store.StopSMS(ctx, sub.ID, store.ConsentEvent{At: now, Action: store.ConsentSMSStop, Channel: string(domain.SMS), Source: "provider", Detail: "error 21610"}); serr != nil {
				log.Warn("could not record the opt-out", "err", serr)
			}
		}
		// Only a refusal of the number itself counts towards suppressing it
		// (a bad account token must not suppress everyone).
		var serr *sms.SendError
		if errors.As(err, &serr) && serr.RecipientFault() && !sms.OptedOut(err) {
			h.countFailure(ctx, log, sub.Phone)
		}
		return h.end(ctx, log, key, store.Failed, reason, err)
	}
}

// SendSMSConfirm texts a new number asking it to reply YES; nothing else is
// texted before it does. The text carries nothing a person typed (no name, no
// link), goes out only inside the quiet-hours window of the zone given with
// the number (outside it, the task waits for the window's next opening), and
// counts against the number's own budget, whichever door asked for it.
func (h *Handler) SendSMSConfirm(ctx context.Context, t *asynq.Task) error {
	var p task.SendConfirmation
	if err := task.Decode(t, &p); err != nil {
		return err
	}
	log := h.d.Logger.With("subscriber_id", p.SubscriberID, "message", "sms-confirm")
	sub, err := h.d.Store.Subscriber(ctx, p.SubscriberID)
	if errors.Is(err, store.ErrNotFound) {
		log.Info("sms confirmation skipped", "reason", "subscriber gone")
		return nil
	}
	if err != nil {
		return err
	}
	if sub.SMSStatus != domain.SMSPending || sub.Phone == "" || h.d.SMS == nil {
		log.Info("sms confirmation skipped", "reason", "nothing to confirm")
		return nil
	}
	if sup, err := h.d.Store.Suppressed(ctx, sub.Phone); err != nil {
		return err
	} else if sup {
		log.Info("sms confirmation skipped", "reason", "number suppressed")
		return nil
	}
	now := h.d.Now()
	if loc, err := scheduler.LoadZone(sub.TimeZone); err == nil && !h.d.SMSWindow.Contains(now, loc) {
		open := h.d.SMSWindow.Defer(now, loc)
		log.Info("sms confirmation waits for the window", "at", open.UTC().Format(time.RFC3339))
		return &Deferred{Delay: open.Sub(now)}
	}
	key := store.DeliveryKey{SubscriberID: sub.ID, Program: "system-sms-confirm", Date: p.Nonce, Channel: domain.SMS}
	if h.d.NumberBudget != nil {
		d, err := h.d.Store.Delivery(ctx, key)
		if err != nil && !errors.Is(err, store.ErrNotFound) {
			return err
		}
		if d.State == "" { // a retry of a text already counted takes nothing more
			ok, err := h.d.NumberBudget.AllowNumber(ctx, sub.Phone)
			if err != nil {
				return err
			}
			if !ok {
				log.Warn("sms confirmation skipped", "reason", "number over its confirmation budget")
				return h.skip(ctx, log, sub, key, "the number has had its confirmation texts for now")
			}
		}
	}
	// A clinic's client is asked in the clinic's display name.
	name, data := templates.SMSConfirm, render.Data{Locale: sub.Locale}
	if sub.Clinic != "" {
		c, err := h.d.Store.Clinic(ctx, sub.Clinic)
		if err != nil {
			return err
		}
		name, data.Sender = templates.ClinicSMSConfirm, c.DisplayName
	}
	msg, err := h.d.Library.System(name, sub.Locale)
	if err != nil {
		return fmt.Errorf("load %s: %v: %w", name, err, asynq.SkipRetry)
	}
	body, err := h.d.Renderer.SMS(msg, data, render.FooterOptOut)
	if err != nil {
		return fmt.Errorf("render %s: %v: %w", name, err, asynq.SkipRetry)
	}
	return h.sendText(ctx, log, key, sub, body, true, sendOpts{confirmRequest: true})
}

// Deferred is returned by a task that must wait (a confirmation text outside
// the quiet-hours window): asynq runs it again after Delay, and the wait is
// not a failure, so it uses up no retry.
type Deferred struct{ Delay time.Duration }

func (d *Deferred) Error() string { return fmt.Sprintf("deferred for %s", d.Delay.Round(time.Second)) }

// IsFailure tells asynq which errors are failures: every one but a wait.
func IsFailure(err error) bool {
	var d *Deferred
	return !errors.As(err, &d)
}
