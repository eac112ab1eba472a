package store_test

import (
	"context"
	"slices"
	"testing"
	"time"

	"github.com/nudgehq/nudge/internal/domain"
	"github.com/nudgehq/nudge/internal/redistest"
	"github.com/nudgehq/nudge/internal/store"
)

// person is someone with everything the store can keep about them.
type person struct {
	id, email, phone, name, reply string
}

// lived signs p up with email and SMS, confirms both, and leaves behind
// what a few weeks of nudges do: replies, delivery records on both
// channels (with the SMS provider ids the status callbacks use).
func lived(t *testing.T, st *store.Store, p *person) {
	t.Helper()
	ctx := context.Background()
	p.id = newSubscriber(t, st, domain.Subscriber{
		FirstName: p.name, Email: p.email, Phone: p.phone, Goal: "call " + p.name + "'s aunt",
		Channels: []domain.Channel{domain.Email, domain.SMS}, SMSStatus: domain.SMSPending,
	}, true, "weekly:tue@18:30", "weekly:fri@19:00")
	if _, err := st.ConfirmSMS(ctx, p.id, store.ConsentEvent{At: t0, Action: store.ConsentSMSStart, Channel: "sms", Source: "sms-keyword"}); err != nil {
		t.Fatal(err)
	}
	for i, date := range []string{"2026-12-01", "2026-12-08"} {
		for _, ch := range []domain.Channel{domain.Email, domain.SMS} {
			k := store.DeliveryKey{SubscriberID: p.id, Program: domain.WeeklyCheckin, Date: date, Channel: ch}
			if err := st.ClaimDelivery(ctx, k, t0); err != nil {
				t.Fatal(err)
			}
			if err := st.FinishDelivery(ctx, k, store.Sent, "SM"+p.id+date+string(ch), "", t0); err != nil {
				t.Fatal(err)
			}
		}
		if err := st.AddReply(ctx, p.id, store.Reply{At: t0.Add(time.Duration(i) * time.Hour), Channel: "sms", Nudge: "weekly-checkin:" + date, Text: p.reply}); err != nil {
			t.Fatal(err)
		}
	}
	if err := st.MarkLastNudge(ctx, p.id, domain.WeeklyCheckin, "2026-12-08"); err != nil {
		t.Fatal(err)
	}
}

