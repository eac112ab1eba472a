package worker_test

import (
	"context"
	"encoding/json"
	"errors"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/hibiken/asynq"
	"github.com/nudgehq/nudge/internal/clinic"
	"github.com/nudgehq/nudge/internal/domain"
	"github.com/nudgehq/nudge/internal/email"
	"github.com/nudgehq/nudge/internal/links"
	"github.com/nudgehq/nudge/internal/notify"
	"github.com/nudgehq/nudge/internal/redistest"
	"github.com/nudgehq/nudge/internal/render"
	"github.com/nudgehq/nudge/internal/smtptest"
	"github.com/nudgehq/nudge/internal/store"
	"github.com/nudgehq/nudge/internal/task"
	"github.com/nudgehq/nudge/internal/token"
	"github.com/nudgehq/nudge/templates"
	"github.com/nudgehq/nudge/worker"
)

// receiver is a clinic's webhook endpoint: it answers with the statuses
// given, in turn (then 200), and keeps every request.
type receiver struct {
	srv      *httptest.Server
	mu       sync.Mutex
	statuses []int
	got      []received
	delay    time.Duration
}

type received struct {
	header http.Header
	body   []byte
}

func startReceiver(t *testing.T, statuses ...int) *receiver {
	t.Helper()
	r := &receiver{statuses: statuses}
	r.srv = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, req *http.Request) {
		body, _ := io.ReadAll(req.Body)
		r.mu.Lock()
		r.got = append(r.got, received{header: req.Header.Clone(), body: body})
		status, delay := http.StatusOK, r.delay
		if len(r.statuses) > 0 {
			status, r.statuses = r.statuses[0], r.statuses[1:]
		}
		r.mu.Unlock()
		if delay > 0 {
			select {
			case <-time.After(delay):
			case <-req.Context().Done():
				return
			}
		}
		w.WriteHeader(status)
	}))
	t.Cleanup(r.srv.Close)
	return r
}

func (r *receiver) requests() []received {
	r.mu.Lock()
	defer r.mu.Unlock()
	return append([]received(nil), r.got...)
}

type hookBundle struct {
	st     *store.Store
	rdb    *asynq.Inspector
	h      *worker.Handler
	events *notify.Notifier
	sink   *smtptest.Server
	now    time.Time
	clinic domain.Clinic
	secret string
	client string // an SMS client of the clinic
	deps   worker.Deps
}

// setupHooks builds a worker with a notifier on real Redis, and a clinic
// whose webhook URL is url ("" for none).
func setupHooks(t *testing.T, url string, client *http.Client, smtpOpts smtptest.Options) *hookBundle {
	t.Helper()
	t.Parallel()
	rdb := redistest.Client(t, redistest.DBWorker)
	b := &hookBundle{st: store.New(rdb, redistest.Prefix(t)), rdb: asynq.NewInspectorFromRedisClient(rdb), now: planned, sink: smtptest.StartWith(t, smtpOpts)}
	clock := func() time.Time { return b.now }
	logger := slog.New(slog.NewTextHandler(io.Discard, nil))
	b.events = &notify.Notifier{Store: b.st, Enqueue: asynq.NewClientFromRedisClient(rdb), Now: clock, Logger: logger}
	lib, err := templates.Default()
	if err != nil {
		t.Fatal(err)
	}
	smtp, err := email.NewSMTP(email.SMTPConfig{Host: b.sink.Host(), Port: b.sink.Port(), TLS: "none", PoolSize: 1, Timeout: 5 * time.Second}, logger)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { smtp.Close() })
	// The receivers are httptest servers on loopback: development rules.
	dev := notify.Guard{Development: true}
	b.deps = worker.Deps{
		Store: b.st, Library: lib, Links: links.New("https://nudge.test", token.NewSigner([]byte("a-worker-test-secret-of-enough-length")), clock),
		Renderer: render.New(lib, render.Options{ServiceName: "nudge", PostalAddress: "1 Test Street", CrisisLine: render.DefaultCrisisLines()}),
		Email:    smtp, From: "nudge <hello@nudge.test>", Grace: 6 * time.Hour, Now: clock, Logger: logger,
		WebhookGuard: dev, Webhooks: client, Events: b.events,
	}
	b.h = worker.New(b.deps)
	svc := clinic.New(clinic.Config{Store: b.st, Enqueue: asynq.NewClientFromRedisClient(rdb), Library: lib, Webhooks: dev, Now: clock, Logger: logger})
	created, err := svc.CreateClinic(context.Background(), clinic.NewClinic{Name: "Riverside practice", WebhookURL: url})
	if err != nil {
		t.Fatal(err)
	}
	b.clinic, b.secret = created.Clinic, created.WebhookSecret
	b.client = store.NewID()
	if err := b.st.EnrolClient(context.Background(), domain.Subscriber{ID: b.client, Clinic: b.clinic.ID, FirstName: "Sam", Phone: "+447400123456",
		TimeZone: "UTC", Locale: "en", Channels: []domain.Channel{domain.SMS}, SMSStatus: domain.SMSActive, CreatedAt: planned}, store.ConsentEvent{}); err != nil {
		t.Fatal(err)
	}
	return b
}

