package worker_test

import (
	"context"
	"errors"
	"io"
	"log/slog"
	"strings"
	"testing"
	"time"

	"github.com/hibiken/asynq"
	"github.com/nudgehq/nudge/internal/domain"
	"github.com/nudgehq/nudge/internal/email"
	"github.com/nudgehq/nudge/internal/links"
	"github.com/nudgehq/nudge/internal/redistest"
	"github.com/nudgehq/nudge/internal/render"
	"github.com/nudgehq/nudge/internal/smtptest"
	"github.com/nudgehq/nudge/internal/store"
	"github.com/nudgehq/nudge/internal/task"
	"github.com/nudgehq/nudge/internal/token"
	"github.com/nudgehq/nudge/templates"
	"github.com/nudgehq/nudge/worker"
)

func TestMain(m *testing.M) { redistest.Main(m, redistest.DBWorker) }

type bundle struct {
	st   *store.Store
	h    *worker.Handler
	sink *smtptest.Server
	now  time.Time
	id   string
}

var planned = time.Date(2026, 12, 1, 18, 30, 0, 0, time.UTC)

// setup builds a worker on real Redis and a real SMTP sink, with one active
// subscriber whose weekly check-in is planned at `planned`.
func setup(t *testing.T, now time.Time) *bundle {
	t.Helper()
	return setupWith(t, now, smtptest.Options{})
}

func setupWith(t *testing.T, now time.Time, opts smtptest.Options) *bundle {
	t.Helper()
	t.Parallel()
	b := &bundle{sink: smtptest.StartWith(t, opts), now: now}
	b.st = store.New(redistest.Client(t, redistest.DBWorker), redistest.Prefix(t))
	lib, err := templates.Default()
	if err != nil {
		t.Fatal(err)
	}
	smtp, err := email.NewSMTP(email.SMTPConfig{Host: b.sink.Host(), Port: b.sink.Port(), TLS: "none", PoolSize: 1, Timeout: 5 * time.Second}, slog.New(slog.NewTextHandler(io.Discard, nil)))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { smtp.Close() })
	clock := func() time.Time { return b.now }
	b.h = worker.New(worker.Deps{
		Store: b.st, Library: lib, Links: links.New("https://nudge.test", token.NewSigner([]byte("a-worker-test-secret-of-enough-length")), clock),
		Renderer: render.New(lib, render.Options{ServiceName: "nudge", PostalAddress: "1 Test Street", CrisisLine: render.DefaultCrisisLines()}),
		Email:    smtp, From: "nudge <hello@nudge.test>", Grace: 6 * time.Hour, Now: clock,
		Logger: slog.New(slog.NewTextHandler(io.Discard, nil)),
	})
	ctx := context.Background()
	res, err := b.st.Signup(ctx, domain.Subscriber{FirstName: "Grace", Email: "grace@example.org", TimeZone: "UTC", Locale: "en", CreatedAt: planned.Add(-48 * time.Hour)},
		[]domain.Schedule{{Program: domain.WeeklyCheckin, Rule: "weekly:tue@18:30"}}, store.ConsentEvent{})
	if err != nil {
		t.Fatal(err)
	}
	b.id = res.ID
	if _, err := b.st.Activate(ctx, b.id, planned.Add(-48*time.Hour), map[domain.Program]time.Time{domain.WeeklyCheckin: planned}, store.ConsentEvent{}); err != nil {
		t.Fatal(err)
	}
	return b
}

func (b *bundle) payload(version int64) task.DeliverNudge {
	return task.DeliverNudge{SubscriberID: b.id, Program: domain.WeeklyCheckin, Date: "2026-12-01", At: planned.Unix(), Version: version, Step: 2}
}

func (b *bundle) deliver(t *testing.T, p task.DeliverNudge) error {
	t.Helper()
	tk, err := task.NewDeliverNudge(p, 0)
	if err != nil {
		t.Fatal(err)
	}
	return b.h.DeliverNudge(context.Background(), tk)
}

func (b *bundle) record(t *testing.T) store.Delivery {
	t.Helper()
	d, err := b.st.Delivery(context.Background(), store.DeliveryKey{SubscriberID: b.id, Program: domain.WeeklyCheckin, Date: "2026-12-01", Channel: domain.Email})
	if err != nil {
		t.Fatalf("delivery record: %v", err)
	}
	return d
}

