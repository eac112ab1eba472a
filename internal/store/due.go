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

// DueEntry is one schedule whose next instant has come (or is about to), with
// what the planner needs to enqueue it and plan the one after, read in the
// same round trip.
type DueEntry struct {
	Shard        int
	SubscriberID string
	Program      domain.Program
	At           time.Time // the planned instant: the due index's score
	Rule         string
	Version      int64
	Step         int64
	TimeZone     string
	Status       domain.Status
}

// One round trip: the due members of a shard up to an instant, each with its
// schedule and its subscriber's zone and status.
var dueBatchScript = redis.NewScript(`
local due = redis.call('ZRANGEBYSCORE', KEYS[1], '-inf', ARGV[1], 'WITHSCORES', 'LIMIT', 0, tonumber(ARGV[2]))
local out = {}
for i = 1, #due, 2 do
  local m = due[i]
  local sep = string.find(m, '|', 1, true)
  local id = string.sub(m, 1, sep - 1)
  local prog = string.sub(m, sep + 1)
  local sc = redis.call('HMGET', ARGV[3] .. 'sched:' .. id .. ':' .. prog, 'r', 'v', 'n')
  local sb = redis.call('HMGET', ARGV[3] .. 'sub:' .. id, 'tz', 'st')
  out[#out + 1] = m
  out[#out + 1] = due[i + 1]
  out[#out + 1] = sc[1] or ''
  out[#out + 1] = sc[2] or '0'
  out[#out + 1] = sc[3] or '0'
  out[#out + 1] = sb[1] or ''
  out[#out + 1] = sb[2] or ''
end
return out
`)

// DueBatch returns up to limit entries of a shard due at or before until,
// earliest first. Reading claims nothing: Advance moves an entry on only if
// nobody else did first.
func (s *Store) DueBatch(ctx context.Context, shard int, until time.Time, limit int) ([]DueEntry, error) {
	raw, err := dueBatchScript.Run(ctx, s.rdb, []string{s.dueKey(shard)}, until.Unix(), limit, s.prefix).StringSlice()
	if err != nil {
		return nil, fmt.Errorf("read due shard %d: %w", shard, err)
	}
	out := make([]DueEntry, 0, len(raw)/7)
	for i := 0; i+6 < len(raw); i += 7 {
		id, prog, _ := strings.Cut(raw[i], "|")
		score, _ := strconv.ParseFloat(raw[i+1], 64)
		v, _ := strconv.ParseInt(raw[i+3], 10, 64)
		n, _ := strconv.ParseInt(raw[i+4], 10, 64)
		out = append(out, DueEntry{
			Shard: shard, SubscriberID: id, Program: domain.Program(prog),
			At: time.Unix(int64(score), 0).UTC(), Rule: raw[i+2], Version: v, Step: n,
			TimeZone: raw[i+5], Status: domain.Status(raw[i+6]),
		})
	}
	return out, nil
}

// Advance moves a due entry to its next instant and the schedule to its next
// message, atomically, if the entry is still as e describes it: the score,
// the schedule version and the step read. It returns false when another planner
// (or a change by the subscriber) got there first.
func (s *Store) Advance(ctx context.Context, e DueEntry, next time.Time) (bool, error) {
	if next.IsZero() {
		return false, fmt.Errorf("advance %s/%s: no next instant", e.SubscriberID, e.Program)
	}
	return s.moveOne(ctx, DueMove{Entry: e, Next: next})
}

// Unplan takes a due entry out of the index (its subscriber is not active, or
// its rule can no longer be read), if it is still as e describes it.
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

// One round trip for a whole batch: each move is a compare-and-set on what
// the planner read, the entry's score and the schedule's version and step.
// KEYS come in pairs (due shard, schedule); ARGV in sixes (member, score
// read, next or 'remove', version read, step read, step after).
var moveDueScript = redis.NewScript(`
local out = {}
for i = 1, #KEYS / 2 do
  local due, sched = KEYS[2 * i - 1], KEYS[2 * i]
  local a = 6 * (i - 1)
  local m, to = ARGV[a + 1], ARGV[a + 3]
  local cur = redis.call('ZSCORE', due, m)
  local sc = redis.call('HMGET', sched, 'v', 'n')
  if not cur or tonumber(cur) ~= tonumber(ARGV[a + 2]) or sc[1] ~= ARGV[a + 4] or (sc[2] or '0') ~= ARGV[a + 5] then
    out[i] = 0
  elseif to == 'remove' then
    redis.call('ZREM', due, m)
    redis.call('HSET', sched, 'x', '0')
    out[i] = 1
  else
    redis.call('ZADD', due, to, m)
    redis.call('HSET', sched, 'n', ARGV[a + 6], 'x', to)
    out[i] = 1
  end
end
return out
`)

// MoveDue applies moves in one round trip and reports, move by move, whether
// it applied: each is the compare-and-set of Advance (or, with a zero Next,
// of Unplan), and one that finds the entry changed changes nothing. The
// moves are applied atomically together, so a lost reply leaves either all
// or none of them done.
func (s *Store) MoveDue(ctx context.Context, moves []DueMove) ([]bool, error) {
	if len(moves) == 0 {
		return nil, nil
	}
	keys := make([]string, 0, 2*len(moves))
	args := make([]any, 0, 6*len(moves))
	for _, mv := range moves {
		e := mv.Entry
		to, step := "remove", e.Step+1
		if !mv.Next.IsZero() {
			to = strconv.FormatInt(mv.Next.Unix(), 10)
		}
		if mv.KeepStep {
			step = e.Step
		}
		keys = append(keys, s.dueKey(e.Shard), s.schedKey(e.SubscriberID, e.Program))
		args = append(args, dueMember(e.SubscriberID, e.Program), e.At.Unix(), to, e.Version, e.Step, step)
	}
	res, err := moveDueScript.Run(ctx, s.rdb, keys, args...).Int64Slice()
	if err != nil {
		return nil, fmt.Errorf("move due %s/%s (and %d more): %w", moves[0].Entry.SubscriberID, moves[0].Entry.Program, len(moves)-1, err)
	}
	if len(res) != len(moves) {
		return nil, fmt.Errorf("move due entries: %d results for %d moves", len(res), len(moves))
	}
	out := make([]bool, len(res))
	for i, n := range res {
		out[i] = n == 1
	}
	return out, nil
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
	max := strconv.FormatInt(until.Unix(), 10)
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
