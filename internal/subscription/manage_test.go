package subscription_test

import (
	"context"
	"encoding/json"
	"errors"
	"io"
	"log/slog"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/hibiken/asynq"
	"github.com/nudgehq/nudge/internal/domain"
	"github.com/nudgehq/nudge/internal/redistest"
	"github.com/nudgehq/nudge/internal/store"
	"github.com/nudgehq/nudge/internal/subscription"
	"github.com/nudgehq/nudge/internal/task"
	"github.com/nudgehq/nudge/scheduler"
)

func TestMain(m *testing.M) { redistest.Main(m, redistest.DBClinic) }

// Monday 30 November 2026, 09:00 UTC.
var t0 = time.Date(2026, 11, 30, 9, 0, 0, 0, time.UTC)

type bundle struct {
	st  *store.Store
	mgr *subscription.Manager
	svc *subscription.Service
	now time.Time
}

func setup(t *testing.T) *bundle {
	t.Helper()
	t.Parallel()
	rdb := redistest.Client(t, redistest.DBClinic)
	b := &bundle{st: store.New(rdb, redistest.Prefix(t)), now: t0}
	now := func() time.Time { return b.now }
	logger := slog.New(slog.NewTextHandler(io.Discard, nil))
	client := asynq.NewClientFromRedisClient(rdb)
	b.svc = subscription.New(b.st, client, now, logger)
	b.mgr = subscription.NewManager(subscription.ManagerConfig{
		Store: b.st, Tasks: asynq.NewInspectorFromRedisClient(rdb), SMSWindow: scheduler.DefaultSMSWindow, Now: now, Logger: logger,
	})
	return b
}

var origin = subscription.Origin{Source: subscription.SourceManagePage, IP: "192.0.2.7", UserAgent: "test-browser"}

// active makes an active subscriber with a weekly check-in on Tuesdays at
// 18:30 in London (and a phone, when given).
func (b *bundle) active(t *testing.T, email, phone string) string {
	t.Helper()
	ctx := context.Background()
	sub := domain.Subscriber{FirstName: "Ada", Email: email, Phone: phone, TimeZone: "Europe/London", Locale: "en", CreatedAt: b.now}
	if phone != "" {
		sub.SMSStatus = domain.SMSActive
	}
	res, err := b.st.Signup(ctx, sub, []domain.Schedule{{Program: domain.WeeklyCheckin, Rule: "weekly:tue@18:30"}},
		store.ConsentEvent{At: b.now, Action: store.ConsentSignup, Channel: "email", Source: "form"})
	if err != nil {
		t.Fatal(err)
	}
	if err := b.svc.Confirm(ctx, res.ID, subscription.Origin{Source: "link"}); err != nil {
		t.Fatal(err)
	}
	return res.ID
}

func prefs(schedules ...domain.Schedule) subscription.Preferences {
	return subscription.Preferences{Schedules: schedules, TimeZone: "Europe/London", Locale: "en", Channels: []domain.Channel{domain.Email}}
}

