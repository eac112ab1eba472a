package worker_test

// Delivery benchmarks: each measures a pair side by side in one run and
// reports both rates and their ratio. They run only with -bench, against
// Redis database redistest.DBBench, which each flushes first:
//
//	go test -run '^$' -bench . -benchtime 1x -timeout 30m ./worker/
//
// BENCHMARKS.md ("Delivery") holds the figures and how they were taken.

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"os"
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
)

// benchConcurrency is the asynq concurrency of every phase, the no-op
// baseline included: NUDGE_BENCH_CONCURRENCY, default 16.
func benchConcurrency(b *testing.B) int {
	b.Helper()
	v := os.Getenv("NUDGE_BENCH_CONCURRENCY")
	if v == "" {
		return 16
	}
	n, err := strconv.Atoi(v)
	if err != nil || n < 1 {
		b.Fatalf("NUDGE_BENCH_CONCURRENCY=%q is not a positive number", v)
	}
	return n
}

// benchSentinel is a key set when a benchmark flushes its database.
const benchSentinel = "nudge:bench:sentinel"

// checkSentinel fails the benchmark if the database was flushed under it.
func checkSentinel(b *testing.B, rdb *redis.Client) {
	b.Helper()
	if n, err := rdb.Exists(context.Background(), benchSentinel).Result(); err != nil || n != 1 {
		b.Fatalf("redis database %d was flushed by another process during the benchmark (%v): run it when nothing else uses that database", redistest.DBBench, err)
	}
}

// nullEmail accepts every message at once.
type nullEmail struct{}

func (nullEmail) Send(context.Context, email.Message) error { return nil }

// nullSMS accepts every text at once.
type nullSMS struct{ n atomic.Uint64 }

func (s *nullSMS) Send(context.Context, sms.Message) (string, error) {
	return fmt.Sprintf("SM%032x", s.n.Add(1)), nil
}

