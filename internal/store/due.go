package store

import (
	"context"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/nudgehq/nudge/internal/domain"
	"github.com/redis/go-redis/v9"
)

// The due index holds one entry per planned schedule. Its member names
// everything the planner needs to enqueue the occurrence and plan the one
// after, and its score everything that a planner's move changes:
//
//	member  "<id>|<program>|<version>|<rule>|<zone>"
//	score   next instant (Unix s) × 2^20 + step
//
// so a batch of due entries is read, and moved on, without touching the
// schedule or subscriber hashes. What this rests on:
//
//   - Only active subscribers' chosen schedules have an entry: Activate adds
//     them in the transaction that makes the subscriber active, Unsubscribe
//     takes them out in the one that ends it, UpdatePreferences adds and
//     removes them with the program list (all under WATCH of the record).
//   - The member's version and rule are the schedule hash's, and its zone
//     the subscriber's, at all times: a writer that changes any of them
//     takes the entry out (retireDueScript) before and puts the new one in
//     (planDueScript) after, in the same transaction. Versions only grow, so
//     a member that left the index never comes back.
//   - While a schedule has an entry, the score's next instant and step are
//     the schedule's (the hash's n and x are not kept up to date: the
//     planner writes no hash); retiring an entry writes its step back to the
//     hash, so steps carry on across a change.
//   - A planner's move makes the score larger (a later instant, or the same
//     instant with the next step). A plain advance's target follows from the
//     entry alone, so it is a ZADD XX GT: a replaced member is not there
//     (XX), and a second planner's move of the same read, or of an older
//     one, is not higher (GT). Moves that keep the step or remove the entry
//     are a compare-and-set on the exact score read. Either way a stale read
//     can never move an entry twice.
//
// The score is exact: 2^20 × a Unix time before the year 2242 is below 2^53.
const (
	stepBits = 20
	stepMod  = 1 << stepBits
	// maxStep is where a step stops growing: a weekly schedule reaches it
	// after 20,000 years.
	maxStep = stepMod - 1
)

// dueScore is the due-index score of a schedule's next instant and step.
func dueScore(next time.Time, step int64) int64 {
	return next.Unix()<<stepBits | min(max(step, 0), maxStep)
}

// splitDueScore returns the next instant and step a due-index score holds.
func splitDueScore(score float64) (time.Time, int64) {
	n := int64(score)
	return time.Unix(n>>stepBits, 0).UTC(), n & maxStep
}

// dueHead is the part of a due-index member that never changes.
func dueHead(id string, p domain.Program) string { return id + "|" + string(p) }

// dueMember is the due-index member of a schedule planned under version and
// rule in zone. The scripts below build the same string.
func dueMember(id string, p domain.Program, version int64, rule, zone string) string {
	return dueHead(id, p) + "|" + strconv.FormatInt(version, 10) + "|" + rule + "|" + zone
}

// parseDueMember reads a member made by dueMember. An id may hold "|"; the
// other parts never do.
func parseDueMember(m string) (e DueEntry, ok bool) {
	parts := strings.Split(m, "|")
	if len(parts) < 5 {
		return e, false
	}
	k := len(parts) - 4
	v, err := strconv.ParseInt(parts[k+1], 10, 64)
	if err != nil {
		return e, false
	}
	e = DueEntry{
		SubscriberID: strings.Join(parts[:k], "|"), Program: domain.Program(parts[k]),
		Version: v, Rule: parts[k+2], TimeZone: parts[k+3],
	}
	// A member the planner could not name again exactly could never be
	// moved: leave it alone.
	return e, dueMember(e.SubscriberID, e.Program, e.Version, e.Rule, e.TimeZone) == m
}

// dueMax is the highest score of an entry due at or before until.
func dueMax(until time.Time) string {
	return strconv.FormatInt(until.Unix()<<stepBits|maxStep, 10)
}

// retireDueScript takes a schedule's entry out of the due index, if it has
// one, and writes its step back to the schedule hash; the hash's next
// becomes 0 either way. KEYS: the due shard, the schedule hash; ARGV: the
// member's head (dueHead) and the zone it was planned in. The member's
// version and rule are the hash's, read here: run it before the hash
// changes.
var retireDueScript = `
local sc = redis.call('HMGET', KEYS[2], 'v', 'r')
if not sc[1] then return 0 end
local m = ARGV[1] .. '|' .. sc[1] .. '|' .. (sc[2] or '') .. '|' .. ARGV[2]
local s = redis.call('ZSCORE', KEYS[1], m)
if s then
  redis.call('ZREM', KEYS[1], m)
  redis.call('HSET', KEYS[2], 'n', string.format('%.0f', tonumber(s) % ` + strconv.Itoa(stepMod) + `), 'x', '0')
  return 1
end
redis.call('HSET', KEYS[2], 'x', '0')
return 0
`