func TestChangePreferencesRefusesWhatCannotBeKept(t *testing.T) {
	b := setup(t)
	withPhone := b.active(t, "ada@example.org", "+447700900123")
	noPhone := b.active(t, "bea@example.org", "")
	weekly := func(rule string) domain.Schedule { return domain.Schedule{Program: domain.WeeklyCheckin, Rule: rule} }
	tests := []struct {
		name string
		id   string
		edit func(*subscription.Preferences)
		want map[string]string
	}{
		{"sms without a number", noPhone, func(p *subscription.Preferences) { p.Channels = []domain.Channel{domain.SMS} },
			map[string]string{"channels": subscription.ReasonNoPhone}},
		{"sms at night", withPhone, func(p *subscription.Preferences) {
			p.Channels = []domain.Channel{domain.Email, domain.SMS}
			p.Schedules = []domain.Schedule{weekly("weekly:tue@21:30"), {Program: domain.Gratitude, Rule: "weekly:fri@10:00"}}
		}, map[string]string{"weekly-checkin": subscription.ReasonSMSWindow}},
		{"sms at the window's end", withPhone, func(p *subscription.Preferences) {
			p.Channels = []domain.Channel{domain.SMS}
			p.Schedules = []domain.Schedule{weekly("weekly:tue@20:00")}
		}, map[string]string{"weekly-checkin": subscription.ReasonSMSWindow}},
		{"no channel", withPhone, func(p *subscription.Preferences) { p.Channels = nil }, map[string]string{"channels": subscription.ReasonMissing}},
		{"no program", withPhone, func(p *subscription.Preferences) { p.Schedules = nil }, map[string]string{"programs": subscription.ReasonMissing}},
		{"clinic program", withPhone, func(p *subscription.Preferences) {
			p.Schedules = []domain.Schedule{{Program: domain.BetweenSession, Rule: "weekly:tue@10:00"}}
		}, map[string]string{"programs": subscription.ReasonInvalid}},
		{"bad rule", withPhone, func(p *subscription.Preferences) { p.Schedules = []domain.Schedule{weekly("weekly:someday@10:00")} },
			map[string]string{"weekly-checkin": subscription.ReasonInvalid}},
		{"unknown zone", withPhone, func(p *subscription.Preferences) { p.TimeZone = "Mars/Olympus" }, map[string]string{"tz": subscription.ReasonInvalid}},
		{"unknown language", withPhone, func(p *subscription.Preferences) { p.Locale = "fr" }, map[string]string{"locale": subscription.ReasonInvalid}},
		{"long goal", withPhone, func(p *subscription.Preferences) { p.Goal = string(make([]rune, 61)) }, map[string]string{"goal": subscription.ReasonTooLong}},
		{"goal with a newline", withPhone, func(p *subscription.Preferences) { p.Goal = "a\nb" }, map[string]string{"goal": subscription.ReasonInvalid}},
	}
	for _, tt := range tests {
		p := prefs(weekly("weekly:tue@18:30"))
		tt.edit(&p)
		_, err := b.mgr.ChangePreferences(context.Background(), tt.id, p, origin)
		var fe *subscription.FieldErrors
		if !errors.As(err, &fe) {
			t.Errorf("%s: err = %v, want FieldErrors", tt.name, err)
			continue
		}
		if diff := cmp.Diff(tt.want, fe.Fields); diff != "" {
			t.Errorf("%s: fields (-want +got):\n%s", tt.name, diff)
		}
		if domain.ErrorCode(err) != domain.ErrInvalid {
			t.Errorf("%s: code = %s", tt.name, domain.ErrorCode(err))
		}
	}
	ev, _ := b.st.Consent(context.Background(), withPhone)
	if last := ev[len(ev)-1]; last.Action == store.ConsentPreferences {
		t.Error("a refused change was recorded")
	}
}

