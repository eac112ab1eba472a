package scheduler_test

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"hash/fnv"
	"maps"
	"math/rand/v2"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/hibiken/asynq"
	"github.com/nudgehq/nudge/internal/domain"
	"github.com/nudgehq/nudge/internal/redistest"
	"github.com/nudgehq/nudge/internal/store"
	"github.com/nudgehq/nudge/internal/task"
	"github.com/nudgehq/nudge/scheduler"
	"github.com/redis/go-redis/v9"
)

// testBundle is what a planner test works with: a store under the test's
// own prefix, an asynq queue of its own, a recorder of the enqueues that
// reached Redis, and a simulated clock.
type testBundle struct {
	rdb   *redis.Client
	st    *store.Store
	queue string
	insp  *asynq.Inspector
	rec   *recorder
	clock *clock
}

func setup(t *testing.T, start time.Time) *testBundle {
	t.Helper()
	t.Parallel()
	rdb := redistest.Client(t, redistest.DBScheduler)
	prefix := redistest.Prefix(t)
	return &testBundle{
		rdb:   rdb,
		st:    store.New(rdb, prefix),
		queue: "q-" + strings.NewReplacer(":", "-", "/", "-").Replace(prefix),
		insp:  asynq.NewInspectorFromRedisClient(rdb),
		rec:   &recorder{next: asynq.NewClientFromRedisClient(rdb), ok: map[string]int{}},
		clock: &clock{t: start},
	}
}

// planner returns a planner on the bundle's store, queue and clock, with
// small batches so that every pass reads several of them.
func (b *testBundle) planner(owner string, enq scheduler.Enqueuer, horizon time.Duration) *scheduler.Planner {
	return scheduler.NewPlanner(scheduler.PlannerConfig{
		Store: b.st, Enqueuer: enq, Now: b.clock.Now, Owner: owner, Queue: b.queue,
		Horizon: horizon, Grace: 6 * time.Hour, Batch: 7, Workers: 3, Lanes: 2,
	})
}

// subscribe signs a subscriber up in zone with one rule per program and
// confirms them at the clock's time, planning each schedule as the service
// does on confirmation.
func (b *testBundle) subscribe(t *testing.T, n int, zone string, rules map[domain.Program]string) string {
	t.Helper()
	ctx := context.Background()
	now := b.clock.Now()
	var scheds []domain.Schedule
	for _, p := range domain.PublicPrograms {
		if r, ok := rules[p]; ok {
			scheds = append(scheds, domain.Schedule{Program: p, Rule: r})
		}
	}
	res, err := b.st.Signup(ctx, domain.Subscriber{
		FirstName: "Sam", Email: fmt.Sprintf("s%d@example.org", n), TimeZone: zone, Locale: "en", CreatedAt: now,
	}, scheds, store.ConsentEvent{At: now, Action: store.ConsentSignup, Channel: "email", Source: "form"})
	if err != nil {
		t.Fatalf("signup: %v", err)
	}
	loc, err := scheduler.LoadZone(zone)
	if err != nil {
		t.Fatal(err)
	}
	next := map[domain.Program]time.Time{}
	for _, sc := range scheds {
		r, err := scheduler.ParseRule(sc.Rule)
		if err != nil {
			t.Fatal(err)
		}
		next[sc.Program] = r.Next(now, loc).At
	}
	if ok, err := b.st.Activate(ctx, res.ID, now, next, store.ConsentEvent{At: now, Action: store.ConsentConfirm}); err != nil || !ok {
		t.Fatalf("activate: %v, %v", ok, err)
	}
	return res.ID
}

