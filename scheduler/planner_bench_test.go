package scheduler_test

import (
	"context"
	"fmt"
	"os"
	"runtime"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/hibiken/asynq"
	"github.com/nudgehq/nudge/internal/domain"
	"github.com/nudgehq/nudge/internal/redistest"
	"github.com/nudgehq/nudge/internal/store"
	"github.com/nudgehq/nudge/internal/task"
	"github.com/nudgehq/nudge/scheduler"
	"github.com/redis/go-redis/v9"
)

// benchEnqueuers is how many goroutines enqueue, in the bare run and in the
// planner (its Workers).
const benchEnqueuers = 8

// The zones the benchmark's subscribers live in: each gets the weekly rule
// that falls on the benchmark's instant in its zone, so all are due together.
var benchZones = []string{
	"Europe/London", "America/New_York", "Australia/Lord_Howe", "America/Santiago",
	"Asia/Kathmandu", "Pacific/Chatham", "Europe/Berlin", "Asia/Tokyo",
}

// BenchmarkPlannerMillion loads NUDGE_BENCH_SUBSCRIBERS subscribers (default
// 1,000,000) with one weekly program each into DBBench, all due in the same
// minute, and measures in one run: bare asynq enqueue throughput, the
// planner's throughput over the same number of tasks at the same
// concurrency, and Redis memory per subscriber and per task. It runs the
// whole scenario once per call; run it with -benchtime=1x:
//
//	go test ./scheduler -run '^$' -bench PlannerMillion -benchtime 1x -timeout 90m
//
// Bare and planner runs alternate for NUDGE_BENCH_ROUNDS rounds (default 2;
// each planner round plans the next week), each starting from the same
// keyspace (the previous run's tasks are deleted first), so that a burst of
// load from elsewhere on the machine does not decide the comparison. The
// figures reported are totals over the rounds; each round is logged too.
// DBBench is flushed first; nothing else may use it meanwhile.
func BenchmarkPlannerMillion(b *testing.B) {
	n := benchEnv(b, "NUDGE_BENCH_SUBSCRIBERS", 1_000_000)
	rounds := benchEnv(b, "NUDGE_BENCH_ROUNDS", 2)
	batch, lanes := benchEnv(b, "NUDGE_BENCH_BATCH", 0), benchEnv(b, "NUDGE_BENCH_LANES", 0)
	ctx := context.Background()
	rdb := redis.NewClient(&redis.Options{Addr: redistest.Addr(), DB: redistest.DBBench})
	defer rdb.Close()
	// ASYNC: the Redis is shared, and a flush of millions of keys would
	// block it for seconds.
	if err := rdb.FlushDBAsync(ctx).Err(); err != nil {
		b.Fatalf("flush bench db: %v", err)
	}
	waitLazyFree(b, rdb)
	// Other benchmarks flush DBBench too: this key tells when one did.
	if err := rdb.Set(ctx, benchSentinel, "planner", 0).Err(); err != nil {
		b.Fatal(err)
	}
	st := store.New(rdb, "nudge:")
	// The instant all are due at, on a minute, in the future so that tasks
	// are scheduled (as the planner's are, within its horizon).
	at := time.Now().Add(time.Hour).Truncate(time.Minute).UTC()
	say("%d subscribers due at %s; Redis %s, %s, GOMAXPROCS %d", n, at.Format(time.RFC3339),
		infoField(b, rdb, "server", "redis_version:"), runtime.Version(), runtime.GOMAXPROCS(0))

	mem0 := usedMemory(b, rdb)
	start := time.Now()
	loadSubscribers(b, n, at)
	loadTime := time.Since(start)
	mem1 := usedMemory(b, rdb)
	perSub := float64(mem1-mem0) / float64(n)
	say("loaded %d subscribers in %s (%.0f/s) through store.Signup and store.Activate", n, loadTime.Round(time.Millisecond), float64(n)/loadTime.Seconds())
	say("memory: %.0f B per subscriber (used_memory %d -> %d, before any task)", perSub, mem0, mem1)
	logKeyMemory(b, rdb, st, n)

	client := asynq.NewClientFromRedisClient(rdb)
	ids := make([]string, n)
	for i := range ids {
		ids[i] = store.NewID()
	}
	var bare, plan benchRun
	for r := range rounds {
		// Round r's occurrences are r weeks after the first.
		due := at.AddDate(0, 0, 7*r)
		now := due.Add(-30 * time.Second)

		// (a) Bare enqueues: the same tasks the planner makes (same payload
		// shape, options and delay), from the same number of goroutines.
		br := measure(b, rdb, n, "bench-bare", func() { bareEnqueue(b, client, ids, due, now) })
		br.log(fmt.Sprintf("round %d bare enqueue", r+1), n)
		bare.add(br)

		// (b) The planner: one pass over the due index.
		p := scheduler.NewPlanner(scheduler.PlannerConfig{
			Store: st, Enqueuer: client, Now: func() time.Time { return now },
			Horizon: time.Minute, Workers: benchEnqueuers, Batch: batch, Lanes: lanes, Queue: "bench-plan",
		})
		pr := measure(b, rdb, n, "bench-plan", func() {
			got, err := p.Tick(ctx)
			if err != nil {
				fatal(b, rdb, "planner pass: %v", err)
			}
			if got != n {
				fatal(b, rdb, "planner enqueued %d, want %d", got, n)
			}
		})
		pr.log(fmt.Sprintf("round %d planner     ", r+1), n)
		plan.add(pr)
		// Every entry moved on by a week, none lost.
		if shards, err := st.DueShards(ctx, due.AddDate(0, 0, 7).Add(-time.Second)); err != nil || len(shards) != 0 {
			fatal(b, rdb, "shards %v still have entries due before the week after (%v)", shards, err)
		}
		if c, err := st.DueCount(ctx); err != nil || c != int64(n) {
			fatal(b, rdb, "due index holds %d entries (%v), want %d", c, err, n)
		}
	}

	bareRate, planRate := float64(rounds*n)/bare.wall.Seconds(), float64(rounds*n)/plan.wall.Seconds()
	b.ReportMetric(bareRate, "bare-tasks/s")
	b.ReportMetric(planRate, "planner-tasks/s")
	b.ReportMetric(100*planRate/bareRate, "planner/bare-%")
	b.ReportMetric(plan.wall.Seconds()/float64(rounds), "planner-s")
	b.ReportMetric(perSub, "B/subscriber")
	b.ReportMetric(float64(plan.mem)/float64(rounds*n), "B/task")
	say("over %d rounds: bare %.0f tasks/s, planner %.0f tasks/s = %.1f%% of bare; planner %.1f s for %d; tasks %.0f B each",
		rounds, bareRate, planRate, 100*planRate/bareRate, plan.wall.Seconds()/float64(rounds), n, float64(plan.mem)/float64(rounds*n))
}

