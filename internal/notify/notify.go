// Package notify raises a clinic's events and signs what is posted to the
// clinic's webhook URL.
//
// # Events
//
// An event is a JSON object:
//
//	{"id": "evt_…", "type": "client.replied", "created_at": "2026-12-01T18:31:00Z",
//	 "clinic_id": "c…", "data": {…}}
//
// Types and their data (ids, channels and reasons; an address or a number
// never appears in an event, and a client's own words only in
// client.replied, which goes to the client's own clinic alone):
//
//   - client.confirmed: client_id, channel ("email" or "sms"). The client
//     confirmed a channel: the email link, or YES (or START after a STOP)
//     by text.
//   - client.replied: client_id, at, channel, and rating (1–5) or text;
//     in_reply_to names the prompt or nudge it answers when known. A reply
//     that reads as distress is not sent this way: it raises
//     client.crisis_flag instead.
//   - client.crisis_flag: client_id, at, channel: a reply read as distress.
//     The client was given crisis resources at once and their prompts are
//     held; the words are not in the event.
//   - client.opted_out: client_id, channel ("sms", "email" or "all"),
//     source ("sms-keyword", "link", "one-click", …).
//   - delivery.failed: client_id, occurrence, channel, reason: a message
//     to the client was refused for good.
//
// Emit stores the event (store.SaveEvent, kept 7 days) and queues one
// webhook:deliver task on the low queue; the worker posts it. A clinic with
// no webhook URL gets no events: nothing is stored or queued.
//
// # Signatures
//
// Every post carries the headers Content-Type: application/json,
// User-Agent: nudge-webhooks, Nudge-Event-Id, Nudge-Event-Type and
//
//	Nudge-Signature: t=<unix seconds>,v1=<hex HMAC-SHA256(secret, "<t>.<body>")>
//
// where secret is the clinic's webhook secret (shown once, when the clinic
// is created) and body the exact bytes posted. A receiver recomputes the
// HMAC over the raw body it received (before any JSON parsing), compares it
// in constant time with each v1 value, and refuses a t further than
// DefaultTolerance (five minutes) from its own clock, so a captured request
// cannot be replayed later. Verify does exactly that.
//
// A delivery that does not get a 2xx answer within ten seconds is tried
// again with a growing pause (30 s, 1 min, 2 min, … up to 1 h between
// tries, task.WebhookMaxRetry times), each time with the same event id and
// body and a fresh t; a receiver should treat a repeated event id as done.
package notify

import (
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"strconv"
	"strings"
	"time"

	"github.com/hibiken/asynq"
	"github.com/nudgehq/nudge/internal/store"
	"github.com/nudgehq/nudge/internal/task"
)

// Event types.
const (
	ClientConfirmed = "client.confirmed"
	ClientReplied   = "client.replied"
	ClientOptedOut  = "client.opted_out"
	// ClientCrisisFlag: a client's reply read as distress.
	ClientCrisisFlag = "client.crisis_flag"
	DeliveryFailed   = "delivery.failed"
)

// Opt-out channels: a text STOP stops texts, an email unsubscribe stops
// everything.
const (
	OptOutSMS   = "sms"
	OptOutEmail = "email"
	OptOutAll   = "all"
)

// Confirmed is the data of client.confirmed.
type Confirmed struct {
	ClientID string `json:"client_id"`
	Channel  string `json:"channel"`
}

// Replied is the data of client.replied: a rating or a text.
type Replied struct {
	ClientID string `json:"client_id"`
	At       string `json:"at"` // RFC 3339
	Channel  string `json:"channel"`
	Rating   int    `json:"rating,omitempty"`
	Text     string `json:"text,omitempty"`
	// InReplyTo names what the reply answers ("<program>:<date>"), when known.
	InReplyTo string `json:"in_reply_to,omitempty"`
}

// CrisisFlag is the data of client.crisis_flag. It never carries the
// client's words.
type CrisisFlag struct {
	ClientID string `json:"client_id"`
	At       string `json:"at"` // RFC 3339
	Channel  string `json:"channel"`
}

// OptedOut is the data of client.opted_out.
type OptedOut struct {
	ClientID string `json:"client_id"`
	Channel  string `json:"channel"`
	Source   string `json:"source"`
}

// Failed is the data of delivery.failed. It never carries the address, the
// number or the message.
type Failed struct {
	ClientID   string `json:"client_id"`
	Occurrence string `json:"occurrence"`
	Channel    string `json:"channel"`
	Reason     string `json:"reason"`
}

