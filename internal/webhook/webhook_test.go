package webhook_test

import (
	"context"

	"github.com/hibiken/asynq"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/nudgehq/nudge/internal/domain"
	"github.com/nudgehq/nudge/internal/links"
	"github.com/nudgehq/nudge/internal/notify"
	"github.com/nudgehq/nudge/internal/redistest"
	"github.com/nudgehq/nudge/internal/signuplimit"
	"github.com/nudgehq/nudge/internal/store"
	"github.com/nudgehq/nudge/internal/subscription"
	"github.com/nudgehq/nudge/internal/token"
	"github.com/nudgehq/nudge/internal/twiliotest"
	"github.com/nudgehq/nudge/internal/webhook"
	"github.com/redis/go-redis/v9"
)

func TestMain(m *testing.M) { redistest.Main(m, redistest.DBSMS) }

const (
	authToken = "0123456789abcdef0123456789abcdef"
	base      = "https://nudge.test"
	phone     = "+447400123456"
)

var now = time.Date(2026, 12, 1, 18, 31, 0, 0, time.UTC)

type bundle struct {
	st     *store.Store
	signer *token.Signer
	srv    *httptest.Server
	id     string
	n      int
}

// setup serves the Twilio webhooks for a public base URL of base, and
// stores one subscriber with an active SMS channel.
func setup(t *testing.T, locale string) *bundle {
	t.Helper()
	return setupWith(t, locale, nil)
}

// setupWith is setup on a Redis client with hook added (nil: none), for
// tests that make Redis fail at a chosen moment.
func setupWith(t *testing.T, locale string, hook redis.Hook) *bundle {
	t.Helper()
	t.Parallel()
	client := redistest.Client(t, redistest.DBSMS)
	if hook != nil {
		client.AddHook(hook)
	}
	b := &bundle{st: store.New(client, redistest.Prefix(t))}
	mux := http.NewServeMux()
	clock := func() time.Time { return now }
	logger := slog.New(slog.NewTextHandler(io.Discard, nil))
	queue := asynq.NewClientFromRedisClient(b.st.Redis())
	events := &notify.Notifier{Store: b.st, Enqueue: queue, Now: clock, Logger: logger}
	b.signer = token.NewSigner([]byte("a test secret of at least 32 bytes!"))
	budget := signuplimit.New(b.st.Redis(), b.st.Prefix(), clock)
	webhook.NewTwilio(b.st, subscription.New(b.st, queue, clock, logger).WithNotifier(events), authToken, base, clock, logger).
		WithNotifier(events).WithLinks(links.New(base, b.signer, clock), budget).Register(mux)
	b.srv = httptest.NewServer(mux)
	t.Cleanup(b.srv.Close)
	res, err := b.st.Signup(context.Background(), domain.Subscriber{FirstName: "Sam", Email: "sam@example.org", Phone: phone, TimeZone: "Europe/London", Locale: locale,
		Channels: []domain.Channel{domain.SMS}, SMSStatus: domain.SMSActive}, nil, store.ConsentEvent{})
	if err != nil {
		t.Fatal(err)
	}
	b.id = res.ID
	if err := b.st.MarkLastNudge(context.Background(), b.id, domain.WeeklyCheckin, "2026-12-01"); err != nil {
		t.Fatal(err)
	}
	return b
}

// text posts an inbound SMS signed as Twilio signs it (for the public URL,
// not the test server's address) and returns the status and TwiML.
func (b *bundle) text(t *testing.T, from, body string) (int, string) {
	t.Helper()
	b.n++
	return b.post(t, "/webhooks/twilio/sms", url.Values{"MessageSid": {"SM" + strings.Repeat("0", 30) + string(rune('a'+b.n%26)) + string(rune('a'+b.n/26))}, "From": {from}, "To": {"+15005550006"}, "Body": {body}}, authToken)
}

func (b *bundle) post(t *testing.T, path string, params url.Values, token string) (int, string) {
	t.Helper()
	req, err := twiliotest.NewSignedRequest(context.Background(), token, base+path, b.srv.URL+path, params)
	if err != nil {
		t.Fatal(err)
	}
	res, err := b.srv.Client().Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer res.Body.Close()
	out, _ := io.ReadAll(res.Body)
	return res.StatusCode, string(out)
}

