package clinic_test

import (
	"context"
	"errors"
	"io"
	"log/slog"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/hibiken/asynq"
	"github.com/nudgehq/nudge/internal/clinic"
	"github.com/nudgehq/nudge/internal/domain"
	"github.com/nudgehq/nudge/internal/phone"
	"github.com/nudgehq/nudge/internal/redistest"
	"github.com/nudgehq/nudge/internal/store"
	"github.com/nudgehq/nudge/internal/task"
	"github.com/nudgehq/nudge/scheduler"
	"github.com/nudgehq/nudge/templates"
	"github.com/redis/go-redis/v9"
)

func TestMain(m *testing.M) { redistest.Main(m, redistest.DBClinicService) }

// Monday 30 November 2026, 12:00 UTC.
var t0 = time.Date(2026, 11, 30, 12, 0, 0, 0, time.UTC)

type fixture struct {
	rdb   *redis.Client
	st    *store.Store
	svc   *clinic.Service
	queue *asynq.Inspector
	now   time.Time
}

// recordingEraser erases through the store, as the real one does first.
type recordingEraser struct {
	st  *store.Store
	ids []string
}

func (e *recordingEraser) EraseSubscriber(ctx context.Context, id string) error {
	e.ids = append(e.ids, id)
	_, err := e.st.Erase(ctx, id)
	return err
}

func setup(t *testing.T) *fixture {
	t.Helper()
	t.Parallel()
	rdb := redistest.Client(t, redistest.DBClinicService)
	lib, err := templates.Default()
	if err != nil {
		t.Fatal(err)
	}
	f := &fixture{rdb: rdb, st: store.New(rdb, redistest.Prefix(t)), now: t0, queue: asynq.NewInspectorFromRedisClient(rdb)}
	t.Cleanup(func() { f.queue.Close() })
	client := asynq.NewClientFromRedisClient(rdb)
	t.Cleanup(func() { client.Close() })
	f.svc = clinic.New(clinic.Config{
		Store: f.st, Enqueue: queueOverride{client, "q" + f.st.Prefix()}, Erase: &recordingEraser{st: f.st},
		Library: lib, Phones: phone.New("GB", nil), SMSWindow: scheduler.DefaultSMSWindow, ServiceName: "nudge",
		Now: func() time.Time { return f.now }, Logger: slog.New(slog.NewTextHandler(io.Discard, nil)),
	})
	return f
}

// queueOverride puts every task in the test's own queue.
type queueOverride struct {
	c *asynq.Client
	q string
}

func (q queueOverride) EnqueueContext(ctx context.Context, t *asynq.Task, opts ...asynq.Option) (*asynq.TaskInfo, error) {
	return q.c.EnqueueContext(ctx, t, append(opts, asynq.Queue(q.q))...)
}

var attest = clinic.Attestation{By: "Dr R. Osei", At: t0.Add(-time.Hour), Method: "written"}

func (f *fixture) clinic(t *testing.T, name string) clinic.Created {
	t.Helper()
	c, err := f.svc.CreateClinic(context.Background(), clinic.NewClinic{Name: name, DisplayName: "Practice team", WebhookURL: "https://clinic.example/hooks"})
	if err != nil {
		t.Fatal(err)
	}
	return c
}

func (f *fixture) enrol(t *testing.T, cid string, in clinic.Enrolment) domain.Subscriber {
	t.Helper()
	if in.FirstName == "" {
		in.FirstName = "Sam"
	}
	if in.TimeZone == "" {
		in.TimeZone = "Europe/London"
	}
	in.Consent = attest
	c, err := f.svc.Enrol(context.Background(), cid, in)
	if err != nil {
		t.Fatal(err)
	}
	return c
}