// tasks returns every task in the bundle's queue (pending or scheduled), by id.
func (b *testBundle) tasks(t *testing.T) map[string]task.DeliverNudge {
	t.Helper()
	out := map[string]task.DeliverNudge{}
	list := func(l func(string, ...asynq.ListOption) ([]*asynq.TaskInfo, error)) {
		for page := 1; ; page++ {
			infos, err := l(b.queue, asynq.PageSize(500), asynq.Page(page))
			if errors.Is(err, asynq.ErrQueueNotFound) {
				return
			}
			if err != nil {
				t.Fatalf("list tasks: %v", err)
			}
			for _, info := range infos {
				var p task.DeliverNudge
				if err := json.Unmarshal(info.Payload, &p); err != nil {
					t.Fatalf("task %s payload: %v", info.ID, err)
				}
				if _, dup := out[info.ID]; dup {
					t.Fatalf("task %s listed twice", info.ID)
				}
				out[info.ID] = p
			}
			if len(infos) < 500 {
				return
			}
		}
	}
	list(b.insp.ListPendingTasks)
	list(b.insp.ListScheduledTasks)
	return out
}

// stillDue returns how many entries are due at or before until.
func (b *testBundle) stillDue(t *testing.T, until time.Time) int {
	t.Helper()
	var n int
	for shard := range store.Shards {
		due, err := b.st.DueBatch(context.Background(), shard, until, 1000)
		if err != nil {
			t.Fatal(err)
		}
		n += len(due)
	}
	return n
}

type clock struct {
	mu sync.Mutex
	t  time.Time
}

func (c *clock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.t
}

func (c *clock) Set(t time.Time) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.t = t
}

// recorder passes enqueues to the real asynq client and counts, per task id,
// those that asynq took (not those it refused as already queued).
type recorder struct {
	next scheduler.Enqueuer
	mu   sync.Mutex
	ok   map[string]int
}

func (r *recorder) EnqueueContext(ctx context.Context, t *asynq.Task, opts ...asynq.Option) (*asynq.TaskInfo, error) {
	info, err := r.next.EnqueueContext(ctx, t, opts...)
	if err == nil {
		r.mu.Lock()
		r.ok[info.ID]++
		r.mu.Unlock()
	}
	return info, err
}

func (r *recorder) counts() map[string]int {
	r.mu.Lock()
	defer r.mu.Unlock()
	return maps.Clone(r.ok)
}

// occurrence is an expected occurrence: which schedule, when, and its date.
type occurrence struct {
	sub  string
	prog domain.Program
	at   time.Time
	date string
}

func (o occurrence) id() string { return o.sub + ":" + string(o.prog) + ":" + o.date }

// expectOccurrences lists the occurrences of a rule with instants in
// (from, to], computed without the scheduler package: every civil date is
// tested against the rule text, and the wall time is resolved by scanning
// the zone minute by minute (see wallInstant).
func expectOccurrences(t *testing.T, rule string, loc *time.Location, from, to time.Time) []occurrence {
	t.Helper()
	kind, rest, _ := strings.Cut(rule, ":")
	when, hhmm, _ := strings.Cut(rest, "@")
	hh, _ := strconv.Atoi(hhmm[:2])
	mm, _ := strconv.Atoi(hhmm[3:])
	days := map[string]time.Weekday{"sun": 0, "mon": 1, "tue": 2, "wed": 3, "thu": 4, "fri": 5, "sat": 6}
	matches := func(d time.Time) bool {
		last := time.Date(d.Year(), d.Month()+1, 0, 0, 0, 0, 0, time.UTC).Day()
		if kind == "weekly" {
			return d.Weekday() == days[when]
		}
		which, day, _ := strings.Cut(when, "-")
		switch {
		case when == "last":
			return d.Day() == last
		case which == "first":
			return d.Weekday() == days[day] && d.Day() <= 7
		case which == "last":
			return d.Weekday() == days[day] && d.Day() > last-7
		}
		n, err := strconv.Atoi(when)
		if err != nil {
			t.Fatalf("rule %q: test oracle does not read it", rule)
		}
		return d.Day() == n
	}
	var out []occurrence
	// Civil dates from two days before to two days after, in case a wall
	// time resolves onto the neighbouring UTC day.
	fy, fm, fd := from.In(loc).Date()
	for d := time.Date(fy, fm, fd-2, 0, 0, 0, 0, time.UTC); !d.After(to.Add(48 * time.Hour)); d = d.AddDate(0, 0, 1) {
		if !matches(d) {
			continue
		}
		at := wallInstant(loc, d, hh, mm)
		if at.After(from) && !at.After(to) {
			out = append(out, occurrence{at: at, date: d.Format(time.DateOnly)})
		}
	}
	return out
}

