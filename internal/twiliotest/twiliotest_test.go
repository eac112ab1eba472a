package twiliotest

import (
	"crypto/tls"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/twilio/twilio-go/client"
	openapi "github.com/twilio/twilio-go/rest/api/v2010"
	"go.uber.org/goleak"
)

func TestMain(m *testing.M) {
	goleak.VerifyTestMain(m)
}

// post sends one message request to s with a client of its own, and returns
// the status and body.
func post(t *testing.T, s *Server, c *http.Client, sid, token string, form url.Values) (int, []byte) {
	t.Helper()
	req, err := http.NewRequest(http.MethodPost, s.URL+"/2010-04-01/Accounts/"+sid+"/Messages.json", strings.NewReader(form.Encode()))
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	req.SetBasicAuth(sid, token)
	resp, err := c.Do(req)
	if err != nil {
		t.Fatalf("post: %v", err)
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	return resp.StatusCode, body
}

// newClient returns an HTTP client whose idle connections close when the test ends.
func newClient(t *testing.T) *http.Client {
	tr := &http.Transport{}
	t.Cleanup(tr.CloseIdleConnections)
	return &http.Client{Transport: tr}
}

func form(to, body string) url.Values {
	return url.Values{"To": {to}, "From": {"+15005550006"}, "Body": {body}, "StatusCallback": {"https://nudge.example/webhooks/twilio/status"}}
}

func TestAcceptAnswersLikeTwilio(t *testing.T) {
	t.Parallel()
	clock := time.Date(2025, 3, 4, 5, 6, 7, 0, time.UTC)
	s := Start(t, WithClock(func() time.Time { return clock }))
	status, body := post(t, s, newClient(t), s.AccountSID, s.AuthToken, form("+15551230000", "hello"))
	if status != http.StatusCreated {
		t.Fatalf("status %d, body %s", status, body)
	}
	// The answer decodes into twilio-go's own model.
	var got openapi.ApiV2010Message
	if err := json.Unmarshal(body, &got); err != nil {
		t.Fatalf("decode: %v", err)
	}
	msgs := s.Messages()
	if len(msgs) != 1 {
		t.Fatalf("%d messages recorded, want 1", len(msgs))
	}
	m := msgs[0]
	if len(m.SID) != 34 || !strings.HasPrefix(m.SID, "SM") || strings.Trim(m.SID[2:], "0123456789abcdef") != "" {
		t.Errorf("sid %q is not SM and 32 hex digits", m.SID)
	}
	if *got.Sid != m.SID || *got.Status != "queued" || *got.To != "+15551230000" || *got.AccountSid != s.AccountSID ||
		*got.DateCreated != "Tue, 04 Mar 2025 05:06:07 +0000" || *got.Direction != "outbound-api" {
		t.Errorf("answer %s does not match the record %+v", body, m)
	}
	want := Message{
		SID: m.SID, AccountSID: s.AccountSID, To: "+15551230000", From: "+15005550006", Body: "hello",
		StatusCallback: "https://nudge.example/webhooks/twilio/status", Form: form("+15551230000", "hello"), Received: clock,
	}
	if diff := cmp.Diff(want, m); diff != "" {
		t.Errorf("record (-want +got):\n%s", diff)
	}
}

func TestMessagingServiceIsAccepted(t *testing.T) {
	t.Parallel()
	s := Start(t)
	f := url.Values{"To": {"+15551230000"}, "MessagingServiceSid": {"MG0123456789abcdef0123456789abcdef"}, "Body": {"hi"}}
	status, body := post(t, s, newClient(t), s.AccountSID, s.AuthToken, f)
	var got openapi.ApiV2010Message
	if err := json.Unmarshal(body, &got); err != nil || status != http.StatusCreated {
		t.Fatalf("status %d, %v: %s", status, err, body)
	}
	if *got.Status != "accepted" || *got.MessagingServiceSid != f.Get("MessagingServiceSid") || got.From != nil {
		t.Errorf("answer %s", body)
	}
}

func TestRefusals(t *testing.T) {
	t.Parallel()
	s := Start(t, WithAccount("AC00000000000000000000000000000001", "token1"))
	c := newClient(t)
	tests := []struct {
		name       string
		sid, token string
		form       url.Values
		status     int
		code       int
	}{
		{"wrong token", s.AccountSID, "nope", form("+15551230000", "x"), 401, 20003},
		{"other account", "AC00000000000000000000000000000002", "token1", form("+15551230000", "x"), 401, 20003},
		{"no To", s.AccountSID, s.AuthToken, url.Values{"From": {"+15005550006"}, "Body": {"x"}}, 400, 21604},
		{"bad To", s.AccountSID, s.AuthToken, form("555", "x"), 400, 21211},
		{"no Body", s.AccountSID, s.AuthToken, form("+15551230000", ""), 400, 21602},
		{"no sender", s.AccountSID, s.AuthToken, url.Values{"To": {"+15551230000"}, "Body": {"x"}}, 400, 21603},
	}
	for _, tt := range tests {
		status, body := post(t, s, c, tt.sid, tt.token, tt.form)
		var e client.TwilioRestError
		if err := json.Unmarshal(body, &e); err != nil {
			t.Fatalf("%s: %v: %s", tt.name, err, body)
		}
		if status != tt.status || e.Status != tt.status || e.Code != tt.code {
			t.Errorf("%s: got %d %s, want %d code %d", tt.name, status, body, tt.status, tt.code)
		}
	}
	if n := s.Accepted(); n != 0 {
		t.Errorf("%d messages accepted, want 0", n)
	}
	if n := s.Requests(); n != len(tests) {
		t.Errorf("Requests() = %d, want %d", n, len(tests))
	}
}

func TestScriptIsPlayedInOrder(t *testing.T) {
	t.Parallel()
	s := Start(t)
	s.Script(Fail(429, 20429), Fail(500, 0), Behaviour{Status: 400, Code: 21610, Message: "Attempt to send to unsubscribed recipient"}, Accept().After(20*time.Millisecond))
	c := newClient(t)
	want := []struct{ status, code int }{{429, 20429}, {500, 0}, {400, 21610}, {201, 0}, {201, 0}}
	for i, w := range want {
		start := time.Now()
		status, body := post(t, s, c, s.AccountSID, s.AuthToken, form("+15551230000", "x"))
		var e client.TwilioRestError
		_ = json.Unmarshal(body, &e)
		if status != w.status || (w.code != 0 && e.Code != w.code) {
			t.Errorf("request %d: %d %s, want %d code %d", i, status, body, w.status, w.code)
		}
		if i == 3 && time.Since(start) < 20*time.Millisecond {
			t.Errorf("request %d answered before its delay", i)
		}
	}
	if n := s.Accepted(); n != 2 {
		t.Errorf("%d accepted, want 2", n)
	}
	if n := s.Conns(); n != 1 {
		t.Errorf("%d connections for sequential requests, want 1", n)
	}
}

func TestDrop(t *testing.T) {
	t.Parallel()
	s := Start(t)
	s.Script(Drop(), DropAfterAccept())
	c := newClient(t)
	for i := range 2 {
		req, _ := http.NewRequest(http.MethodPost, s.URL+"/2010-04-01/Accounts/"+s.AccountSID+"/Messages.json", strings.NewReader(form("+15551230000", "x").Encode()))
		req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
		req.SetBasicAuth(s.AccountSID, s.AuthToken)
		resp, err := c.Do(req)
		if err == nil {
			resp.Body.Close()
			t.Fatalf("request %d: answered %d, want the connection dropped", i, resp.StatusCode)
		}
	}
	if n := s.Accepted(); n != 1 {
		t.Errorf("%d accepted, want 1 (DropAfterAccept)", n)
	}
	if n := s.Requests(); n != 2 {
		t.Errorf("%d requests, want 2", n)
	}
}

func TestDelayEndsWhenServerCloses(t *testing.T) {
	t.Parallel()
	s := Start(t)
	s.Script(Accept().After(time.Hour))
	c := newClient(t)
	errc := make(chan error, 1)
	go func() {
		req, _ := http.NewRequest(http.MethodPost, s.URL+"/2010-04-01/Accounts/"+s.AccountSID+"/Messages.json", strings.NewReader(form("+15551230000", "x").Encode()))
		req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
		req.SetBasicAuth(s.AccountSID, s.AuthToken)
		resp, err := c.Do(req)
		if err == nil {
			resp.Body.Close()
		}
		errc <- err
	}()
	for s.Requests() == 0 {
		time.Sleep(time.Millisecond)
	}
	done := make(chan struct{})
	go func() { s.Close(); close(done) }()
	select {
	case <-done:
	case <-time.After(5 * time.Second):
		t.Fatal("Close waited for the delayed request")
	}
	<-errc
}

func TestRateLimit(t *testing.T) {
	t.Parallel()
	var mu sync.Mutex
	clock := time.Date(2025, 1, 1, 0, 0, 0, 0, time.UTC)
	now := func() time.Time { mu.Lock(); defer mu.Unlock(); return clock }
	step := func(d time.Duration) { mu.Lock(); clock = clock.Add(d); mu.Unlock() }
	s := Start(t, WithRateLimit(2, 2), WithClock(now))
	s.Script(Fail(500, 0)) // taken only by a request the limit lets through
	c := newClient(t)
	send := func() (int, int) {
		status, body := post(t, s, c, s.AccountSID, s.AuthToken, form("+15551230000", "x"))
		var e client.TwilioRestError
		_ = json.Unmarshal(body, &e)
		return status, e.Code
	}
	var got []int
	for range 3 {
		status, code := send()
		if status == 429 && code != 20429 {
			t.Errorf("429 with code %d, want 20429", code)
		}
		got = append(got, status)
	}
	step(250 * time.Millisecond) // half a token
	status, _ := send()
	got = append(got, status)
	step(250 * time.Millisecond) // a whole one
	status, _ = send()
	got = append(got, status)
	step(time.Hour) // full again: two
	for range 3 {
		status, _ := send()
		got = append(got, status)
	}
	want := []int{500, 201, 429, 429, 201, 201, 201, 429}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("statuses (-want +got):\n%s", diff)
	}
	if n := s.RateLimited(); n != 3 {
		t.Errorf("RateLimited() = %d, want 3", n)
	}
}

