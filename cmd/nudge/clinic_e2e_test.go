package main

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/nudgehq/nudge/internal/config"
	"github.com/nudgehq/nudge/internal/domain"
	"github.com/nudgehq/nudge/internal/notify"
	"github.com/nudgehq/nudge/internal/redistest"
	"github.com/nudgehq/nudge/internal/smtptest"
	"github.com/nudgehq/nudge/internal/store"
	"github.com/nudgehq/nudge/internal/twiliotest"
)

// hookReceiver is a clinic's webhook endpoint: it keeps every event whose
// signature verifies with the clinic's secret, and counts those that do not.
type hookReceiver struct {
	srv    *httptest.Server
	clk    *clock
	mu     sync.Mutex
	secret string
	events []map[string]any
	bad    int
}

func startHookReceiver(t *testing.T, clk *clock) *hookReceiver {
	t.Helper()
	h := &hookReceiver{clk: clk}
	h.srv = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, _ := io.ReadAll(r.Body)
		h.mu.Lock()
		defer h.mu.Unlock()
		if err := notify.Verify(h.secret, r.Header.Get("Nudge-Signature"), body, h.clk.Now(), 5*time.Minute); err != nil {
			h.bad++
			http.Error(w, "bad signature", http.StatusBadRequest)
			return
		}
		var ev map[string]any
		if err := json.Unmarshal(body, &ev); err != nil || ev["type"] != r.Header.Get("Nudge-Event-Type") {
			h.bad++
			http.Error(w, "bad event", http.StatusBadRequest)
			return
		}
		h.events = append(h.events, ev)
	}))
	t.Cleanup(h.srv.Close)
	return h
}

