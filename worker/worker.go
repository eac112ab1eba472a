// Package worker holds the asynq handlers that turn queued tasks into
// messages: deliver a nudge, deliver a clinic's between-session prompt
// (prompt.go), send a confirmation, send a one-off notice, post a clinic's
// event to its webhook URL.
//
// Every handler re-reads the subscriber when it runs, so an unsubscribe, a
// schedule change or an erasure made after the task was queued wins. Before a
// provider is called the occurrence is claimed in a delivery record; a retry
// that finds the message sent stops, and one that finds a claim left by a
// crashed attempt records "unknown" instead of sending again: a rare miss is
// better than a duplicate.
//
// A clinic's client hears from the clinic: its confirmations use the clinic's
// neutral wording, every text opens with the clinic's display name and every
// email is sent From it (with the service's address) and signed with its
// sign-off. Each delivery record of a client is indexed for the clinic API,
// and after any text is accepted, replies from the number are routed to the
// record that sent it.
package worker

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"net/mail"
	"slices"
	"time"

	"github.com/hibiken/asynq"
	"github.com/nudgehq/nudge/internal/crisis"
	"github.com/nudgehq/nudge/internal/domain"
	"github.com/nudgehq/nudge/internal/email"
	"github.com/nudgehq/nudge/internal/links"
	"github.com/nudgehq/nudge/internal/notify"
	"github.com/nudgehq/nudge/internal/render"
	"github.com/nudgehq/nudge/internal/sms"
	"github.com/nudgehq/nudge/internal/store"
	"github.com/nudgehq/nudge/internal/task"
	"github.com/nudgehq/nudge/scheduler"
	"github.com/nudgehq/nudge/templates"
)

// EmailSender delivers one email. The SMTP channel and the dev outbox both
// satisfy it.
type EmailSender interface {
	Send(ctx context.Context, m email.Message) error
}

// SMSSender delivers one text and returns the provider's id for it. The
// Twilio channel and the dev outbox both satisfy it.
type SMSSender interface {
	Send(ctx context.Context, m sms.Message) (string, error)
}

// Limiter holds a send until the channel's shared rate allows it. Waiting is
// not a failure and uses no retry.
type Limiter interface {
	Wait(ctx context.Context) error
}

// Deps is what the handlers need.
type Deps struct {
	Store    *store.Store
	Library  *templates.Library
	Renderer *render.Renderer
	Links    *links.Builder
	Email    EmailSender
	SMS      SMSSender // nil: no SMS channel
	// EmailLimit and SMSLimit, when set, share each channel's rate across
	// every worker.
	EmailLimit, SMSLimit Limiter
	// SMSWindow is the local-time window texts may go out in.
	SMSWindow scheduler.Window
	From      string        // the From header
	Grace     time.Duration // how late a nudge may still go out
	Now       func() time.Time
	Logger    *slog.Logger
	// WebhookGuard says which receivers clinics' events may be posted to;
	// the zero Guard has the production rules (https, public addresses).
	WebhookGuard notify.Guard
	// Webhooks posts clinics' events; nil: NewWebhookClient(WebhookGuard).
	// A client given here should dial through the guard too.
	Webhooks *http.Client
	// Events raises clinics' events (delivery.failed); nil: none.
	Events Notifier
	// NumberBudget counts confirmation texts per number; nil: no budget.
	NumberBudget NumberBudget
	// Metrics counts outcomes, lateness and rate waits; nil: none.
	Metrics Metrics
	// Enqueue queues follow-up tasks (an alert escalation that ran before
	// its time, after the clinic lengthened it); nil: such a task is retried.
	Enqueue Enqueuer
}

// Enqueuer is the part of asynq.Client the worker uses.
type Enqueuer interface {
	EnqueueContext(ctx context.Context, t *asynq.Task, opts ...asynq.Option) (*asynq.TaskInfo, error)
}

// NumberBudget takes one confirmation text from a number's budget
// (signuplimit.Limits satisfies it).
type NumberBudget interface {
	AllowNumber(ctx context.Context, phone string) (bool, error)
}

