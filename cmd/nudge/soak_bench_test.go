package main

import (
	"bufio"
	"context"
	"fmt"
	"io"
	"maps"
	"math"
	"math/rand/v2"
	"net"
	"net/textproto"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"sort"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/emersion/go-smtp"
	"github.com/hibiken/asynq"
	"github.com/nudgehq/nudge/internal/domain"
	"github.com/nudgehq/nudge/internal/redistest"
	"github.com/nudgehq/nudge/internal/store"
	"github.com/nudgehq/nudge/scheduler"
	"github.com/redis/go-redis/v9"
)

// soakStart is the simulated week's first instant: a Monday, so the week
// holds the last day of November and the first of December (monthly
// reviews on "last" and on day 1 fall inside it).
var soakStart = time.Date(2026, 11, 30, 0, 0, 0, 0, time.UTC)

// BenchmarkSoakWeek runs NUDGE_BENCH_SUBSCRIBERS (default 100,000) email
// subscribers through a simulated week (NUDGE_BENCH_DAYS, default 7) on
// the real binary: one `nudge scheduler` and two `nudge worker` processes
// on NUDGE_DEV_CLOCK at NUDGE_BENCH_SPEED (default 360: an hour every 10 s),
// against a Redis of its own with appendonly yes / appendfsync everysec.
// Every 3–6 simulated hours it SIGKILLs a random worker or the scheduler
// and starts it again; once, mid-run, it SIGKILLs Redis and restarts it
// from its AOF. Email goes to an SMTP sink in this process that counts
// messages per Message-ID (one per occurrence), so a duplicate is seen
// wherever it came from.
//
// After the run settles it reports, per simulated day: occurrences due,
// sent, skipped (by reason), unknown, missing (no record), duplicates
// (more than one message for an occurrence), lost (recorded sent, never
// received), and Redis used_memory and keys at the day's end. It fails on
// any duplicate, missing or lost occurrence. Run with -benchtime 1x:
//
//	go test -run '^$' -bench SoakWeek -benchtime 1x -timeout 90m -v ./cmd/nudge/
//
// The settings that differ from production, because asynq's own timers
// (ProcessIn, leases, retries) stay on the wall clock while ours run 360
// times faster: NUDGE_PLANNER_INTERVAL=500ms and NUDGE_PLANNER_HORIZON=1s
// (a task queued 1 s ahead runs 1 real second later, 6 simulated minutes;
// with the default 1m horizon it would run 6 simulated hours late), and
// NUDGE_GRACE_WINDOW=48h (the most allowed: 8 real minutes), since a
// killed worker's task comes back only when its 30 s asynq lease runs out,
// and a killed scheduler's shards only when their 30 s leases do: 3 to 9
// simulated hours, which the default 6 h window would skip as late.
func BenchmarkSoakWeek(b *testing.B) {
	b.StopTimer()
	n := soakEnvInt(b, "NUDGE_BENCH_SUBSCRIBERS", 100_000)
	days := soakEnvInt(b, "NUDGE_BENCH_DAYS", 7)
	speed := soakEnvInt(b, "NUDGE_BENCH_SPEED", 360)
	bin := filepath.Join(b.TempDir(), "nudge")
	if out, err := exec.Command("go", "build", "-o", bin, ".").CombinedOutput(); err != nil {
		b.Fatalf("go build: %v\n%s", err, out)
	}
	for range b.N {
		soakRun(b, bin, n, days, speed)
	}
}

func soakEnvInt(b *testing.B, name string, def int) int {
	v := os.Getenv(name)
	if v == "" {
		return def
	}
	n, err := strconv.Atoi(v)
	if err != nil || n < 1 {
		b.Fatalf("%s=%q is not a positive number", name, v)
	}
	return n
}

// soakOcc is one occurrence the week must account for.
type soakOcc struct {
	key string // the delivery record's name without the channel
	day int    // simulated day (UTC) of its instant, from 0
}