// waitEvent waits for an event of a type and returns it.
func (h *hookReceiver) waitEvent(t *testing.T, typ string) map[string]any {
	t.Helper()
	deadline := time.Now().Add(15 * time.Second)
	for {
		h.mu.Lock()
		for _, ev := range h.events {
			if ev["type"] == typ {
				h.mu.Unlock()
				return ev
			}
		}
		bad := h.bad
		h.mu.Unlock()
		if time.Now().After(deadline) {
			t.Fatalf("no %s event after 15s (%d requests refused)", typ, bad)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// callAPI calls the clinic API with a key and decodes the JSON answer.
func callAPI(t *testing.T, base, key, method, path string, body any, want int) map[string]any {
	t.Helper()
	var rd io.Reader
	if body != nil {
		b, _ := json.Marshal(body)
		rd = bytes.NewReader(b)
	}
	req, err := http.NewRequest(method, base+path, rd)
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Authorization", "Bearer "+key)
	req.Header.Set("Content-Type", "application/json")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	raw, _ := io.ReadAll(resp.Body)
	if resp.StatusCode != want {
		t.Fatalf("%s %s: %d %s, want %d", method, path, resp.StatusCode, raw, want)
	}
	out := map[string]any{}
	if len(raw) > 0 {
		if err := json.Unmarshal(raw, &out); err != nil {
			t.Fatalf("%s %s: %v in %s", method, path, err, raw)
		}
	}
	return out
}

var (
	apiKeyRE = regexp.MustCompile(`api key\s+(nk_\S+)`)
	secretRE = regexp.MustCompile(`webhook secret\s+(whsec_\S+)`)
)

// TestClinicClientGetsBetweenSessionPromptsAndRepliesReachTheClinic is the
// whole clinic path: a clinic made with the CLI enrols a client over the
// API; the client confirms by text; after Tuesday's session they get the
// Thursday prompt and the evening-before reflection by SMS, signed with the
// clinic's display name; their reply reaches the clinic's webhook, signed.
func TestClinicClientGetsBetweenSessionPromptsAndRepliesReachTheClinic(t *testing.T) {
	mail := smtptest.Start(t)
	texts := twiliotest.Start(t)
	prefix := redistest.Prefix(t)
	// Tuesday 1 December 2026, 16:00 in London: the session has just ended.
	clk := &clock{t: time.Date(2026, 12, 1, 16, 0, 0, 0, time.UTC)}
	hooks := startHookReceiver(t, clk)
	env := map[string]string{
		"NUDGE_REDIS_URL":          fmt.Sprintf("redis://%s/%d", redistest.Addr(), redistest.DBMain),
		"NUDGE_REDIS_PREFIX":       prefix,
		"NUDGE_SMTP_HOST":          mail.Host(),
		"NUDGE_SMTP_PORT":          fmt.Sprint(mail.Port()),
		"NUDGE_SMTP_TLS":           "none",
		"NUDGE_EMAIL_FROM":         "nudge <hello@nudge.test>",
		"NUDGE_BASE_URL":           "https://nudge.test",
		"NUDGE_HTTP_ADDR":          "127.0.0.1:0",
		"NUDGE_SECRET":             "a-clinic-test-secret-of-enough-length",
		"NUDGE_POSTAL_ADDRESS":     "1 Test Street, Testville",
		"NUDGE_TWILIO_ACCOUNT_SID": texts.AccountSID,
		"NUDGE_TWILIO_AUTH_TOKEN":  texts.AuthToken,
		"NUDGE_TWILIO_FROM":        "+15005550006",
		"NUDGE_TWILIO_API_URL":     texts.URL,
		"NUDGE_SMS_COUNTRIES":      "GB",
	}
	getenv := func(k string) string { return env[k] }

	// The operator creates the clinic with the CLI.
	var out, errOut bytes.Buffer
	code := clinicCommand(context.Background(), []string{"create", "--name", "Riverside Counselling",
		"--display-name", "Practice team", "--webhook-url", hooks.srv.URL}, getenv, clk.Now, &out, &errOut)
	if code != 0 {
		t.Fatalf("nudge clinic create: exit %d: %s", code, errOut.String())
	}
	key := apiKeyRE.FindStringSubmatch(out.String())
	secret := secretRE.FindStringSubmatch(out.String())
	if key == nil || secret == nil {
		t.Fatalf("no key or secret in:\n%s", out.String())
	}
	hooks.mu.Lock()
	hooks.secret = secret[1]
	hooks.mu.Unlock()

	cfg, err := config.Load(getenv)
	if err != nil {
		t.Fatal(err)
	}
	cfg.PlannerInterval = 20 * time.Millisecond
	cfg.PlannerHorizon = time.Second
	app := startApp(t, cfg, RoleAll, clk)
	st := store.New(redistest.Client(t, redistest.DBMain), prefix)
	t.Cleanup(func() { waitSettled(t, st, clk) })
	base := "http://" + app.Addr().String()

	// The clinic enrols the client over the API.
	const mobile = "+447400123456"
	client := callAPI(t, base, key[1], "POST", "/api/v1/clients", map[string]any{
		"first_name": "Sam", "phone": mobile, "time_zone": "Europe/London", "locale": "en", "channels": []string{"sms"},
		"consent": map[string]any{"obtained_by": "Dr R. Osei", "obtained_at": "2026-12-01T15:30:00Z", "method": "written"},
	}, http.StatusCreated)
	id, _ := client["id"].(string)
	if id == "" || client["status"] != "pending" {
		t.Fatalf("enrolled: %v", client)
	}

	// Only the confirmation goes out before the client says YES.
	ask := waitTextTo(t, texts, mobile, 1)
	if !strings.HasPrefix(ask.Body, "Practice team") || !strings.Contains(ask.Body, "YES") {
		t.Errorf("confirmation text %q: want the display name first and a YES to reply", ask.Body)
	}
	inbound(t, base, texts, mobile, "SMyes0000000000000000000000000001", "YES")
	confirmed := hooks.waitEvent(t, "client.confirmed")
	if data, _ := confirmed["data"].(map[string]any); data["client_id"] != id {
		t.Errorf("client.confirmed for %v, want %s", confirmed["data"], id)
	}

	// Tuesday's session (15:00) and the next one a week later; the Thursday
	// prompt from the library and the clinic's own evening-before reflection.
	callAPI(t, base, key[1], "PUT", "/api/v1/clients/"+id+"/session", map[string]any{"at": "2026-12-01T15:00:00Z"}, http.StatusOK)
	callAPI(t, base, key[1], "PUT", "/api/v1/clients/"+id+"/session", map[string]any{"at": "2026-12-08T15:00:00Z"}, http.StatusOK)
	callAPI(t, base, key[1], "POST", "/api/v1/clients/"+id+"/prompts", map[string]any{"rule": "session+2d@18:00", "template": 3}, http.StatusCreated)
	callAPI(t, base, key[1], "POST", "/api/v1/clients/"+id+"/prompts", map[string]any{"rule": "session-1d@19:00", "text": "What would you like to bring on Tuesday?"}, http.StatusCreated)

	// Wednesday evening: nothing yet.
	clk.Set(time.Date(2026, 12, 2, 19, 0, 0, 0, time.UTC))
	time.Sleep(200 * time.Millisecond)
	if n := len(textsTo(texts, mobile)); n != 1 {
		t.Fatalf("%d texts by Wednesday, want only the confirmation", n)
	}
	// Thursday 18:00: the prompt from the library.
	clk.Set(time.Date(2026, 12, 3, 18, 0, 5, 0, time.UTC))
	thursday := waitTextTo(t, texts, mobile, 2)
	if !strings.HasPrefix(thursday.Body, "Practice team: ") || strings.HasPrefix(thursday.Body, "nudge") {
		t.Errorf("Thursday's prompt %q: want it to open with the display name", thursday.Body)
	}
	// Monday 19:00, the evening before the next session: the reflection.
	clk.Set(time.Date(2026, 12, 7, 19, 0, 5, 0, time.UTC))
	monday := waitTextTo(t, texts, mobile, 3)
	if !strings.HasPrefix(monday.Body, "Practice team: ") || !strings.Contains(monday.Body, "What would you like to bring on Tuesday?") {
		t.Errorf("the evening-before reflection %q", monday.Body)
	}

	// The client replies; the clinic hears of it, signed.
	inbound(t, base, texts, mobile, "SMreply00000000000000000000000001", "I asked my neighbour for a walk")
	replied := hooks.waitEvent(t, "client.replied")
	data, _ := replied["data"].(map[string]any)
	if data["client_id"] != id || !strings.Contains(fmt.Sprint(data), "I asked my neighbour for a walk") {
		t.Errorf("client.replied data %v", data)
	}
	// And it is in the client's replies over the API.
	replies := callAPI(t, base, key[1], "GET", "/api/v1/clients/"+id+"/replies", nil, http.StatusOK)
	if !strings.Contains(fmt.Sprint(replies["data"]), "I asked my neighbour for a walk") {
		t.Errorf("replies over the API: %v", replies)
	}
	deliveries := callAPI(t, base, key[1], "GET", "/api/v1/clients/"+id+"/deliveries", nil, http.StatusOK)
	if n := strings.Count(fmt.Sprint(deliveries["data"]), "sent"); n < 2 {
		t.Errorf("deliveries over the API: %v, want the two prompts sent", deliveries)
	}
	if n := len(textsTo(texts, mobile)); n != 3 {
		t.Errorf("%d texts in all, want 3 (confirmation, Thursday, Monday)", n)
	}
	sub, err := st.Subscriber(context.Background(), id)
	if err != nil || sub.Clinic == "" || sub.Status != domain.Active {
		t.Errorf("client record %+v %v", sub, err)
	}
	hooks.mu.Lock()
	if hooks.bad > 0 {
		t.Errorf("%d webhook requests did not verify", hooks.bad)
	}
	hooks.mu.Unlock()
}

func textsTo(texts *twiliotest.Server, number string) []twiliotest.Message {
	var out []twiliotest.Message
	for _, m := range texts.Messages() {
		if m.To == number {
			out = append(out, m)
		}
	}
	return out
}

// waitTextTo waits until number has n texts and returns the nth.
func waitTextTo(t *testing.T, texts *twiliotest.Server, number string, n int) twiliotest.Message {
	t.Helper()
	deadline := time.Now().Add(15 * time.Second)
	for {
		if ms := textsTo(texts, number); len(ms) >= n {
			return ms[n-1]
		}
		if time.Now().After(deadline) {
			t.Fatalf("text %d to the client never came (%d so far)", n, len(textsTo(texts, number)))
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// inbound posts a text from number to the app's webhook, signed as Twilio
// signs it.
func inbound(t *testing.T, base string, texts *twiliotest.Server, from, sid, body string) {
	t.Helper()
	params := url.Values{"MessageSid": {sid}, "From": {from}, "To": {"+15005550006"}, "Body": {body}, "AccountSid": {texts.AccountSID}}
	req, err := twiliotest.NewSignedRequest(context.Background(), texts.AuthToken,
		"https://nudge.test/webhooks/twilio/sms", base+"/webhooks/twilio/sms", params)
	if err != nil {
		t.Fatal(err)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("inbound %q: %d", body, resp.StatusCode)
	}
}
