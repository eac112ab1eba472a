package store

import (
	"context"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"sort"
	"strconv"
	"time"

	"github.com/nudgehq/nudge/internal/domain"
	"github.com/redis/go-redis/v9"
)

// The clinic console's records: staff and their roles, which clinician a
// client is assigned to, one-time sign-in links, sessions, the audit log
// and distress alerts. Secrets (link tokens, session ids) are stored only
// as their SHA-256; an address is staff of at most one clinic, so a
// sign-in asks for nothing but the address.

// Staff roles.
const (
	RoleOwner     = "owner"
	RoleClinician = "clinician"
)

// AuditRetention is how long audit entries are kept.
const AuditRetention = 400 * 24 * time.Hour

// linkKeep is how long a used or expired sign-in link is remembered, so a
// second use is told apart (and audited) rather than looking unknown.
const linkKeep = 24 * time.Hour

// ErrStaffTaken is returned when an address is already staff somewhere.
var ErrStaffTaken = &domain.Error{Code: domain.ErrConflict, Message: "this address is already a staff member"}

// Staff is a member of a clinic's staff.
type Staff struct {
	ID        string    `json:"id"`
	Clinic    string    `json:"clinic"`
	Email     string    `json:"email"`
	Role      string    `json:"role"`
	CreatedAt time.Time `json:"created_at"`
}

func (s *Store) staffKey(sid string) string           { return s.prefix + "staff:" + sid }
func (s *Store) staffEmailKey() string                { return s.prefix + "idx:staff-email" }
func (s *Store) clinicStaffKey(cid string) string     { return s.prefix + "clinic:" + cid + ":staff" }
func (s *Store) staffSessionsKey(sid string) string   { return s.prefix + "staff:" + sid + ":sessions" }
func (s *Store) clinicAssignKey(cid string) string    { return s.prefix + "clinic:" + cid + ":assigned" }
func (s *Store) signInLinkKey(hash string) string     { return s.prefix + "console:link:" + hash }
func (s *Store) consoleSessionKey(hash string) string { return s.prefix + "console:session:" + hash }
func (s *Store) clinicAuditKey(cid string) string     { return s.prefix + "clinic:" + cid + ":audit" }
func (s *Store) clinicAlertsKey(cid string) string    { return s.prefix + "clinic:" + cid + ":alerts" }
func (s *Store) clinicAlertOrderKey(cid string) string {
	return s.prefix + "clinic:" + cid + ":alerts:order"
}

// SecretHash is how link tokens and session ids are stored.
func SecretHash(secret string) string {
	h := sha256.Sum256([]byte(secret))
	return hex.EncodeToString(h[:])
}

// NewSecret returns 32 random bytes, base64url: a link token or session id.
func NewSecret() string {
	var b [32]byte
	if _, err := rand.Read(b[:]); err != nil {
		panic(fmt.Sprintf("crypto/rand failed: %v", err))
	}
	return base64.RawURLEncoding.EncodeToString(b[:])
}

// AddStaff records a staff member of an existing clinic. The address is
// claimed atomically: one already staff (here or elsewhere) is ErrStaffTaken.
func (s *Store) AddStaff(ctx context.Context, st Staff) error {
	if _, err := s.Clinic(ctx, st.Clinic); err != nil {
		return err
	}
	st.Email = NormaliseEmail(st.Email)
	b, err := json.Marshal(st)
	if err != nil {
		return fmt.Errorf("encode staff: %w", err)
	}
	idx := s.staffEmailKey()
	txf := func(tx *redis.Tx) error {
		taken, err := tx.HExists(ctx, idx, st.Email).Result()
		if err != nil {
			return err
		}
		if taken {
			return ErrStaffTaken
		}
		_, err = tx.TxPipelined(ctx, func(p redis.Pipeliner) error {
			p.HSet(ctx, idx, st.Email, st.ID)
			p.Set(ctx, s.staffKey(st.ID), b, 0)
			p.SAdd(ctx, s.clinicStaffKey(st.Clinic), st.ID)
			return nil
		})
		return err
	}
	if err := s.watch(ctx, txf, idx); err != nil {
		return fmt.Errorf("add staff to %s: %w", st.Clinic, err)
	}
	return nil
}

// StaffMember loads a staff member by id.
func (s *Store) StaffMember(ctx context.Context, sid string) (Staff, error) {
	raw, err := s.rdb.Get(ctx, s.staffKey(sid)).Result()
	if errors.Is(err, redis.Nil) {
		return Staff{}, fmt.Errorf("load staff %s: %w", sid, ErrNotFound)
	}
	if err != nil {
		return Staff{}, fmt.Errorf("load staff %s: %w", sid, err)
	}
	var st Staff
	if err := json.Unmarshal([]byte(raw), &st); err != nil {
		return Staff{}, fmt.Errorf("decode staff %s: %w", sid, err)
	}
	return st, nil
}

