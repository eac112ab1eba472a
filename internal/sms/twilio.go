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
	"net/http/httptrace"
	"net/url"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/twilio/twilio-go/client"
	openapi "github.com/twilio/twilio-go/rest/api/v2010"
)

// Config says how to reach Twilio and whom messages come from.
type Config struct {
	AccountSID, AuthToken string
	// From is a sending number, or MessagingServiceSID a messaging service
	// that picks one; exactly one of the two is set.
	From                string
	MessagingServiceSID string
	// APIURL is where every API request goes instead of
	// https://api.twilio.com: a regional edge, a proxy, a test server.
	// Scheme and host replace Twilio's; a path, if any, is put in front of
	// the API path. Empty means Twilio's own.
	APIURL string
	// MaxConns is how many idle connections are kept for reuse (default
	// 64). Keep it near the worker's concurrency: with net/http's default
	// of 2, most requests opened a new connection and throughput fell from
	// about 17,000/s to 2,200/s at concurrency 16.
	MaxConns int
	// Timeout bounds a whole send, from dial to the last byte of the answer
	// (default 10s, twilio-go's own).
	Timeout time.Duration
	// TLSConfig, if set, is used for HTTPS connections (for a proxy with a
	// private CA); its ServerName defaults to the API host.
	TLSConfig *tls.Config
}

// Message is one SMS to one recipient.
type Message struct {
	To   string // E.164
	Body string
	// StatusCallback is the URL Twilio posts delivery status changes to;
	// empty for none.
	StatusCallback string
}

const (
	defaultMaxConns = 64
	defaultTimeout  = 10 * time.Second
	// idleTimeout is how long a pooled connection may sit unused. Load
	// balancers commonly close idle connections after 60 s; closing ours
	// first keeps a request from being written into a connection the far
	// end is closing, which would make its outcome Unknown.
	idleTimeout      = 30 * time.Second
	handshakeTimeout = 10 * time.Second
	// maxAnswer bounds the answer read into memory; Twilio's are about 1 KB.
	maxAnswer     = 1 << 20
	twilioAPIHost = "api.twilio.com"
)

// Twilio sends SMS through Twilio's Messages API. It is safe for concurrent
// use; Close it when done.
type Twilio struct {
	creds      *client.Credentials
	accountSID string
	from       string
	service    string
	target     *url.URL // nil: Twilio's own API host
	timeout    time.Duration
	transport  *http.Transport
	logger     *slog.Logger
}