func (b *bundle) sub(t *testing.T) domain.Subscriber {
	t.Helper()
	s, err := b.st.Subscriber(context.Background(), b.id)
	if err != nil {
		t.Fatal(err)
	}
	return s
}

func TestKeywords(t *testing.T) {
	tests := []struct {
		body      string
		wantReply string // substring; "" means an empty <Response/>
		check     func(t *testing.T, b *bundle)
	}{
		{"STOP", "", stopped},
		{" stop ", "", stopped},
		{"Stop.", "", stopped},
		{"unsubscribe", "", stopped},
		{"QUIT", "", stopped},
		{"Revoke", "", stopped},
		{"OPTOUT", "", stopped},
		{"please stop texting me", "no more texts", stopped},
		{"HELP", "Reply STOP to stop", unchanged},
		{"info", "Reply STOP to stop", unchanged},
		{"pause", "paused until Dec 15", func(t *testing.T, b *bundle) {
			if got := b.sub(t).PausedUntil; !got.Equal(now.Add(14 * 24 * time.Hour)) {
				t.Errorf("paused until %s", got)
			}
		}},
		{"4", "nudge: ", func(t *testing.T, b *bundle) {
			r, _ := b.st.Replies(context.Background(), b.id)
			if len(r) != 1 || r[0].Rating != 4 || r[0].Nudge != "weekly-checkin:2026-12-01" {
				t.Errorf("replies = %+v", r)
			}
		}},
		{"I walked with my neighbour today", "nudge: ", func(t *testing.T, b *bundle) {
			r, _ := b.st.Replies(context.Background(), b.id)
			if len(r) != 1 || r[0].Text != "I walked with my neighbour today" || r[0].Rating != 0 {
				t.Errorf("replies = %+v", r)
			}
		}},
		{"I don't want to live anymore, I think about suicide", "116 123", func(t *testing.T, b *bundle) {
			if b.sub(t).PausedUntil.IsZero() {
				t.Error("nudges not paused after crisis words")
			}
		}},
	}
	for _, tt := range tests {
		t.Run(tt.body, func(t *testing.T) {
			b := setup(t, "en")
			code, twiml := b.text(t, phone, tt.body)
			if code != 200 {
				t.Fatalf("status %d", code)
			}
			if tt.wantReply == "" {
				if strings.Contains(twiml, "<Message>") {
					t.Errorf("replied %s; the carrier confirms a STOP itself", twiml)
				}
			} else if strings.Count(twiml, "<Message>") != 1 || !strings.Contains(twiml, tt.wantReply) {
				t.Errorf("reply = %s, want one message with %q", twiml, tt.wantReply)
			}
			tt.check(t, b)
		})
	}
}

func stopped(t *testing.T, b *bundle) {
	t.Helper()
	s := b.sub(t)
	if s.SMSStatus != domain.SMSStopped || s.Wants(domain.SMS) {
		t.Errorf("after STOP: sms status %q, wants sms %v", s.SMSStatus, s.Wants(domain.SMS))
	}
	if sup, _ := b.st.Suppressed(context.Background(), phone); !sup {
		t.Error("number not suppressed after STOP")
	}
}

func unchanged(t *testing.T, b *bundle) {
	t.Helper()
	if s := b.sub(t); s.SMSStatus != domain.SMSActive || !s.PausedUntil.IsZero() {
		t.Errorf("changed: %+v", s)
	}
}

func TestStopThenStartResumes(t *testing.T) {
	b := setup(t, "es")
	b.text(t, phone, "STOP")
	_, twiml := b.text(t, phone, "start")
	if !strings.Contains(twiml, "mensajes activados") {
		t.Errorf("a Spanish subscriber got %s", twiml)
	}
	s := b.sub(t)
	if !s.Wants(domain.SMS) {
		t.Fatalf("after START: %+v", s)
	}
	if sup, _ := b.st.Suppressed(context.Background(), phone); sup {
		t.Fatal("number still suppressed after START")
	}
	ev, _ := b.st.Consent(context.Background(), b.id)
	if len(ev) < 2 || ev[len(ev)-2].Action != store.ConsentSMSStop || ev[len(ev)-1].Action != store.ConsentSMSStart || ev[len(ev)-1].Source != "sms-keyword" {
		t.Fatalf("ledger = %+v", ev)
	}
}

