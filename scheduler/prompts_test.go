package scheduler_test

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"strconv"
	"sync"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/google/go-cmp/cmp/cmpopts"
	"github.com/hibiken/asynq"
	"github.com/nudgehq/nudge/internal/clinic"
	"github.com/nudgehq/nudge/internal/domain"
	"github.com/nudgehq/nudge/internal/store"
	"github.com/nudgehq/nudge/internal/task"
	"github.com/nudgehq/nudge/scheduler"
	"github.com/nudgehq/nudge/templates"
)

// promptStart is a simulated clock's start: ten days ahead of the real
// clock, on the hour.
func promptStart() time.Time {
	return time.Now().UTC().Add(10 * 24 * time.Hour).Truncate(time.Hour)
}

// discardEnqueuer takes the clinic service's confirmation tasks, which
// these tests do not look at.
type discardEnqueuer struct{}

func (discardEnqueuer) EnqueueContext(context.Context, *asynq.Task, ...asynq.Option) (*asynq.TaskInfo, error) {
	return &asynq.TaskInfo{}, nil
}

// clinicService returns the clinic service on the bundle's store and clock,
// a clinic of it, and one enrolled client (email only, in UTC).
func (b *testBundle) clinicService(t *testing.T) (svc *clinic.Service, cid, client string) {
	t.Helper()
	lib, err := templates.Default()
	if err != nil {
		t.Fatal(err)
	}
	svc = clinic.New(clinic.Config{
		Store: b.st, Enqueue: discardEnqueuer{}, Library: lib, SMSWindow: scheduler.DefaultSMSWindow,
		ServiceName: "nudge", Now: b.clock.Now, Logger: slog.New(slog.NewTextHandler(io.Discard, nil)),
	})
	ctx := context.Background()
	created, err := svc.CreateClinic(ctx, clinic.NewClinic{Name: "Northside", DisplayName: "Northside"})
	if err != nil {
		t.Fatal(err)
	}
	sub, err := svc.Enrol(ctx, created.Clinic.ID, clinic.Enrolment{
		FirstName: "Ana", Email: "ana@example.org", TimeZone: "UTC",
		Consent: clinic.Attestation{By: "Dr. Who", At: b.clock.Now().Add(-time.Hour), Method: "written"},
	})
	if err != nil {
		t.Fatal(err)
	}
	return svc, created.Clinic.ID, sub.ID
}

// promptPlanner returns a prompt planner on the bundle's store, queue and
// clock, with a small batch so that a pass reads several.
func (b *testBundle) promptPlanner(enq scheduler.Enqueuer, horizon time.Duration) *scheduler.PromptPlanner {
	return scheduler.NewPromptPlanner(scheduler.PromptPlannerConfig{
		Store: b.st, Enqueuer: enq, Queue: b.queue, Now: b.clock.Now, Horizon: horizon, Batch: 3,
	})
}

// onTime compares the instants of promptTasks with the planned ones: a
// task's delay counts from the moment it was queued, so its instant on the
// simulated clock is off by the real time the test took.
var onTime = cmpopts.EquateApproxTime(5 * time.Second)

// promptTasks returns the prompt tasks in the bundle's queue: task id → the
// instant asynq will process it at, read on the simulated clock (as it
// stands now), checking each payload against its id.
func (b *testBundle) promptTasks(t *testing.T) map[string]time.Time {
	t.Helper()
	shift := time.Until(b.clock.Now())
	out := map[string]time.Time{}
	for _, list := range []func(string, ...asynq.ListOption) ([]*asynq.TaskInfo, error){b.insp.ListScheduledTasks, b.insp.ListPendingTasks} {
		infos, err := list(b.queue, asynq.PageSize(1000))
		if errors.Is(err, asynq.ErrQueueNotFound) {
			continue
		}
		if err != nil {
			t.Fatal(err)
		}
		for _, info := range infos {
			var p task.DeliverPrompt
			if err := json.Unmarshal(info.Payload, &p); err != nil || info.Type != task.TypeDeliverPrompt || p.ID() != info.ID {
				t.Fatalf("task %s (%s): payload %s (%v)", info.ID, info.Type, info.Payload, err)
			}
			if _, dup := out[info.ID]; dup {
				t.Fatalf("task %s listed twice", info.ID)
			}
			out[info.ID] = info.NextProcessAt.Add(shift).UTC()
		}
	}
	return out
}

// promptID is the task id of an occurrence.
func promptID(o store.PromptOccurrence) string {
	return task.DeliverPrompt{ClientID: o.ClientID, PromptID: o.PromptID, Session: o.Session}.ID()
}