// emitted returns the events stored under the test's prefix, each with the
// task queued for it.
func (b *hookBundle) emitted(t *testing.T) ([]notify.Event, []*asynq.TaskInfo) {
	t.Helper()
	ctx := context.Background()
	keys, err := b.st.Redis().Keys(ctx, b.st.Prefix()+"event:*").Result()
	if err != nil {
		t.Fatal(err)
	}
	var evs []notify.Event
	var infos []*asynq.TaskInfo
	for _, k := range keys {
		raw, err := b.st.Event(ctx, strings.TrimPrefix(k, b.st.Prefix()+"event:"))
		if err != nil {
			t.Fatal(err)
		}
		var ev notify.Event
		if err := json.Unmarshal(raw, &ev); err != nil {
			t.Fatal(err)
		}
		info, err := b.rdb.GetTaskInfo(task.QueueLow, "webhook:"+ev.ClinicID+":"+ev.ID)
		if err != nil {
			t.Fatalf("no task queued for event %s: %v", ev.ID, err)
		}
		evs, infos = append(evs, ev), append(infos, info)
	}
	return evs, infos
}

// clearEvents deletes the events stored under the test's prefix.
func (b *hookBundle) clearEvents(t *testing.T) {
	t.Helper()
	ctx := context.Background()
	keys, err := b.st.Redis().Keys(ctx, b.st.Prefix()+"event:*").Result()
	if err != nil {
		t.Fatal(err)
	}
	for _, k := range keys {
		if err := b.st.DeleteEvent(ctx, strings.TrimPrefix(k, b.st.Prefix()+"event:")); err != nil {
			t.Fatal(err)
		}
	}
}

// emit raises one event and returns the task queued for it.
func (b *hookBundle) emit(t *testing.T) (notify.Event, *asynq.Task) {
	t.Helper()
	if err := b.events.Emit(context.Background(), b.clinic.ID, notify.ClientReplied, notify.Replied{
		ClientID: b.client, At: b.now.Format(time.RFC3339), Channel: "sms", Rating: 4, InReplyTo: "between-session:p1",
	}); err != nil {
		t.Fatal(err)
	}
	evs, infos := b.emitted(t)
	if len(evs) != 1 {
		t.Fatalf("%d events stored, want 1", len(evs))
	}
	if infos[0].Queue != task.QueueLow || infos[0].MaxRetry != task.WebhookMaxRetry || infos[0].Type != task.TypeDeliverWebhook {
		t.Fatalf("queued %s on %q with max retry %d", infos[0].Type, infos[0].Queue, infos[0].MaxRetry)
	}
	return evs[0], asynq.NewTask(infos[0].Type, infos[0].Payload)
}

