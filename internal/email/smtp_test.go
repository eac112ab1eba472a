package email

import (
	"bytes"
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"errors"
	"fmt"
	"io"
	"log"
	"log/slog"
	"math/big"
	"mime"
	"mime/multipart"
	"net"
	"net/mail"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/emersion/go-sasl"
	"github.com/emersion/go-smtp"
	gomail "github.com/wneessen/go-mail"
	"go.uber.org/goleak"
)

func TestMain(m *testing.M) {
	goleak.VerifyTestMain(m)
}

// --- a scriptable SMTP server ------------------------------------------------

// received is a message whose content the server read to the end.
type received struct {
	from string
	to   []string
	data []byte
}

// server is an in-process SMTP server on 127.0.0.1:0 (emersion/go-smtp)
// whose answers the test scripts with hooks. A hook returns nil to accept,
// an *smtp.SMTPError to refuse, or calls sess.drop() to cut the connection
// without a reply.
type server struct {
	addr string
	port int
	srv  *smtp.Server

	// Hooks; nil accepts. They run on the server's goroutines.
	onMail func(sess *session) error
	onRcpt func(sess *session) error
	onData func(sess *session, body []byte) error
	// auth, if set, is the PLAIN password the server demands of user "nudge".
	auth string
	// listen is the loopback address to listen on (default 127.0.0.1).
	listen string

	mu       sync.Mutex
	accepts  int          // TCP connections accepted
	conns    []*smtp.Conn // sessions (STARTTLS starts a second one on the same connection)
	accepted []received   // read to the end and not refused (a drop after the end counts: the server has it)
	authed   int
}

type session struct {
	srv  *server
	conn *smtp.Conn
	from string
	to   []string
}

// drop closes the connection without answering.
func (s *session) drop() error {
	_ = s.conn.Conn().Close()
	return errors.New("dropped")
}

type serverOption func(*server, *smtp.Server)

// withTLS makes the server offer STARTTLS (implicit false) or speak TLS from
// the first byte (implicit true).
func withTLS(cfg *tls.Config, implicit bool) serverOption {
	return func(s *server, srv *smtp.Server) {
		srv.TLSConfig = cfg
		if implicit {
			srv.Network = "tls" // marker for startServer
		}
	}
}

func startServer(t *testing.T, setup func(*server), opts ...serverOption) *server {
	t.Helper()
	s := &server{}
	if setup != nil {
		setup(s)
	}
	s.srv = smtp.NewServer(smtp.BackendFunc(func(c *smtp.Conn) (smtp.Session, error) {
		s.mu.Lock()
		s.conns = append(s.conns, c)
		s.mu.Unlock()
		return &session{srv: s, conn: c}, nil
	}))
	s.srv.Domain = "localhost"
	s.srv.ReadTimeout = 10 * time.Second
	s.srv.WriteTimeout = 10 * time.Second
	s.srv.ErrorLog = log.New(io.Discard, "", 0)
	for _, o := range opts {
		o(s, s.srv)
	}
	implicit := s.srv.Network == "tls"
	s.srv.Network = ""

	if s.listen == "" {
		s.listen = "127.0.0.1"
	}
	var l net.Listener
	var err error
	if implicit {
		l, err = tls.Listen("tcp", s.listen+":0", s.srv.TLSConfig)
	} else {
		l, err = net.Listen("tcp", s.listen+":0")
	}
	if err != nil {
		t.Fatal(err)
	}
	s.addr = l.Addr().String()
	s.port = l.Addr().(*net.TCPAddr).Port
	l = countingListener{Listener: l, srv: s}
	served := make(chan struct{})
	go func() {
		defer close(served)
		_ = s.srv.Serve(l)
	}()
	t.Cleanup(func() {
		_ = s.srv.Close()
		// Close misses a listener that Serve has not registered yet.
		_ = l.Close()
		<-served
	})
	return s
}

// connCount is how many TCP connections the server accepted.
func (s *server) connCount() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.accepts
}