// Metrics counts what the handlers do (metrics.Metrics satisfies it).
type Metrics interface {
	Message(channel, program, state string)
	Lateness(channel string, late time.Duration)
	RateLimitWait(channel string, d time.Duration)
	Webhook(result string)
}

// noMetrics counts nothing.
type noMetrics struct{}

func (noMetrics) Message(string, string, string)      {}
func (noMetrics) Lateness(string, time.Duration)      {}
func (noMetrics) RateLimitWait(string, time.Duration) {}
func (noMetrics) Webhook(string)                      {}

// dueKey carries an occurrence's planned instant to the send.
type dueKey struct{}

// withDue notes the planned instant of the occurrence being delivered, so
// the send can measure how late it is.
func withDue(ctx context.Context, at time.Time) context.Context {
	return context.WithValue(ctx, dueKey{}, at)
}

// sent counts a message the provider accepted and, for a planned
// occurrence, how late it went.
func (h *Handler) sent(ctx context.Context, key store.DeliveryKey) {
	h.d.Metrics.Message(string(key.Channel), string(key.Program), string(store.Sent))
	if due, ok := ctx.Value(dueKey{}).(time.Time); ok {
		h.d.Metrics.Lateness(string(key.Channel), h.d.Now().Sub(due))
	}
}

// waitRate waits for the channel's shared rate and counts the time waited.
func (h *Handler) waitRate(ctx context.Context, l Limiter, c domain.Channel) error {
	start := time.Now() // the wait is real time, whatever the injected clock says
	err := l.Wait(ctx)
	h.d.Metrics.RateLimitWait(string(c), time.Since(start))
	return err
}

// Handler handles every task type nudge queues.
type Handler struct{ d Deps }

// New returns a Handler.
func New(d Deps) *Handler {
	if d.Webhooks == nil {
		d.Webhooks = NewWebhookClient(d.WebhookGuard)
	}
	if d.Metrics == nil {
		d.Metrics = noMetrics{}
	}
	return &Handler{d: d}
}

// Mux routes each task type to its handler.
func (h *Handler) Mux() *asynq.ServeMux {
	mux := asynq.NewServeMux()
	mux.HandleFunc(task.TypeDeliverNudge, h.DeliverNudge)
	mux.HandleFunc(task.TypeSendConfirmation, h.SendConfirmation)
	mux.HandleFunc(task.TypeSendNotice, h.SendNotice)
	mux.HandleFunc(task.TypeSendSMSConfirm, h.SendSMSConfirm)
	mux.HandleFunc(task.TypeDeliverPrompt, h.DeliverPrompt)
	mux.HandleFunc(task.TypeDeliverWebhook, h.DeliverWebhook)
	mux.HandleFunc(task.TypeSendConsoleLink, h.SendConsoleLink)
	mux.HandleFunc(task.TypeSendAlertEmail, h.SendAlertEmail)
	mux.HandleFunc(task.TypeEscalateAlert, h.EscalateAlert)
	mux.HandleFunc(task.TypeSendDigest, h.SendDigest)
	return mux
}

// SendConfirmation sends the double opt-in email to a pending subscriber.
func (h *Handler) SendConfirmation(ctx context.Context, t *asynq.Task) error {
	var p task.SendConfirmation
	if err := task.Decode(t, &p); err != nil {
		return err
	}
	log := h.d.Logger.With("subscriber_id", p.SubscriberID, "message", "confirm")
	sub, err := h.d.Store.Subscriber(ctx, p.SubscriberID)
	if errors.Is(err, store.ErrNotFound) {
		log.Info("confirmation skipped", "reason", "subscriber gone")
		return nil
	}
	if err != nil {
		return err
	}
	if sub.Status != domain.Pending {
		log.Info("confirmation skipped", "reason", "subscriber "+string(sub.Status))
		return nil
	}
	// A clinic's client is asked in the clinic's name and neutral words.
	name, data, from := templates.Confirm, render.Data{FirstName: sub.FirstName, Locale: sub.Locale, Week: 1, Country: countryOf(sub)}, h.d.From
	if sub.Clinic != "" {
		c, err := h.d.Store.Clinic(ctx, sub.Clinic)
		if err != nil {
			return err
		}
		name, data.Sender, data.SignOff, data.ClinicCrisis, from = templates.ClinicConfirm, c.DisplayName, c.SignOff, c.CrisisText, h.fromClinic(c)
	}
	msg, err := h.d.Library.System(name, sub.Locale)
	if err != nil {
		return fmt.Errorf("load %s message: %v: %w", name, err, asynq.SkipRetry)
	}
	out, err := h.d.Renderer.Email(msg, data, render.Links{
		Manage: h.d.Links.Manage(sub.ID), Unsubscribe: h.d.Links.Unsubscribe(sub.ID),
		Action: h.d.Links.Confirm(sub.ID), ActionLabel: confirmLabel(sub.Locale),
	})
	if err != nil {
		return fmt.Errorf("render confirmation: %v: %w", err, asynq.SkipRetry)
	}
	key := store.DeliveryKey{SubscriberID: sub.ID, Program: "system-confirm", Date: p.Nonce, Channel: domain.Email}
	return h.sendAs(ctx, log, key, sub, out, "confirm."+sub.ID+"."+p.Nonce, from, sendOpts{})
}

