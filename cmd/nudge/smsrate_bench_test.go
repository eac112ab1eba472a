package main

import (
	"bytes"
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/hibiken/asynq"
	"github.com/nudgehq/nudge/internal/domain"
	"github.com/nudgehq/nudge/internal/redistest"
	"github.com/nudgehq/nudge/internal/store"
	"github.com/nudgehq/nudge/internal/task"
	"github.com/nudgehq/nudge/internal/twiliotest"
)

const (
	// rateBenchTexts are due together; rateBenchRate is both NUDGE_SMS_RATE
	// and the stand-in's limit (with a second's burst, as nudge's bucket).
	rateBenchTexts = 3000
	rateBenchRate  = 50
	rateBenchBurst = rateBenchRate
)

// benchProcess is a running nudge binary whose stderr is kept.
type benchProcess struct {
	cmd    *exec.Cmd
	mu     sync.Mutex
	stderr bytes.Buffer
	exited chan struct{}
	err    error
}

func (p *benchProcess) Write(b []byte) (int, error) {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.stderr.Write(b)
}

func (p *benchProcess) log() string {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.stderr.String()
}

// startBenchProcess starts `nudge role` with env added to this process's
// environment. It is killed, if still running, when the benchmark ends.
func startBenchProcess(b *testing.B, bin, role string, env []string) *benchProcess {
	b.Helper()
	p := &benchProcess{cmd: exec.Command(bin, role), exited: make(chan struct{})}
	p.cmd.Env = append(os.Environ(), env...)
	p.cmd.Stderr = p
	if err := p.cmd.Start(); err != nil {
		b.Fatalf("start nudge %s: %v", role, err)
	}
	go func() {
		p.err = p.cmd.Wait()
		close(p.exited)
	}()
	b.Cleanup(func() {
		_ = p.cmd.Process.Kill()
		<-p.exited
	})
	return p
}

// stop sends SIGTERM and waits for a clean exit.
func (p *benchProcess) stop(b *testing.B) {
	b.Helper()
	_ = p.cmd.Process.Signal(syscall.SIGTERM)
	select {
	case <-p.exited:
	case <-time.After(time.Minute):
		b.Fatalf("nudge did not stop within a minute of SIGTERM")
	}
	if p.err != nil {
		b.Errorf("nudge exited with %v:\n%s", p.err, p.log())
	}
}

// afternoonZone returns a fixed-offset IANA zone (Etc/GMT±N) where the
// local time at now is between 13:00 and 15:00, inside the SMS window.
func afternoonZone(now time.Time) string {
	offset := 14 - now.UTC().Hour() // local = UTC + offset, from -9 to +14
	switch {
	case offset == 0:
		return "UTC"
	case offset > 0:
		return "Etc/GMT-" + strconv.Itoa(offset) // POSIX signs: GMT-2 is UTC+2
	default:
		return "Etc/GMT+" + strconv.Itoa(-offset)
	}
}

// BenchmarkSMSRateTwoWorkers queues 3,000 texts due together and runs two
// real worker processes (`nudge worker`) with NUDGE_SMS_RATE=50 against a
// Twilio stand-in that allows 50 a second (burst 50) and answers 429 past
// that. It reports the rate the stand-in saw, from its receive times, and
// the 429s. Run with -benchtime 1x; it uses (and first flushes)
// redistest.DBBench:
//
//	go test -run '^$' -bench SMSRateTwoWorkers -benchtime 1x -timeout 30m ./cmd/nudge/
func BenchmarkSMSRateTwoWorkers(b *testing.B) {
	b.StopTimer()
	// NUDGE_BENCH_BIN runs a binary built elsewhere (to compare builds).
	bin := os.Getenv("NUDGE_BENCH_BIN")
	if bin == "" {
		bin = filepath.Join(b.TempDir(), "nudge")
		if out, err := exec.Command("go", "build", "-o", bin, ".").CombinedOutput(); err != nil {
			b.Fatalf("go build: %v\n%s", err, out)
		}
	}
	for range b.N {
		rateRound(b, bin)
	}
}