func TestChangePreferencesPlansFromTheNewZoneAtOnce(t *testing.T) {
	b := setup(t)
	ctx := context.Background()
	id := b.active(t, "ada@example.org", "+447700900123")
	before, _ := b.st.Schedule(ctx, id, domain.WeeklyCheckin)

	p := prefs(domain.Schedule{Program: domain.WeeklyCheckin, Rule: "weekly:tue@18:30"}, domain.Schedule{Program: domain.Gratitude, Rule: "weekly:fri@09:05"})
	p.TimeZone, p.Locale, p.Goal = "America/New_York", "es", "mi hermana"
	p.Channels = []domain.Channel{domain.SMS, domain.Email, domain.SMS}
	change, err := b.mgr.ChangePreferences(ctx, id, p, origin)
	if err != nil {
		t.Fatal(err)
	}
	if !change.Changed() || len(change.Rescheduled) != 1 || len(change.Added) != 1 {
		t.Errorf("change = %+v", change)
	}
	scheds, _ := b.st.Schedules(ctx, id)
	// Tuesday 1 December 18:30 and Friday 4 December 09:05 in New York.
	want := []time.Time{time.Date(2026, 12, 1, 23, 30, 0, 0, time.UTC), time.Date(2026, 12, 4, 14, 5, 0, 0, time.UTC)}
	if len(scheds) != 2 || !scheds[0].Next.Equal(want[0]) || !scheds[1].Next.Equal(want[1]) || scheds[1].Rule != "weekly:fri@09:05" {
		t.Fatalf("schedules = %+v, want next %v", scheds, want)
	}
	if scheds[0].Version <= before.Version {
		t.Errorf("version %d -> %d: a task queued for the London time would still go", before.Version, scheds[0].Version)
	}
	sub, _ := b.st.Subscriber(ctx, id)
	if !cmp.Equal(sub.Channels, []domain.Channel{domain.Email, domain.SMS}) || sub.Locale != "es" || sub.TimeZone != "America/New_York" {
		t.Errorf("subscriber = %+v", sub)
	}
	ev, _ := b.st.Consent(ctx, id)
	last := ev[len(ev)-1]
	if last.Action != store.ConsentPreferences || last.Source != subscription.SourceManagePage || last.IP != "192.0.2.7" ||
		last.UserAgent != "test-browser" || last.Channel != "email,sms" || last.Detail == "" {
		t.Errorf("ledger's last event = %+v", last)
	}

	// The same choices again change nothing.
	n := len(ev)
	if change, err := b.mgr.ChangePreferences(ctx, id, p, origin); err != nil || change.Changed() {
		t.Errorf("repeat = %+v, %v", change, err)
	}
	if ev, _ := b.st.Consent(ctx, id); len(ev) != n {
		t.Error("a repeat was recorded")
	}
}

func TestChangePreferencesOfAnUnsubscribedSubscriber(t *testing.T) {
	b := setup(t)
	ctx := context.Background()
	id := b.active(t, "ada@example.org", "")
	if err := b.svc.Unsubscribe(ctx, id, origin); err != nil {
		t.Fatal(err)
	}
	_, err := b.mgr.ChangePreferences(ctx, id, prefs(domain.Schedule{Program: domain.Gratitude, Rule: "weekly:fri@10:00"}), origin)
	if !errors.Is(err, subscription.ErrNotActive) {
		t.Fatalf("err = %v, want ErrNotActive", err)
	}
	if n, _ := b.st.DueCount(ctx); n != 0 {
		t.Errorf("an unsubscribed subscriber has %d due entries", n)
	}
}