// SendNotice sends a one-off system email (already subscribed, welcome) to
// an active subscriber.
func (h *Handler) SendNotice(ctx context.Context, t *asynq.Task) error {
	var p task.SendNotice
	if err := task.Decode(t, &p); err != nil {
		return err
	}
	log := h.d.Logger.With("subscriber_id", p.SubscriberID, "message", p.Kind)
	sub, err := h.d.Store.Subscriber(ctx, p.SubscriberID)
	if errors.Is(err, store.ErrNotFound) {
		log.Info("notice skipped", "reason", "subscriber gone")
		return nil
	}
	if err != nil {
		return err
	}
	if sub.Status != domain.Active {
		log.Info("notice skipped", "reason", "subscriber "+string(sub.Status))
		return nil
	}
	if sub.Clinic != "" {
		// The notices speak of the public programs; a clinic's client hears
		// only from the clinic.
		log.Info("notice skipped", "reason", "not for a clinic's client")
		return nil
	}
	msg, err := h.d.Library.System(p.Kind, sub.Locale)
	if err != nil {
		return fmt.Errorf("load %s message: %v: %w", p.Kind, err, asynq.SkipRetry)
	}
	out, err := h.d.Renderer.Email(msg, render.Data{FirstName: sub.FirstName, Locale: sub.Locale, Week: 1, Country: countryOf(sub)}, render.Links{
		Manage: h.d.Links.Manage(sub.ID), Unsubscribe: h.d.Links.Unsubscribe(sub.ID),
	})
	if err != nil {
		return fmt.Errorf("render %s: %v: %w", p.Kind, err, asynq.SkipRetry)
	}
	key := store.DeliveryKey{SubscriberID: sub.ID, Program: domain.Program("system-" + p.Kind), Date: p.Nonce, Channel: domain.Email}
	return h.send(ctx, log, key, sub, out, p.Kind+"."+sub.ID+"."+p.Nonce)
}

func confirmLabel(locale string) string {
	if locale == "es" {
		return "Sí, quiero recibirlos"
	}
	return "Yes, send me these"
}

// fromClinic is the From header of a clinic's email: the clinic's display
// name with the service's own address.
func (h *Handler) fromClinic(c domain.Clinic) string {
	a, err := mail.ParseAddress(h.d.From)
	if err != nil || c.DisplayName == "" {
		return h.d.From
	}
	a.Name = c.DisplayName
	return a.String()
}

// skip records that a delivery was not made on purpose, and why. On a claim
// left by an attempt that stopped (a crash between claiming and recording)
// the store records unknown instead: that attempt may have sent it.
func (h *Handler) skip(ctx context.Context, log *slog.Logger, sub domain.Subscriber, key store.DeliveryKey, reason string) error {
	st, err := h.d.Store.SkipDelivery(ctx, key, reason, h.d.Now())
	if err != nil {
		return err
	}
	if st == "" {
		return nil // ended before: nothing written
	}
	if st == store.Unknown {
		log.Warn("delivery unknown", "channel", key.Channel, "reason", "an earlier attempt stopped after claiming")
	}
	h.d.Metrics.Message(string(key.Channel), string(key.Program), string(st))
	h.index(ctx, log, sub, key)
	return nil
}

