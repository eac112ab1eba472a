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

// responder acts on distress with t's store, events and lines.
func (t *Twilio) responder() *safety.Responder {
	var events safety.Notifier
	if t.events != nil {
		events = t.events
	}
	return &safety.Responder{Store: t.store, Lines: t.lines, Events: events, Now: t.now, Logger: t.logger}
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

// status moves a delivery record forward with Twilio's MessageStatus.
// Repeats and late, out-of-order callbacks change nothing; an unknown sid is
// acknowledged (there is nothing Twilio could do about it by retrying).
func (t *Twilio) status(w http.ResponseWriter, r *http.Request) {
	if !t.verified(w, r) {
		return
	}
	sid, status := r.PostForm.Get("MessageSid"), strings.ToLower(r.PostForm.Get("MessageStatus"))
	if sid == "" || status == "" {
		http.Error(w, "MessageSid and MessageStatus are required", http.StatusBadRequest)
		return
	}
	moved, err := t.store.RecordProviderStatus(r.Context(), sid, status, t.now())
	switch {
	case errors.Is(err, store.ErrNotFound):
		t.logger.Info("status for an unknown message", "sid", sid, "status", status)
	case err != nil:
		t.logger.Error("record message status", "sid", sid, "err", err)
		http.Error(w, "try again", http.StatusServiceUnavailable) // Twilio retries
		return
	case moved:
		t.logger.Info("message status", "sid", sid, "status", status)
	}
	w.WriteHeader(http.StatusNoContent)
}