func TestKeysAuthenticateUntilRevokedAndAreNotStoredInClear(t *testing.T) {
	f := setup(t)
	ctx := context.Background()
	a := f.clinic(t, "Riverside Counselling")
	b := f.clinic(t, "Hillview Therapy")
	if !strings.HasPrefix(a.APIKey, "nk_") || a.APIKey == b.APIKey {
		t.Fatalf("keys %q and %q", a.APIKey, b.APIKey)
	}
	got, keyID, err := f.svc.Authenticate(ctx, a.APIKey)
	if err != nil || got.ID != a.Clinic.ID || keyID != a.KeyID {
		t.Fatalf("Authenticate(a) = %s %s %v, want %s %s", got.ID, keyID, err, a.Clinic.ID, a.KeyID)
	}
	second, key2, err := f.svc.AddKey(ctx, a.Clinic.ID)
	if err != nil {
		t.Fatal(err)
	}
	if err := f.svc.RevokeKey(ctx, a.Clinic.ID, a.KeyID); err != nil {
		t.Fatal(err)
	}
	if _, _, err := f.svc.Authenticate(ctx, a.APIKey); domain.ErrorCode(err) != domain.ErrUnauthorized {
		t.Errorf("a revoked key: err %v, want unauthorized", err)
	}
	if got, id, err := f.svc.Authenticate(ctx, key2); err != nil || got.ID != a.Clinic.ID || id != second {
		t.Errorf("the second key: %s %s %v", got.ID, id, err)
	}
	for _, bad := range []string{"", "nk_", a.APIKey + "x", strings.Replace(b.APIKey, "nk_", "xx_", 1)} {
		if _, _, err := f.svc.Authenticate(ctx, bad); domain.ErrorCode(err) != domain.ErrUnauthorized {
			t.Errorf("Authenticate(%q): %v, want unauthorized", bad, err)
		}
	}
	// Revoking a key of another clinic finds nothing.
	if err := f.svc.RevokeKey(ctx, a.Clinic.ID, b.KeyID); !errors.Is(err, store.ErrNotFound) {
		t.Errorf("revoking b's key as a: %v, want not found", err)
	}
	keys, err := f.svc.Keys(ctx, a.Clinic.ID)
	if err != nil || len(keys) != 2 {
		t.Fatalf("keys of a: %v %v", keys, err)
	}
	assertNotInRedis(t, f, a.APIKey, key2, b.APIKey)
}

// assertNotInRedis scans every key and value under the test's prefix for
// the secrets.
func assertNotInRedis(t *testing.T, f *fixture, secrets ...string) {
	t.Helper()
	ctx := context.Background()
	keys, err := f.rdb.Keys(ctx, f.st.Prefix()+"*").Result()
	if err != nil {
		t.Fatal(err)
	}
	for _, k := range keys {
		var vals []string
		switch f.rdb.Type(ctx, k).Val() {
		case "string":
			vals = []string{f.rdb.Get(ctx, k).Val()}
		case "hash":
			for fk, v := range f.rdb.HGetAll(ctx, k).Val() {
				vals = append(vals, fk, v)
			}
		case "set":
			vals = f.rdb.SMembers(ctx, k).Val()
		case "zset":
			vals = f.rdb.ZRange(ctx, k, 0, -1).Val()
		case "list":
			vals = f.rdb.LRange(ctx, k, 0, -1).Val()
		}
		for _, s := range secrets {
			if strings.Contains(k, s) || strings.Contains(strings.Join(vals, "\x00"), s) {
				t.Errorf("key %s holds a secret in clear", k)
			}
		}
	}
}