// countingListener counts the connections it accepts.
type countingListener struct {
	net.Listener
	srv *server
}

func (l countingListener) Accept() (net.Conn, error) {
	c, err := l.Listener.Accept()
	if err == nil {
		l.srv.mu.Lock()
		l.srv.accepts++
		l.srv.mu.Unlock()
	}
	return c, err
}

func (s *server) acceptedMessages() []received {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]received(nil), s.accepted...)
}

// dropAll cuts every connection the server has, as a relay does with idle ones.
func (s *server) dropAll() {
	s.mu.Lock()
	defer s.mu.Unlock()
	for _, c := range s.conns {
		_ = c.Conn().Close()
	}
}

func (s *session) AuthMechanisms() []string {
	if s.srv.auth == "" {
		return nil
	}
	return []string{sasl.Plain}
}

func (s *session) Auth(string) (sasl.Server, error) {
	return sasl.NewPlainServer(func(_, user, pass string) error {
		if user != "nudge" || pass != s.srv.auth {
			return smtp.ErrAuthFailed
		}
		s.srv.mu.Lock()
		s.srv.authed++
		s.srv.mu.Unlock()
		return nil
	}), nil
}

func (s *session) Mail(from string, _ *smtp.MailOptions) error {
	if s.srv.auth != "" && s.srv.authedCount() == 0 {
		return smtp.ErrAuthRequired
	}
	s.from = from
	if s.srv.onMail != nil {
		return s.srv.onMail(s)
	}
	return nil
}

func (s *server) authedCount() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.authed
}

func (s *session) Rcpt(to string, _ *smtp.RcptOptions) error {
	s.to = append(s.to, to)
	if s.srv.onRcpt != nil {
		return s.srv.onRcpt(s)
	}
	return nil
}

func (s *session) Data(r io.Reader) error {
	body, err := io.ReadAll(r)
	if err != nil {
		return err
	}
	if s.srv.onData != nil {
		if err := s.srv.onData(s, body); err != nil && !errors.Is(err, errKeep) {
			return err
		}
	}
	s.srv.mu.Lock()
	s.srv.accepted = append(s.srv.accepted, received{from: s.from, to: s.to, data: body})
	s.srv.mu.Unlock()
	return nil
}

// errKeep, returned by onData after drop(), records the message as received
// by the server: it read the whole message before the connection went.
var errKeep = errors.New("keep")

func (s *session) Reset()        { s.from, s.to = "", nil }
func (s *session) Logout() error { return nil }

// --- helpers ------------------------------------------------------------------

func newSender(t *testing.T, srv *server, mod func(*SMTPConfig)) *SMTP {
	t.Helper()
	cfg := SMTPConfig{Host: "127.0.0.1", Port: srv.port, TLS: TLSNone, PoolSize: 2, HELO: "nudge.test", Timeout: 5 * time.Second}
	if mod != nil {
		mod(&cfg)
	}
	s, err := NewSMTP(cfg, slog.New(slog.DiscardHandler))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = s.Close() })
	return s
}

const recipient = "alex.recipient@example.net"

func testMessage(i int) Message {
	return Message{
		From:      "nudge <nudge@example.org>",
		To:        recipient,
		Subject:   fmt.Sprintf("Your weekly check-in %d", i),
		Text:      "How was your week?\n\nReply with a number from 1 to 5.",
		HTML:      "<p>How was your week?</p><p>Reply with a number from 1 to 5.</p>",
		MessageID: fmt.Sprintf("<occ-%d:weekly-checkin:2026-03-08@nudge.example.org>", i),
		Headers: map[string]string{
			"List-Unsubscribe":      "<https://nudge.example.org/u/tok>, <mailto:unsubscribe@nudge.example.org?subject=tok>",
			"List-Unsubscribe-Post": "List-Unsubscribe=One-Click",
		},
	}
}

func smtpErr(code int) *smtp.SMTPError {
	return &smtp.SMTPError{
		Code:         code,
		EnhancedCode: smtp.EnhancedCode{code / 100, 0, 0},
		Message:      fmt.Sprintf("scripted %d for <%s>", code, recipient),
	}
}