// benchRun is what one timed run (or the sum of several) cost.
type benchRun struct {
	wall           time.Duration
	redisCPU, self float64 // CPU seconds: the Redis server's, and this process's
	mem            int64   // used_memory the tasks added
	stats          map[string]cmdStat
}

func (r *benchRun) add(o benchRun) {
	r.wall += o.wall
	r.redisCPU += o.redisCPU
	r.self += o.self
	r.mem += o.mem
}

func (r benchRun) log(what string, n int) {
	say("%s: %d tasks in %s = %.0f/s with %d goroutines; CPU a task: Redis %.1f µs, this process %.1f µs; %.0f B a task",
		what, n, r.wall.Round(time.Millisecond), float64(n)/r.wall.Seconds(), benchEnqueuers,
		1e6*r.redisCPU/float64(n), 1e6*r.self/float64(n), float64(r.mem)/float64(n))
	var parts []string
	for name, st := range r.stats {
		if st.calls >= int64(n)/1000 {
			parts = append(parts, fmt.Sprintf("%s %.2f calls %.1f µs", name, float64(st.calls)/float64(n), float64(st.usec)/float64(n)))
		}
	}
	slices.Sort(parts)
	say("%s: Redis commands a task (those run by scripts count twice): %s", what, strings.Join(parts, "; "))
}

