package email

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"sync"
	"sync/atomic"
	"time"

	"github.com/wneessen/go-mail"
)

// SMTPConfig says how to reach the relay.
type SMTPConfig struct {
	Host string
	// Port defaults to 587, or 465 when TLS is "tls".
	Port               int
	Username, Password string // both empty: no AUTH
	// TLS is "none", "starttls" (the default; the relay must offer
	// STARTTLS) or "tls" (TLS from the first byte).
	TLS string
	// PoolSize is how many connections may be open at once (default 4).
	// A connection carries about 1/(4 × round trip) messages a second.
	PoolSize int
	// HELO is the name given in EHLO (default: this machine's host name).
	HELO string
	// Timeout bounds connecting, and each whole message transaction
	// (default 30s). A relay slower than this to answer the final "."
	// makes the outcome Unknown, so keep it generous.
	Timeout time.Duration
	// TLSConfig, if set, is used for STARTTLS and TLS (for a relay with a
	// private CA); its ServerName defaults to Host.
	TLSConfig *tls.Config
	// DKIM, if set, signs every message (see DKIMConfig); nil sends them
	// unsigned.
	DKIM *DKIMConfig
}

// TLS modes of SMTPConfig.TLS.
const (
	TLSNone     = "none"
	TLSStartTLS = "starttls"
	TLSImplicit = "tls"
)

const (
	defaultPoolSize = 4
	defaultTimeout  = 30 * time.Second
	// maxIdle is how long a pooled connection may sit unused before it is
	// replaced rather than trusted: relays close idle sessions after a few
	// minutes (Postfix: 300 s) and NAT gateways drop them silently.
	maxIdle = time.Minute
	// quitTimeout bounds the polite QUIT when a connection is retired.
	quitTimeout = 5 * time.Second
)

// SMTP sends email through a pool of open SMTP connections. It is safe for
// concurrent use; Close it when done.
type SMTP struct {
	cfg    SMTPConfig
	tls    *tls.Config
	opts   []mail.Option // shared by every connection's go-mail client
	logger *slog.Logger
	now    func() time.Time

	slots  chan struct{} // one token per connection in use
	done   chan struct{} // closed by Close
	nextID atomic.Uint64

	mu       sync.Mutex
	idle     []*conn // open connections not in use, most recent last
	closed   bool
	inflight sync.WaitGroup
}

// conn is one open connection and the go-mail client that owns it.
type conn struct {
	id       uint64
	client   *mail.Client
	raw      net.Conn // the connection under client, to close it for sure
	lastUsed time.Time
	sent     int
}

