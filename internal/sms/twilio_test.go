package sms

import (
	"bytes"
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/http/httptest"
	"net/http/httputil"
	"net/url"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/twilio/twilio-go/client"
	"go.uber.org/goleak"

	"github.com/nudgehq/nudge/internal/twiliotest"
)

func TestMain(m *testing.M) {
	goleak.VerifyTestMain(m)
}

const (
	testFrom     = "+15005550006"
	testTo       = "+15551230007"
	testBody     = "nudge: how did this week go? Reply 1-5. STOP to opt out"
	testCallback = "https://nudge.example/webhooks/twilio/status"
	testService  = "MG0123456789abcdef0123456789abcdef"
)

type testBundle struct {
	srv  *twiliotest.Server
	tw   *Twilio
	logs *syncBuffer
}

// setup starts a Twilio stand-in and a sender pointed at it; edit adjusts
// the sender's Config.
func setup(t *testing.T, edit func(*Config), opts ...twiliotest.Option) *testBundle {
	t.Helper()
	srv := twiliotest.Start(t, opts...)
	cfg := Config{
		AccountSID: srv.AccountSID,
		AuthToken:  srv.AuthToken,
		From:       testFrom,
		APIURL:     srv.URL,
		// Generous: under -race and parallel tests a send can take
		// seconds; tests of the timeout set their own.
		Timeout: 30 * time.Second,
	}
	if edit != nil {
		edit(&cfg)
	}
	logs := &syncBuffer{}
	logger := slog.New(slog.NewJSONHandler(logs, &slog.HandlerOptions{Level: slog.LevelDebug}))
	tw, err := NewTwilio(cfg, logger)
	if err != nil {
		t.Fatalf("NewTwilio: %v", err)
	}
	t.Cleanup(tw.Close)
	return &testBundle{srv: srv, tw: tw, logs: logs}
}

func testMessage() Message {
	return Message{To: testTo, Body: testBody, StatusCallback: testCallback}
}

// syncBuffer is a bytes.Buffer safe for the concurrent writes of a logger.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (b *syncBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.b.Write(p)
}

func (b *syncBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.b.String()
}

func TestSendAccepted(t *testing.T) {
	t.Parallel()
	b := setup(t, nil)
	sid, err := b.tw.Send(context.Background(), testMessage())
	if err != nil {
		t.Fatalf("Send: %v", err)
	}
	if c := Classify(err); c != Accepted {
		t.Errorf("Classify(nil) = %s", c)
	}
	msgs := b.srv.Messages()
	if len(msgs) != 1 || msgs[0].SID != sid {
		t.Fatalf("sid %q, stand-in has %+v", sid, msgs)
	}
}

func TestSendForm(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name string
		edit func(*Config)
		msg  Message
		want url.Values
	}{
		{
			name: "from number",
			msg:  testMessage(),
			want: url.Values{"To": {testTo}, "From": {testFrom}, "Body": {testBody}, "StatusCallback": {testCallback}},
		},
		{
			name: "messaging service",
			edit: func(c *Config) { c.From, c.MessagingServiceSID = "", testService },
			msg:  testMessage(),
			want: url.Values{"To": {testTo}, "MessagingServiceSid": {testService}, "Body": {testBody}, "StatusCallback": {testCallback}},
		},
		{
			name: "no status callback",
			msg:  Message{To: testTo, Body: "héllo & goodbye\nline two"},
			want: url.Values{"To": {testTo}, "From": {testFrom}, "Body": {"héllo & goodbye\nline two"}},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			b := setup(t, tt.edit)
			if _, err := b.tw.Send(context.Background(), tt.msg); err != nil {
				t.Fatalf("Send: %v", err)
			}
			msgs := b.srv.Messages()
			if len(msgs) != 1 {
				t.Fatalf("%d messages at the stand-in", len(msgs))
			}
			if diff := cmp.Diff(tt.want, msgs[0].Form); diff != "" {
				t.Errorf("form (-want +got):\n%s", diff)
			}
			if msgs[0].AccountSID != b.srv.AccountSID {
				t.Errorf("posted to account %s", msgs[0].AccountSID)
			}
		})
	}
}