func TestCreateClinicChecksItsInput(t *testing.T) {
	f := setup(t)
	ctx := context.Background()
	for _, tc := range []struct {
		in    clinic.NewClinic
		field string
	}{
		{clinic.NewClinic{}, "name"},
		{clinic.NewClinic{Name: strings.Repeat("x", 101)}, "name"},
		{clinic.NewClinic{Name: "A", DisplayName: strings.Repeat("y", 41)}, "display_name"},
		{clinic.NewClinic{Name: "A", WebhookURL: "ftp://x"}, "webhook_url"},
		{clinic.NewClinic{Name: "A", WebhookURL: "/relative"}, "webhook_url"},
		{clinic.NewClinic{Name: "A", WebhookURL: "http://hooks.clinic.example/"}, "webhook_url"},
		{clinic.NewClinic{Name: "A", WebhookURL: "https://127.0.0.1:6379/"}, "webhook_url"},
		{clinic.NewClinic{Name: "A", WebhookURL: "https://169.254.169.254/latest/meta-data/"}, "webhook_url"},
		{clinic.NewClinic{Name: "A", WebhookURL: "https://ops:hunter2@hooks.clinic.example/"}, "webhook_url"},
		{clinic.NewClinic{Name: "A", CapDay: 3}, "cap_day"},
		{clinic.NewClinic{Name: "A", CapWeek: 7}, "cap_week"},
		{clinic.NewClinic{Name: "A", CapDay: 2, CapWeek: 1}, "cap_day"},
		{clinic.NewClinic{Name: "A", HelpText: strings.Repeat("z", 61)}, "help_text"},
		{clinic.NewClinic{Name: "A", HelpText: "Call us ☎ 555 0100"}, "help_text"},
	} {
		_, err := f.svc.CreateClinic(ctx, tc.in)
		var fe *clinic.FieldError
		if !errors.As(err, &fe) || fe.Field != tc.field || domain.ErrorCode(err) != domain.ErrInvalid {
			t.Errorf("CreateClinic(%+v) = %v, want an invalid %s", tc.in, err, tc.field)
		}
	}
	c, err := f.svc.CreateClinic(ctx, clinic.NewClinic{Name: "Riverside", CapDay: 2, CapWeek: 6, HelpText: " Questions?\u202e Call\t555 0100. "})
	if err != nil {
		t.Fatal(err)
	}
	if got, _ := f.svc.Clinic(ctx, c.Clinic.ID); got.HelpText != "Questions? Call 555 0100." {
		t.Errorf("help text stored as %q", got.HelpText)
	}
	if c.Clinic.CapDay != 2 || c.Clinic.CapWeek != 6 || c.Clinic.DisplayName != "nudge" || c.Clinic.SignOff == "" {
		t.Errorf("created %+v", c.Clinic)
	}
	list, err := f.svc.Clinics(ctx)
	if err != nil || len(list) != 1 || list[0].ID != c.Clinic.ID {
		t.Errorf("Clinics = %v, %v", list, err)
	}
}

