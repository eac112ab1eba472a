package store_test

import (
	"context"
	"errors"
	"sync"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/nudgehq/nudge/internal/domain"
	"github.com/nudgehq/nudge/internal/redistest"
	"github.com/nudgehq/nudge/internal/store"
)

func TestMain(m *testing.M) { redistest.Main(m, redistest.DBStore) }

func setup(t *testing.T) *store.Store {
	t.Helper()
	t.Parallel()
	return store.New(redistest.Client(t, redistest.DBStore), redistest.Prefix(t))
}

var t0 = time.Date(2026, 11, 30, 9, 0, 0, 0, time.UTC)

func signup(t *testing.T, st *store.Store, addr string, rules ...string) store.SignupResult {
	t.Helper()
	var scheds []domain.Schedule
	for i, r := range rules {
		scheds = append(scheds, domain.Schedule{Program: domain.PublicPrograms[i], Rule: r})
	}
	res, err := st.Signup(context.Background(), domain.Subscriber{FirstName: "Ada", Email: addr, TimeZone: "Europe/London", Locale: "en", CreatedAt: t0},
		scheds, store.ConsentEvent{At: t0, Action: store.ConsentSignup, Channel: "email", Source: "form"})
	if err != nil {
		t.Fatalf("signup: %v", err)
	}
	return res
}

func TestSignupKeepsOneRecordPerAddressUnderConcurrency(t *testing.T) {
	st := setup(t)
	const n = 20
	ids := make([]string, n)
	var wg sync.WaitGroup
	for i := range n {
		wg.Go(func() { ids[i] = signup(t, st, " Ada@Example.org ", "weekly:sun@18:00").ID })
	}
	wg.Wait()
	for _, id := range ids {
		if id != ids[0] {
			t.Fatalf("concurrent signups of one address made two ids: %s and %s", ids[0], id)
		}
	}
	sub, err := st.Subscriber(context.Background(), ids[0])
	if err != nil {
		t.Fatal(err)
	}
	if sub.Email != "ada@example.org" || sub.Status != domain.Pending {
		t.Fatalf("subscriber = %+v", sub)
	}
	ev, err := st.Consent(context.Background(), ids[0])
	if err != nil || len(ev) != n {
		t.Fatalf("consent ledger has %d events (%v), want %d", len(ev), err, n)
	}
}

func TestActivatePlansAndIsIdempotent(t *testing.T) {
	st := setup(t)
	ctx := context.Background()
	id := signup(t, st, "b@example.org", "weekly:tue@18:30", "weekly:fri@19:00").ID
	next := map[domain.Program]time.Time{domain.WeeklyCheckin: t0.Add(time.Hour), domain.Gratitude: t0.Add(2 * time.Hour)}
	ok, err := st.Activate(ctx, id, t0, next, store.ConsentEvent{At: t0, Action: store.ConsentConfirm})
	if err != nil || !ok {
		t.Fatalf("activate = %v, %v", ok, err)
	}
	ok, err = st.Activate(ctx, id, t0, next, store.ConsentEvent{At: t0, Action: store.ConsentConfirm})
	if err != nil || ok {
		t.Fatalf("second activate = %v, %v; want false, nil", ok, err)
	}
	if n, _ := st.DueCount(ctx); n != 2 {
		t.Fatalf("due count = %d, want 2", n)
	}
	batch, err := st.DueBatch(ctx, store.ShardOf(id), t0.Add(2*time.Hour), 10)
	if err != nil {
		t.Fatal(err)
	}
	want := []store.DueEntry{
		{Shard: store.ShardOf(id), SubscriberID: id, Program: domain.WeeklyCheckin, At: t0.Add(time.Hour), Rule: "weekly:tue@18:30", Version: 1, Step: 0, TimeZone: "Europe/London"},
		{Shard: store.ShardOf(id), SubscriberID: id, Program: domain.Gratitude, At: t0.Add(2 * time.Hour), Rule: "weekly:fri@19:00", Version: 1, Step: 0, TimeZone: "Europe/London"},
	}
	if diff := cmp.Diff(want, batch); diff != "" {
		t.Fatalf("due batch (-want +got):\n%s", diff)
	}
}