func TestSendOutcomes(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name      string
		script    twiliotest.Behaviour
		timeout   time.Duration
		class     Class
		status    int
		code      int
		written   bool
		optedOut  bool
		recipient bool
		accepted  int // messages the stand-in accepted
	}{
		{name: "201", script: twiliotest.Accept(), class: Accepted, accepted: 1},
		{name: "429", script: twiliotest.Fail(429, 20429), class: Temporary, status: 429, code: 20429, written: true},
		{name: "500", script: twiliotest.Fail(500, 0), class: Temporary, status: 500, written: true},
		{name: "503 with a code", script: twiliotest.Fail(503, 20500), class: Temporary, status: 503, code: 20500, written: true},
		{name: "21610 unsubscribed", script: twiliotest.Fail(400, 21610), class: Permanent, status: 400, code: 21610, written: true, optedOut: true, recipient: true},
		{name: "21211 invalid number", script: twiliotest.Fail(400, 21211), class: Permanent, status: 400, code: 21211, written: true, recipient: true},
		{name: "21614 not mobile", script: twiliotest.Fail(400, 21614), class: Permanent, status: 400, code: 21614, written: true, recipient: true},
		{name: "21635 landline", script: twiliotest.Fail(400, 21635), class: Permanent, status: 400, code: 21635, written: true, recipient: true},
		{name: "21612 unreachable pair", script: twiliotest.Fail(400, 21612), class: Permanent, status: 400, code: 21612, written: true},
		{name: "401 bad credentials", script: twiliotest.Fail(401, 20003), class: Permanent, status: 401, code: 20003, written: true},
		{name: "redirect", script: twiliotest.Behaviour{Status: 302}, class: Temporary, status: 302, written: true},
		{name: "2xx unreadable", script: twiliotest.Behaviour{Status: 200}, class: Unknown, status: 200, written: true},
		{name: "dropped after the request", script: twiliotest.Drop(), class: Unknown, written: true},
		{name: "accepted, answer lost", script: twiliotest.DropAfterAccept(), class: Unknown, written: true, accepted: 1},
		// The timeout leaves time for the request to be written even on a
		// loaded machine.
		{name: "no answer in time", script: twiliotest.Accept().After(time.Minute), timeout: 2 * time.Second, class: Unknown, written: true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			b := setup(t, func(c *Config) {
				if tt.timeout != 0 {
					c.Timeout = tt.timeout
				}
			})
			b.srv.Script(tt.script)
			sid, err := b.tw.Send(context.Background(), testMessage())
			if got := Classify(err); got != tt.class {
				t.Fatalf("Classify(%v) = %s, want %s", err, got, tt.class)
			}
			if n := b.srv.Accepted(); n != tt.accepted {
				t.Errorf("stand-in accepted %d, want %d", n, tt.accepted)
			}
			if n := b.srv.Requests(); n != 1 {
				t.Errorf("stand-in saw %d requests, want exactly 1", n)
			}
			if tt.class == Accepted {
				if sid == "" {
					t.Error("no sid")
				}
				return
			}
			if sid != "" {
				t.Errorf("sid %q with an error", sid)
			}
			var se *SendError
			if !errors.As(err, &se) {
				t.Fatalf("error %T %v is not a *SendError", err, err)
			}
			got := []any{se.Status, se.Code, se.Written, OptedOut(err), se.RecipientFault(), errors.Is(err, ErrUnknownOutcome)}
			want := []any{tt.status, tt.code, tt.written, tt.optedOut, tt.recipient, tt.class == Unknown}
			if diff := cmp.Diff(want, got); diff != "" {
				t.Errorf("[status code written optedOut recipientFault unknown] (-want +got):\n%s\nerror: %v", diff, err)
			}
			// Wrapped by a caller, the error keeps its meaning.
			wrapped := fmt.Errorf("deliver occurrence o1: %w", err)
			if Classify(wrapped) != tt.class || OptedOut(wrapped) != tt.optedOut {
				t.Errorf("wrapping changed the meaning of %v", err)
			}
		})
	}
}

