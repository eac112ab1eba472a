package store

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/nudgehq/nudge/internal/domain"
	"github.com/redis/go-redis/v9"
)

// DeliveryState is where one occurrence's delivery over one channel stands.
type DeliveryState string

// Delivery states. A record only moves forward; sent, failed, skipped and
// unknown are final.
const (
	// Claimed: an attempt is about to call the provider.
	Claimed DeliveryState = "claimed"
	// Retry: an attempt failed before the provider took the message; the next
	// attempt may claim it again.
	Retry DeliveryState = "retry"
	// Sent: the provider accepted the message.
	Sent DeliveryState = "sent"
	// Failed: the provider refused it for good.
	Failed DeliveryState = "failed"
	// Skipped: not sent on purpose (opted out, paused, too late, superseded).
	Skipped DeliveryState = "skipped"
	// Unknown: the provider may or may not have it; never resent automatically.
	Unknown DeliveryState = "unknown"
)

// DeliveryRetention is how long delivery records are kept.
const DeliveryRetention = 90 * 24 * time.Hour

// DeliveryKey names one occurrence on one channel.
type DeliveryKey struct {
	SubscriberID string
	Program      domain.Program
	Date         string // the occurrence's local date, or another unique occurrence name
	Channel      domain.Channel
}

func (k DeliveryKey) String() string {
	return k.SubscriberID + ":" + string(k.Program) + ":" + k.Date + ":" + string(k.Channel)
}

func (s *Store) deliveryKey(k DeliveryKey) string { return s.prefix + "dlv:" + k.String() }

func (s *Store) sidKey(sid string) string { return s.prefix + "sid:" + sid }

// Delivery is a stored delivery record.
type Delivery struct {
	State      DeliveryState
	ProviderID string
	Reason     string
	At         time.Time
	// ProviderStatus is the latest status the provider reported (Twilio:
	// queued, sent, partially_delivered, delivered, undelivered, failed),
	// only ever moving forward.
	ProviderStatus string
	// ErrorCode is the provider's error code that came with that status
	// (Twilio: 30006 for a landline, …), empty when there was none.
	ErrorCode string
}

// providerStatusScript orders Twilio's message statuses; a callback can only move a
// record to a higher rank, so a late "sent" never overwrites "delivered".
// partially_delivered (some segments arrived) sits between sent and the
// final statuses. It answers the record's name when it moved it, "" when it
// did not, and -1 when no record has the sid. ARGV: status, now, prefix,
// error code.
var providerStatusScript = redis.NewScript(`
local name = redis.call('GET', KEYS[1])
if not name then return -1 end
local dkey = ARGV[3] .. 'dlv:' .. name
local rank = {accepted=1, scheduled=1, queued=2, sending=3, sent=4, partially_delivered=5, delivered=6, undelivered=6, failed=6, read=7, canceled=6}
local new = rank[ARGV[1]]
if not new then return '' end
local cur = redis.call('HGET', dkey, 'ps')
if cur and (rank[cur] or 0) >= new then return '' end
if ARGV[4] ~= '' then
  redis.call('HSET', dkey, 'ps', ARGV[1], 'pt', ARGV[2], 'ec', ARGV[4])
else
  redis.call('HSET', dkey, 'ps', ARGV[1], 'pt', ARGV[2])
  redis.call('HDEL', dkey, 'ec')
end
return name
`)

// RecordProviderStatus moves the delivery record of the message with this
// provider id forward to status. It returns false when the status is not
// newer than what is recorded (a repeat, or an out-of-order callback) and
// ErrNotFound when no record has that id.
func (s *Store) RecordProviderStatus(ctx context.Context, providerID, status string, now time.Time) (bool, error) {
	u, err := s.RecordProviderReport(ctx, providerID, status, "", now)
	return u.Moved, err
}

// StatusUpdate is what RecordProviderReport did.
type StatusUpdate struct {
	// Moved is true when the report was newer than the record (not a repeat,
	// not out of order); only then is there anything to act on.
	Moved bool
	// SubscriberID is whose message it was, when Moved.
	SubscriberID string
}