// Event is what is stored and posted.
type Event struct {
	ID        string `json:"id"`
	Type      string `json:"type"`
	CreatedAt string `json:"created_at"` // RFC 3339, UTC
	ClinicID  string `json:"clinic_id"`
	Data      any    `json:"data"`
}

// Enqueuer is the part of asynq.Client a Notifier uses.
type Enqueuer interface {
	EnqueueContext(ctx context.Context, t *asynq.Task, opts ...asynq.Option) (*asynq.TaskInfo, error)
}

// Notifier raises clinic events. A nil *Notifier raises none.
type Notifier struct {
	Store   *store.Store
	Enqueue Enqueuer
	Now     func() time.Time
	Logger  *slog.Logger
}

// Emit raises an event of a clinic: it is stored and its delivery queued.
// A clinic that has no webhook URL (or no longer exists) gets nothing.
func (n *Notifier) Emit(ctx context.Context, clinicID, eventType string, data any) error {
	if n == nil || clinicID == "" {
		return nil
	}
	c, err := n.Store.Clinic(ctx, clinicID)
	if errors.Is(err, store.ErrNotFound) {
		return nil
	}
	if err != nil {
		return fmt.Errorf("emit %s: %w", eventType, err)
	}
	if c.WebhookURL == "" {
		return nil
	}
	ev := Event{
		ID: "evt_" + store.NewID(), Type: eventType, CreatedAt: n.Now().UTC().Format(time.RFC3339),
		ClinicID: clinicID, Data: data,
	}
	body, err := json.Marshal(ev)
	if err != nil {
		return fmt.Errorf("emit %s: encode: %w", eventType, err)
	}
	if err := n.Store.SaveEvent(ctx, ev.ID, body); err != nil {
		return fmt.Errorf("emit %s: %w", eventType, err)
	}
	t, err := task.NewDeliverWebhook(task.DeliverWebhook{ClinicID: clinicID, EventID: ev.ID})
	if err != nil {
		return fmt.Errorf("emit %s: %w", eventType, err)
	}
	if _, err := n.Enqueue.EnqueueContext(ctx, t); err != nil && !errors.Is(err, asynq.ErrTaskIDConflict) {
		return fmt.Errorf("emit %s: enqueue: %w", eventType, err)
	}
	if n.Logger != nil {
		n.Logger.Info("event raised", "clinic_id", clinicID, "event_id", ev.ID, "type", eventType)
	}
	return nil
}

// Signature header and its defaults.
const (
	// SignatureHeader carries "t=<unix seconds>,v1=<hex HMAC-SHA256>".
	SignatureHeader = "Nudge-Signature"
	// DefaultTolerance is how far a signature's time may be from the
	// receiver's clock.
	DefaultTolerance = 5 * time.Minute
)

// Errors Verify returns.
var (
	ErrNoSignature  = errors.New("no valid Nudge-Signature header")
	ErrBadSignature = errors.New("signature does not match the body")
	ErrTooOld       = errors.New("signature time outside the tolerance")
)

// Sign returns the Nudge-Signature value for body posted at t with secret.
func Sign(secret string, t time.Time, body []byte) string {
	ts := strconv.FormatInt(t.Unix(), 10)
	return "t=" + ts + ",v1=" + mac(secret, ts, body)
}

func mac(secret, ts string, body []byte) string {
	m := hmac.New(sha256.New, []byte(secret))
	m.Write([]byte(ts))
	m.Write([]byte("."))
	m.Write(body)
	return hex.EncodeToString(m.Sum(nil))
}

// Verify checks a Nudge-Signature header against the raw body received:
// one of its v1 values must be the HMAC of "<t>.<body>" with secret, and t
// must lie within tolerance of now (either way). Unknown fields are ignored.
func Verify(secret, header string, body []byte, now time.Time, tolerance time.Duration) error {
	var ts string
	var sigs []string
	for part := range strings.SplitSeq(header, ",") {
		k, v, ok := strings.Cut(strings.TrimSpace(part), "=")
		if !ok {
			continue
		}
		switch k {
		case "t":
			ts = v
		case "v1":
			sigs = append(sigs, v)
		}
	}
	sec, err := strconv.ParseInt(ts, 10, 64)
	if err != nil || len(sigs) == 0 {
		return ErrNoSignature
	}
	want := []byte(mac(secret, ts, body))
	matched := false
	for _, s := range sigs {
		if hmac.Equal([]byte(s), want) {
			matched = true
		}
	}
	if !matched {
		return ErrBadSignature
	}
	if d := now.Sub(time.Unix(sec, 0)); d > tolerance || d < -tolerance {
		return ErrTooOld
	}
	return nil
}