var wallCache sync.Map // key: zone|date|hh:mm → time.Time

// wallInstant is the test's own resolution of a wall time: the first instant
// the zone's clock reads hh:mm on date, or, if the clock jumped over that
// reading, the reading taken at the offset in force before the jump (so the
// time moves forward by the jump).
func wallInstant(loc *time.Location, date time.Time, hh, mm int) time.Time {
	key := fmt.Sprintf("%s|%s|%02d:%02d", loc, date.Format(time.DateOnly), hh, mm)
	if v, ok := wallCache.Load(key); ok {
		return v.(time.Time)
	}
	wall := time.Date(date.Year(), date.Month(), date.Day(), hh, mm, 0, 0, time.UTC)
	wallOf := func(t time.Time) time.Time {
		l := t.In(loc)
		return time.Date(l.Year(), l.Month(), l.Day(), l.Hour(), l.Minute(), 0, 0, time.UTC)
	}
	// UTC offsets are whole quarter hours in these zones, so every instant
	// showing the reading lies on this grid, and a grid step holds at most
	// one change of offset.
	const step = 15 * time.Minute
	var at time.Time
	for t := wall.Add(-18 * time.Hour); t.Before(wall.Add(18 * time.Hour)); t = t.Add(step) {
		if w := wallOf(t); w.Equal(wall) {
			at = t
			break
		} else if w.After(wall) {
			// The clock went past the reading without showing it: a jump.
			_, before := t.Add(-step).In(loc).Zone()
			at = wall.Add(-time.Duration(before) * time.Second)
			break
		}
	}
	wallCache.Store(key, at)
	return at
}

// The zones with odd rules, and rules that land on their transitions in
// March and April 2026 (New York springs forward on 8 March, London on 29
// March; Santiago falls back at midnight ending 4 April, Lord Howe by half
// an hour and Chatham at 03:45 on 5 April; Kathmandu keeps +05:45).
var oddZones = map[string][]string{
	"America/New_York":    {"weekly:sun@02:30", "monthly:8@02:00", "weekly:sun@01:30"},
	"Europe/London":       {"weekly:sun@01:30", "monthly:last-sun@01:00", "monthly:last-sun@01:59"},
	"Australia/Lord_Howe": {"weekly:sun@01:45", "monthly:first-sun@01:30", "weekly:sat@02:00"},
	"America/Santiago":    {"weekly:sat@23:30", "monthly:first-sat@23:00", "weekly:sun@00:00"},
	"Asia/Kathmandu":      {"weekly:mon@09:15", "monthly:last@23:45", "monthly:1@00:00"},
	"Pacific/Chatham":     {"weekly:sun@03:00", "monthly:first-sun@03:30", "weekly:sun@02:45"},
}

// randomRule returns a weekly rule, or a monthly one when monthly is set.
func randomRule(rng *rand.Rand, monthly bool) string {
	days := []string{"sun", "mon", "tue", "wed", "thu", "fri", "sat"}
	at := fmt.Sprintf("%02d:%02d", rng.IntN(24), rng.IntN(4)*15+rng.IntN(2))
	if !monthly {
		return "weekly:" + days[rng.IntN(7)] + "@" + at
	}
	switch rng.IntN(4) {
	case 0:
		return "monthly:" + strconv.Itoa(1+rng.IntN(28)) + "@" + at
	case 1:
		return "monthly:last@" + at
	case 2:
		return "monthly:first-" + days[rng.IntN(7)] + "@" + at
	default:
		return "monthly:last-" + days[rng.IntN(7)] + "@" + at
	}
}

// pickRule returns one of the zone's odd rules of the right kind half the
// time, a random rule otherwise.
func pickRule(rng *rand.Rand, zone string, monthly bool) string {
	if rng.IntN(2) == 0 {
		var fit []string
		for _, r := range oddZones[zone] {
			if strings.HasPrefix(r, "monthly:") == monthly {
				fit = append(fit, r)
			}
		}
		if len(fit) > 0 {
			return fit[rng.IntN(len(fit))]
		}
	}
	return randomRule(rng, monthly)
}

