package store

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/nudgehq/nudge/internal/domain"
	"github.com/redis/go-redis/v9"
)

// Keys of what the clinic console keeps about a client besides the record:
//
//	cnotes:<client>   hash  note id → JSON: a staff member's dated event note
//	sesslog:<client>  zset  every session set for the client (Unix seconds),
//	                        so past sessions outlive the KeepSessions the
//	                        planner keeps
//
// Both go with an erasure of the client.

func (s *Store) clientNotesKey(id string) string { return s.prefix + "cnotes:" + id }
func (s *Store) sessionLogKey(id string) string  { return s.prefix + "sesslog:" + id }

// Limits of the console's per-client records.
const (
	// MaxClientNotes is how many event notes one client may have.
	MaxClientNotes = 200
	// MaxSessionLog is how many sessions the log keeps (the newest).
	MaxSessionLog = 200
)

// ClientNote is a staff member's dated note on a client ("started a new
// job"), shown on the score chart and in the timeline.
type ClientNote struct {
	ID      string
	Client  string
	Day     time.Time // the day the note is about (midnight UTC)
	Text    string
	Staff   string // who wrote it
	Written time.Time
}

type noteJSON struct {
	Day     int64  `json:"d"`
	Text    string `json:"t"`
	Staff   string `json:"s"`
	Written int64  `json:"w"`
}

// AddClientNote stores a note on a client of clinic cid.
func (s *Store) AddClientNote(ctx context.Context, cid string, n ClientNote) error {
	if _, err := s.Client(ctx, cid, n.Client); err != nil {
		return err
	}
	key := s.clientNotesKey(n.Client)
	b, err := json.Marshal(noteJSON{Day: n.Day.Unix(), Text: n.Text, Staff: n.Staff, Written: n.Written.Unix()})
	if err != nil {
		return err
	}
	txf := func(tx *redis.Tx) error {
		have, err := tx.HLen(ctx, key).Result()
		if err != nil {
			return err
		}
		if have >= MaxClientNotes {
			return fmt.Errorf("a client has at most %d notes: %w", MaxClientNotes, ErrTooMany)
		}
		_, err = tx.TxPipelined(ctx, func(p redis.Pipeliner) error {
			p.HSet(ctx, key, n.ID, b)
			return nil
		})
		return err
	}
	if err := s.watch(ctx, txf, key); err != nil {
		return fmt.Errorf("add note to %s: %w", n.Client, err)
	}
	return nil
}

// ErrTooMany is returned when a per-client list is full.
var ErrTooMany = errors.New("too many")

// ClientNotes lists a client's notes, oldest day first.
func (s *Store) ClientNotes(ctx context.Context, cid, client string) ([]ClientNote, error) {
	if _, err := s.Client(ctx, cid, client); err != nil {
		return nil, err
	}
	raw, err := s.rdb.HGetAll(ctx, s.clientNotesKey(client)).Result()
	if err != nil {
		return nil, fmt.Errorf("load notes of %s: %w", client, err)
	}
	out := make([]ClientNote, 0, len(raw))
	for id, v := range raw {
		var nj noteJSON
		if err := json.Unmarshal([]byte(v), &nj); err != nil {
			return nil, fmt.Errorf("decode note %s of %s: %w", id, client, err)
		}
		out = append(out, ClientNote{ID: id, Client: client, Day: time.Unix(nj.Day, 0).UTC(), Text: nj.Text, Staff: nj.Staff, Written: time.Unix(nj.Written, 0).UTC()})
	}
	slices.SortFunc(out, func(a, b ClientNote) int {
		if c := a.Day.Compare(b.Day); c != 0 {
			return c
		}
		if c := a.Written.Compare(b.Written); c != 0 {
			return c
		}
		return strings.Compare(a.ID, b.ID)
	})
	return out, nil
}

// DeleteClientNote deletes one note; a note of another client is not found.
func (s *Store) DeleteClientNote(ctx context.Context, cid, client, id string) error {
	if _, err := s.Client(ctx, cid, client); err != nil {
		return err
	}
	n, err := s.rdb.HDel(ctx, s.clientNotesKey(client), id).Result()
	if err != nil {
		return fmt.Errorf("delete note %s of %s: %w", id, client, err)
	}
	if n == 0 {
		return fmt.Errorf("note %s of %s: %w", id, client, ErrNotFound)
	}
	return nil
}

// LogSession records a session set for a client, as SetSession does: one
// in the future replaces any other still ahead of now. The log keeps the
// newest MaxSessionLog.
func (s *Store) LogSession(ctx context.Context, cid, client string, at, now time.Time) error {
	if _, err := s.Client(ctx, cid, client); err != nil {
		return err
	}
	key := s.sessionLogKey(client)
	_, err := s.rdb.TxPipelined(ctx, func(p redis.Pipeliner) error {
		if at.After(now) {
			p.ZRemRangeByScore(ctx, key, "("+strconv.FormatInt(now.Unix(), 10), "+inf")
		}
		p.ZAdd(ctx, key, redis.Z{Score: float64(at.Unix()), Member: strconv.FormatInt(at.Unix(), 10)})
		p.ZRemRangeByRank(ctx, key, 0, -MaxSessionLog-1)
		return nil
	})
	if err != nil {
		return fmt.Errorf("log session of %s: %w", client, err)
	}
	return nil
}

// SessionLog lists the sessions logged for a client, oldest first.
func (s *Store) SessionLog(ctx context.Context, cid, client string) ([]time.Time, error) {
	if _, err := s.Client(ctx, cid, client); err != nil {
		return nil, err
	}
	zs, err := s.rdb.ZRangeWithScores(ctx, s.sessionLogKey(client), 0, -1).Result()
	if err != nil {
		return nil, fmt.Errorf("load session log of %s: %w", client, err)
	}
	out := make([]time.Time, 0, len(zs))
	for _, z := range zs {
		out = append(out, time.Unix(int64(z.Score), 0).UTC())
	}
	return out, nil
}