// --- tests --------------------------------------------------------------------

func TestSendOutcomes(t *testing.T) {
	t.Parallel()
	type hooks struct {
		mail, rcpt func(*session) error
		data       func(*session, []byte) error
	}
	refuse := func(code int) func(*session) error { return func(*session) error { return smtpErr(code) } }
	refuseData := func(code int) func(*session, []byte) error {
		return func(*session, []byte) error { return smtpErr(code) }
	}
	tests := []struct {
		name     string
		hooks    hooks
		class    Class
		stage    Stage
		code     int
		accepted int
	}{
		{"accepted", hooks{}, Accepted, "", 0, 1},
		{"421 at MAIL", hooks{mail: refuse(421)}, Temporary, StageMailFrom, 421, 0},
		{"451 at MAIL", hooks{mail: refuse(451)}, Temporary, StageMailFrom, 451, 0},
		{"452 at MAIL", hooks{mail: refuse(452)}, Temporary, StageMailFrom, 452, 0},
		{"550 at MAIL", hooks{mail: refuse(550)}, Permanent, StageMailFrom, 550, 0},
		{"421 at RCPT", hooks{rcpt: refuse(421)}, Temporary, StageRcptTo, 421, 0},
		{"451 at RCPT", hooks{rcpt: refuse(451)}, Temporary, StageRcptTo, 451, 0},
		{"452 at RCPT", hooks{rcpt: refuse(452)}, Temporary, StageRcptTo, 452, 0},
		{"550 at RCPT", hooks{rcpt: refuse(550)}, Permanent, StageRcptTo, 550, 0},
		{"421 at end of DATA", hooks{data: refuseData(421)}, Temporary, StageEndOfData, 421, 0},
		{"451 at end of DATA", hooks{data: refuseData(451)}, Temporary, StageEndOfData, 451, 0},
		{"452 at end of DATA", hooks{data: refuseData(452)}, Temporary, StageEndOfData, 452, 0},
		{"550 at end of DATA", hooks{data: refuseData(550)}, Permanent, StageEndOfData, 550, 0},
		{"drop at MAIL", hooks{mail: (*session).drop}, Temporary, StageMailFrom, 0, 0},
		{"drop at RCPT (before DATA)", hooks{rcpt: (*session).drop}, Temporary, StageRcptTo, 0, 0},
		{"drop after the final dot", hooks{data: func(s *session, _ []byte) error {
			_ = s.drop()
			return errKeep
		}}, Unknown, StageEndOfData, 0, 1},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			srv := startServer(t, func(s *server) {
				s.onMail, s.onRcpt, s.onData = tc.hooks.mail, tc.hooks.rcpt, tc.hooks.data
			})
			sender := newSender(t, srv, nil)
			err := sender.Send(context.Background(), testMessage(1))

			if got := Classify(err); got != tc.class {
				t.Errorf("Classify(%v) = %s, want %s", err, got, tc.class)
			}
			if got := len(srv.acceptedMessages()); got != tc.accepted {
				t.Errorf("server has %d messages, want %d", got, tc.accepted)
			}
			if got := srv.connCount(); got != 1 {
				t.Errorf("%d connections, want 1 (no automatic resend)", got)
			}
			if tc.class == Accepted {
				if err != nil {
					t.Errorf("Send = %v, want nil", err)
				}
				return
			}
			var se *SendError
			if !errors.As(err, &se) {
				t.Fatalf("Send = %T %v, want *SendError", err, err)
			}
			if se.Stage != tc.stage || se.Code != tc.code {
				t.Errorf("stage %q code %d, want %q %d", se.Stage, se.Code, tc.stage, tc.code)
			}
			if se.MessageID != "<occ-1:weekly-checkin:2026-03-08@nudge.example.org>" {
				t.Errorf("MessageID = %q", se.MessageID)
			}
			if got := errors.Is(err, ErrUnknownOutcome); got != (tc.class == Unknown) {
				t.Errorf("errors.Is(err, ErrUnknownOutcome) = %v", got)
			}
			if strings.Contains(err.Error(), recipient) || strings.Contains(err.Error(), "@") {
				t.Errorf("error text shows an address: %q", err)
			}
		})
	}
}