// planDueScript puts a schedule into the due index at an instant, with its
// version, rule and step as the hash has them, and records the instant in
// the hash. KEYS: the due shard, the schedule hash; ARGV: the member's head,
// the subscriber's zone, the instant (Unix s). Run it after the hash has its
// new version and rule, and after retireDueScript when the schedule may have
// had an entry.
var planDueScript = `
local sc = redis.call('HMGET', KEYS[2], 'v', 'r', 'n')
local v, n = sc[1] or '0', math.min(tonumber(sc[3] or '0') or 0, ` + strconv.Itoa(maxStep) + `)
local m = ARGV[1] .. '|' .. v .. '|' .. (sc[2] or '') .. '|' .. ARGV[2]
redis.call('ZADD', KEYS[1], string.format('%.0f', tonumber(ARGV[3]) * ` + strconv.Itoa(stepMod) + ` + n), m)
redis.call('HSET', KEYS[2], 'x', ARGV[3])
return 1
`

// retireDue queues, on p, the removal of a schedule's due entry (see
// retireDueScript). zone is the subscriber's zone as it was when planned.
func (s *Store) retireDue(ctx context.Context, p redis.Pipeliner, id string, prog domain.Program, zone string) {
	p.Eval(ctx, retireDueScript, []string{s.dueKey(ShardOf(id)), s.schedKey(id, prog)}, dueHead(id, prog), zone)
}

// planDue queues, on p, the planning of a schedule at an instant (see
// planDueScript).
func (s *Store) planDue(ctx context.Context, p redis.Pipeliner, id string, prog domain.Program, zone string, at time.Time) {
	p.Eval(ctx, planDueScript, []string{s.dueKey(ShardOf(id)), s.schedKey(id, prog)}, dueHead(id, prog), zone, at.Unix())
}

// DueEntry is one schedule whose next instant has come (or is about to), with
// what the planner needs to enqueue it and plan the one after: all of it
// read from the due index itself. Only active subscribers' schedules are in
// the index, so an entry's subscriber is active (or was when it was read;
// the worker checks again before sending).
type DueEntry struct {
	Shard        int
	SubscriberID string
	Program      domain.Program
	At           time.Time // the planned instant
	Rule         string
	Version      int64
	Step         int64
	TimeZone     string
}

// DueBatch returns up to limit entries of a shard due at or before until,
// earliest first, in one round trip. Reading claims nothing and need not be
// atomic: MoveDue moves an entry on only if it is still as read here.
func (s *Store) DueBatch(ctx context.Context, shard int, until time.Time, limit int) ([]DueEntry, error) {
	due, err := s.rdb.ZRangeByScoreWithScores(ctx, s.dueKey(shard), &redis.ZRangeBy{
		Min: "-inf", Max: dueMax(until), Count: int64(limit),
	}).Result()
	if err != nil {
		return nil, fmt.Errorf("read due shard %d: %w", shard, err)
	}
	if upgraded, err := s.upgradeDue(ctx, shard, due); err != nil {
		return nil, fmt.Errorf("read due shard %d: %w", shard, err)
	} else if upgraded {
		return s.DueBatch(ctx, shard, until, limit)
	}
	out := make([]DueEntry, 0, len(due))
	for _, z := range due {
		m, _ := z.Member.(string)
		e, ok := parseDueMember(m)
		if !ok {
			continue // not written by this package
		}
		e.Shard = shard
		e.At, e.Step = splitDueScore(z.Score)
		out = append(out, e)
	}
	return out, nil
}

