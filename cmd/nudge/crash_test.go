package main

import (
	"bytes"
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/hibiken/asynq"
	"github.com/nudgehq/nudge/internal/domain"
	"github.com/nudgehq/nudge/internal/redistest"
	"github.com/nudgehq/nudge/internal/smtptest"
	"github.com/nudgehq/nudge/internal/store"
)

const (
	crashBatch       = 1000
	crashConcurrency = 10
)

// buildNudge compiles the real binary once per test.
func buildNudge(t *testing.T) string {
	t.Helper()
	bin := filepath.Join(t.TempDir(), "nudge")
	out, err := exec.Command("go", "build", "-o", bin, ".").CombinedOutput()
	if err != nil {
		t.Fatalf("go build: %v\n%s", err, out)
	}
	return bin
}

// process is a running nudge binary.
type process struct {
	cmd    *exec.Cmd
	mu     sync.Mutex
	stderr bytes.Buffer
	exited chan struct{} // closed when the process has exited
	err    error         // its exit error, once exited is closed
}

func (p *process) Write(b []byte) (int, error) {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.stderr.Write(b)
}

func (p *process) log() string {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.stderr.String()
}

func startNudge(t *testing.T, bin, role string, env []string) *process {
	t.Helper()
	p := &process{cmd: exec.Command(bin, role), exited: make(chan struct{})}
	p.cmd.Env = append(os.Environ(), env...)
	p.cmd.Stderr = p
	if err := p.cmd.Start(); err != nil {
		t.Fatalf("start nudge %s: %v", role, err)
	}
	go func() {
		p.err = p.cmd.Wait()
		close(p.exited)
	}()
	t.Cleanup(func() {
		_ = p.cmd.Process.Kill()
		<-p.exited
		if t.Failed() {
			t.Logf("nudge %s log:\n%s", role, p.log())
		}
	})
	return p
}

// seedDue stores n active subscribers whose weekly check-in is already due.
func seedDue(t *testing.T, st *store.Store, n int, due time.Time) []string {
	t.Helper()
	ctx := context.Background()
	ids := make([]string, n)
	for i := range n {
		res, err := st.Signup(ctx, domain.Subscriber{FirstName: "P" + strconv.Itoa(i), Email: fmt.Sprintf("p%d@example.org", i), TimeZone: "UTC", Locale: "en"},
			[]domain.Schedule{{Program: domain.WeeklyCheckin, Rule: "weekly:" + strings.ToLower(due.Weekday().String()[:3]) + "@" + due.Format("15:04")}}, store.ConsentEvent{})
		if err != nil {
			t.Fatal(err)
		}
		if _, err := st.Activate(ctx, res.ID, due, map[domain.Program]time.Time{domain.WeeklyCheckin: due}, store.ConsentEvent{}); err != nil {
			t.Fatal(err)
		}
		ids[i] = res.ID
	}
	return ids
}

// crashSetup seeds a batch, starts an SMTP sink that takes a few
// milliseconds per message, and returns the environment for nudge.
func crashSetup(t *testing.T) (*store.Store, *smtptest.Server, []string, []string, string) {
	t.Helper()
	rdb := redistest.Client(t, redistest.DBCrash)
	// Each crash test starts from an empty database of its own: its worker
	// processes must see only its own batch.
	if err := rdb.FlushDB(context.Background()).Err(); err != nil {
		t.Fatal(err)
	}
	prefix := redistest.Prefix(t)
	st := store.New(rdb, prefix)
	due := time.Now().UTC().Truncate(time.Minute)
	ids := seedDue(t, st, crashBatch, due)
	sink := smtptest.StartWith(t, smtptest.Options{Delay: 5 * time.Millisecond})
	env := []string{
		fmt.Sprintf("NUDGE_REDIS_URL=redis://%s/%d", redistest.Addr(), redistest.DBCrash),
		"NUDGE_REDIS_PREFIX=" + prefix,
		"NUDGE_SMTP_HOST=" + sink.Host(), "NUDGE_SMTP_PORT=" + strconv.Itoa(sink.Port()), "NUDGE_SMTP_TLS=none",
		"NUDGE_SMTP_POOL=4", "NUDGE_WORKER_CONCURRENCY=" + strconv.Itoa(crashConcurrency),
		"NUDGE_HTTP_ADDR=127.0.0.1:0", "NUDGE_BASE_URL=https://nudge.test",
		"NUDGE_SECRET=a-crash-test-secret-of-enough-length!", "NUDGE_PLANNER_INTERVAL=1s", "NUDGE_PLANNER_HORIZON=2s",
		"NUDGE_EMAIL_FROM=nudge <hello@nudge.test>", "NUDGE_POSTAL_ADDRESS=1 Test Street", "NUDGE_LOG_LEVEL=warn",
	}
	return st, sink, ids, env, due.Format(time.DateOnly)
}

