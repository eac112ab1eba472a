package store_test

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/nudgehq/nudge/internal/domain"
	"github.com/nudgehq/nudge/internal/redistest"
	"github.com/nudgehq/nudge/internal/store"
)

func TestEventIsKeptOnceForAWeek(t *testing.T) {
	st := setup(t)
	ctx := context.Background()
	body := []byte(`{"id":"evt_1","type":"client.confirmed"}`)
	if err := st.SaveEvent(ctx, "evt_1", body); err != nil {
		t.Fatal(err)
	}
	got, err := st.Event(ctx, "evt_1")
	if err != nil || string(got) != string(body) {
		t.Fatalf("event = %q, %v; want the bytes stored", got, err)
	}
	// An event never changes: the same id again is a conflict and keeps the first body.
	if err := st.SaveEvent(ctx, "evt_1", []byte(`{}`)); domain.ErrorCode(err) != domain.ErrConflict {
		t.Fatalf("second save = %v, want a conflict", err)
	}
	if got, _ := st.Event(ctx, "evt_1"); string(got) != string(body) {
		t.Fatalf("after a second save the event is %q", got)
	}
	ttl, err := redistest.Client(t, redistest.DBStore).TTL(ctx, st.Prefix()+"event:evt_1").Result()
	if err != nil {
		t.Fatal(err)
	}
	if ttl <= store.EventRetention-time.Minute || ttl > store.EventRetention {
		t.Fatalf("ttl = %s, want about %s", ttl, store.EventRetention)
	}
	if _, err := st.Event(ctx, "evt_missing"); !errors.Is(err, store.ErrNotFound) {
		t.Fatalf("missing event: %v, want ErrNotFound", err)
	}
}
