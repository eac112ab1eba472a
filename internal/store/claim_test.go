package store_test

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/nudgehq/nudge/internal/domain"
	"github.com/nudgehq/nudge/internal/store"
)

func TestClaimWithAGuardSkipsASuppressedAddressInTheSameStep(t *testing.T) {
	st := setup(t)
	ctx := context.Background()
	now := time.Date(2026, 11, 30, 9, 0, 0, 0, time.UTC)
	sub := domain.Subscriber{ID: "s1", Email: "ada@example.org", Phone: "+447400123456"}
	key := func(c domain.Channel) store.DeliveryKey {
		return store.DeliveryKey{SubscriberID: "s1", Program: domain.WeeklyCheckin, Date: "2026-11-30", Channel: c}
	}
	if err := st.Suppress(ctx, sub.Phone); err != nil {
		t.Fatal(err)
	}
	// The number is suppressed: the claim records a skip and says so.
	if err := st.ClaimDelivery(ctx, key(domain.SMS), now, st.SuppressionGuard(sub, domain.SMS)); !errors.Is(err, store.ErrSuppressed) {
		t.Fatalf("claim of a suppressed number: %v", err)
	}
	d, err := st.Delivery(ctx, key(domain.SMS))
	if err != nil || d.State != store.Skipped || d.Reason != "number suppressed" {
		t.Errorf("record %+v %v, want skipped: number suppressed", d, err)
	}
	// The address is not: claimed; a second claim finds the claim.
	if err := st.ClaimDelivery(ctx, key(domain.Email), now, st.SuppressionGuard(sub, domain.Email)); err != nil {
		t.Fatalf("claim of a clean address: %v", err)
	}
	if err := st.ClaimDelivery(ctx, key(domain.Email), now, st.SuppressionGuard(sub, domain.Email)); err == nil {
		t.Error("a second claim succeeded")
	}
	// A client's address is checked against its clinic's list, not the public one.
	client := sub
	client.ID, client.Clinic = "s2", "c1"
	if err := st.Suppress(ctx, sub.Email); err != nil {
		t.Fatal(err)
	}
	ck := store.DeliveryKey{SubscriberID: "s2", Program: domain.BetweenSession, Date: "p1|0", Channel: domain.Email}
	if err := st.ClaimDelivery(ctx, ck, now, st.SuppressionGuard(client, domain.Email)); err != nil {
		t.Errorf("a client's address suppressed on the public list only: %v", err)
	}
}

func TestFinishSentMarksTheSubscriberOnlyIfItStillExists(t *testing.T) {
	st := setup(t)
	ctx := context.Background()
	now := time.Date(2026, 11, 30, 9, 0, 0, 0, time.UTC)
	res, err := st.Signup(ctx, domain.Subscriber{FirstName: "Ada", Phone: "+447400123456", TimeZone: "UTC", Locale: "en", CreatedAt: now},
		[]domain.Schedule{{Program: domain.WeeklyCheckin, Rule: "weekly:mon@09:00"}}, store.ConsentEvent{})
	if err != nil {
		t.Fatal(err)
	}
	k := store.DeliveryKey{SubscriberID: res.ID, Program: domain.WeeklyCheckin, Date: "2026-11-30", Channel: domain.SMS}
	if err := st.ClaimDelivery(ctx, k, now); err != nil {
		t.Fatal(err)
	}
	marks := store.SentMarks{LastNudge: "weekly-checkin:2026-11-30", SMSFooterAt: now, RoutePhone: "+447400123456"}
	if err := st.FinishSent(ctx, k, "SM1", now, marks); err != nil {
		t.Fatal(err)
	}
	sub, err := st.Subscriber(ctx, res.ID)
	if err != nil || sub.LastNudge != marks.LastNudge || !sub.SMSFooterAt.Equal(now) {
		t.Errorf("after FinishSent: %+v %v", sub, err)
	}
	if _, routed, err := st.NumberHolders(ctx, "+447400123456"); err != nil || routed != res.ID {
		t.Errorf("the number is routed to %q %v", routed, err)
	}
	if d, _ := st.Delivery(ctx, k); d.State != store.Sent || d.ProviderID != "SM1" {
		t.Errorf("record %+v", d)
	}
	// Erased meanwhile: the record is written, the subscriber not brought back.
	if _, err := st.Erase(ctx, res.ID); err != nil {
		t.Fatal(err)
	}
	k.Date = "2026-12-07"
	if err := st.FinishSent(ctx, k, "SM2", now, marks); err != nil {
		t.Fatal(err)
	}
	if _, err := st.Subscriber(ctx, res.ID); !errors.Is(err, store.ErrNotFound) {
		t.Errorf("an erased subscriber came back: %v", err)
	}
}