func soakRun(b *testing.B, bin string, n, days, speed int) {
	srv := redistest.StartServer(b, "--appendonly", "yes", "--appendfsync", "everysec")
	rdb := redis.NewClient(&redis.Options{Addr: srv.Addr, PoolSize: 32})
	defer rdb.Close()
	st := store.New(rdb, "nudge:")
	end := soakStart.Add(time.Duration(days) * 24 * time.Hour)

	t0 := time.Now()
	occs := soakSeed(b, st, n, end)
	b.Logf("seeded %d subscribers (%d occurrences due in %d simulated days) in %s", n, len(occs), days, time.Since(t0).Round(time.Second))

	sink := startSoakSink(b)
	anchor := time.Now().Add(2 * time.Second)
	clock := func() time.Time {
		return soakStart.Add(time.Duration(float64(time.Since(anchor)) * float64(speed)))
	}
	env := []string{
		"NUDGE_ENV=development",
		fmt.Sprintf("NUDGE_DEV_CLOCK=%s@%d@%s", soakStart.Format(time.RFC3339), speed, anchor.Format(time.RFC3339Nano)),
		"NUDGE_REDIS_URL=redis://" + srv.Addr + "/0", "NUDGE_REDIS_PREFIX=nudge:",
		"NUDGE_HTTP_ADDR=127.0.0.1:0", "NUDGE_BASE_URL=https://nudge.test",
		"NUDGE_SECRET=a-soak-benchmark-secret-of-enough-length", "NUDGE_POSTAL_ADDRESS=1 Test Street",
		"NUDGE_SMTP_HOST=127.0.0.1", "NUDGE_SMTP_PORT=" + strconv.Itoa(sink.port()), "NUDGE_SMTP_TLS=none",
		"NUDGE_LOG_LEVEL=error", "NUDGE_WORKER_CONCURRENCY=16",
		"NUDGE_PLANNER_INTERVAL=500ms", "NUDGE_PLANNER_HORIZON=1s", "NUDGE_GRACE_WINDOW=48h",
	}
	roles := []string{"scheduler", "worker", "worker"}
	procs := make([]*benchProcess, len(roles))
	for i, r := range roles {
		procs[i] = startBenchProcess(b, bin, r, env)
	}
	time.Sleep(time.Until(anchor))
	b.StartTimer()

	// The run: kills every 3–6 simulated hours, Redis once at the middle,
	// and a sample of Redis at each simulated day's end.
	rng := rand.New(rand.NewPCG(uint64(n), uint64(days)))
	nextKill := soakStart.Add(time.Duration(3+rng.IntN(4)) * time.Hour)
	redisKill := soakStart.Add(time.Duration(days) * 12 * time.Hour).Add(3 * time.Hour) // mid-run, at 03:00 UTC
	redisKilled := false
	kills := map[string]int{}
	var samples []soakSample
	nextSample := soakStart.Add(24 * time.Hour)
	for now := clock(); now.Before(end); now = clock() {
		for i, p := range procs {
			select {
			case <-p.exited:
				if p.err == nil || !strings.Contains(p.err.Error(), "killed") {
					b.Logf("nudge %s exited by itself at %s (%v); started again:\n%s", roles[i], now.Format(time.DateTime), p.err, tail(p.log(), 2000))
					kills["exited "+roles[i]]++
				}
				procs[i] = startBenchProcess(b, bin, roles[i], env)
			default:
			}
		}
		if now.After(nextKill) {
			i := rng.IntN(len(procs))
			_ = procs[i].cmd.Process.Signal(syscall.SIGKILL)
			<-procs[i].exited
			procs[i] = startBenchProcess(b, bin, roles[i], env)
			kills[roles[i]]++
			nextKill = now.Add(time.Duration(3+rng.IntN(4)) * time.Hour)
		}
		if !redisKilled && now.After(redisKill) {
			srv.Kill()
			srv.Restart(b)
			redisKilled = true
			kills["redis"]++
			b.Logf("Redis SIGKILLed and restarted from its AOF at %s (simulated)", now.Format(time.DateTime))
		}
		if now.After(nextSample) {
			samples = append(samples, soakSampleRedis(b, rdb, len(samples)))
			b.Logf("day %d: used_memory %s, %d keys", len(samples), soakMB(samples[len(samples)-1].mem), samples[len(samples)-1].keys)
			nextSample = nextSample.Add(24 * time.Hour)
		}
		time.Sleep(100 * time.Millisecond)
	}
	b.StopTimer()
	if len(samples) < days {
		samples = append(samples, soakSampleRedis(b, rdb, len(samples)))
	}

	// Settle: the scheduler runs on, without kills, until 12 simulated
	// hours past the end (a scheduler killed just before the end leaves
	// its shards to a 30 s lease: 5 simulated hours), then stops; the
	// workers run until every queued task ran or ended, retries included.
	settle := time.Now()
	time.Sleep(time.Until(anchor.Add(time.Duration(float64(end.Add(12*time.Hour).Sub(soakStart)) / float64(speed)))))
	procs[0].stop(b)
	insp := asynq.NewInspectorFromRedisClient(rdb)
	defer insp.Close()
	for {
		info, err := insp.GetQueueInfo("default")
		if err == nil && info.Active == 0 && info.Retry == 0 && info.Pending == 0 && info.Scheduled == 0 {
			break
		}
		if time.Since(settle) > 10*time.Minute {
			b.Logf("not settled after 10 minutes: %+v", info)
			break
		}
		time.Sleep(time.Second)
	}
	for _, p := range procs[1:] {
		p.stop(b)
	}
	b.Logf("settled in %s; kills: %v", time.Since(settle).Round(time.Second), kills)
	soakReport(b, rdb, sink, occs, days, samples)
}

