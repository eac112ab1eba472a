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

func (s *Store) appendConsent(ctx context.Context, p redis.Pipeliner, id string, ev ConsentEvent) {
	if ev.Action == "" {
		return
	}
	b, err := json.Marshal(ev)
	if err != nil {
		return // a struct of strings and a time always marshals
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
		var ev ConsentEvent
		if err := json.Unmarshal([]byte(r), &ev); err != nil {
			return nil, fmt.Errorf("decode consent of %s: %w", id, err)
		}
		out = append(out, ev)
	}
	return out, nil
}
