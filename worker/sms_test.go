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
	"github.com/nudgehq/nudge/internal/sms"
	"github.com/nudgehq/nudge/internal/smtptest"
	"github.com/nudgehq/nudge/internal/store"
	"github.com/nudgehq/nudge/internal/task"
	"github.com/nudgehq/nudge/internal/token"
	"github.com/nudgehq/nudge/internal/twiliotest"
	"github.com/nudgehq/nudge/scheduler"
	"github.com/nudgehq/nudge/templates"
	"github.com/nudgehq/nudge/worker"
)

type smsBundle struct {
	st     *store.Store
	h      *worker.Handler
	twilio *twiliotest.Server
	sink   *smtptest.Server
	now    time.Time
	id     string
}

// setupSMS builds a worker with the real twilio-go client talking to a
// Twilio stand-in, and one active subscriber (in UTC) who wants channels.
func setupSMS(t *testing.T, now time.Time, channels ...domain.Channel) *smsBundle {
	t.Helper()
	t.Parallel()
	b := &smsBundle{twilio: twiliotest.Start(t), sink: smtptest.Start(t), now: now}
	b.st = store.New(redistest.Client(t, redistest.DBWorker), redistest.Prefix(t))
	lib, err := templates.Default()
	if err != nil {
		t.Fatal(err)
	}
	logger := slog.New(slog.NewTextHandler(io.Discard, nil))
	tw, err := sms.NewTwilio(sms.Config{AccountSID: b.twilio.AccountSID, AuthToken: b.twilio.AuthToken, From: "+15005550006", APIURL: b.twilio.URL, Timeout: 5 * time.Second}, logger)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(tw.Close)
	smtp, err := email.NewSMTP(email.SMTPConfig{Host: b.sink.Host(), Port: b.sink.Port(), TLS: "none", PoolSize: 1, Timeout: 5 * time.Second}, logger)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { smtp.Close() })
	clock := func() time.Time { return b.now }
	b.h = worker.New(worker.Deps{
		Store: b.st, Library: lib, Links: links.New("https://nudge.test", token.NewSigner([]byte("a-worker-test-secret-of-enough-length")), clock),
		Renderer: render.New(lib, render.Options{ServiceName: "nudge", PostalAddress: "1 Test Street", CrisisLine: render.DefaultCrisisLines()}),
		Email:    smtp, SMS: tw, SMSWindow: scheduler.DefaultSMSWindow,
		From: "nudge <hello@nudge.test>", Grace: 6 * time.Hour, Now: clock, Logger: logger,
	})
	ctx := context.Background()
	res, err := b.st.Signup(ctx, domain.Subscriber{FirstName: "Sam", Email: "sam@example.org", Phone: "+447700900123", TimeZone: "UTC", Locale: "en",
		Channels: channels, SMSStatus: domain.SMSActive}, []domain.Schedule{{Program: domain.WeeklyCheckin, Rule: "weekly:tue@18:30"}}, store.ConsentEvent{})
	if err != nil {
		t.Fatal(err)
	}
	b.id = res.ID
	if _, err := b.st.Activate(ctx, b.id, planned.Add(-48*time.Hour), map[domain.Program]time.Time{domain.WeeklyCheckin: planned}, store.ConsentEvent{}); err != nil {
		t.Fatal(err)
	}
	return b
}

func (b *smsBundle) deliver(t *testing.T, date string, at time.Time) error {
	t.Helper()
	tk, err := task.NewDeliverNudge(task.DeliverNudge{SubscriberID: b.id, Program: domain.WeeklyCheckin, Date: date, At: at.Unix(), Version: 1, Step: 0}, 0)
	if err != nil {
		t.Fatal(err)
	}
	return b.h.DeliverNudge(context.Background(), tk)
}

func (b *smsBundle) record(t *testing.T, date string, c domain.Channel) store.Delivery {
	t.Helper()
	d, err := b.st.Delivery(context.Background(), store.DeliveryKey{SubscriberID: b.id, Program: domain.WeeklyCheckin, Date: date, Channel: c})
	if err != nil {
		t.Fatalf("delivery record %s/%s: %v", date, c, err)
	}
	return d
}