func TestEnrolIsSeparateFromThePublicListAndFromOtherClinics(t *testing.T) {
	f := setup(t)
	ctx := context.Background()
	a, b := f.clinic(t, "A"), f.clinic(t, "B")
	// The same person on the public list first.
	pub, err := f.st.Signup(ctx, domain.Subscriber{FirstName: "Sam", Email: "sam@example.org", TimeZone: "UTC", Locale: "en", CreatedAt: t0},
		[]domain.Schedule{{Program: domain.WeeklyCheckin, Rule: "weekly:mon@09:00"}}, store.ConsentEvent{})
	if err != nil {
		t.Fatal(err)
	}
	ca := f.enrol(t, a.Clinic.ID, clinic.Enrolment{Email: "Sam@Example.org", Phone: "+447400123456", Channels: []domain.Channel{domain.SMS}})
	cb := f.enrol(t, b.Clinic.ID, clinic.Enrolment{Email: "sam@example.org"})
	if ca.ID == pub.ID || cb.ID == pub.ID || ca.ID == cb.ID {
		t.Fatalf("ids %s %s %s: a client must be a record of its own", pub.ID, ca.ID, cb.ID)
	}
	if ca.Status != domain.Pending || ca.SMSStatus != domain.SMSPending || ca.Clinic != a.Clinic.ID || ca.Email != "sam@example.org" {
		t.Errorf("client of a: %+v", ca)
	}
	// The public index still names the public record.
	if id, _ := f.rdb.HGet(ctx, f.st.Prefix()+"idx:email", "sam@example.org").Result(); id != pub.ID {
		t.Errorf("public index names %q, want %s", id, pub.ID)
	}
	// A second enrolment of the same address in the same clinic is a conflict naming the client.
	_, err = f.svc.Enrol(ctx, a.Clinic.ID, clinic.Enrolment{FirstName: "S", Email: "sam@example.org", TimeZone: "UTC", Consent: attest})
	if domain.ErrorCode(err) != domain.ErrConflict || !strings.Contains(err.Error(), ca.ID) {
		t.Errorf("enrolling twice: %v, want a conflict naming %s", err, ca.ID)
	}
	// Clinic b cannot see clinic a's client, nor the public subscriber.
	for _, id := range []string{ca.ID, pub.ID} {
		if _, err := f.svc.Client(ctx, b.Clinic.ID, id); !errors.Is(err, store.ErrNotFound) {
			t.Errorf("b reading %s: %v, want not found", id, err)
		}
	}
	// The confirmation went out by each channel asked for, by task.
	q := "q" + f.st.Prefix()
	tasks, err := f.queue.ListPendingTasks(q)
	if err != nil {
		t.Fatal(err)
	}
	var types []string
	for _, ti := range tasks {
		if strings.Contains(ti.ID, ca.ID) {
			types = append(types, ti.Type)
		}
	}
	if strings.Join(types, ",") != task.TypeSendConfirmation+","+task.TypeSendSMSConfirm &&
		strings.Join(types, ",") != task.TypeSendSMSConfirm+","+task.TypeSendConfirmation {
		t.Errorf("tasks for the client: %v, want an email and an SMS confirmation", types)
	}
	// The consent ledger holds the clinic's attestation.
	ledger, err := f.st.Consent(ctx, ca.ID)
	if err != nil || len(ledger) != 1 || ledger[0].Source != "clinic" || !strings.Contains(ledger[0].Detail, "Dr R. Osei (written)") {
		t.Errorf("ledger %+v %v", ledger, err)
	}
	page, err := f.svc.Clients(ctx, a.Clinic.ID, "", 10)
	if err != nil || len(page.Items) != 1 || page.Items[0].ID != ca.ID || page.Next != "" {
		t.Errorf("clients of a: %+v %v", page, err)
	}
}

func TestEnrolRefusesBadInputFieldByField(t *testing.T) {
	f := setup(t)
	ctx := context.Background()
	a := f.clinic(t, "A")
	good := clinic.Enrolment{FirstName: "Sam", Email: "sam@example.org", TimeZone: "Europe/London", Consent: attest}
	for _, tc := range []struct {
		edit  func(*clinic.Enrolment)
		field string
	}{
		{func(e *clinic.Enrolment) { e.FirstName = " \t" }, "first_name"},
		{func(e *clinic.Enrolment) { e.Email = "not-an-address" }, "email"},
		{func(e *clinic.Enrolment) { e.Email = "" }, "email"},
		{func(e *clinic.Enrolment) { e.Phone = "+442079460000" }, "phone"}, // a London landline
		{func(e *clinic.Enrolment) { e.TimeZone = "Mars/Olympus" }, "time_zone"},
		{func(e *clinic.Enrolment) { e.Locale = "xx" }, "locale"},
		{func(e *clinic.Enrolment) { e.Channels = []domain.Channel{domain.SMS} }, "channels"},
		{func(e *clinic.Enrolment) { e.Channels = []domain.Channel{"fax"} }, "channels"},
		{func(e *clinic.Enrolment) { e.Consent.By = "" }, "consent.obtained_by"},
		{func(e *clinic.Enrolment) { e.Consent.At = time.Time{} }, "consent.obtained_at"},
		{func(e *clinic.Enrolment) { e.Consent.At = t0.Add(time.Hour) }, "consent.obtained_at"},
		{func(e *clinic.Enrolment) { e.Consent.Method = "telepathy" }, "consent.method"},
	} {
		in := good
		tc.edit(&in)
		_, err := f.svc.Enrol(ctx, a.Clinic.ID, in)
		var fe *clinic.FieldError
		if !errors.As(err, &fe) || fe.Field != tc.field {
			t.Errorf("want a %s error, got %v", tc.field, err)
		}
	}
	page, err := f.svc.Clients(ctx, a.Clinic.ID, "", 10)
	if err != nil || len(page.Items) != 0 {
		t.Errorf("bad enrolments left clients: %+v %v", page.Items, err)
	}
}