func TestAdvanceIsCompareAndSet(t *testing.T) {
	st := setup(t)
	ctx := context.Background()
	id := signup(t, st, "c@example.org", "weekly:tue@18:30").ID
	at := t0.Add(time.Hour)
	if _, err := st.Activate(ctx, id, t0, map[domain.Program]time.Time{domain.WeeklyCheckin: at}, store.ConsentEvent{}); err != nil {
		t.Fatal(err)
	}
	batch, _ := st.DueBatch(ctx, store.ShardOf(id), at, 10)
	if len(batch) != 1 {
		t.Fatalf("batch = %v", batch)
	}
	e := batch[0]
	week := at.Add(7 * 24 * time.Hour)
	// Two planners holding the same read: exactly one moves it.
	results := make([]bool, 2)
	var wg sync.WaitGroup
	for i := range results {
		wg.Go(func() {
			ok, err := st.Advance(ctx, e, week)
			if err != nil {
				t.Error(err)
			}
			results[i] = ok
		})
	}
	wg.Wait()
	if results[0] == results[1] {
		t.Fatalf("advance results = %v, want exactly one true", results)
	}
	sc, _ := st.Schedule(ctx, id, domain.WeeklyCheckin)
	if sc.Step != 1 || !sc.Next.Equal(week) {
		t.Fatalf("schedule after advance = %+v, want step 1, next %s", sc, week)
	}
	if b, _ := st.DueBatch(ctx, store.ShardOf(id), at, 10); len(b) != 0 {
		t.Fatalf("entry still due after advance: %v", b)
	}
}

func TestUnsubscribeStopsEverythingAndSuppresses(t *testing.T) {
	st := setup(t)
	ctx := context.Background()
	id := signup(t, st, "d@example.org", "weekly:tue@18:30").ID
	if _, err := st.Activate(ctx, id, t0, map[domain.Program]time.Time{domain.WeeklyCheckin: t0.Add(time.Hour)}, store.ConsentEvent{}); err != nil {
		t.Fatal(err)
	}
	changed, err := st.Unsubscribe(ctx, id, store.ConsentEvent{At: t0, Action: store.ConsentUnsubscribe})
	if err != nil || !changed {
		t.Fatalf("unsubscribe = %v, %v", changed, err)
	}
	if again, err := st.Unsubscribe(ctx, id, store.ConsentEvent{}); err != nil || again {
		t.Fatalf("second unsubscribe = %v, %v; want false", again, err)
	}
	if n, _ := st.DueCount(ctx); n != 0 {
		t.Fatalf("due count after unsubscribe = %d", n)
	}
	sc, _ := st.Schedule(ctx, id, domain.WeeklyCheckin)
	if sc.Version != 2 {
		t.Fatalf("schedule version = %d, want 2 (a queued task for version 1 must not send)", sc.Version)
	}
	if sup, _ := st.Suppressed(ctx, "D@example.org"); !sup {
		t.Fatal("address is not suppressed after unsubscribe")
	}

	// Signing up again and confirming lifts the suppression; versions only grow.
	res := signup(t, st, "d@example.org", "weekly:wed@08:00")
	if res.ID != id || res.Outcome != store.SignupUpdated {
		t.Fatalf("re-signup = %+v", res)
	}
	sc, _ = st.Schedule(ctx, id, domain.WeeklyCheckin)
	if sc.Version != 3 || sc.Rule != "weekly:wed@08:00" {
		t.Fatalf("schedule after re-signup = %+v", sc)
	}
	if _, err := st.Activate(ctx, id, t0, map[domain.Program]time.Time{domain.WeeklyCheckin: t0.Add(time.Hour)}, store.ConsentEvent{}); err != nil {
		t.Fatal(err)
	}
	if sup, _ := st.Suppressed(ctx, "d@example.org"); sup {
		t.Fatal("address still suppressed after confirming again")
	}
	if res := signup(t, st, "d@example.org", "weekly:thu@08:00"); res.Outcome != store.SignupActive {
		t.Fatalf("signup of an active address = %+v, want it left alone", res)
	}
	if sc, _ := st.Schedule(ctx, id, domain.WeeklyCheckin); sc.Rule != "weekly:wed@08:00" {
		t.Fatalf("an active subscriber's schedule was changed by a signup form: %+v", sc)
	}
}

