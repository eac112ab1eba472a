// Package smtptest runs a real SMTP server in the test process (emersion's
// go-smtp on 127.0.0.1:0) that keeps every message it accepts, parsed, and
// counts the connections made to it. Tests use it as the far end of the
// email channel: no mocks, a real protocol exchange.
package smtptest

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
	"io"
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
)

// Message is one accepted message.
type Message struct {
	From   string
	To     []string
	Header mail.Header
	Raw    []byte
	// Text and HTML are the decoded text/plain and text/html parts.
	Text, HTML string
}

// Server is a running SMTP sink.
type Server struct {
	srv  *smtp.Server
	ln   net.Listener
	opts Options

	mu     sync.Mutex
	msgs   []Message
	conns  int
	authed int
	script []Fault
	seen   chan struct{}

	clientTLS *tls.Config
}

// Options change how the server behaves.
type Options struct {
	// Delay is how long the server takes to accept each message, to make a
	// batch take long enough to interrupt.
	Delay time.Duration
	// Script scripts the first transactions, one Fault each, in order;
	// after it runs out every message is accepted.
	Script []Fault
	// StartTLS makes the server offer STARTTLS with a certificate of its
	// own for 127.0.0.1 (trust it with Server.ClientTLS).
	StartTLS bool
	// Users makes the server offer AUTH PLAIN for these user names and
	// passwords, and require it before MAIL.
	Users map[string]string
}

// Fault is what the server does to one transaction.
type Fault struct {
	// Stage is "rcpt" (answer RCPT TO) or "data" (answer the final dot).
	Stage string
	// Code is the reply code (e.g. 451, 550); 0 drops the connection
	// without a reply. At "data", a drop keeps the message: the server has
	// it, but the client never hears so.
	Code int
}

// Start starts a server that is shut down when the test ends.
func Start(tb testing.TB) *Server { return StartWith(tb, Options{}) }

// StartWith starts a server with options.
func StartWith(tb testing.TB, opts Options) *Server {
	tb.Helper()
	s := &Server{seen: make(chan struct{}, 1), opts: opts, script: append([]Fault(nil), opts.Script...)}
	s.srv = smtp.NewServer(smtp.BackendFunc(func(c *smtp.Conn) (smtp.Session, error) {
		s.mu.Lock()
		s.conns++
		s.mu.Unlock()
		return &session{s: s, conn: c}, nil
	}))
	s.srv.Domain = "smtp.test"
	s.srv.AllowInsecureAuth = true
	if opts.StartTLS {
		s.srv.TLSConfig, s.clientTLS = selfSigned(tb)
	}
	s.srv.ReadTimeout = 30 * time.Second
	s.srv.WriteTimeout = 30 * time.Second
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		tb.Fatalf("smtptest: listen: %v", err)
	}
	s.ln = ln
	done := make(chan struct{})
	go func() {
		defer close(done)
		_ = s.srv.Serve(ln)
	}()
	tb.Cleanup(func() {
		_ = s.srv.Close()
		<-done
	})
	return s
}

// Host and Port say where the server listens.
func (s *Server) Host() string { return "127.0.0.1" }

// Port is the port the server listens on.
func (s *Server) Port() int { return s.ln.Addr().(*net.TCPAddr).Port }

// ClientTLS returns a client configuration that trusts the server's
// certificate (StartTLS); nil without it.
func (s *Server) ClientTLS() *tls.Config {
	if s.clientTLS == nil {
		return nil
	}
	return s.clientTLS.Clone()
}

// Authenticated returns how many sessions logged in (Users).
func (s *Server) Authenticated() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.authed
}

// Messages returns a copy of the accepted messages, in arrival order.
func (s *Server) Messages() []Message {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]Message(nil), s.msgs...)
}

// Connections returns how many connections the server has accepted.
func (s *Server) Connections() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.conns
}

// WaitFor waits until match returns true for the accepted messages, and
// returns them. It fails the test after timeout.
func (s *Server) WaitFor(tb testing.TB, timeout time.Duration, what string, match func([]Message) bool) []Message {
	tb.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), timeout)
	defer cancel()
	for {
		msgs := s.Messages()
		if match(msgs) {
			return msgs
		}
		select {
		case <-ctx.Done():
			tb.Fatalf("smtptest: waited %s for %s; have %d messages", timeout, what, len(msgs))
			return nil
		case <-s.seen:
		case <-time.After(50 * time.Millisecond):
		}
	}
}

type session struct {
	s      *Server
	conn   *smtp.Conn
	from   string
	to     []string
	fault  *Fault
	authed bool
}

func (ss *session) AuthMechanisms() []string {
	if ss.s.opts.Users == nil {
		return nil
	}
	return []string{sasl.Plain}
}

func (ss *session) Auth(string) (sasl.Server, error) {
	return sasl.NewPlainServer(func(_, user, pass string) error {
		if want, ok := ss.s.opts.Users[user]; !ok || pass != want {
			return smtp.ErrAuthFailed
		}
		ss.authed = true
		ss.s.mu.Lock()
		ss.s.authed++
		ss.s.mu.Unlock()
		return nil
	}), nil
}

