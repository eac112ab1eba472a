package worker_test

// Delivery benchmarks. Each measures a pair side by side in one run (the
// sides alternate within every iteration, so both see the same machine) and
// reports both rates, their ratio, and the CPU each side cost per message
// (this process plus the Redis server), which other work on the machine
// disturbs less than the rates. They run only with -bench, against Redis
// database redistest.DBBench, which each flushes first; nothing else may use
// that database meanwhile:
//
//	go test -run '^$' -bench Deliver -benchtime 1x -timeout 60m ./worker/
//
// Each runs NUDGE_BENCH_ROUNDS rounds (default 3) of its pair per call, so
// that one call (-benchtime 1x, or the default 1s, which a round outlasts)
// gives the figures. NUDGE_BENCH_CONCURRENCY sets the asynq concurrency
// (default 16). Each
// phase's server goroutines carry a pprof label, so a -cpuprofile can be cut
// by phase: go tool pprof -tagfocus phase=null. BENCHMARKS.md ("Delivery")
// holds the figures.

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"os"
	"runtime/pprof"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/hibiken/asynq"
	"github.com/nudgehq/nudge/internal/domain"
	"github.com/nudgehq/nudge/internal/email"
	"github.com/nudgehq/nudge/internal/links"
	"github.com/nudgehq/nudge/internal/redistest"
	"github.com/nudgehq/nudge/internal/render"
	"github.com/nudgehq/nudge/internal/sms"
	"github.com/nudgehq/nudge/internal/smtptest"
	"github.com/nudgehq/nudge/internal/store"
	"github.com/nudgehq/nudge/internal/task"
	"github.com/nudgehq/nudge/internal/token"
	"github.com/nudgehq/nudge/internal/twiliotest"
	"github.com/nudgehq/nudge/scheduler"
	"github.com/nudgehq/nudge/templates"
	"github.com/nudgehq/nudge/worker"
	"github.com/redis/go-redis/v9"
	"github.com/wneessen/go-mail"
)

const (
	// benchNudges is how many due nudges each measured phase delivers.
	benchNudges = 20_000
	// benchSMTPPool is the worker's SMTP pool size and the number of
	// connections the bare go-mail baseline uses.
	benchSMTPPool = 4
	// benchSetupWorkers is how many goroutines seed subscribers and enqueue.
	benchSetupWorkers = 16
	// benchSentinel is a key set when a benchmark flushes its database.
	benchSentinel = "nudge:bench:sentinel"
)

// benchRounds is how many rounds of its pair a benchmark runs per b.N:
// NUDGE_BENCH_ROUNDS, default 3.
func benchRounds(b *testing.B) int { return benchEnvInt(b, "NUDGE_BENCH_ROUNDS", 3) }

// benchConcurrency is the asynq concurrency of every phase, the no-op
// baseline included: NUDGE_BENCH_CONCURRENCY, default 16.
func benchConcurrency(b *testing.B) int { return benchEnvInt(b, "NUDGE_BENCH_CONCURRENCY", 16) }