// ClinicStaff loads one staff member of clinic cid: another clinic's is
// ErrNotFound, exactly as a missing one.
func (s *Store) ClinicStaff(ctx context.Context, cid, sid string) (Staff, error) {
	st, err := s.StaffMember(ctx, sid)
	if err != nil {
		return Staff{}, err
	}
	if cid == "" || st.Clinic != cid {
		return Staff{}, fmt.Errorf("load staff %s: %w", sid, ErrNotFound)
	}
	return st, nil
}

// StaffByEmail finds the staff member with an address.
func (s *Store) StaffByEmail(ctx context.Context, addr string) (Staff, error) {
	sid, err := s.rdb.HGet(ctx, s.staffEmailKey(), NormaliseEmail(addr)).Result()
	if errors.Is(err, redis.Nil) {
		return Staff{}, fmt.Errorf("find staff: %w", ErrNotFound)
	}
	if err != nil {
		return Staff{}, fmt.Errorf("find staff: %w", err)
	}
	return s.StaffMember(ctx, sid)
}

// StaffList lists a clinic's staff, oldest first.
func (s *Store) StaffList(ctx context.Context, cid string) ([]Staff, error) {
	ids, err := s.rdb.SMembers(ctx, s.clinicStaffKey(cid)).Result()
	if err != nil {
		return nil, fmt.Errorf("list staff of %s: %w", cid, err)
	}
	out := make([]Staff, 0, len(ids))
	for _, id := range ids {
		st, err := s.StaffMember(ctx, id)
		if errors.Is(err, ErrNotFound) {
			continue
		}
		if err != nil {
			return nil, err
		}
		out = append(out, st)
	}
	sort.Slice(out, func(i, j int) bool {
		if !out[i].CreatedAt.Equal(out[j].CreatedAt) {
			return out[i].CreatedAt.Before(out[j].CreatedAt)
		}
		return out[i].ID < out[j].ID
	})
	return out, nil
}

// RemoveStaff removes a staff member of clinic cid, ends every session
// they have, and drops their client assignments, in one transaction.
func (s *Store) RemoveStaff(ctx context.Context, cid, sid string) error {
	st, err := s.ClinicStaff(ctx, cid, sid)
	if err != nil {
		return err
	}
	sessions, err := s.rdb.SMembers(ctx, s.staffSessionsKey(sid)).Result()
	if err != nil {
		return fmt.Errorf("list sessions of %s: %w", sid, err)
	}
	assigned, err := s.rdb.HGetAll(ctx, s.clinicAssignKey(cid)).Result()
	if err != nil {
		return fmt.Errorf("list assignments of %s: %w", cid, err)
	}
	_, err = s.rdb.TxPipelined(ctx, func(p redis.Pipeliner) error {
		p.Del(ctx, s.staffKey(sid), s.staffSessionsKey(sid))
		p.HDel(ctx, s.staffEmailKey(), st.Email)
		p.SRem(ctx, s.clinicStaffKey(cid), sid)
		for _, h := range sessions {
			p.Del(ctx, s.consoleSessionKey(h))
		}
		for client, by := range assigned {
			if by == sid {
				p.HDel(ctx, s.clinicAssignKey(cid), client)
			}
		}
		return nil
	})
	if err != nil {
		return fmt.Errorf("remove staff %s: %w", sid, err)
	}
	return nil
}

// Assign makes clinician sid the one a client of clinic cid is assigned
// to. Both must belong to the clinic, else ErrNotFound.
func (s *Store) Assign(ctx context.Context, cid, sid, client string) error {
	if _, err := s.ClinicStaff(ctx, cid, sid); err != nil {
		return err
	}
	if _, err := s.Client(ctx, cid, client); err != nil {
		return err
	}
	if err := s.rdb.HSet(ctx, s.clinicAssignKey(cid), client, sid).Err(); err != nil {
		return fmt.Errorf("assign %s: %w", client, err)
	}
	return nil
}

// Assignments maps a clinic's assigned clients to their staff member.
func (s *Store) Assignments(ctx context.Context, cid string) (map[string]string, error) {
	m, err := s.rdb.HGetAll(ctx, s.clinicAssignKey(cid)).Result()
	if err != nil {
		return nil, fmt.Errorf("list assignments of %s: %w", cid, err)
	}
	return m, nil
}

