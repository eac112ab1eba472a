package worker

import (
	"context"
	"errors"
	"testing"
	"time"
)

func TestRecordTriesAgainUntilTheWriteGoesThrough(t *testing.T) {
	calls := 0
	err := record(context.Background(), func(context.Context) error {
		calls++
		if calls < 3 {
			return errors.New("connection refused")
		}
		return nil
	})
	if err != nil || calls != 3 {
		t.Errorf("record = %v after %d calls, want nil after 3", err, calls)
	}
}

func TestRecordStopsWithItsContext(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 150*time.Millisecond)
	defer cancel()
	refused := errors.New("connection refused")
	start := time.Now()
	err := record(ctx, func(context.Context) error { return refused })
	if !errors.Is(err, refused) {
		t.Errorf("record = %v, want the last write error", err)
	}
	if took := time.Since(start); took > time.Second {
		t.Errorf("record went on %s after its context ended", took)
	}
}
