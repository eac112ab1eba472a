package webhook_test

import (
	"context"
	"encoding/json"
	"strings"
	"testing"
	"time"

	"github.com/hibiken/asynq"
	"github.com/nudgehq/nudge/internal/domain"
	"github.com/nudgehq/nudge/internal/notify"
	"github.com/nudgehq/nudge/internal/store"
	"github.com/nudgehq/nudge/internal/task"
)

// storedEvent is an event as stored, with the data left as JSON.
type storedEvent struct {
	ID       string          `json:"id"`
	Type     string          `json:"type"`
	ClinicID string          `json:"clinic_id"`
	Data     json.RawMessage `json:"data"`
}

// withClient adds a clinic (with a webhook URL) and an active SMS client of
// it holding the bundle's number, as the public subscriber does.
func (b *bundle) withClient(t *testing.T) (clinicID, clientID string) {
	t.Helper()
	ctx := context.Background()
	clinicID, clientID = "c"+store.NewID()[:12], store.NewID()
	if err := b.st.CreateClinic(ctx, domain.Clinic{ID: clinicID, Name: "Riverside", DisplayName: "Riverside", WebhookURL: "https://clinic.example/hooks", CreatedAt: now}, "whsec_x"); err != nil {
		t.Fatal(err)
	}
	client := domain.Subscriber{ID: clientID, Clinic: clinicID, FirstName: "Sam", Phone: phone, TimeZone: "Europe/London", Locale: "en",
		Channels: []domain.Channel{domain.SMS}, SMSStatus: domain.SMSActive, CreatedAt: now}
	if err := b.st.EnrolClient(ctx, client, store.ConsentEvent{}); err != nil {
		t.Fatal(err)
	}
	return clinicID, clientID
}

// events returns the events stored under the test's prefix, checking that
// each has its delivery queued on the low queue.
func (b *bundle) events(t *testing.T) []storedEvent {
	t.Helper()
	ctx := context.Background()
	keys, err := b.st.Redis().Keys(ctx, b.st.Prefix()+"event:*").Result()
	if err != nil {
		t.Fatal(err)
	}
	ins := asynq.NewInspectorFromRedisClient(b.st.Redis())
	var out []storedEvent
	for _, k := range keys {
		raw, err := b.st.Event(ctx, strings.TrimPrefix(k, b.st.Prefix()+"event:"))
		if err != nil {
			t.Fatal(err)
		}
		var ev storedEvent
		if err := json.Unmarshal(raw, &ev); err != nil {
			t.Fatal(err)
		}
		info, err := ins.GetTaskInfo(task.QueueLow, "webhook:"+ev.ClinicID+":"+ev.ID)
		if err != nil {
			t.Fatalf("no delivery queued for event %s: %v", ev.ID, err)
		}
		var p task.DeliverWebhook
		if err := json.Unmarshal(info.Payload, &p); err != nil || p.EventID != ev.ID || p.ClinicID != ev.ClinicID || info.Type != task.TypeDeliverWebhook {
			t.Fatalf("queued %s with %s for event %s", info.Type, info.Payload, ev.ID)
		}
		out = append(out, ev)
	}
	return out
}

func TestReplyGoesToTheRecordThatLastTextedTheNumber(t *testing.T) {
	b := setup(t, "en")
	ctx := context.Background()
	clinicID, clientID := b.withClient(t)

	// Before the clinic texts the number, a reply belongs to the public record.
	b.text(t, phone, "3")
	if r, _ := b.st.Replies(ctx, b.id); len(r) != 1 || r[0].Rating != 3 {
		t.Fatalf("public replies = %+v", r)
	}
	if evs := b.events(t); len(evs) != 0 {
		t.Fatalf("a public subscriber's reply raised %d events", len(evs))
	}

	// The clinic's prompt went out: replies now answer it.
	if err := b.st.RouteReplies(ctx, phone, clientID); err != nil {
		t.Fatal(err)
	}
	if err := b.st.MarkLastNudge(ctx, clientID, domain.BetweenSession, "p1|0"); err != nil {
		t.Fatal(err)
	}
	if code, twiml := b.text(t, phone, "Called my sister, it went well"); code != 200 || !strings.Contains(twiml, "<Message>Riverside: ") {
		t.Fatalf("reply: %d %s", code, twiml)
	}
	if r, _ := b.st.Replies(ctx, clientID); len(r) != 1 || r[0].Text != "Called my sister, it went well" {
		t.Fatalf("client replies = %+v", r)
	}
	if r, _ := b.st.Replies(ctx, b.id); len(r) != 1 {
		t.Fatalf("the client's reply was also kept on the public record: %+v", r)
	}
	evs := b.events(t)
	if len(evs) != 1 || evs[0].Type != notify.ClientReplied || evs[0].ClinicID != clinicID {
		t.Fatalf("events = %+v, want one client.replied for the clinic", evs)
	}
	var d notify.Replied
	if err := json.Unmarshal(evs[0].Data, &d); err != nil {
		t.Fatal(err)
	}
	want := notify.Replied{ClientID: clientID, At: now.Format(time.RFC3339), Channel: "sms", Text: "Called my sister, it went well", InReplyTo: "between-session:p1|0"}
	if d != want {
		t.Fatalf("data = %+v, want %+v", d, want)
	}
	if strings.Contains(string(evs[0].Data), phone) {
		t.Fatalf("the event names the number: %s", evs[0].Data)
	}
}