// AssignedTo says which staff member a client is assigned to ("" none).
func (s *Store) AssignedTo(ctx context.Context, cid, client string) (string, error) {
	sid, err := s.rdb.HGet(ctx, s.clinicAssignKey(cid), client).Result()
	if errors.Is(err, redis.Nil) {
		return "", nil
	}
	if err != nil {
		return "", fmt.Errorf("read assignment of %s: %w", client, err)
	}
	return sid, nil
}

// ---- sign-in links ----

// SignInLink is a one-time sign-in link's record.
type SignInLink struct {
	Staff     string
	Clinic    string
	CreatedAt time.Time
	Used      bool
}

// CreateSignInLink mints a link for a staff member and returns its token
// (kept only as a hash).
func (s *Store) CreateSignInLink(ctx context.Context, st Staff, now time.Time) (string, error) {
	tok := NewSecret()
	key := s.signInLinkKey(SecretHash(tok))
	_, err := s.rdb.TxPipelined(ctx, func(p redis.Pipeliner) error {
		p.HSet(ctx, key, "staff", st.ID, "clinic", st.Clinic, "at", unix(now))
		p.Expire(ctx, key, linkKeep)
		return nil
	})
	if err != nil {
		return "", fmt.Errorf("store sign-in link: %w", err)
	}
	return tok, nil
}

// SignInLinkOf reads a link without using it.
func (s *Store) SignInLinkOf(ctx context.Context, tok string) (SignInLink, error) {
	m, err := s.rdb.HGetAll(ctx, s.signInLinkKey(SecretHash(tok))).Result()
	if err != nil {
		return SignInLink{}, fmt.Errorf("read sign-in link: %w", err)
	}
	if m["staff"] == "" {
		return SignInLink{}, fmt.Errorf("read sign-in link: %w", ErrNotFound)
	}
	return SignInLink{Staff: m["staff"], Clinic: m["clinic"], CreatedAt: fromUnix(m["at"]), Used: m["used"] != ""}, nil
}

// UseSignInLink marks a link used and returns its record with Used
// telling whether it had been used before (then it must be refused).
func (s *Store) UseSignInLink(ctx context.Context, tok string, now time.Time) (SignInLink, error) {
	l, err := s.SignInLinkOf(ctx, tok)
	if err != nil {
		return SignInLink{}, err
	}
	first, err := s.rdb.HSetNX(ctx, s.signInLinkKey(SecretHash(tok)), "used", unix(now)).Result()
	if err != nil {
		return SignInLink{}, fmt.Errorf("use sign-in link: %w", err)
	}
	l.Used = !first
	return l, nil
}

// ---- sessions ----

// ConsoleSession is a signed-in staff member's session.
type ConsoleSession struct {
	Staff     string
	Clinic    string
	CreatedAt time.Time
	SeenAt    time.Time
}

// CreateConsoleSession starts a session and returns its id (kept only as
// a hash, and listed under the staff member so a removal ends it). ttl
// bounds how long Redis keeps it.
func (s *Store) CreateConsoleSession(ctx context.Context, st Staff, now time.Time, ttl time.Duration) (string, error) {
	id := NewSecret()
	h := SecretHash(id)
	key := s.consoleSessionKey(h)
	// The staff record is watched so a removal racing the sign-in cannot
	// leave a session behind.
	txf := func(tx *redis.Tx) error {
		n, err := tx.Exists(ctx, s.staffKey(st.ID)).Result()
		if err != nil {
			return err
		}
		if n == 0 {
			return ErrNotFound
		}
		_, err = tx.TxPipelined(ctx, func(p redis.Pipeliner) error {
			p.HSet(ctx, key, "staff", st.ID, "clinic", st.Clinic, "at", unix(now), "seen", unix(now))
			p.Expire(ctx, key, ttl)
			p.SAdd(ctx, s.staffSessionsKey(st.ID), h)
			p.Expire(ctx, s.staffSessionsKey(st.ID), ttl)
			return nil
		})
		return err
	}
	if err := s.watch(ctx, txf, s.staffKey(st.ID)); err != nil {
		return "", fmt.Errorf("start session of %s: %w", st.ID, err)
	}
	return id, nil
}

// ConsoleSessionOf reads a session.
func (s *Store) ConsoleSessionOf(ctx context.Context, id string) (ConsoleSession, error) {
	m, err := s.rdb.HGetAll(ctx, s.consoleSessionKey(SecretHash(id))).Result()
	if err != nil {
		return ConsoleSession{}, fmt.Errorf("read session: %w", err)
	}
	if m["staff"] == "" {
		return ConsoleSession{}, fmt.Errorf("read session: %w", ErrNotFound)
	}
	return ConsoleSession{Staff: m["staff"], Clinic: m["clinic"], CreatedAt: fromUnix(m["at"]), SeenAt: fromUnix(m["seen"])}, nil
}