func TestSendDeadServer(t *testing.T) {
	t.Parallel()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	port := l.Addr().(*net.TCPAddr).Port
	_ = l.Close() // nothing listens there now

	s, err := NewSMTP(SMTPConfig{Host: "127.0.0.1", Port: port, TLS: TLSNone, Timeout: 2 * time.Second}, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	err = s.Send(context.Background(), testMessage(1))
	var se *SendError
	if !errors.As(err, &se) || se.Class != Temporary || se.Stage != StageConnect {
		t.Fatalf("Send to a closed port = %v, want a Temporary connect error", err)
	}
}

func TestReceivedMessage(t *testing.T) {
	t.Parallel()
	srv := startServer(t, nil)
	sender := newSender(t, srv, nil)
	fixed := time.Date(2026, 3, 8, 9, 0, 0, 0, time.UTC)
	sender.now = func() time.Time { return fixed }
	m := testMessage(7)
	m.Subject = "Ça va? A line\r\nBcc: injected@example.com"
	m.Headers["X-Nudge-Program"] = "weekly-checkin"
	if err := sender.Send(context.Background(), m); err != nil {
		t.Fatal(err)
	}

	got := srv.acceptedMessages()
	if len(got) != 1 {
		t.Fatalf("server has %d messages, want 1", len(got))
	}
	if got[0].from != "nudge@example.org" || len(got[0].to) != 1 || got[0].to[0] != recipient {
		t.Errorf("envelope from %q to %q", got[0].from, got[0].to)
	}
	msg, err := mail.ReadMessage(bytes.NewReader(got[0].data))
	if err != nil {
		t.Fatal(err)
	}
	h := msg.Header
	for name, want := range map[string]string{
		"Message-Id":            "<occ-7:weekly-checkin:2026-03-08@nudge.example.org>",
		"List-Unsubscribe":      m.Headers["List-Unsubscribe"],
		"List-Unsubscribe-Post": "List-Unsubscribe=One-Click",
		"X-Nudge-Program":       "weekly-checkin",
		"To":                    "<" + recipient + ">",
		"Bcc":                   "",
		"User-Agent":            "",
	} {
		if got := h.Get(name); got != want {
			t.Errorf("header %s = %q, want %q", name, got, want)
		}
	}
	if d, err := h.Date(); err != nil || !d.Equal(fixed) {
		t.Errorf("Date = %v, %v; want %v", d, err, fixed)
	}
	subject, err := new(mime.WordDecoder).DecodeHeader(h.Get("Subject"))
	if err != nil || subject != "Ça va? A line  Bcc: injected@example.com" {
		t.Errorf("Subject = %q (%v)", subject, err)
	}

	mediaType, params, err := mime.ParseMediaType(h.Get("Content-Type"))
	if err != nil || mediaType != "multipart/alternative" {
		t.Fatalf("Content-Type = %q, want multipart/alternative", h.Get("Content-Type"))
	}
	parts := map[string]string{}
	mr := multipart.NewReader(msg.Body, params["boundary"])
	for {
		p, err := mr.NextPart() // decodes quoted-printable
		if err == io.EOF {
			break
		}
		if err != nil {
			t.Fatal(err)
		}
		body, _ := io.ReadAll(p)
		ct, _, _ := mime.ParseMediaType(p.Header.Get("Content-Type"))
		parts[ct] = string(body)
	}
	if strings.ReplaceAll(parts["text/plain"], "\r\n", "\n") != m.Text || parts["text/html"] != m.HTML {
		t.Errorf("parts = %q, want the text and the HTML", parts)
	}
}

func TestPoolReusesConnections(t *testing.T) {
	t.Parallel()
	srv := startServer(t, nil)
	sender := newSender(t, srv, func(c *SMTPConfig) { c.PoolSize = 2 })

	const workers, each = 10, 5
	errs := make(chan error, workers*each)
	var wg sync.WaitGroup
	for w := range workers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range each {
				errs <- sender.Send(context.Background(), testMessage(w*each+i))
			}
		}()
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		if err != nil {
			t.Error(err)
		}
	}
	if got := len(srv.acceptedMessages()); got != workers*each {
		t.Errorf("server has %d messages, want %d", got, workers*each)
	}
	if got := srv.connCount(); got < 1 || got > 2 {
		t.Errorf("%d connections opened for %d messages with PoolSize 2, want at most 2", got, workers*each)
	}

	// One after another, the same connection carries every message.
	srv2 := startServer(t, nil)
	seq := newSender(t, srv2, func(c *SMTPConfig) { c.PoolSize = 4 })
	for i := range 5 {
		if err := seq.Send(context.Background(), testMessage(i)); err != nil {
			t.Fatal(err)
		}
	}
	if got := srv2.connCount(); got != 1 {
		t.Errorf("5 sequential sends opened %d connections, want 1", got)
	}
}