// NewSMTP checks cfg and returns a sender. It connects lazily, on the first
// Send.
func NewSMTP(cfg SMTPConfig, logger *slog.Logger) (*SMTP, error) {
	if cfg.Host == "" {
		return nil, errors.New("email: SMTP host is empty")
	}
	if cfg.TLS == "" {
		cfg.TLS = TLSStartTLS
	}
	if cfg.Port == 0 {
		cfg.Port = 587
		if cfg.TLS == TLSImplicit {
			cfg.Port = 465
		}
	}
	if cfg.PoolSize == 0 {
		cfg.PoolSize = defaultPoolSize
	}
	if cfg.PoolSize < 0 {
		return nil, fmt.Errorf("email: SMTP pool size %d is negative", cfg.PoolSize)
	}
	if cfg.Timeout <= 0 {
		cfg.Timeout = defaultTimeout
	}
	if (cfg.Username == "") != (cfg.Password == "") {
		return nil, errors.New("email: SMTP username and password must be set together")
	}
	if logger == nil {
		logger = slog.New(slog.DiscardHandler)
	}
	var dkimAlg string
	if cfg.DKIM != nil {
		d := *cfg.DKIM // a copy the caller cannot change
		var err error
		if dkimAlg, err = checkDKIM(d); err != nil {
			return nil, fmt.Errorf("email: DKIM settings: %w", err)
		}
		cfg.DKIM = &d
	}

	tlsConfig := &tls.Config{MinVersion: tls.VersionTLS12}
	if cfg.TLSConfig != nil {
		tlsConfig = cfg.TLSConfig.Clone()
	}
	if tlsConfig.ServerName == "" {
		tlsConfig.ServerName = cfg.Host
	}

	opts := []mail.Option{
		mail.WithPort(cfg.Port),
		mail.WithTimeout(cfg.Timeout),
		mail.WithTLSConfig(tlsConfig),
		// A connection is discarded after any error, so neither a NOOP
		// before each message nor an RSET after it buys anything but two
		// round trips.
		mail.WithoutNoop(),
		mail.WithoutRset(),
	}
	switch cfg.TLS {
	case TLSNone, TLSImplicit: // implicit TLS is done by our dialler
		opts = append(opts, mail.WithTLSPolicy(mail.NoTLS))
	case TLSStartTLS:
		opts = append(opts, mail.WithTLSPolicy(mail.TLSMandatory))
	default:
		return nil, fmt.Errorf("email: SMTP TLS mode %q is not none, starttls or tls", cfg.TLS)
	}
	if cfg.HELO != "" {
		opts = append(opts, mail.WithHELO(cfg.HELO))
	}
	if cfg.Username != "" {
		// Passwords in the clear (PLAIN, LOGIN) only go over TLS or to
		// localhost: go-mail's mechanisms refuse otherwise.
		opts = append(opts,
			mail.WithUsername(cfg.Username), mail.WithPassword(cfg.Password),
			mail.WithOpportunisticSMTPAuth(mail.SMTPAuthSCRAMSHA256, mail.SMTPAuthSCRAMSHA1,
				mail.SMTPAuthPlain, mail.SMTPAuthLogin, mail.SMTPAuthCramMD5))
	}
	// Try the options once now, so that a bad setting fails at start.
	if _, err := mail.NewClient(cfg.Host, opts...); err != nil {
		return nil, fmt.Errorf("email: SMTP settings: %w", err)
	}
	if cfg.DKIM != nil {
		logger.Info("email DKIM signing on", "domain", cfg.DKIM.Domain, "selector", cfg.DKIM.Selector, "algorithm", dkimAlg)
	}

	return &SMTP{
		cfg:    cfg,
		tls:    tlsConfig,
		opts:   opts,
		logger: logger,
		now:    time.Now,
		slots:  make(chan struct{}, cfg.PoolSize),
		done:   make(chan struct{}),
	}, nil
}

// Send delivers m to the relay. It returns nil once the relay has accepted
// the message, and otherwise a *SendError (see the package documentation
// for what each Class means). ctx bounds the wait for a free connection and
// the dial, not a transaction that has started.
func (s *SMTP) Send(ctx context.Context, m Message) error {
	msg, err := s.build(m)
	if err != nil {
		return &SendError{Class: Permanent, Stage: StageBuild, MessageID: m.MessageID, detail: err.Error(), err: err}
	}
	msgID := msg.GetMessageID()

	s.mu.Lock()
	if s.closed {
		s.mu.Unlock()
		return &SendError{Class: Temporary, Stage: StageConnect, MessageID: msgID, detail: ErrClosed.Error(), err: ErrClosed}
	}
	s.inflight.Add(1)
	s.mu.Unlock()
	defer s.inflight.Done()

	if err := s.takeSlot(ctx); err != nil {
		return &SendError{Class: Temporary, Stage: StageConnect, MessageID: msgID, detail: err.Error(), err: err}
	}
	defer s.giveSlot()

	c := s.takeIdle()
	for retried := false; ; retried = true {
		reused := c != nil
		if c == nil {
			if c, err = s.dial(ctx); err != nil {
				code, enhanced := replyCode(err)
				return &SendError{Class: Temporary, Stage: StageConnect, Code: code, EnhancedCode: enhanced,
					MessageID: msgID, detail: redact(err), err: err}
			}
		}

		err = c.client.Send(msg)
		if err == nil {
			c.sent++
			c.lastUsed = s.now()
			s.putIdle(c)
			return nil
		}
		s.discard(c)
		c = nil

		class, stage, code, enhanced := classifyMail(err)
		if class == Accepted {
			s.logger.Warn("email accepted; error after delivery", "message_id", msgID, "error", redact(err))
			return nil
		}
		// A reused connection that fails before the relay answered MAIL
		// FROM had gone stale; nothing of this message was accepted, so
		// one more try on a fresh connection is safe.
		if reused && !retried && (stage == StageConnect || stage == StageMailFrom && (code == 0 || code == 421)) {
			s.logger.Debug("smtp connection went stale; redialling", "message_id", msgID, "stage", stage, "code", code)
			continue
		}
		return &SendError{Class: class, Stage: stage, Code: code, EnhancedCode: enhanced,
			MessageID: msgID, detail: redact(err), err: err}
	}
}