// planned returns the client's queued occurrences (pdue), by key.
func planned(t *testing.T, f *fixture, clientID string) map[string]time.Time {
	t.Helper()
	zs, err := f.rdb.ZRangeWithScores(context.Background(), f.st.Prefix()+"pdue", 0, -1).Result()
	if err != nil {
		t.Fatal(err)
	}
	out := map[string]time.Time{}
	for _, z := range zs {
		m := z.Member.(string)
		if rest, ok := strings.CutPrefix(m, clientID+"|"); ok {
			out[rest] = time.Unix(int64(z.Score), 0).UTC()
		}
	}
	return out
}

func TestSessionPromptsArePlannedAroundEachSessionAndMoveWithIt(t *testing.T) {
	f := setup(t)
	ctx := context.Background()
	a := f.clinic(t, "A")
	c := f.enrol(t, a.Clinic.ID, clinic.Enrolment{Email: "sam@example.org", TimeZone: "America/New_York"})
	after, err := f.svc.AddPrompt(ctx, a.Clinic.ID, c.ID, clinic.NewPrompt{Rule: "session+2d@18:00", Template: 1})
	if err != nil {
		t.Fatal(err)
	}
	before, err := f.svc.AddPrompt(ctx, a.Clinic.ID, c.ID, clinic.NewPrompt{Rule: "session-1d@19:00", Text: "What would you like to bring on Tuesday?"})
	if err != nil {
		t.Fatal(err)
	}
	if !after.Next.IsZero() || len(planned(t, f, c.ID)) != 0 {
		t.Fatalf("with no session nothing is planned: next %v, planned %v", after.Next, planned(t, f, c.ID))
	}
	// Tuesday 8 December 2026, 15:00 in New York (20:00 UTC).
	session := time.Date(2026, 12, 8, 20, 0, 0, 0, time.UTC)
	v, err := f.svc.SetSession(ctx, a.Clinic.ID, c.ID, session)
	if err != nil {
		t.Fatal(err)
	}
	if !v.NextSession.Equal(session) {
		t.Errorf("next session %v, want %v", v.NextSession, session)
	}
	s := "|" + itoa(session.Unix())
	want := map[string]time.Time{
		after.ID + s:  time.Date(2026, 12, 10, 23, 0, 0, 0, time.UTC), // Thursday 18:00 EST
		before.ID + s: time.Date(2026, 12, 8, 0, 0, 0, 0, time.UTC),   // Monday 19:00 EST
	}
	assertPlanned(t, planned(t, f, c.ID), want)

	// The session moves to Wednesday: the old occurrences go, new ones come.
	moved := session.Add(24 * time.Hour)
	if _, err := f.svc.SetSession(ctx, a.Clinic.ID, c.ID, moved); err != nil {
		t.Fatal(err)
	}
	m := "|" + itoa(moved.Unix())
	assertPlanned(t, planned(t, f, c.ID), map[string]time.Time{
		after.ID + m:  time.Date(2026, 12, 11, 23, 0, 0, 0, time.UTC),
		before.ID + m: time.Date(2026, 12, 9, 0, 0, 0, 0, time.UTC),
	})
	keys, err := f.st.PlannedPrompts(ctx, c.ID)
	if err != nil || len(keys) != 2 {
		t.Errorf("valid occurrences %v %v, want the two of the moved session", keys, err)
	}
	if ok, _ := f.st.PromptPlanned(ctx, store.PromptOccurrence{ClientID: c.ID, PromptID: after.ID, Session: session.Unix()}); ok {
		t.Error("an occurrence of the old session is still valid")
	}

	// After the session, the next one is set: the prompts after the session
	// that passed stay planned, and the next session's come too.
	f.now = moved.Add(time.Hour)
	next := moved.Add(7 * 24 * time.Hour)
	if _, err := f.svc.SetSession(ctx, a.Clinic.ID, c.ID, next); err != nil {
		t.Fatal(err)
	}
	n := "|" + itoa(next.Unix())
	assertPlanned(t, planned(t, f, c.ID), map[string]time.Time{
		after.ID + m:  time.Date(2026, 12, 11, 23, 0, 0, 0, time.UTC),
		after.ID + n:  time.Date(2026, 12, 18, 23, 0, 0, 0, time.UTC),
		before.ID + n: time.Date(2026, 12, 16, 0, 0, 0, 0, time.UTC),
	})

	// Removing a prompt drops its occurrences.
	if err := f.svc.RemovePrompt(ctx, a.Clinic.ID, c.ID, before.ID); err != nil {
		t.Fatal(err)
	}
	assertPlanned(t, planned(t, f, c.ID), map[string]time.Time{
		after.ID + m: time.Date(2026, 12, 11, 23, 0, 0, 0, time.UTC),
		after.ID + n: time.Date(2026, 12, 18, 23, 0, 0, 0, time.UTC),
	})
	if err := f.svc.RemovePrompt(ctx, a.Clinic.ID, c.ID, before.ID); !errors.Is(err, store.ErrNotFound) {
		t.Errorf("removing twice: %v, want not found", err)
	}
}

