package store_test

import (
	"context"
	"testing"
	"time"

	"github.com/nudgehq/nudge/internal/domain"
	"github.com/nudgehq/nudge/internal/redistest"
	"github.com/nudgehq/nudge/internal/store"
)

func TestDistressHoldLastsUntilThePersonResumesAndGoesWithErasure(t *testing.T) {
	st := setup(t)
	ctx := context.Background()
	t0 := time.Date(2026, 12, 1, 8, 0, 0, 0, time.UTC)
	id := newSubscriber(t, st, domain.Subscriber{FirstName: "Ines", Email: "ines@example.org", Phone: "+34612345678"}, true, "weekly:tue@18:30")
	d := store.Detection{At: t0, Channel: "sms", Rule: "es.want-to-die", Answer: "crisis-resources ES es"}
	if err := st.HoldForDistress(ctx, id, t0.Add(7*24*time.Hour), d, "SMheld", store.ConsentEvent{At: t0, Action: store.ConsentPause}); err != nil {
		t.Fatal(err)
	}
	sub, _ := st.Subscriber(ctx, id)
	if !sub.DistressAt.Equal(t0) || !sub.PausedUntil.Equal(t0.Add(7*24*time.Hour)) || !sub.GentleAt.IsZero() {
		t.Fatalf("after the hold: %+v", sub)
	}
	if handled, _ := st.InboundHandled(ctx, "SMheld"); !handled {
		t.Error("the message is not marked handled with the hold")
	}
	if first, _ := st.MarkGentleCheckin(ctx, id, t0.Add(time.Hour)); !first {
		t.Fatal("the first gentle check-in was refused")
	}
	if again, _ := st.MarkGentleCheckin(ctx, id, t0.Add(2*time.Hour)); again {
		t.Fatal("a second gentle check-in was allowed")
	}
	if got, _ := st.Detections(ctx, id); len(got) != 1 || got[0] != d {
		t.Errorf("detections = %+v", got)
	}
	// Resuming ends the hold.
	if err := st.SetPause(ctx, id, time.Time{}, store.ConsentEvent{At: t0, Action: store.ConsentResume}); err != nil {
		t.Fatal(err)
	}
	if sub, _ := st.Subscriber(ctx, id); !sub.DistressAt.IsZero() || !sub.GentleAt.IsZero() {
		t.Errorf("after resuming: %+v", sub)
	}
	// Erasure takes the detections too.
	if _, err := st.Erase(ctx, id); err != nil {
		t.Fatal(err)
	}
	if found := redistest.Traces(t, st.Redis(), []string{st.Prefix() + "*"}, []string{id, "es.want-to-die"}); len(found) > 0 {
		t.Errorf("left after erasure: %v", found)
	}
	// A record erased meanwhile is not brought back.
	if err := st.HoldForDistress(ctx, id, t0, d, "", store.ConsentEvent{}); err == nil {
		t.Error("a hold on an erased record succeeded")
	}
	if ok, _ := st.MarkGentleCheckin(ctx, id, t0); ok {
		t.Error("a gentle check-in mark brought back an erased record")
	}
}
