package store_test

import (
	"context"
	"errors"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/nudgehq/nudge/internal/domain"
	"github.com/nudgehq/nudge/internal/store"
)

// newSubscriber signs sub up with one schedule per non-empty rule (the
// public programs in order) and, when activate is set, confirms them with each
// schedule planned an hour apart from t0.
func newSubscriber(t *testing.T, st *store.Store, sub domain.Subscriber, activate bool, rules ...string) string {
	t.Helper()
	ctx := context.Background()
	var scheds []domain.Schedule
	next := map[domain.Program]time.Time{}
	for i, r := range rules {
		if r == "" {
			continue
		}
		p := domain.PublicPrograms[i]
		scheds = append(scheds, domain.Schedule{Program: p, Rule: r})
		next[p] = t0.Add(time.Duration(i+1) * time.Hour)
	}
	if sub.TimeZone == "" {
		sub.TimeZone = "Europe/London"
	}
	if sub.Locale == "" {
		sub.Locale = "en"
	}
	sub.CreatedAt = t0
	res, err := st.Signup(ctx, sub, scheds, store.ConsentEvent{At: t0, Action: store.ConsentSignup, Channel: "email", Source: "form"})
	if err != nil {
		t.Fatalf("signup: %v", err)
	}
	if activate {
		if ok, err := st.Activate(ctx, res.ID, t0, next, store.ConsentEvent{At: t0, Action: store.ConsentConfirm}); err != nil || !ok {
			t.Fatalf("activate = %v, %v", ok, err)
		}
	}
	return res.ID
}

// dueScore returns the due-index instant of a schedule, or zero when it is
// not in the index. It reads the index itself (members
// "<id>|<program>|<version>|<rule>|<zone>", scores instant × 2^20 + step)
// and fails when the schedule has more than one entry.
func dueScore(t *testing.T, st *store.Store, id string, p domain.Program) time.Time {
	t.Helper()
	all, err := st.Redis().ZRangeWithScores(context.Background(), st.Prefix()+"due:"+strconv.Itoa(store.ShardOf(id)), 0, -1).Result()
	if err != nil {
		t.Fatal(err)
	}
	var at time.Time
	for _, z := range all {
		if m, _ := z.Member.(string); strings.HasPrefix(m, id+"|"+string(p)+"|") {
			if !at.IsZero() {
				t.Fatalf("%s/%s has more than one due entry", id, p)
			}
			at = time.Unix(int64(z.Score)>>20, 0).UTC()
		}
	}
	return at
}

func versions(t *testing.T, st *store.Store, id string) map[domain.Program]int64 {
	t.Helper()
	all, err := st.AllSchedules(context.Background(), id)
	if err != nil {
		t.Fatal(err)
	}
	out := map[domain.Program]int64{}
	for _, sc := range all {
		out[sc.Program] = sc.Version
	}
	return out
}

func prefsOf(t *testing.T, st *store.Store, id string) store.Preferences {
	t.Helper()
	sub, err := st.Subscriber(context.Background(), id)
	if err != nil {
		t.Fatal(err)
	}
	scheds, err := st.Schedules(context.Background(), id)
	if err != nil {
		t.Fatal(err)
	}
	var rules []domain.Schedule
	for _, sc := range scheds {
		rules = append(rules, domain.Schedule{Program: sc.Program, Rule: sc.Rule})
	}
	return store.Preferences{TimeZone: sub.TimeZone, Locale: sub.Locale, Goal: sub.Goal, Channels: sub.Channels, Schedules: rules}
}

func prefsEvent() store.ConsentEvent {
	return store.ConsentEvent{At: t0, Action: store.ConsentPreferences, Channel: "email", Source: "manage-page", IP: "192.0.2.1", UserAgent: "test"}
}

