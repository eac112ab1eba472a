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
// what the planner needs to enqueue it and plan the one after, read with it.
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

// DueBatch returns up to limit entries of a shard due at or before until,
// earliest first, with their schedules and subscribers. It takes two round
// trips: the due members, then one pipeline of two HMGETs per member (plain
// commands cost Redis less than the same reads made from a script). Reading
// claims nothing and need not be atomic: MoveDue moves an entry on only if
// its score, version and step are still those read here.
func (s *Store) DueBatch(ctx context.Context, shard int, until time.Time, limit int) ([]DueEntry, error) {
	due, err := s.rdb.ZRangeByScoreWithScores(ctx, s.dueKey(shard), &redis.ZRangeBy{
		Min: "-inf", Max: strconv.FormatInt(until.Unix(), 10), Count: int64(limit),
	}).Result()
	if err != nil {
		return nil, fmt.Errorf("read due shard %d: %w", shard, err)
	}
	if len(due) == 0 {
		return nil, nil
	}
	out := make([]DueEntry, 0, len(due))
	cmds := make([][2]*redis.SliceCmd, 0, len(due))
	_, err = s.rdb.Pipelined(ctx, func(p redis.Pipeliner) error {
		for _, z := range due {
			m, _ := z.Member.(string)
			id, prog, ok := strings.Cut(m, "|")
			if !ok {
				continue // not written by this package
			}
			out = append(out, DueEntry{
				Shard: shard, SubscriberID: id, Program: domain.Program(prog),
				At: time.Unix(int64(z.Score), 0).UTC(),
			})
			cmds = append(cmds, [2]*redis.SliceCmd{
				p.HMGet(ctx, s.schedKey(id, domain.Program(prog)), fRule, fVersion, fStep),
				p.HMGet(ctx, s.subKey(id), fTimeZone, fStatus),
			})
		}
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("read due shard %d: %w", shard, err)
	}
	for i, c := range cmds {
		sc, sb := c[0].Val(), c[1].Val()
		e := &out[i]
		e.Rule = str(sc[0])
		e.Version, _ = strconv.ParseInt(str(sc[1]), 10, 64)
		e.Step, _ = strconv.ParseInt(str(sc[2]), 10, 64)
		e.TimeZone = str(sb[0])
		e.Status = domain.Status(str(sb[1]))
	}
	return out, nil
}

// str returns an HMGET value as a string: "" for a missing field.
func str(v any) string {
	s, _ := v.(string)
	return s
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

// Moves a batch of one shard's entries in one round trip. Each move is a
// compare-and-set on what the planner read: the entry's score and the
// schedule's version and step. KEYS[1] is the due shard, KEYS[1 + i] the
// schedule of move i; ARGV comes in sixes (member, score read, next or
// 'remove', version read, step read, step after). The scores are read, and
// the index changed, with one command per chunk of entries rather than one
// per entry: each call a script makes into Redis has a fixed cost.
var moveDueScript = redis.NewScript(`
local due, n, chunk = KEYS[1], #KEYS - 1, 1000
local scores = {}
for c = 1, n, chunk do
  local ms = {}
  for i = c, math.min(n, c + chunk - 1) do ms[#ms + 1] = ARGV[6 * (i - 1) + 1] end
  local got = redis.call('ZMSCORE', due, unpack(ms))
  for k = 1, #ms do scores[c + k - 1] = got[k] end
end
local out, add, rem, seen = {}, {}, {}, {}
for i = 1, n do
  local a = 6 * (i - 1)
  local m, to = ARGV[a + 1], ARGV[a + 3]
  out[i] = 0
  if scores[i] and not seen[m] and tonumber(scores[i]) == tonumber(ARGV[a + 2]) then
    local sc = redis.call('HMGET', KEYS[1 + i], 'v', 'n')
    if sc[1] == ARGV[a + 4] and (sc[2] or '0') == ARGV[a + 5] then
      seen[m], out[i] = true, 1
      if to == 'remove' then
        rem[#rem + 1] = m
        redis.call('HSET', KEYS[1 + i], 'x', '0')
      else
        add[#add + 1] = to
        add[#add + 1] = m
        redis.call('HSET', KEYS[1 + i], 'n', ARGV[a + 6], 'x', to)
      end
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
// one that finds the entry changed changes nothing. The moves of one shard
// take one round trip and are applied atomically together, so a lost reply
// leaves either all or none of them done; a planner's batch is one shard's.
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
		idx := byShard[sh]
		keys := make([]string, 0, 1+len(idx))
		args := make([]any, 0, 6*len(idx))
		keys = append(keys, s.dueKey(sh))
		for _, i := range idx {
			mv := moves[i]
			e := mv.Entry
			to, step := "remove", e.Step+1
			if !mv.Next.IsZero() {
				to = strconv.FormatInt(mv.Next.Unix(), 10)
			}
			if mv.KeepStep {
				step = e.Step
			}
			keys = append(keys, s.schedKey(e.SubscriberID, e.Program))
			args = append(args, dueMember(e.SubscriberID, e.Program), e.At.Unix(), to, e.Version, e.Step, step)
		}
		first := moves[idx[0]].Entry
		res, err := moveDueScript.Run(ctx, s.rdb, keys, args...).Int64Slice()
		if err != nil {
			return nil, fmt.Errorf("move due %s/%s (and %d more): %w", first.SubscriberID, first.Program, len(idx)-1, err)
		}
		if len(res) != len(idx) {
			return nil, fmt.Errorf("move due entries: %d results for %d moves", len(res), len(idx))
		}
		for k, i := range idx {
			out[i] = res[k] == 1
		}
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