func (ss *session) act(stage string) error {
	if ss.fault == nil || ss.fault.Stage != stage {
		return nil
	}
	if ss.fault.Code == 0 {
		_ = ss.conn.Conn().Close()
		return errors.New("connection dropped")
	}
	// A refused recipient reads as "mailbox unknown" (x.1.1), a refused
	// message as a content problem (x.6.0), as real relays say.
	enhanced := smtp.EnhancedCode{ss.fault.Code / 100, 6, 0}
	if stage == "rcpt" {
		enhanced = smtp.EnhancedCode{ss.fault.Code / 100, 1, 1}
	}
	return &smtp.SMTPError{Code: ss.fault.Code, EnhancedCode: enhanced, Message: "scripted reply"}
}

func (ss *session) Reset()        { ss.from, ss.to = "", nil }
func (ss *session) Logout() error { return nil }

func (ss *session) Mail(from string, _ *smtp.MailOptions) error {
	if ss.s.opts.Users != nil && !ss.authed {
		return smtp.ErrAuthRequired
	}
	ss.from = from
	ss.s.mu.Lock()
	ss.fault = nil
	if len(ss.s.script) > 0 {
		ss.fault = &ss.s.script[0]
		ss.s.script = ss.s.script[1:]
	}
	ss.s.mu.Unlock()
	return nil
}

func (ss *session) Rcpt(to string, _ *smtp.RcptOptions) error {
	if err := ss.act("rcpt"); err != nil {
		return err
	}
	ss.to = append(ss.to, to)
	return nil
}

func (ss *session) Data(r io.Reader) error {
	raw, err := io.ReadAll(r)
	if err != nil {
		return err
	}
	m, err := Parse(raw)
	if err != nil {
		return &smtp.SMTPError{Code: 554, EnhancedCode: smtp.EnhancedCode{5, 6, 0}, Message: "unparseable: " + err.Error()}
	}
	m.From, m.To = ss.from, append([]string(nil), ss.to...)
	time.Sleep(ss.s.opts.Delay)
	if ss.fault != nil && ss.fault.Stage == "data" && ss.fault.Code != 0 {
		return ss.act("data") // refused: not kept
	}
	ss.s.mu.Lock()
	ss.s.msgs = append(ss.s.msgs, m)
	ss.s.mu.Unlock()
	select {
	case ss.s.seen <- struct{}{}:
	default:
	}
	return ss.act("data") // a scripted drop happens after the message is kept
}

// Parse reads a message and decodes its text and HTML parts (single part or
// multipart/alternative, possibly nested in multipart/mixed).
func Parse(raw []byte) (Message, error) {
	msg, err := mail.ReadMessage(bytes.NewReader(raw))
	if err != nil {
		return Message{}, err
	}
	m := Message{Header: msg.Header, Raw: raw}
	if err := collectParts(&m, msg.Header.Get("Content-Type"), msg.Header.Get("Content-Transfer-Encoding"), msg.Body); err != nil {
		return Message{}, err
	}
	return m, nil
}

func collectParts(m *Message, contentType, encoding string, body io.Reader) error {
	mt, params, err := mime.ParseMediaType(contentType)
	if err != nil {
		mt = "text/plain"
	}
	if strings.HasPrefix(mt, "multipart/") {
		mr := multipart.NewReader(body, params["boundary"])
		for {
			p, err := mr.NextPart()
			if errors.Is(err, io.EOF) {
				return nil
			}
			if err != nil {
				return err
			}
			// multipart.Reader decodes quoted-printable itself and removes the header.
			if err := collectParts(m, p.Header.Get("Content-Type"), p.Header.Get("Content-Transfer-Encoding"), p); err != nil {
				return err
			}
		}
	}
	b, err := io.ReadAll(decode(encoding, body))
	if err != nil {
		return err
	}
	switch mt {
	case "text/plain":
		m.Text += string(b)
	case "text/html":
		m.HTML += string(b)
	}
	return nil
}

// selfSigned makes a certificate for 127.0.0.1 and localhost, and returns
// the server's configuration and a client's that trusts it.
func selfSigned(tb testing.TB) (server, client *tls.Config) {
	tb.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		tb.Fatal(err)
	}
	tmpl := &x509.Certificate{
		SerialNumber: big.NewInt(1),
		Subject:      pkix.Name{CommonName: "smtptest"},
		NotBefore:    time.Now().Add(-time.Hour),
		NotAfter:     time.Now().Add(24 * time.Hour),
		IPAddresses:  []net.IP{net.IPv4(127, 0, 0, 1)},
		DNSNames:     []string{"localhost"},
		KeyUsage:     x509.KeyUsageDigitalSignature,
		ExtKeyUsage:  []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		tb.Fatal(err)
	}
	cert, err := x509.ParseCertificate(der)
	if err != nil {
		tb.Fatal(err)
	}
	pool := x509.NewCertPool()
	pool.AddCert(cert)
	return &tls.Config{Certificates: []tls.Certificate{{Certificate: [][]byte{der}, PrivateKey: key}}},
		&tls.Config{RootCAs: pool, MinVersion: tls.VersionTLS12}
}
