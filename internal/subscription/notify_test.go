package subscription_test

import (
	"context"
	"encoding/json"
	"errors"
	"io"
	"log/slog"
	"strings"
	"testing"
	"time"

	"github.com/hibiken/asynq"
	"github.com/nudgehq/nudge/internal/domain"
	"github.com/nudgehq/nudge/internal/notify"
	"github.com/nudgehq/nudge/internal/redistest"
	"github.com/nudgehq/nudge/internal/store"
	"github.com/nudgehq/nudge/internal/subscription"
	"github.com/nudgehq/nudge/internal/task"
)

type eventBundle struct {
	*bundle
	ins    *asynq.Inspector
	clinic string
}

// setupEvents is setup with a notifier, and a clinic that has a webhook URL.
func setupEvents(t *testing.T) *eventBundle {
	t.Helper()
	b := &eventBundle{bundle: setup(t)}
	rdb := redistest.Client(t, redistest.DBClinic)
	b.ins = asynq.NewInspectorFromRedisClient(rdb)
	events := &notify.Notifier{Store: b.st, Enqueue: asynq.NewClientFromRedisClient(rdb), Now: func() time.Time { return b.now }, Logger: slog.New(slog.NewTextHandler(io.Discard, nil))}
	b.svc = b.svc.WithNotifier(events)
	b.clinic = "c" + store.NewID()[:12]
	if err := b.st.CreateClinic(context.Background(), domain.Clinic{ID: b.clinic, Name: "Riverside", WebhookURL: "https://clinic.example/hooks", CreatedAt: t0}, "whsec_x"); err != nil {
		t.Fatal(err)
	}
	return b
}

// enrol adds a pending client of the bundle's clinic.
func (b *eventBundle) enrol(t *testing.T, email, phone string) string {
	t.Helper()
	c := domain.Subscriber{ID: store.NewID(), Clinic: b.clinic, FirstName: "Kai", Email: email, Phone: phone, TimeZone: "Europe/London", Locale: "en", CreatedAt: t0}
	if email != "" {
		c.Channels = append(c.Channels, domain.Email)
	}
	if phone != "" {
		c.Channels, c.SMSStatus = append(c.Channels, domain.SMS), domain.SMSPending
	}
	if err := b.st.EnrolClient(context.Background(), c, store.ConsentEvent{}); err != nil {
		t.Fatal(err)
	}
	return c.ID
}

// events returns the stored events (type and data), checking each has its
// delivery queued.
func (b *eventBundle) events(t *testing.T) map[string]json.RawMessage {
	t.Helper()
	ctx := context.Background()
	keys, err := b.st.Redis().Keys(ctx, b.st.Prefix()+"event:*").Result()
	if err != nil {
		t.Fatal(err)
	}
	out := map[string]json.RawMessage{}
	for _, k := range keys {
		raw, err := b.st.Event(ctx, strings.TrimPrefix(k, b.st.Prefix()+"event:"))
		if err != nil {
			t.Fatal(err)
		}
		var ev struct {
			ID, Type string
			ClinicID string `json:"clinic_id"`
			Data     json.RawMessage
		}
		if err := json.Unmarshal(raw, &ev); err != nil {
			t.Fatal(err)
		}
		if _, err := b.ins.GetTaskInfo(task.QueueLow, "webhook:"+ev.ClinicID+":"+ev.ID); err != nil {
			t.Fatalf("no delivery queued for %s: %v", ev.Type, err)
		}
		if ev.ClinicID != b.clinic {
			t.Fatalf("event for clinic %q, want %q", ev.ClinicID, b.clinic)
		}
		if _, dup := out[ev.Type]; dup {
			t.Fatalf("two %s events", ev.Type)
		}
		out[ev.Type] = ev.Data
	}
	return out
}

func (b *eventBundle) welcomed(t *testing.T, id string) bool {
	t.Helper()
	_, err := b.ins.GetTaskInfo(task.QueueCritical, "notice:"+id+":"+task.NoticeWelcome+":1")
	// No such queue yet is no welcome either (the test may be the first
	// of the package to run).
	if err != nil && !errors.Is(err, asynq.ErrTaskNotFound) && !errors.Is(err, asynq.ErrQueueNotFound) {
		t.Fatal(err)
	}
	return err == nil
}

func TestConfirmingAClientRaisesClientConfirmedAndNoWelcome(t *testing.T) {
	b := setupEvents(t)
	ctx := context.Background()
	id := b.enrol(t, "kai@example.org", "")
	if err := b.svc.Confirm(ctx, id, subscription.Origin{Source: "link"}); err != nil {
		t.Fatal(err)
	}
	if s, _ := b.st.Subscriber(ctx, id); s.Status != domain.Active {
		t.Fatalf("client status %q after confirming", s.Status)
	}
	if b.welcomed(t, id) {
		t.Error("a clinic's client was sent the public list's welcome notice")
	}
	evs := b.events(t)
	if string(evs[notify.ClientConfirmed]) != `{"client_id":"`+id+`","channel":"email"}` || len(evs) != 1 {
		t.Fatalf("events = %s", evs)
	}
	// A second click changes nothing and raises nothing.
	if err := b.svc.Confirm(ctx, id, subscription.Origin{Source: "link"}); err != nil {
		t.Fatal(err)
	}
	if evs := b.events(t); len(evs) != 1 {
		t.Fatalf("a second confirmation raised more events: %s", evs)
	}
}

func TestConfirmingAPublicSubscriberRaisesNothing(t *testing.T) {
	b := setupEvents(t)
	id := b.active(t, "pat@example.org", "")
	if !b.welcomed(t, id) {
		t.Error("a public subscriber got no welcome notice")
	}
	if evs := b.events(t); len(evs) != 0 {
		t.Fatalf("a public confirmation raised %s", evs)
	}
}

func TestAClientsYesRaisesClientConfirmedBySMS(t *testing.T) {
	b := setupEvents(t)
	ctx := context.Background()
	id := b.enrol(t, "", "+447700900555")
	err := b.svc.ConfirmSMS(ctx, id, store.ConsentEvent{At: b.now, Action: store.ConsentSMSStart, Channel: "sms", Source: "sms-keyword"})
	if err != nil {
		t.Fatal(err)
	}
	if s, _ := b.st.Subscriber(ctx, id); s.Status != domain.Active || s.SMSStatus != domain.SMSActive {
		t.Fatalf("after YES: %+v", s)
	}
	if got := string(b.events(t)[notify.ClientConfirmed]); got != `{"client_id":"`+id+`","channel":"sms"}` {
		t.Fatalf("client.confirmed data = %s", got)
	}
	if b.welcomed(t, id) {
		t.Error("welcome notice queued for a client")
	}
}

func TestAClientsUnsubscribeRaisesClientOptedOut(t *testing.T) {
	b := setupEvents(t)
	ctx := context.Background()
	id := b.enrol(t, "kai@example.org", "")
	if err := b.svc.Confirm(ctx, id, subscription.Origin{Source: "link"}); err != nil {
		t.Fatal(err)
	}
	for range 2 { // the second changes nothing and raises nothing
		if err := b.svc.Unsubscribe(ctx, id, subscription.Origin{Source: "one-click"}); err != nil {
			t.Fatal(err)
		}
	}
	evs := b.events(t)
	if got := string(evs[notify.ClientOptedOut]); got != `{"client_id":"`+id+`","channel":"all","source":"one-click"}` || len(evs) != 2 {
		t.Fatalf("events = %s", evs)
	}
}
