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

// knownPrograms are every program a subscriber can have a schedule for. A
// dropped program's schedule hash is kept (its version must keep growing),
// so the record's program list alone does not name them all.
var knownPrograms = []domain.Program{domain.WeeklyCheckin, domain.Gratitude, domain.MonthlyReview, domain.BetweenSession}

// AllSchedules loads every schedule hash a subscriber has, chosen or
// dropped, for an export. The record's own list (Schedules) names the chosen.
func (s *Store) AllSchedules(ctx context.Context, id string) ([]domain.Schedule, error) {
	var out []domain.Schedule
	for _, p := range knownPrograms {
		sc, err := s.Schedule(ctx, id, p)
		if errors.Is(err, ErrNotFound) {
			continue
		}
		if err != nil {
			return nil, err
		}
		out = append(out, sc)
	}
	return out, nil
}

// DeliveryRecord is one stored delivery record with the occurrence it is for.
type DeliveryRecord struct {
	Key DeliveryKey
	Delivery
}

// scanBatch is how many keys one SCAN step looks at.
const scanBatch = 1000

// Deliveries returns every delivery record of a subscriber, in no particular
// order. The records have no index by subscriber, so this SCANs the keyspace
// for dlv:<id>:*: fine for an export or an erasure, too slow for a hot path.
func (s *Store) Deliveries(ctx context.Context, id string) ([]DeliveryRecord, error) {
	var out []DeliveryRecord
	err := s.scanDeliveries(ctx, id, func(keys []string) error {
		cmds := make([]*redis.MapStringStringCmd, len(keys))
		_, err := s.rdb.Pipelined(ctx, func(p redis.Pipeliner) error {
			for i, k := range keys {
				cmds[i] = p.HGetAll(ctx, k)
			}
			return nil
		})
		if err != nil {
			return err
		}
		for i, k := range keys {
			m := cmds[i].Val()
			if len(m) == 0 {
				continue // expired or erased between the scan and the read
			}
			dk, ok := s.parseDeliveryKey(k, id)
			if !ok {
				continue
			}
			out = append(out, DeliveryRecord{Key: dk, Delivery: Delivery{
				State: DeliveryState(m["s"]), ProviderID: m["p"], Reason: m["w"], At: fromUnix(m["t"]), ProviderStatus: m["ps"], ErrorCode: m["ec"],
			}})
		}
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("load deliveries of %s: %w", id, err)
	}
	return out, nil
}

// scanDeliveries calls fn with each batch of a subscriber's delivery keys.
func (s *Store) scanDeliveries(ctx context.Context, id string, fn func(keys []string) error) error {
	match := globEscape(s.prefix+"dlv:"+id+":") + "*"
	var cursor uint64
	for {
		keys, next, err := s.rdb.Scan(ctx, cursor, match, scanBatch).Result()
		if err != nil {
			return err
		}
		if len(keys) > 0 {
			if err := fn(keys); err != nil {
				return err
			}
		}
		if next == 0 {
			return nil
		}
		cursor = next
	}
}

// parseDeliveryKey reads "<prefix>dlv:<id>:<program>:<date>:<channel>"; the
// date may itself hold colons.
func (s *Store) parseDeliveryKey(key, id string) (DeliveryKey, bool) {
	rest, ok := strings.CutPrefix(key, s.prefix+"dlv:"+id+":")
	if !ok {
		return DeliveryKey{}, false
	}
	prog, rest, ok1 := strings.Cut(rest, ":")
	i := strings.LastIndexByte(rest, ':')
	if !ok1 || i < 0 {
		return DeliveryKey{}, false
	}
	return DeliveryKey{SubscriberID: id, Program: domain.Program(prog), Date: rest[:i], Channel: domain.Channel(rest[i+1:])}, true
}

// globEscape quotes the characters SCAN's MATCH treats specially.
func globEscape(s string) string {
	var b strings.Builder
	for _, r := range s {
		if strings.ContainsRune(`*?[]\^`, r) {
			b.WriteByte('\\')
		}
		b.WriteRune(r)
	}
	return b.String()
}

// Erasure says what Erase did.
type Erasure struct {
	// Found is whether the subscriber record was there; a second erasure
	// finds nothing and only sweeps what may have been left.
	Found bool
	// Suppressed names what stays on the suppression list, hashed, because
	// the subscriber had opted out of it: "email", "sms".
	Suppressed []string
	// Deliveries is how many delivery records were deleted.
	Deliveries int
}

// A lookup index entry goes only if it still names this subscriber: a number
// may since belong to someone else's newer signup.
const hdelIfScript = `if redis.call('HGET', KEYS[1], ARGV[1]) == ARGV[2] then return redis.call('HDEL', KEYS[1], ARGV[1]) end return 0`

// Erase deletes everything kept about a subscriber: the record, every
// schedule and due-index entry, the email and phone index entries, the
// consent ledger, the replies and answers, and the delivery records with their
// provider-id index entries. What stays is the hashed address or number on
// the suppression list when they had opted out of it (unsubscribed from
// everything: both; SMS stopped: the number), so they are never messaged
// again; a hash already there for another reason (repeated bounces) is left
// as it is. inbound:<sid> markers (a provider id and a timestamp) and
// bounce counters (keyed by hash) hold nothing about the person and expire
// on their own.
//
// The record, its schedules and indexes go in one transaction; the delivery
// records, which need a SCAN, right after. Queued tasks are the caller's
// (asynq's) business: a task that runs later finds no subscriber and sends
// nothing. Erasing again is harmless.
func (s *Store) Erase(ctx context.Context, id string) (Erasure, error) {
	return s.erase(ctx, id, nil)
}

// EraseUnconfirmed erases a signup that is still unconfirmed and was made
// before cutoff, and leaves anything else alone (Found false). The check
// and the erasure are one transaction: a confirmation that lands between
// the expirer's look and its erasure makes the transaction retry, and the
// retry finds the record active and keeps it.
func (s *Store) EraseUnconfirmed(ctx context.Context, id string, cutoff time.Time) (Erasure, error) {
	return s.erase(ctx, id, func(status domain.Status, created time.Time) bool {
		return status == domain.Pending && created.Before(cutoff)
	})
}

// erase is Erase, limited to a record for which only (when not nil) says yes.
func (s *Store) erase(ctx context.Context, id string, only func(domain.Status, time.Time) bool) (Erasure, error) {
	key := s.subKey(id)
	var res Erasure
	txf := func(tx *redis.Tx) error {
		res = Erasure{}
		m, err := tx.HMGet(ctx, key, fEmail, fPhone, fStatus, fSMSStatus, fPrograms, fClinic, fTimeZone, fCreatedAt, fDischargedFrom).Result()
		if err != nil {
			return err
		}
		str := func(i int) string { v, _ := m[i].(string); return v }
		email, phone, status, smsStatus := str(0), str(1), domain.Status(str(2)), domain.SMSStatus(str(3))
		clinic, zone := str(5), str(6)
		if only != nil && (m[2] == nil || !only(status, fromUnix(str(7)))) {
			return nil
		}
		optedOut := status == domain.Unsubscribed || status == domain.Discharged && domain.Status(str(8)) == domain.Unsubscribed
		planned, err := tx.SMembers(ctx, s.pplanKey(id)).Result()
		if err != nil {
			return err
		}
		res.Found = m[2] != nil
		progs := append([]domain.Program{}, knownPrograms...)
		for _, p := range parsePrograms(str(4)) {
			if !p.Valid() {
				progs = append(progs, p)
			}
		}
		_, err = tx.TxPipelined(ctx, func(p redis.Pipeliner) error {
			keys := []string{key, s.consentKey(id), s.prefix + "replies:" + id, s.distressKey(id)}
			keys = append(keys, s.answerKeys(id)...)
			for _, prog := range progs {
				// Before the schedule hash goes: the entry is found by its
				// version and rule.
				s.retireDue(ctx, p, id, prog, zone)
				keys = append(keys, s.schedKey(id, prog))
			}
			// A client's prompts, sessions and plan; keys a public
			// subscriber never has are simply not there.
			keys = append(keys, s.sessKey(id), s.promptsKey(id), s.pplanKey(id), s.cappedKey(id), s.dlvIndexKey(id), s.clientNotesKey(id), s.sessionLogKey(id), s.unansweredRunKey(id))
			p.Del(ctx, keys...)
			for _, k := range planned {
				p.ZRem(ctx, s.pdueKey(), id+"|"+k)
			}
			emailIndex, phoneIndex := s.emailIndexKey(), s.phoneIndexKey()
			if clinic != "" {
				emailIndex, phoneIndex = s.clinicEmailKey(clinic), s.clinicPhoneKey(clinic)
				p.ZRem(ctx, s.clinicClientsKey(clinic), id)
				// Their assignment to a clinician goes too; the clinic's
				// alerts and audit log keep the id, never a name or words.
				p.HDel(ctx, s.clinicAssignKey(clinic), id)
				p.ZRem(ctx, s.dischargedKey(), clinic+"|"+id)
			}
			if email != "" {
				p.Eval(ctx, hdelIfScript, []string{emailIndex}, NormaliseEmail(email), id)
			}
			if phone != "" {
				p.Eval(ctx, hdelIfScript, []string{phoneIndex}, phone, id)
				p.Eval(ctx, hdelIfScript, []string{s.routeKey()}, phone, id)
				p.SRem(ctx, s.phoneOwnersKey(phone), id)
			}
			if optedOut && email != "" {
				p.SAdd(ctx, s.suppressionKeyFor(clinic), AddressHash(email))
				res.Suppressed = append(res.Suppressed, string(domain.Email))
			}
			if phone != "" && (optedOut || smsStatus == domain.SMSStopped) {
				p.SAdd(ctx, s.suppressionKey(), AddressHash(phone))
				res.Suppressed = append(res.Suppressed, string(domain.SMS))
			}
			return nil
		})
		return err
	}
	if err := s.watch(ctx, txf, key); err != nil {
		return Erasure{}, fmt.Errorf("erase %s: %w", id, err)
	}
	if only != nil && !res.Found {
		return res, nil
	}
	n, err := s.eraseDeliveries(ctx, id)
	res.Deliveries = n
	if err != nil {
		return res, fmt.Errorf("erase %s: %w", id, err)
	}
	return res, nil
}

// eraseDeliveries deletes a subscriber's delivery records and the sid:
// entries that point status callbacks at them.
func (s *Store) eraseDeliveries(ctx context.Context, id string) (int, error) {
	var total int
	err := s.scanDeliveries(ctx, id, func(keys []string) error {
		cmds := make([]*redis.StringCmd, len(keys))
		_, err := s.rdb.Pipelined(ctx, func(p redis.Pipeliner) error {
			for i, k := range keys {
				cmds[i] = p.HGet(ctx, k, "p")
			}
			return nil
		})
		if err != nil && !errors.Is(err, redis.Nil) {
			return err
		}
		var sids []string
		for _, c := range cmds {
			if sid := c.Val(); sid != "" {
				sids = append(sids, s.sidKey(sid))
			}
		}
		var n *redis.IntCmd
		_, err = s.rdb.TxPipelined(ctx, func(p redis.Pipeliner) error {
			n = p.Del(ctx, keys...)
			if len(sids) > 0 {
				p.Del(ctx, sids...)
			}
			return nil
		})
		if err != nil {
			return err
		}
		total += int(n.Val())
		return nil
	})
	if err != nil {
		return total, fmt.Errorf("delete delivery records: %w", err)
	}
	return total, nil
}
