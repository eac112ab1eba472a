package worker

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"math"
	"time"

	"github.com/hibiken/asynq"
	"github.com/nudgehq/nudge/internal/task"
	"github.com/redis/go-redis/v9"
)

// ServerConfig sets up the asynq server.
type ServerConfig struct {
	Concurrency int
	// Queues overrides task.Queues (tests give each test its own names).
	Queues map[string]int
	Logger *slog.Logger
}

// LowConcurrency is how many low-queue tasks (clinics' webhooks) one worker
// process runs at once, on a server of their own: an endpoint that hangs
// holds at most these, and nudges go on.
const LowConcurrency = 4

// ShutdownTimeout is how long a stopping worker lets in-flight sends finish.
// It is longer than the slowest provider call, so SIGTERM never cuts a send
// in half (which would leave its outcome unknown).
const ShutdownTimeout = 45 * time.Second

// NewServer returns an asynq server on rdb with nudge's settings: weighted
// queues, short exponential retries, a long enough shutdown and logs through
// slog that carry task types and ids only.
func NewServer(rdb redis.UniversalClient, cfg ServerConfig) *asynq.Server {
	queues := cfg.Queues
	if queues == nil {
		queues = task.Queues()
	}
	return asynq.NewServerFromRedisClient(rdb, asynq.Config{
		Concurrency:     cfg.Concurrency,
		Queues:          queues,
		ShutdownTimeout: ShutdownTimeout,
		// Nudges are queued up to a minute ahead; look for due ones every second.
		DelayedTaskCheckInterval: time.Second,
		RetryDelayFunc:           RetryDelay,
		IsFailure:                IsFailure,
		Logger:                   NewAsynqLogger(cfg.Logger),
		LogLevel:                 asynq.WarnLevel,
		ErrorHandler: asynq.ErrorHandlerFunc(func(ctx context.Context, t *asynq.Task, err error) {
			id, _ := asynq.GetTaskID(ctx)
			if !IsFailure(err) {
				cfg.Logger.Info("task deferred", "type", t.Type(), "task_id", id, "for", err.Error())
				return
			}
			retried, _ := asynq.GetRetryCount(ctx)
			// The error text may quote a provider's reply, which can name an
			// address: log the task, never the text.
			cfg.Logger.Warn("task failed", "type", t.Type(), "task_id", id, "retried", retried)
		}),
	})
}

// RetryDelay backs off 15 s, 30 s, 1 min, 2 min, … up to 15 min: retries end
// well inside the grace window, after which the worker records "too late".
// A clinic's webhook backs off longer, 30 s, 1 min, 2 min, … up to 1 h, so
// an endpoint that is down for a few hours still gets its events. A task
// whose worker died (its lease ran out) is run again at once: the delivery
// record decides whether that run may send.
func RetryDelay(n int, err error, t *asynq.Task) time.Duration {
	if errors.Is(err, asynq.ErrLeaseExpired) {
		return time.Second
	}
	var wait *Deferred
	if errors.As(err, &wait) {
		return max(wait.Delay, time.Second)
	}
	first, most := 15*time.Second, 15*time.Minute
	if t != nil && t.Type() == task.TypeDeliverWebhook {
		first, most = 30*time.Second, time.Hour
	}
	d := time.Duration(float64(first) * math.Pow(2, float64(min(n, 20))))
	return min(d, most)
}

// AsynqLogger adapts slog to asynq's printf-style Logger.
type AsynqLogger struct{ l *slog.Logger }

// NewAsynqLogger returns an adapter writing to l with component=asynq.
func NewAsynqLogger(l *slog.Logger) *AsynqLogger {
	return &AsynqLogger{l: l.With("component", "asynq")}
}

// Debug logs at debug level.
func (a *AsynqLogger) Debug(args ...any) { a.l.Debug(fmt.Sprint(args...)) }

// Info logs at info level.
func (a *AsynqLogger) Info(args ...any) { a.l.Info(fmt.Sprint(args...)) }

// Warn logs at warn level.
func (a *AsynqLogger) Warn(args ...any) { a.l.Warn(fmt.Sprint(args...)) }

// Error logs at error level.
func (a *AsynqLogger) Error(args ...any) { a.l.Error(fmt.Sprint(args...)) }

// Fatal logs at error level and does not exit: nudge starts the server with
// Start, which returns its errors, and main is the only place that exits.
func (a *AsynqLogger) Fatal(args ...any) { a.l.Error(fmt.Sprint(args...)) }