func TestDeliveryClaimNeverSendsTwice(t *testing.T) {
	st := setup(t)
	ctx := context.Background()
	k := store.DeliveryKey{SubscriberID: "s1", Program: domain.WeeklyCheckin, Date: "2026-12-01", Channel: domain.Email}

	if err := st.ClaimDelivery(ctx, k, t0); err != nil {
		t.Fatalf("first claim: %v", err)
	}
	// A second attempt finds the claim of one that never reported back.
	err := st.ClaimDelivery(ctx, k, t0)
	if st, ok := store.IsAlreadyHandled(err); !ok || st != store.Unknown {
		t.Fatalf("claim over a claim = %v, want unknown", err)
	}
	if d, _ := st.Delivery(ctx, k); d.State != store.Unknown {
		t.Fatalf("record = %+v, want unknown", d)
	}

	k2 := k
	k2.Date = "2026-12-08"
	if err := st.ClaimDelivery(ctx, k2, t0); err != nil {
		t.Fatal(err)
	}
	if err := st.FinishDelivery(ctx, k2, store.Retry, "", "temporary", t0); err != nil {
		t.Fatal(err)
	}
	if err := st.ClaimDelivery(ctx, k2, t0); err != nil {
		t.Fatalf("claim after a released attempt: %v", err)
	}
	if err := st.FinishDelivery(ctx, k2, store.Sent, "<id@x>", "", t0); err != nil {
		t.Fatal(err)
	}
	err = st.ClaimDelivery(ctx, k2, t0)
	if s, ok := store.IsAlreadyHandled(err); !ok || s != store.Sent {
		t.Fatalf("claim after sent = %v, want already sent", err)
	}
	if _, err := st.SkipDelivery(ctx, k2, "late", t0); err != nil {
		t.Fatal(err)
	}
	if d, _ := st.Delivery(ctx, k2); d.State != store.Sent || d.ProviderID != "<id@x>" {
		t.Fatalf("a skip overwrote a send: %+v", d)
	}
	if _, err := st.Delivery(ctx, store.DeliveryKey{SubscriberID: "none"}); !errors.Is(err, store.ErrNotFound) {
		t.Fatalf("missing record: %v", err)
	}
}

func TestLeaseIsExclusive(t *testing.T) {
	st := setup(t)
	ctx := context.Background()
	if ok, err := st.Lease(ctx, 3, "a", time.Minute); err != nil || !ok {
		t.Fatalf("lease a = %v, %v", ok, err)
	}
	if ok, _ := st.Lease(ctx, 3, "b", time.Minute); ok {
		t.Fatal("b leased a shard a holds")
	}
	if ok, _ := st.Lease(ctx, 3, "a", time.Minute); !ok {
		t.Fatal("a could not extend its own lease")
	}
	if err := st.Release(ctx, 3, "b"); err != nil {
		t.Fatal(err)
	}
	if ok, _ := st.Lease(ctx, 3, "b", time.Minute); ok {
		t.Fatal("b released a's lease")
	}
	if err := st.Release(ctx, 3, "a"); err != nil {
		t.Fatal(err)
	}
	if ok, _ := st.Lease(ctx, 3, "b", time.Minute); !ok {
		t.Fatal("b could not lease a released shard")
	}
}

func TestProviderStatusOnlyMovesForward(t *testing.T) {
	st := setup(t)
	ctx := context.Background()
	k := store.DeliveryKey{SubscriberID: "s2", Program: domain.WeeklyCheckin, Date: "2026-12-01", Channel: domain.SMS}
	if err := st.ClaimDelivery(ctx, k, t0); err != nil {
		t.Fatal(err)
	}
	if err := st.FinishDelivery(ctx, k, store.Sent, "SM0123", "", t0); err != nil {
		t.Fatal(err)
	}
	steps := []struct {
		status string
		moved  bool
		want   string
	}{
		{"queued", true, "queued"},
		{"delivered", true, "delivered"},
		{"sent", false, "delivered"}, // late: never overwrites delivered
		{"delivered", false, "delivered"},
		{"bogus", false, "delivered"},
	}
	for _, s := range steps {
		moved, err := st.RecordProviderStatus(ctx, "SM0123", s.status, t0)
		if err != nil || moved != s.moved {
			t.Fatalf("%s: moved = %v, %v; want %v", s.status, moved, err, s.moved)
		}
		if d, _ := st.Delivery(ctx, k); d.ProviderStatus != s.want || d.State != store.Sent {
			t.Fatalf("after %s: %+v, want provider status %s", s.status, d, s.want)
		}
	}
	if _, err := st.RecordProviderStatus(ctx, "SMunknown", "delivered", t0); !errors.Is(err, store.ErrNotFound) {
		t.Fatalf("unknown sid: %v", err)
	}
}

func TestStopSMSSuppressesTheNumberOnly(t *testing.T) {
	st := setup(t)
	ctx := context.Background()
	res, err := st.Signup(ctx, domain.Subscriber{FirstName: "Li", Email: "li@example.org", Phone: "+447700900123", TimeZone: "UTC",
		Channels: []domain.Channel{domain.Email, domain.SMS}, SMSStatus: domain.SMSActive}, nil, store.ConsentEvent{})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := st.Activate(ctx, res.ID, t0, nil, store.ConsentEvent{}); err != nil {
		t.Fatal(err)
	}
	if sub, _ := st.Subscriber(ctx, res.ID); !sub.Wants(domain.Email) || !sub.Wants(domain.SMS) {
		t.Fatalf("before StopSMS: %+v", sub)
	}
	if err := st.StopSMS(ctx, res.ID, store.ConsentEvent{At: t0, Action: store.ConsentSMSStop, Channel: "sms", Source: "sms-keyword"}); err != nil {
		t.Fatal(err)
	}
	sub, _ := st.Subscriber(ctx, res.ID)
	if sub.SMSStatus != domain.SMSStopped || sub.Wants(domain.SMS) || !sub.Wants(domain.Email) {
		t.Fatalf("after StopSMS: %+v", sub)
	}
	if sup, _ := st.Suppressed(ctx, "+447700900123"); !sup {
		t.Fatal("number not suppressed")
	}
	if sup, _ := st.Suppressed(ctx, "li@example.org"); sup {
		t.Fatal("email suppressed by an SMS stop")
	}
}