// stillDuePrompts returns every occurrence left in the prompt due index.
func (b *testBundle) stillDuePrompts(t *testing.T) []store.PromptOccurrence {
	t.Helper()
	due, err := b.st.DuePrompts(context.Background(), b.clock.Now().AddDate(5, 0, 0), 10000)
	if err != nil {
		t.Fatal(err)
	}
	return due
}

func TestPromptsPlannedByTheClinicServiceAreQueuedOnceAtTheirInstant(t *testing.T) {
	start := promptStart()
	b := setup(t, start)
	svc, cid, client := b.clinicService(t)
	ctx := context.Background()

	session := start.Add(3*24*time.Hour + 10*time.Hour) // 10:00 UTC, three days on
	if _, err := svc.SetSession(ctx, cid, client, session); err != nil {
		t.Fatal(err)
	}
	day := func(t time.Time, n, hh int) time.Time {
		y, m, d := t.Date()
		return time.Date(y, m, d+n, hh, 0, 0, 0, time.UTC)
	}
	fixed := start.Add(36 * time.Hour)
	rules := map[string]time.Time{
		"session+1d@18:00":                 day(session, 1, 18),
		"session-1d@19:00":                 day(session, -1, 19),
		"session+2h":                       session.Add(2 * time.Hour),
		"at:" + fixed.Format(time.RFC3339): fixed,
		"session+0d@08:00":                 day(session, 0, 8),
	}
	want := map[string]time.Time{}
	for rule, at := range rules {
		p, err := svc.AddPrompt(ctx, cid, client, clinic.NewPrompt{Rule: rule, Template: 1})
		if err != nil {
			t.Fatalf("add %s: %v", rule, err)
		}
		s := session.Unix()
		if at.Equal(fixed) {
			s = 0
		}
		want[task.DeliverPrompt{ClientID: client, PromptID: p.ID, Session: s}.ID()] = at
	}

	// Two schedulers at once, each ticking a few times: every occurrence is
	// queued by exactly one enqueue, at its instant.
	var wg sync.WaitGroup
	errs := make(chan error, 8)
	for i := range 2 {
		p := b.promptPlanner(b.rec, 10*24*time.Hour)
		wg.Go(func() {
			for range 3 + i {
				if _, err := p.Tick(ctx); err != nil {
					errs <- err
				}
			}
		})
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Fatalf("tick: %v", err)
	}
	if diff := cmp.Diff(want, b.promptTasks(t), onTime); diff != "" {
		t.Errorf("queued tasks (-want +got):\n%s", diff)
	}
	for id, n := range b.rec.counts() {
		if n != 1 {
			t.Errorf("task %s enqueued %d times", id, n)
		}
	}
	if len(b.rec.counts()) != len(want) {
		t.Errorf("%d enqueues, want %d", len(b.rec.counts()), len(want))
	}
	if due := b.stillDuePrompts(t); len(due) != 0 {
		t.Errorf("still due after queueing: %+v", due)
	}

	// A later pass has nothing to do.
	if n, err := b.promptPlanner(b.rec, 10*24*time.Hour).Tick(ctx); n != 0 || err != nil {
		t.Errorf("another pass queued %d (%v)", n, err)
	}
}

func TestPromptPlannerQueuesOnlyWithinTheHorizon(t *testing.T) {
	start := promptStart()
	b := setup(t, start)
	svc, cid, client := b.clinicService(t)
	ctx := context.Background()
	soon, later := start.Add(30*time.Minute), start.Add(5*time.Hour)
	var ids []string
	for _, at := range []time.Time{soon, later} {
		p, err := svc.AddPrompt(ctx, cid, client, clinic.NewPrompt{Rule: "at:" + at.Format(time.RFC3339), Text: "A short note."})
		if err != nil {
			t.Fatal(err)
		}
		ids = append(ids, task.DeliverPrompt{ClientID: client, PromptID: p.ID}.ID())
	}
	pl := b.promptPlanner(b.rec, time.Hour)
	if n, err := pl.Tick(ctx); n != 1 || err != nil {
		t.Fatalf("first pass queued %d (%v), want 1", n, err)
	}
	if diff := cmp.Diff(map[string]time.Time{ids[0]: soon}, b.promptTasks(t), onTime); diff != "" {
		t.Errorf("queued (-want +got):\n%s", diff)
	}
	b.clock.Set(later.Add(-30 * time.Minute))
	if n, err := pl.Tick(ctx); n != 1 || err != nil {
		t.Fatalf("second pass queued %d (%v), want 1", n, err)
	}
	got := b.promptTasks(t)
	if diff := cmp.Diff(later, got[ids[1]], onTime); diff != "" || len(got) != 2 {
		t.Errorf("queued %v, want the second at %s too", got, later)
	}
}

