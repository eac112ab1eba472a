package store

import (
	"context"
	"encoding/json"
	"fmt"
	"time"

	"github.com/redis/go-redis/v9"
)

// ConsentEvent is one line of the consent ledger: who agreed to (or withdrew
// from) what, when, through which channel and source, and the wording shown.
type ConsentEvent struct {
	At        time.Time `json:"at"`
	Action    string    `json:"action"`  // signup, confirm, unsubscribe, …
	Channel   string    `json:"channel"` // email, sms
	Source    string    `json:"source"`  // form, link, one-click, sms-keyword, clinic
	Wording   string    `json:"wording,omitempty"`
	IP        string    `json:"ip,omitempty"`
	UserAgent string    `json:"user_agent,omitempty"`
	Detail    string    `json:"detail,omitempty"`
}

// Consent actions.
const (
	ConsentSignup      = "signup"
	ConsentConfirm     = "confirm"
	ConsentUnsubscribe = "unsubscribe"
	ConsentSMSStop     = "sms-stop"
	ConsentSMSStart    = "sms-start"
	ConsentPause       = "pause"
)

// consentLine is how a ledger event is stored: short names and Unix
// seconds keep the subscriber's ledger, often its largest record, small
// (BENCHMARKS.md). The first format's long names and RFC 3339 time are
// still read.
type consentLine struct {
	T  int64  `json:"t,omitempty"`
	A  string `json:"a,omitempty"`
	C  string `json:"c,omitempty"`
	S  string `json:"s,omitempty"`
	W  string `json:"w,omitempty"`
	IP string `json:"ip,omitempty"`
	UA string `json:"ua,omitempty"`
	D  string `json:"d,omitempty"`

	At        *time.Time `json:"at,omitempty"`
	Action    string     `json:"action,omitempty"`
	Channel   string     `json:"channel,omitempty"`
	Source    string     `json:"source,omitempty"`
	Wording   string     `json:"wording,omitempty"`
	UserAgent string     `json:"user_agent,omitempty"`
	Detail    string     `json:"detail,omitempty"`
}

func encodeConsent(ev ConsentEvent) ([]byte, error) {
	l := consentLine{A: ev.Action, C: ev.Channel, S: ev.Source, W: ev.Wording, IP: ev.IP, UA: ev.UserAgent, D: ev.Detail}
	if !ev.At.IsZero() {
		l.T = ev.At.Unix()
	}
	return json.Marshal(l)
}

func decodeConsent(b []byte) (ConsentEvent, error) {
	var l consentLine
	if err := json.Unmarshal(b, &l); err != nil {
		return ConsentEvent{}, err
	}
	if l.At != nil || l.Action != "" {
		ev := ConsentEvent{Action: l.Action, Channel: l.Channel, Source: l.Source, Wording: l.Wording, IP: l.IP, UserAgent: l.UserAgent, Detail: l.Detail}
		if l.At != nil {
			ev.At = *l.At
		}
		return ev, nil
	}
	ev := ConsentEvent{Action: l.A, Channel: l.C, Source: l.S, Wording: l.W, IP: l.IP, UserAgent: l.UA, Detail: l.D}
	if l.T != 0 {
		ev.At = time.Unix(l.T, 0).UTC()
	}
	return ev, nil
}

func (s *Store) appendConsent(ctx context.Context, p redis.Pipeliner, id string, ev ConsentEvent) {
	if ev.Action == "" {
		return
	}
	b, err := encodeConsent(ev)
	if err != nil {
		return // a struct of strings and a number always marshals
	}
	p.RPush(ctx, s.consentKey(id), b)
}

// Consent returns a subscriber's consent ledger, oldest first.
func (s *Store) Consent(ctx context.Context, id string) ([]ConsentEvent, error) {
	raw, err := s.rdb.LRange(ctx, s.consentKey(id), 0, -1).Result()
	if err != nil {
		return nil, fmt.Errorf("load consent of %s: %w", id, err)
	}
	out := make([]ConsentEvent, 0, len(raw))
	for _, r := range raw {
		ev, err := decodeConsent([]byte(r))
		if err != nil {
			return nil, fmt.Errorf("decode consent of %s: %w", id, err)
		}
		out = append(out, ev)
	}
	return out, nil
}