func TestEraseLeavesNothingOfThePersonAndSparesOthers(t *testing.T) {
	for _, tt := range []struct {
		name           string
		optOut         func(context.Context, *store.Store, string) error
		wantSuppressed []string
	}{
		{"active", nil, nil},
		{"unsubscribed", func(ctx context.Context, st *store.Store, id string) error {
			_, err := st.Unsubscribe(ctx, id, store.ConsentEvent{At: t0, Action: store.ConsentUnsubscribe})
			return err
		}, []string{"email", "sms"}},
		{"sms stopped", func(ctx context.Context, st *store.Store, id string) error {
			return st.StopSMS(ctx, id, store.ConsentEvent{At: t0, Action: store.ConsentSMSStop})
		}, []string{"sms"}},
	} {
		t.Run(tt.name, func(t *testing.T) {
			st := setup(t)
			ctx := context.Background()
			gone := &person{email: "zephyrine.q@example.org", phone: "+447700900123", name: "Zephyrine", reply: "walked with my neighbour Oksana"}
			kept := &person{email: "bartholomew.k@example.org", phone: "+447700900456", name: "Bartholomew", reply: "phoned my cousin Ignatius"}
			lived(t, st, gone)
			lived(t, st, kept)
			if tt.optOut != nil {
				if err := tt.optOut(ctx, st, gone.id); err != nil {
					t.Fatal(err)
				}
			}

			res, err := st.Erase(ctx, gone.id)
			if err != nil {
				t.Fatal(err)
			}
			if !res.Found || res.Deliveries != 4 || !slices.Equal(res.Suppressed, tt.wantSuppressed) {
				t.Errorf("erasure = %+v, want found, 4 deliveries, suppressed %v", res, tt.wantSuppressed)
			}
			all := []string{st.Prefix() + "*"}
			if found := redistest.Traces(t, st.Redis(), all, []string{gone.email, gone.phone, gone.name, gone.reply, gone.id}); len(found) > 0 {
				t.Errorf("left behind after erasure:\n%v", found)
			}
			if _, err := st.Subscriber(ctx, gone.id); err == nil {
				t.Error("the erased subscriber still loads")
			}
			if holders, _, err := st.NumberHolders(ctx, gone.phone); err != nil || len(holders) != 0 {
				t.Errorf("the erased number still has holders %v (%v)", holders, err)
			}
			for _, c := range []struct {
				channel, addr string
			}{{"email", gone.email}, {"sms", gone.phone}} {
				sup, err := st.Suppressed(ctx, c.addr)
				if err != nil {
					t.Fatal(err)
				}
				if want := slices.Contains(tt.wantSuppressed, c.channel); sup != want {
					t.Errorf("%s suppressed = %v, want %v", c.channel, sup, want)
				}
			}

			// The other person is untouched.
			if sub, err := st.Subscriber(ctx, kept.id); err != nil || sub.Email != kept.email || sub.Status != domain.Active {
				t.Errorf("the other subscriber = %+v, %v", sub, err)
			}
			if holders, _, err := st.NumberHolders(ctx, kept.phone); err != nil || len(holders) != 1 || holders[0].ID != kept.id {
				t.Errorf("the other number's holders %v, %v", holders, err)
			}
			dl, _ := st.Deliveries(ctx, kept.id)
			rep, _ := st.Replies(ctx, kept.id)
			ev, _ := st.Consent(ctx, kept.id)
			scheds, _ := st.Schedules(ctx, kept.id)
			if len(dl) != 4 || len(rep) != 2 || len(ev) == 0 || len(scheds) != 2 {
				t.Errorf("the other subscriber has %d deliveries, %d replies, %d consent events, %d schedules", len(dl), len(rep), len(ev), len(scheds))
			}
			if ok, err := st.RecordProviderStatus(ctx, "SM"+kept.id+"2026-12-01sms", "delivered", t0); err != nil || !ok {
				t.Errorf("the other subscriber's status callbacks = %v, %v", ok, err)
			}
			if n, _ := st.DueCount(ctx); n != 2 {
				t.Errorf("due index holds %d entries, want the other subscriber's 2", n)
			}

			// Erasing again finds nothing and is no error.
			if res, err := st.Erase(ctx, gone.id); err != nil || res.Found {
				t.Errorf("second erasure = %+v, %v", res, err)
			}
		})
	}
}

func TestEraseKeepsANumberNowSomeoneElses(t *testing.T) {
	st := setup(t)
	ctx := context.Background()
	first := newSubscriber(t, st, domain.Subscriber{FirstName: "Ada", Email: "ada@example.org", Phone: "+447700900789"}, true, "weekly:tue@18:30")
	second := newSubscriber(t, st, domain.Subscriber{FirstName: "Bea", Email: "bea@example.org", Phone: "+447700900789"}, true, "weekly:tue@18:30")
	if _, err := st.Erase(ctx, first); err != nil {
		t.Fatal(err)
	}
	if holders, _, err := st.NumberHolders(ctx, "+447700900789"); err != nil || len(holders) != 1 || holders[0].ID != second {
		t.Errorf("the number's holders %v, %v; want only the later subscriber %s", holders, err, second)
	}
}

func TestDeliveriesReadsOnlyTheSubscribersRecords(t *testing.T) {
	st := setup(t)
	ctx := context.Background()
	keys := []store.DeliveryKey{
		{SubscriberID: "abc", Program: domain.WeeklyCheckin, Date: "2026-12-01", Channel: domain.Email},
		{SubscriberID: "abc", Program: domain.BetweenSession, Date: "prompt:17:30", Channel: domain.SMS},
		{SubscriberID: "abcd", Program: domain.WeeklyCheckin, Date: "2026-12-01", Channel: domain.Email},
	}
	for _, k := range keys {
		if _, err := st.SkipDelivery(ctx, k, "paused", t0); err != nil {
			t.Fatal(err)
		}
	}
	got, err := st.Deliveries(ctx, "abc")
	if err != nil {
		t.Fatal(err)
	}
	slices.SortFunc(got, func(a, b store.DeliveryRecord) int { return len(a.Key.Date) - len(b.Key.Date) })
	if len(got) != 2 || got[0].Key != keys[0] || got[1].Key != keys[1] || got[1].State != store.Skipped || got[1].Reason != "paused" {
		t.Errorf("deliveries = %+v", got)
	}
}