func TestPauseUntilADateAndResume(t *testing.T) {
	b := setup(t)
	ctx := context.Background()
	id := b.active(t, "ada@example.org", "")
	// Monday 30 November in London: tomorrow is the earliest, 30 May 2027
	// the latest.
	for date, reason := range map[string]string{
		"2026-11-30": subscription.ReasonPast, "2026-11-01": subscription.ReasonPast, "2027-05-31": subscription.ReasonTooFar,
		"31/12/2026": subscription.ReasonInvalid, "": subscription.ReasonInvalid,
	} {
		_, err := b.mgr.PauseUntil(ctx, id, date, origin)
		var fe *subscription.FieldErrors
		if !errors.As(err, &fe) || fe.Fields["until"] != reason {
			t.Errorf("pause until %q = %v, want %s", date, err, reason)
		}
	}
	for _, date := range []string{"2026-12-01", "2027-05-30"} {
		if _, err := b.mgr.PauseUntil(ctx, id, date, origin); err != nil {
			t.Errorf("pause until %s = %v", date, err)
		}
	}
	until, err := b.mgr.PauseUntil(ctx, id, "2027-04-10", origin)
	if err != nil {
		t.Fatal(err)
	}
	// Midnight in London, which is on summer time by then.
	if want := time.Date(2027, 4, 9, 23, 0, 0, 0, time.UTC); !until.Equal(want) {
		t.Errorf("paused until %v, want %v", until, want)
	}
	sub, _ := b.st.Subscriber(ctx, id)
	if !sub.PausedUntil.Equal(until) {
		t.Errorf("stored pause %v, want %v", sub.PausedUntil, until)
	}
	if err := b.mgr.Resume(ctx, id, origin); err != nil {
		t.Fatal(err)
	}
	sub, _ = b.st.Subscriber(ctx, id)
	ev, _ := b.st.Consent(ctx, id)
	last := ev[len(ev)-1]
	if !sub.PausedUntil.IsZero() || last.Action != store.ConsentResume || ev[len(ev)-2].Detail != "until 2027-04-10" {
		t.Errorf("after resuming: paused until %v, ledger ends %+v, %+v", sub.PausedUntil, ev[len(ev)-2], last)
	}
	// Resuming again records nothing.
	if err := b.mgr.Resume(ctx, id, origin); err != nil {
		t.Fatal(err)
	}
	if ev2, _ := b.st.Consent(ctx, id); len(ev2) != len(ev) {
		t.Error("a resume while not paused was recorded")
	}
}

func TestExportHasEverythingOfOneSubscriber(t *testing.T) {
	b := setup(t)
	ctx := context.Background()
	id := b.active(t, "ada@example.org", "+447700900123")
	other := b.active(t, "bea@example.org", "+447700900456")
	for _, who := range []string{id, other} {
		k := store.DeliveryKey{SubscriberID: who, Program: domain.WeeklyCheckin, Date: "2026-12-01", Channel: domain.SMS}
		if err := b.st.ClaimDelivery(ctx, k, t0); err != nil {
			t.Fatal(err)
		}
		if err := b.st.FinishDelivery(ctx, k, store.Sent, "SM-"+who, "", t0); err != nil {
			t.Fatal(err)
		}
		if err := b.st.AddReply(ctx, who, store.Reply{At: t0, Channel: "sms", Text: "reply of " + who}); err != nil {
			t.Fatal(err)
		}
	}
	ex, err := b.mgr.Export(ctx, id)
	if err != nil {
		t.Fatal(err)
	}
	if ex.Subscriber.ID != id || ex.Subscriber.Email != "ada@example.org" || ex.Subscriber.Phone != "+447700900123" || ex.Subscriber.Status != "active" {
		t.Errorf("subscriber = %+v", ex.Subscriber)
	}
	if len(ex.Schedules) != 1 || !ex.Schedules[0].Chosen || ex.Schedules[0].Rule != "weekly:tue@18:30" {
		t.Errorf("schedules = %+v", ex.Schedules)
	}
	if len(ex.Consent) != 2 || len(ex.Replies) != 1 || ex.Replies[0].Text != "reply of "+id {
		t.Errorf("consent = %+v, replies = %+v", ex.Consent, ex.Replies)
	}
	if len(ex.Deliveries) != 1 || ex.Deliveries[0].ProviderID != "SM-"+id {
		t.Errorf("deliveries = %+v", ex.Deliveries)
	}
}