func TestSMSOnlySignupIsKnownByItsNumber(t *testing.T) {
	st := setup(t)
	ctx := context.Background()
	sub := domain.Subscriber{FirstName: "Noa", Phone: "+12015550123", TimeZone: "America/New_York",
		Channels: []domain.Channel{domain.SMS}, SMSStatus: domain.SMSPending}
	first, err := st.Signup(ctx, sub, []domain.Schedule{{Program: domain.WeeklyCheckin, Rule: "weekly:sun@10:00"}}, store.ConsentEvent{})
	if err != nil {
		t.Fatal(err)
	}
	again, err := st.Signup(ctx, sub, []domain.Schedule{{Program: domain.WeeklyCheckin, Rule: "weekly:mon@10:00"}}, store.ConsentEvent{})
	if err != nil || again.ID != first.ID || again.Outcome != store.SignupUpdated {
		t.Fatalf("second signup of the number = %+v, %v; want the same record", again, err)
	}
	if id, err := st.SubscriberByPhone(ctx, "+12015550123"); err != nil || id != first.ID {
		t.Fatalf("by phone = %q, %v", id, err)
	}
	if s, _ := st.Subscriber(ctx, first.ID); s.Wants(domain.SMS) {
		t.Fatal("SMS wanted before the number said YES")
	}
	ok, err := st.ActivateBySMS(ctx, first.ID, t0, map[domain.Program]time.Time{domain.WeeklyCheckin: t0.Add(time.Hour)}, store.ConsentEvent{})
	if err != nil || !ok {
		t.Fatalf("activate by sms = %v, %v", ok, err)
	}
	s, _ := st.Subscriber(ctx, first.ID)
	if s.Status != domain.Active || !s.Wants(domain.SMS) || s.Wants(domain.Email) {
		t.Fatalf("after YES: %+v", s)
	}
	if n, _ := st.DueCount(ctx); n != 1 {
		t.Fatalf("due = %d", n)
	}
	if _, err := st.Signup(ctx, domain.Subscriber{FirstName: "X"}, nil, store.ConsentEvent{}); domain.ErrorCode(err) != domain.ErrInvalid {
		t.Fatalf("a signup with neither address nor number = %v", err)
	}
}

// A skip that finds the claim of an attempt that stopped (a worker killed
// between claiming and recording) ends the record unknown: the provider may
// have the message, so it is neither skipped nor sent again.
func TestSkipOverAClaimRecordsUnknown(t *testing.T) {
	st := setup(t)
	ctx := context.Background()
	k := store.DeliveryKey{SubscriberID: "skipclaim", Program: domain.WeeklyCheckin, Date: "2026-12-07", Channel: domain.Email}
	if err := st.ClaimDelivery(ctx, k, t0); err != nil {
		t.Fatal(err)
	}
	got, err := st.SkipDelivery(ctx, k, "too late", t0.Add(7*time.Hour))
	if err != nil {
		t.Fatal(err)
	}
	if got != store.Unknown {
		t.Errorf("skip over a claim recorded %q, want unknown", got)
	}
	d, err := st.Delivery(ctx, k)
	if err != nil {
		t.Fatal(err)
	}
	if d.State != store.Unknown || d.Reason == "" {
		t.Fatalf("record = %+v, want unknown with a reason", d)
	}
	err = st.ClaimDelivery(ctx, k, t0.Add(8*time.Hour))
	if s, ok := store.IsAlreadyHandled(err); !ok || s != store.Unknown {
		t.Fatalf("claim after the skip = %v, want already unknown", err)
	}

	// A skip of an empty record says skipped; a second skip writes nothing.
	k2 := k
	k2.Date = "2026-12-14"
	if got, err := st.SkipDelivery(ctx, k2, "paused", t0); err != nil || got != store.Skipped {
		t.Fatalf("skip = %q, %v, want skipped", got, err)
	}
	if got, err := st.SkipDelivery(ctx, k2, "paused", t0); err != nil || got != "" {
		t.Fatalf("second skip = %q, %v, want nothing written", got, err)
	}
}