func TestTextedClientsGetPromptsInsideTheSMSWindow(t *testing.T) {
	f := setup(t)
	ctx := context.Background()
	a := f.clinic(t, "A")
	c := f.enrol(t, a.Clinic.ID, clinic.Enrolment{Phone: "+447400123456", TimeZone: "Europe/London"})
	// 07:00 the day after the session is before the window opens at 09:00.
	p, err := f.svc.AddPrompt(ctx, a.Clinic.ID, c.ID, clinic.NewPrompt{Rule: "session+1d@07:00", Template: 2})
	if err != nil {
		t.Fatal(err)
	}
	session := time.Date(2026, 12, 8, 15, 0, 0, 0, time.UTC)
	if _, err := f.svc.SetSession(ctx, a.Clinic.ID, c.ID, session); err != nil {
		t.Fatal(err)
	}
	assertPlanned(t, planned(t, f, c.ID), map[string]time.Time{
		p.ID + "|" + itoa(session.Unix()): time.Date(2026, 12, 9, 9, 0, 0, 0, time.UTC),
	})
}

func TestPromptContentIsCheckedAndCleaned(t *testing.T) {
	f := setup(t)
	ctx := context.Background()
	a := f.clinic(t, "A")
	c := f.enrol(t, a.Clinic.ID, clinic.Enrolment{Email: "sam@example.org"})
	for _, tc := range []struct {
		in    clinic.NewPrompt
		field string
	}{
		{clinic.NewPrompt{Rule: "tomorrow", Template: 1}, "rule"},
		{clinic.NewPrompt{Rule: "session+1d", Template: 1}, "rule"},
		{clinic.NewPrompt{Rule: "at:2020-01-01T00:00:00Z", Template: 1}, "rule"},
		{clinic.NewPrompt{Rule: "session+1d@18:00"}, "text"},
		{clinic.NewPrompt{Rule: "session+1d@18:00", Template: 1, Text: "both"}, "text"},
		{clinic.NewPrompt{Rule: "session+1d@18:00", Template: 999}, "template"},
		{clinic.NewPrompt{Rule: "session+1d@18:00", Text: strings.Repeat("long words ", 30)}, "text"},
	} {
		_, err := f.svc.AddPrompt(ctx, a.Clinic.ID, c.ID, tc.in)
		var fe *clinic.FieldError
		if !errors.As(err, &fe) || fe.Field != tc.field {
			t.Errorf("AddPrompt(%+v) = %v, want a %s error", tc.in, err, tc.field)
		}
	}
	p, err := f.svc.AddPrompt(ctx, a.Clinic.ID, c.ID, clinic.NewPrompt{Rule: "SESSION+1D@18:00", Text: "Take a\x07 walk\nwith someone.\x1b"})
	if err != nil {
		t.Fatal(err)
	}
	if p.Text != "Take a walk with someone." || p.Rule != "session+1d@18:00" {
		t.Errorf("stored %q with rule %q", p.Text, p.Rule)
	}
	list, err := f.svc.Prompts(ctx, a.Clinic.ID, c.ID)
	if err != nil || len(list) != 1 || list[0].ID != p.ID {
		t.Errorf("Prompts = %+v %v", list, err)
	}
}