func rateRound(b *testing.B, bin string) {
	ctx := context.Background()
	rdb := redistest.Client(b, redistest.DBBench)
	if err := rdb.FlushDB(ctx).Err(); err != nil {
		b.Fatal(err)
	}
	// The sentinel tells the run that another process flushed the database
	// under it (nothing else should use redistest.DBBench at the same time).
	const sentinel = "nudge:bench:sentinel"
	if err := rdb.Set(ctx, sentinel, "1", 0).Err(); err != nil {
		b.Fatal(err)
	}
	flushed := func() bool { n, err := rdb.Exists(ctx, sentinel).Result(); return err == nil && n == 0 }
	st := store.New(rdb, "nudge:")
	now := time.Now()
	zone := afternoonZone(now)

	// Seed the subscribers and queue one due text each.
	ids := make([]string, rateBenchTexts)
	confirmed := now.Add(-48 * time.Hour)
	for i := range ids {
		res, err := st.Signup(ctx, domain.Subscriber{FirstName: "S" + strconv.Itoa(i), Email: fmt.Sprintf("s%d@example.org", i),
			Phone: fmt.Sprintf("+4477009%05d", i), TimeZone: zone, Locale: "en",
			Channels: []domain.Channel{domain.SMS}, SMSStatus: domain.SMSActive},
			[]domain.Schedule{{Program: domain.WeeklyCheckin, Rule: "weekly:tue@14:00"}}, store.ConsentEvent{})
		if err != nil {
			b.Fatal(err)
		}
		if _, err := st.Activate(ctx, res.ID, confirmed, map[domain.Program]time.Time{domain.WeeklyCheckin: now.Add(7 * 24 * time.Hour)}, store.ConsentEvent{}); err != nil {
			b.Fatal(err)
		}
		ids[i] = res.ID
	}
	queue := asynq.NewClientFromRedisClient(rdb)
	defer queue.Close()
	date := now.UTC().Format(time.DateOnly)
	for i, id := range ids {
		t, err := task.NewDeliverNudge(task.DeliverNudge{SubscriberID: id, Program: domain.WeeklyCheckin, Date: date, At: now.Unix(), Version: 1, Step: int64(i)}, 0)
		if err != nil {
			b.Fatal(err)
		}
		if _, err := queue.EnqueueContext(ctx, t); err != nil {
			b.Fatal(err)
		}
	}

	stand := twiliotest.Start(b, twiliotest.WithRateLimit(rateBenchRate, rateBenchBurst))
	env := []string{
		fmt.Sprintf("NUDGE_REDIS_URL=redis://%s/%d", redistest.Addr(), redistest.DBBench),
		"NUDGE_REDIS_PREFIX=nudge:",
		"NUDGE_SMS_RATE=" + strconv.Itoa(rateBenchRate),
		"NUDGE_TWILIO_ACCOUNT_SID=" + stand.AccountSID, "NUDGE_TWILIO_AUTH_TOKEN=" + stand.AuthToken,
		"NUDGE_TWILIO_FROM=+15005550006", "NUDGE_TWILIO_API_URL=" + stand.URL,
		"NUDGE_HTTP_ADDR=127.0.0.1:0", "NUDGE_BASE_URL=https://nudge.test",
		"NUDGE_SECRET=a-benchmark-secret-of-enough-length!", "NUDGE_POSTAL_ADDRESS=1 Test Street",
		// info: each process logs its own "sms sent" lines, which show both took part.
		"NUDGE_LOG_LEVEL=info",
	}
	b.StartTimer()
	workers := []*benchProcess{startBenchProcess(b, bin, "worker", env), startBenchProcess(b, bin, "worker", env)}

	deadline := time.Now().Add(3 * rateBenchTexts / rateBenchRate * time.Second)
	for stand.Accepted() < rateBenchTexts {
		for _, w := range workers {
			select {
			case <-w.exited:
				b.Fatalf("a worker exited early (%v):\n%s", w.err, w.log())
			default:
			}
		}
		if time.Now().After(deadline) || flushed() {
			if flushed() {
				b.Fatalf("redis database %d was flushed by another process during the benchmark: run it when nothing else uses that database", redistest.DBBench)
			}
			b.Fatalf("the stand-in accepted %d of %d texts by the deadline; %d answered 429", stand.Accepted(), rateBenchTexts, stand.RateLimited())
		}
		time.Sleep(100 * time.Millisecond)
	}
	b.StopTimer()
	for _, w := range workers {
		w.stop(b)
	}

	msgs := stand.Messages()
	times := make([]time.Time, len(msgs))
	seen := map[string]bool{}
	for i, m := range msgs {
		times[i] = m.Received
		if seen[m.To] {
			b.Errorf("%s texted twice", m.To)
		}
		seen[m.To] = true
	}
	slices.SortFunc(times, func(x, y time.Time) int { return x.Compare(y) })
	span := times[len(times)-1].Sub(times[0])
	overall := float64(len(times)-1) / span.Seconds()
	// After the first second's burst, the bucket refills at the rate.
	steadyFrom := rateBenchBurst
	steady := float64(len(times)-1-steadyFrom) / times[len(times)-1].Sub(times[steadyFrom]).Seconds()
	maxWindow := 0 // most texts received within any one second
	for i, j := 0, 0; i < len(times); i++ {
		for times[i].Sub(times[j]) >= time.Second {
			j++
		}
		maxWindow = max(maxWindow, i-j+1)
	}
	perWorker := make([]float64, len(workers))
	for i, w := range workers {
		perWorker[i] = float64(strings.Count(w.log(), "msg=\"sms sent\""))
	}

	for _, id := range ids {
		d, err := st.Delivery(ctx, store.DeliveryKey{SubscriberID: id, Program: domain.WeeklyCheckin, Date: date, Channel: domain.SMS})
		if err != nil || d.State != store.Sent {
			b.Fatalf("subscriber %s: record %+v, %v; want sent", id, d, err)
		}
	}
	b.Logf("%d texts over %s: %.2f/s overall, %.2f/s after the first %d, at most %d in any second; %d answered 429; sent by worker 1: %.0f, worker 2: %.0f; %d connections",
		len(times), span.Round(time.Millisecond), overall, steady, steadyFrom, maxWindow, stand.RateLimited(), perWorker[0], perWorker[1], stand.Conns())
	b.ReportMetric(overall, "texts/s")
	b.ReportMetric(steady, "steady/s")
	b.ReportMetric(float64(maxWindow), "max-in-1s")
	b.ReportMetric(span.Seconds(), "span-s")
	b.ReportMetric(float64(stand.RateLimited()), "429s")
	b.ReportMetric(perWorker[0], "worker1-sent")
	b.ReportMetric(perWorker[1], "worker2-sent")
	b.ReportMetric(float64(stand.Conns()), "conns")
	if n := stand.RateLimited(); n != 0 {
		b.Errorf("the stand-in answered 429 %d times, want 0", n)
	}
	if overall < rateBenchRate*0.95 || overall > rateBenchRate*1.05 {
		b.Errorf("rate %.2f/s, want %d/s ±5%%", overall, rateBenchRate)
	}
	if perWorker[0] == 0 || perWorker[1] == 0 {
		b.Errorf("texts per worker %v: both workers must take part", perWorker)
	}
}
