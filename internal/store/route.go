package store

import (
	"context"
	"errors"
	"fmt"
	"sort"
	"time"

	"github.com/nudgehq/nudge/internal/domain"
	"github.com/redis/go-redis/v9"
)

// Who a text from a number reaches.
//
// A number proves nothing until its owner answers YES. So a record holds a
// number in one of three ways: it asked (SMS pending, a confirmation text
// sent at SMSAskedAt), it was confirmed (a YES or START from the number,
// SMSConfirmedAt), or it merely names it. Replies, ratings, PAUSE and the
// crisis pause reach only records whose texts are confirmed and on; a YES
// confirms only records that asked within SMSConfirmTTL; STOP reaches every
// record that names the number, since the carrier applies it to our number.
// Among several confirmed records (a public subscriber, clients of clinics)
// the one a nudge or prompt was last sent from decides; a confirmation
// request never moves that route.

// SMSConfirmTTL is how long a confirmation request can be answered by YES.
// Pending public signups are forgotten after seven days too.
const SMSConfirmTTL = 7 * 24 * time.Hour

// inboundTTL is how long a handled inbound message id is remembered; Twilio
// retries within minutes, a week is ample.
const inboundTTL = 7 * 24 * time.Hour

// inboundLockTTL bounds how long one attempt may hold a message id; a
// crashed attempt's lock runs out, and Twilio's retry is then handled.
const inboundLockTTL = 15 * time.Second

func (s *Store) inboundKey(sid string) string     { return s.prefix + "inbound:" + sid }
func (s *Store) inboundLockKey(sid string) string { return s.prefix + "inbound-lock:" + sid }

// NumberHolders returns every record that names phone, as it is now, and the
// id of the record a nudge or prompt last went out from to that number ("" if
// none). Records that hold another number since are left out.
func (s *Store) NumberHolders(ctx context.Context, phone string) ([]domain.Subscriber, string, error) {
	ids, err := s.rdb.SMembers(ctx, s.phoneOwnersKey(phone)).Result()
	if err != nil {
		return nil, "", fmt.Errorf("find holders of a number: %w", err)
	}
	sort.Strings(ids)
	cmds := make([]*redis.MapStringStringCmd, len(ids))
	var route *redis.StringCmd
	_, err = s.rdb.Pipelined(ctx, func(p redis.Pipeliner) error {
		for i, id := range ids {
			cmds[i] = p.HGetAll(ctx, s.subKey(id))
		}
		route = p.HGet(ctx, s.routeKey(), phone)
		return nil
	})
	if err != nil && !errors.Is(err, redis.Nil) {
		return nil, "", fmt.Errorf("load holders of a number: %w", err)
	}
	var out []domain.Subscriber
	for i, id := range ids {
		m := cmds[i].Val()
		if len(m) == 0 || m[fPhone] != phone {
			continue
		}
		out = append(out, subscriberFrom(id, m))
	}
	return out, route.Val(), nil
}

// ReplyRecipient picks, among a number's holders, the record a reply,
// rating, PAUSE or distress pause reaches: only a record whose texts are
// confirmed and on; the routed one (last nudge or prompt sent) if it is such
// a record; else the one confirmed most recently. ok is false when no record
// qualifies: the text then reaches nobody.
func ReplyRecipient(holders []domain.Subscriber, routed string) (domain.Subscriber, bool) {
	return pick(holders, routed, TextsConfirmed)
}

// RestartRecipient picks the record a START or YES turns back on among
// those whose owner had confirmed texts and then said STOP, by the same
// rule: the routed one, else the one confirmed most recently.
func RestartRecipient(holders []domain.Subscriber, routed string) (domain.Subscriber, bool) {
	return pick(holders, routed, Restartable)
}

func pick(holders []domain.Subscriber, routed string, ok func(domain.Subscriber) bool) (domain.Subscriber, bool) {
	var best domain.Subscriber
	found := false
	for _, h := range holders {
		if !ok(h) {
			continue
		}
		if h.ID == routed {
			return h, true
		}
		if !found || h.SMSConfirmedAt.After(best.SMSConfirmedAt) || (h.SMSConfirmedAt.Equal(best.SMSConfirmedAt) && h.Clinic == "" && best.Clinic != "") {
			best, found = h, true
		}
	}
	return best, found
}

// TextsConfirmed reports whether a record's texts to its number are
// confirmed by the number's owner and on.
func TextsConfirmed(sub domain.Subscriber) bool {
	return sub.Phone != "" && sub.SMSStatus == domain.SMSActive && sub.Status != domain.Unsubscribed
}

// Asked reports whether a record asked its number to confirm, and the
// request can still be answered at now.
func Asked(sub domain.Subscriber, now time.Time) bool {
	return sub.SMSStatus == domain.SMSPending && !sub.SMSAskedAt.IsZero() &&
		!now.Before(sub.SMSAskedAt) && now.Sub(sub.SMSAskedAt) < SMSConfirmTTL
}

// Restartable reports whether a START or YES turns a record's texts back on:
// the number's owner had confirmed them, then said STOP.
func Restartable(sub domain.Subscriber) bool {
	return sub.SMSStatus == domain.SMSStopped && !sub.SMSConfirmedAt.IsZero() && sub.Status != domain.Unsubscribed
}

// ErrInboundHandled is returned by an inbound effect whose message was
// handled already (a retry of a message whose effect was applied).
var ErrInboundHandled = errors.New("inbound message handled already")