func TestWebhookIsSignedAndVerifies(t *testing.T) {
	r := startReceiver(t)
	b := setupHooks(t, r.srv.URL+"/hooks/nudge", nil, smtptest.Options{})
	ev, tk := b.emit(t)
	if ev.Type != notify.ClientReplied || ev.ClinicID != b.clinic.ID || !strings.HasPrefix(ev.ID, "evt_") || ev.CreatedAt != "2026-12-01T18:30:00Z" {
		t.Fatalf("event = %+v", ev)
	}
	if err := b.h.DeliverWebhook(context.Background(), tk); err != nil {
		t.Fatalf("deliver: %v", err)
	}
	got := r.requests()
	if len(got) != 1 {
		t.Fatalf("receiver got %d requests, want 1", len(got))
	}
	req := got[0]
	for h, want := range map[string]string{
		"Content-Type": "application/json", "User-Agent": "nudge-webhooks",
		"Nudge-Event-Id": ev.ID, "Nudge-Event-Type": notify.ClientReplied,
	} {
		if v := req.header.Get(h); v != want {
			t.Errorf("%s = %q, want %q", h, v, want)
		}
	}
	sig := req.header.Get("Nudge-Signature")
	if err := notify.Verify(b.secret, sig, req.body, b.now.Add(time.Minute), notify.DefaultTolerance); err != nil {
		t.Fatalf("signature %q does not verify: %v", sig, err)
	}
	var data struct {
		ID   string `json:"id"`
		Data struct {
			ClientID  string `json:"client_id"`
			Rating    int    `json:"rating"`
			InReplyTo string `json:"in_reply_to"`
		} `json:"data"`
	}
	if err := json.Unmarshal(req.body, &data); err != nil || data.ID != ev.ID || data.Data.ClientID != b.client || data.Data.Rating != 4 || data.Data.InReplyTo != "between-session:p1" {
		t.Fatalf("body = %s (%v)", req.body, err)
	}
	// What a receiver must refuse: a changed body, another secret, a replay
	// after the tolerance.
	tampered := []byte(strings.Replace(string(req.body), `"rating":4`, `"rating":1`, 1))
	if err := notify.Verify(b.secret, sig, tampered, b.now, notify.DefaultTolerance); !errors.Is(err, notify.ErrBadSignature) {
		t.Errorf("tampered body: %v, want ErrBadSignature", err)
	}
	if err := notify.Verify("whsec_not-the-clinics", sig, req.body, b.now, notify.DefaultTolerance); !errors.Is(err, notify.ErrBadSignature) {
		t.Errorf("another secret: %v, want ErrBadSignature", err)
	}
	if err := notify.Verify(b.secret, sig, req.body, b.now.Add(6*time.Minute), notify.DefaultTolerance); !errors.Is(err, notify.ErrTooOld) {
		t.Errorf("old timestamp: %v, want ErrTooOld", err)
	}
}

func TestWebhookFailureRetriesWithTheSameEvent(t *testing.T) {
	r := startReceiver(t, http.StatusInternalServerError)
	b := setupHooks(t, r.srv.URL, nil, smtptest.Options{})
	ev, tk := b.emit(t)
	err := b.h.DeliverWebhook(context.Background(), tk)
	if err == nil || errors.Is(err, asynq.SkipRetry) {
		t.Fatalf("a 500 gave %v; want an error asynq retries", err)
	}
	b.now = b.now.Add(30 * time.Second) // asynq's first retry
	if err := b.h.DeliverWebhook(context.Background(), tk); err != nil {
		t.Fatalf("retry after a 200: %v", err)
	}
	got := r.requests()
	if len(got) != 2 {
		t.Fatalf("receiver got %d requests, want 2", len(got))
	}
	for i, req := range got {
		if id := req.header.Get("Nudge-Event-Id"); id != ev.ID {
			t.Errorf("request %d: event id %q, want %q", i, id, ev.ID)
		}
		if string(req.body) != string(got[0].body) {
			t.Errorf("request %d posted another body", i)
		}
		if err := notify.Verify(b.secret, req.header.Get("Nudge-Signature"), req.body, b.now, notify.DefaultTolerance); err != nil {
			t.Errorf("request %d: %v", i, err)
		}
	}
	if got[0].header.Get("Nudge-Signature") == got[1].header.Get("Nudge-Signature") {
		t.Error("a retry reused the first attempt's signature time")
	}
}

