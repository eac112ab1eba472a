package main

import (
	"context"
	"crypto/tls"
	"fmt"
	"io"
	"log/slog"
	"net"
	"time"

	"github.com/nudgehq/nudge/internal/config"
	"github.com/nudgehq/nudge/internal/doctor"
	"github.com/nudgehq/nudge/internal/email"
	"github.com/nudgehq/nudge/internal/sms"
)

const doctorUsage = `Usage:
  nudge doctor
        check, with this environment's NUDGE_* settings, what nudge depends on:
          redis   answers PING quickly, is 5.0 or later, maxmemory-policy noeviction,
                  AOF or RDB snapshots on
          smtp    the relay: connect, EHLO, STARTTLS (when required), AUTH (when
                  credentials are set), QUIT; no message is sent
          twilio  the credentials fetch the account, it is active, and the sending
                  number (or messaging service) exists; no message is sent
          dkim    the key published at <selector>._domainkey.<domain> matches the
                  private key
        One line per check: "ok", "FAIL: reason" or "not configured". Exits 1 when
        a check fails, 2 when the settings themselves are wrong, 0 otherwise.
`

// doctorTimeout bounds each check.
const doctorTimeout = 15 * time.Second

// doctorDeps are what the checks reach the outside through; tests replace
// them.
type doctorDeps struct {
	lookupTXT doctor.LookupTXT
	// tls is used for the SMTP relay and Twilio; nil: the system's roots.
	tls *tls.Config
}

func defaultDoctorDeps() doctorDeps {
	return doctorDeps{lookupTXT: net.DefaultResolver.LookupTXT}
}

// doctorCommand runs "nudge doctor".
func doctorCommand(ctx context.Context, args []string, getenv func(string) string, stdout, stderr io.Writer, deps doctorDeps) int {
	if wantsHelp(args) {
		fmt.Fprint(stdout, doctorUsage)
		return 0
	}
	if len(args) > 0 {
		fmt.Fprintf(stderr, "nudge doctor takes no arguments (it checks the NUDGE_* settings)\n\n%s", doctorUsage)
		return 2
	}
	cfg, err := config.Load(getenv)
	if err != nil {
		fmt.Fprintf(stderr, "nudge: the configuration has problems:\n%v\n", err)
		return 2
	}
	checks := []struct {
		name string
		run  func(context.Context, config.Config, doctorDeps) (string, error)
	}{
		{"redis", doctorRedis},
		{"smtp", doctorSMTP},
		{"twilio", doctorTwilio},
		{"dkim", doctorDKIM},
	}
	failed := false
	for _, c := range checks {
		cctx, cancel := context.WithTimeout(ctx, doctorTimeout)
		detail, err := c.run(cctx, cfg, deps)
		cancel()
		switch {
		case err != nil:
			failed = true
			fmt.Fprintf(stdout, "%-7s FAIL: %v\n", c.name, err)
		case detail == "":
			fmt.Fprintf(stdout, "%-7s not configured\n", c.name)
		default:
			fmt.Fprintf(stdout, "%-7s ok (%s)\n", c.name, detail)
		}
	}
	if failed {
		return 1
	}
	return 0
}

// Each check returns "" for a part that is not configured.

func doctorRedis(ctx context.Context, cfg config.Config, _ doctorDeps) (string, error) {
	if cfg.EmbeddedRedis() {
		return "", nil
	}
	rdb := cfg.Redis.NewClient()
	defer rdb.Close()
	return doctor.Redis(ctx, rdb)
}

func doctorSMTP(ctx context.Context, cfg config.Config, deps doctorDeps) (string, error) {
	if cfg.DevOutbox() {
		return "", nil
	}
	s, err := email.NewSMTP(email.SMTPConfig{
		Host: cfg.SMTP.Host, Port: cfg.SMTP.Port, Username: string(cfg.SMTP.Username), Password: string(cfg.SMTP.Password),
		TLS: cfg.SMTP.TLS, PoolSize: 1, HELO: cfg.BaseURL.Hostname(), Timeout: doctorTimeout, TLSConfig: deps.tls,
	}, slog.New(slog.DiscardHandler))
	if err != nil {
		return "", err
	}
	defer s.Close()
	if err := s.Check(ctx); err != nil {
		return "", err
	}
	detail := fmt.Sprintf("%s, %s", net.JoinHostPort(cfg.SMTP.Host, fmt.Sprint(cfg.SMTP.Port)), map[string]string{
		config.TLSNone: "no TLS", config.TLSStartTLS: "STARTTLS", config.TLSImplicit: "TLS",
	}[cfg.SMTP.TLS])
	if cfg.SMTP.Username != "" {
		detail += ", AUTH accepted"
	}
	return detail, nil
}

func doctorTwilio(ctx context.Context, cfg config.Config, deps doctorDeps) (string, error) {
	if !cfg.SMSEnabled() {
		return "", nil
	}
	apiURL := ""
	if cfg.Twilio.APIURL != nil {
		apiURL = cfg.Twilio.APIURL.String()
	}
	t, err := sms.NewTwilio(sms.Config{
		AccountSID: cfg.Twilio.AccountSID, AuthToken: string(cfg.Twilio.AuthToken),
		From: cfg.Twilio.From, MessagingServiceSID: cfg.Twilio.MessagingServiceSID,
		APIURL: apiURL, MaxConns: 2, Timeout: doctorTimeout, TLSConfig: deps.tls,
	}, slog.New(slog.DiscardHandler))
	if err != nil {
		return "", err
	}
	defer t.Close()
	return t.Check(ctx)
}

func doctorDKIM(ctx context.Context, cfg config.Config, deps doctorDeps) (string, error) {
	if !cfg.DKIMEnabled() {
		return "", nil
	}
	return doctor.DKIM(ctx, deps.lookupTXT, cfg.DKIM.Domain, cfg.DKIM.Selector, cfg.DKIM.Key.Signer().Public())
}