// RecordProviderReport moves the delivery record of the message with this
// provider id forward to status, keeping the provider's error code with it
// (empty for none). It fails with ErrNotFound when no record has that id.
func (s *Store) RecordProviderReport(ctx context.Context, providerID, status, errorCode string, now time.Time) (StatusUpdate, error) {
	res, err := providerStatusScript.Run(ctx, s.rdb, []string{s.sidKey(providerID)}, status, now.Unix(), s.prefix, errorCode).Result()
	if err != nil {
		return StatusUpdate{}, fmt.Errorf("record status of %s: %w", providerID, err)
	}
	name, ok := res.(string)
	if !ok {
		return StatusUpdate{}, fmt.Errorf("record status of %s: %w", providerID, ErrNotFound)
	}
	if name == "" {
		return StatusUpdate{}, nil
	}
	// A record's name starts with its subscriber's id (DeliveryKey.String).
	id, _, _ := strings.Cut(name, ":")
	return StatusUpdate{Moved: true, SubscriberID: id}, nil
}

// claimScript claims a delivery record. KEYS[1] is the record and, when
// given, KEYS[2] the suppression set to check; ARGV: now, retention (s), the
// hashed address, the skip reason.
var claimScript = redis.NewScript(`
local st = redis.call('HGET', KEYS[1], 's')
if st == 'claimed' then
  redis.call('HSET', KEYS[1], 's', 'unknown', 't', ARGV[1], 'w', 'an earlier attempt stopped after claiming')
  return 'found-claim'
end
if st and st ~= 'retry' then return st end
if KEYS[2] and redis.call('SISMEMBER', KEYS[2], ARGV[3]) == 1 then
  redis.call('HSET', KEYS[1], 's', 'skipped', 't', ARGV[1], 'w', ARGV[4])
  redis.call('EXPIRE', KEYS[1], ARGV[2])
  return 'suppressed'
end
redis.call('HSET', KEYS[1], 's', 'claimed', 't', ARGV[1])
redis.call('EXPIRE', KEYS[1], ARGV[2])
return 'claimed'
`)

// ErrAlreadyHandled is returned by ClaimDelivery when the occurrence must not
// be sent by this attempt. The state says why.
type ErrAlreadyHandled struct{ State DeliveryState }

func (e *ErrAlreadyHandled) Error() string { return fmt.Sprintf("delivery already %s", e.State) }

// ErrSuppressed is returned by ClaimDelivery with a Guard when the address
// or number is on the suppression list; the record says skipped.
var ErrSuppressed = errors.New("address or number suppressed")

// Guard is a check a claim makes in the same step: the address or number
// must not be on its suppression list. The zero Guard checks nothing.
type Guard struct {
	set, member, reason string
}

// SuppressionGuard is the Guard for messaging sub on channel c: its address
// against its own list's suppression set (the public list's or its
// clinic's), or its number against the one every list shares.
func (s *Store) SuppressionGuard(sub domain.Subscriber, c domain.Channel) Guard {
	switch {
	case c == domain.Email && sub.Email != "":
		return Guard{set: s.suppressionKeyFor(sub.Clinic), member: AddressHash(sub.Email), reason: "address suppressed"}
	case c == domain.SMS && sub.Phone != "":
		return Guard{set: s.suppressionKey(), member: AddressHash(sub.Phone), reason: "number suppressed"}
	}
	return Guard{}
}