// The sequence under test: three 429s, then a 201; each 429 is Temporary.
func TestRetryAfterTooManyRequests(t *testing.T) {
	t.Parallel()
	b := setup(t, nil)
	b.srv.Script(twiliotest.Fail(429, 20429), twiliotest.Fail(429, 20429), twiliotest.Fail(429, 20429))
	var classes []Class
	var sid string
	for range 4 {
		s, err := b.tw.Send(context.Background(), testMessage())
		classes = append(classes, Classify(err))
		sid = s
	}
	if diff := cmp.Diff([]Class{Temporary, Temporary, Temporary, Accepted}, classes); diff != "" {
		t.Errorf("classes (-want +got):\n%s", diff)
	}
	msgs := b.srv.Messages()
	if len(msgs) != 1 || msgs[0].SID != sid {
		t.Errorf("stand-in has %d messages, want exactly the one with sid %s", len(msgs), sid)
	}
	// Error answers do not cost a connection: twilio-go leaves their body
	// unclosed, Send does not.
	if n := b.srv.Conns(); n != 1 {
		t.Errorf("%d connections for 4 sequential requests, want 1", n)
	}
}

func TestSendToClosedServer(t *testing.T) {
	t.Parallel()
	b := setup(t, nil)
	b.srv.Close()
	_, err := b.tw.Send(context.Background(), testMessage())
	if c := Classify(err); c != Temporary {
		t.Fatalf("Classify(%v) = %s, want temporary", err, c)
	}
	var se *SendError
	if !errors.As(err, &se) || se.Written || se.Status != 0 {
		t.Errorf("error %#v", err)
	}
	var opErr *net.OpError
	if !errors.As(err, &opErr) || opErr.Op != "dial" {
		t.Errorf("error %v does not unwrap to the dial error", err)
	}
}

func TestSendWithCancelledContext(t *testing.T) {
	t.Parallel()
	b := setup(t, nil)
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	_, err := b.tw.Send(ctx, testMessage())
	if c := Classify(err); c != Temporary {
		t.Fatalf("Classify(%v) = %s, want temporary", err, c)
	}
	if !errors.Is(err, context.Canceled) {
		t.Errorf("error %v is not context.Canceled", err)
	}
	if n := b.srv.Requests(); n != 0 {
		t.Errorf("stand-in saw %d requests", n)
	}
}

// Once the request is written, cancelling ctx no longer abandons it: the
// answer is awaited, and the message is not left Unknown.
func TestCancelAfterWriteAwaitsAnswer(t *testing.T) {
	t.Parallel()
	b := setup(t, nil)
	b.srv.Script(twiliotest.Accept().After(300 * time.Millisecond))
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	go func() {
		for b.srv.Requests() == 0 {
			time.Sleep(time.Millisecond)
		}
		cancel()
	}()
	sid, err := b.tw.Send(ctx, testMessage())
	if err != nil {
		t.Fatalf("Send: %v", err)
	}
	if ctx.Err() == nil {
		t.Fatal("ctx was not cancelled during the send")
	}
	if msgs := b.srv.Messages(); len(msgs) != 1 || msgs[0].SID != sid {
		t.Errorf("sid %q, stand-in has %+v", sid, msgs)
	}
}

func TestTimeoutAfterWriteIsUnknown(t *testing.T) {
	t.Parallel()
	// The timeout leaves time for the request to be written even on a
	// loaded machine (with less, it may pass before the write, which is
	// rightly Temporary).
	b := setup(t, func(c *Config) { c.Timeout = 2 * time.Second })
	b.srv.Script(twiliotest.DropAfterAccept().After(time.Minute))
	start := time.Now()
	_, err := b.tw.Send(context.Background(), testMessage())
	if c := Classify(err); c != Unknown {
		t.Fatalf("Classify(%v) = %s, want unknown; stand-in saw %d requests, %d conns", err, c, b.srv.Requests(), b.srv.Conns())
	}
	if !errors.Is(err, context.DeadlineExceeded) {
		t.Errorf("error %v is not a deadline", err)
	}
	if d := time.Since(start); d > 10*time.Second {
		t.Errorf("Send took %s with a 2s timeout", d)
	}
	if !strings.Contains(err.Error(), b.srv.URL) {
		t.Errorf("error %q does not name the API URL requests went to", err)
	}
}

