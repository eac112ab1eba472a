package store

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strconv"
	"time"

	"github.com/nudgehq/nudge/internal/domain"
	"github.com/redis/go-redis/v9"
)

// What a clinic's owners change from the console: roles and removals that
// never leave a clinic without an owner, the console's own settings (idle
// limit, second factor required), staff members' TOTP second factor, the
// short-lived state between a used sign-in link and its second factor, and
// the clinic's message settings.
//
//	clinic:<cid>:console     hash   idle = minutes, totp = "1" when required
//	staff:<sid>:totp         hash   secret, pending (sealed by the console), on, step
//	console:pending:<sha256> hash   staff, clinic, at, enrol, tries (expires)

// Console idle limits, in minutes.
const (
	MinIdleMinutes     = 10
	MaxIdleMinutes     = 60
	DefaultIdleMinutes = 30
)

// ErrLastOwner is returned when a change would leave a clinic without an owner.
var ErrLastOwner = &domain.Error{Code: domain.ErrConflict, Message: "a clinic keeps at least one owner"}

func (s *Store) clinicConsoleKey(cid string) string  { return s.prefix + "clinic:" + cid + ":console" }
func (s *Store) staffTOTPKey(sid string) string      { return s.prefix + "staff:" + sid + ":totp" }
func (s *Store) pendingSignInKey(hash string) string { return s.prefix + "console:pending:" + hash }

// ---- roles and removal ----

// changeStaff runs change on staff member sid of clinic cid inside a
// transaction that watches the clinic's staff, and refuses with
// ErrLastOwner when it would take the clinic's last owner away.
// stillOwner says whether sid is an owner afterwards.
func (s *Store) changeStaff(ctx context.Context, cid, sid string, stillOwner bool, change func(p redis.Pipeliner, st Staff) error) error {
	setKey := s.clinicStaffKey(cid)
	txf := func(tx *redis.Tx) error {
		ids, err := tx.SMembers(ctx, setKey).Result()
		if err != nil {
			return err
		}
		keys := make([]string, len(ids))
		for i, id := range ids {
			keys[i] = s.staffKey(id)
		}
		if len(keys) > 0 {
			if err := tx.Watch(ctx, keys...).Err(); err != nil {
				return err
			}
		}
		var target *Staff
		others := 0 // owners besides sid
		for _, id := range ids {
			raw, err := tx.Get(ctx, s.staffKey(id)).Result()
			if errors.Is(err, redis.Nil) {
				continue
			}
			if err != nil {
				return err
			}
			var st Staff
			if err := json.Unmarshal([]byte(raw), &st); err != nil {
				return fmt.Errorf("decode staff %s: %w", id, err)
			}
			if st.ID == sid && st.Clinic == cid {
				target = &st
				continue
			}
			if st.Role == RoleOwner {
				others++
			}
		}
		if target == nil {
			return fmt.Errorf("staff %s: %w", sid, ErrNotFound)
		}
		if target.Role == RoleOwner && !stillOwner && others == 0 {
			return ErrLastOwner
		}
		_, err = tx.TxPipelined(ctx, func(p redis.Pipeliner) error { return change(p, *target) })
		return err
	}
	return s.watch(ctx, txf, setKey)
}

// SetStaffRole changes a staff member's role. Demoting the clinic's last
// owner is ErrLastOwner; another clinic's staff member is ErrNotFound. The
// role is read on every console request, so the change holds at once.
func (s *Store) SetStaffRole(ctx context.Context, cid, sid, role string) error {
	if role != RoleOwner && role != RoleClinician {
		return fmt.Errorf("set role of %s: %w", sid, domain.Errorf(domain.ErrInvalid, "role: want owner or clinician"))
	}
	err := s.changeStaff(ctx, cid, sid, role == RoleOwner, func(p redis.Pipeliner, st Staff) error {
		st.Role = role
		b, err := json.Marshal(st)
		if err != nil {
			return err
		}
		p.Set(ctx, s.staffKey(sid), b, 0)
		return nil
	})
	if err != nil {
		return fmt.Errorf("set role of %s: %w", sid, err)
	}
	return nil
}