// InboundHandled reports whether the inbound message sid was handled.
func (s *Store) InboundHandled(ctx context.Context, sid string) (bool, error) {
	n, err := s.rdb.Exists(ctx, s.inboundKey(sid)).Result()
	if err != nil {
		return false, fmt.Errorf("check inbound %s: %w", sid, err)
	}
	return n == 1, nil
}

// LockInbound takes the inbound message sid for one attempt, so that two
// deliveries of one message at the same time are not both handled. It
// reports false when another attempt holds it.
func (s *Store) LockInbound(ctx context.Context, sid string) (bool, error) {
	ok, err := s.rdb.SetNX(ctx, s.inboundLockKey(sid), 1, inboundLockTTL).Result()
	if err != nil {
		return false, fmt.Errorf("lock inbound %s: %w", sid, err)
	}
	return ok, nil
}

// UnlockInbound lets the message be tried again (after a failure) or
// releases it after success (the handled mark then answers).
func (s *Store) UnlockInbound(ctx context.Context, sid string) error {
	if err := s.rdb.Del(ctx, s.inboundLockKey(sid)).Err(); err != nil {
		return fmt.Errorf("unlock inbound %s: %w", sid, err)
	}
	return nil
}

// MarkInbound records that the message sid was handled, for an answer that
// changes no record (HELP, a text from an unknown number).
func (s *Store) MarkInbound(ctx context.Context, sid string) error {
	if err := s.rdb.Set(ctx, s.inboundKey(sid), 1, inboundTTL).Err(); err != nil {
		return fmt.Errorf("mark inbound %s: %w", sid, err)
	}
	return nil
}

// markInbound writes the handled mark inside a transaction that applies the
// message's effect, so that the effect and the mark land together or not at all.
func (s *Store) markInbound(ctx context.Context, p redis.Pipeliner, sid string) {
	if sid != "" {
		p.Set(ctx, s.inboundKey(sid), 1, inboundTTL)
	}
}

// StopNumber applies a STOP from phone, once: every record naming the number
// has its texts stopped (with a ledger entry), and the number joins the
// suppression list even when no record names it. The message's handled mark
// is written in the same transaction; a retry of a message already applied
// gets ErrInboundHandled and changes nothing. It returns the records stopped,
// as they were before.
func (s *Store) StopNumber(ctx context.Context, phone, sid string, ev ConsentEvent) ([]domain.Subscriber, error) {
	ids, err := s.rdb.SMembers(ctx, s.phoneOwnersKey(phone)).Result()
	if err != nil {
		return nil, fmt.Errorf("stop number: %w", err)
	}
	sort.Strings(ids)
	keys := []string{s.inboundKey(sid), s.phoneOwnersKey(phone)}
	for _, id := range ids {
		keys = append(keys, s.subKey(id))
	}
	var stopped []domain.Subscriber
	txf := func(tx *redis.Tx) error {
		stopped = nil
		if sid != "" {
			n, err := tx.Exists(ctx, s.inboundKey(sid)).Result()
			if err != nil {
				return err
			}
			if n == 1 {
				return ErrInboundHandled
			}
		}
		for _, id := range ids {
			m, err := tx.HGetAll(ctx, s.subKey(id)).Result()
			if err != nil {
				return err
			}
			if len(m) == 0 || m[fPhone] != phone {
				continue
			}
			stopped = append(stopped, subscriberFrom(id, m))
		}
		_, err := tx.TxPipelined(ctx, func(p redis.Pipeliner) error {
			for _, sub := range stopped {
				p.HSet(ctx, s.subKey(sub.ID), fSMSStatus, string(domain.SMSStopped))
				if sub.SMSStatus == domain.SMSActive && sub.SMSConfirmedAt.IsZero() {
					// Texts were on, so the owner had said YES: a record
					// from before confirmations were dated gets its date
					// now, and a START can turn it back on.
					p.HSet(ctx, s.subKey(sub.ID), fSMSOKAt, unix(ev.At))
				}
				s.appendConsent(ctx, p, sub.ID, ev)
				if sub.SMSStatus != domain.SMSStopped {
					s.stoppedAlert(ctx, p, sub.Clinic, sub.ID, "sms", ev.At)
				}
			}
			p.SAdd(ctx, s.suppressionKey(), AddressHash(phone))
			s.markInbound(ctx, p, sid)
			return nil
		})
		return err
	}
	if err := s.watch(ctx, txf, keys...); err != nil {
		if errors.Is(err, ErrInboundHandled) {
			return nil, err
		}
		return nil, fmt.Errorf("stop number: %w", err)
	}
	return stopped, nil
}

// PauseByText holds back every nudge of a record until the instant given,
// for a PAUSE (or a distress text) from its confirmed number, and marks the
// message handled in the same transaction. A record erased meanwhile is not
// brought back.
func (s *Store) PauseByText(ctx context.Context, id string, until time.Time, sid string, ev ConsentEvent) error {
	key := s.subKey(id)
	txf := func(tx *redis.Tx) error {
		n, err := tx.Exists(ctx, key).Result()
		if err != nil {
			return err
		}
		_, err = tx.TxPipelined(ctx, func(p redis.Pipeliner) error {
			if n == 1 {
				p.HSet(ctx, key, fPausedUntil, unix(until))
				s.appendConsent(ctx, p, id, ev)
			}
			s.markInbound(ctx, p, sid)
			return nil
		})
		return err
	}
	if err := s.watch(ctx, txf, key); err != nil {
		return fmt.Errorf("pause %s: %w", id, err)
	}
	return nil
}