func TestInvalidMessage(t *testing.T) {
	t.Parallel()
	b := setup(t, nil)
	for _, m := range []Message{{To: testTo}, {Body: testBody}} {
		_, err := b.tw.Send(context.Background(), m)
		if c := Classify(err); c != Permanent || !errors.Is(err, ErrInvalidMessage) {
			t.Errorf("Send(%+v): %v (%s), want permanent ErrInvalidMessage", m, err, c)
		}
	}
	if n := b.srv.Requests(); n != 0 {
		t.Errorf("stand-in saw %d requests", n)
	}
}

// Twilio's own message for 21211 quotes the number; neither the error's
// text nor the logs may.
func TestNoNumberOrBodyInErrorsAndLogs(t *testing.T) {
	t.Parallel()
	b := setup(t, nil)
	_, err := b.tw.Send(context.Background(), Message{To: "+1555", Body: testBody})
	var rest *client.TwilioRestError
	if !errors.As(err, &rest) || rest.Code != 21211 || !strings.Contains(rest.Message, "+1555") {
		t.Fatalf("want the stand-in's 21211 quoting the number, got %v", err)
	}
	b.srv.Script(twiliotest.Fail(400, 21610), twiliotest.Drop())
	for range 3 {
		_, _ = b.tw.Send(context.Background(), testMessage())
	}
	if _, err := b.tw.Send(context.Background(), testMessage()); err != nil {
		t.Fatal(err)
	}
	text := err.Error() + "\n" + b.logs.String()
	for _, secret := range []string{"+1555", testTo, testFrom, "how did this week go"} {
		if strings.Contains(text, secret) {
			t.Errorf("%q appears in errors or logs:\n%s", secret, text)
		}
	}
	if !strings.Contains(b.logs.String(), `"sid":"SM`) {
		t.Errorf("the logs do not carry the sid:\n%s", b.logs.String())
	}
}

// sendMany sends n messages at the given concurrency and fails the test on
// any error.
func sendMany(t *testing.T, tw *Twilio, n, concurrency int) []string {
	t.Helper()
	sids := make([]string, n)
	work := make(chan int)
	var wg sync.WaitGroup
	var mu sync.Mutex
	var firstErr error
	for range concurrency {
		wg.Go(func() {
			for i := range work {
				sid, err := tw.Send(context.Background(), Message{To: testTo, Body: fmt.Sprintf("message %d", i)})
				if err != nil {
					mu.Lock()
					if firstErr == nil {
						firstErr = err
					}
					mu.Unlock()
				}
				sids[i] = sid
			}
		})
	}
	for i := range n {
		work <- i
	}
	close(work)
	wg.Wait()
	if firstErr != nil {
		t.Fatalf("Send: %v", firstErr)
	}
	return sids
}

func TestConnectionsAreReused(t *testing.T) {
	t.Parallel()
	const n, concurrency = 2000, 32
	b := setup(t, nil) // MaxConns: the default, 64
	sids := sendMany(t, b.tw, n, concurrency)
	seen := map[string]bool{}
	for _, s := range sids {
		seen[s] = true
	}
	if len(seen) != n || b.srv.Accepted() != n || b.srv.Requests() != n {
		t.Errorf("%d distinct sids, %d accepted, %d requests; want %d of each", len(seen), b.srv.Accepted(), b.srv.Requests(), n)
	}
	conns := b.srv.Conns()
	t.Logf("%d requests over %d connections", n, conns)
	// About one connection per concurrent send (net/http races a dial
	// against a connection coming free, and keeps the loser's connection),
	// never more than MaxConns, and far fewer connections than requests.
	if conns > defaultMaxConns || conns > n/20 {
		t.Errorf("%d connections for %d requests at concurrency %d", conns, n, concurrency)
	}
}

