package web_test

import (
	"context"
	"errors"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/hibiken/asynq"
	"github.com/nudgehq/nudge/internal/domain"
	"github.com/nudgehq/nudge/internal/redistest"
	"github.com/nudgehq/nudge/internal/store"
	"github.com/nudgehq/nudge/internal/subscription"
	"github.com/nudgehq/nudge/internal/token"
	"github.com/nudgehq/nudge/internal/web"
	"github.com/nudgehq/nudge/internal/zones"
)

func TestMain(m *testing.M) { redistest.Main(m, redistest.DBWeb) }

type bundle struct {
	srv    *httptest.Server
	st     *store.Store
	signer *token.Signer
	now    time.Time
	ready  error
}

func setup(t *testing.T) *bundle {
	t.Helper()
	t.Parallel()
	rdb := redistest.Client(t, redistest.DBWeb)
	b := &bundle{st: store.New(rdb, redistest.Prefix(t)), signer: token.NewSigner([]byte("a-web-test-secret-of-enough-length!")),
		now: time.Date(2026, 11, 30, 9, 0, 0, 0, time.UTC)}
	now := func() time.Time { return b.now }
	logger := slog.New(slog.NewTextHandler(io.Discard, nil))
	s, err := web.New(web.Deps{
		Subscriptions: subscription.New(b.st, asynq.NewClientFromRedisClient(rdb), now, logger),
		Store:         b.st, Signer: b.signer, Zones: zones.Names(), DefaultZone: "UTC",
		Ready: func(context.Context) error { return b.ready }, Now: now, Logger: logger,
	})
	if err != nil {
		t.Fatal(err)
	}
	b.srv = httptest.NewServer(s.Handler())
	t.Cleanup(b.srv.Close)
	return b
}

func (b *bundle) do(t *testing.T, method, path string, form url.Values, header http.Header) (int, string) {
	t.Helper()
	var body io.Reader
	if form != nil {
		body = strings.NewReader(form.Encode())
	}
	req, err := http.NewRequest(method, b.srv.URL+path, body)
	if err != nil {
		t.Fatal(err)
	}
	if form != nil {
		req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	}
	for k, v := range header {
		req.Header[k] = v
	}
	res, err := b.srv.Client().Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer res.Body.Close()
	out, _ := io.ReadAll(res.Body)
	return res.StatusCode, string(out)
}

func validForm() url.Values {
	return url.Values{
		"first_name": {"Ada"}, "email": {"ada@example.org"}, "tz": {"Europe/London"}, "locale": {"en"},
		"program": {"weekly-checkin", "monthly-review"}, "weekly-checkin-day": {"tue"}, "weekly-checkin-time": {"18:30"},
		"monthly-review-day": {"last-fri"}, "monthly-review-time": {"10:00"},
	}
}

func TestSignupFormRerendersWithMessagesAndKeepsValues(t *testing.T) {
	tests := []struct {
		name, field, value, wantMsg string
	}{
		{"no name", "first_name", "", "tell us your first name"},
		{"long name", "first_name", strings.Repeat("a", 41), "40 characters"},
		{"bad email", "email", "ada@", "email address like"},
		{"display-name email", "email", "Ada <ada@example.org>", "email address like"},
		{"unknown zone", "tz", "Mars/Olympus", "choose your time zone"},
		{"bad time", "weekly-checkin-time", "25:99", "time of day"},
		{"bad day", "weekly-checkin-day", "someday", "day of the week"},
		{"bad month day", "monthly-review-day", "31", "day of the month"},
		{"no program", "program", "", "at least one"},
		{"long goal", "goal", strings.Repeat("g", 61), "60 characters"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			b := setup(t)
			f := validForm()
			if tt.value == "" && tt.field == "program" {
				f.Del("program")
			} else {
				f.Set(tt.field, tt.value)
			}
			code, body := b.do(t, "POST", "/signup", f, nil)
			if code != http.StatusUnprocessableEntity {
				t.Fatalf("status = %d, want 422", code)
			}
			if !strings.Contains(body, tt.wantMsg) {
				t.Errorf("page lacks the message %q", tt.wantMsg)
			}
			if !strings.Contains(body, `aria-invalid="true"`) && tt.field != "program" {
				t.Errorf("field is not marked invalid")
			}
			// What was typed is kept (escaped).
			if tt.field != "first_name" && !strings.Contains(body, `value="Ada"`) {
				t.Errorf("first name not kept")
			}
			if _, err := b.st.Redis().HGet(context.Background(), b.st.Prefix()+"idx:email", "ada@example.org").Result(); err == nil {
				t.Errorf("an invalid form stored a subscriber")
			}
		})
	}
}

func TestSignupStoresPendingAndAnswersTheSameForAnyAddress(t *testing.T) {
	b := setup(t)
	withGoal := validForm()
	withGoal.Set("goal", "my sister Ana")
	code, first := b.do(t, "POST", "/signup", withGoal, nil)
	if code != 200 || !strings.Contains(first, "Check your email") {
		t.Fatalf("signup = %d", code)
	}
	id, err := b.st.Redis().HGet(context.Background(), b.st.Prefix()+"idx:email", "ada@example.org").Result()
	if err != nil {
		t.Fatalf("no subscriber stored: %v", err)
	}
	sub, _ := b.st.Subscriber(context.Background(), id)
	scheds, _ := b.st.Schedules(context.Background(), id)
	if sub.Status != domain.Pending || sub.Goal != "my sister Ana" || len(scheds) != 2 || scheds[1].Rule != "monthly:last-fri@10:00" {
		t.Fatalf("stored %+v with %+v", sub, scheds)
	}
	// The same address again, and a honeypot hit: the same page.
	_, again := b.do(t, "POST", "/signup", validForm(), nil)
	bot := validForm()
	bot.Set("email", "bot@example.org")
	bot.Set("website", "http://spam.example")
	_, botPage := b.do(t, "POST", "/signup", bot, nil)
	if again != first || botPage != first {
		t.Error("the answer differs between a new address, a known one and a bot")
	}
	if _, err := b.st.Redis().HGet(context.Background(), b.st.Prefix()+"idx:email", "bot@example.org").Result(); err == nil {
		t.Error("a honeypot submission was stored")
	}
}