func TestEraseDeletesTheSubscribersQueuedTasks(t *testing.T) {
	b := setup(t)
	ctx := context.Background()
	rdb := redistest.Client(t, redistest.DBClinic)
	client := asynq.NewClientFromRedisClient(rdb)
	inspector := asynq.NewInspectorFromRedisClient(rdb)
	id := b.active(t, "ada@example.org", "")
	other := b.active(t, "bea@example.org", "")

	// A nudge waiting for its time and one due now, for each of them; the
	// welcome notices Confirm queued are there already.
	var mine, theirs []string
	for _, who := range []string{id, other} {
		for i, date := range []string{"2026-12-01", "2026-12-08"} {
			p := task.DeliverNudge{SubscriberID: who, Program: domain.WeeklyCheckin, Date: date, At: t0.Unix(), Version: 1}
			tk, err := task.NewDeliverNudge(p, time.Duration(i)*time.Hour)
			if err != nil {
				t.Fatal(err)
			}
			if _, err := client.EnqueueContext(ctx, tk); err != nil {
				t.Fatal(err)
			}
			if who == id {
				mine = append(mine, p.ID())
			} else {
				theirs = append(theirs, p.ID())
			}
		}
	}
	mine = append(mine, "notice:"+id+":welcome:1")
	theirs = append(theirs, "notice:"+other+":welcome:1")
	queueOf := func(taskID string) string {
		if taskID[:7] == "notice:" {
			return task.QueueCritical
		}
		return task.QueueDefault
	}
	for _, tid := range append(append([]string{}, mine...), theirs...) {
		if _, err := inspector.GetTaskInfo(queueOf(tid), tid); err != nil {
			t.Fatalf("task %s not queued: %v", tid, err)
		}
	}

	res, err := b.mgr.Erase(ctx, id)
	if err != nil {
		t.Fatal(err)
	}
	if !res.Found || res.Tasks != len(mine) {
		t.Errorf("erasure = %+v, want %d tasks deleted", res, len(mine))
	}
	for _, tid := range mine {
		if _, err := inspector.GetTaskInfo(queueOf(tid), tid); !errors.Is(err, asynq.ErrTaskNotFound) {
			t.Errorf("task %s is still there: %v", tid, err)
		}
	}
	for _, tid := range theirs {
		if _, err := inspector.GetTaskInfo(queueOf(tid), tid); err != nil {
			t.Errorf("another subscriber's task %s went: %v", tid, err)
		}
	}
	if _, err := b.st.Subscriber(ctx, id); !errors.Is(err, store.ErrNotFound) {
		t.Errorf("subscriber after erasure: %v", err)
	}
	// The other subscriber's tasks are theirs to keep; clean up for the
	// next run of the package.
	for _, tid := range theirs {
		_ = inspector.DeleteTask(queueOf(tid), tid)
	}
}

// client enrols an active client of a new clinic, with a session on 3
// December and two prompts (a library message after each session, and the
// clinic's own words at a fixed instant), and returns the clinic and the
// client's id.
func (b *bundle) client(t *testing.T, email, phone string) (string, string) {
	t.Helper()
	ctx := context.Background()
	cid := "c" + store.NewID()[:12]
	if err := b.st.CreateClinic(ctx, domain.Clinic{ID: cid, Name: "Private name " + cid, DisplayName: "Harbour Street", CreatedAt: t0}, "whsec_x"); err != nil {
		t.Fatal(err)
	}
	c := domain.Subscriber{ID: store.NewID(), Clinic: cid, FirstName: "Kai", Email: email, Phone: phone, TimeZone: "Europe/London", Locale: "en",
		Channels: []domain.Channel{domain.Email}, CreatedAt: t0}
	if phone != "" {
		c.Channels, c.SMSStatus = append(c.Channels, domain.SMS), domain.SMSActive
	}
	if err := b.st.EnrolClient(ctx, c, store.ConsentEvent{At: t0, Action: store.ConsentSignup, Channel: "email", Source: "clinic"}); err != nil {
		t.Fatal(err)
	}
	if err := b.svc.Confirm(ctx, c.ID, subscription.Origin{Source: "link"}); err != nil {
		t.Fatal(err)
	}
	session := time.Date(2026, 12, 3, 15, 0, 0, 0, time.UTC)
	_, err := b.st.UpdatePrompts(ctx, cid, c.ID, t0, func(st *store.PromptState) error {
		st.Sessions = append(st.Sessions, session)
		st.Prompts = append(st.Prompts,
			domain.Prompt{ID: "p1", ClientID: c.ID, Rule: "session+2d@18:00", Template: 3, CreatedAt: t0},
			domain.Prompt{ID: "p2", ClientID: c.ID, Rule: "at:2026-12-10T18:00:00Z", Text: "words of " + c.ID, CreatedAt: t0.Add(time.Minute)})
		return nil
	}, func(st store.PromptState) ([]store.PromptOccurrence, error) {
		return []store.PromptOccurrence{
			{PromptID: "p1", Session: session.Unix(), At: time.Date(2026, 12, 5, 18, 0, 0, 0, time.UTC)},
			{PromptID: "p2", At: time.Date(2026, 12, 10, 18, 0, 0, 0, time.UTC)},
		}, nil
	})
	if err != nil {
		t.Fatal(err)
	}
	return cid, c.ID
}

