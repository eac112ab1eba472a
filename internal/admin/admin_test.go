package admin

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/hibiken/asynq"
	"github.com/nudgehq/nudge/internal/redistest"
)

func TestMain(m *testing.M) { redistest.Main(m, redistest.DBAdmin) }

const token = "a-test-admin-token-0123456789abcdef0123"

// clock is a settable clock.
type clock struct {
	mu sync.Mutex
	t  time.Time
}

func (c *clock) Now() time.Time { c.mu.Lock(); defer c.mu.Unlock(); return c.t }
func (c *clock) Add(d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.t = c.t.Add(d)
}

type bundle struct {
	h      *Handler
	clk    *clock
	logs   *bytes.Buffer
	inside int // requests that reached the queues
}

// setup returns the admin pages over a queues handler that only counts the
// requests reaching it.
func setup(t *testing.T) *bundle {
	t.Helper()
	b := &bundle{clk: &clock{t: time.Date(2026, 12, 1, 9, 0, 0, 0, time.UTC)}, logs: &bytes.Buffer{}}
	var err error
	b.h, err = New(Config{
		Token: token, Secure: true, Now: b.clk.Now, Logger: slog.New(slog.NewTextHandler(b.logs, nil)),
		Queues: http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
			b.inside++
			io.WriteString(w, "the queues")
		}),
	})
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func (b *bundle) do(method, target, auth string, cookies []*http.Cookie, form url.Values) *http.Response {
	var body io.Reader
	if form != nil {
		body = strings.NewReader(form.Encode())
	}
	r := httptest.NewRequest(method, target, body)
	if form != nil {
		r.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	}
	if auth != "" {
		r.Header.Set("Authorization", auth)
	}
	for _, c := range cookies {
		r.AddCookie(c)
	}
	w := httptest.NewRecorder()
	b.h.ServeHTTP(w, r)
	return w.Result()
}