func TestCrossOriginFormPostIsRefused(t *testing.T) {
	b := setup(t)
	code, _ := b.do(t, "POST", "/signup", validForm(), http.Header{"Sec-Fetch-Site": {"cross-site"}})
	if code != http.StatusForbidden {
		t.Fatalf("cross-site POST = %d, want 403", code)
	}
}

func TestConfirmNeedsAPostAndAValidToken(t *testing.T) {
	b := setup(t)
	b.do(t, "POST", "/signup", validForm(), nil)
	id, _ := b.st.Redis().HGet(context.Background(), b.st.Prefix()+"idx:email", "ada@example.org").Result()
	tok := b.signer.Sign(token.Confirm, id, b.now.Add(time.Hour))

	code, page := b.do(t, "GET", "/confirm/"+tok, nil, nil)
	if code != 200 || !strings.Contains(page, `<form method="post"`) {
		t.Fatalf("GET confirm = %d", code)
	}
	if sub, _ := b.st.Subscriber(context.Background(), id); sub.Status != domain.Pending {
		t.Fatalf("a GET changed the status to %s", sub.Status)
	}
	// Wrong purpose, tampered, expired: a clear page, nothing changes.
	for name, bad := range map[string]string{
		"manage token": b.signer.Sign(token.Manage, id, b.now.Add(time.Hour)),
		"tampered":     tok[:len(tok)-2] + "xx",
		"expired":      b.signer.Sign(token.Confirm, id, b.now.Add(-time.Second)),
	} {
		code, page := b.do(t, "POST", "/confirm/"+bad, url.Values{}, nil)
		if code != http.StatusNotFound || !strings.Contains(page, "link") {
			t.Errorf("%s: POST confirm = %d", name, code)
		}
	}
	if sub, _ := b.st.Subscriber(context.Background(), id); sub.Status != domain.Pending {
		t.Fatalf("a bad token changed the status to %s", sub.Status)
	}
	code, _ = b.do(t, "POST", "/confirm/"+tok, url.Values{}, nil)
	if code != 200 {
		t.Fatalf("POST confirm = %d", code)
	}
	sub, _ := b.st.Subscriber(context.Background(), id)
	scheds, _ := b.st.Schedules(context.Background(), id)
	if sub.Status != domain.Active || scheds[0].Next.IsZero() {
		t.Fatalf("after confirming: %+v %+v", sub, scheds)
	}
	// Tuesday 1 December 18:30 in London is the first check-in.
	if want := time.Date(2026, 12, 1, 18, 30, 0, 0, time.UTC); !scheds[0].Next.Equal(want) {
		t.Errorf("first check-in planned at %s, want %s", scheds[0].Next, want)
	}
}

func TestOneClickUnsubscribeWorksWithoutBrowserHeaders(t *testing.T) {
	b := setup(t)
	b.do(t, "POST", "/signup", validForm(), nil)
	id, _ := b.st.Redis().HGet(context.Background(), b.st.Prefix()+"idx:email", "ada@example.org").Result()
	tok := b.signer.Sign(token.Unsubscribe, id, b.now.Add(time.Hour))
	if code, _ := b.do(t, "GET", "/unsubscribe/"+tok, nil, nil); code != 200 {
		t.Fatalf("GET unsubscribe = %d", code)
	}
	if sub, _ := b.st.Subscriber(context.Background(), id); sub.Status == domain.Unsubscribed {
		t.Fatal("a GET unsubscribed")
	}
	// A mail provider's POST may even look cross-site: it must still work.
	code, _ := b.do(t, "POST", "/unsubscribe/"+tok, url.Values{"List-Unsubscribe": {"One-Click"}}, http.Header{"Sec-Fetch-Site": {"cross-site"}})
	if code != 200 {
		t.Fatalf("one-click POST = %d", code)
	}
	if sub, _ := b.st.Subscriber(context.Background(), id); sub.Status != domain.Unsubscribed {
		t.Fatalf("status after one-click = %s", sub.Status)
	}
	ev, _ := b.st.Consent(context.Background(), id)
	if last := ev[len(ev)-1]; last.Action != store.ConsentUnsubscribe || last.Source != "one-click" {
		t.Fatalf("ledger's last event = %+v", last)
	}
}

func TestHealthAndReadiness(t *testing.T) {
	b := setup(t)
	if code, _ := b.do(t, "GET", "/healthz", nil, nil); code != 200 {
		t.Fatalf("healthz = %d", code)
	}
	if code, _ := b.do(t, "GET", "/readyz", nil, nil); code != 200 {
		t.Fatalf("readyz = %d", code)
	}
	b.ready = errors.New("redis down")
	if code, _ := b.do(t, "GET", "/readyz", nil, nil); code != http.StatusServiceUnavailable {
		t.Fatalf("readyz with redis down = %d", code)
	}
	if code, _ := b.do(t, "GET", "/dev/outbox", nil, nil); code != http.StatusNotFound {
		t.Fatalf("dev outbox without an outbox = %d, want 404", code)
	}
}