// settleUnwanted, on a retry, ends as unknown the claims an earlier attempt
// left on channels the person no longer wants (they unsubscribed from
// email, texted STOP, or changed channels while the attempt was stuck):
// the retry's own skip or send covers only the channels still wanted, and
// a claim no one ends would stay claimed for good. A first attempt has no
// earlier claims and costs nothing here.
func (h *Handler) settleUnwanted(ctx context.Context, log *slog.Logger, sub domain.Subscriber, wanted []domain.Channel, key func(domain.Channel) store.DeliveryKey) {
	if retried, _ := asynq.GetRetryCount(ctx); retried == 0 {
		return
	}
	for _, c := range []domain.Channel{domain.Email, domain.SMS} {
		if slices.Contains(wanted, c) {
			continue
		}
		st, err := h.d.Store.SettleClaim(ctx, key(c), h.d.Now())
		if err != nil {
			log.Warn("could not settle an earlier claim", "channel", c, "err", err)
			continue
		}
		if st == store.Unknown {
			log.Warn("delivery unknown", "channel", c, "reason", "an earlier attempt stopped after claiming; the channel is no longer wanted")
			h.d.Metrics.Message(string(c), string(key(c).Program), string(st))
			h.index(ctx, log, sub, key(c))
		}
	}
}

// index lists a clinic client's delivery record for the clinic API. A
// failure costs the listing, never the delivery: it is only logged.
func (h *Handler) index(ctx context.Context, log *slog.Logger, sub domain.Subscriber, key store.DeliveryKey) {
	if sub.Clinic == "" {
		return
	}
	if err := h.d.Store.IndexDelivery(ctx, key, h.d.Now()); err != nil {
		log.Warn("could not index the delivery record", "err", err)
	}
}

// sendOpts are what a nudge or prompt asks of a send beyond the message: the
// suppression check made with the claim, and the mark written with the
// "sent" record. System messages (confirmations, notices) use none.
type sendOpts struct {
	guard     store.Guard
	lastNudge string // "<program>:<date>" a reply from now on answers
	// confirmRequest marks a text asking the number to reply YES.
	confirmRequest bool
}

// claim claims key for an attempt. It reports false, with nil, when this
// attempt must not send: handled before, or the address is suppressed (then
// recorded as skipped).
func (h *Handler) claim(ctx context.Context, log *slog.Logger, key store.DeliveryKey, sub domain.Subscriber, o sendOpts) (bool, error) {
	err := h.d.Store.ClaimDelivery(ctx, key, h.d.Now(), o.guard)
	if errors.Is(err, store.ErrSuppressed) {
		log.Info("nudge skipped", "reason", "suppressed")
		h.d.Metrics.Message(string(key.Channel), string(key.Program), string(store.Skipped))
		h.index(ctx, log, sub, key)
		return false, nil
	}
	if st, ok := store.IsAlreadyHandled(err); ok {
		log.Warn("not sending again", "state", st)
		return false, nil
	}
	if err != nil {
		return false, err
	}
	h.index(ctx, log, sub, key)
	return true, nil
}

// send sends an email from the service; see sendAs.
func (h *Handler) send(ctx context.Context, log *slog.Logger, key store.DeliveryKey, sub domain.Subscriber, out render.Email, messageKey string) error {
	return h.sendAs(ctx, log, key, sub, out, messageKey, h.d.From, sendOpts{})
}