// soakSeed stores n active email subscribers over eight zones, each with a
// weekly check-in, a gratitude prompt and a monthly review, and returns
// every occurrence due before end.
func soakSeed(b *testing.B, st *store.Store, n int, end time.Time) []soakOcc {
	var (
		next atomic.Int64
		wg   sync.WaitGroup
		fail atomic.Value
		mu   sync.Mutex
		occs []soakOcc
	)
	days := []string{"mon", "tue", "wed", "thu", "fri", "sat", "sun"}
	monthly := []string{"monthly:1@10:00", "monthly:last@19:00", "monthly:first-wed@08:30", "monthly:15@12:00"}
	ctx := context.Background()
	for range 8 {
		wg.Go(func() {
			for {
				i := int(next.Add(1)) - 1
				if i >= n || fail.Load() != nil {
					return
				}
				zone := peakZones[i%len(peakZones)]
				loc, _ := time.LoadLocation(zone)
				rules := map[domain.Program]string{
					domain.WeeklyCheckin: fmt.Sprintf("weekly:%s@%02d:%02d", days[i%7], 7+i%14, (i/7)%4*15),
					domain.Gratitude:     fmt.Sprintf("weekly:%s@%02d:30", days[(i/7+3)%7], 8+(i/3)%13),
					domain.MonthlyReview: monthly[(i/11)%len(monthly)],
				}
				var scheds []domain.Schedule
				firsts := map[domain.Program]time.Time{}
				var mine []soakOcc
				for _, p := range domain.PublicPrograms {
					rule, err := scheduler.ParseRule(rules[p])
					if err != nil {
						fail.Store(err)
						return
					}
					scheds = append(scheds, domain.Schedule{Program: p, Rule: rules[p]})
					occ := rule.Next(soakStart, loc)
					firsts[p] = occ.At
					for ; occ.At.Before(end); occ = rule.Next(occ.At, loc) {
						mine = append(mine, soakOcc{key: string(p) + ":" + occ.Date, day: int(occ.At.Sub(soakStart) / (24 * time.Hour))})
					}
				}
				res, err := st.Signup(ctx, domain.Subscriber{FirstName: "S" + strconv.Itoa(i), Email: fmt.Sprintf("soak%d@example.org", i), TimeZone: zone, Locale: "en",
					CreatedAt: soakStart.Add(-24 * time.Hour)}, scheds, store.ConsentEvent{})
				if err == nil {
					_, err = st.Activate(ctx, res.ID, soakStart.Add(-time.Hour), firsts, store.ConsentEvent{})
				}
				if err != nil {
					fail.Store(err)
					return
				}
				for j := range mine {
					mine[j].key = res.ID + ":" + mine[j].key
				}
				mu.Lock()
				occs = append(occs, mine...)
				mu.Unlock()
			}
		})
	}
	wg.Wait()
	if err := fail.Load(); err != nil {
		b.Fatalf("seed: %v", err)
	}
	return occs
}

// soakSink is an SMTP server that keeps no message, only how many arrived
// with each Message-ID.
type soakSink struct {
	ln  net.Listener
	mu  sync.Mutex
	ids map[string]int
}