// upgradeDueScript rewrites due-index entries of the first format (member
// "<id>|<program>", score the next instant in Unix seconds, the rest in the
// schedule and subscriber hashes) in the present one, taking out those of
// subscribers who are not active (as the planner did on reading them).
// KEYS[1] is the due shard, then a schedule and a subscriber hash per
// member; ARGV the members.
var upgradeDueScript = redis.NewScript(`
local n = 0
for i = 1, #ARGV do
  local m = ARGV[i]
  local s = redis.call('ZSCORE', KEYS[1], m)
  if s then
    local sched, sub = KEYS[2 * i], KEYS[2 * i + 1]
    local sc = redis.call('HMGET', sched, 'v', 'r', 'n')
    local sb = redis.call('HMGET', sub, '` + fTimeZone + `', '` + fStatus + `')
    redis.call('ZREM', KEYS[1], m)
    if sc[1] and sb[2] == 'active' then
      local step = math.min(tonumber(sc[3] or '0') or 0, ` + strconv.Itoa(maxStep) + `)
      redis.call('ZADD', KEYS[1], string.format('%.0f', tonumber(s) * ` + strconv.Itoa(stepMod) + ` + step),
        m .. '|' .. sc[1] .. '|' .. (sc[2] or '') .. '|' .. (sb[1] or ''))
    elseif sc[1] then
      redis.call('HSET', sched, 'x', '0')
    end
    n = n + 1
  end
end
return n
`)

// legacyDueScore is above every score of the first format (Unix seconds)
// and below every present one after 1970-01-01 02:16 UTC.
const legacyDueScore = 1 << 33

// upgradeDue rewrites the entries of the first format among those read
// (they come first: their scores are far lower) and reports whether there
// were any, so that a store reading an index written before this format
// carries on where the other left off.
func (s *Store) upgradeDue(ctx context.Context, shard int, due []redis.Z) (bool, error) {
	keys := []string{s.dueKey(shard)}
	var args []any
	for _, z := range due {
		m, _ := z.Member.(string)
		if z.Score >= legacyDueScore || strings.Count(m, "|") != 1 {
			continue
		}
		id, prog, _ := strings.Cut(m, "|")
		keys = append(keys, s.schedKey(id, domain.Program(prog)), s.subKey(id))
		args = append(args, m)
	}
	if len(args) == 0 {
		return false, nil
	}
	if err := upgradeDueScript.Run(ctx, s.rdb, keys, args...).Err(); err != nil {
		return false, fmt.Errorf("upgrade %d due entries: %w", len(args), err)
	}
	return true, nil
}

// Advance moves a due entry to its next instant and the schedule to its next
// message, atomically, if the entry is still as e describes it. It returns
// false when another planner (or a change by the subscriber) got there first.
func (s *Store) Advance(ctx context.Context, e DueEntry, next time.Time) (bool, error) {
	if next.IsZero() {
		return false, fmt.Errorf("advance %s/%s: no next instant", e.SubscriberID, e.Program)
	}
	return s.moveOne(ctx, DueMove{Entry: e, Next: next})
}

// Unplan takes a due entry out of the index (its rule can no longer be
// read), if it is still as e describes it.
func (s *Store) Unplan(ctx context.Context, e DueEntry) (bool, error) {
	return s.moveOne(ctx, DueMove{Entry: e})
}

func (s *Store) moveOne(ctx context.Context, mv DueMove) (bool, error) {
	ok, err := s.MoveDue(ctx, []DueMove{mv})
	if err != nil {
		return false, err
	}
	return ok[0], nil
}

// DueMove is one compare-and-set move of a due entry, for MoveDue.
type DueMove struct {
	Entry DueEntry
	// Next is the entry's next instant; zero takes it out of the index.
	Next time.Time
	// KeepStep leaves the schedule's step where it is: the occurrence was
	// skipped, so the message it would have carried is still the next one.
	KeepStep bool
}

// moveDueScript moves a batch of one shard's entries. Each move is a
// compare-and-set on the entry's score: the member names the schedule's
// version, rule and zone, so a subscriber's change replaces it and the move
// finds nothing; the score names its instant and step, so a second planner's
// move of the same read finds it moved. KEYS[1] is the due shard, and
// KEYS[1 + k] the schedule of the k-th removal; ARGV comes in threes
// (member, score read, score after or 'remove'). The scores are read, and
// the index changed, with one command per chunk of entries rather than one
// per entry: each call a script makes into Redis has a fixed cost. A removal
// writes the entry's step back to its schedule, as retireDueScript does.
var moveDueScript = redis.NewScript(`
local due, n, chunk = KEYS[1], #ARGV / 3, 1000
local scores = {}
for c = 1, n, chunk do
  local ms = {}
  for i = c, math.min(n, c + chunk - 1) do ms[#ms + 1] = ARGV[3 * i - 2] end
  local got = redis.call('ZMSCORE', due, unpack(ms))
  for k = 1, #ms do scores[c + k - 1] = got[k] end
end
local out, add, rem, seen, removals = {}, {}, {}, {}, 0
for i = 1, n do
  local m, to = ARGV[3 * i - 2], ARGV[3 * i]
  out[i] = 0
  if to == 'remove' then removals = removals + 1 end
  if scores[i] and not seen[m] and tonumber(scores[i]) == tonumber(ARGV[3 * i - 1]) then
    seen[m], out[i] = true, 1
    if to == 'remove' then
      rem[#rem + 1] = m
      redis.call('HSET', KEYS[1 + removals], 'n', string.format('%.0f', tonumber(scores[i]) % ` + strconv.Itoa(stepMod) + `), 'x', '0')
    else
      add[#add + 1] = to
      add[#add + 1] = m
    end
  end
end
for c = 1, #add, 2 * chunk do
  redis.call('ZADD', due, unpack(add, c, math.min(#add, c + 2 * chunk - 1)))
end
for c = 1, #rem, chunk do
  redis.call('ZREM', due, unpack(rem, c, math.min(#rem, c + chunk - 1)))
end
return out
`)