// Close stops new sends, waits for the ones in progress (each bounded by
// Timeout) and closes every connection with a QUIT. It always returns nil;
// a failed QUIT is only logged.
func (s *SMTP) Close() error {
	s.mu.Lock()
	if s.closed {
		s.mu.Unlock()
		return nil
	}
	s.closed = true
	close(s.done)
	s.mu.Unlock()

	s.inflight.Wait()

	s.mu.Lock()
	idle := s.idle
	s.idle = nil
	s.mu.Unlock()
	for _, c := range idle {
		s.quit(c)
	}
	return nil
}

// takeSlot waits for the right to use a connection.
func (s *SMTP) takeSlot(ctx context.Context) error {
	select {
	case s.slots <- struct{}{}:
		return nil
	case <-s.done:
		return ErrClosed
	case <-ctx.Done():
		return fmt.Errorf("wait for an SMTP connection: %w", ctx.Err())
	}
}

func (s *SMTP) giveSlot() { <-s.slots }

// takeIdle returns the most recently used open connection, or nil. Idle
// connections too old to trust are closed on the way.
func (s *SMTP) takeIdle() *conn {
	s.mu.Lock()
	defer s.mu.Unlock()
	for len(s.idle) > 0 {
		c := s.idle[len(s.idle)-1]
		s.idle = s.idle[:len(s.idle)-1]
		if s.now().Sub(c.lastUsed) <= maxIdle {
			return c
		}
		s.discard(c)
	}
	return nil
}

// putIdle returns a healthy connection to the pool, or closes it if the
// pool is closed.
func (s *SMTP) putIdle(c *conn) {
	s.mu.Lock()
	if !s.closed {
		s.idle = append(s.idle, c)
		s.mu.Unlock()
		return
	}
	s.mu.Unlock()
	s.quit(c)
}

// dial opens a connection: TCP (or TLS), greeting, EHLO, STARTTLS, AUTH.
func (s *SMTP) dial(ctx context.Context) (*conn, error) {
	c := &conn{id: s.nextID.Add(1)}
	dialer := func(ctx context.Context, network, addr string) (net.Conn, error) {
		nd := &net.Dialer{}
		var raw net.Conn
		var err error
		if s.cfg.TLS == TLSImplicit {
			raw, err = (&tls.Dialer{NetDialer: nd, Config: s.tls}).DialContext(ctx, network, addr)
		} else {
			raw, err = nd.DialContext(ctx, network, addr)
		}
		if err != nil {
			return nil, err
		}
		c.raw = raw
		return raw, nil
	}
	client, err := mail.NewClient(s.cfg.Host, append(s.opts[:len(s.opts):len(s.opts)], mail.WithDialContextFunc(dialer))...)
	if err != nil {
		return nil, fmt.Errorf("configure SMTP client: %w", err)
	}
	if err := client.DialWithContext(ctx); err != nil {
		// go-mail leaves the connection open when EHLO, STARTTLS or AUTH fails.
		if c.raw != nil {
			_ = c.raw.Close()
		}
		return nil, fmt.Errorf("connect to SMTP relay: %w", err)
	}
	c.client = client
	c.lastUsed = s.now()
	s.logger.Debug("smtp connection opened", "conn", c.id)
	return c, nil
}

// discard closes a connection at once, without QUIT: after an error its
// state is not to be trusted.
func (s *SMTP) discard(c *conn) {
	if c.raw != nil {
		_ = c.raw.Close()
	}
	s.logger.Debug("smtp connection discarded", "conn", c.id, "sent", c.sent)
}

// quit closes a healthy connection politely.
func (s *SMTP) quit(c *conn) {
	if c.raw != nil {
		_ = c.raw.SetDeadline(time.Now().Add(min(s.cfg.Timeout, quitTimeout)))
	}
	if err := c.client.Close(); err != nil {
		s.logger.Debug("smtp QUIT failed", "conn", c.id, "error", redact(err))
	}
	if c.raw != nil {
		_ = c.raw.Close()
	}
	s.logger.Debug("smtp connection closed", "conn", c.id, "sent", c.sent)
}

// Check opens one connection to the relay as Send would (TCP or TLS,
// greeting, EHLO, STARTTLS when required, AUTH when credentials are set)
// and closes it with QUIT. It sends no message.
func (s *SMTP) Check(ctx context.Context) error {
	ctx, cancel := context.WithTimeout(ctx, s.cfg.Timeout)
	defer cancel()
	c, err := s.dial(ctx)
	if err != nil {
		return err
	}
	s.quit(c)
	return nil
}
