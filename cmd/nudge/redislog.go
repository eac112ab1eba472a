package main

import (
	"context"
	"fmt"
	"log/slog"
	"strings"
)

// redisLog carries go-redis's own log lines (a dial that failed, a
// connection dropped from the pool) into slog, so they follow
// NUDGE_LOG_FORMAT instead of printing their own unstructured lines. They are
// logged at debug level: every such failure also reaches the caller as an
// error, which is logged there with what it was doing.
type redisLog struct{ logger *slog.Logger }

// Printf implements go-redis's internal Logging interface.
func (r redisLog) Printf(ctx context.Context, format string, v ...any) {
	msg := strings.TrimPrefix(fmt.Sprintf(format, v...), "redis: ")
	r.logger.DebugContext(ctx, msg, "component", "go-redis")
}