func TestPauseResumeAndRemoveStayInsideTheClinic(t *testing.T) {
	f := setup(t)
	ctx := context.Background()
	a, b := f.clinic(t, "A"), f.clinic(t, "B")
	c := f.enrol(t, a.Clinic.ID, clinic.Enrolment{Email: "sam@example.org"})
	until := t0.Add(7 * 24 * time.Hour)
	if _, err := f.svc.Pause(ctx, b.Clinic.ID, c.ID, until); !errors.Is(err, store.ErrNotFound) {
		t.Errorf("b pausing a's client: %v", err)
	}
	if err := f.svc.Remove(ctx, b.Clinic.ID, c.ID); !errors.Is(err, store.ErrNotFound) {
		t.Errorf("b removing a's client: %v", err)
	}
	v, err := f.svc.Pause(ctx, a.Clinic.ID, c.ID, until)
	if err != nil || !v.PausedUntil.Equal(until) {
		t.Fatalf("paused until %v, %v", v.PausedUntil, err)
	}
	if _, err := f.svc.Pause(ctx, a.Clinic.ID, c.ID, t0.Add(-time.Hour)); err == nil {
		t.Error("a pause in the past was taken")
	}
	if v, err = f.svc.Resume(ctx, a.Clinic.ID, c.ID); err != nil || !v.PausedUntil.IsZero() {
		t.Fatalf("resumed: %v, %v", v.PausedUntil, err)
	}
	if _, err := f.svc.AddPrompt(ctx, a.Clinic.ID, c.ID, clinic.NewPrompt{Rule: "at:2026-12-03T18:00:00Z", Template: 1}); err != nil {
		t.Fatal(err)
	}
	if err := f.svc.Remove(ctx, a.Clinic.ID, c.ID); err != nil {
		t.Fatal(err)
	}
	if _, err := f.svc.Client(ctx, a.Clinic.ID, c.ID); !errors.Is(err, store.ErrNotFound) {
		t.Errorf("after removal: %v", err)
	}
	if n := len(planned(t, f, c.ID)); n != 0 {
		t.Errorf("%d occurrences still queued after removal", n)
	}
	keys, _ := f.rdb.Keys(ctx, f.st.Prefix()+"*"+c.ID+"*").Result()
	for _, k := range keys {
		if !strings.Contains(k, "consent:") { // nothing, in fact: the ledger goes too
			t.Errorf("left after removal: %s", k)
		}
	}
	// The address can be enrolled again.
	f.enrol(t, a.Clinic.ID, clinic.Enrolment{Email: "sam@example.org"})
}

func assertPlanned(t *testing.T, got, want map[string]time.Time) {
	t.Helper()
	if len(got) != len(want) {
		t.Errorf("planned %v, want %v", got, want)
		return
	}
	for k, w := range want {
		if g, ok := got[k]; !ok || !g.Equal(w) {
			t.Errorf("occurrence %s at %v, want %v (all: %v)", k, g, w, got)
		}
	}
}

func itoa(n int64) string { return strconv.FormatInt(n, 10) }

// A clinic's own words are stored as they will be shown: no bidirectional
// override or other invisible character can make a prompt read otherwise.
func TestPromptTextIsStoredWithoutFormatCharacters(t *testing.T) {
	f := setup(t)
	ctx := context.Background()
	a := f.clinic(t, "A")
	c := f.enrol(t, a.Clinic.ID, clinic.Enrolment{Email: "sam@example.org", TimeZone: "America/New_York"})
	p, err := f.svc.AddPrompt(ctx, a.Clinic.ID, c.ID, clinic.NewPrompt{Rule: "session+2d@18:00",
		Text: "Call \u202eyour sister\u202c today\u2066?\u2069 \u200bok\ufeff"})
	if err != nil {
		t.Fatal(err)
	}
	st, err := f.st.PromptStateOf(ctx, a.Clinic.ID, c.ID)
	if err != nil {
		t.Fatal(err)
	}
	for _, got := range append([]string{p.Text}, func() (out []string) {
		for _, q := range st.Prompts {
			out = append(out, q.Text)
		}
		return out
	}()...) {
		if got != "Call your sister today? ok" {
			t.Errorf("stored %q", got)
		}
	}
}