// ClaimDelivery marks an occurrence as being sent, before the provider is
// called. It fails with *ErrAlreadyHandled when an earlier attempt sent it,
// ended it, or claimed it and never reported back; in the last case the record
// becomes unknown, since the provider may have the message. With a Guard it
// also checks, in the same step, that the address is not suppressed, and
// fails with ErrSuppressed (recording a skip) when it is. When the primary
// has replicas, a claim returns only once one holds it, or fails with
// ErrClaimNotReplicated (see replicate.go).
func (s *Store) ClaimDelivery(ctx context.Context, k DeliveryKey, now time.Time, g ...Guard) error {
	keys := []string{s.deliveryKey(k)}
	args := []any{now.Unix(), int(DeliveryRetention.Seconds())}
	if len(g) > 0 && g[0].set != "" {
		keys = append(keys, g[0].set)
		args = append(args, g[0].member, g[0].reason)
	}
	st, err := s.runClaim(ctx, keys, args) // confirmed by a replica when there is one
	if err != nil {
		return fmt.Errorf("claim delivery %s: %w", k, err)
	}
	switch st {
	case "claimed":
		return nil
	case "suppressed":
		return ErrSuppressed
	case "found-claim":
		return &ErrAlreadyHandled{State: Unknown}
	default:
		return &ErrAlreadyHandled{State: DeliveryState(st)}
	}
}

// SentMarks are writes that belong with a "sent" record and go in its round
// trip.
type SentMarks struct {
	// LastNudge names the message replies now answer ("<program>:<date>").
	LastNudge string
	// SMSFooterAt is set when the text carried the opt-out words.
	SMSFooterAt time.Time
	// RoutePhone is a number whose replies now go to the subscriber: set
	// for a nudge or prompt only, never for a confirmation request.
	RoutePhone string
	// SMSAskedAt is set when the text asked the number to reply YES.
	SMSAskedAt time.Time
}

// setFieldsIfExistsScript sets fields of a hash that exists, and never brings
// back a record erased in the meantime.
const setFieldsIfExistsScript = `if redis.call('EXISTS', KEYS[1]) == 1 then return redis.call('HSET', KEYS[1], unpack(ARGV)) end return 0`

// FinishSent records that the provider accepted the message, with its id,
// and makes the marks, in one transaction.
func (s *Store) FinishSent(ctx context.Context, k DeliveryKey, providerID string, now time.Time, m SentMarks) error {
	_, err := s.rdb.TxPipelined(ctx, func(p redis.Pipeliner) error {
		s.finish(ctx, p, k, Sent, providerID, "", now)
		var fields []any
		if m.LastNudge != "" {
			fields = append(fields, fLastNudge, m.LastNudge)
		}
		if !m.SMSFooterAt.IsZero() {
			fields = append(fields, fSMSFooterAt, unix(m.SMSFooterAt))
		}
		if !m.SMSAskedAt.IsZero() {
			fields = append(fields, fSMSAskedAt, unix(m.SMSAskedAt))
		}
		if len(fields) > 0 {
			p.Eval(ctx, setFieldsIfExistsScript, []string{s.subKey(k.SubscriberID)}, fields...)
		}
		if m.RoutePhone != "" {
			p.HSet(ctx, s.routeKey(), m.RoutePhone, k.SubscriberID)
		}
		if m.LastNudge != "" {
			// Answers are counted against what was sent ("3 of 4 answered").
			s.markSent(ctx, p, k.SubscriberID, m.LastNudge, now)
		}
		return nil
	})
	if err != nil {
		return fmt.Errorf("record delivery %s as sent: %w", k, err)
	}
	return nil
}

// FinishDelivery records how an attempt ended: sent (with the provider's id),
// failed or unknown (with a reason), or retry (the claim is released).
func (s *Store) FinishDelivery(ctx context.Context, k DeliveryKey, st DeliveryState, providerID, reason string, now time.Time) error {
	_, err := s.rdb.TxPipelined(ctx, func(p redis.Pipeliner) error {
		s.finish(ctx, p, k, st, providerID, reason, now)
		return nil
	})
	if err != nil {
		return fmt.Errorf("record delivery %s as %s: %w", k, st, err)
	}
	return nil
}

