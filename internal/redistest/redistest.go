// Package redistest gives tests a real Redis: one database number per package,
// flushed once before the package's tests run. A missing Redis fails the test; it is never skipped.
package redistest

import (
	"context"
	"fmt"
	"hash/fnv"
	"os"
	"strconv"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"
	"go.uber.org/goleak"
)

// Addr is the Redis the tests use: NUDGE_TEST_REDIS_ADDR, or 127.0.0.1:6379.
func Addr() string {
	if a := os.Getenv("NUDGE_TEST_REDIS_ADDR"); a != "" {
		return a
	}
	return "127.0.0.1:6379"
}

// Databases used by packages that touch Redis. Each package takes its own so
// that `go test ./...`, which runs packages in parallel, never mixes keys
// (asynq's keys cannot be prefixed).
const (
	DBStore     = 1
	DBScheduler = 2
	DBWorker    = 3
	DBWeb       = 4
	DBMain      = 5
	DBRateLimit = 6
	DBEmail     = 7
	DBSMS       = 8
	DBBench     = 9
	DBBrowser   = 10
	DBClinic    = 11
	// DBAPI and DBClinicService serve the clinic API and the clinic service.
	DBAPI           = 13
	DBClinicService = 14
	// DBSignupLimit serves the signup and confirmation budgets' tests (the
	// last free database of the default sixteen but one).
	DBSignupLimit = 0
	// DBCrash is the crash tests' own: they flush it and run real worker
	// processes on it, which would take any other test's tasks.
	DBCrash = 12
	// DBAdmin serves the admin pages' tests (asynqmon reading real queues).
	DBAdmin = 15
)

// Main runs a package's tests against database db: it checks that Redis
// answers, flushes db once, runs the tests, then checks for leaked goroutines.
// Call it from TestMain. Tests inside the package share db, so each uses its
// own key prefix (Prefix) and its own asynq queue names.
func Main(m *testing.M, db int) {
	c := redis.NewClient(&redis.Options{Addr: Addr(), DB: db})
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	err := c.Ping(ctx).Err()
	if err == nil {
		err = c.FlushDB(ctx).Err()
	}
	cancel()
	c.Close()
	if err != nil {
		fmt.Fprintf(os.Stderr, "redis at %s (db %d) does not answer: %v\nstart it with `redis-server`; tests never skip without it\n", Addr(), db, err)
		os.Exit(1)
	}
	goleak.VerifyTestMain(m, goleak.IgnoreCurrent())
}

// Client returns a client for database db, closed when the test ends. It
// fails the test at once when Redis does not answer.
func Client(tb testing.TB, db int) *redis.Client {
	tb.Helper()
	c := redis.NewClient(&redis.Options{Addr: Addr(), DB: db})
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	if err := c.Ping(ctx).Err(); err != nil {
		c.Close()
		tb.Fatalf("redis at %s (db %d) does not answer: %v; start it with `redis-server` (tests never skip without it)", Addr(), db, err)
	}
	tb.Cleanup(func() { c.Close() })
	return c
}

// Prefix returns a short key prefix unique to this test, for tests that
// share a package's database and run in parallel.
func Prefix(tb testing.TB) string {
	h := fnv.New32a()
	h.Write([]byte(tb.Name()))
	return fmt.Sprintf("t%x%s:", h.Sum32(), strconv.FormatInt(time.Now().UnixNano()%1e9, 36))
}