func TestRateLimitRealTime(t *testing.T) {
	t.Parallel()
	s := Start(t, WithRateLimit(50, 1))
	c := newClient(t)
	start := time.Now()
	requests, accepted := 0, 0
	for time.Since(start) < 300*time.Millisecond {
		requests++
		if status, _ := post(t, s, c, s.AccountSID, s.AuthToken, form("+15551230000", "x")); status == 201 {
			accepted++
		}
	}
	elapsed := time.Since(start).Seconds()
	// One at once, then one every 20 ms: never more, however fast or slow
	// the client is.
	if limit := 1 + int(50*elapsed) + 1; accepted > limit {
		t.Errorf("%d accepted in %.3f s at 50/s, more than %d", accepted, elapsed, limit)
	}
	if accepted == 0 || accepted+s.RateLimited() != requests {
		t.Errorf("%d requests: %d accepted, %d rate limited", requests, accepted, s.RateLimited())
	}
}

func TestCountsConnections(t *testing.T) {
	t.Parallel()
	s := Start(t)
	for range 3 {
		// A client without keep-alives opens a connection per request.
		tr := &http.Transport{DisableKeepAlives: true}
		post(t, s, &http.Client{Transport: tr}, s.AccountSID, s.AuthToken, form("+15551230000", "x"))
		tr.CloseIdleConnections()
	}
	if n := s.Conns(); n != 3 {
		t.Errorf("Conns() = %d, want 3", n)
	}
}