func TestAMovedSessionTakesItsPromptsOutOfTheDueIndex(t *testing.T) {
	start := promptStart()
	b := setup(t, start)
	svc, cid, client := b.clinicService(t)
	ctx := context.Background()
	first := start.Add(3 * 24 * time.Hour)
	if _, err := svc.SetSession(ctx, cid, client, first); err != nil {
		t.Fatal(err)
	}
	p, err := svc.AddPrompt(ctx, cid, client, clinic.NewPrompt{Rule: "session+2h", Template: 2})
	if err != nil {
		t.Fatal(err)
	}
	fixed, err := svc.AddPrompt(ctx, cid, client, clinic.NewPrompt{Rule: "at:" + start.Add(time.Hour).Format(time.RFC3339), Template: 3})
	if err != nil {
		t.Fatal(err)
	}
	moved := first.Add(26 * time.Hour)
	if _, err := svc.SetSession(ctx, cid, client, moved); err != nil {
		t.Fatal(err)
	}

	wantDue := []store.PromptOccurrence{
		{ClientID: client, PromptID: fixed.ID, Session: 0, At: start.Add(time.Hour)},
		{ClientID: client, PromptID: p.ID, Session: moved.Unix(), At: moved.Add(2 * time.Hour)},
	}
	if diff := cmp.Diff(wantDue, b.stillDuePrompts(t)); diff != "" {
		t.Errorf("due after the move (-want +got):\n%s", diff)
	}
	old := store.PromptOccurrence{ClientID: client, PromptID: p.ID, Session: first.Unix()}
	if ok, err := b.st.PromptPlanned(ctx, old); err != nil || ok {
		t.Errorf("the old session's occurrence is still planned (%v)", err)
	}

	if _, err := b.promptPlanner(b.rec, 30*24*time.Hour).Tick(ctx); err != nil {
		t.Fatal(err)
	}
	want := map[string]time.Time{promptID(wantDue[0]): wantDue[0].At, promptID(wantDue[1]): wantDue[1].At}
	if diff := cmp.Diff(want, b.promptTasks(t), onTime); diff != "" {
		t.Errorf("queued (-want +got):\n%s", diff)
	}
}

// enrolDirect records a client of a new clinic straight in the store.
func (b *testBundle) enrolDirect(t *testing.T) (cid, id string) {
	t.Helper()
	ctx := context.Background()
	cid, id = "c"+store.NewID()[:10], store.NewID()
	if err := b.st.CreateClinic(ctx, domain.Clinic{ID: cid, Name: "n", DisplayName: "N", CapDay: 1, CapWeek: 3, CreatedAt: b.clock.Now()}, "s"); err != nil {
		t.Fatal(err)
	}
	sub := domain.Subscriber{ID: id, Clinic: cid, FirstName: "Ana", Email: "ana@example.org", TimeZone: "UTC", Locale: "en", Status: domain.Pending, CreatedAt: b.clock.Now()}
	if err := b.st.EnrolClient(ctx, sub, store.ConsentEvent{}); err != nil {
		t.Fatal(err)
	}
	return cid, id
}

// plan writes occs as a client's whole plan, as UpdatePrompts does for the
// clinic service.
func (b *testBundle) plan(t *testing.T, cid, id string, occs []store.PromptOccurrence) {
	t.Helper()
	_, err := b.st.UpdatePrompts(context.Background(), cid, id, b.clock.Now(),
		func(*store.PromptState) error { return nil },
		func(store.PromptState) ([]store.PromptOccurrence, error) { return occs, nil })
	if err != nil {
		t.Fatal(err)
	}
}

// failing passes enqueues to next, except those of the task ids in fail.
type failing struct {
	next scheduler.Enqueuer
	mu   sync.Mutex
	fail map[string]bool
}

func (f *failing) EnqueueContext(ctx context.Context, t *asynq.Task, opts ...asynq.Option) (*asynq.TaskInfo, error) {
	var p task.DeliverPrompt
	_ = json.Unmarshal(t.Payload(), &p)
	f.mu.Lock()
	fail := f.fail[p.ID()]
	f.mu.Unlock()
	if fail {
		return nil, errors.New("connection reset")
	}
	return f.next.EnqueueContext(ctx, t, opts...)
}