// TouchConsoleSession records a request on a session (for the idle limit).
func (s *Store) TouchConsoleSession(ctx context.Context, id string, now time.Time) error {
	key := s.consoleSessionKey(SecretHash(id))
	// HSET on a key that was just deleted would bring it back: only
	// existing sessions are touched.
	if err := touchScript.Run(ctx, s.rdb, []string{key}, unix(now)).Err(); err != nil && !errors.Is(err, redis.Nil) {
		return fmt.Errorf("touch session: %w", err)
	}
	return nil
}

var touchScript = redis.NewScript(`
if redis.call("EXISTS", KEYS[1]) == 1 then
  redis.call("HSET", KEYS[1], "seen", ARGV[1])
end
return 1`)

// EndConsoleSession deletes a session.
func (s *Store) EndConsoleSession(ctx context.Context, id, staff string) error {
	h := SecretHash(id)
	_, err := s.rdb.TxPipelined(ctx, func(p redis.Pipeliner) error {
		p.Del(ctx, s.consoleSessionKey(h))
		p.SRem(ctx, s.staffSessionsKey(staff), h)
		return nil
	})
	if err != nil {
		return fmt.Errorf("end session: %w", err)
	}
	return nil
}

// ---- audit ----

// AuditEntry is one line of a clinic's audit log. It names who did what to
// which client, never what a client wrote.
type AuditEntry struct {
	At     time.Time `json:"at"`
	Staff  string    `json:"staff,omitempty"` // the staff id ("" when unknown)
	Email  string    `json:"email,omitempty"` // the staff address at the time
	Action string    `json:"action"`
	Client string    `json:"client,omitempty"`
	Detail string    `json:"detail,omitempty"`
	IP     string    `json:"ip,omitempty"`
	Nonce  string    `json:"n"` // keeps equal entries apart in the set
}

// Audit appends an entry to a clinic's log and drops entries past
// AuditRetention.
func (s *Store) Audit(ctx context.Context, cid string, e AuditEntry) error {
	e.Nonce = NewID()
	b, err := json.Marshal(e)
	if err != nil {
		return fmt.Errorf("encode audit entry: %w", err)
	}
	key := s.clinicAuditKey(cid)
	ms := float64(e.At.UnixMilli())
	_, err = s.rdb.TxPipelined(ctx, func(p redis.Pipeliner) error {
		p.ZAdd(ctx, key, redis.Z{Score: ms, Member: b})
		p.ZRemRangeByScore(ctx, key, "-inf", "("+strconv.FormatInt(e.At.Add(-AuditRetention).UnixMilli(), 10))
		return nil
	})
	if err != nil {
		return fmt.Errorf("append audit entry of %s: %w", cid, err)
	}
	return nil
}

// AuditLog returns up to limit of a clinic's newest audit entries, newest first.
func (s *Store) AuditLog(ctx context.Context, cid string, limit int) ([]AuditEntry, error) {
	raw, err := s.rdb.ZRevRange(ctx, s.clinicAuditKey(cid), 0, int64(limit-1)).Result()
	if err != nil {
		return nil, fmt.Errorf("read audit log of %s: %w", cid, err)
	}
	out := make([]AuditEntry, 0, len(raw))
	for _, r := range raw {
		var e AuditEntry
		if err := json.Unmarshal([]byte(r), &e); err != nil {
			return nil, fmt.Errorf("decode audit entry of %s: %w", cid, err)
		}
		out = append(out, e)
	}
	return out, nil
}

// ---- alerts ----

// Alert states.
const (
	AlertOpen         = "open"
	AlertAcknowledged = "acknowledged"
	AlertResolved     = "resolved"
)

// Alert is a flag on a client, kept until staff resolve it: distress, a
// stop, or prompts left unanswered (console_alerts.go). It holds when and
// how, never the words.
type Alert struct {
	ID             string    `json:"id"`
	Kind           string    `json:"kind,omitempty"` // "" is distress
	Client         string    `json:"client"`
	At             time.Time `json:"at"`
	Channel        string    `json:"channel"`
	State          string    `json:"state"`
	AcknowledgedBy string    `json:"ack_by,omitempty"`
	AcknowledgedAt time.Time `json:"ack_at,omitzero"`
	ResolvedBy     string    `json:"res_by,omitempty"`
	ResolvedAt     time.Time `json:"res_at,omitzero"`
	Count          int       `json:"n,omitempty"` // unanswered: prompts in the run
}