func startSoakSink(b *testing.B) *soakSink {
	s := &soakSink{ids: map[string]int{}}
	srv := smtp.NewServer(smtp.BackendFunc(func(*smtp.Conn) (smtp.Session, error) { return soakSession{s}, nil }))
	srv.Domain = "smtp.test"
	srv.ReadTimeout, srv.WriteTimeout = time.Minute, time.Minute
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		b.Fatal(err)
	}
	s.ln = ln
	done := make(chan struct{})
	go func() {
		defer close(done)
		_ = srv.Serve(ln)
	}()
	b.Cleanup(func() {
		_ = srv.Close()
		<-done
	})
	return s
}

func (s *soakSink) port() int { return s.ln.Addr().(*net.TCPAddr).Port }

func (s *soakSink) counts() map[string]int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return maps.Clone(s.ids)
}

type soakSession struct{ s *soakSink }

func (soakSession) Mail(string, *smtp.MailOptions) error { return nil }
func (soakSession) Rcpt(string, *smtp.RcptOptions) error { return nil }
func (soakSession) Reset()                               {}
func (soakSession) Logout() error                        { return nil }

func (ss soakSession) Data(r io.Reader) error {
	br := bufio.NewReader(r)
	h, err := textproto.NewReader(br).ReadMIMEHeader()
	if err != nil {
		return err
	}
	if _, err := io.Copy(io.Discard, br); err != nil {
		return err
	}
	id := strings.Trim(h.Get("Message-Id"), "<> ")
	ss.s.mu.Lock()
	ss.s.ids[id]++
	ss.s.mu.Unlock()
	return nil
}

// soakSample is Redis at a simulated day's end: used_memory, keys, the
// delivery records and completed tasks kept, and the bytes of every key
// by class (soakClasses), so growth can be put down to what grows by
// design (one record, one history entry and one completed task an
// occurrence) or to anything else.
type soakSample struct {
	mem, keys, dlv, done int64
	bytes                map[string]int64
}

// soakClasses name the kinds of key whose memory is summed apart: the
// delivery records (kept 90 days), the sent history (for the monthly
// review), asynq's task hashes and its index of completed tasks (a
// completed task is kept 48 hours) and everything else, which should stay
// flat once every program has run.
var soakClasses = []string{"delivery records", "sent history", "asynq tasks", "everything else"}

func soakClass(key string) string {
	switch {
	case strings.HasPrefix(key, "nudge:dlv:"):
		return "delivery records"
	case strings.HasPrefix(key, "nudge:sent:"):
		return "sent history"
	case strings.HasPrefix(key, "asynq:") && (strings.Contains(key, "}:t:") || strings.HasSuffix(key, "}:completed")):
		return "asynq tasks" // the task hashes and the index of those completed
	}
	return "everything else"
}

func soakSampleRedis(b *testing.B, rdb *redis.Client, day int) soakSample {
	ctx := context.Background()
	s := soakSample{bytes: map[string]int64{}}
	if info, err := rdb.Info(ctx, "memory").Result(); err == nil {
		s.mem = soakInfoInt(info, "used_memory")
	}
	s.keys, _ = rdb.DBSize(ctx).Result()
	var cursor uint64
	for {
		keys, c, err := rdb.Scan(ctx, cursor, "*", 5000).Result()
		if err != nil {
			break
		}
		cmds := make([]*redis.IntCmd, len(keys))
		_, _ = rdb.Pipelined(ctx, func(p redis.Pipeliner) error {
			for i, k := range keys {
				cmds[i] = p.MemoryUsage(ctx, k)
			}
			return nil
		})
		for i, k := range keys {
			class := soakClass(k)
			s.bytes[class] += cmds[i].Val() // a key gone meanwhile counts 0
			if class == "delivery records" {
				s.dlv++
			}
		}
		if cursor = c; cursor == 0 {
			break
		}
	}
	s.done, _ = rdb.ZCard(ctx, "asynq:{default}:completed").Result()
	return s
}

func soakInfoInt(info, field string) int64 {
	for line := range strings.SplitSeq(info, "\n") {
		if v, ok := strings.CutPrefix(strings.TrimSpace(line), field+":"); ok {
			n, _ := strconv.ParseInt(v, 10, 64)
			return n
		}
	}
	return 0
}

func soakMB(n int64) string { return fmt.Sprintf("%.1f MB", float64(n)/1e6) }