// MoveDue applies moves and reports, move by move, whether it applied: each
// is the compare-and-set of Advance (or, with a zero Next, of Unplan), and
// one that finds the entry changed changes nothing. A move touches only the
// due index (a removal also the schedule hash).
//
// A plain advance (a later instant and the next step) is a ZADD XX GT of the
// entry's member: its target follows from what was read alone (the rule,
// zone and instant in the entry), so every planner that read the same entry
// computes the same score, and it is higher than the score read. XX finds no
// member once a writer has replaced it (a new version); GT changes nothing
// once a planner has moved it (the same score, or a later one). The
// advances of one shard go in one MULTI, so a lost reply leaves all or none
// of them done. A move that keeps the step (a skipped occurrence, planned
// from the clock) or removes the entry is an exact compare-and-set on the
// score read, in a script.
func (s *Store) MoveDue(ctx context.Context, moves []DueMove) ([]bool, error) {
	out := make([]bool, len(moves))
	byShard := map[int][]int{}
	var shards []int
	for i, mv := range moves {
		sh := mv.Entry.Shard
		if _, ok := byShard[sh]; !ok {
			shards = append(shards, sh)
		}
		byShard[sh] = append(byShard[sh], i)
	}
	for _, sh := range shards {
		var plain, exact []int
		for _, i := range byShard[sh] {
			// An advance to an earlier instant (never the planner's) would
			// not be higher than the score read: it takes the exact path.
			if mv := moves[i]; !mv.Next.IsZero() && !mv.KeepStep && !mv.Next.Before(mv.Entry.At) {
				plain = append(plain, i)
			} else {
				exact = append(exact, i)
			}
		}
		if err := s.advanceDue(ctx, sh, moves, plain, out); err != nil {
			return nil, err
		}
		if err := s.moveDueExactly(ctx, sh, moves, exact, out); err != nil {
			return nil, err
		}
	}
	return out, nil
}

// advanceDue applies the plain advances idx of moves, all of shard sh.
func (s *Store) advanceDue(ctx context.Context, sh int, moves []DueMove, idx []int, out []bool) error {
	if len(idx) == 0 {
		return nil
	}
	key := s.dueKey(sh)
	cmds := make([]*redis.IntCmd, len(idx))
	_, err := s.rdb.TxPipelined(ctx, func(p redis.Pipeliner) error {
		for k, i := range idx {
			e := moves[i].Entry
			cmds[k] = p.ZAddArgs(ctx, key, redis.ZAddArgs{XX: true, GT: true, Ch: true, Members: []redis.Z{{
				Score:  float64(dueScore(moves[i].Next, e.Step+1)),
				Member: dueMember(e.SubscriberID, e.Program, e.Version, e.Rule, e.TimeZone),
			}}})
		}
		return nil
	})
	if err != nil {
		first := moves[idx[0]].Entry
		return fmt.Errorf("move due %s/%s (and %d more): %w", first.SubscriberID, first.Program, len(idx)-1, err)
	}
	for k, i := range idx {
		out[i] = cmds[k].Val() == 1
	}
	return nil
}