func bodyOf(t *testing.T, res *http.Response) string {
	t.Helper()
	b, err := io.ReadAll(res.Body)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

func TestNewRefusesAShortTokenOrMissingParts(t *testing.T) {
	t.Parallel()
	logger := slog.New(slog.DiscardHandler)
	q := http.NotFoundHandler()
	for name, cfg := range map[string]Config{
		"short token": {Token: token[:31], Queues: q, Now: time.Now, Logger: logger},
		"no token":    {Queues: q, Now: time.Now, Logger: logger},
		"no queues":   {Token: token, Now: time.Now, Logger: logger},
		"no clock":    {Token: token, Queues: q, Logger: logger},
	} {
		if h, err := New(cfg); err == nil || h != nil {
			t.Errorf("%s: New = %v, %v; want an error", name, h, err)
		}
	}
}

func TestWithoutTheTokenTheQueuesAnswer401(t *testing.T) {
	t.Parallel()
	b := setup(t)
	forged := &http.Cookie{Name: cookieName, Value: "9999999999.AAAA"}
	other, _ := New(Config{Token: strings.Repeat("x", 40), Queues: http.NotFoundHandler(), Now: b.clk.Now, Logger: slog.New(slog.DiscardHandler)})
	otherSession := &http.Cookie{Name: cookieName, Value: other.session(b.clk.Now().Add(time.Hour))}
	for _, tc := range []struct {
		name    string
		auth    string
		cookies []*http.Cookie
	}{
		{"nothing", "", nil},
		{"wrong bearer token", "Bearer " + strings.Repeat("z", len(token)), nil},
		{"token with a character more", "Bearer " + token + "x", nil},
		{"token's first half", "Bearer " + token[:len(token)/2], nil},
		{"no space after the scheme", "Bearer" + token, nil},
		{"basic auth", "Basic " + token, nil},
		{"forged cookie", "", []*http.Cookie{forged}},
		{"another token's session", "", []*http.Cookie{otherSession}},
		{"wrong bearer beats a good cookie", "Bearer nope", []*http.Cookie{{Name: cookieName, Value: b.h.session(b.clk.Now().Add(time.Hour))}}},
	} {
		for _, path := range []string{"/admin/queues/", "/admin/queues/api/queues", "/admin/queues/static/js/main.js"} {
			res := b.do("GET", path, tc.auth, tc.cookies, nil)
			body := bodyOf(t, res)
			if res.StatusCode != http.StatusUnauthorized {
				t.Errorf("%s, GET %s = %d, want 401", tc.name, path, res.StatusCode)
			}
			if !strings.HasPrefix(res.Header.Get("WWW-Authenticate"), "Bearer ") {
				t.Errorf("%s: WWW-Authenticate %q", tc.name, res.Header.Get("WWW-Authenticate"))
			}
			if !strings.Contains(body, `<form method="post" action="/admin/login">`) {
				t.Errorf("%s: the 401 page has no sign-in form:\n%s", tc.name, body)
			}
		}
	}
	if b.inside != 0 {
		t.Errorf("%d refused requests reached the queues", b.inside)
	}
	if strings.Contains(b.logs.String(), token[:10]) || strings.Contains(b.logs.String(), "zzzz") {
		t.Errorf("the log shows a token:\n%s", b.logs)
	}
}

func TestTheBearerTokenOpensTheQueues(t *testing.T) {
	t.Parallel()
	b := setup(t)
	res := b.do("GET", "/admin/queues/api/queues", "Bearer "+token, nil, nil)
	if body := bodyOf(t, res); res.StatusCode != http.StatusOK || body != "the queues" {
		t.Fatalf("GET with the token = %d %q", res.StatusCode, body)
	}
	for h, want := range map[string]string{"Cache-Control": "no-store", "X-Frame-Options": "DENY"} {
		if got := res.Header.Get(h); got != want {
			t.Errorf("%s: %q, want %q", h, got, want)
		}
	}
	if csp := res.Header.Get("Content-Security-Policy"); !strings.Contains(csp, "default-src 'self'") || !strings.Contains(csp, "frame-ancestors 'none'") {
		t.Errorf("Content-Security-Policy %q", csp)
	}
	// The monitor's root without its slash, and /admin/ itself, lead there.
	for _, path := range []string{"/admin/queues", "/admin/"} {
		if res := b.do("GET", path, "", nil, nil); res.StatusCode != http.StatusSeeOther || res.Header.Get("Location") != "/admin/queues/" {
			t.Errorf("GET %s = %d to %q", path, res.StatusCode, res.Header.Get("Location"))
		}
	}
	if res := b.do("GET", "/admin/elsewhere", "Bearer "+token, nil, nil); res.StatusCode != http.StatusNotFound {
		t.Errorf("GET /admin/elsewhere = %d, want 404", res.StatusCode)
	}
}

// The sign-in form works without JavaScript: a POST, a cookie, a redirect.
func TestSignInWithTheFormSetsASessionThatExpires(t *testing.T) {
	t.Parallel()
	b := setup(t)
	res := b.do("GET", LoginPath, "", nil, nil)
	if body := bodyOf(t, res); res.StatusCode != http.StatusOK || !strings.Contains(body, `name="token" type="password"`) || strings.Contains(body, "<script") {
		t.Fatalf("GET %s = %d:\n%s", LoginPath, res.StatusCode, body)
	}

	res = b.do("POST", LoginPath, "", nil, url.Values{"token": {"not-the-token"}})
	if body := bodyOf(t, res); res.StatusCode != http.StatusUnauthorized || !strings.Contains(body, "That is not the admin token.") || len(res.Cookies()) != 0 {
		t.Errorf("a wrong token: %d, cookies %v:\n%s", res.StatusCode, res.Cookies(), body)
	}

	res = b.do("POST", LoginPath, "", nil, url.Values{"token": {token}})
	if res.StatusCode != http.StatusSeeOther || res.Header.Get("Location") != "/admin/queues/" {
		t.Fatalf("the right token: %d to %q", res.StatusCode, res.Header.Get("Location"))
	}
	cookies := res.Cookies()
	if len(cookies) != 1 {
		t.Fatalf("cookies %v", cookies)
	}
	c := cookies[0]
	if !c.HttpOnly || !c.Secure || c.SameSite != http.SameSiteStrictMode || c.Path != Prefix || c.MaxAge != int(SessionTTL/time.Second) {
		t.Errorf("cookie %+v: want HttpOnly, Secure, SameSite=Strict, Path %s, 12 h", c, Prefix)
	}
	if strings.Contains(c.Value, token) {
		t.Error("the cookie holds the token")
	}
	if res := b.do("GET", "/admin/queues/", "", []*http.Cookie{c}, nil); res.StatusCode != http.StatusOK {
		t.Errorf("GET with the session = %d", res.StatusCode)
	}
	if body := bodyOf(t, b.do("GET", LoginPath, "", []*http.Cookie{c}, nil)); !strings.Contains(body, `action="/admin/logout"`) {
		t.Errorf("a signed-in operator is not offered to sign out:\n%s", body)
	}

	// A changed expiry breaks the MAC.
	exp, sig, _ := strings.Cut(c.Value, ".")
	later := *c
	later.Value = exp + "9." + sig
	if res := b.do("GET", "/admin/queues/", "", []*http.Cookie{&later}, nil); res.StatusCode != http.StatusUnauthorized {
		t.Errorf("a cookie with a changed expiry = %d", res.StatusCode)
	}

	b.clk.Add(SessionTTL - time.Second)
	if res := b.do("GET", "/admin/queues/", "", []*http.Cookie{c}, nil); res.StatusCode != http.StatusOK {
		t.Errorf("a second before expiry = %d", res.StatusCode)
	}
	b.clk.Add(time.Second)
	if res := b.do("GET", "/admin/queues/", "", []*http.Cookie{c}, nil); res.StatusCode != http.StatusUnauthorized {
		t.Errorf("at expiry = %d, want 401", res.StatusCode)
	}

	res = b.do("POST", LogoutPath, "", []*http.Cookie{c}, url.Values{})
	if res.StatusCode != http.StatusSeeOther || len(res.Cookies()) != 1 || res.Cookies()[0].MaxAge >= 0 {
		t.Errorf("sign out: %d, cookies %v", res.StatusCode, res.Cookies())
	}
	if b.inside != 2 {
		t.Errorf("%d requests reached the queues, want 2", b.inside)
	}
}

func TestSignInFromAnotherSiteIsRefused(t *testing.T) {
	t.Parallel()
	b := setup(t)
	r := httptest.NewRequest("POST", LoginPath, strings.NewReader(url.Values{"token": {token}}.Encode()))
	r.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	r.Header.Set("Sec-Fetch-Site", "cross-site")
	w := httptest.NewRecorder()
	b.h.ServeHTTP(w, r)
	if w.Code != http.StatusForbidden || len(w.Result().Cookies()) != 0 {
		t.Errorf("cross-site sign-in = %d, cookies %v", w.Code, w.Result().Cookies())
	}
}

// asynqmon on real queues: read-only, and payloads never shown.
func TestQueuesShowTasksReadOnlyWithoutPayloads(t *testing.T) {
	t.Parallel()
	rdb := redistest.Client(t, redistest.DBAdmin)
	queue := "admin" + strings.TrimSuffix(redistest.Prefix(t), ":")
	client := asynq.NewClientFromRedisClient(rdb)
	inspector := asynq.NewInspectorFromRedisClient(rdb)
	t.Cleanup(func() { _ = inspector.DeleteQueue(queue, true) })
	info, err := client.EnqueueContext(context.Background(), asynq.NewTask("nudge:deliver", []byte(`{"s":"PAYLOAD-MARKER"}`)),
		asynq.Queue(queue), asynq.TaskID("sub1:weekly-checkin:2026-12-01"))
	if err != nil {
		t.Fatal(err)
	}

	h, err := New(Config{Token: token, Queues: Queues(rdb), Now: time.Now, Logger: slog.New(slog.DiscardHandler)})
	if err != nil {
		t.Fatal(err)
	}
	get := func(method, path string) (int, string) {
		t.Helper()
		w := httptest.NewRecorder()
		r := httptest.NewRequest(method, path, nil)
		r.Header.Set("Authorization", "Bearer "+token)
		h.ServeHTTP(w, r)
		return w.Code, w.Body.String()
	}

	code, body := get("GET", "/admin/queues/")
	if code != http.StatusOK || !strings.Contains(body, `src="/admin/queues/static/js/`) {
		t.Fatalf("GET /admin/queues/ = %d:\n%.500s", code, body)
	}
	code, body = get("GET", "/admin/queues/api/queues")
	if code != http.StatusOK || !strings.Contains(body, `"queue":"`+queue+`"`) {
		t.Fatalf("GET api/queues = %d:\n%.1000s", code, body)
	}
	code, body = get("GET", "/admin/queues/api/queues/"+queue+"/pending_tasks")
	if code != http.StatusOK {
		t.Fatalf("GET pending tasks = %d: %s", code, body)
	}
	var pending struct {
		Tasks []struct {
			ID      string `json:"id"`
			Type    string `json:"type"`
			Payload string `json:"payload"`
		} `json:"tasks"`
	}
	if err := json.Unmarshal([]byte(body), &pending); err != nil {
		t.Fatalf("%v: %s", err, body)
	}
	if len(pending.Tasks) != 1 || pending.Tasks[0].ID != info.ID || pending.Tasks[0].Type != "nudge:deliver" {
		t.Errorf("pending tasks %+v", pending.Tasks)
	}
	if strings.Contains(body, "PAYLOAD-MARKER") || len(pending.Tasks) == 1 && pending.Tasks[0].Payload != "(22 bytes, not shown)" {
		t.Errorf("the payload shows: %s", body)
	}

	for _, m := range []struct{ method, path string }{
		{"DELETE", "/admin/queues/api/queues/" + queue + "/pending_tasks/" + info.ID},
		{"POST", "/admin/queues/api/queues/" + queue + "/pending_tasks/" + info.ID + ":archive"},
		{"POST", "/admin/queues/api/queues/" + queue + ":pause"},
		{"DELETE", "/admin/queues/api/queues/" + queue},
	} {
		if code, body := get(m.method, m.path); code != http.StatusMethodNotAllowed {
			t.Errorf("%s %s = %d, want 405: %s", m.method, m.path, code, body)
		}
	}
	qi, err := inspector.GetQueueInfo(queue)
	if err != nil || qi.Pending != 1 || qi.Archived != 0 || qi.Paused {
		t.Errorf("after the refused changes: %+v, %v", qi, err)
	}
}