func TestCloseRefusesConnections(t *testing.T) {
	t.Parallel()
	s := Start(t)
	s.Close()
	s.Close() // again: no panic
	tr := &http.Transport{}
	defer tr.CloseIdleConnections()
	_, err := (&http.Client{Transport: tr}).Post(s.URL+"/", "text/plain", nil)
	if err == nil {
		t.Fatal("a closed server answered")
	}
}

func TestTLS(t *testing.T) {
	t.Parallel()
	s := Start(t, WithTLS())
	if !strings.HasPrefix(s.URL, "https://") {
		t.Fatalf("URL %s", s.URL)
	}
	tr := &http.Transport{}
	tr.TLSClientConfig = tlsConfig(s)
	t.Cleanup(tr.CloseIdleConnections)
	if status, body := post(t, s, &http.Client{Transport: tr}, s.AccountSID, s.AuthToken, form("+15551230000", "x")); status != 201 {
		t.Fatalf("status %d: %s", status, body)
	}
}

func TestSignMatchesTwilioGo(t *testing.T) {
	t.Parallel()
	const token = "12345"
	const u = "https://mycompany.com/myapp.php?foo=1&bar=2"
	params := url.Values{
		"Digits":                {"1234"},
		"CallSid":               {"CA1234567890ABCDE"},
		"To":                    {"+18005551212"},
		"Caller":                {"+14158675309"},
		"From":                  {"+14158675309"},
		"ReasonConferenceEnded": {"test"},
		"Reason":                {"Participant"},
	}
	sig := Sign(token, u, params)
	// The vector in twilio-go's own request_validator_test.go.
	if sig != "vOEb5UThFn24KEfnOFLQY2AE5FY=" {
		t.Errorf("Sign = %q, want twilio-go's vOEb5UThFn24KEfnOFLQY2AE5FY=", sig)
	}

	v := client.NewRequestValidator(token)
	flat := map[string]string{}
	for k := range params {
		flat[k] = params.Get(k)
	}
	if !v.Validate(u, flat, sig) {
		t.Error("twilio-go's RequestValidator refuses the signature")
	}
	if !v.ValidateBody(u, []byte(params.Encode()), sig) {
		t.Error("twilio-go's RequestValidator.ValidateBody refuses the signature")
	}

	tampered := url.Values{}
	for k, vs := range params {
		tampered[k] = vs
	}
	tampered.Set("Digits", "1235")
	flatTampered := map[string]string{}
	for k := range tampered {
		flatTampered[k] = tampered.Get(k)
	}
	if v.Validate(u, flatTampered, sig) {
		t.Error("a tampered parameter passes")
	}
	if v.Validate("https://mycompany.com/other.php?foo=1&bar=2", flat, sig) {
		t.Error("another URL passes")
	}
	if v.Validate(u, flat, Sign("54321", u, params)) {
		t.Error("a signature made with another token passes")
	}
}