func TestDeliverSendsOnceAndARetryDoesNotResend(t *testing.T) {
	b := setup(t, planned.Add(time.Second))
	for range 3 { // asynq runs a task at least once: the second and third runs must not send
		if err := b.deliver(t, b.payload(1)); err != nil {
			t.Fatalf("deliver: %v", err)
		}
	}
	msgs := b.sink.Messages()
	if len(msgs) != 1 {
		t.Fatalf("SMTP server got %d messages, want 1", len(msgs))
	}
	m := msgs[0]
	lib, _ := templates.Default()
	want, _ := lib.Pick(domain.WeeklyCheckin, "en", 2)
	if m.Header.Get("Subject") == "" || !strings.Contains(m.Text, "Grace") {
		t.Errorf("message not personalised: subject %q", m.Header.Get("Subject"))
	}
	if want.Name == "" {
		t.Fatal("no message at step 2")
	}
	if got := m.Header.Get("Message-Id"); got != "<"+b.id+":weekly-checkin:2026-12-01@nudge.test>" {
		t.Errorf("Message-ID = %q, want one derived from the occurrence", got)
	}
	if d := b.record(t); d.State != store.Sent {
		t.Fatalf("record = %+v, want sent", d)
	}
}

func TestDeliverSkips(t *testing.T) {
	tests := []struct {
		name   string
		now    time.Time
		before func(t *testing.T, b *bundle)
		want   string // reason prefix
	}{
		{"too late", planned.Add(6*time.Hour + time.Minute), nil, "too late"},
		{"unsubscribed after queueing", planned, func(t *testing.T, b *bundle) {
			if _, err := b.st.Unsubscribe(context.Background(), b.id, store.ConsentEvent{}); err != nil {
				t.Fatal(err)
			}
		}, "subscriber unsubscribed"},
		{"schedule changed after queueing", planned, func(t *testing.T, b *bundle) {
			// A new signup of a not-yet-active address bumps the version; here we
			// simulate a change by unsubscribing and signing up again.
			ctx := context.Background()
			if _, err := b.st.Unsubscribe(ctx, b.id, store.ConsentEvent{}); err != nil {
				t.Fatal(err)
			}
			if _, err := b.st.Signup(ctx, domain.Subscriber{FirstName: "Grace", Email: "grace@example.org", TimeZone: "UTC", Locale: "en"},
				[]domain.Schedule{{Program: domain.WeeklyCheckin, Rule: "weekly:wed@08:00"}}, store.ConsentEvent{}); err != nil {
				t.Fatal(err)
			}
			if _, err := b.st.Activate(ctx, b.id, planned, map[domain.Program]time.Time{domain.WeeklyCheckin: planned.Add(time.Hour)}, store.ConsentEvent{}); err != nil {
				t.Fatal(err)
			}
		}, "schedule changed"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			b := setup(t, tt.now)
			if tt.before != nil {
				tt.before(t, b)
			}
			if err := b.deliver(t, b.payload(1)); err != nil {
				t.Fatalf("deliver: %v", err)
			}
			if n := len(b.sink.Messages()); n != 0 {
				t.Fatalf("SMTP server got %d messages, want 0", n)
			}
			if d := b.record(t); d.State != store.Skipped || !strings.HasPrefix(d.Reason, tt.want) {
				t.Fatalf("record = %+v, want skipped %q…", d, tt.want)
			}
		})
	}
}

func TestDeliverAfterACrashedAttemptRecordsUnknown(t *testing.T) {
	b := setup(t, planned)
	// An attempt claimed the occurrence and died before recording the outcome.
	k := store.DeliveryKey{SubscriberID: b.id, Program: domain.WeeklyCheckin, Date: "2026-12-01", Channel: domain.Email}
	if err := b.st.ClaimDelivery(context.Background(), k, planned); err != nil {
		t.Fatal(err)
	}
	if err := b.deliver(t, b.payload(1)); err != nil {
		t.Fatalf("deliver: %v", err)
	}
	if n := len(b.sink.Messages()); n != 0 {
		t.Fatalf("a retry after a crashed attempt sent %d messages; it must send none", n)
	}
	if d := b.record(t); d.State != store.Unknown {
		t.Fatalf("record = %+v, want unknown", d)
	}
}