func benchEnvInt(b *testing.B, name string, def int) int {
	b.Helper()
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

// nullEmail accepts every message at once.
type nullEmail struct{}

func (nullEmail) Send(context.Context, email.Message) error { return nil }

// nullSMS accepts every text at once.
type nullSMS struct{ n atomic.Uint64 }

func (s *nullSMS) Send(context.Context, sms.Message) (string, error) {
	return fmt.Sprintf("SM%032x", s.n.Add(1)), nil
}

// noop is the baseline handler: it does nothing with the task.
var noop = asynq.HandlerFunc(func(context.Context, *asynq.Task) error { return nil })

// benchBundle is one benchmark's Redis, store, message library and queue.
// Each phase gets its own clock, a multiple of 31 days ahead of the
// previous phase's, so that its occurrences have their own dates (and task
// ids and delivery records), and every text carries the opt-out footer (and
// its extra write), as a first text does.
type benchBundle struct {
	b        *testing.B
	rdb      *redis.Client
	st       *store.Store
	queue    *asynq.Client
	lib      *templates.Library
	renderer *render.Renderer
	signer   *token.Signer
	logger   *slog.Logger
	phases   int
	lastDate string // the occurrence date of the latest phase
}

func newBenchBundle(b *testing.B) *benchBundle {
	b.Helper()
	b.StopTimer()
	rdb := redistest.Client(b, redistest.DBBench)
	ctx := context.Background()
	if err := rdb.FlushDB(ctx).Err(); err != nil {
		b.Fatal(err)
	}
	// The sentinel tells a run that another process flushed the database
	// under it.
	if err := rdb.Set(ctx, benchSentinel, "1", 0).Err(); err != nil {
		b.Fatal(err)
	}
	lib, err := templates.Default()
	if err != nil {
		b.Fatal(err)
	}
	queue := asynq.NewClientFromRedisClient(rdb)
	b.Cleanup(func() { queue.Close() })
	return &benchBundle{
		b: b, rdb: rdb, st: store.New(rdb, "nudge:"), queue: queue, lib: lib,
		renderer: render.New(lib, render.Options{ServiceName: "nudge", PostalAddress: "1 Test Street", CrisisLine: render.DefaultCrisisLines()}),
		signer:   token.NewSigner([]byte("a-benchmark-secret-of-enough-length")),
		// What production pays for its logs (text, info level), minus the write.
		logger: slog.New(slog.NewTextHandler(io.Discard, &slog.HandlerOptions{Level: slog.LevelInfo})),
	}
}

// checkSentinel fails the benchmark if the database was flushed under it.
func (bb *benchBundle) checkSentinel() {
	bb.b.Helper()
	if n, err := bb.rdb.Exists(context.Background(), benchSentinel).Result(); err != nil || n != 1 {
		bb.b.Fatalf("redis database %d was flushed by another process during the benchmark (%v): run it when nothing else uses that database", redistest.DBBench, err)
	}
}

// parallel runs fn(i) for i in [0, n) on benchSetupWorkers goroutines and
// fails the benchmark on the first error.
func parallel(b *testing.B, n int, fn func(i int) error) {
	b.Helper()
	var (
		next     atomic.Int64
		wg       sync.WaitGroup
		once     sync.Once
		firstErr error
	)
	for range benchSetupWorkers {
		wg.Go(func() {
			for {
				i := int(next.Add(1) - 1)
				if i >= n {
					return
				}
				if err := fn(i); err != nil {
					once.Do(func() { firstErr = err })
					return
				}
			}
		})
	}
	wg.Wait()
	if firstErr != nil {
		b.Fatal(firstErr)
	}
}

// seed stores n active subscribers (a weekly check-in each), built by sub,
// and returns their ids.
func (bb *benchBundle) seed(n int, sub func(i int) domain.Subscriber) []string {
	bb.b.Helper()
	ctx := context.Background()
	ids := make([]string, n)
	confirmed := time.Now().Add(-48 * time.Hour)
	parallel(bb.b, n, func(i int) error {
		res, err := bb.st.Signup(ctx, sub(i), []domain.Schedule{{Program: domain.WeeklyCheckin, Rule: "weekly:tue@18:30"}}, store.ConsentEvent{})
		if err != nil {
			return err
		}
		if _, err := bb.st.Activate(ctx, res.ID, confirmed, map[domain.Program]time.Time{domain.WeeklyCheckin: confirmed.Add(7 * 24 * time.Hour)}, store.ConsentEvent{}); err != nil {
			return err
		}
		ids[i] = res.ID
		return nil
	})
	bb.checkSentinel()
	return ids
}

// seedEmail stores subscribers who get nudges by email.
func (bb *benchBundle) seedEmail(n int) []string {
	return bb.seed(n, func(i int) domain.Subscriber {
		return domain.Subscriber{FirstName: "P" + strconv.Itoa(i), Email: fmt.Sprintf("p%d@example.org", i), TimeZone: "UTC", Locale: "en"}
	})
}

// seedSMS stores SMS-only subscribers in a zone where it is now afternoon,
// inside the quiet-hours window.
func (bb *benchBundle) seedSMS(n int) []string {
	zone := afternoonZone(time.Now())
	return bb.seed(n, func(i int) domain.Subscriber {
		return domain.Subscriber{FirstName: "S" + strconv.Itoa(i), Email: fmt.Sprintf("s%d@example.org", i),
			Phone: fmt.Sprintf("+4477009%05d", i), TimeZone: zone, Locale: "en",
			Channels: []domain.Channel{domain.SMS}, SMSStatus: domain.SMSActive}
	})
}

// afternoonZone returns a fixed-offset IANA zone (Etc/GMT±N) where the
// local time at now is between 14:00 and 15:00, so that texts sent in the
// next hours (and on the same hour of later days) fall inside the
// 09:00–20:00 window.
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

// phase is one batch of due tasks and the clock they are handled on.
type phase struct {
	now   func() time.Time
	tasks []*asynq.Task
}

// newPhase builds one due task per subscriber on a new clock.
func (bb *benchBundle) newPhase(ids []string) phase {
	bb.b.Helper()
	shift := time.Duration(bb.phases) * 31 * 24 * time.Hour
	bb.phases++
	now := func() time.Time { return time.Now().Add(shift) }
	at := now()
	bb.lastDate = at.UTC().Format(time.DateOnly)
	ph := phase{now: now, tasks: make([]*asynq.Task, len(ids))}
	for i, id := range ids {
		t, err := task.NewDeliverNudge(task.DeliverNudge{SubscriberID: id, Program: domain.WeeklyCheckin, Date: bb.lastDate, At: at.Unix(), Version: 1, Step: int64(i)}, 0)
		if err != nil {
			bb.b.Fatal(err)
		}
		ph.tasks[i] = t
	}
	return ph
}

// deps returns the handler's dependencies on the phase's clock, with a
// null email channel and no SMS channel.
func (bb *benchBundle) deps(now func() time.Time) worker.Deps {
	return worker.Deps{
		Store: bb.st, Library: bb.lib, Renderer: bb.renderer,
		Links: links.New("https://nudge.test", bb.signer, now),
		Email: nullEmail{}, SMSWindow: scheduler.DefaultSMSWindow,
		From: "nudge <hello@nudge.test>", Grace: 6 * time.Hour, Now: now, Logger: bb.logger,
	}
}

// cost is what handling a batch took: wall time, and CPU time of this
// process and of the Redis server.
type cost struct {
	n                 int
	wall, self, redis time.Duration
}

func (c *cost) add(o cost) {
	c.n += o.n
	c.wall += o.wall
	c.self += o.self
	c.redis += o.redis
}

// rate is messages a second.
func (c cost) rate() float64 { return float64(c.n) / c.wall.Seconds() }

// cpu is CPU microseconds a message, this process and Redis together.
func (c cost) cpu() float64 {
	return float64(c.self+c.redis) / float64(time.Microsecond) / float64(c.n)
}

func (c cost) String() string {
	return fmt.Sprintf("%d in %s = %.0f/s; CPU a message: %.0f µs here + %.0f µs redis = %.0f µs",
		c.n, c.wall.Round(time.Millisecond), c.rate(),
		float64(c.self)/float64(time.Microsecond)/float64(c.n), float64(c.redis)/float64(time.Microsecond)/float64(c.n), c.cpu())
}

// meter measures one batch.
type meter struct {
	bb            *benchBundle
	start         time.Time
	self0, redis0 time.Duration
}

func (bb *benchBundle) startMeter() meter {
	bb.b.StartTimer()
	return meter{bb: bb, start: time.Now(), self0: selfCPU(), redis0: bb.redisCPU()}
}

func (m meter) stop(name string, n int) cost {
	wall := time.Since(m.start)
	m.bb.b.StopTimer()
	c := cost{n: n, wall: wall, self: selfCPU() - m.self0, redis: m.bb.redisCPU() - m.redis0}
	m.bb.b.Logf("%-12s %s (load %s)", name+":", c, loadAvg())
	return c
}

// redisCPU is the CPU time the Redis server has used, user and system.
func (bb *benchBundle) redisCPU() time.Duration {
	bb.b.Helper()
	info, err := bb.rdb.Info(context.Background(), "cpu").Result()
	if err != nil {
		bb.b.Fatal(err)
	}
	var total float64
	for line := range strings.SplitSeq(info, "\r\n") {
		for _, f := range []string{"used_cpu_sys:", "used_cpu_user:"} {
			if v, ok := strings.CutPrefix(line, f); ok {
				x, _ := strconv.ParseFloat(v, 64)
				total += x
			}
		}
	}
	return time.Duration(total * float64(time.Second))
}

// selfCPU is the CPU time this process has used, user and system.
func selfCPU() time.Duration {
	var ru syscall.Rusage
	_ = syscall.Getrusage(syscall.RUSAGE_SELF, &ru)
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

// loadAvg is the machine's load average, for the log: other work on the
// machine slows both sides of a pair.
func loadAvg() string {
	b, err := os.ReadFile("/proc/loadavg")
	if err != nil {
		return "unknown"
	}
	return strings.Join(strings.Fields(string(b))[:3], " ")
}

// counter wraps a handler, counts finished tasks and says when all are.
type counter struct {
	h      asynq.Handler
	want   int64
	n      atomic.Int64
	failed atomic.Int64
	first  atomic.Value // error
	done   chan struct{}
}

func (c *counter) ProcessTask(ctx context.Context, t *asynq.Task) error {
	err := c.h.ProcessTask(ctx, t)
	if err != nil {
		c.failed.Add(1)
		c.first.CompareAndSwap(nil, err)
	}
	if c.n.Add(1) == c.want {
		close(c.done)
	}
	return err
}

// run enqueues the phase's tasks (untimed), then starts a real asynq server
// (worker.NewServer: nudge's queues and settings) at the benchmark's
// concurrency with h, and measures from Start until the last task was
// handled. The server is shut down before run returns.
func (bb *benchBundle) run(name string, ph phase, h asynq.Handler) cost {
	bb.b.Helper()
	ctx := context.Background()
	parallel(bb.b, len(ph.tasks), func(i int) error {
		_, err := bb.queue.EnqueueContext(ctx, ph.tasks[i])
		return err
	})
	c := &counter{h: h, want: int64(len(ph.tasks)), done: make(chan struct{})}
	srv := worker.NewServer(bb.rdb, worker.ServerConfig{Concurrency: benchConcurrency(bb.b), Logger: bb.logger})
	m := bb.startMeter()
	// The server's goroutines inherit the label.
	var err error
	pprof.Do(ctx, pprof.Labels("phase", name), func(context.Context) { err = srv.Start(c) })
	if err != nil {
		bb.b.Fatal(err)
	}
	select {
	case <-c.done:
	case <-time.After(5 * time.Minute):
		srv.Shutdown()
		bb.checkSentinel()
		bb.b.Fatalf("%s: only %d of %d tasks handled in 5 minutes", name, c.n.Load(), c.want)
	}
	res := m.stop(name, len(ph.tasks))
	srv.Shutdown()
	bb.checkSentinel()
	if n := c.failed.Load(); n > 0 {
		bb.b.Fatalf("%s: %d tasks failed; the first: %v", name, n, c.first.Load())
	}
	return res
}

// checkSent fails unless the occurrences of the latest phase are recorded
// sent on channel c (a sample of 100, spread over the batch).
func (bb *benchBundle) checkSent(ids []string, c domain.Channel) {
	bb.b.Helper()
	for i := 0; i < len(ids); i += max(1, len(ids)/100) {
		d, err := bb.st.Delivery(context.Background(), store.DeliveryKey{SubscriberID: ids[i], Program: domain.WeeklyCheckin, Date: bb.lastDate, Channel: c})
		if err != nil || d.State != store.Sent {
			bb.b.Fatalf("subscriber %d: record %+v, %v; want sent", i, d, err)
		}
	}
}

// report reports a side's rate and CPU a message.
func report(b *testing.B, name string, c cost) {
	b.ReportMetric(c.rate(), name+"/s")
	b.ReportMetric(c.cpu(), name+"-cpu-us")
}

// reportRatio reports a/b's rate ratio and the ratio of their CPU costs
// (b's over a's: what the rates would be in proportion to if the machine
// did nothing else).
func reportRatio(b *testing.B, name string, num, den cost) {
	b.ReportMetric(num.rate()/den.rate(), name)
	b.ReportMetric(den.cpu()/num.cpu(), name+"-cpu")
}

// BenchmarkDeliverNull delivers 20,000 due nudges end to end to a null
// email channel (real asynq server, real DeliverNudge with its Redis reads,
// claim and records, real rendering) against the same 20,000 tasks handled
// by a no-op at the same concurrency. Each iteration runs both, no-op first.
func BenchmarkDeliverNull(b *testing.B) {
	bb := newBenchBundle(b)
	ids := bb.seedEmail(benchNudges)
	var noopCost, nullCost cost
	for i := range b.N * benchRounds(b) {
		o := bb.run("noop", bb.newPhase(ids), noop)
		ph := bb.newPhase(ids)
		n := bb.run("null", ph, worker.New(bb.deps(ph.now)).Mux())
		b.Logf("round %d: null/noop %.3f (CPU %.3f)", i+1, n.rate()/o.rate(), o.cpu()/n.cpu())
		noopCost.add(o)
		nullCost.add(n)
	}
	bb.checkSent(ids, domain.Email)
	report(b, "noop", noopCost)
	report(b, "null", nullCost)
	reportRatio(b, "ratio", nullCost, noopCost)
}

// benchMessages renders, untimed, the emails the worker sends for ids on
// the phase's clock: the bare go-mail baseline sends the same ones.
func (bb *benchBundle) benchMessages(ids []string, ph phase) []email.Message {
	bb.b.Helper()
	ln := links.New("https://nudge.test", bb.signer, ph.now)
	now := ph.now()
	out := make([]email.Message, len(ids))
	for i, id := range ids {
		sub, err := bb.st.Subscriber(context.Background(), id)
		if err != nil {
			bb.b.Fatal(err)
		}
		var p task.DeliverNudge
		if err := task.Decode(ph.tasks[i], &p); err != nil {
			bb.b.Fatal(err)
		}
		msg, err := bb.lib.Pick(p.Program, sub.Locale, p.Step)
		if err != nil {
			bb.b.Fatal(err)
		}
		week := int(now.Sub(sub.ConfirmedAt)/(7*24*time.Hour)) + 1
		r, err := bb.renderer.Email(msg, render.Data{FirstName: sub.FirstName, Locale: sub.Locale, Week: week}, render.Links{Manage: ln.Manage(id), Unsubscribe: ln.Unsubscribe(id)})
		if err != nil {
			bb.b.Fatal(err)
		}
		out[i] = email.Message{
			From: "nudge <hello@nudge.test>", To: sub.Email, Subject: r.Subject, Text: r.Text, HTML: r.HTML,
			MessageID: "<" + p.ID() + "@nudge.test>",
			Headers:   map[string]string{"List-Unsubscribe": "<" + ln.Unsubscribe(id) + ">", "List-Unsubscribe-Post": "List-Unsubscribe=One-Click"},
		}
	}
	return out
}

// bareGoMail sends msgs with go-mail alone over conns connections, each
// dialled once and reused for its share, building each go-mail message as
// it goes. opts are added to the client's options (none: go-mail's
// defaults, a NOOP before and a RSET after each message).
func (bb *benchBundle) bareGoMail(name string, sink *smtptest.Server, msgs []email.Message, conns int, opts ...mail.Option) cost {
	b := bb.b
	b.Helper()
	clients := make([]*mail.Client, conns)
	for i := range clients {
		c, err := mail.NewClient(sink.Host(), append([]mail.Option{mail.WithPort(sink.Port()), mail.WithTLSPolicy(mail.NoTLS), mail.WithTimeout(30 * time.Second)}, opts...)...)
		if err != nil {
			b.Fatal(err)
		}
		clients[i] = c
	}
	var (
		wg       sync.WaitGroup
		next     atomic.Int64
		once     sync.Once
		firstErr error
	)
	fail := func(err error) { once.Do(func() { firstErr = err }) }
	m := bb.startMeter()
	for _, c := range clients {
		wg.Go(func() {
			if err := c.DialWithContext(context.Background()); err != nil {
				fail(err)
				return
			}
			defer c.Close()
			for {
				i := int(next.Add(1) - 1)
				if i >= len(msgs) {
					return
				}
				in := msgs[i]
				msg := mail.NewMsg(mail.WithNoDefaultUserAgent())
				if err := msg.From(in.From); err != nil {
					fail(err)
					return
				}
				if err := msg.To(in.To); err != nil {
					fail(err)
					return
				}
				msg.Subject(in.Subject)
				msg.SetDate()
				msg.SetMessageIDWithValue(strings.Trim(in.MessageID, "<>"))
				msg.SetBodyString(mail.TypeTextPlain, in.Text)
				msg.AddAlternativeString(mail.TypeTextHTML, in.HTML)
				msg.SetGenHeaderPreformatted("List-Unsubscribe", in.Headers["List-Unsubscribe"])
				msg.SetGenHeaderPreformatted("List-Unsubscribe-Post", in.Headers["List-Unsubscribe-Post"])
				if err := c.Send(msg); err != nil {
					fail(err)
					return
				}
			}
		})
	}
	wg.Wait()
	res := m.stop(name, len(msgs))
	if firstErr != nil {
		b.Fatalf("%s: %v", name, firstErr)
	}
	return res
}

// BenchmarkDeliverSMTP delivers 20,000 nudges through the worker to an SMTP
// sink (smtptest: go-smtp in this process, which parses and keeps every
// message) over a pool of 4 connections, against bare go-mail sending the
// same messages over 4 reused connections, with go-mail's defaults and with
// the options nudge uses (no NOOP, no RSET). Each iteration runs the two
// bare sends, then the worker, each to a fresh sink that counts the
// connections it accepted.
func BenchmarkDeliverSMTP(b *testing.B) {
	bb := newBenchBundle(b)
	ids := bb.seedEmail(benchNudges)
	var defaultCost, tunedCost, workerCost cost
	var bareConns, workerConns int
	for i := range b.N * benchRounds(b) {
		sink := smtptest.Start(b)
		d := bb.bareGoMail("bare-default", sink, bb.benchMessages(ids, bb.newPhase(ids)), benchSMTPPool)
		bareConns = max(bareConns, sink.Connections())
		if got := len(sink.Messages()); got != benchNudges {
			b.Fatalf("bare go-mail: the sink holds %d messages, want %d", got, benchNudges)
		}
		sink = smtptest.Start(b)
		t := bb.bareGoMail("bare-tuned", sink, bb.benchMessages(ids, bb.newPhase(ids)), benchSMTPPool, mail.WithoutNoop(), mail.WithoutRset())
		bareConns = max(bareConns, sink.Connections())
		if got := len(sink.Messages()); got != benchNudges {
			b.Fatalf("bare go-mail: the sink holds %d messages, want %d", got, benchNudges)
		}

		sink = smtptest.Start(b)
		smtp, err := email.NewSMTP(email.SMTPConfig{Host: sink.Host(), Port: sink.Port(), TLS: email.TLSNone, PoolSize: benchSMTPPool, Timeout: 30 * time.Second}, bb.logger)
		if err != nil {
			b.Fatal(err)
		}
		ph := bb.newPhase(ids)
		deps := bb.deps(ph.now)
		deps.Email = smtp
		w := bb.run("smtp", ph, worker.New(deps).Mux())
		smtp.Close()
		if got := len(sink.Messages()); got != benchNudges {
			b.Fatalf("worker: the sink holds %d messages, want %d", got, benchNudges)
		}
		workerConns = max(workerConns, sink.Connections())
		b.Logf("round %d: worker/bare-tuned %.3f, worker/bare-default %.3f; connections: bare %d, worker %d",
			i+1, w.rate()/t.rate(), w.rate()/d.rate(), bareConns, sink.Connections())
		defaultCost.add(d)
		tunedCost.add(t)
		workerCost.add(w)
	}
	bb.checkSent(ids, domain.Email)
	report(b, "bare-default", defaultCost)
	report(b, "bare-tuned", tunedCost)
	report(b, "worker", workerCost)
	reportRatio(b, "ratio-default", workerCost, defaultCost)
	reportRatio(b, "ratio-tuned", workerCost, tunedCost)
	b.ReportMetric(float64(bareConns), "bare-conns")
	b.ReportMetric(float64(workerConns), "worker-conns")
	if workerConns > benchSMTPPool {
		b.Errorf("the worker opened %d connections for %d messages; want at most %d (its pool)", workerConns, benchNudges, benchSMTPPool)
	}
}

// BenchmarkDeliverSMS delivers 20,000 texts through the worker to the
// Twilio stand-in (twiliotest, in this process, through the real twilio-go
// client and nudge's transport), against 20,000 emails to a null channel
// (BenchmarkDeliverNull's measured side) and 20,000 texts to a null SMS
// channel, all in the same run. Each iteration runs null email, null SMS,
// then Twilio; the stand-in counts connections.
func BenchmarkDeliverSMS(b *testing.B) {
	bb := newBenchBundle(b)
	emailIDs := bb.seedEmail(benchNudges)
	smsIDs := bb.seedSMS(benchNudges)
	var nullEmailCost, nullSMSCost, twilioCost cost
	var conns int
	for i := range b.N * benchRounds(b) {
		ph := bb.newPhase(emailIDs)
		e := bb.run("null", ph, worker.New(bb.deps(ph.now)).Mux())

		ph = bb.newPhase(smsIDs)
		d := bb.deps(ph.now)
		d.SMS = &nullSMS{}
		s := bb.run("null-sms", ph, worker.New(d).Mux())

		stand := twiliotest.Start(b)
		tw, err := sms.NewTwilio(sms.Config{AccountSID: stand.AccountSID, AuthToken: stand.AuthToken, From: "+15005550006",
			APIURL: stand.URL, MaxConns: max(64, benchConcurrency(b)), Timeout: 30 * time.Second}, bb.logger)
		if err != nil {
			b.Fatal(err)
		}
		ph = bb.newPhase(smsIDs)
		d = bb.deps(ph.now)
		d.SMS = tw
		t := bb.run("twilio", ph, worker.New(d).Mux())
		tw.Close()
		if got := stand.Accepted(); got != benchNudges {
			b.Fatalf("the stand-in accepted %d texts, want %d", got, benchNudges)
		}
		conns = max(conns, stand.Conns())
		stand.Close()
		b.Logf("round %d: twilio/null-email %.3f (CPU %.3f), twilio/null-sms %.3f; %d connections to the stand-in",
			i+1, t.rate()/e.rate(), e.cpu()/t.cpu(), t.rate()/s.rate(), stand.Conns())
		nullEmailCost.add(e)
		nullSMSCost.add(s)
		twilioCost.add(t)
	}
	bb.checkSent(smsIDs, domain.SMS)
	report(b, "null-email", nullEmailCost)
	report(b, "null-sms", nullSMSCost)
	report(b, "twilio", twilioCost)
	reportRatio(b, "ratio-null-email", twilioCost, nullEmailCost)
	reportRatio(b, "ratio-null-sms", twilioCost, nullSMSCost)
	b.ReportMetric(float64(conns), "conns")
	if limit := max(64, benchConcurrency(b)); conns > limit {
		b.Errorf("%d connections to the stand-in for %d texts: not reused", conns, benchNudges)
	}
}
