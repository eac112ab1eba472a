// Package webhook receives what Twilio posts to nudge: status callbacks for
// the texts it sent, and the texts people send to nudge's number (keywords,
// ratings and replies). Every request must carry a valid X-Twilio-Signature,
// computed over the public URL nudge gave Twilio (NUDGE_BASE_URL plus the
// path, never a forwarded host); anything else gets 403 and changes nothing.
package webhook

import (
	"context"
	"errors"
	"log/slog"
	"net/http"
	"strings"
	"time"

	"github.com/nudgehq/nudge/internal/crisis"
	"github.com/nudgehq/nudge/internal/links"
	"github.com/nudgehq/nudge/internal/safety"
	"github.com/nudgehq/nudge/internal/store"
	"github.com/twilio/twilio-go/client"
)

// SMSConfirmer turns a YES or START into SMS consent (and, for a pending
// subscriber, into an active one with planned schedules).
type SMSConfirmer interface {
	ConfirmSMS(ctx context.Context, id string, ev store.ConsentEvent) error
}

// Notifier raises a clinic's events (notify.Notifier satisfies it).
type Notifier interface {
	Emit(ctx context.Context, clinicID, eventType string, data any) error
}

// Twilio serves Twilio's webhooks.
type Twilio struct {
	store     *store.Store
	confirm   SMSConfirmer
	validator client.RequestValidator
	base      string
	now       func() time.Time
	logger    *slog.Logger
	events    Notifier          // nil: no clinic events
	lines     *crisis.Directory // nil: the built-in crisis resources
	alerts    safety.AlertQueue // nil: no alert emails to staff
	metrics   InboundMetrics    // nil: inbound texts not counted
	links     *links.Builder    // nil: LINK is answered like HELP
	budget    NumberBudget      // nil: no budget for links sent by text
}

// NumberBudget takes one text with a link from a number's budget, the one
// confirmation texts use (signuplimit.Limits satisfies it).
type NumberBudget interface {
	AllowNumber(ctx context.Context, phone string) (bool, error)
}

// WithLinks returns a copy of t that answers LINK (MANAGE, ENLACE) from a
// confirmed number with a single-use, short-lived link to the person's
// page, each taken from the number's budget.
func (t *Twilio) WithLinks(b *links.Builder, budget NumberBudget) *Twilio {
	c := *t
	c.links, c.budget = b, budget
	return &c
}

// InboundMetrics counts received texts by what they were read as
// (metrics.Metrics satisfies it).
type InboundMetrics interface {
	Inbound(kind string)
}

// WithMetrics returns a copy of t that counts inbound texts.
func (t *Twilio) WithMetrics(m InboundMetrics) *Twilio {
	c := *t
	c.metrics = m
	return &c
}

// NewTwilio returns the handlers. base is the public base URL (no trailing
// slash); authToken is the account's auth token that signs every request.
func NewTwilio(st *store.Store, confirm SMSConfirmer, authToken, base string, now func() time.Time, logger *slog.Logger) *Twilio {
	return &Twilio{store: st, confirm: confirm, validator: client.NewRequestValidator(authToken), base: strings.TrimRight(base, "/"), now: now, logger: logger}
}

// WithNotifier returns a copy of t that tells a client's clinic about the
// client's replies and STOPs.
func (t *Twilio) WithNotifier(n Notifier) *Twilio {
	c := *t
	c.events = n
	return &c
}

// WithCrisisLines returns a copy of t that gives the crisis resources of
// lines (NUDGE_CRISIS_LINES) instead of the built-in ones.
func (t *Twilio) WithCrisisLines(lines *crisis.Directory) *Twilio {
	c := *t
	c.lines = lines
	return &c
}

// WithAlerts returns a copy of t that has a client's distress alert
// emailed to the clinic's staff.
func (t *Twilio) WithAlerts(q safety.AlertQueue) *Twilio {
	c := *t
	c.alerts = q
	return &c
}

// responder acts on distress with t's store, events and lines.
func (t *Twilio) responder() *safety.Responder {
	var events safety.Notifier
	if t.events != nil {
		events = t.events
	}
	return &safety.Responder{Store: t.store, Lines: t.lines, Events: events, Alerts: t.alerts, Now: t.now, Logger: t.logger}
}

// Register adds the routes to mux.
func (t *Twilio) Register(mux *http.ServeMux) {
	mux.HandleFunc("POST /webhooks/twilio/status", t.status)
	mux.HandleFunc("POST /webhooks/twilio/sms", t.inbound)
}

