package webhook_test

import (
	"context"
	"net/http"
	"net/url"
	"testing"

	"github.com/nudgehq/nudge/internal/domain"
	"github.com/nudgehq/nudge/internal/store"
)

// sentText stores a text to the bundle's subscriber as sent with sid, on
// the occurrence date, and returns its delivery key.
func (b *bundle) sentText(t *testing.T, sid, date string) store.DeliveryKey {
	t.Helper()
	ctx := context.Background()
	k := store.DeliveryKey{SubscriberID: b.id, Program: domain.WeeklyCheckin, Date: date, Channel: domain.SMS}
	if err := b.st.ClaimDelivery(ctx, k, now); err != nil {
		t.Fatal(err)
	}
	if err := b.st.FinishDelivery(ctx, k, store.Sent, sid, "", now); err != nil {
		t.Fatal(err)
	}
	return k
}

// report posts a signed status callback.
func (b *bundle) report(t *testing.T, sid, status, code string) {
	t.Helper()
	params := url.Values{"MessageSid": {sid}, "MessageStatus": {status}, "To": {phone}}
	if code != "" {
		params.Set("ErrorCode", code)
	}
	if got, body := b.post(t, "/webhooks/twilio/status", params, authToken); got != http.StatusNoContent {
		t.Fatalf("%s %s: status %d %s", status, code, got, body)
	}
}

func (b *bundle) suppressed(t *testing.T) bool {
	t.Helper()
	ok, err := b.st.Suppressed(context.Background(), phone)
	if err != nil {
		t.Fatal(err)
	}
	return ok
}

func TestUndeliveredToALandlineSuppressesTheNumber(t *testing.T) {
	for _, code := range []string{"30006", "30005", "21610"} {
		t.Run(code, func(t *testing.T) {
			b := setup(t, "en")
			k := b.sentText(t, "SMland"+code, "2026-12-01")
			b.report(t, "SMland"+code, "sent", "")
			if b.suppressed(t) {
				t.Fatal("suppressed before any failure")
			}
			b.report(t, "SMland"+code, "undelivered", code)
			if !b.suppressed(t) {
				t.Fatalf("an undelivered report with %s did not suppress the number", code)
			}
			d, err := b.st.Delivery(context.Background(), k)
			if err != nil || d.ProviderStatus != "undelivered" || d.ErrorCode != code {
				t.Fatalf("delivery = %+v, %v; want undelivered with error code %s", d, err, code)
			}
			// The worker's claim now refuses the number.
			next := store.DeliveryKey{SubscriberID: b.id, Program: domain.WeeklyCheckin, Date: "2026-12-08", Channel: domain.SMS}
			if err := b.st.ClaimDelivery(context.Background(), next, now, b.st.SuppressionGuard(b.sub(t), domain.SMS)); err != store.ErrSuppressed {
				t.Fatalf("next claim = %v, want ErrSuppressed", err)
			}
		})
	}
}

func TestUnreachableCountsTowardsThreeRefusals(t *testing.T) {
	b := setup(t, "en")
	dates := []string{"2026-12-01", "2026-12-08", "2026-12-15"}
	for i, date := range dates {
		sid := "SMunreach" + date
		b.sentText(t, sid, date)
		b.report(t, sid, "undelivered", "30003")
		// A repeated report is not a second refusal.
		b.report(t, sid, "undelivered", "30003")
		if got, want := b.suppressed(t), i == len(dates)-1; got != want {
			t.Fatalf("after %d unreachable reports suppressed = %v, want %v", i+1, got, want)
		}
	}
}

func TestOtherFailuresDoNotSuppress(t *testing.T) {
	b := setup(t, "en")
	k := b.sentText(t, "SMother", "2026-12-01")
	b.report(t, "SMother", "failed", "30008") // unknown error: says nothing about the number
	if b.suppressed(t) {
		t.Fatal("an unknown failure suppressed the number")
	}
	if d, _ := b.st.Delivery(context.Background(), k); d.ErrorCode != "30008" || d.ProviderStatus != "failed" {
		t.Fatalf("delivery = %+v", d)
	}
}

func TestPartiallyDeliveredSitsBetweenSentAndDelivered(t *testing.T) {
	b := setup(t, "en")
	k := b.sentText(t, "SMparts", "2026-12-01")
	for _, step := range []struct{ status, want string }{
		{"sent", "sent"},
		{"partially_delivered", "partially_delivered"},
		{"sent", "partially_delivered"},
		{"delivered", "delivered"},
		{"partially_delivered", "delivered"},
	} {
		b.report(t, "SMparts", step.status, "")
		if d, _ := b.st.Delivery(context.Background(), k); d.ProviderStatus != step.want {
			t.Fatalf("after %s: provider status %q, want %q", step.status, d.ProviderStatus, step.want)
		}
	}
}