func TestConnectionDiscardedAfterError(t *testing.T) {
	t.Parallel()
	var calls int
	var mu sync.Mutex
	srv := startServer(t, func(s *server) {
		s.onRcpt = func(*session) error {
			mu.Lock()
			defer mu.Unlock()
			calls++
			if calls == 1 {
				return smtpErr(550)
			}
			return nil
		}
	})
	sender := newSender(t, srv, nil)
	if err := sender.Send(context.Background(), testMessage(1)); Classify(err) != Permanent {
		t.Fatalf("first send: %v, want Permanent", err)
	}
	if err := sender.Send(context.Background(), testMessage(2)); err != nil {
		t.Fatalf("second send: %v", err)
	}
	if got := srv.connCount(); got != 2 {
		t.Errorf("%d connections, want 2 (the failed one is not reused)", got)
	}
}

func TestStaleConnectionRedialled(t *testing.T) {
	t.Parallel()
	srv := startServer(t, nil)
	sender := newSender(t, srv, nil)
	if err := sender.Send(context.Background(), testMessage(1)); err != nil {
		t.Fatal(err)
	}
	srv.dropAll() // the relay closes the idle connection
	if err := sender.Send(context.Background(), testMessage(2)); err != nil {
		t.Fatalf("send on a stale connection: %v, want a transparent redial", err)
	}
	if got, conns := len(srv.acceptedMessages()), srv.connCount(); got != 2 || conns != 2 {
		t.Errorf("%d messages over %d connections, want 2 over 2", got, conns)
	}
}

func TestIdleConnectionReplaced(t *testing.T) {
	t.Parallel()
	srv := startServer(t, nil)
	sender := newSender(t, srv, nil)
	now := time.Date(2026, 3, 8, 9, 0, 0, 0, time.UTC)
	sender.now = func() time.Time { return now }
	for _, wait := range []time.Duration{0, 30 * time.Second, 2 * time.Minute} {
		now = now.Add(wait)
		if err := sender.Send(context.Background(), testMessage(1)); err != nil {
			t.Fatal(err)
		}
	}
	if got := srv.connCount(); got != 2 {
		t.Errorf("%d connections, want 2 (reused after 30s, replaced after 2m)", got)
	}
}

func TestSendWaitsForAConnection(t *testing.T) {
	t.Parallel()
	release := make(chan struct{})
	entered := make(chan struct{}, 1)
	srv := startServer(t, func(s *server) {
		s.onData = func(*session, []byte) error {
			entered <- struct{}{}
			<-release
			return nil
		}
	})
	sender := newSender(t, srv, func(c *SMTPConfig) { c.PoolSize = 1 })

	first := make(chan error, 1)
	go func() { first <- sender.Send(context.Background(), testMessage(1)) }()
	<-entered // the only connection is busy

	ctx, cancel := context.WithTimeout(context.Background(), 50*time.Millisecond)
	defer cancel()
	err := sender.Send(ctx, testMessage(2))
	var se *SendError
	if !errors.As(err, &se) || se.Class != Temporary || !errors.Is(err, context.DeadlineExceeded) {
		t.Errorf("Send with a full pool and an expiring context = %v, want Temporary wrapping DeadlineExceeded", err)
	}
	close(release)
	if err := <-first; err != nil {
		t.Errorf("first send: %v", err)
	}
}