// population signs up n subscribers across the odd zones with a weekly
// check-in, a monthly review and, for some, a gratitude prompt, and returns
// the occurrences expected in (start, end].
func population(t *testing.T, b *testBundle, rng *rand.Rand, n int, start, end time.Time) map[string]occurrence {
	t.Helper()
	zones := make([]string, 0, len(oddZones))
	for z := range oddZones {
		zones = append(zones, z)
	}
	slices.Sort(zones)
	want := map[string]occurrence{}
	for i := range n {
		zone := zones[i%len(zones)]
		rules := map[domain.Program]string{
			domain.WeeklyCheckin: pickRule(rng, zone, false),
			domain.MonthlyReview: pickRule(rng, zone, true),
		}
		if rng.IntN(2) == 0 {
			rules[domain.Gratitude] = pickRule(rng, zone, false)
		}
		id := b.subscribe(t, i, zone, rules)
		loc, _ := time.LoadLocation(zone)
		for p, r := range rules {
			for _, o := range expectOccurrences(t, r, loc, start, end) {
				o.sub, o.prog = id, p
				want[o.id()] = o
			}
		}
	}
	return want
}

// checkQueued checks that the queue holds exactly the wanted occurrences,
// each taken by asynq exactly once, at the right instant and date, and that
// each schedule's tasks carry steps 0, 1, 2, … in time order, all from
// version 1.
func checkQueued(t *testing.T, b *testBundle, want map[string]occurrence) {
	t.Helper()
	got := b.tasks(t)
	var missing, extra []string
	for id := range want {
		if _, ok := got[id]; !ok {
			missing = append(missing, id)
		}
	}
	for id := range got {
		if _, ok := want[id]; !ok {
			extra = append(extra, id)
		}
	}
	slices.Sort(missing)
	slices.Sort(extra)
	if len(missing) > 0 || len(extra) > 0 {
		t.Errorf("%d of %d occurrences missing: %v\n%d unexpected tasks: %v", len(missing), len(want), head(missing), len(extra), head(extra))
	}
	for id, n := range b.rec.counts() {
		if n != 1 {
			t.Errorf("task %s was enqueued %d times", id, n)
		}
	}
	if n := len(b.rec.counts()); n != len(got) {
		t.Errorf("%d tasks taken by asynq, %d in the queue", n, len(got))
	}
	series := map[string][]task.DeliverNudge{}
	for id, p := range got {
		if o, ok := want[id]; ok && (p.At != o.at.Unix() || p.Date != o.date) {
			t.Errorf("task %s: at %s on %s, want %s on %s", id, time.Unix(p.At, 0).UTC(), p.Date, o.at, o.date)
		}
		k := p.SubscriberID + "/" + string(p.Program)
		series[k] = append(series[k], p)
	}
	for k, ps := range series {
		slices.SortFunc(ps, func(a, b task.DeliverNudge) int { return int(a.At - b.At) })
		for i, p := range ps {
			if p.Step != int64(i) || p.Version != 1 {
				t.Errorf("%s: task %d of %d (%s) has step %d, version %d; want step %d, version 1", k, i+1, len(ps), p.Date, p.Step, p.Version, i)
				break
			}
		}
	}
}

func head(s []string) []string { return s[:min(len(s), 10)] }

