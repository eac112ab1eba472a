package main

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/hibiken/asynq"
	"github.com/nudgehq/nudge/internal/domain"
	"github.com/nudgehq/nudge/internal/redistest"
	"github.com/nudgehq/nudge/internal/store"
	"github.com/redis/go-redis/v9"
)

// peakZones are the eight zones the peak minute's subscribers live in.
var peakZones = []string{
	"Europe/London", "America/New_York", "Australia/Lord_Howe", "America/Santiago",
	"Asia/Kathmandu", "Pacific/Chatham", "Europe/Berlin", "Asia/Tokyo",
}

// BenchmarkPeakMinute is the worst minute: NUDGE_BENCH_SUBSCRIBERS
// (default 100,000) subscribers across eight zones whose weekly check-in
// falls on the same instant. For each worker count in NUDGE_BENCH_WORKERS
// (default "1,2,4") it starts a Redis of its own (no persistence), seeds
// it, and runs one `nudge scheduler` and that many `nudge worker`
// processes with no SMTP settings, so email goes to the development outbox
// (one capped-list write a message: a null channel with a Redis round trip).
// It reports the time from the due instant to the last message handed
// over, and p50/p99 lateness from the delivery records (whose times are
// whole seconds). Run with -benchtime 1x:
//
//	go test -run '^$' -bench PeakMinute -benchtime 1x -timeout 60m -v ./cmd/nudge/
func BenchmarkPeakMinute(b *testing.B) {
	b.StopTimer()
	n := 100_000
	if v := os.Getenv("NUDGE_BENCH_SUBSCRIBERS"); v != "" {
		var err error
		if n, err = strconv.Atoi(v); err != nil || n < 1 {
			b.Fatalf("NUDGE_BENCH_SUBSCRIBERS=%q is not a positive number", v)
		}
	}
	counts := []int{1, 2, 4}
	if v := os.Getenv("NUDGE_BENCH_WORKERS"); v != "" {
		counts = nil
		for f := range strings.SplitSeq(v, ",") {
			c, err := strconv.Atoi(strings.TrimSpace(f))
			if err != nil || c < 1 {
				b.Fatalf("NUDGE_BENCH_WORKERS=%q is not a list of positive numbers", v)
			}
			counts = append(counts, c)
		}
	}
	bin := filepath.Join(b.TempDir(), "nudge")
	if out, err := exec.Command("go", "build", "-o", bin, ".").CombinedOutput(); err != nil {
		b.Fatalf("go build: %v\n%s", err, out)
	}
	for range b.N {
		for _, w := range counts {
			peakRound(b, bin, n, w)
		}
	}
}

