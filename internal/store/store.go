// Package store keeps nudge's records in Redis: subscribers, their schedules,
// the due index the planner reads, delivery records, the suppression list and
// the consent ledger. Every key starts with a configurable prefix.
//
// Key layout (prefix "nudge:" by default):
//
//	sub:<id>                    hash   the subscriber (short field names keep it a listpack)
//	idx:email                   hash   normalised address → id (public list)
//	sched:<id>:<program>        hash   rule, version, step, next (step and next: see due.go)
//	due:<shard>                 zset   "<id>|<program>|<version>|<rule>|<zone>" scored by next instant × 2^20 + step
//	lease:due:<shard>           string which planner works a shard now
//	dlv:<id>:<program>:<date>:<channel>  hash  one delivery record per occurrence and channel
//	supp                        set    SHA-256 of addresses that must never be messaged
//	consent:<id>                list   the consent ledger, oldest first, JSON lines
//	idx:phone                   hash   E.164 number → id
//	replies:<id>                list   replies (ratings and notes), JSON lines, kept 400 days
//	sid:<provider id>           string the delivery record a Twilio status callback names
//	pending                     zset   unconfirmed subscribers by signup time
//	inbound:<sid>               string marks an inbound text as handled (7 days)
//	bounce:<hash>               string permanent refusals of an address or number (90 days)
//	rate:<channel>, limit:…     string token buckets for send rates and signup budgets
//
// Uniqueness of an address is enforced atomically (HSETNX on the index, then
// WATCH/MULTI on the one record), never by read-then-write.
package store

import (
	"context"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base32"
	"encoding/hex"
	"errors"
	"fmt"
	"hash/fnv"
	"strconv"
	"strings"
	"time"

	"github.com/nudgehq/nudge/internal/domain"
	"github.com/redis/go-redis/v9"
)

// Shards is the number of due-index sorted sets. Sharding keeps any one key
// from growing without bound and lets several planners work side by side.
const Shards = 16

// ErrNotFound is returned when a record does not exist.
var ErrNotFound = &domain.Error{Code: domain.ErrNotFound, Message: "not found"}

// Store reads and writes nudge's records. It is safe for concurrent use.
type Store struct {
	rdb    redis.UniversalClient
	prefix string
	repl   replication // how many replicas confirm a claim (replicate.go)
}

// New returns a Store on rdb whose keys all start with prefix.
func New(rdb redis.UniversalClient, prefix string) *Store {
	return &Store{rdb: rdb, prefix: prefix}
}

// Redis returns the client the store uses, for health checks.
func (s *Store) Redis() redis.UniversalClient { return s.rdb }

// Prefix returns the key prefix.
func (s *Store) Prefix() string { return s.prefix }

func (s *Store) subKey(id string) string { return s.prefix + "sub:" + id }
func (s *Store) emailIndexKey() string   { return s.prefix + "idx:email" }
func (s *Store) phoneIndexKey() string   { return s.prefix + "idx:phone" }
func (s *Store) pendingKey() string      { return s.prefix + "pending" }
func (s *Store) schedKey(id string, p domain.Program) string {
	return s.prefix + "sched:" + id + ":" + string(p)
}
func (s *Store) dueKey(shard int) string     { return s.prefix + "due:" + strconv.Itoa(shard) }
func (s *Store) leaseKey(shard int) string   { return s.prefix + "lease:due:" + strconv.Itoa(shard) }
func (s *Store) suppressionKey() string      { return s.prefix + "supp" }
func (s *Store) consentKey(id string) string { return s.prefix + "consent:" + id }

// ShardOf returns the due-index shard of a subscriber.
func ShardOf(id string) int {
	h := fnv.New32a()
	h.Write([]byte(id))
	return int(h.Sum32() % Shards)
}

// NewID returns a new random subscriber id: 16 lowercase base32 characters
// (80 bits), never guessable and short enough to keep hashes compact.
func NewID() string {
	var b [10]byte
	if _, err := rand.Read(b[:]); err != nil {
		panic(fmt.Sprintf("crypto/rand failed: %v", err)) // the OS has no entropy: nothing sensible to do
	}
	return strings.ToLower(base32.StdEncoding.EncodeToString(b[:]))
}

// NormaliseEmail returns the form of an address used for uniqueness and
// suppression: trimmed and lower-cased.
func NormaliseEmail(addr string) string { return strings.ToLower(strings.TrimSpace(addr)) }