// measure times run, which must put n tasks into queue, checks that it did,
// and deletes them again so that the next run starts from the same keyspace.
func measure(b *testing.B, rdb *redis.Client, n int, queue string, run func()) benchRun {
	mem0, stats0 := usedMemory(b, rdb), commandStats(b, rdb)
	start, cpu0, self0 := time.Now(), redisCPU(b, rdb), selfCPU(b)
	run()
	r := benchRun{wall: time.Since(start), redisCPU: redisCPU(b, rdb) - cpu0, self: selfCPU(b) - self0}
	stats1 := commandStats(b, rdb)
	r.mem = usedMemory(b, rdb) - mem0
	r.stats = map[string]cmdStat{}
	for name, a := range stats1 {
		r.stats[name] = cmdStat{a.calls - stats0[name].calls, a.usec - stats0[name].usec}
	}
	insp := asynq.NewInspectorFromRedisClient(rdb)
	if info, err := insp.GetQueueInfo(queue); err != nil || info.Size != n {
		fatal(b, rdb, "queue %s holds %v tasks (%v), want %d", queue, info, err, n)
	}
	deleteQueue(b, rdb, queue)
	waitLazyFree(b, rdb)
	return r
}

// deleteQueue removes an asynq queue's tasks a slice at a time (SCAN
// and UNLINK), where asynq's own DeleteQueue would block the shared Redis
// for seconds with a script over a million keys.
func deleteQueue(b *testing.B, rdb *redis.Client, queue string) {
	ctx := context.Background()
	iter := rdb.Scan(ctx, 0, "asynq:{"+queue+"}:*", 5000).Iterator()
	var keys []string
	flush := func() {
		if len(keys) > 0 {
			if err := rdb.Unlink(ctx, keys...).Err(); err != nil {
				b.Fatalf("delete queue %s: %v", queue, err)
			}
			keys = keys[:0]
		}
	}
	for iter.Next(ctx) {
		if keys = append(keys, iter.Val()); len(keys) == 1000 {
			flush()
		}
	}
	if err := iter.Err(); err != nil {
		b.Fatalf("delete queue %s: %v", queue, err)
	}
	flush()
	// The queue stays in asynq:queues: the client remembers having
	// registered it and would not register it again.
}

// waitLazyFree waits until Redis has freed what FLUSHDB ASYNC and UNLINK
// left to its background thread, so that used_memory means what it says.
func waitLazyFree(b *testing.B, rdb *redis.Client) {
	for deadline := time.Now().Add(5 * time.Minute); ; time.Sleep(100 * time.Millisecond) {
		if infoField(b, rdb, "memory", "lazyfree_pending_objects:") == "0" {
			return
		}
		if time.Now().After(deadline) {
			b.Fatal("Redis still freeing memory after 5 minutes")
		}
	}
}

const benchSentinel = "bench:planner:running"

// fatal fails the benchmark, saying so when another process flushed DBBench
// meanwhile (the likely cause of records that vanish).
func fatal(b *testing.B, rdb *redis.Client, format string, args ...any) {
	b.Helper()
	if n, err := rdb.Exists(context.Background(), benchSentinel).Result(); err == nil && n == 0 {
		format += fmt.Sprintf(" (database %d was flushed by another process during the benchmark: run it when nothing else uses that database)", redistest.DBBench)
	}
	b.Fatalf(format, args...)
}

// say prints a line of the benchmark's report at once (the testing package
// keeps only the first lines a benchmark logs, and only at its end).
func say(format string, args ...any) {
	fmt.Printf("    "+format+"\n", args...)
}

// benchEnv reads a positive number from the environment, or returns def.
func benchEnv(b *testing.B, name string, def int) int {
	v := os.Getenv(name)
	if v == "" {
		return def
	}
	n, err := strconv.Atoi(v)
	if err != nil || n <= 0 {
		b.Fatalf("%s=%q: want a positive number", name, v)
	}
	return n
}