// clientSnapshot is everything a preference change could touch.
type clientSnapshot struct {
	Sub       domain.Subscriber
	Schedules []domain.Schedule
	Consent   int
	Due       int64
	Prompts   store.PromptState
	Planned   []string
}

func (b *bundle) snapshot(t *testing.T, cid, id string) clientSnapshot {
	t.Helper()
	ctx := context.Background()
	var s clientSnapshot
	var err error
	if s.Sub, err = b.st.Subscriber(ctx, id); err != nil {
		t.Fatal(err)
	}
	if s.Schedules, err = b.st.AllSchedules(ctx, id); err != nil {
		t.Fatal(err)
	}
	ev, err := b.st.Consent(ctx, id)
	if err != nil {
		t.Fatal(err)
	}
	s.Consent = len(ev)
	if s.Due, err = b.st.DueCount(ctx); err != nil {
		t.Fatal(err)
	}
	if s.Prompts, err = b.st.PromptStateOf(ctx, cid, id); err != nil {
		t.Fatal(err)
	}
	if s.Planned, err = b.st.PlannedPrompts(ctx, id); err != nil {
		t.Fatal(err)
	}
	slices.Sort(s.Planned)
	return s
}

func TestChangePreferencesRefusesAClinicsClient(t *testing.T) {
	b := setup(t)
	ctx := context.Background()
	cid, id := b.client(t, "kai@example.org", "+447700900123")
	before := b.snapshot(t, cid, id)
	if before.Sub.Status != domain.Active || len(before.Planned) != 2 {
		t.Fatalf("client = %+v, planned %v", before.Sub, before.Planned)
	}

	// A public program, a new zone, texts only: all valid for a public
	// subscriber, none for a client.
	p := prefs(domain.Schedule{Program: domain.Gratitude, Rule: "weekly:fri@10:00"})
	p.TimeZone, p.Channels, p.Goal = "America/New_York", []domain.Channel{domain.SMS}, "my sister"
	change, err := b.mgr.ChangePreferences(ctx, id, p, origin)
	if !errors.Is(err, subscription.ErrArrangedByClinic) || domain.ErrorCode(err) != domain.ErrForbidden {
		t.Fatalf("err = %v (code %s), want ErrArrangedByClinic", err, domain.ErrorCode(err))
	}
	if change.Changed() {
		t.Errorf("change = %+v", change)
	}
	if diff := cmp.Diff(before, b.snapshot(t, cid, id)); diff != "" {
		t.Errorf("a refused change wrote (-before +after):\n%s", diff)
	}

	// A pending client too: the clinic's arrangement, not the status, is
	// what refuses.
	pending := domain.Subscriber{ID: store.NewID(), Clinic: cid, FirstName: "Lee", Email: "lee@example.org", TimeZone: "Europe/London", Locale: "en", CreatedAt: t0}
	if err := b.st.EnrolClient(ctx, pending, store.ConsentEvent{At: t0, Action: store.ConsentSignup, Source: "clinic"}); err != nil {
		t.Fatal(err)
	}
	before = b.snapshot(t, cid, pending.ID)
	if _, err := b.mgr.ChangePreferences(ctx, pending.ID, prefs(domain.Schedule{Program: domain.WeeklyCheckin, Rule: "weekly:tue@18:30"}), origin); !errors.Is(err, subscription.ErrArrangedByClinic) {
		t.Fatalf("pending client: err = %v, want ErrArrangedByClinic", err)
	}
	if diff := cmp.Diff(before, b.snapshot(t, cid, pending.ID)); diff != "" {
		t.Errorf("a refused change of a pending client wrote (-before +after):\n%s", diff)
	}

	// What a client can do still works: pause and resume.
	if _, err := b.mgr.PauseUntil(ctx, id, "2026-12-20", origin); err != nil {
		t.Fatalf("pause a client: %v", err)
	}
	if err := b.mgr.Resume(ctx, id, origin); err != nil {
		t.Fatalf("resume a client: %v", err)
	}
	if sub, _ := b.st.Subscriber(ctx, id); !sub.PausedUntil.IsZero() || sub.Clinic != cid {
		t.Errorf("client after pause and resume = %+v", sub)
	}
}