func peakRound(b *testing.B, bin string, n, workers int) {
	srv := redistest.StartServer(b)
	rdb := redis.NewClient(&redis.Options{Addr: srv.Addr, PoolSize: 32})
	defer rdb.Close()
	st := store.New(rdb, "nudge:")

	// Seed at 1,500–5,000 a second here; the due instant is the first whole
	// minute at least 20 s after the seeding is expected to end.
	start := time.Now()
	due := start.Add(time.Duration(n/1500)*time.Second + 20*time.Second).Truncate(time.Minute).Add(time.Minute)
	peakSeed(b, st, n, due)
	b.Logf("%d workers: seeded %d subscribers in %s; due at %s (%s from now)", workers, n, time.Since(start).Round(time.Millisecond),
		due.Format(time.TimeOnly), time.Until(due).Round(time.Second))
	if time.Until(due) < 5*time.Second {
		b.Fatalf("seeding ended %s before the due instant: too slow for this size", time.Until(due))
	}

	env := []string{
		"NUDGE_REDIS_URL=redis://" + srv.Addr + "/0", "NUDGE_REDIS_PREFIX=nudge:",
		"NUDGE_HTTP_ADDR=127.0.0.1:0", "NUDGE_BASE_URL=https://nudge.test",
		"NUDGE_SECRET=a-peak-benchmark-secret-of-enough-length", "NUDGE_POSTAL_ADDRESS=1 Test Street",
		"NUDGE_LOG_LEVEL=warn", "NUDGE_WORKER_CONCURRENCY=16",
	}
	redisCPUBefore := redisCPU(b, rdb)
	procs := []*benchProcess{startBenchProcess(b, bin, "scheduler", env)}
	for range workers {
		procs = append(procs, startBenchProcess(b, bin, "worker", env))
	}
	insp := asynq.NewInspectorFromRedisClient(rdb)
	defer insp.Close()
	b.StartTimer()
	var (
		last      time.Time
		cpuAtDue  time.Duration // every process and Redis, once the due instant passed
		sampledAt time.Time
	)
	allCPU := func() time.Duration {
		total := redisCPU(b, rdb)
		for _, p := range procs {
			total += processCPU(b, p.cmd.Process.Pid)
		}
		return total
	}
	for {
		if sampledAt.IsZero() && !time.Now().Before(due) {
			cpuAtDue, sampledAt = allCPU(), time.Now()
		}
		info, err := insp.GetQueueInfo("default")
		if err == nil && info.Completed >= n {
			last = time.Now()
			break
		}
		for _, p := range procs {
			select {
			case <-p.exited:
				b.Fatalf("a nudge process exited (%v):\n%s", p.err, p.log())
			default:
			}
		}
		if time.Since(due) > 10*time.Minute {
			b.Fatalf("not all handed over 10 minutes after the due instant: %+v", info)
		}
		time.Sleep(100 * time.Millisecond)
	}
	b.StopTimer()
	// Where the CPU went, from the processes' start to the last hand-over
	// (what a message cost each part), and how many cores were busy from the
	// due instant to the last message.
	busy := 0.0
	if !sampledAt.IsZero() && last.After(sampledAt) {
		busy = (allCPU() - cpuAtDue).Seconds() / last.Sub(sampledAt).Seconds()
	}
	var cpu []time.Duration
	for _, p := range procs {
		cpu = append(cpu, processCPU(b, p.cmd.Process.Pid))
	}
	redisUsed := redisCPU(b, rdb) - redisCPUBefore
	for _, p := range procs {
		p.stop(b)
	}
	var workersCPU time.Duration
	for _, c := range cpu[1:] {
		workersCPU += c
	}
	perMsg := func(d time.Duration) string { return fmt.Sprintf("%.0f µs", float64(d.Microseconds())/float64(n)) }
	b.Logf("%d workers: CPU a message: workers %s, scheduler %s, redis %s (total %s); nudge and Redis kept %.2f cores busy from the due instant to the last message",
		workers, perMsg(workersCPU), perMsg(cpu[0]), perMsg(redisUsed), perMsg(workersCPU+cpu[0]+redisUsed), busy)

	late := peakLateness(b, rdb, due)
	p50, p99 := late[len(late)/2], late[len(late)*99/100]
	b.Logf("%d workers: %d handed over, the last %s after the due instant; lateness p50 %ds, p99 %ds, max %ds; load %s",
		workers, len(late), last.Sub(due).Round(100*time.Millisecond), p50, p99, late[len(late)-1], loadAverage())
	b.ReportMetric(last.Sub(due).Seconds(), fmt.Sprintf("s-to-last/%dw", workers))
	b.ReportMetric(float64(p99), fmt.Sprintf("s-p99/%dw", workers))
}