// TestPlannersTogetherOverAMonth runs three planners side by side over a
// simulated month that crosses daylight-saving changes in five zones, the
// clock moving in uneven steps, and checks that every occurrence is queued
// exactly once. With one lease owner for all three, they work the same
// shards at the same time, as when a lease runs out mid-batch: the task ids
// and the compare-and-set keep that safe too.
func TestPlannersTogetherOverAMonth(t *testing.T) {
	for _, tt := range []struct {
		name        string
		subscribers int
		owners      []string
	}{
		{"own leases", 300, []string{"a", "b", "c"}},
		{"one shared lease", 120, []string{"same", "same", "same"}},
	} {
		t.Run(tt.name, func(t *testing.T) {
			start := time.Date(2026, 3, 5, 0, 0, 0, 0, time.UTC)
			end := time.Date(2026, 4, 8, 0, 0, 0, 0, time.UTC)
			const horizon = 90 * time.Minute
			b := setup(t, start)
			rng := rand.New(rand.NewPCG(1, uint64(len(tt.name))))
			want := population(t, b, rng, tt.subscribers, start, end.Add(horizon))

			planners := make([]*scheduler.Planner, len(tt.owners))
			for i, owner := range tt.owners {
				planners[i] = b.planner(owner, b.rec, horizon)
			}
			ctx := context.Background()
			var enqueued atomic.Int64
			for now := start; ; {
				b.clock.Set(now)
				var wg sync.WaitGroup
				for _, p := range planners {
					wg.Go(func() {
						n, err := p.Tick(ctx)
						if err != nil {
							t.Errorf("tick at %s: %v", now, err)
						}
						enqueued.Add(int64(n))
					})
				}
				wg.Wait()
				if t.Failed() || !now.Before(end) {
					break
				}
				// Steps from 20 minutes to 3 hours: some shorter than the
				// horizon, some longer (those occurrences are queued late,
				// within the grace window).
				now = now.Add(time.Duration(20+rng.IntN(160)) * time.Minute)
				if now.After(end) {
					now = end
				}
			}
			checkQueued(t, b, want)
			if n := int(enqueued.Load()); n != len(want) {
				t.Errorf("planners reported %d enqueued, want %d", n, len(want))
			}
			if n := b.stillDue(t, end.Add(horizon)); n != 0 {
				t.Errorf("%d entries still due at the end", n)
			}
		})
	}
}

// flaky is an Enqueuer that, for some tasks, fails before enqueueing or
// enqueues and then reports an error, as if the reply were lost. Which tasks,
// and on which attempt, follows from the task id, so the test is repeatable.
type flaky struct {
	next     scheduler.Enqueuer
	mu       sync.Mutex
	attempts map[string]int
	before   int // failures before enqueueing
	lost     int // replies lost after enqueueing
}

var errInjected = errors.New("injected failure")

func (f *flaky) EnqueueContext(ctx context.Context, t *asynq.Task, opts ...asynq.Option) (*asynq.TaskInfo, error) {
	taskID := taskIDOf(t)
	h := fnv.New32a()
	h.Write([]byte(taskID))
	f.mu.Lock()
	f.attempts[taskID]++
	attempt := f.attempts[taskID]
	f.mu.Unlock()
	// A third of the tasks lose the reply of their first attempt; a third
	// fail before enqueueing on their first attempt and lose the reply of
	// their second; the rest go through.
	switch kind := h.Sum32() % 3; {
	case kind == 0 && attempt == 1, kind == 1 && attempt == 2:
		info, err := f.next.EnqueueContext(ctx, t, opts...)
		if err != nil {
			return info, err
		}
		f.count(&f.lost)
		return nil, fmt.Errorf("read reply: %w", errInjected)
	case kind == 1 && attempt == 1:
		f.count(&f.before)
		return nil, fmt.Errorf("write command: %w", errInjected)
	}
	return f.next.EnqueueContext(ctx, t, opts...)
}

func (f *flaky) count(n *int) {
	f.mu.Lock()
	*n++
	f.mu.Unlock()
}

// taskIDOf returns the id of a nudge task, which follows from its payload
// (the id itself is an option of the task, which asynq does not show).
func taskIDOf(t *asynq.Task) string {
	var p task.DeliverNudge
	if err := json.Unmarshal(t.Payload(), &p); err != nil {
		return ""
	}
	return p.ID()
}

// loseMoveReplies is a go-redis hook that lets every other batch move of
// the due index reach Redis and then reports its reply lost.
type loseMoveReplies struct{ n, lost atomic.Int64 }

func (h *loseMoveReplies) DialHook(next redis.DialHook) redis.DialHook { return next }

