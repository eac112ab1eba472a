package main

import (
	"bytes"
	"context"
	"encoding/json"
	"log/slog"
	"testing"
)

func TestRedisLogGoesThroughSlog(t *testing.T) {
	var buf bytes.Buffer
	l := redisLog{logger: slog.New(slog.NewJSONHandler(&buf, &slog.HandlerOptions{Level: slog.LevelDebug}))}
	l.Printf(context.Background(), "redis: connection pool: failed to dial after %d attempts: %s", 5, "refused")
	var line map[string]any
	if err := json.Unmarshal(buf.Bytes(), &line); err != nil {
		t.Fatalf("not one JSON line: %q", buf.String())
	}
	if line["msg"] != "connection pool: failed to dial after 5 attempts: refused" || line["component"] != "go-redis" || line["level"] != "DEBUG" {
		t.Errorf("logged %v", line)
	}
}
