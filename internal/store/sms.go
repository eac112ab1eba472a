package store

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"time"

	"github.com/nudgehq/nudge/internal/domain"
	"github.com/redis/go-redis/v9"
)

// ReplyRetention is how long replies are kept.
const ReplyRetention = 400 * 24 * time.Hour

// maxReplies caps one subscriber's kept replies.
const maxReplies = 500

// SubscriberByPhone returns the id of the public SMS-only subscriber known
// by a number (the phone index holds only those), or ErrNotFound. It says
// nothing about who may read the number's texts: see ReplyTarget.
func (s *Store) SubscriberByPhone(ctx context.Context, phone string) (string, error) {
	id, err := s.rdb.HGet(ctx, s.phoneIndexKey(), phone).Result()
	if errors.Is(err, redis.Nil) {
		return "", fmt.Errorf("find number: %w", ErrNotFound)
	}
	if err != nil {
		return "", fmt.Errorf("find number: %w", err)
	}
	return id, nil
}

// ConfirmSMS records a YES or START from the subscriber's number: SMS
// consent becomes active, a pause ends, and the number leaves the suppression
// list. It returns the subscriber as it now is.
func (s *Store) ConfirmSMS(ctx context.Context, id string, ev ConsentEvent) (domain.Subscriber, error) {
	key := s.subKey(id)
	txf := func(tx *redis.Tx) error {
		phone, err := tx.HGet(ctx, key, fPhone).Result()
		if errors.Is(err, redis.Nil) {
			return ErrNotFound
		}
		if err != nil {
			return err
		}
		_, err = tx.TxPipelined(ctx, func(p redis.Pipeliner) error {
			p.HSet(ctx, key, fSMSStatus, string(domain.SMSActive), fPausedUntil, "0", fSMSOKAt, unix(ev.At))
			// Turning texts on is the person's choice to hear from us again.
			p.HDel(ctx, key, fDistressAt, fGentleAt)
			if phone != "" {
				p.SRem(ctx, s.suppressionKey(), AddressHash(phone))
			}
			s.appendConsent(ctx, p, id, ev)
			return nil
		})
		return err
	}
	if err := s.watch(ctx, txf, key); err != nil {
		return domain.Subscriber{}, fmt.Errorf("confirm sms for %s: %w", id, err)
	}
	return s.Subscriber(ctx, id)
}

// Pause holds back every nudge until the instant given.
func (s *Store) Pause(ctx context.Context, id string, until time.Time, ev ConsentEvent) error {
	_, err := s.rdb.TxPipelined(ctx, func(p redis.Pipeliner) error {
		p.HSet(ctx, s.subKey(id), fPausedUntil, unix(until))
		s.appendConsent(ctx, p, id, ev)
		return nil
	})
	if err != nil {
		return fmt.Errorf("pause %s: %w", id, err)
	}
	return nil
}

// MarkLastNudge records which nudge a reply from now on answers.
func (s *Store) MarkLastNudge(ctx context.Context, id string, p domain.Program, date string) error {
	if err := s.setIfExists(ctx, id, fLastNudge, string(p)+":"+date); err != nil {
		return fmt.Errorf("mark last nudge of %s: %w", id, err)
	}
	return nil
}

// Reply is something a subscriber wrote back.
type Reply struct {
	At      time.Time `json:"at"`
	Channel string    `json:"channel"`
	Nudge   string    `json:"nudge,omitempty"` // "<program>:<date>" it answers
	Rating  int       `json:"rating,omitempty"`
	Text    string    `json:"text,omitempty"`
}

// AddReply keeps a reply (the newest maxReplies, for ReplyRetention).
func (s *Store) AddReply(ctx context.Context, id string, r Reply) error {
	return s.KeepReply(ctx, id, r, "")
}

// KeepReply keeps a reply that came as the inbound message sid, and marks
// the message handled in the same transaction (sid "" marks nothing).
func (s *Store) KeepReply(ctx context.Context, id string, r Reply, sid string) error {
	b, err := json.Marshal(r)
	if err != nil {
		return fmt.Errorf("encode reply: %w", err)
	}
	key := s.prefix + "replies:" + id
	_, err = s.rdb.TxPipelined(ctx, func(p redis.Pipeliner) error {
		p.RPush(ctx, key, b)
		p.LTrim(ctx, key, -maxReplies, -1)
		p.Expire(ctx, key, ReplyRetention)
		s.markInbound(ctx, p, sid)
		return nil
	})
	if err != nil {
		return fmt.Errorf("keep reply of %s: %w", id, err)
	}
	return nil
}

// Replies returns a subscriber's replies, oldest first.
func (s *Store) Replies(ctx context.Context, id string) ([]Reply, error) {
	raw, err := s.rdb.LRange(ctx, s.prefix+"replies:"+id, 0, -1).Result()
	if err != nil {
		return nil, fmt.Errorf("load replies of %s: %w", id, err)
	}
	out := make([]Reply, 0, len(raw))
	for _, r := range raw {
		var rep Reply
		if err := json.Unmarshal([]byte(r), &rep); err != nil {
			return nil, fmt.Errorf("decode reply of %s: %w", id, err)
		}
		out = append(out, rep)
	}
	return out, nil
}

// Suppress puts an address or number on the suppression list directly (a
// STOP from a number nudge has no record of).
func (s *Store) Suppress(ctx context.Context, addr string) error {
	if err := s.rdb.SAdd(ctx, s.suppressionKey(), AddressHash(addr)).Err(); err != nil {
		return fmt.Errorf("suppress: %w", err)
	}
	return nil
}