// With net/http's default of two idle connections per host, most requests
// open a connection of their own: the reason MaxConns exists.
func TestFewIdleConnectionsChurn(t *testing.T) {
	t.Parallel()
	const n, concurrency = 500, 32
	b := setup(t, func(c *Config) { c.MaxConns = 2 })
	sendMany(t, b.tw, n, concurrency)
	conns := b.srv.Conns()
	t.Logf("MaxConns 2: %d requests over %d connections", n, conns)
	if conns < n/5 {
		t.Errorf("only %d connections for %d requests with MaxConns 2; the contrast with the default is gone", conns, n)
	}
}

// An API URL with a path (a proxy mounted under a prefix) keeps the path
// in front of Twilio's.
func TestAPIURLWithPathPrefix(t *testing.T) {
	t.Parallel()
	srv := twiliotest.Start(t)
	target, _ := url.Parse(srv.URL)
	var mu sync.Mutex
	var paths []string
	upstream := &http.Transport{}
	defer upstream.CloseIdleConnections()
	rp := httputil.NewSingleHostReverseProxy(target)
	rp.Transport = upstream
	proxy := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		mu.Lock()
		paths = append(paths, r.URL.Path)
		mu.Unlock()
		rest, ok := strings.CutPrefix(r.URL.Path, "/twilio")
		if !ok {
			http.NotFound(w, r)
			return
		}
		r.URL.Path = rest
		rp.ServeHTTP(w, r)
	}))
	defer proxy.Close()
	tw, err := NewTwilio(Config{AccountSID: srv.AccountSID, AuthToken: srv.AuthToken, From: testFrom, APIURL: proxy.URL + "/twilio/"}, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer tw.Close()
	if _, err := tw.Send(context.Background(), testMessage()); err != nil {
		t.Fatalf("Send: %v", err)
	}
	mu.Lock()
	defer mu.Unlock()
	want := []string{"/twilio/2010-04-01/Accounts/" + srv.AccountSID + "/Messages.json"}
	if diff := cmp.Diff(want, paths); diff != "" {
		t.Errorf("paths at the proxy (-want +got):\n%s", diff)
	}
	if srv.Accepted() != 1 {
		t.Errorf("stand-in accepted %d", srv.Accepted())
	}
}

func TestHTTPS(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name   string
		script twiliotest.Behaviour
		class  Class
	}{
		{"201", twiliotest.Accept(), Accepted},
		{"500", twiliotest.Fail(500, 0), Temporary},
		{"dropped", twiliotest.Drop(), Unknown},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			srv := twiliotest.Start(t, twiliotest.WithTLS())
			tw, err := NewTwilio(Config{
				AccountSID: srv.AccountSID, AuthToken: srv.AuthToken, From: testFrom,
				APIURL: srv.URL, TLSConfig: &tls.Config{RootCAs: srv.CertPool(), MinVersion: tls.VersionTLS12},
			}, nil)
			if err != nil {
				t.Fatal(err)
			}
			defer tw.Close()
			srv.Script(tt.script)
			_, err = tw.Send(context.Background(), testMessage())
			if c := Classify(err); c != tt.class {
				t.Errorf("Classify(%v) = %s, want %s", err, c, tt.class)
			}
		})
	}
}

func TestNewTwilioChecksConfig(t *testing.T) {
	t.Parallel()
	good := Config{AccountSID: "AC0123456789abcdef0123456789abcdef", AuthToken: "0123456789abcdef0123456789abcdef", From: testFrom}
	tests := []struct {
		name string
		edit func(*Config)
		ok   bool
	}{
		{"good", func(*Config) {}, true},
		{"messaging service", func(c *Config) { c.From, c.MessagingServiceSID = "", testService }, true},
		{"api url", func(c *Config) { c.APIURL = "https://api.dublin.ie1.twilio.com" }, true},
		{"api url with path", func(c *Config) { c.APIURL = "http://proxy.internal:8080/twilio/" }, true},
		{"no account", func(c *Config) { c.AccountSID = "" }, false},
		{"odd account", func(c *Config) { c.AccountSID = "AC-1" }, false},
		{"no token", func(c *Config) { c.AuthToken = "" }, false},
		{"odd token", func(c *Config) { c.AuthToken = "a b" }, false},
		{"no sender", func(c *Config) { c.From = "" }, false},
		{"two senders", func(c *Config) { c.MessagingServiceSID = testService }, false},
		{"relative api url", func(c *Config) { c.APIURL = "api.twilio.com" }, false},
		{"ftp api url", func(c *Config) { c.APIURL = "ftp://api.twilio.com" }, false},
		{"api url with user", func(c *Config) { c.APIURL = "https://u:p@api.twilio.com" }, false},
		{"api url with query", func(c *Config) { c.APIURL = "https://api.twilio.com/?x=1" }, false},
		{"negative conns", func(c *Config) { c.MaxConns = -1 }, false},
		{"negative timeout", func(c *Config) { c.Timeout = -time.Second }, false},
	}
	for _, tt := range tests {
		cfg := good
		tt.edit(&cfg)
		tw, err := NewTwilio(cfg, nil)
		if (err == nil) != tt.ok {
			t.Errorf("%s: NewTwilio error %v, want ok=%v", tt.name, err, tt.ok)
		}
		if tw != nil {
			tw.Close()
		}
	}
}