func (s *Store) finish(ctx context.Context, p redis.Pipeliner, k DeliveryKey, st DeliveryState, providerID, reason string, now time.Time) {
	key := s.deliveryKey(k)
	p.HSet(ctx, key, "s", string(st), "p", providerID, "w", reason, "t", now.Unix())
	p.Expire(ctx, key, DeliveryRetention)
	if k.Channel == domain.SMS && providerID != "" {
		// Status callbacks name the message by its sid.
		p.Set(ctx, s.sidKey(providerID), k.String(), DeliveryRetention)
	}
}

// skipScript records a skip on an empty or released record. On a claim
// left by an attempt that stopped before recording its outcome it records
// unknown instead, as claimScript does: the provider may have the message.
// It answers the state written, or "" when the record was final already.
var skipScript = redis.NewScript(`
local st = redis.call('HGET', KEYS[1], 's')
if st == 'claimed' then
  redis.call('HSET', KEYS[1], 's', 'unknown', 'w', 'an earlier attempt stopped after claiming', 't', ARGV[2])
  redis.call('EXPIRE', KEYS[1], ARGV[3])
  return 'unknown'
end
if not st or st == 'retry' then
  redis.call('HSET', KEYS[1], 's', 'skipped', 'w', ARGV[1], 't', ARGV[2])
  redis.call('EXPIRE', KEYS[1], ARGV[3])
  return 'skipped'
end
return ''
`)

// SkipDelivery records that an occurrence was not sent on purpose, unless an
// attempt ended it already (a skip never overwrites a send). A claim left by
// an attempt that never reported back becomes unknown, not skipped. It
// returns the state it recorded: Skipped, Unknown, or "" for none.
func (s *Store) SkipDelivery(ctx context.Context, k DeliveryKey, reason string, now time.Time) (DeliveryState, error) {
	st, err := skipScript.Run(ctx, s.rdb, []string{s.deliveryKey(k)}, reason, now.Unix(), int(DeliveryRetention.Seconds())).Text()
	if err != nil {
		return "", fmt.Errorf("record skipped %s: %w", k, err)
	}
	return DeliveryState(st), nil
}

var settleScript = redis.NewScript(`
if redis.call('HGET', KEYS[1], 's') == 'claimed' then
  redis.call('HSET', KEYS[1], 's', 'unknown', 'w', 'an earlier attempt stopped after claiming', 't', ARGV[1])
  redis.call('EXPIRE', KEYS[1], ARGV[2])
  return 'unknown'
end
return ''
`)

// SettleClaim ends a claim left by an attempt that never reported back as
// unknown, and writes nothing otherwise: no record is made for an
// occurrence never claimed. A retry uses it on the channels the person no
// longer wants, which the retry's skip or send would not reach. It returns
// Unknown, or "" when there was no such claim.
func (s *Store) SettleClaim(ctx context.Context, k DeliveryKey, now time.Time) (DeliveryState, error) {
	st, err := settleScript.Run(ctx, s.rdb, []string{s.deliveryKey(k)}, now.Unix(), int(DeliveryRetention.Seconds())).Text()
	if err != nil {
		return "", fmt.Errorf("settle claim %s: %w", k, err)
	}
	return DeliveryState(st), nil
}

// Delivery loads a delivery record.
func (s *Store) Delivery(ctx context.Context, k DeliveryKey) (Delivery, error) {
	m, err := s.rdb.HGetAll(ctx, s.deliveryKey(k)).Result()
	if err != nil {
		return Delivery{}, fmt.Errorf("load delivery %s: %w", k, err)
	}
	if len(m) == 0 {
		return Delivery{}, fmt.Errorf("load delivery %s: %w", k, ErrNotFound)
	}
	return Delivery{State: DeliveryState(m["s"]), ProviderID: m["p"], Reason: m["w"], At: fromUnix(m["t"]), ProviderStatus: m["ps"], ErrorCode: m["ec"]}, nil
}

// IsAlreadyHandled reports whether err says the occurrence was handled before.
func IsAlreadyHandled(err error) (DeliveryState, bool) {
	var e *ErrAlreadyHandled
	if errors.As(err, &e) {
		return e.State, true
	}
	return "", false
}
