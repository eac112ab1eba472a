// Package outbox is the development stand-in for SMTP: with no SMTP settings,
// messages are kept in a capped Redis list that the web UI shows at
// /dev/outbox. It is refused in production.
package outbox

import (
	"context"
	"encoding/json"
	"fmt"
	"time"

	"github.com/nudgehq/nudge/internal/email"
	"github.com/nudgehq/nudge/internal/sms"
	"github.com/redis/go-redis/v9"
)

// Capacity is how many messages the outbox keeps, newest first.
const Capacity = 200

// Entry is one message in the outbox.
type Entry struct {
	At      time.Time         `json:"at"`
	Channel string            `json:"channel"`
	To      string            `json:"to"`
	From    string            `json:"from,omitempty"`
	Subject string            `json:"subject,omitempty"`
	Text    string            `json:"text"`
	HTML    string            `json:"html,omitempty"`
	Headers map[string]string `json:"headers,omitempty"`
}

// Outbox stores messages instead of sending them.
type Outbox struct {
	rdb redis.UniversalClient
	key string
	now func() time.Time
}

// New returns an outbox kept under prefix+"outbox".
func New(rdb redis.UniversalClient, prefix string, now func() time.Time) *Outbox {
	return &Outbox{rdb: rdb, key: prefix + "outbox", now: now}
}

// Send keeps an email.
func (o *Outbox) Send(ctx context.Context, m email.Message) error {
	headers := map[string]string{"Message-ID": m.MessageID}
	for k, v := range m.Headers {
		headers[k] = v
	}
	return o.push(ctx, Entry{At: o.now(), Channel: "email", To: m.To, From: m.From, Subject: m.Subject, Text: m.Text, HTML: m.HTML, Headers: headers})
}

func (o *Outbox) push(ctx context.Context, e Entry) error {
	b, err := json.Marshal(e)
	if err != nil {
		return fmt.Errorf("encode outbox entry: %w", err)
	}
	_, err = o.rdb.TxPipelined(ctx, func(p redis.Pipeliner) error {
		p.LPush(ctx, o.key, b)
		p.LTrim(ctx, o.key, 0, Capacity-1)
		return nil
	})
	if err != nil {
		return fmt.Errorf("keep message in outbox: %w", err)
	}
	return nil
}

// List returns the kept messages, newest first.
func (o *Outbox) List(ctx context.Context) ([]Entry, error) {
	raw, err := o.rdb.LRange(ctx, o.key, 0, -1).Result()
	if err != nil {
		return nil, fmt.Errorf("read outbox: %w", err)
	}
	out := make([]Entry, 0, len(raw))
	for _, r := range raw {
		var e Entry
		if err := json.Unmarshal([]byte(r), &e); err != nil {
			return nil, fmt.Errorf("decode outbox entry: %w", err)
		}
		out = append(out, e)
	}
	return out, nil
}

// SMS keeps texts in the same outbox; it satisfies the worker's SMS sender.
type SMS struct{ o *Outbox }

// SMS returns the outbox's SMS side.
func (o *Outbox) SMS() SMS { return SMS{o: o} }

// Send keeps a text and returns a made-up provider id.
func (s SMS) Send(ctx context.Context, m sms.Message) (string, error) {
	now := s.o.now()
	if err := s.o.push(ctx, Entry{At: now, Channel: "sms", To: m.To, Text: m.Body}); err != nil {
		return "", err
	}
	return fmt.Sprintf("OUTBOX%d", now.UnixNano()), nil
}