// soakDay is one simulated day's account.
type soakDay struct {
	due, sent, unknown, missing, dup, lost, unknownDelivered int
	skipped                                                  map[string]int
}

func soakReport(b *testing.B, rdb *redis.Client, sink *soakSink, occs []soakOcc, days int, samples []soakSample) {
	ctx := context.Background()
	counts := sink.counts()
	per := make([]soakDay, days)
	for i := range per {
		per[i].skipped = map[string]int{}
	}
	for chunk := range slices.Chunk(occs, 1000) {
		cmds := make([]*redis.SliceCmd, len(chunk))
		if _, err := rdb.Pipelined(ctx, func(p redis.Pipeliner) error {
			for i, o := range chunk {
				cmds[i] = p.HMGet(ctx, "nudge:dlv:"+o.key+":email", "s", "w")
			}
			return nil
		}); err != nil {
			b.Fatal(err)
		}
		for i, o := range chunk {
			d := &per[o.day]
			d.due++
			v := cmds[i].Val()
			got := counts[o.key+"@nudge.test"]
			if got > 1 {
				d.dup++
			}
			state, _ := v[0].(string)
			switch store.DeliveryState(state) {
			case store.Sent:
				d.sent++
				if got == 0 {
					d.lost++
				}
			case store.Unknown:
				d.unknown++
				if got == 1 {
					d.unknownDelivered++
				}
			case store.Skipped:
				reason, _ := v[1].(string)
				reason, _, _ = strings.Cut(reason, " (") // "too late (3h0m after its time)"
				d.skipped[reason]++
			case "":
				d.missing++
			default:
				d.skipped["state "+state]++
			}
		}
	}
	var total soakDay
	b.Logf("| day | due | sent | skipped | unknown (of which delivered) | missing | duplicates | lost | used_memory | keys | delivery records | completed tasks kept | %s (MEMORY USAGE) |", strings.Join(soakClasses, " MB | "))
	b.Logf("|---|---|---|---|---|---|---|---|---|---|---|---|%s", strings.Repeat("---|", len(soakClasses)))
	for i, d := range per {
		var sk []string
		n := 0
		for r, c := range d.skipped {
			sk = append(sk, fmt.Sprintf("%d %s", c, r))
			n += c
		}
		sort.Strings(sk)
		skipped := strconv.Itoa(n)
		if n > 0 {
			skipped += " (" + strings.Join(sk, ", ") + ")"
		}
		var s soakSample
		if i < len(samples) {
			s = samples[i]
		}
		var classes []string
		for _, c := range soakClasses {
			classes = append(classes, soakMB(s.bytes[c]))
		}
		b.Logf("| %d (%s) | %d | %d | %s | %d (%d) | %d | %d | %d | %s | %d | %d | %d | %s |", i+1, soakStart.AddDate(0, 0, i).Format("Mon 2 Jan"),
			d.due, d.sent, skipped, d.unknown, d.unknownDelivered, d.missing, d.dup, d.lost, soakMB(s.mem), s.keys, s.dlv, s.done, strings.Join(classes, " | "))
		total.due += d.due
		total.sent += d.sent
		total.unknown += d.unknown
		total.missing += d.missing
		total.dup += d.dup
		total.lost += d.lost
	}
	// Once every program has run (day 2 on), what does not grow by design
	// should hold still: its largest day-over-day change.
	worst := 0.0
	for i := 2; i < len(samples); i++ {
		prev, cur := samples[i-1].bytes["everything else"], samples[i].bytes["everything else"]
		if prev > 0 {
			worst = max(worst, math.Abs(float64(cur-prev))/float64(prev))
		}
	}
	b.Logf("everything else: largest day-over-day change from day 2 on %.1f %%", 100*worst)
	b.ReportMetric(100*worst, "rest-change-%")
	b.ReportMetric(float64(total.due), "due")
	b.ReportMetric(float64(total.sent), "sent")
	b.ReportMetric(float64(total.unknown), "unknown")
	if total.dup > 0 || total.missing > 0 || total.lost > 0 {
		b.Fatalf("the week lost or doubled messages: %d duplicates, %d missing, %d recorded sent but never received", total.dup, total.missing, total.lost)
	}
}

func tail(s string, n int) string {
	if len(s) <= n {
		return s
	}
	return s[len(s)-n:]
}
