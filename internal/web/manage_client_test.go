package web_test

import (
	"context"
	"encoding/json"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/nudgehq/nudge/internal/domain"
	"github.com/nudgehq/nudge/internal/redistest"
	"github.com/nudgehq/nudge/internal/store"
	"github.com/nudgehq/nudge/internal/subscription"
	"github.com/nudgehq/nudge/internal/token"
)

// The clinic behind the clients of these tests: its private name must never
// show, its display name must.
const (
	privateName = "Quillfeather Private Practice"
	displayName = "Harbour Street"
)

type clientFixture struct {
	clinic, id, manage string
	email, phone, text string
}

// client enrols and confirms a client of a new clinic (email and SMS, in
// London), with a session on 3 December and two prompts, one in the
// clinic's own words.
func (b *bundle) client(t *testing.T, locale, email, phone string) clientFixture {
	t.Helper()
	return b.clientOf(t, displayName, locale, email, phone)
}

// clientOf is client with a clinic of the given display name.
func (b *bundle) clientOf(t *testing.T, display, locale, email, phone string) clientFixture {
	t.Helper()
	ctx := context.Background()
	f := clientFixture{clinic: "c" + store.NewID()[:12], id: store.NewID(), email: email, phone: phone}
	f.text = "walk to the pier " + f.id
	if err := b.st.CreateClinic(ctx, domain.Clinic{ID: f.clinic, Name: privateName, DisplayName: display, CreatedAt: b.now}, "whsec_x"); err != nil {
		t.Fatal(err)
	}
	sub := domain.Subscriber{ID: f.id, Clinic: f.clinic, FirstName: "Kai", Email: email, Phone: phone, TimeZone: "Europe/London", Locale: locale,
		Channels: []domain.Channel{domain.Email, domain.SMS}, SMSStatus: domain.SMSActive, CreatedAt: b.now}
	if err := b.st.EnrolClient(ctx, sub, store.ConsentEvent{At: b.now, Action: store.ConsentSignup, Channel: "email,sms", Source: "clinic"}); err != nil {
		t.Fatal(err)
	}
	if code, _ := b.do(t, "POST", "/confirm/"+b.signer.Sign(token.Confirm, f.id, b.now.Add(time.Hour)), url.Values{}, nil); code != 200 {
		t.Fatalf("confirm = %d", code)
	}
	session := time.Date(2026, 12, 3, 15, 0, 0, 0, time.UTC)
	_, err := b.st.UpdatePrompts(ctx, f.clinic, f.id, b.now, func(st *store.PromptState) error {
		st.Sessions = append(st.Sessions, session)
		st.Prompts = append(st.Prompts,
			domain.Prompt{ID: "p1", ClientID: f.id, Rule: "session+2d@18:00", Template: 2, CreatedAt: b.now},
			domain.Prompt{ID: "p2", ClientID: f.id, Rule: "at:2026-12-10T18:00:00Z", Text: f.text, CreatedAt: b.now.Add(time.Minute)})
		return nil
	}, func(store.PromptState) ([]store.PromptOccurrence, error) {
		return []store.PromptOccurrence{
			{PromptID: "p1", Session: session.Unix(), At: time.Date(2026, 12, 5, 18, 0, 0, 0, time.UTC)},
			{PromptID: "p2", At: time.Date(2026, 12, 10, 18, 0, 0, 0, time.UTC)},
		}, nil
	})
	if err != nil {
		t.Fatal(err)
	}
	f.manage = "/manage/" + b.signer.Sign(token.Manage, f.id, b.now.Add(time.Hour))
	return f
}

// clientState is everything a preference change could touch.
type clientState struct {
	Sub       domain.Subscriber
	Schedules []domain.Schedule
	Consent   []store.ConsentEvent
	Due       int64
	Prompts   store.PromptState
	Planned   []string
}