// moveDueExactly applies the moves idx of moves, all of shard sh, as exact
// compare-and-sets on the scores read.
func (s *Store) moveDueExactly(ctx context.Context, sh int, moves []DueMove, idx []int, out []bool) error {
	if len(idx) == 0 {
		return nil
	}
	keys := []string{s.dueKey(sh)}
	args := make([]any, 0, 3*len(idx))
	for _, i := range idx {
		mv := moves[i]
		e := mv.Entry
		to := "remove"
		if mv.Next.IsZero() {
			keys = append(keys, s.schedKey(e.SubscriberID, e.Program))
		} else {
			step := e.Step + 1
			if mv.KeepStep {
				step = e.Step
			}
			to = strconv.FormatInt(dueScore(mv.Next, step), 10)
		}
		args = append(args, dueMember(e.SubscriberID, e.Program, e.Version, e.Rule, e.TimeZone),
			dueScore(e.At, e.Step), to)
	}
	first := moves[idx[0]].Entry
	res, err := moveDueScript.Run(ctx, s.rdb, keys, args...).Int64Slice()
	if err != nil {
		return fmt.Errorf("move due %s/%s (and %d more): %w", first.SubscriberID, first.Program, len(idx)-1, err)
	}
	if len(res) != len(idx) {
		return fmt.Errorf("move due entries: %d results for %d moves", len(res), len(idx))
	}
	for k, i := range idx {
		out[i] = res[k] == 1
	}
	return nil
}

// Lease takes a shard for owner for ttl, or extends owner's lease. It returns
// false when another planner holds it. Leases only spread the work: the
// compare-and-move in Advance and asynq's task ids keep correctness when a
// lease runs out mid-batch.
func (s *Store) Lease(ctx context.Context, shard int, owner string, ttl time.Duration) (bool, error) {
	key := s.leaseKey(shard)
	ok, err := s.rdb.SetNX(ctx, key, owner, ttl).Result()
	if err != nil {
		return false, fmt.Errorf("lease shard %d: %w", shard, err)
	}
	if ok {
		return true, nil
	}
	cur, err := s.rdb.Get(ctx, key).Result()
	if errors.Is(err, redis.Nil) {
		return false, nil
	}
	if err != nil {
		return false, fmt.Errorf("lease shard %d: %w", shard, err)
	}
	if cur != owner {
		return false, nil
	}
	return true, s.rdb.PExpire(ctx, key, ttl).Err()
}

var releaseScript = redis.NewScript(`
if redis.call('GET', KEYS[1]) == ARGV[1] then return redis.call('DEL', KEYS[1]) end
return 0
`)

// Release gives a shard's lease back if owner holds it.
func (s *Store) Release(ctx context.Context, shard int, owner string) error {
	if err := releaseScript.Run(ctx, s.rdb, []string{s.leaseKey(shard)}, owner).Err(); err != nil {
		return fmt.Errorf("release shard %d: %w", shard, err)
	}
	return nil
}

// DueShards returns, in one round trip, the shards that hold an entry due
// at or before until, so that a planner leases and reads only those.
func (s *Store) DueShards(ctx context.Context, until time.Time) ([]int, error) {
	max := dueMax(until)
	cmds := make([]*redis.IntCmd, Shards)
	_, err := s.rdb.Pipelined(ctx, func(p redis.Pipeliner) error {
		for shard := range Shards {
			cmds[shard] = p.ZCount(ctx, s.dueKey(shard), "-inf", max)
		}
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("find due shards: %w", err)
	}
	var out []int
	for shard, c := range cmds {
		if c.Val() > 0 {
			out = append(out, shard)
		}
	}
	return out, nil
}

// DueCount returns how many entries the due index holds, for metrics and tests.
func (s *Store) DueCount(ctx context.Context) (int64, error) {
	var total int64
	for shard := range Shards {
		n, err := s.rdb.ZCard(ctx, s.dueKey(shard)).Result()
		if err != nil {
			return 0, fmt.Errorf("count due: %w", err)
		}
		total += n
	}
	return total, nil
}

// str returns an HMGET value as a string: "" for a missing field.
func str(v any) string {
	s, _ := v.(string)
	return s
}

// DueBacklog returns how many entries are due at or before now: occurrences
// the planner has not queued yet (for the planner's backlog metric).
func (s *Store) DueBacklog(ctx context.Context, now time.Time) (int64, error) {
	max := dueMax(now)
	cmds := make([]*redis.IntCmd, Shards)
	_, err := s.rdb.Pipelined(ctx, func(p redis.Pipeliner) error {
		for shard := range Shards {
			cmds[shard] = p.ZCount(ctx, s.dueKey(shard), "-inf", max)
		}
		return nil
	})
	if err != nil {
		return 0, fmt.Errorf("count due backlog: %w", err)
	}
	var n int64
	for _, c := range cmds {
		n += c.Val()
	}
	return n, nil
}