func (h *loseMoveReplies) ProcessPipelineHook(next redis.ProcessPipelineHook) redis.ProcessPipelineHook {
	return func(ctx context.Context, cmds []redis.Cmder) error {
		err := next(ctx, cmds)
		// Only the plain advances' MULTI: writers' transactions run
		// scripts on the due index too, and must not lose their replies.
		advance := func(c redis.Cmder) bool { return c.Name() == "zadd" && isMoveDue(c) }
		if err == nil && slices.ContainsFunc(cmds, advance) && h.n.Add(1)%2 == 1 {
			h.lost.Add(1)
			return fmt.Errorf("read reply: %w", errInjected)
		}
		return err
	}
}

func (h *loseMoveReplies) ProcessHook(next redis.ProcessHook) redis.ProcessHook {
	return func(ctx context.Context, cmd redis.Cmder) error {
		err := next(ctx, cmd)
		if err == nil && isMoveDue(cmd) && h.n.Add(1)%2 == 1 {
			h.lost.Add(1)
			return fmt.Errorf("read reply: %w", errInjected)
		}
		return err
	}
}

// isMoveDue tells the store's batch moves from its other commands: the
// exact-move script is the only script run on its own whose first key is a
// due shard, and a plain advance is a ZADD XX GT of a due shard (writers
// change the index with scripts inside their transactions, never a ZADD).
func isMoveDue(cmd redis.Cmder) bool {
	args := cmd.Args()
	var key string
	switch {
	case cmd.Name() == "zadd" && len(args) > 3 && args[2] == "xx" && args[3] == "gt":
		key, _ = args[1].(string)
	case (cmd.Name() == "evalsha" || cmd.Name() == "eval") && len(args) >= 4:
		key, _ = args[3].(string)
	default:
		return false
	}
	i := strings.LastIndex(key, "due:")
	if i < 0 || strings.HasSuffix(key[:i], "lease:") {
		return false
	}
	_, err := strconv.Atoi(key[i+len("due:"):])
	return err == nil
}

// TestLostRepliesMidClaim loses replies at every step of a claim: enqueues
// that fail before reaching asynq, enqueues that land but whose reply is
// lost, and moves of the due index that land but whose reply is lost. Pass
// after pass, every occurrence is queued exactly once and every entry moves
// on exactly once.
func TestLostRepliesMidClaim(t *testing.T) {
	at := time.Date(2026, 3, 8, 6, 30, 0, 0, time.UTC)
	b := setup(t, at.Add(-time.Hour))
	hook := &loseMoveReplies{}
	// The store gets a client of its own, with the hook; asynq keeps the
	// test's client.
	storeRDB := redistest.Client(t, redistest.DBScheduler)
	storeRDB.AddHook(hook)
	b.st = store.New(storeRDB, b.st.Prefix())

	zones := []string{"America/New_York", "Europe/London", "Asia/Kathmandu", "Pacific/Chatham"}
	want := map[string]occurrence{}
	type sched struct {
		id   string
		rule string
		loc  *time.Location
	}
	var scheds []sched
	for i := range 60 {
		zone := zones[i%len(zones)]
		loc, _ := time.LoadLocation(zone)
		local := at.In(loc)
		rule := fmt.Sprintf("weekly:%s@%02d:%02d", strings.ToLower(local.Weekday().String()[:3]), local.Hour(), local.Minute())
		id := b.subscribe(t, i, zone, map[domain.Program]string{domain.WeeklyCheckin: rule})
		o := occurrence{sub: id, prog: domain.WeeklyCheckin, at: at, date: local.Format(time.DateOnly)}
		want[o.id()] = o
		scheds = append(scheds, sched{id, rule, loc})
	}
	b.clock.Set(at.Add(-10 * time.Second))

	f := &flaky{next: b.rec, attempts: map[string]int{}}
	planners := []*scheduler.Planner{b.planner("a", f, time.Minute), b.planner("b", f, time.Minute)}
	ctx := context.Background()
	var failedPasses int
	for pass := 0; b.stillDue(t, at) > 0; pass++ {
		if pass == 10 {
			t.Fatalf("%d entries still due after %d passes", b.stillDue(t, at), pass)
		}
		var wg sync.WaitGroup
		var failed atomic.Bool
		for _, p := range planners {
			wg.Go(func() {
				if _, err := p.Tick(ctx); err != nil {
					if !errors.Is(err, errInjected) {
						t.Errorf("pass %d: %v", pass, err)
					}
					failed.Store(true)
				}
			})
		}
		wg.Wait()
		if failed.Load() {
			failedPasses++
		}
	}
	if f.before == 0 || f.lost == 0 || hook.lost.Load() == 0 {
		t.Fatalf("failures injected: %d before enqueue, %d lost enqueue replies, %d lost move replies; want some of each",
			f.before, f.lost, hook.lost.Load())
	}
	if failedPasses == 0 {
		t.Error("no pass reported the injected failures")
	}
	checkQueued(t, b, want)
	for _, s := range scheds {
		sc, err := b.st.Schedule(ctx, s.id, domain.WeeklyCheckin)
		if err != nil {
			t.Fatal(err)
		}
		r, _ := scheduler.ParseRule(s.rule)
		if next := r.Next(at, s.loc).At; sc.Step != 1 || !sc.Next.Equal(next) {
			t.Errorf("schedule %s after the passes: step %d, next %s; want step 1, next %s", s.id, sc.Step, sc.Next, next)
		}
	}
}