func TestClassify(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name string
		err  error
		want Class
	}{
		{"nil", nil, Accepted},
		{"send error", &SendError{Class: Permanent, Status: 400, Code: 21211}, Permanent},
		{"wrapped send error", fmt.Errorf("deliver: %w", &SendError{Class: Unknown, Written: true}), Unknown},
		{"invalid message", ErrInvalidMessage, Permanent},
		{"rest 429", &client.TwilioRestError{Status: 429, Code: 20429}, Temporary},
		{"rest 503", &client.TwilioRestError{Status: 503}, Temporary},
		{"rest 21610", &client.TwilioRestError{Status: 400, Code: 21610}, Permanent},
		{"rest 404", &client.TwilioRestError{Status: 404, Code: 20404}, Permanent},
		{"unknown outcome", fmt.Errorf("x: %w", ErrUnknownOutcome), Unknown},
		// Without knowing how far a request got, it may have been taken.
		{"bare network error", io.ErrUnexpectedEOF, Unknown},
		{"bare context error", context.DeadlineExceeded, Unknown},
	}
	for _, tt := range tests {
		if got := Classify(tt.err); got != tt.want {
			t.Errorf("%s: Classify(%v) = %s, want %s", tt.name, tt.err, got, tt.want)
		}
	}
	if !OptedOut(&client.TwilioRestError{Status: 400, Code: 21610}) || OptedOut(&client.TwilioRestError{Status: 400, Code: 21211}) || OptedOut(nil) {
		t.Error("OptedOut does not single out 21610")
	}
	for c, s := range map[Class]string{Accepted: "accepted", Temporary: "temporary", Permanent: "permanent", Unknown: "unknown", Class(9): "class(9)"} {
		if c.String() != s {
			t.Errorf("Class(%d).String() = %q, want %q", int(c), c.String(), s)
		}
	}
}

// A connection reset while the request is still being written: Twilio
// cannot act on half a request, so the send is Temporary (not Unknown).
func TestResetWhileWritingIsTemporary(t *testing.T) {
	t.Parallel()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	done := make(chan struct{})
	go func() {
		defer close(done)
		c, err := ln.Accept()
		if err != nil {
			return
		}
		// Read the start of the request, then reset the connection.
		buf := make([]byte, 1024)
		_, _ = io.ReadFull(c, buf)
		_ = c.(*net.TCPConn).SetLinger(0)
		c.Close()
	}()
	tw, err := NewTwilio(Config{
		AccountSID: "AC0123456789abcdef0123456789abcdef", AuthToken: "0123456789abcdef0123456789abcdef",
		From: testFrom, APIURL: "http://" + ln.Addr().String(), Timeout: 30 * time.Second,
	}, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer tw.Close()
	// Larger than the socket buffers, so the write is still going on.
	body := strings.Repeat("x", 32<<20)
	_, err = tw.Send(context.Background(), Message{To: testTo, Body: body})
	<-done
	if c := Classify(err); c != Temporary {
		t.Fatalf("Classify(%v) = %s, want temporary", err, c)
	}
	var se *SendError
	if !errors.As(err, &se) || se.Written {
		t.Errorf("error %#v says the request was written", err)
	}
}