// AddressHash is the suppression-list form of an address or number.
func AddressHash(addr string) string {
	sum := sha256.Sum256([]byte(NormaliseEmail(addr)))
	return hex.EncodeToString(sum[:])
}

// Subscriber hash fields.
const (
	fFirstName      = "fn"
	fEmail          = "em"
	fTimeZone       = "tz"
	fLocale         = "lc"
	fGoal           = "gl"
	fPhone          = "ph"
	fChannels       = "chn"
	fSMSStatus      = "ss"
	fSMSFooterAt    = "sf"
	fSMSAskedAt     = "sq" // when the latest confirmation request was texted
	fSMSOKAt        = "sc" // when the number's owner last confirmed texts
	fPausedUntil    = "pu"
	fDistressAt     = "dh" // nudges held after a reply in distress, since
	fGentleAt       = "dg" // the gentle check-in after distress went out
	fLastNudge      = "ln"
	fEmailOK        = "ec"
	fReminded       = "rm"
	fStatus         = "st"
	fCreatedAt      = "ca"
	fConfirmedAt    = "cf"
	fPrograms       = "pg" // comma-separated programs with a schedule
	fClinic         = "cl" // the clinic of a client; absent on the public list
	fDischargedFrom = "df" // a discharged client's status before, kept for a readmission and an erasure
)

// Schedule hash fields.
const (
	fRule    = "r"
	fVersion = "v"
	fStep    = "n"
	fNext    = "x"
)

func unix(t time.Time) string {
	if t.IsZero() {
		return "0"
	}
	return strconv.FormatInt(t.Unix(), 10)
}

func fromUnix(s string) time.Time {
	n, err := strconv.ParseInt(s, 10, 64)
	if err != nil || n == 0 {
		return time.Time{}
	}
	return time.Unix(n, 0).UTC()
}

func programsField(scheds []domain.Schedule) string {
	names := make([]string, len(scheds))
	for i, sc := range scheds {
		names[i] = string(sc.Program)
	}
	return strings.Join(names, ",")
}

func channelsField(cs []domain.Channel) string {
	names := make([]string, len(cs))
	for i, c := range cs {
		names[i] = string(c)
	}
	return strings.Join(names, ",")
}

func parseChannels(s string) []domain.Channel {
	if s == "" {
		return nil
	}
	var out []domain.Channel
	for _, c := range strings.Split(s, ",") {
		out = append(out, domain.Channel(c))
	}
	return out
}

// setIfExistsScript sets one field of a hash that exists, and never brings
// back a record erased in the meantime.
var setIfExistsScript = redis.NewScript(`
if redis.call('EXISTS', KEYS[1]) == 1 then return redis.call('HSET', KEYS[1], ARGV[1], ARGV[2]) end
return 0
`)

func (s *Store) setIfExists(ctx context.Context, id, field, value string) error {
	return setIfExistsScript.Run(ctx, s.rdb, []string{s.subKey(id)}, field, value).Err()
}

func parsePrograms(s string) []domain.Program {
	if s == "" {
		return nil
	}
	var out []domain.Program
	for _, p := range strings.Split(s, ",") {
		out = append(out, domain.Program(p))
	}
	return out
}

// SignupResult says what a signup did, so the caller can send the right email.
type SignupResult struct {
	ID string
	// Outcome is "created" (a new pending subscriber), "updated" (an
	// unconfirmed or unsubscribed one, now pending with the new choices) or
	// "active" (already confirmed: nothing changed).
	Outcome string
}

// Signup outcomes.
const (
	SignupCreated = "created"
	SignupUpdated = "updated"
	SignupActive  = "active"
)

