package scheduler_test

import (
	"context"
	"encoding/json"
	"testing"
	"time"

	"github.com/hibiken/asynq"
	"github.com/nudgehq/nudge/internal/domain"
	"github.com/nudgehq/nudge/internal/redistest"
	"github.com/nudgehq/nudge/internal/store"
	"github.com/nudgehq/nudge/internal/task"
	"github.com/nudgehq/nudge/scheduler"
)

func TestDigestWeekIsTheWeekThatEndedOnMonday(t *testing.T) {
	t.Parallel()
	ny, _ := time.LoadLocation("America/New_York")
	for _, tt := range []struct {
		now    time.Time
		loc    *time.Location
		week   string
		monday time.Time
		due    bool
	}{
		{time.Date(2026, 12, 14, 6, 59, 0, 0, time.UTC), time.UTC, "2026-W51", time.Date(2026, 12, 14, 0, 0, 0, 0, time.UTC), false},
		{time.Date(2026, 12, 14, 7, 0, 0, 0, time.UTC), time.UTC, "2026-W51", time.Date(2026, 12, 14, 0, 0, 0, 0, time.UTC), true},
		{time.Date(2026, 12, 20, 23, 0, 0, 0, time.UTC), time.UTC, "2026-W51", time.Date(2026, 12, 14, 0, 0, 0, 0, time.UTC), true},
		// 07:00 UTC Monday is 02:00 Monday in New York: not yet.
		{time.Date(2026, 12, 14, 7, 0, 0, 0, time.UTC), ny, "2026-W51", time.Date(2026, 12, 14, 5, 0, 0, 0, time.UTC), false},
		// 03:00 UTC Monday is still Sunday in New York: last week's Monday.
		{time.Date(2026, 12, 14, 3, 0, 0, 0, time.UTC), ny, "2026-W50", time.Date(2026, 12, 7, 5, 0, 0, 0, time.UTC), true},
	} {
		week, monday, due := scheduler.DigestWeek(tt.now, tt.loc)
		if week != tt.week || !monday.Equal(tt.monday) || due != tt.due {
			t.Errorf("DigestWeek(%s, %s) = %s %s %v, want %s %s %v", tt.now, tt.loc, week, monday, due, tt.week, tt.monday, tt.due)
		}
	}
}

// TestDigestsAreQueuedOncePerClinicianAndWeek: two planners, on real
// Redis and asynq, queue one digest per clinician (owners get none) from
// Monday 07:00; none is queued again once it went out.
func TestDigestsAreQueuedOncePerClinicianAndWeek(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	rdb := redistest.Client(t, redistest.DBScheduler)
	st := store.New(rdb, redistest.Prefix(t))
	q := asynq.NewClientFromRedisClient(rdb)
	insp := asynq.NewInspectorFromRedisClient(rdb)
	cid := "clinic" + store.NewID()[:8]
	if err := st.CreateClinic(ctx, domain.Clinic{ID: cid, Name: "Northside", CreatedAt: time.Date(2026, 12, 1, 0, 0, 0, 0, time.UTC)}, ""); err != nil {
		t.Fatal(err)
	}
	var clinician string
	for _, role := range []string{store.RoleOwner, store.RoleClinician} {
		s := store.Staff{ID: store.NewID(), Clinic: cid, Email: role + "@" + cid + ".test", Role: role}
		if err := st.AddStaff(ctx, s); err != nil {
			t.Fatal(err)
		}
		if role == store.RoleClinician {
			clinician = s.ID
		}
	}
	taskID := "digest:" + clinician + ":2026-W51"
	t.Cleanup(func() { _ = insp.DeleteTask(task.QueueDefault, taskID) })

	now := time.Date(2026, 12, 14, 6, 59, 0, 0, time.UTC)
	planner := func() *scheduler.AlertPlanner {
		return scheduler.NewAlertPlanner(scheduler.AlertPlannerConfig{Store: st, Enqueuer: q, Now: func() time.Time { return now }})
	}
	one, two := planner(), planner()
	if pass, err := one.Tick(ctx); err != nil || pass.Digests != 0 {
		t.Fatalf("before 07:00: %+v %v", pass, err)
	}
	now = now.Add(time.Minute)
	if pass, err := one.Tick(ctx); err != nil || pass.Digests != 1 {
		t.Fatalf("at 07:00: %+v %v, want one digest (the clinician's)", pass, err)
	}
	if pass, err := two.Tick(ctx); err != nil || pass.Digests != 0 {
		t.Fatalf("the second planner: %+v %v, want nothing new", pass, err)
	}
	info, err := insp.GetTaskInfo(task.QueueDefault, taskID)
	if err != nil {
		t.Fatalf("the digest task: %v", err)
	}
	var p task.SendDigest
	if err := json.Unmarshal(info.Payload, &p); err != nil {
		t.Fatal(err)
	}
	if p.StaffID != clinician || p.From != time.Date(2026, 12, 7, 0, 0, 0, 0, time.UTC).Unix() || p.To != time.Date(2026, 12, 14, 0, 0, 0, 0, time.UTC).Unix() {
		t.Errorf("digest payload %+v", p)
	}
	// Sent, and the task gone (its retention over): still not queued again.
	if _, err := st.MarkDigestSent(ctx, clinician, "2026-W51", now); err != nil {
		t.Fatal(err)
	}
	if err := insp.DeleteTask(task.QueueDefault, taskID); err != nil {
		t.Fatal(err)
	}
	now = now.Add(3 * 24 * time.Hour)
	if pass, err := two.Tick(ctx); err != nil || pass.Digests != 0 {
		t.Errorf("after it went: %+v %v, want nothing", pass, err)
	}
}