func TestWebhookSlowEndpointTimesOut(t *testing.T) {
	r := startReceiver(t)
	r.delay = 5 * time.Second
	client := worker.NewWebhookClient(notify.Guard{Development: true})
	client.Timeout = 200 * time.Millisecond
	b := setupHooks(t, r.srv.URL, client, smtptest.Options{})
	_, tk := b.emit(t)
	start := time.Now()
	err := b.h.DeliverWebhook(context.Background(), tk)
	if err == nil || errors.Is(err, asynq.SkipRetry) {
		t.Fatalf("a slow endpoint gave %v; want an error asynq retries", err)
	}
	if took := time.Since(start); took > 2*time.Second {
		t.Fatalf("the handler waited %s for a slow endpoint", took)
	}
}

func TestWebhookRedirectIsAFailure(t *testing.T) {
	r := startReceiver(t, http.StatusFound)
	b := setupHooks(t, r.srv.URL, nil, smtptest.Options{})
	_, tk := b.emit(t)
	if err := b.h.DeliverWebhook(context.Background(), tk); err == nil {
		t.Fatal("a 302 was taken as delivered")
	}
	if n := len(r.requests()); n != 1 {
		t.Fatalf("receiver got %d requests; the redirect must not be followed", n)
	}
}

func TestClinicWithoutWebhookGetsNothing(t *testing.T) {
	b := setupHooks(t, "", nil, smtptest.Options{})
	if err := b.events.Emit(context.Background(), b.clinic.ID, notify.ClientConfirmed, notify.Confirmed{ClientID: "client1", Channel: "email"}); err != nil {
		t.Fatal(err)
	}
	if evs, _ := b.emitted(t); len(evs) != 0 {
		t.Fatalf("%d events stored for a clinic without a webhook URL", len(evs))
	}
	// A task whose event has expired (or never existed) is done, not retried.
	tk, err := task.NewDeliverWebhook(task.DeliverWebhook{ClinicID: b.clinic.ID, EventID: "evt_gone"})
	if err != nil {
		t.Fatal(err)
	}
	if err := b.h.DeliverWebhook(context.Background(), tk); err != nil {
		t.Fatalf("expired event: %v", err)
	}
}

func TestWebhookOfAnotherClinicsEventIsRefused(t *testing.T) {
	r := startReceiver(t)
	b := setupHooks(t, r.srv.URL, nil, smtptest.Options{})
	ev, _ := b.emit(t)
	tk, err := task.NewDeliverWebhook(task.DeliverWebhook{ClinicID: "cother", EventID: ev.ID})
	if err != nil {
		t.Fatal(err)
	}
	if err := b.h.DeliverWebhook(context.Background(), tk); !errors.Is(err, asynq.SkipRetry) {
		t.Fatalf("err = %v, want SkipRetry", err)
	}
	if n := len(r.requests()); n != 0 {
		t.Fatalf("an event was posted for a clinic it does not belong to (%d requests)", n)
	}
}

func TestRetryDelayForWebhooks(t *testing.T) {
	hook, _ := task.NewDeliverWebhook(task.DeliverWebhook{ClinicID: "c", EventID: "e"})
	nudge, _ := task.NewDeliverNudge(task.DeliverNudge{SubscriberID: "s", Program: domain.WeeklyCheckin, Date: "2026-12-01"}, 0)
	fail := errors.New("status 500")
	for _, tt := range []struct {
		n    int
		t    *asynq.Task
		want time.Duration
	}{
		{0, hook, 30 * time.Second}, {1, hook, time.Minute}, {6, hook, 32 * time.Minute}, {7, hook, time.Hour}, {9, hook, time.Hour}, {100, hook, time.Hour},
		{0, nudge, 15 * time.Second}, {9, nudge, 15 * time.Minute},
	} {
		if got := worker.RetryDelay(tt.n, fail, tt.t); got != tt.want {
			t.Errorf("RetryDelay(%d, %s) = %s, want %s", tt.n, tt.t.Type(), got, tt.want)
		}
	}
}