// Signup records a pending subscriber with the schedules they chose. An
// address already on the list keeps its id: a pending or unsubscribed one
// takes the new choices and waits for confirmation again; an active one is
// left alone. The address is claimed in the index with HSETNX, so two
// signups of one address never make two records; the record itself is
// written under WATCH of that one subscriber, so signups of different people
// never contend.
func (s *Store) Signup(ctx context.Context, sub domain.Subscriber, scheds []domain.Schedule, ev ConsentEvent) (SignupResult, error) {
	addr := NormaliseEmail(sub.Email)
	id := sub.ID
	if id == "" {
		id = NewID()
	}
	if sub.CreatedAt.IsZero() {
		// A signup is as old as its consent entry; a zero time would
		// put it a week past expiry at once.
		sub.CreatedAt = ev.At
	}
	// The address is the person's handle; an SMS-only signup is known by
	// its number.
	index, handle := s.emailIndexKey(), addr
	if addr == "" {
		index, handle = s.phoneIndexKey(), sub.Phone
	}
	if handle == "" {
		return SignupResult{}, fmt.Errorf("sign up: %w", domain.Errorf(domain.ErrInvalid, "an email address or a phone number is needed"))
	}
	created, err := s.rdb.HSetNX(ctx, index, handle, id).Result()
	if err != nil {
		return SignupResult{}, fmt.Errorf("sign up: %w", err)
	}
	outcome := SignupCreated
	if !created {
		fresh := id
		if id, err = s.claimedHandle(ctx, index, handle, fresh); err != nil {
			return SignupResult{}, fmt.Errorf("sign up: %w", err)
		}
		if id != fresh {
			outcome = SignupUpdated
		}
	}
	key := s.subKey(id)
	txf := func(tx *redis.Tx) error {
		m, err := tx.HMGet(ctx, key, fStatus, fPrograms, fTimeZone).Result()
		if err != nil {
			return err
		}
		st, _ := m[0].(string)
		old, _ := m[1].(string)
		oldZone, _ := m[2].(string)
		if domain.Status(st) == domain.Active {
			outcome = SignupActive
			return nil
		}
		chosen := map[domain.Program]bool{}
		for _, sc := range scheds {
			chosen[sc.Program] = true
		}
		_, err = tx.TxPipelined(ctx, func(p redis.Pipeliner) error {
			if sub.Phone != "" {
				// The number is named, not proven: the record joins the
				// number's holders, and only a YES from the number lets its
				// texts reach the record (see route.go). The phone index
				// holds only SMS-only records, as their handle (HSETNX
				// above), so no signup ever takes another record's place.
				p.SAdd(ctx, s.phoneOwnersKey(sub.Phone), id)
			}
			p.HSet(ctx, key,
				fFirstName, sub.FirstName, fEmail, addr, fTimeZone, sub.TimeZone,
				fLocale, sub.Locale, fGoal, sub.Goal, fStatus, string(domain.Pending),
				fPhone, sub.Phone, fChannels, channelsField(sub.Channels), fSMSStatus, string(sub.SMSStatus),
				fCreatedAt, unix(sub.CreatedAt), fConfirmedAt, "0",
				fPrograms, programsField(scheds))
			// Versions only ever grow, so a task queued for an earlier choice
			// never matches a later schedule; steps carry on, so no repeats.
			for _, p0 := range parsePrograms(old) {
				// Only active subscribers are planned, so there is nothing
				// to take out of the due index; retiring costs little and
				// keeps the step should there be.
				s.retireDue(ctx, p, id, p0, oldZone)
				if !chosen[p0] {
					p.HIncrBy(ctx, s.schedKey(id, p0), fVersion, 1)
					p.HSet(ctx, s.schedKey(id, p0), fNext, "0")
				}
			}
			for _, sc := range scheds {
				k := s.schedKey(id, sc.Program)
				p.HSet(ctx, k, fRule, sc.Rule, fNext, "0")
				p.HIncrBy(ctx, k, fVersion, 1)
				p.HSetNX(ctx, k, fStep, "0")
			}
			// Unconfirmed signups wait here, by when they were made, to be
			// reminded once and then forgotten.
			p.ZAdd(ctx, s.pendingKey(), redis.Z{Score: float64(sub.CreatedAt.Unix()), Member: id})
			p.HDel(ctx, key, fReminded)
			s.appendConsent(ctx, p, id, ev)
			return nil
		})
		return err
	}
	if err := s.watch(ctx, txf, key); err != nil {
		return SignupResult{}, fmt.Errorf("sign up: %w", err)
	}
	return SignupResult{ID: id, Outcome: outcome}, nil
}