func TestSendAfterClose(t *testing.T) {
	t.Parallel()
	srv := startServer(t, nil)
	sender := newSender(t, srv, nil)
	if err := sender.Send(context.Background(), testMessage(1)); err != nil {
		t.Fatal(err)
	}
	if err := sender.Close(); err != nil {
		t.Fatal(err)
	}
	err := sender.Send(context.Background(), testMessage(2))
	if Classify(err) != Temporary || !errors.Is(err, ErrClosed) {
		t.Errorf("Send after Close = %v, want Temporary ErrClosed", err)
	}
	if err := sender.Close(); err != nil {
		t.Errorf("second Close = %v", err)
	}
}

func TestBuildErrors(t *testing.T) {
	t.Parallel()
	srv := startServer(t, nil)
	sender := newSender(t, srv, nil)
	tests := map[string]func(*Message){
		"bad To":                  func(m *Message) { m.To = "alex.recipient at example.net" },
		"two To":                  func(m *Message) { m.To = recipient + ", b@example.net" },
		"bad From":                func(m *Message) { m.From = "nudge" },
		"no text":                 func(m *Message) { m.Text = "" },
		"header injection":        func(m *Message) { m.Headers["X-A"] = "a\r\nBcc: " + recipient },
		"reserved header":         func(m *Message) { m.Headers["subject"] = "other" },
		"bad header name":         func(m *Message) { m.Headers["X A"] = "b" },
		"Message-ID without host": func(m *Message) { m.MessageID = "<occ-1>" },
		"Message-ID with space":   func(m *Message) { m.MessageID = "<occ 1@host>" },
	}
	for name, mod := range tests {
		m := testMessage(1)
		mod(&m)
		err := sender.Send(context.Background(), m)
		var se *SendError
		if !errors.As(err, &se) || se.Class != Permanent || se.Stage != StageBuild {
			t.Errorf("%s: Send = %v, want a Permanent build error", name, err)
			continue
		}
		if strings.Contains(err.Error(), "alex.recipient") {
			t.Errorf("%s: error text shows the address: %q", name, err)
		}
	}
	if n := srv.connCount(); n != 0 {
		t.Errorf("unbuildable messages opened %d connections", n)
	}
}

func TestClassify(t *testing.T) {
	t.Parallel()
	tests := []struct {
		err  error
		want Class
	}{
		{nil, Accepted},
		{&gomail.SendError{Reason: gomail.ErrSMTPReset}, Accepted},
		{fmt.Errorf("wrapped: %w", &gomail.SendError{Reason: gomail.ErrSMTPDataClose}), Unknown},
		{&gomail.SendError{Reason: gomail.ErrSMTPRcptTo}, Temporary}, // no reply: a network error before DATA
		{&gomail.SendError{Reason: gomail.ErrWriteContent}, Temporary},
		{&gomail.SendError{Reason: gomail.ErrConnCheck}, Temporary},
		{&gomail.SendError{Reason: gomail.ErrGetRcpts}, Permanent},
		{&gomail.SendError{Reason: gomail.ErrAmbiguous}, Unknown},
		{fmt.Errorf("deliver: %w", &SendError{Class: Permanent}), Permanent},
		{fmt.Errorf("x: %w", ErrUnknownOutcome), Unknown},
		{errors.New("some other error"), Unknown},
		{context.Canceled, Unknown},
	}
	for _, tc := range tests {
		if got := Classify(tc.err); got != tc.want {
			t.Errorf("Classify(%v) = %s, want %s", tc.err, got, tc.want)
		}
	}
}