// NewTwilio checks cfg and returns a sender. It connects lazily, on the
// first Send.
func NewTwilio(cfg Config, logger *slog.Logger) (*Twilio, error) {
	// twilio-go refuses credentials with anything but letters and digits,
	// at every request: refuse them once, here.
	if cfg.AccountSID == "" || !alphanumeric(cfg.AccountSID) {
		return nil, errors.New("sms: Twilio account SID is empty or not letters and digits")
	}
	if cfg.AuthToken == "" || !alphanumeric(cfg.AuthToken) {
		return nil, errors.New("sms: Twilio auth token is empty or not letters and digits")
	}
	if (cfg.From == "") == (cfg.MessagingServiceSID == "") {
		return nil, errors.New("sms: set exactly one of a From number and a messaging service SID")
	}
	if cfg.MaxConns == 0 {
		cfg.MaxConns = defaultMaxConns
	}
	if cfg.MaxConns < 0 {
		return nil, fmt.Errorf("sms: MaxConns %d is negative", cfg.MaxConns)
	}
	if cfg.Timeout == 0 {
		cfg.Timeout = defaultTimeout
	}
	if cfg.Timeout < 0 {
		return nil, fmt.Errorf("sms: Timeout %s is negative", cfg.Timeout)
	}
	var target *url.URL
	if cfg.APIURL != "" {
		u, err := url.Parse(cfg.APIURL)
		switch {
		case err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "":
			return nil, fmt.Errorf("sms: API URL %q is not an absolute http:// or https:// URL", cfg.APIURL)
		case u.User != nil || u.RawQuery != "" || u.Fragment != "":
			return nil, errors.New("sms: API URL must be a scheme, a host and optionally a path")
		}
		target = &url.URL{Scheme: u.Scheme, Host: u.Host, Path: strings.TrimRight(u.Path, "/")}
	}
	if logger == nil {
		logger = slog.New(slog.DiscardHandler)
	}

	tlsConfig := &tls.Config{MinVersion: tls.VersionTLS12}
	if cfg.TLSConfig != nil {
		tlsConfig = cfg.TLSConfig.Clone()
	}
	// Only HTTP/1.1: a connection carries one request at a time, which is
	// what tells this request's write failures apart (see the package
	// documentation), and the pool of kept-alive connections is what was
	// measured.
	tlsConfig.NextProtos = []string{"http/1.1"}
	d := &dialer{net: &net.Dialer{Timeout: cfg.Timeout, KeepAlive: 30 * time.Second}, tls: tlsConfig}

	t := &Twilio{
		creds:      client.NewCredentials(cfg.AccountSID, cfg.AuthToken),
		accountSID: cfg.AccountSID,
		from:       cfg.From,
		service:    cfg.MessagingServiceSID,
		target:     target,
		timeout:    cfg.Timeout,
		transport: &http.Transport{
			Proxy:          http.ProxyFromEnvironment,
			DialContext:    d.dial,
			DialTLSContext: d.dialTLS,
			// Used instead of dialTLS through an HTTPS_PROXY tunnel.
			TLSClientConfig:     tlsConfig,
			MaxIdleConns:        cfg.MaxConns,
			MaxIdleConnsPerHost: cfg.MaxConns,
			IdleConnTimeout:     idleTimeout,
			TLSHandshakeTimeout: handshakeTimeout,
		},
		logger: logger,
	}
	host := twilioAPIHost
	if target != nil {
		host = target.Host
	}
	sender := "from number"
	if t.service != "" {
		sender = "messaging service " + t.service
	}
	logger.Info("twilio channel ready", "account_sid", cfg.AccountSID, "api_host", host, "sender", sender, "max_conns", cfg.MaxConns)
	return t, nil
}

// Send asks Twilio to send m and returns the new message's SID. On failure
// it returns a *SendError (see the package documentation for its Class).
// ctx bounds the send until the request has been written; after that Send
// waits for the answer for up to Config.Timeout.
func (t *Twilio) Send(ctx context.Context, m Message) (sid string, err error) {
	if m.To == "" || m.Body == "" {
		return "", &SendError{Class: Permanent, err: ErrInvalidMessage}
	}
	start := time.Now()
	a := &attempt{base: t.transport, target: t.target}
	// The request lives on its own context: ctx can cancel it only while
	// it is not yet written (see attempt.abandon).
	reqCtx, cancel := context.WithTimeout(context.WithoutCancel(ctx), t.timeout)
	defer cancel()
	a.ctx = httptrace.WithClientTrace(reqCtx, a.trace())
	a.cancel = cancel
	if ctx.Err() != nil {
		a.abandon()
	}
	stop := context.AfterFunc(ctx, a.abandon)
	defer stop()

	// twilio-go builds each request on context.Background, so the context
	// and the trace travel in this call's own RoundTripper; the connection
	// pool underneath is shared. The values built here are a few small
	// structs.
	c := &client.Client{
		Credentials: t.creds,
		HTTPClient: &http.Client{
			Transport: a,
			// twilio-go's default: never follow a redirect.
			CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse },
		},
	}
	c.SetAccountSid(t.accountSID)
	// A RequestHandler built by hand rather than client.NewRequestHandler:
	// that one reads TWILIO_EDGE and TWILIO_REGION from the environment,
	// and nudge takes its settings from its own configuration (APIURL).
	api := openapi.NewApiService(&client.RequestHandler{Client: c})

	params := &openapi.CreateMessageParams{}
	params.SetTo(m.To)
	params.SetBody(m.Body)
	if t.service != "" {
		params.SetMessagingServiceSid(t.service)
	} else {
		params.SetFrom(t.from)
	}
	if m.StatusCallback != "" {
		params.SetStatusCallback(m.StatusCallback)
	}

	msg, err := api.CreateMessage(params)
	if err == nil && (msg == nil || msg.Sid == nil || *msg.Sid == "") {
		err = errors.New("twilio's answer has no message sid")
	}
	if err == nil {
		t.logger.Debug("sms accepted by twilio", "sid", *msg.Sid, "elapsed", time.Since(start))
		return *msg.Sid, nil
	}

	status, written := a.outcome()
	var ue *url.Error
	if sent := a.sentURL(); sent != "" && errors.As(err, &ue) {
		// net/http names the URL twilio-go built; name the one used.
		ue.URL = sent
	}
	var code int
	var rest *client.TwilioRestError
	if errors.As(err, &rest) {
		code = rest.Code
		if status == 0 {
			status = rest.Status
		}
	}
	se := &SendError{Class: classify(status, code, written), Status: status, Code: code, Written: written, err: err}
	t.logger.Debug("sms not accepted by twilio", "class", se.Class.String(), "status", status, "code", code, "written", written, "elapsed", time.Since(start))
	return "", se
}