func (b *bundle) clientState(t *testing.T, f clientFixture) clientState {
	t.Helper()
	ctx := context.Background()
	var s clientState
	var err error
	if s.Sub, err = b.st.Subscriber(ctx, f.id); err != nil {
		t.Fatal(err)
	}
	if s.Schedules, err = b.st.AllSchedules(ctx, f.id); err != nil {
		t.Fatal(err)
	}
	if s.Consent, err = b.st.Consent(ctx, f.id); err != nil {
		t.Fatal(err)
	}
	if s.Due, err = b.st.DueCount(ctx); err != nil {
		t.Fatal(err)
	}
	if s.Prompts, err = b.st.PromptStateOf(ctx, f.clinic, f.id); err != nil {
		t.Fatal(err)
	}
	if s.Planned, err = b.st.PlannedPrompts(ctx, f.id); err != nil {
		t.Fatal(err)
	}
	slices.Sort(s.Planned)
	return s
}

func TestClientManagePageOffersOnlyWhatAClientCanDo(t *testing.T) {
	b := setup(t)
	f := b.client(t, "en", "kai@example.org", "+447700900123")
	code, body := b.do(t, "GET", f.manage, nil, nil)
	if code != 200 {
		t.Fatalf("GET manage = %d", code)
	}
	for _, want := range []string{
		"Hi Kai. Your messages are arranged with " + displayName + ". To change what you receive, or when, please ask them.",
		"what you do on this page changes only these messages",
		`action="` + f.manage + `/pause"`, `min="2026-12-01" max="2027-05-30"`, "Pause my messages",
		`<form method="post" action="/unsubscribe/`, "Stop every message arranged with " + displayName, "Stop these messages",
		`href="` + f.manage + `/export" download`, "Download my data (JSON)", "the messages arranged for you and their dates",
		`href="` + f.manage + `/erase"`, "Erase me",
	} {
		if !strings.Contains(body, want) {
			t.Errorf("a client's page lacks %q", want)
		}
	}
	for _, unwanted := range []string{
		privateName, `action="` + f.manage + `/preferences"`, `name="program"`, `name="tz"`, `name="locale"`, `name="channel"`, `name="goal"`,
		"Change what you receive", "Unsubscribe from everything", "Weekly check-in", "Gratitude", "Monthly review", "in your time zone", "Time zone",
	} {
		if strings.Contains(body, unwanted) {
			t.Errorf("a client's page shows %q", unwanted)
		}
	}
	// Neutral words only: nothing that says what the arrangement is for.
	low := strings.ToLower(body)
	for _, word := range []string{"clinic", "therap", "session", "patient", "health", "care team", "treatment", "counsel"} {
		if strings.Contains(low, word) {
			t.Errorf("a client's page says %q", word)
		}
	}

	// In Spanish too.
	es := b.client(t, "es", "kai.es@example.org", "+447700900124")
	_, body = b.do(t, "GET", es.manage, nil, http.Header{"Accept-Language": {"en"}})
	for _, want := range []string{`<html lang="es">`, "Hola, Kai. Tus mensajes se organizan con " + displayName + ".", "Detén todos los mensajes que se organizan con " + displayName, "Pausar mis mensajes", "Borrar mis datos"} {
		if !strings.Contains(body, want) {
			t.Errorf("a client's page in Spanish lacks %q", want)
		}
	}
	if strings.Contains(body, "Cambia lo que recibes") {
		t.Error("a client's page in Spanish offers the preferences form")
	}

	// A public subscriber's page still has the form, and nothing of a clinic.
	_, public := b.confirmed(t, nil)
	_, body = b.do(t, "GET", public, nil, nil)
	if !strings.Contains(body, `action="`+public+`/preferences"`) || !strings.Contains(body, "Here is what you receive") || strings.Contains(body, "arranged with") {
		t.Error("a public subscriber's page changed")
	}
}

func TestClientOfAClinicWithoutADisplayName(t *testing.T) {
	b := setup(t)
	f := b.clientOf(t, "", "en", "kai@example.org", "+447700900123")
	code, body := b.do(t, "GET", f.manage, nil, nil)
	if code != 200 || !strings.Contains(body, "Your messages are arranged with the organisation that signed you up.") || strings.Contains(body, privateName) {
		t.Errorf("page = %d:\n%s", code, between(body, "<h1>", "</main>"))
	}
}