// verified parses the form and checks the signature. It answers the request
// itself and returns false when the request is not Twilio's.
func (t *Twilio) verified(w http.ResponseWriter, r *http.Request) bool {
	r.Body = http.MaxBytesReader(w, r.Body, 64<<10)
	if err := r.ParseForm(); err != nil {
		http.Error(w, "bad form", http.StatusBadRequest)
		return false
	}
	params := make(map[string]string, len(r.PostForm))
	for k, v := range r.PostForm {
		params[k] = v[0]
	}
	url := t.base + r.URL.RequestURI()
	if !t.validator.Validate(url, params, r.Header.Get("X-Twilio-Signature")) {
		t.logger.Warn("twilio webhook refused: bad signature", "route", r.Pattern)
		http.Error(w, "forbidden", http.StatusForbidden)
		return false
	}
	return true
}

// status moves a delivery record forward with Twilio's MessageStatus and
// keeps its ErrorCode. Repeats and late, out-of-order callbacks change
// nothing; an unknown sid is acknowledged (there is nothing Twilio could do
// about it by retrying). A failure that says the number cannot take texts
// suppresses it (see refusal).
func (t *Twilio) status(w http.ResponseWriter, r *http.Request) {
	if !t.verified(w, r) {
		return
	}
	sid, status := r.PostForm.Get("MessageSid"), strings.ToLower(r.PostForm.Get("MessageStatus"))
	code := strings.TrimSpace(r.PostForm.Get("ErrorCode"))
	if sid == "" || status == "" {
		http.Error(w, "MessageSid and MessageStatus are required", http.StatusBadRequest)
		return
	}
	if !errorCode(code) {
		code = "" // not a code: nothing to keep or act on
	}
	u, err := t.store.RecordProviderReport(r.Context(), sid, status, code, t.now())
	switch {
	case errors.Is(err, store.ErrNotFound):
		t.logger.Info("status for an unknown message", "sid", sid, "status", status)
	case err != nil:
		t.logger.Error("record message status", "sid", sid, "err", err)
		http.Error(w, "try again", http.StatusServiceUnavailable) // Twilio retries
		return
	case u.Moved:
		t.logger.Info("message status", "sid", sid, "status", status, "error_code", code)
		if (status == "undelivered" || status == "failed") && code != "" {
			if err := t.refusal(r.Context(), u.SubscriberID, sid, code); err != nil {
				t.logger.Error("act on a delivery failure", "sid", sid, "subscriber_id", u.SubscriberID, "err", err)
				http.Error(w, "try again", http.StatusServiceUnavailable)
				return
			}
		}
	}
	w.WriteHeader(http.StatusNoContent)
}

// Twilio error codes a delivery report can carry that say something about
// the number itself. They arrive only after the send was accepted, so the
// worker's own classification never sees them.
const (
	codeUnreachable   = "30003" // handset off or out of coverage: may pass
	codeUnknownNumber = "30005" // the number does not exist
	codeLandline      = "30006" // a landline, or a carrier that takes no texts
	codeUnsubscribed  = "21610" // the person replied STOP to the carrier
)

// refusal acts on a failed delivery's error code: a number that can never
// take a text is suppressed at once; one that was unreachable counts
// towards the three refusals that suppress it (store.RecordPermanentFailure).
func (t *Twilio) refusal(ctx context.Context, subscriberID, sid, code string) error {
	switch code {
	case codeUnknownNumber, codeLandline, codeUnsubscribed, codeUnreachable:
	default:
		return nil
	}
	sub, err := t.store.Subscriber(ctx, subscriberID)
	if errors.Is(err, store.ErrNotFound) || (err == nil && sub.Phone == "") {
		return nil // erased since, or the number is gone: nothing to suppress
	}
	if err != nil {
		return err
	}
	if code == codeUnreachable {
		suppressed, err := t.store.RecordPermanentFailure(ctx, sub.Phone)
		if err != nil {
			return err
		}
		if suppressed {
			t.logger.Info("number suppressed after repeated failures", "subscriber_id", subscriberID, "sid", sid, "error_code", code)
		}
		return nil
	}
	if err := t.store.Suppress(ctx, sub.Phone); err != nil {
		return err
	}
	t.logger.Info("number suppressed", "subscriber_id", subscriberID, "sid", sid, "error_code", code)
	return nil
}

// errorCode reports whether s looks like a provider error code: a few digits.
func errorCode(s string) bool {
	if s == "" || len(s) > 8 {
		return false
	}
	for _, r := range s {
		if r < '0' || r > '9' {
			return false
		}
	}
	return true
}