// sendAs claims the occurrence, calls the provider once with the From header
// from, and records the outcome. Errors are classified here and only here.
func (h *Handler) sendAs(ctx context.Context, log *slog.Logger, key store.DeliveryKey, sub domain.Subscriber, out render.Email, messageKey, from string, o sendOpts) error {
	if ok, err := h.claim(ctx, log, key, sub, o); !ok {
		return err
	}
	if h.d.EmailLimit != nil {
		if err := h.waitRate(ctx, h.d.EmailLimit, domain.Email); err != nil {
			return errors.Join(h.release(ctx, key), fmt.Errorf("wait for the email rate: %w", err))
		}
	}
	unsubscribe := h.d.Links.Unsubscribe(sub.ID)
	m := email.Message{
		From: from, To: sub.Email, Subject: out.Subject, Text: out.Text, HTML: out.HTML,
		MessageID: "<" + messageKey + "@" + h.d.Links.Host() + ">",
		Headers: map[string]string{
			"List-Unsubscribe":      "<" + unsubscribe + ">",
			"List-Unsubscribe-Post": "List-Unsubscribe=One-Click",
		},
	}
	err := h.d.Email.Send(ctx, m)
	class := email.Accepted
	if err != nil {
		class = email.Classify(err)
	}
	switch class {
	case email.Accepted:
		if err := h.finishSent(ctx, key, m.MessageID, store.SentMarks{LastNudge: o.lastNudge}); err != nil {
			return err // never resent: the claim stays (record.go)
		}
		log.Info("email sent")
		h.sent(ctx, key)
		return nil
	case email.Temporary:
		return h.temporary(ctx, log, key, err)
	case email.Unknown:
		return h.end(ctx, log, key, store.Unknown, "connection lost after the message was handed over", err)
	default:
		var serr *email.SendError
		if errors.As(err, &serr) && serr.RecipientFault() {
			h.countFailure(ctx, log, sub.Email)
		}
		return h.end(ctx, log, key, store.Failed, "refused by the mail server", err)
	}
}

// temporary handles a failure the provider may not repeat: the claim is
// released for asynq's retry, or, on the last attempt, the record ends failed.
func (h *Handler) temporary(ctx context.Context, log *slog.Logger, key store.DeliveryKey, err error) error {
	if lastAttempt(ctx) {
		return h.end(ctx, log, key, store.Failed, "temporary failures, out of retries", err)
	}
	log.Warn("delivery deferred", "reason", "temporary failure")
	if ferr := h.release(ctx, key); ferr != nil {
		return ferr
	}
	return fmt.Errorf("send %s: %w", key.Channel, err)
}

// end records a final outcome other than sent and stops asynq's retries.
func (h *Handler) end(ctx context.Context, log *slog.Logger, key store.DeliveryKey, st store.DeliveryState, reason string, err error) error {
	log.Warn("delivery ended", "state", st, "reason", reason)
	h.d.Metrics.Message(string(key.Channel), string(key.Program), string(st))
	if st == store.Failed {
		defer h.clientFailed(ctx, log, key, reason) // after the record is written
	}
	return h.finishEnded(ctx, key, st, reason, err)
}

// lastAttempt reports whether asynq will not run this task again if it fails.
// Outside asynq (a direct call) there is no retry budget to know about.
func lastAttempt(ctx context.Context) bool {
	retried, ok1 := asynq.GetRetryCount(ctx)
	maxRetry, ok2 := asynq.GetMaxRetry(ctx)
	return ok1 && ok2 && retried >= maxRetry
}

// countFailure counts a permanent refusal of an address or number; past the
// threshold it is suppressed and nothing more is sent to it.
func (h *Handler) countFailure(ctx context.Context, log *slog.Logger, addr string) {
	suppressed, err := h.d.Store.RecordPermanentFailure(ctx, addr)
	if err != nil {
		log.Warn("could not count the failure", "err", err)
		return
	}
	if suppressed {
		log.Warn("address suppressed after repeated permanent failures")
	}
}

// release gives back a claim after an attempt that certainly did not reach
// the provider, so the next attempt may send. If even that fails, the claim
// stays and the next attempt records unknown (it is not stopped with
// SkipRetry, which would leave the record claimed for good).
func (h *Handler) release(ctx context.Context, key store.DeliveryKey) error {
	if err := record(ctx, func(ctx context.Context) error {
		return h.d.Store.FinishDelivery(ctx, key, store.Retry, "", "temporary failure", h.d.Now())
	}); err != nil {
		return fmt.Errorf("release claim: %w", err)
	}
	return nil
}

// countryOf is the person's country for the crisis resources in an email's
// footer: from the number, else the time zone.
func countryOf(sub domain.Subscriber) string {
	return crisis.CountryFor(sub.Phone, sub.TimeZone)
}