// A clinic with a zone of its own gets its digests on Monday morning
// there, for the week that ended at its own Monday midnight.
func TestDigestsFollowTheClinicsZone(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	rdb := redistest.Client(t, redistest.DBScheduler)
	st := store.New(rdb, redistest.Prefix(t))
	q := asynq.NewClientFromRedisClient(rdb)
	insp := asynq.NewInspectorFromRedisClient(rdb)
	cid := "clinic" + store.NewID()[:8]
	if err := st.CreateClinic(ctx, domain.Clinic{ID: cid, Name: "Eastside", TimeZone: "America/New_York", CreatedAt: time.Date(2026, 12, 1, 0, 0, 0, 0, time.UTC)}, ""); err != nil {
		t.Fatal(err)
	}
	c, err := st.Clinic(ctx, cid)
	if err != nil || c.TimeZone != "America/New_York" {
		t.Fatalf("the clinic's zone is not kept: %q, %v", c.TimeZone, err)
	}
	clinician := store.Staff{ID: store.NewID(), Clinic: cid, Email: "dr@" + cid + ".test", Role: store.RoleClinician}
	if err := st.AddStaff(ctx, clinician); err != nil {
		t.Fatal(err)
	}
	taskID := "digest:" + clinician.ID + ":2026-W51"
	t.Cleanup(func() { _ = insp.DeleteTask(task.QueueDefault, taskID) })
	ny, _ := time.LoadLocation("America/New_York")

	now := time.Date(2026, 12, 14, 7, 0, 0, 0, time.UTC) // 02:00 in New York
	planner := scheduler.NewAlertPlanner(scheduler.AlertPlannerConfig{Store: st, Enqueuer: q, Now: func() time.Time { return now }})
	if pass, err := planner.Tick(ctx); err != nil || pass.Digests != 0 {
		t.Fatalf("07:00 UTC, before dawn in New York: %+v %v, want none yet", pass, err)
	}
	now = time.Date(2026, 12, 14, 7, 0, 0, 0, ny)
	if pass, err := planner.Tick(ctx); err != nil || pass.Digests != 1 {
		t.Fatalf("07:00 in New York: %+v %v, want the clinician's digest", pass, err)
	}
	info, err := insp.GetTaskInfo(task.QueueDefault, taskID)
	if err != nil {
		t.Fatalf("the digest task: %v", err)
	}
	var p task.SendDigest
	if err := json.Unmarshal(info.Payload, &p); err != nil {
		t.Fatal(err)
	}
	if p.From != time.Date(2026, 12, 7, 0, 0, 0, 0, ny).Unix() || p.To != time.Date(2026, 12, 14, 0, 0, 0, 0, ny).Unix() {
		t.Errorf("digest week %s to %s, want New York's Monday to Monday", time.Unix(p.From, 0).In(ny), time.Unix(p.To, 0).In(ny))
	}
}