func TestExportOfAClientHasTheirClinicSessionsAndPrompts(t *testing.T) {
	b := setup(t)
	ctx := context.Background()
	cid, id := b.client(t, "kai@example.org", "")
	_, other := b.client(t, "lee@example.org", "")
	k := store.DeliveryKey{SubscriberID: id, Program: domain.BetweenSession, Date: "p1|1764774000", Channel: domain.Email}
	if err := b.st.ClaimDelivery(ctx, k, t0); err != nil {
		t.Fatal(err)
	}
	if err := b.st.FinishDelivery(ctx, k, store.Sent, "", "", t0); err != nil {
		t.Fatal(err)
	}

	ex, err := b.mgr.Export(ctx, id)
	if err != nil {
		t.Fatal(err)
	}
	if ex.Clinic == nil || ex.Clinic.ID != cid || ex.Clinic.DisplayName != "Harbour Street" {
		t.Errorf("clinic = %+v", ex.Clinic)
	}
	if want := []time.Time{time.Date(2026, 12, 3, 15, 0, 0, 0, time.UTC)}; !cmp.Equal(ex.Sessions, want) {
		t.Errorf("sessions = %v, want %v", ex.Sessions, want)
	}
	want := []subscription.ExportPrompt{
		{ID: "p1", Rule: "session+2d@18:00", Template: 3, CreatedAt: t0},
		{ID: "p2", Rule: "at:2026-12-10T18:00:00Z", Text: "words of " + id, CreatedAt: t0.Add(time.Minute)},
	}
	if diff := cmp.Diff(want, ex.Prompts); diff != "" {
		t.Errorf("prompts (-want +got):\n%s", diff)
	}
	if len(ex.Deliveries) != 1 || ex.Deliveries[0].Program != string(domain.BetweenSession) {
		t.Errorf("deliveries = %+v", ex.Deliveries)
	}
	b2, _ := json.Marshal(ex)
	for _, leak := range []string{other, "Private name"} {
		if strings.Contains(string(b2), leak) {
			t.Errorf("the export holds %q", leak)
		}
	}

	// A public subscriber's export has none of it.
	pub, err := b.mgr.Export(ctx, b.active(t, "ada@example.org", ""))
	if err != nil {
		t.Fatal(err)
	}
	if pub.Clinic != nil || pub.Sessions != nil || pub.Prompts != nil {
		t.Errorf("a public subscriber's export has clinic %+v, sessions %v, prompts %v", pub.Clinic, pub.Sessions, pub.Prompts)
	}
	raw, _ := json.Marshal(pub)
	for _, key := range []string{`"clinic"`, `"sessions"`, `"prompts"`} {
		if strings.Contains(string(raw), key) {
			t.Errorf("a public subscriber's export has %s", key)
		}
	}
}