// Close closes the idle connections. Sends after Close open new ones.
func (t *Twilio) Close() {
	t.transport.CloseIdleConnections()
}

// attempt is one Send's RoundTripper: it points the request at the API URL,
// puts the Send's context and trace on it, and records how far it got.
type attempt struct {
	base   http.RoundTripper
	target *url.URL
	ctx    context.Context
	cancel context.CancelFunc

	mu       sync.Mutex
	requests int
	sent     string       // the URL the request went to
	conn     *trackedConn // the request's connection, if this package dialled it
	ours     bool         // conn is set
	wrote    bool         // WroteRequest without an error, on the current connection
	status   int          // the answer's HTTP status, 0 for none
}

var errSecondRequest = errors.New("sms: twilio-go tried a second request for one message; refused so as not to send it twice")

// RoundTrip sends the request on the shared transport.
func (a *attempt) RoundTrip(req *http.Request) (*http.Response, error) {
	a.mu.Lock()
	a.requests++
	first := a.requests == 1
	a.mu.Unlock()
	if !first {
		// twilio-go resends a request when an error answer is not in the
		// format it asked for; a message must never go twice.
		if req.Body != nil {
			req.Body.Close()
		}
		return nil, errSecondRequest
	}
	r := req.WithContext(a.ctx)
	if a.target != nil {
		u := *r.URL
		u.Scheme = a.target.Scheme
		u.Host = a.target.Host
		u.Path = a.target.Path + u.Path
		u.RawPath = ""
		r.URL = &u
		r.Host = "" // the Host header follows the URL
	}
	a.mu.Lock()
	a.sent = r.URL.String()
	a.mu.Unlock()
	resp, err := a.base.RoundTrip(r)
	if err != nil {
		return nil, err
	}
	a.mu.Lock()
	a.status = resp.StatusCode
	a.mu.Unlock()
	// Read the answer (a small JSON document) to its end and close it
	// here, which hands the connection back to the pool. twilio-go leaves
	// the body of an error answer unclosed, and its JSON decoder may stop
	// short of the end of a success: either way net/http would discard
	// the connection instead of reusing it.
	body, err := readAnswer(resp)
	resp.Body.Close()
	if err != nil {
		return nil, err
	}
	resp.Body = io.NopCloser(bytes.NewReader(body))
	return resp, nil
}