func TestUpdatePreferencesChangesAddsAndDropsSchedules(t *testing.T) {
	st := setup(t)
	ctx := context.Background()
	id := newSubscriber(t, st, domain.Subscriber{FirstName: "Ada", Email: "ada@example.org"}, true, "weekly:tue@18:30", "", "monthly:last-fri@10:00")
	before := versions(t, st, id)

	p := prefsOf(t, st, id)
	p.Schedules = []domain.Schedule{
		{Program: domain.WeeklyCheckin, Rule: "weekly:wed@19:00"},
		{Program: domain.Gratitude, Rule: "weekly:fri@19:00"},
	}
	p.Locale, p.Goal = "es", "my brother"
	wed, fri := t0.Add(48*time.Hour), t0.Add(96*time.Hour)
	p.Next = map[domain.Program]time.Time{domain.WeeklyCheckin: wed, domain.Gratitude: fri}
	change, err := st.UpdatePreferences(ctx, id, p, prefsEvent())
	if err != nil {
		t.Fatal(err)
	}
	want := store.PreferenceChange{
		Added: []domain.Program{domain.Gratitude}, Removed: []domain.Program{domain.MonthlyReview},
		Rescheduled: []domain.Program{domain.WeeklyCheckin}, Fields: []string{"locale", "goal"},
	}
	if diff := cmp.Diff(want, change, cmp.FilterPath(func(p cmp.Path) bool { return p.Last().String() == ".Detail" }, cmp.Ignore())); diff != "" {
		t.Errorf("change (-want +got):\n%s", diff)
	}
	after := versions(t, st, id)
	if after[domain.WeeklyCheckin] <= before[domain.WeeklyCheckin] || after[domain.MonthlyReview] <= before[domain.MonthlyReview] {
		t.Errorf("versions did not move on: before %v, after %v", before, after)
	}
	if got := dueScore(t, st, id, domain.WeeklyCheckin); !got.Equal(wed) {
		t.Errorf("check-in planned at %v, want %v", got, wed)
	}
	if got := dueScore(t, st, id, domain.Gratitude); !got.Equal(fri) {
		t.Errorf("gratitude planned at %v, want %v", got, fri)
	}
	if got := dueScore(t, st, id, domain.MonthlyReview); !got.IsZero() {
		t.Errorf("a dropped program is still due at %v", got)
	}
	scheds, _ := st.Schedules(ctx, id)
	if len(scheds) != 2 || scheds[0].Rule != "weekly:wed@19:00" || scheds[1].Rule != "weekly:fri@19:00" || !scheds[0].Next.Equal(wed) {
		t.Errorf("schedules = %+v", scheds)
	}
	sub, _ := st.Subscriber(ctx, id)
	if sub.Locale != "es" || sub.Goal != "my brother" || sub.Status != domain.Active {
		t.Errorf("subscriber = %+v", sub)
	}
	ev, _ := st.Consent(ctx, id)
	last := ev[len(ev)-1]
	if last.Action != store.ConsentPreferences || last.Source != "manage-page" || last.IP != "192.0.2.1" || last.UserAgent != "test" {
		t.Errorf("ledger's last event = %+v", last)
	}
	for _, want := range []string{"weekly-checkin weekly:tue@18:30 -> weekly:wed@19:00", "added gratitude weekly:fri@19:00", "removed monthly-review", "language en -> es", "goal changed"} {
		if !strings.Contains(last.Detail, want) {
			t.Errorf("detail %q does not say %q", last.Detail, want)
		}
	}
	if strings.Contains(last.Detail, "my brother") {
		t.Errorf("detail %q carries the goal's text", last.Detail)
	}

	// The dropped program taken up again gets a version no earlier task has.
	dropped := after[domain.MonthlyReview]
	p.Schedules = append(p.Schedules, domain.Schedule{Program: domain.MonthlyReview, Rule: "monthly:last-fri@10:00"})
	p.Next[domain.MonthlyReview] = t0.Add(200 * time.Hour)
	if _, err := st.UpdatePreferences(ctx, id, p, prefsEvent()); err != nil {
		t.Fatal(err)
	}
	if v := versions(t, st, id)[domain.MonthlyReview]; v <= dropped {
		t.Errorf("re-added program has version %d, want more than %d", v, dropped)
	}
}

func TestUpdatePreferencesZoneChangeReplansEverySchedule(t *testing.T) {
	st := setup(t)
	ctx := context.Background()
	id := newSubscriber(t, st, domain.Subscriber{FirstName: "Ada", Email: "ada@example.org"}, true, "weekly:tue@18:30", "weekly:fri@19:00")
	before := versions(t, st, id)
	p := prefsOf(t, st, id)
	p.TimeZone = "America/New_York"
	p.Next = map[domain.Program]time.Time{domain.WeeklyCheckin: t0.Add(10 * time.Hour), domain.Gratitude: t0.Add(20 * time.Hour)}
	change, err := st.UpdatePreferences(ctx, id, p, prefsEvent())
	if err != nil {
		t.Fatal(err)
	}
	if len(change.Rescheduled) != 2 || !strings.Contains(change.Detail, "time zone Europe/London -> America/New_York") {
		t.Errorf("change = %+v", change)
	}
	after := versions(t, st, id)
	for prog, v := range before {
		if after[prog] != v+1 {
			t.Errorf("%s version %d -> %d, want one more", prog, v, after[prog])
		}
		if got := dueScore(t, st, id, prog); !got.Equal(p.Next[prog]) {
			t.Errorf("%s planned at %v, want %v", prog, got, p.Next[prog])
		}
	}
}