// peakSeed stores n active subscribers spread over the eight zones, all
// due at due, from 16 goroutines.
func peakSeed(b *testing.B, st *store.Store, n int, due time.Time) {
	var (
		next atomic.Int64
		wg   sync.WaitGroup
		fail atomic.Value
	)
	ctx := context.Background()
	for range 16 {
		wg.Go(func() {
			for {
				i := int(next.Add(1)) - 1
				if i >= n || fail.Load() != nil {
					return
				}
				zone := peakZones[i%len(peakZones)]
				loc, _ := time.LoadLocation(zone)
				local := due.In(loc)
				rule := "weekly:" + strings.ToLower(local.Weekday().String()[:3]) + "@" + local.Format("15:04")
				res, err := st.Signup(ctx, domain.Subscriber{FirstName: "P" + strconv.Itoa(i), Email: fmt.Sprintf("peak%d@example.org", i), TimeZone: zone, Locale: "en"},
					[]domain.Schedule{{Program: domain.WeeklyCheckin, Rule: rule}}, store.ConsentEvent{})
				if err == nil {
					_, err = st.Activate(ctx, res.ID, due.Add(-time.Hour), map[domain.Program]time.Time{domain.WeeklyCheckin: due}, store.ConsentEvent{})
				}
				if err != nil {
					fail.Store(err)
					return
				}
			}
		})
	}
	wg.Wait()
	if err := fail.Load(); err != nil {
		b.Fatalf("seed: %v", err)
	}
}

// peakLateness returns every delivery record's lateness (its time, whole
// seconds, minus the due instant), sorted.
func peakLateness(b *testing.B, rdb *redis.Client, due time.Time) []int64 {
	ctx := context.Background()
	var keys []string
	iter := rdb.Scan(ctx, 0, "nudge:dlv:*", 1000).Iterator()
	for iter.Next(ctx) {
		keys = append(keys, iter.Val())
	}
	if err := iter.Err(); err != nil {
		b.Fatal(err)
	}
	var late []int64
	for chunk := range slices.Chunk(keys, 1000) {
		cmds := make([]*redis.SliceCmd, len(chunk))
		if _, err := rdb.Pipelined(ctx, func(p redis.Pipeliner) error {
			for i, k := range chunk {
				cmds[i] = p.HMGet(ctx, k, "s", "t")
			}
			return nil
		}); err != nil {
			b.Fatal(err)
		}
		for _, c := range cmds {
			v := c.Val()
			if v[0] != string(store.Sent) {
				b.Errorf("a record is %v, not sent", v[0])
				continue
			}
			t, _ := strconv.ParseInt(fmt.Sprint(v[1]), 10, 64)
			late = append(late, t-due.Unix())
		}
	}
	if len(late) == 0 {
		b.Fatal("no delivery records")
	}
	slices.Sort(late)
	return late
}

// processCPU is the CPU time (user and system) process pid has used.
func processCPU(b *testing.B, pid int) time.Duration {
	raw, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		b.Fatalf("read the CPU time of process %d: %v", pid, err)
	}
	// The fields after the command name (in parentheses, which may hold
	// spaces): utime and stime are the 12th and 13th, in clock ticks
	// (100 a second on Linux).
	fields := strings.Fields(string(raw[strings.LastIndexByte(string(raw), ')')+1:]))
	utime, err1 := strconv.ParseInt(fields[11], 10, 64)
	stime, err2 := strconv.ParseInt(fields[12], 10, 64)
	if err1 != nil || err2 != nil {
		b.Fatalf("parse /proc/%d/stat: %q", pid, raw)
	}
	return time.Duration(utime+stime) * 10 * time.Millisecond
}

// redisCPU is the CPU time the Redis server has used (INFO cpu).
func redisCPU(b *testing.B, rdb *redis.Client) time.Duration {
	info, err := rdb.Info(context.Background(), "cpu").Result()
	if err != nil {
		b.Fatal(err)
	}
	var total float64
	for line := range strings.SplitSeq(info, "\r\n") {
		k, v, ok := strings.Cut(line, ":")
		if ok && (k == "used_cpu_sys" || k == "used_cpu_user") {
			f, err := strconv.ParseFloat(v, 64)
			if err != nil {
				b.Fatalf("INFO cpu: %q", line)
			}
			total += f
		}
	}
	return time.Duration(total * float64(time.Second))
}

func loadAverage() string {
	b, err := os.ReadFile("/proc/loadavg")
	if err != nil {
		return "?"
	}
	return strings.Join(strings.Fields(string(b))[:3], " ")
}