// TestDowntime checks what the planner does with occurrences it finds late:
// within the grace window they are queued (to go out at once); later than
// that they are recorded as skipped and the schedule moves to its next
// occurrence after now, without a catch-up burst and without using up the
// message they would have carried.
func TestDowntime(t *testing.T) {
	// Sunday 8 March 2026, 09:00 in London (GMT).
	at := time.Date(2026, 3, 8, 9, 0, 0, 0, time.UTC)
	const rule = "weekly:sun@09:00"
	for _, tt := range []struct {
		name     string
		down     time.Duration // how long after the occurrence the planner runs
		queued   bool
		nextFrom time.Time // the schedule's next occurrence after the pass is the first after this
		step     int64
	}{
		{"an hour late", time.Hour, true, at, 1},
		{"just within grace", 6 * time.Hour, true, at, 1},
		{"a minute past grace", 6*time.Hour + time.Minute, false, at.Add(6*time.Hour + time.Minute), 0},
		{"three weeks late", 3*7*24*time.Hour + 2*time.Hour, false, at.Add(3*7*24*time.Hour + 2*time.Hour), 0},
	} {
		t.Run(tt.name, func(t *testing.T) {
			ctx := context.Background()
			b := setup(t, at.Add(-24*time.Hour))
			id := b.subscribe(t, 0, "Europe/London", map[domain.Program]string{domain.WeeklyCheckin: rule})
			b.clock.Set(at.Add(tt.down))
			p := b.planner("a", b.rec, time.Minute)
			for range 2 { // a second pass finds nothing more to do
				if _, err := p.Tick(ctx); err != nil {
					t.Fatal(err)
				}
			}

			key := store.DeliveryKey{SubscriberID: id, Program: domain.WeeklyCheckin, Date: "2026-03-08", Channel: domain.Email}
			d, err := b.st.Delivery(ctx, key)
			got := b.tasks(t)
			if tt.queued {
				want := map[string]task.DeliverNudge{id + ":weekly-checkin:2026-03-08": {
					SubscriberID: id, Program: domain.WeeklyCheckin, Date: "2026-03-08", At: at.Unix(), Version: 1, Step: 0,
				}}
				if diff := cmp.Diff(want, got); diff != "" {
					t.Errorf("queued (-want +got):\n%s", diff)
				}
				if !errors.Is(err, store.ErrNotFound) {
					t.Errorf("delivery record of a queued occurrence: %+v, %v; want none", d, err)
				}
			} else {
				if len(got) != 0 {
					t.Errorf("queued %v; want nothing", got)
				}
				if err != nil || d.State != store.Skipped || !strings.Contains(d.Reason, "too late") || !d.At.Equal(at.Add(tt.down)) {
					t.Errorf("delivery record = %+v, %v; want skipped, too late, at %s", d, err, at.Add(tt.down))
				}
			}
			// No record for any other date: nothing was caught up.
			keys, err := b.rdb.Keys(ctx, b.st.Prefix()+"dlv:*").Result()
			if err != nil {
				t.Fatal(err)
			}
			if wantKeys := map[bool]int{true: 0, false: 1}[tt.queued]; len(keys) != wantKeys {
				t.Errorf("delivery records %v; want %d", keys, wantKeys)
			}

			loc, _ := scheduler.LoadZone("Europe/London")
			r, _ := scheduler.ParseRule(rule)
			sc, err := b.st.Schedule(ctx, id, domain.WeeklyCheckin)
			if err != nil {
				t.Fatal(err)
			}
			if next := r.Next(tt.nextFrom, loc).At; !sc.Next.Equal(next) || sc.Step != tt.step {
				t.Errorf("schedule after the pass: next %s, step %d; want next %s, step %d", sc.Next, sc.Step, next, tt.step)
			}
			if n := b.stillDue(t, at.Add(tt.down).Add(time.Minute)); n != 0 {
				t.Errorf("%d entries still due", n)
			}
		})
	}
}