func TestClientPreferencesPostIsRefusedAndChangesNothing(t *testing.T) {
	for _, tt := range []struct{ locale, want string }{
		{"en", "Nothing was changed: what you receive, and when, is arranged with " + displayName + ", so please ask them."},
		{"es", "No se cambió nada: lo que recibes, y cuándo, se organiza con " + displayName + ", así que pídeselo a ellos."},
	} {
		t.Run(tt.locale, func(t *testing.T) {
			b := setup(t)
			f := b.client(t, tt.locale, "kai@example.org", "+447700900123")
			before := b.clientState(t, f)
			if len(before.Planned) != 2 || before.Sub.Status != domain.Active {
				t.Fatalf("client before = %+v, planned %v", before.Sub, before.Planned)
			}
			// A form the page never shows a client, made by hand: a public
			// program, another zone and language, texts only, a goal.
			form := prefsForm()
			form.Set("tz", "America/New_York")
			form.Set("locale", map[string]string{"en": "es", "es": "en"}[tt.locale])
			form["channel"] = []string{"sms"}
			form.Set("goal", "my sister")
			for _, sent := range []url.Values{form, {}} {
				res := b.send(t, "POST", f.manage+"/preferences", sent, nil)
				if res.code != http.StatusForbidden {
					t.Fatalf("POST preferences = %d, want 403", res.code)
				}
				if got := between(res.body, `id="client-error">`, "</p>"); got != tt.want {
					t.Errorf("message = %q, want %q", got, tt.want)
				}
				if !strings.Contains(res.body, `<html lang="`+tt.locale+`">`) || !strings.Contains(res.body, `action="`+f.manage+`/pause"`) ||
					strings.Contains(res.body, `name="program"`) {
					t.Error("the refusal is not the client's page in their language")
				}
			}
			if diff := cmp.Diff(before, b.clientState(t, f)); diff != "" {
				t.Errorf("a refused change wrote (-before +after):\n%s", diff)
			}
		})
	}
}

func TestClientCanPauseResumeAndUnsubscribe(t *testing.T) {
	b := setup(t)
	ctx := context.Background()
	f := b.client(t, "en", "kai@example.org", "+447700900123")

	if res := b.send(t, "POST", f.manage+"/pause", url.Values{"until": {"2026-11-30"}}, nil); res.code != http.StatusUnprocessableEntity ||
		!strings.Contains(between(res.body, `id="until-error">`, "</p>"), "a date after today") || !strings.Contains(res.body, "arranged with "+displayName) {
		t.Errorf("pause until today = %d, message %q", res.code, between(res.body, `id="until-error">`, "</p>"))
	}
	res := b.send(t, "POST", f.manage+"/pause", url.Values{"until": {"2026-12-15"}}, nil)
	if res.code != http.StatusSeeOther || res.location != f.manage+"?done=paused" {
		t.Fatalf("pause = %d to %q", res.code, res.location)
	}
	sub, _ := b.st.Subscriber(ctx, f.id)
	if want := time.Date(2026, 12, 15, 0, 0, 0, 0, time.UTC); !sub.PausedUntil.Equal(want) {
		t.Errorf("paused until %v, want %v", sub.PausedUntil, want)
	}
	_, body := b.do(t, "GET", res.location, nil, nil)
	for _, want := range []string{"Your messages are paused.", "They start again on 15 December 2026.", `action="` + f.manage + `/resume"`} {
		if !strings.Contains(body, want) {
			t.Errorf("paused page lacks %q", want)
		}
	}
	res = b.send(t, "POST", f.manage+"/resume", url.Values{}, nil)
	if res.code != http.StatusSeeOther || res.location != f.manage+"?done=resumed" {
		t.Fatalf("resume = %d to %q", res.code, res.location)
	}
	if sub, _ := b.st.Subscriber(ctx, f.id); !sub.PausedUntil.IsZero() {
		t.Errorf("still paused until %v", sub.PausedUntil)
	}

	// Stop everything, with the page's own form.
	_, body = b.do(t, "GET", f.manage, nil, nil)
	stop := between(body, `<form method="post" action="/unsubscribe/`, `"`)
	if stop == "" {
		t.Fatal("no unsubscribe form on the page")
	}
	code, body := b.do(t, "POST", "/unsubscribe/"+stop, url.Values{}, nil)
	if code != 200 || !strings.Contains(body, "Nothing more arranged with "+displayName+" will be sent to you.") || strings.Contains(body, "sign up") {
		t.Errorf("unsubscribe = %d:\n%s", code, between(body, "<h1>", "</main>"))
	}
	sub, _ = b.st.Subscriber(ctx, f.id)
	ev, _ := b.st.Consent(ctx, f.id)
	if sub.Status != domain.Unsubscribed || sub.Clinic != f.clinic || ev[len(ev)-1].Action != store.ConsentUnsubscribe {
		t.Errorf("after unsubscribing: %+v, ledger ends %+v", sub, ev[len(ev)-1])
	}
	_, body = b.do(t, "GET", f.manage, nil, nil)
	if !strings.Contains(body, "You are unsubscribed.") || !strings.Contains(body, "arranged with "+displayName) || strings.Contains(body, `action="`+f.manage+`/pause"`) {
		t.Error("the page after unsubscribing does not say so")
	}
	// The ledger's pause, resume and unsubscribe, in order.
	var actions []string
	for _, e := range ev {
		actions = append(actions, e.Action)
	}
	if !slices.Equal(actions[len(actions)-3:], []string{"pause", "resume", "unsubscribe"}) {
		t.Errorf("ledger = %v", actions)
	}
}