// loadSubscribers signs up and confirms n subscribers through the store's
// own Signup and Activate, many at a time, so the records are exactly those
// the service writes.
func loadSubscribers(b *testing.B, n int, at time.Time) {
	ctx := context.Background()
	// A client of its own, closed before memory is measured, so that its
	// many connections are not counted.
	rdb := redis.NewClient(&redis.Options{Addr: redistest.Addr(), DB: redistest.DBBench, PoolSize: 128})
	defer rdb.Close()
	st := store.New(rdb, "nudge:")
	rules := make([]string, len(benchZones))
	for i, z := range benchZones {
		loc, err := scheduler.LoadZone(z)
		if err != nil {
			b.Fatal(err)
		}
		local := at.In(loc)
		rules[i] = fmt.Sprintf("weekly:%s@%02d:%02d", strings.ToLower(local.Weekday().String()[:3]), local.Hour(), local.Minute())
		rule, err := scheduler.ParseRule(rules[i])
		if err != nil {
			b.Fatal(err)
		}
		if got := rule.Next(at.Add(-time.Minute), loc).At; !got.Equal(at) {
			b.Fatalf("rule %s in %s is next at %s, want %s", rules[i], z, got, at)
		}
	}
	const loaders = 96
	var (
		next   atomic.Int64
		failed atomic.Value
		wg     sync.WaitGroup
	)
	signedUp := at.Add(-72 * time.Hour)
	for range loaders {
		wg.Go(func() {
			for {
				i := int(next.Add(1) - 1)
				if i >= n || failed.Load() != nil {
					return
				}
				z := i % len(benchZones)
				origin := store.ConsentEvent{
					Channel: string(domain.Email), Wording: "signup-email-2026-11", IP: "203.0.113." + strconv.Itoa(i%250),
					UserAgent: "Mozilla/5.0 (iPhone; CPU iPhone OS 17_5 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/17.5 Mobile/15E148 Safari/604.1",
				}
				signup, confirm := origin, origin
				signup.At, signup.Action, signup.Source = signedUp, store.ConsentSignup, "form"
				confirm.At, confirm.Action, confirm.Source = signedUp.Add(10*time.Minute), store.ConsentConfirm, "link"
				res, err := st.Signup(ctx, domain.Subscriber{
					FirstName: "Alexandra", Email: fmt.Sprintf("subscriber.%07d@example.org", i),
					TimeZone: benchZones[z], Locale: "en", CreatedAt: signedUp,
				}, []domain.Schedule{{Program: domain.WeeklyCheckin, Rule: rules[z]}}, signup)
				if err == nil {
					_, err = st.Activate(ctx, res.ID, confirm.At, map[domain.Program]time.Time{domain.WeeklyCheckin: at}, confirm)
				}
				if err != nil {
					failed.Store(err)
				}
			}
		})
	}
	wg.Wait()
	if err, _ := failed.Load().(error); err != nil {
		fatal(b, rdb, "load subscribers: %v", err)
	}
}

// bareEnqueue enqueues a nudge task like the planner's for each id, from
// benchEnqueuers goroutines. The ids are made beforehand: the planner reads
// its own from Redis.
func bareEnqueue(b *testing.B, client *asynq.Client, ids []string, at, now time.Time) {
	n := len(ids)
	ctx := context.Background()
	var (
		next   atomic.Int64
		failed atomic.Value
		wg     sync.WaitGroup
	)
	for range benchEnqueuers {
		wg.Go(func() {
			for {
				i := int(next.Add(1) - 1)
				if i >= n || failed.Load() != nil {
					return
				}
				t, err := task.NewDeliverNudge(task.DeliverNudge{
					SubscriberID: ids[i], Program: domain.WeeklyCheckin, Date: at.Format(time.DateOnly),
					At: at.Unix(), Version: 1, Step: 0,
				}, at.Sub(now))
				if err == nil {
					_, err = client.EnqueueContext(ctx, t, asynq.Queue("bench-bare"))
				}
				if err != nil {
					failed.Store(err)
				}
			}
		})
	}
	wg.Wait()
	if err, _ := failed.Load().(error); err != nil {
		b.Fatalf("bare enqueue: %v", err)
	}
}