// TestDowntimeRecordsTheSkipOnEachChannel: an occurrence found too late is
// recorded as skipped on the channels it would have gone out on, and only
// those.
func TestDowntimeRecordsTheSkipOnEachChannel(t *testing.T) {
	ctx := context.Background()
	// Sunday 8 March 2026, 09:00 in London (GMT).
	at := time.Date(2026, 3, 8, 9, 0, 0, 0, time.UTC)
	b := setup(t, at.Add(-24*time.Hour))
	now := b.clock.Now()
	loc, _ := scheduler.LoadZone("Europe/London")
	r, _ := scheduler.ParseRule("weekly:sun@09:00")
	subscribe := func(sub domain.Subscriber) string {
		t.Helper()
		sub.FirstName, sub.TimeZone, sub.Locale, sub.CreatedAt = "Sam", "Europe/London", "en", now
		res, err := b.st.Signup(ctx, sub, []domain.Schedule{{Program: domain.WeeklyCheckin, Rule: r.String()}}, store.ConsentEvent{})
		if err != nil {
			t.Fatal(err)
		}
		next := map[domain.Program]time.Time{domain.WeeklyCheckin: r.Next(now, loc).At}
		activate := b.st.Activate
		if sub.Email == "" {
			activate = b.st.ActivateBySMS
		}
		if ok, err := activate(ctx, res.ID, now, next, store.ConsentEvent{}); err != nil || !ok {
			t.Fatalf("activate: %v, %v", ok, err)
		}
		return res.ID
	}
	smsOnly := subscribe(domain.Subscriber{Phone: "+447400123456", Channels: []domain.Channel{domain.SMS}, SMSStatus: domain.SMSActive})
	both := subscribe(domain.Subscriber{Email: "both@example.org", Phone: "+447400123457",
		Channels: []domain.Channel{domain.Email, domain.SMS}, SMSStatus: domain.SMSActive})

	b.clock.Set(at.Add(8 * time.Hour))
	if _, err := b.planner("a", b.rec, time.Minute).Tick(ctx); err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		id   string
		want map[domain.Channel]bool
	}{
		{smsOnly, map[domain.Channel]bool{domain.SMS: true}},
		{both, map[domain.Channel]bool{domain.Email: true, domain.SMS: true}},
	} {
		for _, c := range []domain.Channel{domain.Email, domain.SMS} {
			d, err := b.st.Delivery(ctx, store.DeliveryKey{SubscriberID: tc.id, Program: domain.WeeklyCheckin, Date: "2026-03-08", Channel: c})
			switch {
			case tc.want[c] && (err != nil || d.State != store.Skipped || !strings.Contains(d.Reason, "too late")):
				t.Errorf("%s over %s: %+v, %v; want skipped, too late", tc.id, c, d, err)
			case !tc.want[c] && !errors.Is(err, store.ErrNotFound):
				t.Errorf("%s over %s: a record %+v, want none (not a channel of theirs)", tc.id, c, d)
			}
		}
	}
	if got := b.tasks(t); len(got) != 0 {
		t.Errorf("queued %v; want nothing", got)
	}
}
