package admin

import (
	"fmt"
	"net/http"

	"github.com/hibiken/asynqmon"
	"github.com/redis/go-redis/v9"
)

// Queues returns asynqmon over the asynq queues in rdb, rooted at
// QueuesPath and read-only: its API refuses every request but GET (405), so
// nothing can be deleted, run, archived or paused from the page. Payloads
// and results are not shown (a payload carries ids only, but a monitor has
// no need of them); task ids, types, states and last errors are.
//
// The handler shares rdb and must not be closed: the caller closes rdb.
func Queues(rdb redis.UniversalClient) http.Handler {
	hidden := func(_ string, b []byte) string { return fmt.Sprintf("(%d bytes, not shown)", len(b)) }
	return asynqmon.New(asynqmon.Options{
		RootPath:         QueuesPath,
		RedisConnOpt:     sharedClient{rdb},
		ReadOnly:         true,
		PayloadFormatter: asynqmon.PayloadFormatterFunc(hidden),
		ResultFormatter:  asynqmon.ResultFormatterFunc(hidden),
	})
}

// sharedClient hands asynqmon the process's own Redis client (a failover
// client when nudge runs on Sentinel) instead of a connection of its own.
type sharedClient struct{ c redis.UniversalClient }

// MakeRedisClient implements asynq.RedisConnOpt.
func (s sharedClient) MakeRedisClient() any { return s.c }