// A worker killed between claiming and recording leaves the record claimed.
// When asynq runs the task again and the occurrence is by then to be
// skipped (past the grace window, unsubscribed, paused), the record must
// still end unknown: never skipped, never "claimed" for good, never resent.
func TestSkipAfterACrashedAttemptRecordsUnknown(t *testing.T) {
	tests := []struct {
		name   string
		now    time.Time
		before func(t *testing.T, b *bundle)
	}{
		{"retry past the grace window", planned.Add(6*time.Hour + time.Minute), nil},
		{"unsubscribed before the retry", planned.Add(time.Minute), func(t *testing.T, b *bundle) {
			if _, err := b.st.Unsubscribe(context.Background(), b.id, store.ConsentEvent{}); err != nil {
				t.Fatal(err)
			}
		}},
		{"paused before the retry", planned.Add(time.Minute), func(t *testing.T, b *bundle) {
			if err := b.st.Pause(context.Background(), b.id, planned.Add(48*time.Hour), store.ConsentEvent{}); err != nil {
				t.Fatal(err)
			}
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			b := setup(t, tt.now)
			k := store.DeliveryKey{SubscriberID: b.id, Program: domain.WeeklyCheckin, Date: "2026-12-01", Channel: domain.Email}
			if err := b.st.ClaimDelivery(context.Background(), k, planned); err != nil {
				t.Fatal(err)
			}
			if tt.before != nil {
				tt.before(t, b)
			}
			for range 2 { // and a further run changes nothing
				if err := b.deliver(t, b.payload(1)); err != nil {
					t.Fatalf("deliver: %v", err)
				}
			}
			if n := len(b.sink.Messages()); n != 0 {
				t.Fatalf("SMTP server got %d messages, want 0", n)
			}
			if d := b.record(t); d.State != store.Unknown {
				t.Fatalf("record = %+v, want unknown", d)
			}
		})
	}
}

func TestMalformedPayloadIsNotRetried(t *testing.T) {
	b := setup(t, planned)
	for _, raw := range []string{`{`, `{"s":""}`, `{"s":"x","p":"nonsense","d":"2026-12-01"}`} {
		err := b.h.DeliverNudge(context.Background(), asynq.NewTask(task.TypeDeliverNudge, []byte(raw)))
		if err == nil || !strings.Contains(err.Error(), asynq.SkipRetry.Error()) {
			t.Errorf("payload %s: err = %v, want SkipRetry", raw, err)
		}
	}
}

func TestDeliverEmailFaults(t *testing.T) {
	tests := []struct {
		name      string
		fault     smtptest.Fault
		retry     bool // the task asks asynq to retry
		state     store.DeliveryState
		accepted  int // messages the server holds after the first attempt
		thenState store.DeliveryState
		thenTotal int // after a second attempt
	}{
		{"451 at RCPT", smtptest.Fault{Stage: "rcpt", Code: 451}, true, store.Retry, 0, store.Sent, 1},
		{"452 after the dot", smtptest.Fault{Stage: "data", Code: 452}, true, store.Retry, 0, store.Sent, 1},
		{"550 at RCPT", smtptest.Fault{Stage: "rcpt", Code: 550}, false, store.Failed, 0, store.Failed, 0},
		{"554 after the dot", smtptest.Fault{Stage: "data", Code: 554}, false, store.Failed, 0, store.Failed, 0},
		{"dropped after the dot", smtptest.Fault{Stage: "data", Code: 0}, false, store.Unknown, 1, store.Unknown, 1},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			b := setupWith(t, planned, smtptest.Options{Script: []smtptest.Fault{tt.fault}})
			err := b.deliver(t, b.payload(1))
			if gotRetry := err != nil && !errors.Is(err, asynq.SkipRetry); gotRetry != tt.retry {
				t.Fatalf("err = %v; retry = %v, want %v", err, gotRetry, tt.retry)
			}
			if d := b.record(t); d.State != tt.state {
				t.Fatalf("record = %+v, want %s", d, tt.state)
			}
			if n := len(b.sink.Messages()); n != tt.accepted {
				t.Fatalf("server holds %d messages, want %d", n, tt.accepted)
			}
			_ = b.deliver(t, b.payload(1)) // asynq's retry, or a duplicate run
			if d := b.record(t); d.State != tt.thenState {
				t.Fatalf("after a second attempt: record = %+v, want %s", d, tt.thenState)
			}
			if n := len(b.sink.Messages()); n != tt.thenTotal {
				t.Fatalf("after a second attempt the server holds %d messages, want %d", n, tt.thenTotal)
			}
		})
	}
}

func TestRepeatedPermanentFailuresSuppressTheAddress(t *testing.T) {
	refuse := smtptest.Fault{Stage: "rcpt", Code: 550}
	b := setupWith(t, planned, smtptest.Options{Script: []smtptest.Fault{refuse, refuse, refuse}})
	for i, date := range []string{"2026-12-01", "2026-12-08", "2026-12-15", "2026-12-22"} {
		p := b.payload(1)
		p.Date = date
		_ = b.deliver(t, p)
		d, err := b.st.Delivery(context.Background(), store.DeliveryKey{SubscriberID: b.id, Program: domain.WeeklyCheckin, Date: date, Channel: domain.Email})
		if err != nil {
			t.Fatal(err)
		}
		want := store.Failed
		if i == 3 {
			want = store.Skipped
		}
		if d.State != want {
			t.Fatalf("occurrence %d: record = %+v, want %s", i+1, d, want)
		}
	}
	if sup, _ := b.st.Suppressed(context.Background(), "grace@example.org"); !sup {
		t.Fatal("address not suppressed after three permanent failures")
	}
	if n := len(b.sink.Messages()); n != 0 {
		t.Fatalf("server holds %d messages", n)
	}
}