// RemoveStaffMember is RemoveStaff that refuses to remove a clinic's last
// owner (ErrLastOwner) and forgets the member's second factor too. Every
// session of theirs ends and their clients are left unassigned: an owner
// sees every client, so none is lost from view.
func (s *Store) RemoveStaffMember(ctx context.Context, cid, sid string) error {
	sessions, err := s.rdb.SMembers(ctx, s.staffSessionsKey(sid)).Result()
	if err != nil {
		return fmt.Errorf("list sessions of %s: %w", sid, err)
	}
	assigned, err := s.rdb.HGetAll(ctx, s.clinicAssignKey(cid)).Result()
	if err != nil {
		return fmt.Errorf("list assignments of %s: %w", cid, err)
	}
	err = s.changeStaff(ctx, cid, sid, false, func(p redis.Pipeliner, st Staff) error {
		p.Del(ctx, s.staffKey(sid), s.staffSessionsKey(sid), s.staffTOTPKey(sid))
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

// ---- console settings ----

// ConsoleSettings are a clinic's console rules.
type ConsoleSettings struct {
	IdleMinutes int  // MinIdleMinutes to MaxIdleMinutes
	RequireTOTP bool // every staff member signs in with a second factor
}

// IdleFor is the idle limit as a duration.
func (c ConsoleSettings) IdleFor() time.Duration { return time.Duration(c.IdleMinutes) * time.Minute }

// ConsoleSettingsOf reads a clinic's console settings, the defaults when
// none were set.
func (s *Store) ConsoleSettingsOf(ctx context.Context, cid string) (ConsoleSettings, error) {
	m, err := s.rdb.HGetAll(ctx, s.clinicConsoleKey(cid)).Result()
	if err != nil {
		return ConsoleSettings{}, fmt.Errorf("read console settings of %s: %w", cid, err)
	}
	out := ConsoleSettings{IdleMinutes: DefaultIdleMinutes, RequireTOTP: m["totp"] == "1"}
	if n, err := strconv.Atoi(m["idle"]); err == nil && n >= MinIdleMinutes && n <= MaxIdleMinutes {
		out.IdleMinutes = n
	}
	return out, nil
}

// SetConsoleSettings stores a clinic's console settings.
func (s *Store) SetConsoleSettings(ctx context.Context, cid string, c ConsoleSettings) error {
	if c.IdleMinutes < MinIdleMinutes || c.IdleMinutes > MaxIdleMinutes {
		return fmt.Errorf("set console settings of %s: %w", cid, domain.Errorf(domain.ErrInvalid, "idle limit out of range"))
	}
	totp := ""
	if c.RequireTOTP {
		totp = "1"
	}
	if err := s.rdb.HSet(ctx, s.clinicConsoleKey(cid), "idle", c.IdleMinutes, "totp", totp).Err(); err != nil {
		return fmt.Errorf("set console settings of %s: %w", cid, err)
	}
	return nil
}

// ---- the clinic's message settings ----

var setClinicSettingsScript = redis.NewScript(`
if redis.call('EXISTS', KEYS[1]) == 0 then return 0 end
redis.call('HSET', KEYS[1], unpack(ARGV))
return 1`)

// SetClinicSettings stores a clinic's display name, sign-off, crisis text,
// caps and time zone (checked by the caller).
func (s *Store) SetClinicSettings(ctx context.Context, c domain.Clinic) error {
	n, err := setClinicSettingsScript.Run(ctx, s.rdb, []string{s.clinicKey(c.ID)},
		fcDisplay, c.DisplayName, fcSignOff, c.SignOff, fcCrisis, c.CrisisText, fcCapDay, c.CapDay, fcCapWeek, c.CapWeek, fcZone, c.TimeZone).Int()
	if err != nil {
		return fmt.Errorf("set settings of clinic %s: %w", c.ID, err)
	}
	if n == 0 {
		return fmt.Errorf("set settings of clinic %s: %w", c.ID, ErrNotFound)
	}
	return nil
}

// SetClinicWebhookSecret replaces the secret a clinic's webhooks are
// signed with, leaving its URL as it is.
func (s *Store) SetClinicWebhookSecret(ctx context.Context, cid, secret string) error {
	n, err := setClinicSettingsScript.Run(ctx, s.rdb, []string{s.clinicKey(cid)}, fcSecret, secret).Int()
	if err != nil {
		return fmt.Errorf("set webhook secret of clinic %s: %w", cid, err)
	}
	if n == 0 {
		return fmt.Errorf("set webhook secret of clinic %s: %w", cid, ErrNotFound)
	}
	return nil
}

// ---- second factor ----

// StaffTOTP is a staff member's second factor. Secrets are kept as the
// console sealed them; the store never sees them in the clear.
type StaffTOTP struct {
	Secret   string // sealed; "" when none
	Pending  string // sealed; an enrolment not yet confirmed
	On       bool
	LastStep int64 // the last time step a code was accepted for
}

// StaffTOTPOf reads a staff member's second factor (zero when none).
func (s *Store) StaffTOTPOf(ctx context.Context, sid string) (StaffTOTP, error) {
	m, err := s.rdb.HGetAll(ctx, s.staffTOTPKey(sid)).Result()
	if err != nil {
		return StaffTOTP{}, fmt.Errorf("read second factor of %s: %w", sid, err)
	}
	step, _ := strconv.ParseInt(m["step"], 10, 64)
	return StaffTOTP{Secret: m["secret"], Pending: m["pending"], On: m["on"] == "1" && m["secret"] != "", LastStep: step}, nil
}

// SetStaffTOTPPending starts an enrolment: the new secret waits for a code.
// A second factor already on stays on until the new one is confirmed.
func (s *Store) SetStaffTOTPPending(ctx context.Context, sid, sealed string) error {
	// Only for a staff member who exists: a removal racing an enrolment
	// leaves nothing behind.
	n, err := setTOTPIfStaffScript.Run(ctx, s.rdb, []string{s.staffKey(sid), s.staffTOTPKey(sid)}, "pending", sealed).Int()
	if err != nil {
		return fmt.Errorf("start enrolment of %s: %w", sid, err)
	}
	if n == 0 {
		return fmt.Errorf("start enrolment of %s: %w", sid, ErrNotFound)
	}
	return nil
}

var setTOTPIfStaffScript = redis.NewScript(`
if redis.call('EXISTS', KEYS[1]) == 0 then return 0 end
redis.call('HSET', KEYS[2], unpack(ARGV))
return 1`)

// ConfirmStaffTOTP turns the pending secret on, when it is still the one
// the code was checked against; step is the code's time step, remembered
// so the code is not accepted again.
func (s *Store) ConfirmStaffTOTP(ctx context.Context, sid, pending string, step int64) error {
	n, err := confirmTOTPScript.Run(ctx, s.rdb, []string{s.staffKey(sid), s.staffTOTPKey(sid)}, pending, step).Int()
	if err != nil {
		return fmt.Errorf("confirm second factor of %s: %w", sid, err)
	}
	if n == 0 {
		return fmt.Errorf("confirm second factor of %s: %w", sid, ErrNotFound)
	}
	return nil
}

var confirmTOTPScript = redis.NewScript(`
if redis.call('EXISTS', KEYS[1]) == 0 then return 0 end
if redis.call('HGET', KEYS[2], 'pending') ~= ARGV[1] then return 0 end
redis.call('HSET', KEYS[2], 'secret', ARGV[1], 'on', '1', 'step', ARGV[2])
redis.call('HDEL', KEYS[2], 'pending')
return 1`)

// ClearStaffTOTP turns a staff member's second factor off and forgets it.
func (s *Store) ClearStaffTOTP(ctx context.Context, sid string) error {
	if err := s.rdb.Del(ctx, s.staffTOTPKey(sid)).Err(); err != nil {
		return fmt.Errorf("clear second factor of %s: %w", sid, err)
	}
	return nil
}

// UseTOTPStep records that a code of time step was accepted. It answers
// false when that step, or a later one, was used before: a code is good once.
func (s *Store) UseTOTPStep(ctx context.Context, sid string, step int64) (bool, error) {
	n, err := useStepScript.Run(ctx, s.rdb, []string{s.staffTOTPKey(sid)}, step).Int()
	if err != nil {
		return false, fmt.Errorf("use a code of %s: %w", sid, err)
	}
	return n == 1, nil
}

var useStepScript = redis.NewScript(`
if redis.call('EXISTS', KEYS[1]) == 0 then return 0 end
local last = tonumber(redis.call('HGET', KEYS[1], 'step') or '0')
if tonumber(ARGV[1]) <= last then return 0 end
redis.call('HSET', KEYS[1], 'step', ARGV[1])
return 1`)

// StaffTOTPOn says, per staff id, whether their second factor is on.
func (s *Store) StaffTOTPOn(ctx context.Context, ids []string) (map[string]bool, error) {
	cmds := make([]*redis.SliceCmd, len(ids))
	_, err := s.rdb.Pipelined(ctx, func(p redis.Pipeliner) error {
		for i, id := range ids {
			cmds[i] = p.HMGet(ctx, s.staffTOTPKey(id), "on", "secret")
		}
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("read second factors: %w", err)
	}
	out := make(map[string]bool, len(ids))
	for i, id := range ids {
		v := cmds[i].Val()
		out[id] = len(v) == 2 && str(v[0]) == "1" && str(v[1]) != ""
	}
	return out, nil
}

// ---- between the link and the second factor ----

// PendingSignIn is a used sign-in link waiting for its second factor (or
// for the staff member to enrol one). It is not a session: nothing but the
// code page accepts it.
type PendingSignIn struct {
	Staff, Clinic string
	CreatedAt     time.Time
	Enrol         bool // the clinic requires a second factor the staff member has not set up
	Tries         int
}

// CreatePendingSignIn records a pending sign-in for ttl and returns its id
// (kept only as a hash).
func (s *Store) CreatePendingSignIn(ctx context.Context, st Staff, enrol bool, now time.Time, ttl time.Duration) (string, error) {
	id := NewSecret()
	key := s.pendingSignInKey(SecretHash(id))
	e := ""
	if enrol {
		e = "1"
	}
	_, err := s.rdb.TxPipelined(ctx, func(p redis.Pipeliner) error {
		p.HSet(ctx, key, "staff", st.ID, "clinic", st.Clinic, "at", unix(now), "enrol", e, "tries", 0)
		p.Expire(ctx, key, ttl)
		return nil
	})
	if err != nil {
		return "", fmt.Errorf("store pending sign-in: %w", err)
	}
	return id, nil
}

// PendingSignInOf reads a pending sign-in.
func (s *Store) PendingSignInOf(ctx context.Context, id string) (PendingSignIn, error) {
	m, err := s.rdb.HGetAll(ctx, s.pendingSignInKey(SecretHash(id))).Result()
	if err != nil {
		return PendingSignIn{}, fmt.Errorf("read pending sign-in: %w", err)
	}
	if m["staff"] == "" {
		return PendingSignIn{}, fmt.Errorf("read pending sign-in: %w", ErrNotFound)
	}
	tries, _ := strconv.Atoi(m["tries"])
	return PendingSignIn{Staff: m["staff"], Clinic: m["clinic"], CreatedAt: fromUnix(m["at"]), Enrol: m["enrol"] == "1", Tries: tries}, nil
}

// TryPendingSignIn counts one code tried on a pending sign-in and returns
// how many have been, this one included.
func (s *Store) TryPendingSignIn(ctx context.Context, id string) (int, error) {
	n, err := tryPendingScript.Run(ctx, s.rdb, []string{s.pendingSignInKey(SecretHash(id))}).Int()
	if err != nil {
		return 0, fmt.Errorf("count a try: %w", err)
	}
	if n == 0 {
		return 0, fmt.Errorf("count a try: %w", ErrNotFound)
	}
	return n, nil
}

var tryPendingScript = redis.NewScript(`
if redis.call('EXISTS', KEYS[1]) == 0 then return 0 end
return redis.call('HINCRBY', KEYS[1], 'tries', 1)`)

// EndPendingSignIn deletes a pending sign-in.
func (s *Store) EndPendingSignIn(ctx context.Context, id string) error {
	if err := s.rdb.Del(ctx, s.pendingSignInKey(SecretHash(id))).Err(); err != nil {
		return fmt.Errorf("end pending sign-in: %w", err)
	}
	return nil
}

// ---- audit export ----

// AuditAll returns every audit entry a clinic keeps (AuditRetention),
// newest first.
func (s *Store) AuditAll(ctx context.Context, cid string) ([]AuditEntry, error) {
	raw, err := s.rdb.ZRevRange(ctx, s.clinicAuditKey(cid), 0, -1).Result()
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