func TestPromptsPlannedInTheStoreAreQueuedBatchByBatch(t *testing.T) {
	start := promptStart()
	b := setup(t, start)
	cid, id := b.enrolDirect(t)
	ctx := context.Background()
	var occs []store.PromptOccurrence
	want := map[string]time.Time{}
	for i := range 11 {
		o := store.PromptOccurrence{ClientID: id, PromptID: "p" + strconv.Itoa(i), Session: start.Unix(), At: start.Add(time.Duration(i+1) * time.Minute)}
		occs = append(occs, o)
		want[promptID(o)] = o.At
	}
	// An occurrence at or before now stays valid but is not queued again.
	past := store.PromptOccurrence{ClientID: id, PromptID: "past", At: start}
	b.plan(t, cid, id, append(occs, past))

	// One enqueue fails: the pass says so, the occurrence stays due, and
	// the rest are queued.
	enq := &failing{next: b.rec, fail: map[string]bool{promptID(occs[4]): true}}
	pl := b.promptPlanner(enq, time.Hour)
	n, err := pl.Tick(ctx)
	if err == nil {
		t.Fatal("a failed enqueue was not reported")
	}
	if due := b.stillDuePrompts(t); len(due) == 0 || due[0].PromptID != "p4" {
		t.Fatalf("due after a failed enqueue: %+v, want p4 first", due)
	}
	enq.mu.Lock()
	enq.fail = nil
	enq.mu.Unlock()
	for n < len(occs) {
		m, err := pl.Tick(ctx)
		if err != nil {
			t.Fatal(err)
		}
		if m == 0 {
			break
		}
		n += m
	}
	if n != len(occs) {
		t.Errorf("queued %d, want %d", n, len(occs))
	}
	if diff := cmp.Diff(want, b.promptTasks(t), onTime); diff != "" {
		t.Errorf("queued (-want +got):\n%s", diff)
	}
	if due := b.stillDuePrompts(t); len(due) != 0 {
		t.Errorf("still due: %+v", due)
	}
	if ok, _ := b.st.PromptPlanned(ctx, past); !ok {
		t.Error("the past occurrence is no longer planned")
	}
}

func TestDonePromptsKeepsAnOccurrenceThatMoved(t *testing.T) {
	start := promptStart()
	b := setup(t, start)
	cid, id := b.enrolDirect(t)
	ctx := context.Background()
	a := store.PromptOccurrence{ClientID: id, PromptID: "a", At: start.Add(time.Hour)}
	c := store.PromptOccurrence{ClientID: id, PromptID: "c", At: start.Add(2 * time.Hour)}
	b.plan(t, cid, id, []store.PromptOccurrence{a, c})
	read, err := b.st.DuePrompts(ctx, start.Add(24*time.Hour), 10)
	if err != nil || len(read) != 2 {
		t.Fatalf("due: %+v, %v", read, err)
	}
	// Between the read and DonePrompts, a replan moves a (same occurrence,
	// new instant) and leaves c alone.
	a2 := a
	a2.At = start.Add(3 * time.Hour)
	b.plan(t, cid, id, []store.PromptOccurrence{a2, c})
	if err := b.st.DonePrompts(ctx, read); err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff([]store.PromptOccurrence{a2}, b.stillDuePrompts(t)); diff != "" {
		t.Errorf("due after DonePrompts (-want +got):\n%s", diff)
	}
}

func TestPromptPlannerRunStops(t *testing.T) {
	start := promptStart()
	b := setup(t, start)
	cid, id := b.enrolDirect(t)
	o := store.PromptOccurrence{ClientID: id, PromptID: "p", At: start.Add(time.Minute)}
	b.plan(t, cid, id, []store.PromptOccurrence{o})
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- b.promptPlanner(b.rec, time.Hour).Run(ctx, 20*time.Millisecond) }()
	deadline := time.Now().Add(10 * time.Second)
	for b.rec.counts()[promptID(o)] == 0 {
		if time.Now().After(deadline) {
			t.Fatal("Run queued nothing")
		}
		time.Sleep(5 * time.Millisecond)
	}
	cancel()
	select {
	case err := <-done:
		if err != nil {
			t.Errorf("Run: %v", err)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("Run did not stop")
	}
	if got := fmt.Sprint(b.rec.counts()); got != fmt.Sprintf("map[%s:1]", promptID(o)) {
		t.Errorf("enqueues %s", got)
	}
}