func TestStopStopsEveryRecordOfTheNumber(t *testing.T) {
	b := setup(t, "en")
	ctx := context.Background()
	_, clientID := b.withClient(t)
	if err := b.st.RouteReplies(ctx, phone, clientID); err != nil {
		t.Fatal(err)
	}
	if code, _ := b.text(t, phone, "STOP"); code != 200 {
		t.Fatal(code)
	}
	for _, id := range []string{b.id, clientID} {
		s, err := b.st.Subscriber(ctx, id)
		if err != nil {
			t.Fatal(err)
		}
		if s.SMSStatus != domain.SMSStopped || s.Wants(domain.SMS) {
			t.Errorf("record %s (clinic %q) after STOP: sms %q", id, s.Clinic, s.SMSStatus)
		}
	}
	if sup, _ := b.st.Suppressed(ctx, phone); !sup {
		t.Error("number not suppressed")
	}
	evs := b.events(t)
	if len(evs) != 1 || evs[0].Type != notify.ClientOptedOut {
		t.Fatalf("events = %+v, want one client.opted_out (the public record raises none)", evs)
	}
	var d notify.OptedOut
	if err := json.Unmarshal(evs[0].Data, &d); err != nil || d != (notify.OptedOut{ClientID: clientID, Channel: "sms", Source: "sms-keyword"}) {
		t.Fatalf("data = %s (%v)", evs[0].Data, err)
	}
	// A second STOP changes nothing the clinic needs to hear about.
	b.text(t, phone, "stop")
	if evs := b.events(t); len(evs) != 1 {
		t.Fatalf("a repeated STOP raised %d events in all, want 1", len(evs))
	}
}

func TestStartAfterStopConfirmsTheClientsTextsOnly(t *testing.T) {
	b := setup(t, "en")
	ctx := context.Background()
	_, clientID := b.withClient(t)
	if err := b.st.RouteReplies(ctx, phone, clientID); err != nil {
		t.Fatal(err)
	}
	b.text(t, phone, "STOP")
	b.text(t, phone, "START")
	client, _ := b.st.Subscriber(ctx, clientID)
	public := b.sub(t)
	if client.SMSStatus != domain.SMSActive || public.SMSStatus != domain.SMSStopped {
		t.Fatalf("after START to the client's route: client sms %q, public sms %q", client.SMSStatus, public.SMSStatus)
	}
	var types []string
	for _, ev := range b.events(t) {
		types = append(types, ev.Type)
	}
	if len(types) != 2 || !strings.Contains(strings.Join(types, ","), notify.ClientConfirmed) {
		t.Fatalf("events = %v, want client.opted_out and client.confirmed", types)
	}
}

func TestDistressFromAClientRaisesTheClinicsFlagWithoutTheWords(t *testing.T) {
	b := setup(t, "en")
	ctx := context.Background()
	_, clientID := b.withClient(t)
	if err := b.st.RouteReplies(ctx, phone, clientID); err != nil {
		t.Fatal(err)
	}
	_, twiml := b.text(t, phone, "some days I want to die")
	// A UK number: the Samaritans and 999.
	if !strings.Contains(twiml, "116 123") || !strings.Contains(twiml, "999") || !strings.HasPrefix(strings.SplitN(twiml, "<Message>", 2)[1], "Riverside: ") {
		t.Fatalf("crisis reply = %s", twiml)
	}
	c, _ := b.st.Subscriber(ctx, clientID)
	if c.PausedUntil.IsZero() || c.DistressAt.IsZero() {
		t.Errorf("the client's prompts were not held: %+v", c)
	}
	evs := b.events(t)
	if len(evs) != 1 || evs[0].Type != notify.ClientCrisisFlag {
		t.Fatalf("events = %+v, want one client.crisis_flag", evs)
	}
	var d notify.CrisisFlag
	if err := json.Unmarshal(evs[0].Data, &d); err != nil || d.ClientID != clientID || d.Channel != "sms" || d.At == "" {
		t.Fatalf("data = %s (%v)", evs[0].Data, err)
	}
	if strings.Contains(string(evs[0].Data), "die") {
		t.Errorf("the flag carries the client's words: %s", evs[0].Data)
	}
	det, _ := b.st.Detections(ctx, clientID)
	if len(det) != 1 || det[0].Channel != "sms" || det[0].Rule == "" || det[0].Answer != "crisis-resources GB en" {
		t.Errorf("detections = %+v", det)
	}
}