func TestPostSigned(t *testing.T) {
	t.Parallel()
	const token = "secret0"
	var got struct {
		sync.Mutex
		ok   bool
		form url.Values
	}
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if err := r.ParseForm(); err != nil {
			http.Error(w, err.Error(), 400)
			return
		}
		v := client.NewRequestValidator(token)
		flat := map[string]string{}
		for k := range r.PostForm {
			flat[k] = r.PostForm.Get(k)
		}
		got.Lock()
		got.ok = v.Validate("http://"+r.Host+r.URL.RequestURI(), flat, r.Header.Get("X-Twilio-Signature"))
		got.form = r.PostForm
		got.Unlock()
		w.Header().Set("Content-Type", "text/xml")
		_, _ = io.WriteString(w, "<Response/>")
	}))
	defer srv.Close()
	params := url.Values{"MessageSid": {"SM0123"}, "MessageStatus": {"delivered"}}
	resp := PostSigned(t, token, srv.URL+"/webhooks/twilio/status?x=1", params)
	body, _ := io.ReadAll(resp.Body)
	if resp.StatusCode != 200 || string(body) != "<Response/>" {
		t.Errorf("answer %d %q", resp.StatusCode, body)
	}
	got.Lock()
	defer got.Unlock()
	if !got.ok {
		t.Error("the handler could not validate the signature")
	}
	if diff := cmp.Diff(params, got.form); diff != "" {
		t.Errorf("form (-want +got):\n%s", diff)
	}
}

// tlsConfig trusts s's certificate.
func tlsConfig(s *Server) *tls.Config {
	return &tls.Config{RootCAs: s.CertPool(), MinVersion: tls.VersionTLS12}
}