// claimedHandle returns the record an index entry names. In the phone index
// an entry may still name a record signed up with an email address and a
// number (an older version indexed those too): such a record is not this
// SMS-only person's, so the entry is taken back and claimed for want.
func (s *Store) claimedHandle(ctx context.Context, index, handle, want string) (string, error) {
	id, err := s.rdb.HGet(ctx, index, handle).Result()
	if err != nil {
		return "", err
	}
	if index != s.phoneIndexKey() {
		return id, nil
	}
	email, err := s.rdb.HGet(ctx, s.subKey(id), fEmail).Result()
	if errors.Is(err, redis.Nil) || (err == nil && email == "") {
		return id, nil
	}
	if err != nil {
		return "", err
	}
	if err := s.rdb.Eval(ctx, hdelIfScript, []string{index}, handle, id).Err(); err != nil {
		return "", err
	}
	ok, err := s.rdb.HSetNX(ctx, index, handle, want).Result()
	if err != nil {
		return "", err
	}
	if !ok {
		return s.rdb.HGet(ctx, index, handle).Result()
	}
	return want, nil
}

// watch runs an optimistic transaction on keys, trying again (with a short,
// growing pause) while other clients change them first.
func (s *Store) watch(ctx context.Context, fn func(*redis.Tx) error, keys ...string) error {
	for attempt := range 50 {
		err := s.rdb.Watch(ctx, fn, keys...)
		if !errors.Is(err, redis.TxFailedErr) {
			return err
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(time.Duration(attempt+1) * time.Millisecond):
		}
	}
	return redis.TxFailedErr
}

// Subscriber loads a subscriber by id.
func (s *Store) Subscriber(ctx context.Context, id string) (domain.Subscriber, error) {
	m, err := s.rdb.HGetAll(ctx, s.subKey(id)).Result()
	if err != nil {
		return domain.Subscriber{}, fmt.Errorf("load subscriber %s: %w", id, err)
	}
	if len(m) == 0 {
		return domain.Subscriber{}, fmt.Errorf("load subscriber %s: %w", id, ErrNotFound)
	}
	return subscriberFrom(id, m), nil
}

// readScheduleScript reads a schedule hash and its due-index score (false
// when it has no entry) at one instant. KEYS: the schedule hash, the
// subscriber hash, the due shard; ARGV[1]: the member's head. The member is
// found with the subscriber's zone: a schedule's entry is always planned in
// it (see due.go).
var readScheduleScript = redis.NewScript(`
local h = redis.call('HGETALL', KEYS[1])
local sc = redis.call('HMGET', KEYS[1], 'v', 'r')
local score = false
if sc[1] then
  local tz = redis.call('HGET', KEYS[2], '` + fTimeZone + `') or ''
  score = redis.call('ZSCORE', KEYS[3], ARGV[1] .. '|' .. sc[1] .. '|' .. (sc[2] or '') .. '|' .. tz)
end
return {h, score}
`)

// readSchedule loads a schedule (nil when there is none) with its next
// instant and step from the due index when it is planned, in one round trip.
func (s *Store) readSchedule(ctx context.Context, id string, p domain.Program) (*domain.Schedule, error) {
	res, err := readScheduleScript.Run(ctx, s.rdb, []string{s.schedKey(id, p), s.subKey(id), s.dueKey(ShardOf(id))}, dueHead(id, p)).Slice()
	if err != nil {
		return nil, err
	}
	if len(res) != 2 {
		return nil, fmt.Errorf("read schedule: %d results", len(res))
	}
	m := pairs(res[0])
	if m == nil {
		return nil, nil
	}
	v := scheduleFrom(id, p, m)
	if score, ok := res[1].(string); ok {
		f, err := strconv.ParseFloat(score, 64)
		if err != nil {
			return nil, fmt.Errorf("read schedule: score %q: %w", score, err)
		}
		v.Next, v.Step = splitDueScore(f)
	}
	return &v, nil
}

// pairs turns an HGETALL reply passed through a script into a map; nil for
// an empty or missing one.
func pairs(v any) map[string]string {
	l, _ := v.([]any)
	if len(l) == 0 {
		return nil
	}
	m := make(map[string]string, len(l)/2)
	for i := 0; i+1 < len(l); i += 2 {
		k, _ := l[i].(string)
		m[k], _ = l[i+1].(string)
	}
	return m
}