func TestSMSSendsWithFooterFirstAndOnlyMonthlyAfter(t *testing.T) {
	b := setupSMS(t, planned, domain.SMS)
	if err := b.deliver(t, "2026-12-01", planned); err != nil {
		t.Fatal(err)
	}
	msgs := b.twilio.Messages()
	if len(msgs) != 1 {
		t.Fatalf("twilio got %d messages", len(msgs))
	}
	m := msgs[0]
	if m.To != "+447700900123" || !strings.HasPrefix(m.Body, "nudge") || !strings.Contains(m.Body, "STOP") {
		t.Errorf("first text: to %s, body %q; want the service name first and the opt-out words", m.To, m.Body)
	}
	if m.StatusCallback != "https://nudge.test/webhooks/twilio/status" {
		t.Errorf("status callback = %q", m.StatusCallback)
	}
	if segs, gsm := render.GSM7Segments(m.Body); segs > 2 || !gsm {
		t.Errorf("body is %d segments (gsm7 %v)", segs, gsm)
	}
	if d := b.record(t, "2026-12-01", domain.SMS); d.State != store.Sent || d.ProviderID != m.SID {
		t.Fatalf("record = %+v, want sent with %s", d, m.SID)
	}
	if n := len(b.sink.Messages()); n != 0 {
		t.Errorf("an SMS-only subscriber got %d emails", n)
	}

	week := planned.Add(7 * 24 * time.Hour)
	b.now = week
	if err := b.deliver(t, "2026-12-08", week); err != nil {
		t.Fatal(err)
	}
	if body := b.twilio.Messages()[1].Body; strings.Contains(body, "STOP") {
		t.Errorf("a week later the text repeats the opt-out words: %q", body)
	}
	month := planned.Add(35 * 24 * time.Hour)
	b.now = month
	if err := b.deliver(t, "2027-01-05", month); err != nil {
		t.Fatal(err)
	}
	if body := b.twilio.Messages()[2].Body; !strings.Contains(body, "STOP") {
		t.Errorf("a month later the text lacks the opt-out words: %q", body)
	}
}

func TestSMSFaults(t *testing.T) {
	tests := []struct {
		name     string
		script   []twiliotest.Behaviour
		attempts int
		state    store.DeliveryState
		accepted int
		stopped  bool
	}{
		{"201", []twiliotest.Behaviour{twiliotest.Accept()}, 1, store.Sent, 1, false},
		{"429 three times then 201", []twiliotest.Behaviour{twiliotest.Fail(429, 20429), twiliotest.Fail(429, 20429), twiliotest.Fail(429, 20429), twiliotest.Accept()}, 4, store.Sent, 1, false},
		{"500", []twiliotest.Behaviour{twiliotest.Fail(500, 0)}, 1, store.Retry, 0, false},
		{"21610 opted out", []twiliotest.Behaviour{twiliotest.Fail(400, 21610)}, 2, store.Failed, 0, true},
		{"21211 invalid number", []twiliotest.Behaviour{twiliotest.Fail(400, 21211)}, 2, store.Failed, 0, false},
		{"dropped after the request", []twiliotest.Behaviour{twiliotest.DropAfterAccept()}, 2, store.Unknown, 1, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			b := setupSMS(t, planned, domain.SMS)
			b.twilio.Script(tt.script...)
			for i := range tt.attempts {
				err := b.deliver(t, "2026-12-01", planned)
				retry := err != nil && !errors.Is(err, asynq.SkipRetry)
				if last := i == tt.attempts-1; !last && tt.state == store.Sent && !retry {
					t.Fatalf("attempt %d: err = %v, want a retry", i+1, err)
				}
			}
			if d := b.record(t, "2026-12-01", domain.SMS); d.State != tt.state {
				t.Fatalf("record = %+v, want %s", d, tt.state)
			}
			if n := b.twilio.Accepted(); n != tt.accepted {
				t.Fatalf("twilio accepted %d, want %d", n, tt.accepted)
			}
			sub, _ := b.st.Subscriber(context.Background(), b.id)
			if stopped := sub.SMSStatus == domain.SMSStopped; stopped != tt.stopped {
				t.Fatalf("sms status = %q, want stopped %v", sub.SMSStatus, tt.stopped)
			}
		})
	}
}