// readAnswer reads a response body of at most maxAnswer bytes.
func readAnswer(resp *http.Response) ([]byte, error) {
	if n := resp.ContentLength; n >= 0 && n <= maxAnswer {
		body := make([]byte, n)
		if _, err := io.ReadFull(resp.Body, body); err != nil {
			return nil, fmt.Errorf("read twilio's answer: %w", err)
		}
		return body, nil
	}
	body, err := io.ReadAll(io.LimitReader(resp.Body, maxAnswer+1))
	if err != nil {
		return nil, fmt.Errorf("read twilio's answer: %w", err)
	}
	if len(body) > maxAnswer {
		return nil, fmt.Errorf("twilio's answer is longer than %d bytes", maxAnswer)
	}
	return body, nil
}

// trace returns the hooks that follow the request onto its connection.
func (a *attempt) trace() *httptrace.ClientTrace {
	return &httptrace.ClientTrace{
		GotConn: func(info httptrace.GotConnInfo) {
			// net/http may move a request that it could not write at all
			// to a new connection: start over.
			a.mu.Lock()
			defer a.mu.Unlock()
			a.conn, a.ours = info.Conn.(*trackedConn)
			a.wrote = false
		},
		WroteRequest: func(info httptrace.WroteRequestInfo) {
			a.mu.Lock()
			defer a.mu.Unlock()
			a.wrote = info.Err == nil
		},
	}
}

// written reports whether the whole request reached the connection. Call it
// with a.mu held.
func (a *attempt) written() bool {
	if !a.wrote {
		return false
	}
	// WroteRequest fires before net/http flushes its write buffer; a
	// failed Write on our connection means the tail never left.
	return !a.ours || !a.conn.writeFailed()
}

// outcome returns the answer's status (0 for none) and whether the request
// was written.
func (a *attempt) outcome() (status int, written bool) {
	a.mu.Lock()
	defer a.mu.Unlock()
	return a.status, a.written()
}

// sentURL returns the URL the request went to.
func (a *attempt) sentURL() string {
	a.mu.Lock()
	defer a.mu.Unlock()
	return a.sent
}

// abandon cancels the request if it has not been written yet: the Send's
// context is done. A written request is left to finish (see the package
// documentation).
func (a *attempt) abandon() {
	a.mu.Lock()
	wrote := a.wrote
	a.mu.Unlock()
	if !wrote {
		a.cancel()
	}
}

// dialer opens the connections of the pool, each wrapped in a trackedConn.
type dialer struct {
	net *net.Dialer
	tls *tls.Config
}

func (d *dialer) dial(ctx context.Context, network, addr string) (net.Conn, error) {
	c, err := d.net.DialContext(ctx, network, addr)
	if err != nil {
		return nil, err
	}
	return &trackedConn{Conn: c}, nil
}

// dialTLS does the TLS handshake itself so that the trackedConn sits above
// TLS and sees the transport's writes only (see the package documentation).
func (d *dialer) dialTLS(ctx context.Context, network, addr string) (net.Conn, error) {
	raw, err := d.net.DialContext(ctx, network, addr)
	if err != nil {
		return nil, err
	}
	cfg := d.tls.Clone()
	if cfg.ServerName == "" {
		host, _, err := net.SplitHostPort(addr)
		if err != nil {
			host = addr
		}
		cfg.ServerName = host
	}
	tc := tls.Client(raw, cfg)
	hctx, cancel := context.WithTimeout(ctx, handshakeTimeout)
	defer cancel()
	if err := tc.HandshakeContext(hctx); err != nil {
		raw.Close()
		return nil, err
	}
	return &trackedConn{Conn: tc}, nil
}

// trackedConn remembers whether a Write on it ever failed.
type trackedConn struct {
	net.Conn
	failed atomic.Bool
}

func (c *trackedConn) Write(p []byte) (int, error) {
	n, err := c.Conn.Write(p)
	if err != nil {
		c.failed.Store(true)
	}
	return n, err
}

func (c *trackedConn) writeFailed() bool { return c.failed.Load() }

func alphanumeric(s string) bool {
	for _, r := range s {
		if !('0' <= r && r <= '9' || 'a' <= r && r <= 'z' || 'A' <= r && r <= 'Z') {
			return false
		}
	}
	return true
}