// redisCPU returns the CPU seconds the Redis server has used so far.
func redisCPU(b *testing.B, rdb *redis.Client) float64 {
	var total float64
	for _, f := range []string{"used_cpu_sys:", "used_cpu_user:"} {
		v, err := strconv.ParseFloat(infoField(b, rdb, "cpu", f), 64)
		if err != nil {
			b.Fatalf("INFO cpu %s: %v", f, err)
		}
		total += v
	}
	return total
}

type cmdStat struct{ calls, usec int64 }

// commandStats returns Redis's per-command call counts and CPU time.
func commandStats(b *testing.B, rdb *redis.Client) map[string]cmdStat {
	info, err := rdb.Info(context.Background(), "commandstats").Result()
	if err != nil {
		b.Fatalf("INFO commandstats: %v", err)
	}
	out := map[string]cmdStat{}
	for line := range strings.SplitSeq(info, "\r\n") {
		name, rest, ok := strings.Cut(strings.TrimPrefix(line, "cmdstat_"), ":")
		if !ok || !strings.HasPrefix(line, "cmdstat_") {
			continue
		}
		var st cmdStat
		for kv := range strings.SplitSeq(rest, ",") {
			k, v, _ := strings.Cut(kv, "=")
			n, _ := strconv.ParseInt(v, 10, 64)
			switch k {
			case "calls":
				st.calls = n
			case "usec":
				st.usec = n
			}
		}
		out[name] = st
	}
	return out
}

// selfCPU returns the CPU seconds this process has used so far.
func selfCPU(b *testing.B) float64 {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		b.Fatalf("getrusage: %v", err)
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano()).Seconds()
}

func usedMemory(b *testing.B, rdb *redis.Client) int64 {
	v := infoField(b, rdb, "memory", "used_memory:")
	n, err := strconv.ParseInt(v, 10, 64)
	if err != nil {
		b.Fatalf("INFO memory used_memory %q: %v", v, err)
	}
	return n
}

// infoField returns one field of an INFO section; field ends with its colon.
func infoField(b *testing.B, rdb *redis.Client, section, field string) string {
	info, err := rdb.Info(context.Background(), section).Result()
	if err != nil {
		b.Fatalf("INFO %s: %v", section, err)
	}
	for line := range strings.SplitSeq(info, "\r\n") {
		if v, ok := strings.CutPrefix(line, field); ok {
			return v
		}
	}
	b.Fatalf("INFO %s has no %s", section, field)
	return ""
}

// logKeyMemory reports MEMORY USAGE by key type: a sample of the per-subscriber
// keys, and the shared index keys divided among the subscribers.
func logKeyMemory(b *testing.B, rdb *redis.Client, st *store.Store, n int) {
	ctx := context.Background()
	pre := st.Prefix()
	usage := func(key string) int64 {
		v, err := rdb.MemoryUsage(ctx, key, 0).Result()
		if err != nil {
			b.Fatalf("MEMORY USAGE %s: %v", key, err)
		}
		return v
	}
	const sample = 200
	var ids []string
	iter := rdb.Scan(ctx, 0, pre+"sub:*", sample).Iterator()
	for iter.Next(ctx) && len(ids) < sample {
		ids = append(ids, strings.TrimPrefix(iter.Val(), pre+"sub:"))
	}
	if err := iter.Err(); err != nil || len(ids) == 0 {
		b.Fatalf("scan subscribers: %d found, %v", len(ids), err)
	}
	var sub, sched, consent int64
	for _, id := range ids {
		sub += usage(pre + "sub:" + id)
		sched += usage(pre + "sched:" + id + ":" + string(domain.WeeklyCheckin))
		consent += usage(pre + "consent:" + id)
	}
	k := int64(len(ids))
	idx := usage(pre + "idx:email")
	var due int64
	for shard := range store.Shards {
		due += usage(pre + "due:" + strconv.Itoa(shard))
	}
	say("MEMORY USAGE per subscriber: sub hash %d B, sched hash %d B, consent list %d B, email index %.0f B, due index %.0f B (mean of %d samples; shared keys divided by %d)",
		sub/k, sched/k, consent/k, float64(idx)/float64(n), float64(due)/float64(n), k, n)
}