// benchBundle is one benchmark's Redis, store, message library and queue.
// Each measured phase gets its own clock, a multiple of 31 days ahead of the
// previous phase's, so that its occurrences have their own dates (and task
// ids and delivery records), and every text carries the opt-out footer (and
// its extra write) as a first text does.
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
	rdb := redistest.Client(b, redistest.DBBench)
	if err := rdb.FlushDB(context.Background()).Err(); err != nil {
		b.Fatal(err)
	}
	lib, err := templates.Default()
	if err != nil {
		b.Fatal(err)
	}
	// The sentinel tells a run that another process flushed the database
	// under it (nothing else should use redistest.DBBench at the same time).
	if err := rdb.Set(context.Background(), benchSentinel, "1", 0).Err(); err != nil {
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

// parallel runs fn(i) for i in [0, n) on benchSetupWorkers goroutines and
// fails the benchmark on the first error.
func parallel(b *testing.B, n int, fn func(i int) error) {
	b.Helper()
	var (
		next   atomic.Int64
		wg     sync.WaitGroup
		once   sync.Once
		firstE error
	)
	for range benchSetupWorkers {
		wg.Go(func() {
			for {
				i := int(next.Add(1) - 1)
				if i >= n {
					return
				}
				if err := fn(i); err != nil {
					once.Do(func() { firstE = err })
					return
				}
			}
		})
	}
	wg.Wait()
	if firstE != nil {
		b.Fatal(firstE)
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
	return ids
}

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
// local time at now is between 13:00 and 15:00, so texts sent in the next
// hours fall inside the 09:00–20:00 window.
func afternoonZone(now time.Time) string {
	offset := 14 - now.UTC().Hour() // local = UTC + offset
	if offset > 14 {
		offset -= 24
	}
	if offset < -12 {
		offset += 24
	}
	switch {
	case offset == 0:
		return "UTC"
	case offset > 0:
		return "Etc/GMT-" + strconv.Itoa(offset) // POSIX signs: GMT-2 is UTC+2
	default:
		return "Etc/GMT+" + strconv.Itoa(-offset)
	}
}

// phase is one measured delivery of a batch: its clock and its tasks.
type phase struct {
	now   func() time.Time
	tasks []*asynq.Task
}

// newPhase builds one due task per subscriber on this phase's clock.
func (bb *benchBundle) newPhase(ids []string) phase {
	bb.b.Helper()
	shift := time.Duration(bb.phases) * 31 * 24 * time.Hour
	bb.phases++
	now := func() time.Time { return time.Now().Add(shift) }
	at := now()
	date := at.UTC().Format(time.DateOnly)
	bb.lastDate = date
	ph := phase{now: now, tasks: make([]*asynq.Task, len(ids))}
	for i, id := range ids {
		t, err := task.NewDeliverNudge(task.DeliverNudge{SubscriberID: id, Program: domain.WeeklyCheckin, Date: date, At: at.Unix(), Version: 1, Step: int64(i)}, 0)
		if err != nil {
			bb.b.Fatal(err)
		}
		ph.tasks[i] = t
	}
	return ph
}

// deps returns the handler's dependencies on the phase's clock.
func (bb *benchBundle) deps(now func() time.Time) worker.Deps {
	return worker.Deps{
		Store: bb.st, Library: bb.lib, Renderer: bb.renderer,
		Links: links.New("https://nudge.test", bb.signer, now),
		Email: nullEmail{}, SMSWindow: scheduler.DefaultSMSWindow,
		From: "nudge <hello@nudge.test>", Grace: 6 * time.Hour, Now: now, Logger: bb.logger,
	}
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
// at benchConcurrency with h and returns how long it took from Start until
// the last task was handled. The server is shut down before returning.
func (bb *benchBundle) run(ph phase, h asynq.Handler) time.Duration {
	bb.b.Helper()
	bb.b.StopTimer()
	ctx := context.Background()
	parallel(bb.b, len(ph.tasks), func(i int) error {
		_, err := bb.queue.EnqueueContext(ctx, ph.tasks[i])
		return err
	})
	c := &counter{h: h, want: int64(len(ph.tasks)), done: make(chan struct{})}
	srv := worker.NewServer(bb.rdb, worker.ServerConfig{Concurrency: benchConcurrency(bb.b), Logger: bb.logger})
	bb.b.StartTimer()
	start, redis0, self0 := time.Now(), redisCPU(bb.b, bb.rdb), selfCPU()
	if err := srv.Start(c); err != nil {
		bb.b.Fatal(err)
	}
	var elapsed time.Duration
	select {
	case <-c.done:
		elapsed = time.Since(start)
	case <-time.After(5 * time.Minute):
		srv.Shutdown()
		checkSentinel(bb.b, bb.rdb)
		bb.b.Fatalf("only %d of %d tasks handled in 5 minutes", c.n.Load(), c.want)
	}
	bb.b.StopTimer()
	redisUsed, selfUsed := redisCPU(bb.b, bb.rdb)-redis0, selfCPU()-self0
	bb.b.Logf("%d tasks in %s (%.0f/s): CPU redis %.2fs (%.0f µs/task), this process %.2fs (%.0f µs/task); load %s",
		len(ph.tasks), elapsed.Round(time.Millisecond), rate(len(ph.tasks), elapsed),
		redisUsed.Seconds(), redisUsed.Seconds()*1e6/float64(len(ph.tasks)), selfUsed.Seconds(), selfUsed.Seconds()*1e6/float64(len(ph.tasks)), loadAvg())
	srv.Shutdown()
	checkSentinel(bb.b, bb.rdb)
	if n := c.failed.Load(); n > 0 {
		bb.b.Fatalf("%d tasks failed; the first: %v", n, c.first.Load())
	}
	return elapsed
}

// redisCPU is the CPU time the Redis server has used (user and system).
func redisCPU(b *testing.B, rdb *redis.Client) time.Duration {
	b.Helper()
	info, err := rdb.Info(context.Background(), "cpu").Result()
	if err != nil {
		b.Fatal(err)
	}
	var total float64
	for _, line := range strings.Split(info, "\r\n") {
		for _, f := range []string{"used_cpu_sys:", "used_cpu_user:"} {
			if v, ok := strings.CutPrefix(line, f); ok {
				x, _ := strconv.ParseFloat(v, 64)
				total += x
			}
		}
	}
	return time.Duration(total * float64(time.Second))
}

// selfCPU is the CPU time this process has used.
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

func rate(n int, d time.Duration) float64 { return float64(n) / d.Seconds() }

// noop is the baseline handler: it does nothing with the task.
var noop = asynq.HandlerFunc(func(context.Context, *asynq.Task) error { return nil })

// BenchmarkDeliverNull delivers 20,000 due nudges end to end to a null
// email channel (real asynq server, real DeliverNudge, real Redis reads,
// claims and records) against the same 20,000 tasks handled by a no-op, at
// the same concurrency. Each iteration runs both, no-op first.
func BenchmarkDeliverNull(b *testing.B) {
	bb := newBenchBundle(b)
	b.StopTimer()
	ids := bb.seedEmail(benchNudges)
	var noopTime, nullTime time.Duration
	for range b.N {
		noopTime += bb.run(bb.newPhase(ids), noop)
		ph := bb.newPhase(ids)
		nullTime += bb.run(ph, worker.New(bb.deps(ph.now)).Mux())
	}
	checkSent(b, bb.st, ids, bb.lastDate, domain.Email)
	noopRate, nullRate := rate(b.N*benchNudges, noopTime), rate(b.N*benchNudges, nullTime)
	b.ReportMetric(noopRate, "noop/s")
	b.ReportMetric(nullRate, "null/s")
	b.ReportMetric(nullRate/noopRate, "ratio")
}

// checkSent fails unless the occurrences on date are recorded sent on
// channel c (a sample of 100, spread over the batch).
func checkSent(b *testing.B, st *store.Store, ids []string, date string, c domain.Channel) {
	b.Helper()
	for i := 0; i < len(ids); i += len(ids) / 100 {
		d, err := st.Delivery(context.Background(), store.DeliveryKey{SubscriberID: ids[i], Program: domain.WeeklyCheckin, Date: date, Channel: c})
		if err != nil || d.State != store.Sent {
			b.Fatalf("subscriber %d: record %+v, %v; want sent", i, d, err)
		}
	}
}

// benchMessages renders, untimed, the emails the worker sends for ids on
// the phase's clock: the bare go-mail baseline sends the same ones.
func (bb *benchBundle) benchMessages(ids []string, ph phase) []email.Message {
	bb.b.Helper()
	ln := links.New("https://nudge.test", bb.signer, ph.now)
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
		r, err := bb.renderer.Email(msg, render.Data{FirstName: sub.FirstName, Locale: sub.Locale, Week: 1}, render.Links{Manage: ln.Manage(id), Unsubscribe: ln.Unsubscribe(id)})
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
// opened once and reused for its share, and returns the time taken. opts
// are added to the client's options (none: go-mail's defaults, NOOP before
// and RSET after each message).
func bareGoMail(b *testing.B, sink *smtptest.Server, msgs []email.Message, conns int, opts ...mail.Option) time.Duration {
	b.Helper()
	clients := make([]*mail.Client, conns)
	for i := range clients {
		c, err := mail.NewClient(sink.Host(), append([]mail.Option{mail.WithPort(sink.Port()), mail.WithTLSPolicy(mail.NoTLS), mail.WithTimeout(30 * time.Second)}, opts...)...)
		if err != nil {
			b.Fatal(err)
		}
		clients[i] = c
	}
	b.StartTimer()
	start := time.Now()
	var (
		wg     sync.WaitGroup
		failed atomic.Int64
		next   atomic.Int64
	)
	for _, c := range clients {
		wg.Go(func() {
			if err := c.DialWithContext(context.Background()); err != nil {
				failed.Add(1)
				return
			}
			defer c.Close()
			for {
				i := int(next.Add(1) - 1)
				if i >= len(msgs) {
					return
				}
				m := msgs[i]
				msg := mail.NewMsg(mail.WithNoDefaultUserAgent())
				if err := msg.From(m.From); err != nil {
					failed.Add(1)
					return
				}
				if err := msg.To(m.To); err != nil {
					failed.Add(1)
					return
				}
				msg.Subject(m.Subject)
				msg.SetDate()
				msg.SetMessageIDWithValue(m.MessageID[1 : len(m.MessageID)-1])
				msg.SetBodyString(mail.TypeTextPlain, m.Text)
				msg.AddAlternativeString(mail.TypeTextHTML, m.HTML)
				msg.SetGenHeaderPreformatted("List-Unsubscribe", m.Headers["List-Unsubscribe"])
				msg.SetGenHeaderPreformatted("List-Unsubscribe-Post", m.Headers["List-Unsubscribe-Post"])
				if err := c.Send(msg); err != nil {
					failed.Add(1)
					return
				}
			}
		})
	}
	wg.Wait()
	elapsed := time.Since(start)
	b.StopTimer()
	if n := failed.Load(); n > 0 {
		b.Fatalf("bare go-mail: %d connections failed", n)
	}
	return elapsed
}

// BenchmarkDeliverSMTP delivers 20,000 nudges through the worker to an SMTP
// sink (smtptest, in this process) over a pool of 4 connections, against
// bare go-mail sending the same messages over 4 reused connections: with
// go-mail's defaults, and with the options nudge uses (no NOOP, no RSET).
// Each iteration runs the bare sends first, then the worker; the sink
// counts connections.
func BenchmarkDeliverSMTP(b *testing.B) {
	bb := newBenchBundle(b)
	b.StopTimer()
	ids := bb.seedEmail(benchNudges)
	var bareDefault, bareTuned, workerTime time.Duration
	var bareConns, workerConns int
	for range b.N {
		sink := smtptest.Start(b)
		bareDefault += bareGoMail(b, sink, bb.benchMessages(ids, bb.newPhase(ids)), benchSMTPPool)
		bareTuned += bareGoMail(b, sink, bb.benchMessages(ids, bb.newPhase(ids)), benchSMTPPool, mail.WithoutNoop(), mail.WithoutRset())
		bareConns += sink.Connections()
		if got := len(sink.Messages()); got != 2*benchNudges {
			b.Fatalf("bare go-mail: the sink holds %d messages, want %d", got, 2*benchNudges)
		}

		sink = smtptest.Start(b)
		smtp, err := email.NewSMTP(email.SMTPConfig{Host: sink.Host(), Port: sink.Port(), TLS: email.TLSNone, PoolSize: benchSMTPPool, Timeout: 30 * time.Second}, bb.logger)
		if err != nil {
			b.Fatal(err)
		}
		ph := bb.newPhase(ids)
		d := bb.deps(ph.now)
		d.Email = smtp
		workerTime += bb.run(ph, worker.New(d).Mux())
		smtp.Close()
		if got := len(sink.Messages()); got != benchNudges {
			b.Fatalf("worker: the sink holds %d messages, want %d", got, benchNudges)
		}
		workerConns += sink.Connections()
	}
	checkSent(b, bb.st, ids, bb.lastDate, domain.Email)
	n := b.N * benchNudges
	b.ReportMetric(rate(n, bareDefault), "bare-default/s")
	b.ReportMetric(rate(n, bareTuned), "bare-tuned/s")
	b.ReportMetric(rate(n, workerTime), "worker/s")
	b.ReportMetric(rate(n, workerTime)/rate(n, bareDefault), "ratio-default")
	b.ReportMetric(rate(n, workerTime)/rate(n, bareTuned), "ratio-tuned")
	b.ReportMetric(float64(bareConns)/float64(b.N), "bare-conns")
	b.ReportMetric(float64(workerConns)/float64(b.N), "worker-conns")
	if workerConns > b.N*benchSMTPPool {
		b.Errorf("the worker opened %d connections for %d messages; want at most %d (the pool)", workerConns, n, b.N*benchSMTPPool)
	}
}

// BenchmarkDeliverSMS delivers 20,000 texts through the worker to the
// Twilio stand-in (in this process, through the real twilio-go client and
// nudge's transport), against the null-email phase of BenchmarkDeliverNull
// and a null SMS channel, all in the same run. Each iteration runs null
// email, null SMS, then Twilio; the stand-in counts connections.
func BenchmarkDeliverSMS(b *testing.B) {
	bb := newBenchBundle(b)
	b.StopTimer()
	emailIDs := bb.seedEmail(benchNudges)
	smsIDs := bb.seedSMS(benchNudges)
	var nullEmailTime, nullSMSTime, twilioTime time.Duration
	var conns int
	for range b.N {
		ph := bb.newPhase(emailIDs)
		nullEmailTime += bb.run(ph, worker.New(bb.deps(ph.now)).Mux())

		ph = bb.newPhase(smsIDs)
		d := bb.deps(ph.now)
		d.SMS = &nullSMS{}
		nullSMSTime += bb.run(ph, worker.New(d).Mux())

		stand := twiliotest.Start(b)
		tw, err := sms.NewTwilio(sms.Config{AccountSID: stand.AccountSID, AuthToken: stand.AuthToken, From: "+15005550006",
			APIURL: stand.URL, MaxConns: max(64, benchConcurrency(b)), Timeout: 30 * time.Second}, bb.logger)
		if err != nil {
			b.Fatal(err)
		}
		ph = bb.newPhase(smsIDs)
		d = bb.deps(ph.now)
		d.SMS = tw
		twilioTime += bb.run(ph, worker.New(d).Mux())
		tw.Close()
		if got := stand.Accepted(); got != benchNudges {
			b.Fatalf("the stand-in accepted %d texts, want %d", got, benchNudges)
		}
		conns += stand.Conns()
		stand.Close()
	}
	checkSent(b, bb.st, smsIDs, bb.lastDate, domain.SMS)
	n := b.N * benchNudges
	b.ReportMetric(rate(n, nullEmailTime), "null-email/s")
	b.ReportMetric(rate(n, nullSMSTime), "null-sms/s")
	b.ReportMetric(rate(n, twilioTime), "twilio/s")
	b.ReportMetric(rate(n, twilioTime)/rate(n, nullEmailTime), "ratio-null-email")
	b.ReportMetric(rate(n, twilioTime)/rate(n, nullSMSTime), "ratio-null-sms")
	b.ReportMetric(float64(conns)/float64(b.N), "conns")
	if conns > b.N*max(64, benchConcurrency(b)) {
		b.Errorf("%d connections to the stand-in for %d texts: not reused", conns, n)
	}
}