// SubscriberWithVersion loads a subscriber and the version of one of its
// schedules in one round trip (two plain reads in a pipeline), as a worker
// needs them before sending: a task planned from another version is not
// sent. A missing subscriber is ErrNotFound; a missing schedule is reported
// by found.
func (s *Store) SubscriberWithVersion(ctx context.Context, id string, p domain.Program) (sub domain.Subscriber, version int64, found bool, err error) {
	var subCmd *redis.MapStringStringCmd
	var verCmd *redis.StringCmd
	_, err = s.rdb.Pipelined(ctx, func(pl redis.Pipeliner) error {
		subCmd = pl.HGetAll(ctx, s.subKey(id))
		verCmd = pl.HGet(ctx, s.schedKey(id, p), fVersion)
		return nil
	})
	if err != nil && !errors.Is(err, redis.Nil) {
		return sub, 0, false, fmt.Errorf("load subscriber %s and schedule %s: %w", id, p, err)
	}
	if len(subCmd.Val()) == 0 {
		return sub, 0, false, fmt.Errorf("load subscriber %s: %w", id, ErrNotFound)
	}
	sub = subscriberFrom(id, subCmd.Val())
	if v, err := verCmd.Int64(); err == nil {
		version, found = v, true
	}
	return sub, version, found, nil
}

func subscriberFrom(id string, m map[string]string) domain.Subscriber {
	return domain.Subscriber{
		ID:             id,
		Clinic:         m[fClinic],
		FirstName:      m[fFirstName],
		Email:          m[fEmail],
		TimeZone:       m[fTimeZone],
		Locale:         m[fLocale],
		Goal:           m[fGoal],
		Phone:          m[fPhone],
		Channels:       parseChannels(m[fChannels]),
		SMSStatus:      domain.SMSStatus(m[fSMSStatus]),
		SMSFooterAt:    fromUnix(m[fSMSFooterAt]),
		SMSAskedAt:     fromUnix(m[fSMSAskedAt]),
		SMSConfirmedAt: fromUnix(m[fSMSOKAt]),
		PausedUntil:    fromUnix(m[fPausedUntil]),
		DistressAt:     fromUnix(m[fDistressAt]),
		GentleAt:       fromUnix(m[fGentleAt]),
		EmailConfirmed: m[fEmailOK] == "1",
		LastNudge:      m[fLastNudge],
		Status:         domain.Status(m[fStatus]),
		CreatedAt:      fromUnix(m[fCreatedAt]),
		ConfirmedAt:    fromUnix(m[fConfirmedAt]),
	}
}