func TestClientExportHasSessionsAndPromptsAndEraseLeavesNoTrace(t *testing.T) {
	b := setup(t)
	ctx := context.Background()
	f := b.client(t, "en", "kai.erase@example.org", "+447700900123")
	other := b.client(t, "en", "lee@example.org", "+447700900456")
	b.leaveTraces(t, f.id, "walked along the harbour")

	res := b.send(t, "GET", f.manage+"/export", nil, nil)
	if res.code != 200 || !strings.HasPrefix(res.header.Get("Content-Type"), "application/json") {
		t.Fatalf("export = %d, %s", res.code, res.header.Get("Content-Type"))
	}
	var ex subscription.Export
	if err := json.Unmarshal([]byte(res.body), &ex); err != nil {
		t.Fatalf("export is not JSON: %v", err)
	}
	if ex.Subscriber.ID != f.id || ex.Subscriber.Email != f.email || ex.Clinic == nil || ex.Clinic.DisplayName != displayName {
		t.Errorf("subscriber = %+v, clinic = %+v", ex.Subscriber, ex.Clinic)
	}
	if len(ex.Sessions) != 1 || !ex.Sessions[0].Equal(time.Date(2026, 12, 3, 15, 0, 0, 0, time.UTC)) {
		t.Errorf("sessions = %v", ex.Sessions)
	}
	if len(ex.Prompts) != 2 || ex.Prompts[0].Template != 2 || ex.Prompts[1].Text != f.text {
		t.Errorf("prompts = %+v", ex.Prompts)
	}
	if len(ex.Replies) != 1 || len(ex.Deliveries) != 2 {
		t.Errorf("replies = %+v, deliveries = %+v", ex.Replies, ex.Deliveries)
	}
	for _, leak := range []string{privateName, other.id, other.email, other.text} {
		if strings.Contains(res.body, leak) {
			t.Errorf("the export holds %q", leak)
		}
	}

	code, body := b.do(t, "GET", f.manage+"/erase", nil, nil)
	if code != 200 || !strings.Contains(body, "The messages arranged with "+displayName+" stop too") {
		t.Errorf("erase page = %d", code)
	}
	code, body = b.do(t, "POST", f.manage+"/erase", url.Values{}, nil)
	if code != 200 || !strings.Contains(body, "We have deleted everything we kept about you") || strings.Contains(body, "sign up") {
		t.Fatalf("POST erase = %d:\n%s", code, between(body, "<h1>", "</main>"))
	}
	needles := []string{f.email, f.phone, f.id, f.text, "walked along the harbour"}
	if found := redistest.Traces(t, b.st.Redis(), []string{b.st.Prefix() + "*", "asynq:*"}, needles); len(found) > 0 {
		t.Errorf("left behind after erasure:\n%s", strings.Join(found, "\n"))
	}
	if code, _ := b.do(t, "GET", f.manage, nil, nil); code != http.StatusNotFound {
		t.Errorf("manage page after erasure = %d, want 404", code)
	}
	// The other client keeps everything.
	if st, err := b.st.PromptStateOf(ctx, other.clinic, other.id); err != nil || len(st.Prompts) != 2 {
		t.Errorf("the other client's prompts: %+v, %v", st.Prompts, err)
	}
}
