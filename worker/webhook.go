package worker

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"time"

	"github.com/hibiken/asynq"
	"github.com/nudgehq/nudge/internal/notify"
	"github.com/nudgehq/nudge/internal/store"
	"github.com/nudgehq/nudge/internal/task"
)

// Notifier raises a clinic's events (notify.Notifier satisfies it).
type Notifier interface {
	Emit(ctx context.Context, clinicID, eventType string, data any) error
}

// WebhookTimeout bounds one post to a clinic's endpoint: a slow endpoint
// holds one low-queue worker slot for at most this long, never a nudge.
const WebhookTimeout = 10 * time.Second

// NewWebhookClient returns the HTTP client webhooks are posted with: a short
// timeout, its own connection pool, connections only to the addresses g
// allows (checked after DNS), and redirects not followed (a redirected POST
// would lose its body; a 3xx counts as a failure).
func NewWebhookClient(g notify.Guard) *http.Client {
	return g.Client(WebhookTimeout)
}

// DeliverWebhook posts one stored event to its clinic's webhook URL, signed
// with the clinic's secret (see package notify). A 2xx answer ends the task;
// anything else, or no answer, is an error and asynq tries again later with
// the same event. An event, clinic, URL or client gone since means there is
// nothing to deliver. A receiver the guard refuses (an http URL in
// production, credentials in the URL, an address that is not public once
// resolved) is counted as refused and not tried again: the same URL would
// be refused again.
func (h *Handler) DeliverWebhook(ctx context.Context, t *asynq.Task) error {
	var p task.DeliverWebhook
	if err := task.Decode(t, &p); err != nil {
		return err
	}
	log := h.d.Logger.With("clinic_id", p.ClinicID, "event_id", p.EventID)
	body, err := h.d.Store.Event(ctx, p.EventID)
	if errors.Is(err, store.ErrNotFound) {
		log.Info("webhook dropped", "reason", "event expired")
		return nil
	}
	if err != nil {
		return err
	}
	var ev struct {
		Type     string `json:"type"`
		ClinicID string `json:"clinic_id"`
		Data     struct {
			ClientID string `json:"client_id"`
		} `json:"data"`
	}
	if err := json.Unmarshal(body, &ev); err != nil || ev.ClinicID != p.ClinicID {
		return fmt.Errorf("event %s does not belong to clinic %s: %w", p.EventID, p.ClinicID, asynq.SkipRetry)
	}
	if id := ev.Data.ClientID; id != "" {
		// An erasure made after the event wins, as it does for messages:
		// what the event says about the client is forgotten, unsent.
		if _, err := h.d.Store.Client(ctx, p.ClinicID, id); errors.Is(err, store.ErrNotFound) {
			log.Info("webhook dropped", "reason", "client erased")
			return h.d.Store.DeleteEvent(ctx, p.EventID)
		} else if err != nil {
			return err
		}
	}
	clinic, err := h.d.Store.Clinic(ctx, p.ClinicID)
	if errors.Is(err, store.ErrNotFound) {
		log.Info("webhook dropped", "reason", "clinic gone")
		return nil
	}
	if err != nil {
		return err
	}
	if clinic.WebhookURL == "" {
		log.Info("webhook dropped", "reason", "clinic has no webhook URL")
		return nil
	}
	secret, err := h.d.Store.ClinicWebhookSecret(ctx, p.ClinicID)
	if errors.Is(err, store.ErrNotFound) {
		log.Info("webhook dropped", "reason", "clinic gone")
		return nil
	}
	if err != nil {
		return err
	}
	if err := h.d.WebhookGuard.CheckURL(clinic.WebhookURL); err != nil {
		return h.webhookRefused(log, p.EventID, err)
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, clinic.WebhookURL, bytes.NewReader(body))
	if err != nil {
		return fmt.Errorf("webhook request: %v: %w", err, asynq.SkipRetry)
	}
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("User-Agent", "nudge-webhooks")
	req.Header.Set("Nudge-Event-Id", p.EventID)
	req.Header.Set("Nudge-Event-Type", ev.Type)
	req.Header.Set(notify.SignatureHeader, notify.Sign(secret, h.d.Now(), body))
	res, err := h.d.Webhooks.Do(req)
	if errors.Is(err, notify.ErrReceiverRefused) {
		return h.webhookRefused(log, p.EventID, err)
	}
	if err != nil {
		// The error names the URL, which is the clinic's and may hold a
		// token: it goes to asynq (whose log shows the task only), not here.
		return h.webhookFailed(ctx, log, "no answer", 0, fmt.Errorf("post event %s: %w", p.EventID, err))
	}
	_, _ = io.Copy(io.Discard, io.LimitReader(res.Body, 64<<10))
	res.Body.Close()
	if res.StatusCode < 200 || res.StatusCode > 299 {
		return h.webhookFailed(ctx, log, "status", res.StatusCode, fmt.Errorf("post event %s: status %d", p.EventID, res.StatusCode))
	}
	log.Info("webhook delivered", "type", ev.Type, "status", res.StatusCode)
	h.d.Metrics.Webhook("delivered")
	return nil
}

// webhookRefused records a post the guard refused. The log line carries the
// fixed reason only (the detail names the receiver's address); the whole
// error goes to asynq, which keeps it with the task.
func (h *Handler) webhookRefused(log *slog.Logger, eventID string, err error) error {
	reason := "refused"
	var re *notify.RefusedError
	if errors.As(err, &re) {
		reason = re.Reason
	}
	log.Warn("webhook refused", "reason", reason)
	h.d.Metrics.Webhook("refused")
	return fmt.Errorf("post event %s: %w: %w", eventID, err, asynq.SkipRetry)
}

// webhookFailed logs a failed post, loudly once it was the last try.
func (h *Handler) webhookFailed(ctx context.Context, log *slog.Logger, reason string, status int, err error) error {
	retried, _ := asynq.GetRetryCount(ctx)
	if lastAttempt(ctx) {
		log.Error("webhook given up", "reason", reason, "status", status, "attempts", retried+1)
		h.d.Metrics.Webhook("failed")
	} else {
		log.Warn("webhook failed, will retry", "reason", reason, "status", status, "attempt", retried+1)
		h.d.Metrics.Webhook("retry")
	}
	return err
}

// clientFailed raises delivery.failed when a message to a clinic's client
// ended failed. It never fails the task: the record is what counts.
func (h *Handler) clientFailed(ctx context.Context, log *slog.Logger, key store.DeliveryKey, reason string) {
	if h.d.Events == nil {
		return
	}
	sub, err := h.d.Store.Subscriber(ctx, key.SubscriberID)
	if err != nil || sub.Clinic == "" {
		return
	}
	err = h.d.Events.Emit(ctx, sub.Clinic, notify.DeliveryFailed, notify.Failed{
		ClientID: sub.ID, Occurrence: string(key.Program) + ":" + key.Date, Channel: string(key.Channel), Reason: reason,
	})
	if err != nil {
		log.Warn("could not raise delivery.failed", "err", err)
	}
}