func TestUpdatePreferencesWithNothingNewWritesNothing(t *testing.T) {
	st := setup(t)
	ctx := context.Background()
	id := newSubscriber(t, st, domain.Subscriber{FirstName: "Ada", Email: "ada@example.org"}, true, "weekly:tue@18:30")
	before, _ := st.Consent(ctx, id)
	v := versions(t, st, id)
	change, err := st.UpdatePreferences(ctx, id, prefsOf(t, st, id), prefsEvent())
	if err != nil || change.Changed() {
		t.Fatalf("update = %+v, %v; want no change", change, err)
	}
	after, _ := st.Consent(ctx, id)
	if len(after) != len(before) || versions(t, st, id)[domain.WeeklyCheckin] != v[domain.WeeklyCheckin] {
		t.Error("an update that changed nothing wrote something")
	}
}

func TestUpdatePreferencesOfAPendingSubscriberPlansNothing(t *testing.T) {
	st := setup(t)
	ctx := context.Background()
	id := newSubscriber(t, st, domain.Subscriber{FirstName: "Ada", Email: "ada@example.org"}, false, "weekly:tue@18:30")
	p := prefsOf(t, st, id)
	p.Schedules[0].Rule = "weekly:mon@08:00"
	if _, err := st.UpdatePreferences(ctx, id, p, prefsEvent()); err != nil {
		t.Fatal(err)
	}
	if n, _ := st.DueCount(ctx); n != 0 {
		t.Errorf("a pending subscriber has %d due entries", n)
	}
	sc, _ := st.Schedule(ctx, id, domain.WeeklyCheckin)
	if sc.Rule != "weekly:mon@08:00" || !sc.Next.IsZero() {
		t.Errorf("schedule = %+v", sc)
	}
}

func TestUpdatePreferencesOfNobody(t *testing.T) {
	st := setup(t)
	_, err := st.UpdatePreferences(context.Background(), "nobody", store.Preferences{TimeZone: "UTC"}, prefsEvent())
	if !errors.Is(err, store.ErrNotFound) {
		t.Fatalf("err = %v, want ErrNotFound", err)
	}
	if n, _ := st.Redis().Exists(context.Background(), st.Prefix()+"sub:nobody").Result(); n != 0 {
		t.Error("an update of nobody made a record")
	}
}

func TestSetPauseAndResume(t *testing.T) {
	st := setup(t)
	ctx := context.Background()
	id := newSubscriber(t, st, domain.Subscriber{FirstName: "Ada", Email: "ada@example.org"}, true, "weekly:tue@18:30")
	until := t0.Add(14 * 24 * time.Hour)
	if err := st.SetPause(ctx, id, until, store.ConsentEvent{At: t0, Action: store.ConsentPause, Source: "manage-page"}); err != nil {
		t.Fatal(err)
	}
	if sub, _ := st.Subscriber(ctx, id); !sub.PausedUntil.Equal(until) {
		t.Errorf("paused until %v, want %v", sub.PausedUntil, until)
	}
	if err := st.SetPause(ctx, id, time.Time{}, store.ConsentEvent{At: t0, Action: store.ConsentResume, Source: "manage-page"}); err != nil {
		t.Fatal(err)
	}
	if sub, _ := st.Subscriber(ctx, id); !sub.PausedUntil.IsZero() {
		t.Errorf("still paused until %v after resuming", sub.PausedUntil)
	}
	ev, _ := st.Consent(ctx, id)
	if got := []string{ev[len(ev)-2].Action, ev[len(ev)-1].Action}; !cmp.Equal(got, []string{"pause", "resume"}) {
		t.Errorf("ledger ends with %v", got)
	}
	if err := st.SetPause(ctx, "nobody", until, store.ConsentEvent{}); !errors.Is(err, store.ErrNotFound) {
		t.Errorf("pause of nobody = %v, want ErrNotFound", err)
	}
	if n, _ := st.Redis().Exists(ctx, st.Prefix()+"sub:nobody").Result(); n != 0 {
		t.Error("a pause of nobody made a record")
	}
}