func TestSetWebhook(t *testing.T) {
	f := setup(t)
	ctx := context.Background()
	c, err := f.svc.CreateClinic(ctx, clinic.NewClinic{Name: "Riverside"})
	if err != nil {
		t.Fatal(err)
	}
	first, _ := f.st.ClinicWebhookSecret(ctx, c.Clinic.ID)

	// Refused URLs change nothing and name the field and the reason.
	for _, tc := range []struct{ url, msg string }{
		{"http://hooks.clinic.example/", "https"},
		{"https://127.0.0.1/hook", "not a public address"},
		{"https://169.254.169.254/latest/meta-data/", "not a public address"},
		{"https://[::1]/hook", "not a public address"},
		{"https://localhost/hook", "address not public"},
		{"https://user:pass@hooks.clinic.example/", "user name or password"},
	} {
		_, err := f.svc.SetWebhook(ctx, c.Clinic.ID, tc.url)
		var fe *clinic.FieldError
		if !errors.As(err, &fe) || fe.Field != "url" || !strings.Contains(fe.Message, tc.msg) {
			t.Errorf("SetWebhook(%q) = %v, want an invalid url saying %q", tc.url, err, tc.msg)
		}
	}
	if got, _ := f.svc.Clinic(ctx, c.Clinic.ID); got.WebhookURL != "" {
		t.Fatalf("a refused URL was stored: %q", got.WebhookURL)
	}

	// Turning webhooks on makes a new secret, shown once; a new URL keeps it.
	on, err := f.svc.SetWebhook(ctx, c.Clinic.ID, " https://hooks.clinic.example/nudge ")
	if err != nil {
		t.Fatal(err)
	}
	stored, _ := f.st.ClinicWebhookSecret(ctx, c.Clinic.ID)
	if on.URL != "https://hooks.clinic.example/nudge" || !strings.HasPrefix(on.Secret, "whsec_") || on.Secret == first || stored != on.Secret {
		t.Fatalf("turned on: %+v (stored secret changed: %v)", on, stored != first)
	}
	moved, err := f.svc.SetWebhook(ctx, c.Clinic.ID, "https://hooks2.clinic.example/nudge")
	if err != nil || moved.Secret != "" {
		t.Fatalf("moved: %+v, %v; want no new secret", moved, err)
	}
	if s, _ := f.st.ClinicWebhookSecret(ctx, c.Clinic.ID); s != on.Secret {
		t.Error("moving the URL changed the secret")
	}
	if got, _ := f.svc.Clinic(ctx, c.Clinic.ID); got.WebhookURL != "https://hooks2.clinic.example/nudge" {
		t.Errorf("stored URL %q", got.WebhookURL)
	}
	off, err := f.svc.SetWebhook(ctx, c.Clinic.ID, "")
	if got, _ := f.svc.Clinic(ctx, c.Clinic.ID); err != nil || off.Secret != "" || got.WebhookURL != "" {
		t.Errorf("off: %+v, %v, stored %q", off, err, got.WebhookURL)
	}
	if _, err := f.svc.SetWebhook(ctx, "cnosuchclinic", "https://hooks.clinic.example/"); domain.ErrorCode(err) != domain.ErrNotFound {
		t.Errorf("unknown clinic: %v", err)
	}
	if _, err := f.st.Clinic(ctx, "cnosuchclinic"); !errors.Is(err, store.ErrNotFound) {
		t.Errorf("setting a webhook created a clinic: %v", err)
	}
}
