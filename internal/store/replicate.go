package store

import (
	"context"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/redis/go-redis/v9"
)

// Redis replicates asynchronously: a write the primary acknowledged can be
// lost when a replica is promoted in its place. For most writes that costs
// little (a due-index move that is lost is planned again, and the
// occurrence's task id and delivery record stop a second send). A delivery
// claim is different: if it were lost after the provider was called, the
// next attempt would find no claim and send again. So when the primary has
// replicas, a claim is confirmed with WAIT 1 before the provider is called,
// and a claim no replica acknowledged in time is given back (its record
// says retry) and the attempt fails, for asynq to retry later: the message
// is sent late, never twice.
//
// Why give it back rather than leave it: a claim left in place turns the
// next attempt's send into "unknown", a certain miss, although the
// provider was certainly not called. The give-back is itself a write that
// may be lost with the primary, which is harmless: then the new primary
// either never saw the claim (the next attempt claims afresh) or saw it and
// the give-back both, in order.

// ReplicaAckTimeout is how long a claim waits for a replica to acknowledge it.
const ReplicaAckTimeout = time.Second

// replicaCheckEvery is how long a count of the primary's replicas is
// trusted before INFO replication is read again.
const replicaCheckEvery = time.Second

// ErrClaimNotReplicated is returned by ClaimDelivery when the primary has
// replicas and none acknowledged the claim within ReplicaAckTimeout. The
// claim was given back: the attempt must not send, and may be retried.
var ErrClaimNotReplicated = errors.New("no replica acknowledged the claim in time; given back for a later attempt")

// replication remembers how many replicas the primary had when last asked.
// Its zero value is ready to use.
type replication struct {
	none      bool // set by WithoutReplicas: never ask
	mu        sync.Mutex
	checkedAt time.Time // wall clock: this is a cache, not a schedule
	replicas  int
}

// connectedReplicas returns the primary's connected_slaves, read at most
// once a replicaCheckEvery.
func (r *replication) connectedReplicas(ctx context.Context, rdb redis.UniversalClient) (int, error) {
	if r.none {
		return 0, nil
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	if !r.checkedAt.IsZero() && time.Since(r.checkedAt) < replicaCheckEvery {
		return r.replicas, nil
	}
	info, err := rdb.Info(ctx, "replication").Result()
	if err != nil {
		return 0, fmt.Errorf("read replication info: %w", err)
	}
	r.replicas = parseConnectedReplicas(info)
	r.checkedAt = time.Now()
	return r.replicas, nil
}

// WithoutReplicas tells s that its Redis has no replicas and cannot have
// any, so claims are never confirmed with WAIT and INFO replication is
// never read: for the embedded Redis of a start with no configuration
// (miniredis has no replication section). Call it before s is used; it
// returns s.
func (s *Store) WithoutReplicas() *Store {
	s.repl.none = true
	return s
}

// parseConnectedReplicas reads connected_slaves from INFO replication; 0
// when absent.
func parseConnectedReplicas(info string) int {
	for line := range strings.SplitSeq(info, "\n") {
		if v, ok := strings.CutPrefix(strings.TrimSpace(line), "connected_slaves:"); ok {
			n, _ := strconv.Atoi(v)
			return n
		}
	}
	return 0
}

// releaseUnreplicatedScript gives back a claim that was not replicated:
// only while the record is still this claim (same claim time).
var releaseUnreplicatedScript = redis.NewScript(`
if redis.call('HGET', KEYS[1], 's') == 'claimed' and redis.call('HGET', KEYS[1], 't') == ARGV[1] then
  redis.call('HSET', KEYS[1], 's', 'retry', 'w', ARGV[2])
  return 1
end
return 0
`)

// waiter is go-redis's pipeline, whose WAIT is not in the Pipeliner interface.
type waiter interface {
	Wait(ctx context.Context, numReplicas int, timeout time.Duration) *redis.IntCmd
}

// runClaim runs claimScript and, when the primary has replicas and the
// record was claimed, confirms the claim with WAIT 1 on the same
// connection (WAIT counts the writes of the connection it is sent on). keys
// and args are claimScript's; args[0] is the claim time.
func (s *Store) runClaim(ctx context.Context, keys []string, args []any) (string, error) {
	n, err := s.repl.connectedReplicas(ctx, s.rdb)
	if err != nil {
		return "", err
	}
	if n == 0 {
		return claimScript.Run(ctx, s.rdb, keys, args...).Text()
	}
	var (
		claim *redis.Cmd
		ack   func() (int64, error)
	)
	// A pipeline, not a transaction: WAIT cannot run inside MULTI. EVAL,
	// not EVALSHA: a newly promoted primary has an empty script cache.
	_, _ = s.rdb.Pipelined(ctx, func(p redis.Pipeliner) error {
		claim = claimScript.Eval(ctx, p, keys, args...)
		if w, ok := p.(waiter); ok {
			ack = w.Wait(ctx, 1, ReplicaAckTimeout).Result // extends the read timeout to match
		} else {
			ack = p.Do(ctx, "WAIT", 1, ReplicaAckTimeout.Milliseconds()).Int64
		}
		return nil
	})
	st, err := claim.Text()
	if err != nil || st != "claimed" {
		// Not a claim (or no write at all): nothing to confirm. A record
		// moved to unknown or skipped here and then lost is written again
		// by the next attempt.
		return st, err
	}
	acked, werr := ack()
	if werr == nil && acked >= 1 {
		return st, nil
	}
	rerr := releaseUnreplicatedScript.Run(ctx, s.rdb, keys[:1], args[0], "no replica acknowledged the claim").Err()
	if rerr != nil {
		// The claim stays: the next attempt records unknown, never sends.
		rerr = fmt.Errorf("give back the claim: %w", rerr)
	}
	if werr != nil {
		werr = fmt.Errorf("wait for a replica: %w", werr)
	}
	return "", errors.Join(ErrClaimNotReplicated, werr, rerr)
}