// Discharge ends a clinic's client's care: the status becomes discharged,
// every schedule leaves the due index and its version moves on (a task
// already queued for it is not sent, and the worker sends nothing to a
// client who is not active). The record, answers and replies stay for their
// retention. Unlike an unsubscribe, no address is suppressed: the client
// did not opt out. It returns false when the client was already discharged.
// The prompt plan is the caller's to clear (clinic.Service.Discharge).
func (s *Store) Discharge(ctx context.Context, cid, id string, ev ConsentEvent) (bool, error) {
	key := s.subKey(id)
	var changed bool
	txf := func(tx *redis.Tx) error {
		changed = false
		m, err := tx.HMGet(ctx, key, fStatus, fPrograms, fClinic, fTimeZone).Result()
		if err != nil {
			return err
		}
		if m[0] == nil || cid == "" || str(m[2]) != cid {
			return ErrNotFound
		}
		if domain.Status(str(m[0])) == domain.Discharged {
			return nil
		}
		progs, zone := str(m[1]), str(m[3])
		_, err = tx.TxPipelined(ctx, func(p redis.Pipeliner) error {
			// An opt-out survives the discharge: a readmission and an
			// erasure read it back.
			p.HSet(ctx, key, fStatus, string(domain.Discharged), fDischargedFrom, str(m[0]))
			// Kept for the retention, then erased (DischargedBefore).
			p.ZAdd(ctx, s.dischargedKey(), redis.Z{Score: float64(ev.At.Unix()), Member: cid + "|" + id})
			for _, prog := range parsePrograms(progs) {
				s.retireDue(ctx, p, id, prog, zone)
				p.HIncrBy(ctx, s.schedKey(id, prog), fVersion, 1)
				p.HSet(ctx, s.schedKey(id, prog), fNext, "0")
			}
			s.appendConsent(ctx, p, id, ev)
			return nil
		})
		if err == nil {
			changed = true
		}
		return err
	}
	if err := s.watch(ctx, txf, key); err != nil {
		return false, fmt.Errorf("discharge %s: %w", id, err)
	}
	return changed, nil
}

func (s *Store) dischargedKey() string { return s.prefix + "discharged" }

// DischargedClient is a client discharged at At.
type DischargedClient struct {
	Clinic, ID string
	At         time.Time
}

// DischargedBefore lists up to limit clients discharged before cutoff,
// oldest first: those whose retention has run out.
func (s *Store) DischargedBefore(ctx context.Context, cutoff time.Time, limit int) ([]DischargedClient, error) {
	zs, err := s.rdb.ZRangeArgsWithScores(ctx, redis.ZRangeArgs{Key: s.dischargedKey(), Start: "-inf",
		Stop: "(" + strconv.FormatInt(cutoff.Unix(), 10), ByScore: true, Count: int64(limit)}).Result()
	if err != nil {
		return nil, fmt.Errorf("list discharged clients: %w", err)
	}
	out := make([]DischargedClient, 0, len(zs))
	for _, z := range zs {
		member, _ := z.Member.(string)
		cid, id, ok := strings.Cut(member, "|")
		if !ok {
			continue
		}
		out = append(out, DischargedClient{Clinic: cid, ID: id, At: time.Unix(int64(z.Score), 0).UTC()})
	}
	return out, nil
}

// ForgetDischarged drops a client from the discharged list (erased, or
// no longer discharged).
func (s *Store) ForgetDischarged(ctx context.Context, cid, id string) error {
	if err := s.rdb.ZRem(ctx, s.dischargedKey(), cid+"|"+id).Err(); err != nil {
		return fmt.Errorf("forget discharged %s: %w", id, err)
	}
	return nil
}

// Readmit undoes a discharge: the client is active again if they had
// confirmed a channel, pending otherwise, and leaves the discharged list.
// It returns false when the client was not discharged. Prompts are the
// caller's to plan again (clinic.Service.Readmit).
func (s *Store) Readmit(ctx context.Context, cid, id string, ev ConsentEvent) (bool, error) {
	key := s.subKey(id)
	var changed bool
	txf := func(tx *redis.Tx) error {
		changed = false
		m, err := tx.HMGet(ctx, key, fStatus, fClinic, fConfirmedAt, fDischargedFrom).Result()
		if err != nil {
			return err
		}
		if m[0] == nil || cid == "" || str(m[1]) != cid {
			return ErrNotFound
		}
		if domain.Status(str(m[0])) != domain.Discharged {
			return nil
		}
		to := domain.Active
		switch {
		case domain.Status(str(m[3])) == domain.Unsubscribed:
			to = domain.Unsubscribed // a client who opted out stays out
		case fromUnix(str(m[2])).IsZero():
			to = domain.Pending
		}
		_, err = tx.TxPipelined(ctx, func(p redis.Pipeliner) error {
			p.HSet(ctx, key, fStatus, string(to))
			p.HDel(ctx, key, fDischargedFrom)
			p.ZRem(ctx, s.dischargedKey(), cid+"|"+id)
			s.appendConsent(ctx, p, id, ev)
			return nil
		})
		if err == nil {
			changed = true
		}
		return err
	}
	if err := s.watch(ctx, txf, key); err != nil {
		return false, fmt.Errorf("readmit %s: %w", id, err)
	}
	return changed, nil
}

// ConsentReadmit is the consent ledger's action for a discharge undone.
const ConsentReadmit = "readmit"

// ConsentDischarge is the consent ledger's action for a discharge.
const ConsentDischarge = "discharge"