// RaiseAlert records an alert (distress unless a.Kind says otherwise) on a
// clinic's client, with a.ID when the caller chose one.
func (s *Store) RaiseAlert(ctx context.Context, cid string, a Alert) error {
	if a.ID == "" {
		a.ID = NewID()
	}
	a.State = AlertOpen
	_, err := s.rdb.TxPipelined(ctx, func(p redis.Pipeliner) error {
		return s.addAlert(ctx, p, cid, a)
	})
	if err != nil {
		return fmt.Errorf("raise alert for %s: %w", a.Client, err)
	}
	return nil
}

// Alerts lists a clinic's alerts, newest first.
func (s *Store) Alerts(ctx context.Context, cid string) ([]Alert, error) {
	ids, err := s.rdb.ZRevRange(ctx, s.clinicAlertOrderKey(cid), 0, -1).Result()
	if err != nil {
		return nil, fmt.Errorf("list alerts of %s: %w", cid, err)
	}
	if len(ids) == 0 {
		return nil, nil
	}
	raw, err := s.rdb.HMGet(ctx, s.clinicAlertsKey(cid), ids...).Result()
	if err != nil {
		return nil, fmt.Errorf("list alerts of %s: %w", cid, err)
	}
	out := make([]Alert, 0, len(raw))
	for _, r := range raw {
		str, ok := r.(string)
		if !ok {
			continue
		}
		var a Alert
		if err := json.Unmarshal([]byte(str), &a); err != nil {
			return nil, fmt.Errorf("decode alert of %s: %w", cid, err)
		}
		out = append(out, a)
	}
	return out, nil
}

// Alert loads one alert of a clinic (another clinic's is ErrNotFound).
func (s *Store) Alert(ctx context.Context, cid, id string) (Alert, error) {
	raw, err := s.rdb.HGet(ctx, s.clinicAlertsKey(cid), id).Result()
	if errors.Is(err, redis.Nil) {
		return Alert{}, fmt.Errorf("load alert %s: %w", id, ErrNotFound)
	}
	if err != nil {
		return Alert{}, fmt.Errorf("load alert %s: %w", id, err)
	}
	var a Alert
	if err := json.Unmarshal([]byte(raw), &a); err != nil {
		return Alert{}, fmt.Errorf("decode alert %s: %w", id, err)
	}
	return a, nil
}

// ErrAlertState is returned when an alert is not in the state a step needs.
var ErrAlertState = &domain.Error{Code: domain.ErrConflict, Message: "the alert has moved on"}

// AdvanceAlert moves an alert forward one step: open → acknowledged →
// resolved, recording who and when. Any other move is ErrAlertState.
func (s *Store) AdvanceAlert(ctx context.Context, cid, id, to, staff string, now time.Time) (Alert, error) {
	key := s.clinicAlertsKey(cid)
	var out Alert
	txf := func(tx *redis.Tx) error {
		raw, err := tx.HGet(ctx, key, id).Result()
		if errors.Is(err, redis.Nil) {
			return ErrNotFound
		}
		if err != nil {
			return err
		}
		var a Alert
		if err := json.Unmarshal([]byte(raw), &a); err != nil {
			return err
		}
		switch {
		case to == AlertAcknowledged && a.State == AlertOpen:
			a.State, a.AcknowledgedBy, a.AcknowledgedAt = to, staff, now
		case to == AlertResolved && a.State == AlertAcknowledged:
			a.State, a.ResolvedBy, a.ResolvedAt = to, staff, now
		default:
			return ErrAlertState
		}
		b, err := json.Marshal(a)
		if err != nil {
			return err
		}
		_, err = tx.TxPipelined(ctx, func(p redis.Pipeliner) error {
			p.HSet(ctx, key, id, b)
			return nil
		})
		out = a
		return err
	}
	if err := s.watch(ctx, txf, key); err != nil {
		return Alert{}, fmt.Errorf("move alert %s to %s: %w", id, to, err)
	}
	return out, nil
}

// Unassign leaves a client of clinic cid assigned to nobody.
func (s *Store) Unassign(ctx context.Context, cid, client string) error {
	if _, err := s.Client(ctx, cid, client); err != nil {
		return err
	}
	if err := s.rdb.HDel(ctx, s.clinicAssignKey(cid), client).Err(); err != nil {
		return fmt.Errorf("unassign %s: %w", client, err)
	}
	return nil
}