// waitAllRecorded waits until every occurrence has a final delivery record
// and asynq holds no unfinished task, and returns the records' states.
func waitAllRecorded(t *testing.T, st *store.Store, ids []string, date string, timeout time.Duration) map[store.DeliveryState]int {
	t.Helper()
	ctx := context.Background()
	insp := asynq.NewInspectorFromRedisClient(st.Redis())
	deadline := time.Now().Add(timeout)
	for {
		states := map[store.DeliveryState]int{}
		for _, id := range ids {
			d, err := st.Delivery(ctx, store.DeliveryKey{SubscriberID: id, Program: domain.WeeklyCheckin, Date: date, Channel: domain.Email})
			if err != nil {
				states["none"]++
				continue
			}
			states[d.State]++
		}
		busy := 0
		if info, err := insp.GetQueueInfo("default"); err == nil {
			busy = info.Pending + info.Active + info.Scheduled + info.Retry
		}
		final := states[store.Sent] + states[store.Unknown] + states[store.Failed] + states[store.Skipped]
		if final == len(ids) && busy == 0 {
			return states
		}
		if time.Now().After(deadline) {
			t.Fatalf("after %s: records %v, %d tasks unfinished", timeout, states, busy)
		}
		time.Sleep(200 * time.Millisecond)
	}
}

// checkAtMostOnce fails if the sink received any occurrence twice, and
// returns how many distinct occurrences it received.
func checkAtMostOnce(t *testing.T, sink *smtptest.Server) int {
	t.Helper()
	seen := map[string]int{}
	for _, m := range sink.Messages() {
		seen[m.Header.Get("Message-Id")]++
	}
	for id, n := range seen {
		if n > 1 {
			t.Errorf("message %s received %d times", id, n)
		}
	}
	return len(seen)
}

func waitMessages(t *testing.T, sink *smtptest.Server, p *process, n int) {
	t.Helper()
	deadline := time.Now().Add(60 * time.Second)
	for len(sink.Messages()) < n {
		select {
		case <-p.exited:
			t.Fatalf("nudge exited early (%v):\n%s", p.err, p.log())
		default:
		}
		if time.Now().After(deadline) {
			t.Fatalf("only %d messages after 60s", len(sink.Messages()))
		}
		time.Sleep(10 * time.Millisecond)
	}
}

func TestWorkerKilledMidBatchNeverSendsTwice(t *testing.T) {
	bin := buildNudge(t)
	st, sink, ids, env, date := crashSetup(t)

	first := startNudge(t, bin, "run", env)
	waitMessages(t, sink, first, crashBatch/4)
	if err := first.cmd.Process.Signal(syscall.SIGKILL); err != nil {
		t.Fatal(err)
	}
	<-first.exited
	before := len(sink.Messages())

	startNudge(t, bin, "worker", env)
	// asynq hands a dead worker's tasks back once their lease (30 s) runs out.
	states := waitAllRecorded(t, st, ids, date, 3*time.Minute)
	received := checkAtMostOnce(t, sink)
	t.Logf("killed after %d messages; finally %d received, records %v", before, received, states)
	if states[store.Sent]+states[store.Unknown] != crashBatch {
		t.Errorf("records %v: every occurrence must end sent or unknown", states)
	}
	if states[store.Unknown] > crashConcurrency {
		t.Errorf("%d unknown, more than the worker's concurrency %d", states[store.Unknown], crashConcurrency)
	}
	if received < states[store.Sent] {
		t.Errorf("%d recorded sent but only %d received", states[store.Sent], received)
	}
	if received > crashBatch {
		t.Errorf("received %d distinct messages for %d occurrences", received, crashBatch)
	}
}

func TestWorkerStoppedWithSIGTERMLeavesNothingUnrecorded(t *testing.T) {
	bin := buildNudge(t)
	st, sink, ids, env, date := crashSetup(t)

	first := startNudge(t, bin, "run", env)
	waitMessages(t, sink, first, crashBatch/4)
	if err := first.cmd.Process.Signal(syscall.SIGTERM); err != nil {
		t.Fatal(err)
	}
	<-first.exited
	if first.err != nil {
		t.Fatalf("nudge did not exit 0 on SIGTERM: %v\n%s", first.err, first.log())
	}

	startNudge(t, bin, "worker", env)
	states := waitAllRecorded(t, st, ids, date, time.Minute)
	received := checkAtMostOnce(t, sink)
	if states[store.Sent] != crashBatch || received != crashBatch {
		t.Errorf("after SIGTERM and restart: records %v, %d received; want all %d sent once", states, received, crashBatch)
	}
}