// Schedules loads all of a subscriber's schedules, in the order they were chosen.
func (s *Store) Schedules(ctx context.Context, id string) ([]domain.Schedule, error) {
	pg, err := s.rdb.HGet(ctx, s.subKey(id), fPrograms).Result()
	if errors.Is(err, redis.Nil) {
		return nil, fmt.Errorf("load schedules of %s: %w", id, ErrNotFound)
	}
	if err != nil {
		return nil, fmt.Errorf("load schedules of %s: %w", id, err)
	}
	var out []domain.Schedule
	for _, p := range parsePrograms(pg) {
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

// Schedule loads one schedule. Its next instant and step are the due
// index's while it is planned, the hash's otherwise.
func (s *Store) Schedule(ctx context.Context, id string, p domain.Program) (domain.Schedule, error) {
	sc, err := s.readSchedule(ctx, id, p)
	if err != nil {
		return domain.Schedule{}, fmt.Errorf("load schedule %s/%s: %w", id, p, err)
	}
	if sc == nil {
		return domain.Schedule{}, fmt.Errorf("load schedule %s/%s: %w", id, p, ErrNotFound)
	}
	return *sc, nil
}

// scheduleFrom reads a schedule hash. Its step and next are the schedule's
// only while it has no due-index entry.
func scheduleFrom(id string, p domain.Program, m map[string]string) domain.Schedule {
	v, _ := strconv.ParseInt(m[fVersion], 10, 64)
	n, _ := strconv.ParseInt(m[fStep], 10, 64)
	return domain.Schedule{SubscriberID: id, Program: p, Rule: m[fRule], Version: v, Step: n, Next: fromUnix(m[fNext])}
}

// Activate marks a pending subscriber confirmed through the email link (the
// address is confirmed too) and plans each schedule at the instant given for
// its program. It returns false, changing nothing, when the subscriber is not
// pending (already confirmed, unsubscribed or gone), so a second click on a
// confirmation link is harmless.
func (s *Store) Activate(ctx context.Context, id string, at time.Time, next map[domain.Program]time.Time, ev ConsentEvent) (bool, error) {
	return s.activate(ctx, id, at, next, domain.Email, ev)
}

// ActivateBySMS does what Activate does for a pending subscriber who
// confirmed by replying YES: SMS consent becomes active, the address (if
// any) stays unconfirmed until its own link is used.
func (s *Store) ActivateBySMS(ctx context.Context, id string, at time.Time, next map[domain.Program]time.Time, ev ConsentEvent) (bool, error) {
	return s.activate(ctx, id, at, next, domain.SMS, ev)
}

func (s *Store) activate(ctx context.Context, id string, at time.Time, next map[domain.Program]time.Time, by domain.Channel, ev ConsentEvent) (bool, error) {
	key := s.subKey(id)
	var activated bool
	txf := func(tx *redis.Tx) error {
		activated = false
		st, err := tx.HGet(ctx, key, fStatus).Result()
		if errors.Is(err, redis.Nil) {
			return ErrNotFound
		}
		if err != nil {
			return err
		}
		if domain.Status(st) != domain.Pending {
			return nil
		}
		m, err := tx.HMGet(ctx, key, map[domain.Channel]string{domain.Email: fEmail, domain.SMS: fPhone}[by], fClinic, fTimeZone).Result()
		if err != nil {
			return err
		}
		addr, clinic, zone := str(m[0]), str(m[1]), str(m[2])
		supp := s.suppressionKey()
		if by == domain.Email {
			supp = s.suppressionKeyFor(clinic)
		}
		_, err = tx.TxPipelined(ctx, func(p redis.Pipeliner) error {
			p.HSet(ctx, key, fStatus, string(domain.Active), fConfirmedAt, unix(at))
			p.ZRem(ctx, s.pendingKey(), id)
			if by == domain.Email {
				p.HSet(ctx, key, fEmailOK, "1")
			} else {
				p.HSet(ctx, key, fSMSStatus, string(domain.SMSActive), fSMSOKAt, unix(at))
			}
			// Confirming again through double opt-in lifts an earlier opt-out.
			if addr != "" {
				p.SRem(ctx, supp, AddressHash(addr))
			}
			// A pending subscriber has no entry in the due index: no
			// retiring first.
			for prog, t := range next {
				s.planDue(ctx, p, id, prog, zone, t)
			}
			s.appendConsent(ctx, p, id, ev)
			return nil
		})
		if err == nil {
			activated = true
		}
		return err
	}
	if err := s.watch(ctx, txf, key); err != nil {
		return false, fmt.Errorf("activate %s: %w", id, err)
	}
	return activated, nil
}

// Unsubscribe stops everything for a subscriber: the status becomes
// unsubscribed, every schedule leaves the due index and its version moves on
// (so a task already queued for it is not sent), and the address joins the
// suppression list. It returns false when the subscriber was already
// unsubscribed; repeating it changes nothing.
func (s *Store) Unsubscribe(ctx context.Context, id string, ev ConsentEvent) (bool, error) {
	key := s.subKey(id)
	var changed bool
	txf := func(tx *redis.Tx) error {
		changed = false
		m, err := tx.HMGet(ctx, key, fStatus, fEmail, fPrograms, fClinic, fTimeZone).Result()
		if err != nil {
			return err
		}
		if m[0] == nil {
			return ErrNotFound
		}
		if domain.Status(m[0].(string)) == domain.Unsubscribed {
			return nil
		}
		email, _ := m[1].(string)
		progs, _ := m[2].(string)
		clinic, _ := m[3].(string)
		zone, _ := m[4].(string)
		_, err = tx.TxPipelined(ctx, func(p redis.Pipeliner) error {
			p.HSet(ctx, key, fStatus, string(domain.Unsubscribed))
			for _, prog := range parsePrograms(progs) {
				s.retireDue(ctx, p, id, prog, zone)
				p.HIncrBy(ctx, s.schedKey(id, prog), fVersion, 1)
				p.HSet(ctx, s.schedKey(id, prog), fNext, "0")
			}
			if email != "" {
				p.SAdd(ctx, s.suppressionKeyFor(clinic), AddressHash(email))
			}
			s.appendConsent(ctx, p, id, ev)
			s.stoppedAlert(ctx, p, clinic, id, "all", ev.At)
			return nil
		})
		if err == nil {
			changed = true
		}
		return err
	}
	if err := s.watch(ctx, txf, key); err != nil {
		return false, fmt.Errorf("unsubscribe %s: %w", id, err)
	}
	return changed, nil
}

// StopSMS records that a subscriber's number must not be texted again: SMS
// consent becomes stopped and the number joins the suppression list, which
// outlives the record. Email is left as it is.
func (s *Store) StopSMS(ctx context.Context, id string, ev ConsentEvent) error {
	key := s.subKey(id)
	txf := func(tx *redis.Tx) error {
		m, err := tx.HMGet(ctx, key, fPhone, fSMSStatus, fClinic).Result()
		if err != nil {
			return err
		}
		if m[0] == nil {
			return ErrNotFound
		}
		phone, _ := m[0].(string)
		was, _ := m[1].(string)
		clinic, _ := m[2].(string)
		_, err = tx.TxPipelined(ctx, func(p redis.Pipeliner) error {
			p.HSet(ctx, key, fSMSStatus, string(domain.SMSStopped))
			if phone != "" {
				p.SAdd(ctx, s.suppressionKey(), AddressHash(phone))
			}
			s.appendConsent(ctx, p, id, ev)
			if was != string(domain.SMSStopped) {
				s.stoppedAlert(ctx, p, clinic, id, "sms", ev.At)
			}
			return nil
		})
		return err
	}
	if err := s.watch(ctx, txf, key); err != nil {
		return fmt.Errorf("stop sms for %s: %w", id, err)
	}
	return nil
}

// SuppressAfter is how many permanent failures (within BounceWindow) put an
// address or number on the suppression list.
const (
	SuppressAfter = 3
	BounceWindow  = 90 * 24 * time.Hour
)

var bounceScript = redis.NewScript(`
local n = redis.call('INCR', KEYS[1])
redis.call('EXPIRE', KEYS[1], ARGV[1])
if n >= tonumber(ARGV[2]) then redis.call('SADD', KEYS[2], ARGV[3]) end
return n
`)

// RecordPermanentFailure counts a provider's permanent refusal of an address
// or number and suppresses it once the count reaches SuppressAfter. It
// returns whether the address is now suppressed.
func (s *Store) RecordPermanentFailure(ctx context.Context, addr string) (bool, error) {
	h := AddressHash(addr)
	n, err := bounceScript.Run(ctx, s.rdb, []string{s.prefix + "bounce:" + h, s.suppressionKey()},
		int(BounceWindow.Seconds()), SuppressAfter, h).Int()
	if err != nil {
		return false, fmt.Errorf("record permanent failure: %w", err)
	}
	return n >= SuppressAfter, nil
}

// Suppressed reports whether an address is on the suppression list.
func (s *Store) Suppressed(ctx context.Context, addr string) (bool, error) {
	ok, err := s.rdb.SIsMember(ctx, s.suppressionKey(), AddressHash(addr)).Result()
	if err != nil {
		return false, fmt.Errorf("check suppression: %w", err)
	}
	return ok, nil
}

// Unsuppress takes an address off the suppression list: only after the
// person has confirmed again through double opt-in.
func (s *Store) Unsuppress(ctx context.Context, addr string) error {
	if err := s.rdb.SRem(ctx, s.suppressionKey(), AddressHash(addr)).Err(); err != nil {
		return fmt.Errorf("unsuppress: %w", err)
	}
	return nil
}

// PendingSince returns up to limit unconfirmed subscribers who signed up at
// or before t, oldest first.
func (s *Store) PendingSince(ctx context.Context, t time.Time, limit int) ([]string, error) {
	ids, err := s.rdb.ZRangeArgs(ctx, redis.ZRangeArgs{Key: s.pendingKey(), Start: "-inf", Stop: strconv.FormatInt(t.Unix(), 10), ByScore: true, Count: int64(limit)}).Result()
	if err != nil {
		return nil, fmt.Errorf("list pending: %w", err)
	}
	return ids, nil
}

// MarkReminded records that an unconfirmed subscriber was reminded, and
// reports whether this is the first time (only the first reminds).
func (s *Store) MarkReminded(ctx context.Context, id string) (bool, error) {
	ok, err := s.rdb.HSetNX(ctx, s.subKey(id), fReminded, "1").Result()
	if err != nil {
		return false, fmt.Errorf("mark reminded %s: %w", id, err)
	}
	return ok, nil
}

// ForgetPending takes a subscriber off the unconfirmed list (after erasure).
func (s *Store) ForgetPending(ctx context.Context, id string) error {
	if err := s.rdb.ZRem(ctx, s.pendingKey(), id).Err(); err != nil {
		return fmt.Errorf("forget pending %s: %w", id, err)
	}
	return nil
}