func TestRecipientFault(t *testing.T) {
	t.Parallel()
	tests := []struct {
		err  SendError
		want bool
	}{
		{SendError{Class: Permanent, Stage: StageRcptTo, Code: 550, EnhancedCode: "5.1.1"}, true},
		{SendError{Class: Permanent, Stage: StageRcptTo, Code: 550}, true},
		{SendError{Class: Permanent, Stage: StageRcptTo, Code: 554, EnhancedCode: "5.7.1"}, false},
		{SendError{Class: Permanent, Stage: StageEndOfData, Code: 552, EnhancedCode: "5.2.2"}, true},
		{SendError{Class: Permanent, Stage: StageEndOfData, Code: 554, EnhancedCode: "5.7.1"}, false},
		{SendError{Class: Permanent, Stage: StageMailFrom, Code: 550, EnhancedCode: "5.1.0"}, false},
		{SendError{Class: Permanent, Stage: StageBuild}, false},
		{SendError{Class: Temporary, Stage: StageRcptTo, Code: 450, EnhancedCode: "4.2.1"}, false},
	}
	for _, tc := range tests {
		if got := tc.err.RecipientFault(); got != tc.want {
			t.Errorf("%+v: RecipientFault = %v, want %v", tc.err, got, tc.want)
		}
	}
}

func TestRealErrorsFromServerText(t *testing.T) {
	t.Parallel()
	srv := startServer(t, func(s *server) {
		s.onRcpt = func(*session) error {
			return &smtp.SMTPError{Code: 550, EnhancedCode: smtp.EnhancedCode{5, 1, 1},
				Message: "<" + recipient + ">: Recipient address rejected: User unknown"}
		}
	})
	err := newSender(t, srv, nil).Send(context.Background(), testMessage(1))
	var se *SendError
	if !errors.As(err, &se) || !se.RecipientFault() || se.EnhancedCode != "5.1.1" {
		t.Fatalf("Send = %v (%+v), want a recipient fault with 5.1.1", err, se)
	}
	if s := err.Error(); strings.Contains(s, "alex.recipient") || !strings.Contains(s, "User unknown") {
		t.Errorf("error text = %q: want the reply without the address", s)
	}
}

// --- TLS and AUTH -----------------------------------------------------------

// testTLS makes a self-signed certificate for 127.0.0.1 and returns the
// server's config and a client config that trusts it.
func testTLS(t *testing.T) (server, client *tls.Config) {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{
		SerialNumber: big.NewInt(1),
		Subject:      pkix.Name{CommonName: "nudge test relay"},
		NotBefore:    time.Now().Add(-time.Hour),
		NotAfter:     time.Now().Add(time.Hour),
		IPAddresses:  []net.IP{net.IPv4(127, 0, 0, 1)},
		DNSNames:     []string{"localhost"},
		KeyUsage:     x509.KeyUsageDigitalSignature,
		ExtKeyUsage:  []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		t.Fatal(err)
	}
	cert, err := x509.ParseCertificate(der)
	if err != nil {
		t.Fatal(err)
	}
	pool := x509.NewCertPool()
	pool.AddCert(cert)
	return &tls.Config{Certificates: []tls.Certificate{{Certificate: [][]byte{der}, PrivateKey: key}}},
		&tls.Config{RootCAs: pool}
}