func TestPermanentFailureOfAClientsMessageRaisesDeliveryFailed(t *testing.T) {
	refuse := smtptest.Fault{Stage: "rcpt", Code: 550}
	r := startReceiver(t)
	b := setupHooks(t, r.srv.URL, nil, smtptest.Options{Script: []smtptest.Fault{refuse, refuse}})
	ctx := context.Background()
	client := domain.Subscriber{ID: store.NewID(), Clinic: b.clinic.ID, FirstName: "Kai", Email: "kai@example.org", TimeZone: "UTC", Locale: "en",
		Channels: []domain.Channel{domain.Email}, CreatedAt: planned}
	if err := b.st.EnrolClient(ctx, client, store.ConsentEvent{}); err != nil {
		t.Fatal(err)
	}
	tk, err := task.NewSendConfirmation(task.SendConfirmation{SubscriberID: client.ID, Nonce: "enrol"})
	if err != nil {
		t.Fatal(err)
	}
	if err := b.h.SendConfirmation(ctx, tk); !errors.Is(err, asynq.SkipRetry) {
		t.Fatalf("a 550 gave %v, want SkipRetry", err)
	}
	evs, _ := b.emitted(t)
	if len(evs) != 1 || evs[0].Type != notify.DeliveryFailed {
		t.Fatalf("events = %+v, want one delivery.failed", evs)
	}
	raw, _ := b.st.Event(ctx, evs[0].ID)
	for _, secret := range []string{"kai@example.org", "Kai"} {
		if strings.Contains(string(raw), secret) {
			t.Errorf("the event quotes %q: %s", secret, raw)
		}
	}
	data, _ := json.Marshal(evs[0].Data)
	want := `{"channel":"email","client_id":"` + client.ID + `","occurrence":"system-confirm:enrol","reason":"refused by the mail server"}`
	if string(data) != want {
		t.Errorf("data = %s, want %s", data, want)
	}

	// A public subscriber's failure raises nothing.
	pub, err := b.st.Signup(ctx, domain.Subscriber{FirstName: "Ann", Email: "ann@example.org", TimeZone: "UTC", Locale: "en", CreatedAt: planned}, nil, store.ConsentEvent{})
	if err != nil {
		t.Fatal(err)
	}
	tk, _ = task.NewSendConfirmation(task.SendConfirmation{SubscriberID: pub.ID, Nonce: "1"})
	if err := b.h.SendConfirmation(ctx, tk); !errors.Is(err, asynq.SkipRetry) {
		t.Fatalf("a 550 gave %v, want SkipRetry", err)
	}
	if evs, _ := b.emitted(t); len(evs) != 1 {
		t.Fatalf("%d events after a public subscriber's failure, want still 1", len(evs))
	}
}

func TestWebhookAboutAnErasedClientIsForgottenUnsent(t *testing.T) {
	r := startReceiver(t)
	b := setupHooks(t, r.srv.URL, nil, smtptest.Options{})
	ev, tk := b.emit(t)
	if _, err := b.st.Erase(context.Background(), b.client); err != nil {
		t.Fatal(err)
	}
	if err := b.h.DeliverWebhook(context.Background(), tk); err != nil {
		t.Fatalf("deliver: %v", err)
	}
	if n := len(r.requests()); n != 0 {
		t.Fatalf("an event about an erased client was posted (%d requests)", n)
	}
	if _, err := b.st.Event(context.Background(), ev.ID); !errors.Is(err, store.ErrNotFound) {
		t.Fatalf("the event is still stored: %v", err)
	}
}

// webhookCounts counts the webhook outcomes a handler reports.
type webhookCounts struct {
	mu      sync.Mutex
	results map[string]int
}