func TestSMSNeverOutsideTheWindow(t *testing.T) {
	night := time.Date(2026, 12, 1, 3, 0, 0, 0, time.UTC)
	b := setupSMS(t, night, domain.Email, domain.SMS)
	if err := b.deliver(t, "2026-12-01", night); err != nil {
		t.Fatal(err)
	}
	if n := b.twilio.Requests(); n != 0 {
		t.Fatalf("twilio got %d requests at 03:00 local", n)
	}
	if d := b.record(t, "2026-12-01", domain.SMS); d.State != store.Skipped {
		t.Fatalf("sms record = %+v, want skipped", d)
	}
	// Email has no quiet hours: it goes at the time the person chose.
	if d := b.record(t, "2026-12-01", domain.Email); d.State != store.Sent || len(b.sink.Messages()) != 1 {
		t.Fatalf("email record = %+v with %d emails, want sent once", d, len(b.sink.Messages()))
	}
}

func TestBothChannelsRetryOnlyTheOneThatFailed(t *testing.T) {
	b := setupSMS(t, planned, domain.Email, domain.SMS)
	b.twilio.Script(twiliotest.Fail(503, 0))
	err := b.deliver(t, "2026-12-01", planned)
	if err == nil || errors.Is(err, asynq.SkipRetry) {
		t.Fatalf("err = %v, want a retry for the SMS", err)
	}
	if err := b.deliver(t, "2026-12-01", planned); err != nil {
		t.Fatalf("retry: %v", err)
	}
	if n := len(b.sink.Messages()); n != 1 {
		t.Fatalf("the retry for SMS sent the email again: %d emails", n)
	}
	if n := b.twilio.Accepted(); n != 1 {
		t.Fatalf("twilio accepted %d", n)
	}
}

// A confirmation text asked for at night waits for the morning in the
// person's zone: the task is deferred (not a failure, no retry used up)
// until the window opens, then sent with nothing the person typed in it.
func TestConfirmationTextWaitsForTheWindowAndCarriesNoTypedText(t *testing.T) {
	// 08:00 UTC is 03:00 in New York.
	b := setupSMS(t, time.Date(2026, 12, 1, 8, 0, 0, 0, time.UTC), domain.SMS)
	ctx := context.Background()
	res, err := b.st.Signup(ctx, domain.Subscriber{FirstName: "win $500 at bit.ly/x9 now", Phone: "+12015550123", TimeZone: "America/New_York", Locale: "en",
		Channels: []domain.Channel{domain.SMS}, SMSStatus: domain.SMSPending, CreatedAt: b.now}, []domain.Schedule{{Program: domain.WeeklyCheckin, Rule: "weekly:tue@18:30"}}, store.ConsentEvent{})
	if err != nil {
		t.Fatal(err)
	}
	tk, err := task.NewSendSMSConfirm(task.SendConfirmation{SubscriberID: res.ID, Nonce: "n1"})
	if err != nil {
		t.Fatal(err)
	}
	err = b.h.SendSMSConfirm(ctx, tk)
	var wait *worker.Deferred
	if !errors.As(err, &wait) || wait.Delay != 6*time.Hour {
		t.Fatalf("at 03:00 local: %v, want a 6h wait for 09:00", err)
	}
	if worker.IsFailure(err) {
		t.Error("a wait for the window counts as a failure")
	}
	if got := worker.RetryDelay(0, err, tk); got != 6*time.Hour {
		t.Errorf("asynq would run it again after %s, want 6h", got)
	}
	if n := b.twilio.Accepted(); n != 0 {
		t.Fatalf("%d texts sent at night", n)
	}

	b.now = time.Date(2026, 12, 1, 14, 0, 0, 0, time.UTC) // 09:00 in New York
	if err := b.h.SendSMSConfirm(ctx, tk); err != nil {
		t.Fatal(err)
	}
	texts := b.twilio.Messages()
	if len(texts) != 1 {
		t.Fatalf("%d texts, want the confirmation", len(texts))
	}
	for _, bad := range []string{"win", "$500", "bit.ly", "http"} {
		if strings.Contains(texts[0].Body, bad) {
			t.Errorf("the confirmation text %q carries %q", texts[0].Body, bad)
		}
	}
	sub, _ := b.st.Subscriber(ctx, res.ID)
	if !sub.SMSAskedAt.Equal(b.now) || !store.Asked(sub, b.now) {
		t.Errorf("the request is not recorded: asked at %v", sub.SMSAskedAt)
	}
	if _, routed, _ := b.st.NumberHolders(ctx, "+12015550123"); routed != "" {
		t.Errorf("the confirmation text routed the number's replies to %q", routed)
	}
}