func TestTLSModesAndAuth(t *testing.T) {
	t.Parallel()
	serverTLS, clientTLS := testTLS(t)
	tests := []struct {
		name     string
		implicit bool
		mode     string
	}{
		{"STARTTLS", false, TLSStartTLS},
		{"implicit TLS", true, TLSImplicit},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			srv := startServer(t, func(s *server) { s.auth = "relay-password" }, withTLS(serverTLS, tc.implicit))
			sender := newSender(t, srv, func(c *SMTPConfig) {
				c.TLS, c.TLSConfig = tc.mode, clientTLS
				c.Username, c.Password = "nudge", "relay-password"
			})
			for i := range 3 {
				if err := sender.Send(context.Background(), testMessage(i)); err != nil {
					t.Fatalf("send %d: %v", i, err)
				}
			}
			if got, conns, authed := len(srv.acceptedMessages()), srv.connCount(), srv.authedCount(); got != 3 || conns != 1 || authed != 1 {
				t.Errorf("%d messages, %d connections, %d logins; want 3, 1, 1", got, conns, authed)
			}
		})
	}

	t.Run("wrong password", func(t *testing.T) {
		t.Parallel()
		srv := startServer(t, func(s *server) { s.auth = "relay-password" }, withTLS(serverTLS, false))
		sender := newSender(t, srv, func(c *SMTPConfig) {
			c.TLS, c.TLSConfig = TLSStartTLS, clientTLS
			c.Username, c.Password = "nudge", "wrong"
		})
		err := sender.Send(context.Background(), testMessage(1))
		var se *SendError
		if !errors.As(err, &se) || se.Class != Temporary || se.Stage != StageConnect || se.Code != 535 {
			t.Errorf("Send with a wrong password = %v (%+v), want Temporary at connect with 535", err, se)
		}
		if strings.Contains(err.Error(), "wrong") {
			t.Errorf("error text shows the password: %q", err)
		}
	})

	t.Run("STARTTLS required but not offered", func(t *testing.T) {
		t.Parallel()
		srv := startServer(t, nil)
		sender := newSender(t, srv, func(c *SMTPConfig) { c.TLS, c.TLSConfig = TLSStartTLS, clientTLS })
		err := sender.Send(context.Background(), testMessage(1))
		if Classify(err) != Temporary || len(srv.acceptedMessages()) != 0 {
			t.Errorf("Send without STARTTLS = %v, want Temporary and nothing sent", err)
		}
	})

	t.Run("password never sent in the clear", func(t *testing.T) {
		t.Parallel()
		// 127.0.0.2 is loopback but not "localhost" to go-mail, so it
		// stands for a remote relay without TLS.
		srv := startServer(t, func(s *server) { s.auth = "relay-password"; s.listen = "127.0.0.2" })
		srv.srv.AllowInsecureAuth = true
		sender := newSender(t, srv, func(c *SMTPConfig) {
			c.Host = "127.0.0.2"
			c.Username, c.Password = "nudge", "relay-password"
		})
		err := sender.Send(context.Background(), testMessage(1))
		if Classify(err) != Temporary || srv.authedCount() != 0 || len(srv.acceptedMessages()) != 0 {
			t.Errorf("login without TLS: Send = %v, %d logins; want a Temporary refusal and none", err, srv.authedCount())
		}
	})
}

func TestNewSMTPChecksConfig(t *testing.T) {
	t.Parallel()
	for name, cfg := range map[string]SMTPConfig{
		"no host":               {},
		"bad TLS mode":          {Host: "h", TLS: "ssl"},
		"bad port":              {Host: "h", Port: 70000},
		"negative pool":         {Host: "h", PoolSize: -1},
		"user without password": {Host: "h", Username: "u"},
	} {
		if _, err := NewSMTP(cfg, nil); err == nil {
			t.Errorf("%s: NewSMTP accepted %+v", name, cfg)
		}
	}
}

func TestRedact(t *testing.T) {
	t.Parallel()
	tests := []struct{ in, want string }{
		{`550 "5.1.1 <a@b.example>: User unknown"`, `550 5.1.1 [redacted] User unknown`},
		{`sending SMTP RCPT TO command: 550 "x", affected recipient(s): a@b.example`, `sending SMTP RCPT TO command: 550 x`},
		{`dial tcp 127.0.0.1:25: connect: connection refused`, `dial tcp 127.0.0.1:25: connect: connection refused`},
		{`say "hi" to 12 "x`, `say "hi" to 12 "x`},
	}
	for _, tc := range tests {
		if got := redact(errors.New(tc.in)); got != tc.want {
			t.Errorf("redact(%q) = %q, want %q", tc.in, got, tc.want)
		}
	}
}