func TestReplayedMessageIsHandledOnce(t *testing.T) {
	b := setup(t, "en")
	params := url.Values{"MessageSid": {"SMreplayed"}, "From": {phone}, "Body": {"a note"}}
	for range 3 {
		if code, _ := b.post(t, "/webhooks/twilio/sms", params, authToken); code != 200 {
			t.Fatalf("status %d", code)
		}
	}
	if r, _ := b.st.Replies(context.Background(), b.id); len(r) != 1 {
		t.Fatalf("a replayed MessageSid was kept %d times", len(r))
	}
}

func TestForgedSignatureChangesNothing(t *testing.T) {
	b := setup(t, "en")
	params := url.Values{"MessageSid": {"SMforged"}, "From": {phone}, "Body": {"STOP"}}
	if code, _ := b.post(t, "/webhooks/twilio/sms", params, "not-the-token-not-the-token-xxxx"); code != http.StatusForbidden {
		t.Fatalf("forged = %d, want 403", code)
	}
	// Signed for another host: what a spoofed Host or X-Forwarded-Host would give.
	req, _ := twiliotest.NewSignedRequest(context.Background(), authToken, b.srv.URL+"/webhooks/twilio/sms", b.srv.URL+"/webhooks/twilio/sms", params)
	req.Header.Set("X-Forwarded-Host", strings.TrimPrefix(b.srv.URL, "http://"))
	res, err := b.srv.Client().Do(req)
	if err != nil {
		t.Fatal(err)
	}
	res.Body.Close()
	if res.StatusCode != http.StatusForbidden {
		t.Fatalf("signed for the wrong URL = %d, want 403", res.StatusCode)
	}
	unchanged(t, b)
	if handled, _ := b.st.InboundHandled(context.Background(), "SMforged"); handled {
		t.Fatal("a forged request was recorded as handled")
	}
}

func TestStopFromAnUnknownNumberIsStillHonoured(t *testing.T) {
	b := setup(t, "en")
	if code, _ := b.text(t, "+12015550123", "STOP"); code != 200 {
		t.Fatal(code)
	}
	if sup, _ := b.st.Suppressed(context.Background(), "+12015550123"); !sup {
		t.Fatal("an unknown number's STOP was not kept")
	}
}

func TestStatusCallbackMovesForwardOnly(t *testing.T) {
	b := setup(t, "en")
	ctx := context.Background()
	k := store.DeliveryKey{SubscriberID: b.id, Program: domain.WeeklyCheckin, Date: "2026-12-01", Channel: domain.SMS}
	if err := b.st.ClaimDelivery(ctx, k, now); err != nil {
		t.Fatal(err)
	}
	if err := b.st.FinishDelivery(ctx, k, store.Sent, "SMabc", "", now); err != nil {
		t.Fatal(err)
	}
	for _, st := range []string{"sent", "delivered", "sent", "sent"} {
		if code, _ := b.post(t, "/webhooks/twilio/status", url.Values{"MessageSid": {"SMabc"}, "MessageStatus": {st}}, authToken); code != http.StatusNoContent {
			t.Fatalf("%s: status %d", st, code)
		}
	}
	if d, _ := b.st.Delivery(ctx, k); d.ProviderStatus != "delivered" {
		t.Fatalf("provider status = %q, want delivered", d.ProviderStatus)
	}
	if code, _ := b.post(t, "/webhooks/twilio/status", url.Values{"MessageSid": {"SMabc"}, "MessageStatus": {"failed"}}, "forged-forged-forged-forged-xxxx"); code != http.StatusForbidden {
		t.Fatalf("forged status = %d", code)
	}
}