func TestPausedThenWelcomedBack(t *testing.T) {
	b := setup(t, planned)
	ctx := context.Background()
	if err := b.st.Pause(ctx, b.id, planned.Add(24*time.Hour), store.ConsentEvent{}); err != nil {
		t.Fatal(err)
	}
	if err := b.deliver(t, b.payload(1)); err != nil {
		t.Fatal(err)
	}
	if d := b.record(t); d.State != store.Skipped || d.Reason != "paused" {
		t.Fatalf("during the pause: %+v", d)
	}
	b.now = planned.Add(7 * 24 * time.Hour)
	p := b.payload(1)
	p.Date, p.At = "2026-12-08", b.now.Unix()
	if err := b.deliver(t, p); err != nil {
		t.Fatal(err)
	}
	msgs := b.sink.Messages()
	if len(msgs) != 1 || !strings.Contains(msgs[0].Text, "Welcome back") {
		t.Fatalf("first nudge after the pause: %d messages, want one saying welcome back", len(msgs))
	}
	p.Date, p.At = "2026-12-15", b.now.Add(7*24*time.Hour).Unix()
	b.now = b.now.Add(7 * 24 * time.Hour)
	if err := b.deliver(t, p); err != nil {
		t.Fatal(err)
	}
	if msgs := b.sink.Messages(); len(msgs) != 2 || strings.Contains(msgs[1].Text, "Welcome back") {
		t.Fatal("the welcome back repeats after the first nudge")
	}
}

// A worker killed between claiming the email and recording it leaves the
// record claimed. If the person then stops wanting email (here: they move
// to SMS, not yet confirmed), the retry's skip and send reach only the
// channels still wanted; the retry must still end the email claim as
// unknown, never leave it claimed for good, and send nothing. The retry
// runs in a real asynq server, which is what tells a retry from a first
// attempt.
func TestARetryEndsAClaimOnAChannelNoLongerWanted(t *testing.T) {
	b := setup(t, planned.Add(time.Minute))
	ctx := context.Background()
	k := store.DeliveryKey{SubscriberID: b.id, Program: domain.WeeklyCheckin, Date: "2026-12-01", Channel: domain.Email}
	if _, err := b.st.UpdatePreferences(ctx, b.id, store.Preferences{TimeZone: "UTC", Locale: "en", Channels: []domain.Channel{domain.SMS},
		Schedules: []domain.Schedule{{Program: domain.WeeklyCheckin, Rule: "weekly:tue@18:30"}}}, store.ConsentEvent{}); err != nil {
		t.Fatal(err)
	}

	rdb := redistest.Client(t, redistest.DBWorker)
	queue := "retry-" + b.st.Prefix()
	attempts := make(chan int, 4)
	mux := asynq.NewServeMux()
	mux.HandleFunc(task.TypeDeliverNudge, func(ctx context.Context, tk *asynq.Task) error {
		retried, _ := asynq.GetRetryCount(ctx)
		attempts <- retried
		if retried == 0 {
			// The first attempt claims, then dies before recording.
			if err := b.st.ClaimDelivery(ctx, k, planned); err != nil {
				return err
			}
			return errors.New("worker killed after claiming")
		}
		return b.h.DeliverNudge(ctx, tk)
	})
	srv := asynq.NewServerFromRedisClient(rdb, asynq.Config{
		Queues: map[string]int{queue: 1}, Concurrency: 1, LogLevel: asynq.FatalLevel,
		RetryDelayFunc: func(int, error, *asynq.Task) time.Duration { return 10 * time.Millisecond },
	})
	if err := srv.Start(mux); err != nil {
		t.Fatal(err)
	}
	defer srv.Shutdown()
	tk, err := task.NewDeliverNudge(b.payload(1), 0)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := asynq.NewClientFromRedisClient(rdb).EnqueueContext(ctx, tk, asynq.Queue(queue)); err != nil {
		t.Fatal(err)
	}
	for want := range 2 {
		select {
		case got := <-attempts:
			if got != want {
				t.Fatalf("attempt with retry count %d, want %d", got, want)
			}
		case <-time.After(30 * time.Second):
			t.Fatalf("attempt %d never ran", want+1)
		}
	}
	deadline := time.Now().Add(10 * time.Second)
	for {
		d := b.record(t)
		if d.State == store.Unknown {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("after the retry the email record is %+v, want unknown", d)
		}
		time.Sleep(20 * time.Millisecond)
	}
	if n := len(b.sink.Messages()); n != 0 {
		t.Fatalf("SMTP server got %d messages, want 0", n)
	}
}
