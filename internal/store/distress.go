package store

import (
	"context"
	"encoding/json"
	"fmt"
	"time"

	"github.com/redis/go-redis/v9"
)

// Distress detections: what nudge did when a reply read as distress. Kept
// beside the record for as long as replies are (ReplyRetention), in the
// export, and gone with an erasure. A detection never holds the words
// themselves: they are in the reply, where the person's export shows them.

// maxDetections caps one record's detection log.
const maxDetections = 100

func (s *Store) distressKey(id string) string { return s.prefix + "distress:" + id }

// Detection is one reply that read as distress.
type Detection struct {
	At      time.Time `json:"at"`
	Channel string    `json:"channel"` // sms, email
	Rule    string    `json:"rule"`    // which recognition rule matched
	// Answer names what was sent back at once: the crisis resources of
	// which country and language ("crisis-resources US es").
	Answer string `json:"answer"`
}

// HoldForDistress records a detection and holds a record's nudges back: a
// pause until the instant given, and a hold that lasts, after one gentle
// check-in, until the person resumes (START, YES, or resume on the manage
// page). The inbound message sid (or "") is marked handled in the same
// transaction. A record erased meanwhile is not brought back.
func (s *Store) HoldForDistress(ctx context.Context, id string, until time.Time, d Detection, sid string, ev ConsentEvent) error {
	b, err := json.Marshal(d)
	if err != nil {
		return fmt.Errorf("encode detection: %w", err)
	}
	key, log := s.subKey(id), s.distressKey(id)
	txf := func(tx *redis.Tx) error {
		n, err := tx.Exists(ctx, key).Result()
		if err != nil {
			return err
		}
		if n == 0 {
			return ErrNotFound
		}
		_, err = tx.TxPipelined(ctx, func(p redis.Pipeliner) error {
			p.HSet(ctx, key, fPausedUntil, unix(until), fDistressAt, unix(d.At))
			p.HDel(ctx, key, fGentleAt)
			p.RPush(ctx, log, b)
			p.LTrim(ctx, log, -maxDetections, -1)
			p.Expire(ctx, log, ReplyRetention)
			s.appendConsent(ctx, p, id, ev)
			s.markInbound(ctx, p, sid)
			return nil
		})
		return err
	}
	if err := s.watch(ctx, txf, key); err != nil {
		return fmt.Errorf("hold %s after distress: %w", id, err)
	}
	return nil
}

// Detections returns a record's detections, oldest first.
func (s *Store) Detections(ctx context.Context, id string) ([]Detection, error) {
	raw, err := s.rdb.LRange(ctx, s.distressKey(id), 0, -1).Result()
	if err != nil {
		return nil, fmt.Errorf("load detections of %s: %w", id, err)
	}
	out := make([]Detection, 0, len(raw))
	for _, r := range raw {
		var d Detection
		if err := json.Unmarshal([]byte(r), &d); err != nil {
			return nil, fmt.Errorf("decode detection of %s: %w", id, err)
		}
		out = append(out, d)
	}
	return out, nil
}

// MarkGentleCheckin records that the one gentle check-in after distress
// went out, so that the occurrences after it are only held. It reports false
// when it had gone out already (another attempt sent it).
func (s *Store) MarkGentleCheckin(ctx context.Context, id string, at time.Time) (bool, error) {
	n, err := gentleScript.Run(ctx, s.rdb, []string{s.subKey(id)}, fGentleAt, unix(at)).Int()
	if err != nil {
		return false, fmt.Errorf("mark gentle check-in of %s: %w", id, err)
	}
	return n == 1, nil
}

// ClearGentleCheckin gives back a gentle check-in's claim that no channel
// could send, so that the next occurrence tries again.
func (s *Store) ClearGentleCheckin(ctx context.Context, id string) error {
	if err := s.rdb.HDel(ctx, s.subKey(id), fGentleAt).Err(); err != nil {
		return fmt.Errorf("clear gentle check-in of %s: %w", id, err)
	}
	return nil
}

// gentleScript sets a field once, on a record that still exists.
var gentleScript = redis.NewScript(`
if redis.call('EXISTS', KEYS[1]) == 0 then return 0 end
return redis.call('HSETNX', KEYS[1], ARGV[1], ARGV[2])
`)