func (m *webhookCounts) Message(string, string, string)      {}
func (m *webhookCounts) Lateness(string, time.Duration)      {}
func (m *webhookCounts) RateLimitWait(string, time.Duration) {}
func (m *webhookCounts) Webhook(result string) {
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.results == nil {
		m.results = map[string]int{}
	}
	m.results[result]++
}

func (m *webhookCounts) get(result string) int {
	m.mu.Lock()
	defer m.mu.Unlock()
	return m.results[result]
}

// TestWebhookToAnInsideAddressIsRefused: with the production rules, an
// event for a URL that reaches this machine, the cloud metadata service or
// carries credentials is not posted, is counted as refused and is not
// tried again. The URLs are stored directly, as if set before the rules
// (or by a name that resolved elsewhere when it was set).
func TestWebhookToAnInsideAddressIsRefused(t *testing.T) {
	r := startReceiver(t)
	b := setupHooks(t, r.srv.URL, nil, smtptest.Options{})
	counts := &webhookCounts{}
	prod := b.deps
	prod.WebhookGuard, prod.Webhooks, prod.Metrics = notify.Guard{}, nil, counts
	h := worker.New(prod)
	ctx := context.Background()
	_, port, _ := strings.Cut(strings.TrimPrefix(r.srv.URL, "http://"), ":")
	targets := []string{
		r.srv.URL + "/hook",                         // http, loopback
		"https://127.0.0.1:" + port + "/hook",       // loopback
		"https://localhost:" + port + "/hook",       // a name for loopback
		"https://169.254.169.254/latest/meta-data/", // the metadata service
		"https://ops:hunter2@hooks.clinic.example/", // credentials
		"https://[::ffff:169.254.169.254]/latest/",  // the same, spelt as IPv6
	}
	for i, target := range targets {
		if err := b.st.SetClinicWebhook(ctx, b.clinic.ID, target, ""); err != nil {
			t.Fatal(err)
		}
		_, tk := b.emit(t)
		err := h.DeliverWebhook(ctx, tk)
		if !errors.Is(err, asynq.SkipRetry) || !errors.Is(err, notify.ErrReceiverRefused) {
			t.Errorf("%s: %v, want refused without retry", target, err)
		}
		if got := counts.get("refused"); got != i+1 {
			t.Errorf("%s: %d refusals counted, want %d", target, got, i+1)
		}
		b.clearEvents(t)
	}
	if n := len(r.requests()); n != 0 {
		t.Fatalf("%d requests reached the receiver", n)
	}
}

// TestWebhookRefusedWhenTheNameResolvesInside: the URL passes its check (a
// host name), but the address the name resolves to is refused when the
// connection is made: a name rebound to 127.0.0.1 is refused like the
// address itself.
func TestWebhookRefusedWhenTheNameResolvesInside(t *testing.T) {
	r := startReceiver(t)
	b := setupHooks(t, "", nil, smtptest.Options{})
	counts := &webhookCounts{}
	d := b.deps
	// URLs checked as in development (so http://localhost passes), the
	// connection as in production.
	d.WebhookGuard, d.Webhooks, d.Metrics = notify.Guard{Development: true}, worker.NewWebhookClient(notify.Guard{}), counts
	h := worker.New(d)
	_, port, _ := strings.Cut(strings.TrimPrefix(r.srv.URL, "http://"), ":")
	if err := b.st.SetClinicWebhook(context.Background(), b.clinic.ID, "http://localhost:"+port+"/hook", ""); err != nil {
		t.Fatal(err)
	}
	_, tk := b.emit(t)
	err := h.DeliverWebhook(context.Background(), tk)
	if !errors.Is(err, asynq.SkipRetry) || !errors.Is(err, notify.ErrReceiverRefused) {
		t.Fatalf("deliver: %v, want refused without retry", err)
	}
	if counts.get("refused") != 1 || counts.get("retry") != 0 || len(r.requests()) != 0 {
		t.Fatalf("counts %v, %d requests", counts.results, len(r.requests()))
	}
}
