// Package config reads nudge's settings from the environment.
//
// Load checks every variable and reports all problems at once, one line per
// problem, each naming its variable, so an operator fixes a bad deployment in
// one round. Development needs no settings at all: what is missing is replaced
// by an embedded or local stand-in and reported in Config.Warnings. Production
// (NUDGE_ENV=production) never falls back: a missing Redis, SMTP relay, sender
// address, postal address or signing key stops the start.
//
// Secrets (passwords, tokens, the signing key, a Redis URL that may hold a
// password) have the type Secret, which prints, logs and marshals as
// "[redacted]"; a whole Config logs through its LogValue, which shows
// Redacted. Use string(secret) only where the value is handed to its user.
// The DKIM private key is kept parsed, as a *DKIMKey, which redacts itself
// the same way.
package config

import (
	"errors"
	"fmt"
	"io/fs"
	"log/slog"
	"math"
	"net"
	"net/mail"
	"net/netip"
	"net/url"
	"os"
	"strconv"
	"strings"
	"time"

	"github.com/nudgehq/nudge/internal/clientip"
	"github.com/nudgehq/nudge/internal/crisis"
	"github.com/nudgehq/nudge/internal/redisconn"
	"github.com/nudgehq/nudge/scheduler"
)

// Env is the kind of deployment.
type Env string

// The two environments.
const (
	Development Env = "development"
	Production  Env = "production"
)

// DevSecret is the signing key used in development when NUDGE_SECRET is not
// set. It is public (it is in the source), so production refuses it.
const DevSecret = "nudge-development-secret-NOT-FOR-PRODUCTION-use"

// MinSecretLen is the least number of bytes NUDGE_SECRET must have.
const MinSecretLen = 32

// MinAdminTokenLen is the least number of bytes NUDGE_ADMIN_TOKEN must
// have: it is compared, never rate-limited, so it must be unguessable.
const MinAdminTokenLen = 32

// The SMTP connection security modes.
const (
	TLSNone     = "none"     // plain text; only for a relay on the same host or network
	TLSStartTLS = "starttls" // plain connection upgraded with STARTTLS, which is required
	TLSImplicit = "tls"      // TLS from the first byte (SMTPS, usually port 465)
)

// Secret is a setting that must never be printed or logged. Its String,
// GoString and LogValue show only whether it is set.
type Secret string

// String returns "[redacted]" for a set secret and "" for an empty one.
func (s Secret) String() string {
	if s == "" {
		return ""
	}
	return "[redacted]"
}

// GoString keeps %#v from printing the secret.
func (s Secret) GoString() string { return strconv.Quote(s.String()) }

// LogValue keeps slog from printing the secret.
func (s Secret) LogValue() slog.Value { return slog.StringValue(s.String()) }

// MarshalText keeps encoding/json (and so slog's JSON handler, which
// marshals structs) from printing the secret.
func (s Secret) MarshalText() ([]byte, error) { return []byte(s.String()), nil }

// SMTP holds the relay settings (NUDGE_SMTP_*). An empty Host means the dev outbox.
type SMTP struct {
	Host     string
	Port     int
	Username Secret // some relays use an API token as the user name
	Password Secret
	TLS      string // TLSNone, TLSStartTLS or TLSImplicit
	PoolSize int    // open connections per worker process
}

// Twilio holds the SMS provider settings (NUDGE_TWILIO_*). They are either
// all missing (no SMS provider) or complete.
type Twilio struct {
	AccountSID          string
	AuthToken           Secret
	From                string // a sending number, or
	MessagingServiceSID string // a messaging service; exactly one of the two is set
	APIURL              *url.URL
}

// DKIM holds the email signing settings (NUDGE_DKIM_*). They are either all
// missing (email goes out unsigned, or signed by the relay) or complete.
type DKIM struct {
	Domain   string   // the signing domain (d=), lower case
	Selector string   // the selector (s=): the public key is at <Selector>._domainkey.<Domain>
	Key      *DKIMKey // nil when DKIM is off
	// KeyFile is the file Key was read from; empty when it came from
	// NUDGE_DKIM_PRIVATE_KEY.
	KeyFile string
}

// Config is nudge's whole configuration. Treat it as read-only after Load.
type Config struct {
	Env      Env
	HTTPAddr string
	// BaseURL is the public address every link in a message starts with,
	// without a trailing slash. Use URL to build links.
	BaseURL *url.URL

	// RedisURL is NUDGE_REDIS_URL as given (it may carry a password); Redis
	// is its parsed form (one Redis, or a primary found through Sentinel).
	// Both are empty when the embedded Redis is used.
	RedisURL    Secret
	Redis       *redisconn.Options
	RedisPrefix string

	SMTP      SMTP
	EmailFrom mail.Address
	// DKIM, when complete, has every email signed (see DKIMEnabled).
	DKIM DKIM

	// Secret is the key that signs the tokens in links.
	Secret        Secret
	PostalAddress string

	// TemplatesDir is a directory of message files laid over the embedded
	// copy library (see package templates); empty means none.
	TemplatesDir string

	GraceWindow       time.Duration
	WorkerConcurrency int
	PlannerInterval   time.Duration
	PlannerHorizon    time.Duration

	LogLevel  slog.Level
	LogFormat string // "text" or "json"

	Twilio Twilio
	// EmailRate and SMSRate cap the whole fleet's sending, in messages per
	// second; 0 means no limit.
	EmailRate float64
	SMSRate   float64
	// SMSCountries are the ISO 3166 countries whose mobile numbers the form
	// accepts; the first is assumed for numbers typed without +code.
	SMSCountries []string
	// SMSWindow is the local-time window texts may go out in.
	SMSWindow scheduler.Window

	// TrustedProxies are the reverse proxies whose X-Forwarded-For and
	// Forwarded headers name the client (NUDGE_TRUSTED_PROXIES); none by
	// default, and the headers are then ignored.
	TrustedProxies []netip.Prefix
	// CrisisLines are the crisis resources given per country and language
	// (NUDGE_CRISIS_LINES: a JSON document or a file's path; empty: the
	// built-in ones).
	CrisisLines *crisis.Directory
	// ClinicAPIRate is each clinic's request budget on the clinic API, in
	// requests a second across the fleet (NUDGE_CLINIC_API_RATE, default
	// 20); 0 means no limit.
	ClinicAPIRate float64
	// ClinicIdempotencyKeys caps the idempotency records kept per clinic
	// (NUDGE_CLINIC_API_IDEMPOTENCY_KEYS, default 10,000).
	ClinicIdempotencyKeys int
	// WebhookAllow are inside networks clinics' webhook receivers may be
	// in all the same (NUDGE_WEBHOOK_ALLOW_CIDRS); none by default, so a
	// webhook reaches public addresses only (and loopback in development).
	WebhookAllow []netip.Prefix
	// MetricsAddr is where /metrics listens (NUDGE_METRICS_ADDR), apart
	// from the public HTTP server; empty: no metrics.
	MetricsAddr string
	// AdminToken opens the queue monitor at /admin/queues
	// (NUDGE_ADMIN_TOKEN); empty: no admin pages at all.
	AdminToken Secret

	// DevClock, when set (NUDGE_DEV_CLOCK, development only), runs every
	// part on a simulated clock instead of the wall clock: for soak runs
	// that pass a week in half an hour.
	DevClock *DevClock

	// Warnings are things an operator should know at start (an embedded
	// Redis, the development signing key, …); log each one.
	Warnings []string
}

// Production reports whether nudge runs as a production deployment.
func (c Config) Production() bool { return c.Env == Production }

// EmbeddedRedis reports whether nudge runs an in-process Redis whose data is
// lost when it stops (development without NUDGE_REDIS_URL).
func (c Config) EmbeddedRedis() bool { return c.Redis == nil }

// DevOutbox reports whether email goes to the dev outbox instead of an SMTP
// relay (development without NUDGE_SMTP_HOST).
func (c Config) DevOutbox() bool { return c.SMTP.Host == "" }

// DKIMEnabled reports whether the DKIM settings are complete, so every email
// sent through the relay is signed.
func (c Config) DKIMEnabled() bool { return c.DKIM.Key != nil }

// SMSEnabled reports whether the Twilio settings are complete, so SMS go to
// Twilio.
func (c Config) SMSEnabled() bool { return c.Twilio.AccountSID != "" }

// SMSOutbox reports whether SMS go to the dev outbox: development without
// Twilio settings. In production without them the SMS channel is not offered.
func (c Config) SMSOutbox() bool { return !c.Production() && !c.SMSEnabled() }

// URL joins the public base URL and path ("/confirm?t=…") into an absolute URL.
func (c Config) URL(path string) string {
	if c.BaseURL == nil {
		return path
	}
	base := c.BaseURL.String()
	if path == "" {
		return base
	}
	if path[0] == '?' || path[0] == '#' {
		return base + path
	}
	return base + "/" + strings.TrimLeft(path, "/")
}

// The environment variables Load reads.
const (
	varEnv               = "NUDGE_ENV"
	varHTTPAddr          = "NUDGE_HTTP_ADDR"
	varBaseURL           = "NUDGE_BASE_URL"
	varRedisURL          = "NUDGE_REDIS_URL"
	varRedisPrefix       = "NUDGE_REDIS_PREFIX"
	varSMTPHost          = "NUDGE_SMTP_HOST"
	varSMTPPort          = "NUDGE_SMTP_PORT"
	varSMTPUsername      = "NUDGE_SMTP_USERNAME"
	varSMTPPassword      = "NUDGE_SMTP_PASSWORD"
	varSMTPTLS           = "NUDGE_SMTP_TLS"
	varSMTPPool          = "NUDGE_SMTP_POOL"
	varEmailFrom         = "NUDGE_EMAIL_FROM"
	varSecret            = "NUDGE_SECRET"
	varPostalAddress     = "NUDGE_POSTAL_ADDRESS"
	varTemplatesDir      = "NUDGE_TEMPLATES_DIR"
	varGraceWindow       = "NUDGE_GRACE_WINDOW"
	varWorkerConcurrency = "NUDGE_WORKER_CONCURRENCY"
	varPlannerInterval   = "NUDGE_PLANNER_INTERVAL"
	varPlannerHorizon    = "NUDGE_PLANNER_HORIZON"
	varLogLevel          = "NUDGE_LOG_LEVEL"
	varLogFormat         = "NUDGE_LOG_FORMAT"
	varTwilioSID         = "NUDGE_TWILIO_ACCOUNT_SID"
	varTwilioToken       = "NUDGE_TWILIO_AUTH_TOKEN"
	varTwilioFrom        = "NUDGE_TWILIO_FROM"
	varTwilioService     = "NUDGE_TWILIO_MESSAGING_SERVICE_SID"
	varTwilioAPIURL      = "NUDGE_TWILIO_API_URL"
	varEmailRate         = "NUDGE_EMAIL_RATE"
	varSMSRate           = "NUDGE_SMS_RATE"
	varSMSCountries      = "NUDGE_SMS_COUNTRIES"
	varSMSWindow         = "NUDGE_SMS_WINDOW"
	varDKIMDomain        = "NUDGE_DKIM_DOMAIN"
	varDKIMSelector      = "NUDGE_DKIM_SELECTOR"
	varDKIMKey           = "NUDGE_DKIM_PRIVATE_KEY"
	varDKIMKeyFile       = "NUDGE_DKIM_PRIVATE_KEY_FILE"
	varTrustedProxies    = "NUDGE_TRUSTED_PROXIES"
	varCrisisLines       = "NUDGE_CRISIS_LINES"
	varMetricsAddr       = "NUDGE_METRICS_ADDR"
	varAdminToken        = "NUDGE_ADMIN_TOKEN"
	varWebhookAllow      = "NUDGE_WEBHOOK_ALLOW_CIDRS"
	varClinicAPIRate     = "NUDGE_CLINIC_API_RATE"
	varClinicIdemKeys    = "NUDGE_CLINIC_API_IDEMPOTENCY_KEYS"
	varDevClock          = "NUDGE_DEV_CLOCK"
)

// Development defaults.
const (
	defaultHTTPAddr      = ":8080"
	defaultBaseURL       = "http://localhost:8080"
	defaultRedisPrefix   = "nudge:"
	defaultEmailFrom     = "nudge <nudge@localhost>"
	defaultPostalAddress = "nudge (development), 1 Example Street, Exampletown"
	defaultSMTPPool      = 4
	// A clinic's integration rarely needs more; it keeps one clinic from
	// taking the API (and Redis) from the others.
	defaultClinicAPIRate  = 20
	defaultClinicIdemKeys = 10_000
)

// loader collects values and problems while Load walks the variables.
type loader struct {
	getenv   func(string) string
	problems []error
	prod     bool
}

// get returns a variable with surrounding white space removed.
func (l *loader) get(name string) string { return strings.TrimSpace(l.getenv(name)) }

// fail records one problem with a variable.
func (l *loader) fail(name, format string, args ...any) {
	l.problems = append(l.problems, fmt.Errorf("%s: "+format, append([]any{name}, args...)...))
}

// Load reads the configuration through getenv (os.Getenv in main). It returns
// every problem it finds, joined, one per line.
func Load(getenv func(string) string) (Config, error) {
	l := &loader{getenv: getenv}
	var c Config

	switch v := l.get(varEnv); v {
	case "", string(Development):
		c.Env = Development
	case string(Production):
		c.Env = Production
	default:
		l.fail(varEnv, "%q is not an environment (development or production)", v)
		c.Env = Development // check the rest as development
	}
	l.prod = c.Production()

	c.HTTPAddr = l.httpAddr()
	c.BaseURL = l.baseURL()
	c.RedisURL, c.Redis = l.redis()
	c.RedisPrefix = l.redisPrefix()
	c.SMTP = l.smtp()
	c.EmailFrom = l.emailFrom()
	c.DKIM = l.dkim()
	c.Secret = l.secret()
	c.PostalAddress = l.postalAddress()
	c.TemplatesDir = l.templatesDir()
	c.GraceWindow = l.duration(varGraceWindow, 6*time.Hour, time.Minute, 48*time.Hour)
	c.WorkerConcurrency = l.integer(varWorkerConcurrency, 10, 1, 1000)
	c.PlannerInterval = l.duration(varPlannerInterval, 5*time.Second, 100*time.Millisecond, 10*time.Minute)
	c.PlannerHorizon = l.duration(varPlannerHorizon, time.Minute, time.Second, time.Hour)
	if c.PlannerHorizon < c.PlannerInterval {
		l.fail(varPlannerHorizon, "%s is shorter than %s (%s): messages would be enqueued late",
			c.PlannerHorizon, varPlannerInterval, c.PlannerInterval)
	}
	c.LogLevel = l.logLevel()
	c.LogFormat = l.oneOf(varLogFormat, "text", "text", "json")
	c.Twilio = l.twilio()
	c.EmailRate = l.rate(varEmailRate)
	c.SMSRate = l.rate(varSMSRate)
	c.SMSCountries = l.countries()
	c.SMSWindow = l.smsWindow()
	c.TrustedProxies = l.trustedProxies()
	c.CrisisLines = l.crisisLines()
	c.WebhookAllow = l.webhookAllow()
	c.ClinicAPIRate = defaultClinicAPIRate
	if l.get(varClinicAPIRate) != "" {
		c.ClinicAPIRate = l.rate(varClinicAPIRate)
	}
	c.ClinicIdempotencyKeys = l.integer(varClinicIdemKeys, defaultClinicIdemKeys, 100, 1_000_000)
	c.MetricsAddr = l.listenAddr(varMetricsAddr, "")
	// Port 0 asks for any free port: two such listeners never clash.
	if c.MetricsAddr != "" && c.MetricsAddr == c.HTTPAddr && !strings.HasSuffix(c.MetricsAddr, ":0") {
		l.fail(varMetricsAddr, "%q is %s too: metrics need a listener of their own", c.MetricsAddr, varHTTPAddr)
	}
	c.AdminToken = l.adminToken()
	c.DevClock = l.devClock()

	c.Warnings = warnings(c)
	if len(l.problems) > 0 {
		return Config{}, errors.Join(l.problems...)
	}
	return c, nil
}

// warnings lists what an operator should know about a configuration that loaded.
func warnings(c Config) []string {
	var w []string
	if c.EmbeddedRedis() {
		w = append(w, varRedisURL+" is not set: using an in-process Redis; all data is lost when nudge stops")
	}
	if c.DevOutbox() {
		w = append(w, varSMTPHost+" is not set: email goes to the dev outbox, not to anyone's inbox")
	}
	if c.SMSOutbox() {
		w = append(w, "no "+varTwilioSID+": SMS go to the dev outbox")
	}
	if c.Production() && !c.SMSEnabled() {
		w = append(w, "no "+varTwilioSID+": the SMS channel is not offered")
	}
	if c.DevClock != nil {
		w = append(w, fmt.Sprintf("%s is set: time runs %gx from %s, not on the wall clock", varDevClock, c.DevClock.Speed, c.DevClock.Start.Format(time.RFC3339)))
	}
	if c.Secret == DevSecret {
		w = append(w, varSecret+" is not set: using the public development signing key; links are forgeable")
	}
	if c.Production() && c.SMTP.TLS == TLSNone {
		w = append(w, varSMTPTLS+"=none: email leaves this host unencrypted")
	}
	if c.DKIMEnabled() {
		w = append(w, dkimWarnings(c)...)
	}
	for _, p := range c.WebhookAllow {
		for _, a := range []netip.Addr{metadataAddr, netip.IPv6Loopback(), netip.AddrFrom4([4]byte{127, 0, 0, 1})} {
			if p.Contains(a) {
				w = append(w, fmt.Sprintf("%s lists %s, which holds %s: clinics' webhooks can reach it", varWebhookAllow, p, a))
			}
		}
	}
	return w
}

// listenAddr reads an optional listen address (host:port); def when unset.
func (l *loader) listenAddr(name, def string) string {
	v := l.get(name)
	if v == "" {
		return def
	}
	_, port, err := net.SplitHostPort(v)
	if err != nil {
		l.fail(name, "%q is not a listen address (host:port, e.g. :9090)", v)
		return ""
	}
	if n, err := strconv.Atoi(port); err != nil || n < 0 || n > 65535 {
		l.fail(name, "%q is not a listen address: %q is not a port number (0-65535)", v, port)
		return ""
	}
	return v
}

func (l *loader) httpAddr() string {
	v := l.get(varHTTPAddr)
	if v == "" {
		return defaultHTTPAddr
	}
	_, port, err := net.SplitHostPort(v)
	if err != nil {
		l.fail(varHTTPAddr, "%q is not a listen address (host:port, e.g. :8080)", v)
		return v
	}
	if n, err := strconv.Atoi(port); err != nil || n < 0 || n > 65535 {
		l.fail(varHTTPAddr, "%q is not a listen address: %q is not a port number (0-65535)", v, port)
	}
	return v
}

func (l *loader) baseURL() *url.URL {
	v := l.get(varBaseURL)
	if v == "" {
		if l.prod {
			l.fail(varBaseURL, "required in production (the public https:// address used in every link)")
			return nil
		}
		v = defaultBaseURL
	}
	u, err := url.Parse(v)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" || u.Opaque != "" {
		l.fail(varBaseURL, "%q is not an absolute http:// or https:// URL", v)
		return nil
	}
	switch {
	case u.User != nil:
		l.fail(varBaseURL, "must not contain a user name or password")
		return nil
	case u.RawQuery != "" || u.ForceQuery || u.Fragment != "":
		l.fail(varBaseURL, "%q must not have a query or fragment", v)
		return nil
	case l.prod && u.Scheme != "https":
		l.fail(varBaseURL, "%q must use https in production", v)
		return nil
	}
	u.Path = strings.TrimRight(u.Path, "/")
	u.RawPath = strings.TrimRight(u.RawPath, "/")
	return u
}

func (l *loader) redis() (Secret, *redisconn.Options) {
	v := l.getenv(varRedisURL)
	v = strings.TrimSpace(v)
	if v == "" {
		if l.prod {
			l.fail(varRedisURL, "required in production (without it nudge would keep its data in memory only)")
		}
		return "", nil
	}
	// Never echo the value: it may carry a password (redisconn's errors
	// quote only the redacted URL).
	opts, err := redisconn.Parse(v)
	if err != nil {
		l.fail(varRedisURL, "%s", err)
		return "", nil
	}
	return Secret(v), opts
}

func (l *loader) redisPrefix() string {
	v := l.get(varRedisPrefix)
	if v == "" {
		return defaultRedisPrefix
	}
	if len(v) > 64 || strings.ContainsFunc(v, func(r rune) bool { return r <= ' ' || r == 0x7f }) {
		l.fail(varRedisPrefix, "%q must be at most 64 bytes without spaces or control characters", v)
	}
	return v
}

func (l *loader) smtp() SMTP {
	s := SMTP{
		Host:     l.get(varSMTPHost),
		Username: Secret(l.getenv(varSMTPUsername)),
		Password: Secret(l.getenv(varSMTPPassword)),
		TLS:      l.oneOf(varSMTPTLS, TLSStartTLS, TLSNone, TLSStartTLS, TLSImplicit),
		PoolSize: l.integer(varSMTPPool, defaultSMTPPool, 1, 100),
	}
	defaultPort := 587
	if s.TLS == TLSImplicit {
		defaultPort = 465
	}
	s.Port = l.port(varSMTPPort, defaultPort)

	if s.Host == "" {
		if l.prod {
			l.fail(varSMTPHost, "required in production (without it email would go to the dev outbox)")
			return s
		}
		// Settings without a host are a mistake, not a request for the outbox.
		var set []string
		for _, name := range []string{varSMTPPort, varSMTPUsername, varSMTPPassword, varSMTPTLS} {
			if l.getenv(name) != "" {
				set = append(set, name)
			}
		}
		if len(set) > 0 {
			l.fail(varSMTPHost, "empty, but %s set; set the host too, or unset them to use the dev outbox",
				strings.Join(set, ", "))
		}
		return s
	}
	if strings.ContainsAny(s.Host, " /:@") && net.ParseIP(s.Host) == nil {
		l.fail(varSMTPHost, "%q is not a host name (give the port in %s)", s.Host, varSMTPPort)
	}
	if s.Username != "" && s.Password == "" {
		l.fail(varSMTPPassword, "required when %s is set", varSMTPUsername)
	}
	if s.Password != "" && s.Username == "" {
		l.fail(varSMTPUsername, "required when %s is set", varSMTPPassword)
	}
	return s
}

func (l *loader) emailFrom() mail.Address {
	v := l.get(varEmailFrom)
	if v == "" {
		if l.prod {
			l.fail(varEmailFrom, "required in production (the sender address, e.g. \"nudge <nudge@example.org>\")")
			return mail.Address{}
		}
		v = defaultEmailFrom
	}
	a, err := mail.ParseAddress(v)
	if err != nil {
		l.fail(varEmailFrom, "%q is not an email address", v)
		return mail.Address{}
	}
	return *a
}

func (l *loader) secret() Secret {
	v := l.getenv(varSecret)
	switch {
	case v == "" && l.prod:
		l.fail(varSecret, "required in production (at least %d random bytes, e.g. from `openssl rand -base64 48`)", MinSecretLen)
		return ""
	case v == "":
		return DevSecret
	case v == DevSecret && l.prod:
		l.fail(varSecret, "is the public development key; production needs its own")
		return ""
	case len(v) < MinSecretLen:
		// Never echo the value, not even its start.
		l.fail(varSecret, "too short (%d bytes; at least %d)", len(v), MinSecretLen)
		return ""
	}
	return Secret(v)
}

func (l *loader) adminToken() Secret {
	v := l.getenv(varAdminToken)
	if v != "" && len(v) < MinAdminTokenLen {
		// Never echo the value, not even its start.
		l.fail(varAdminToken, "too short (%d bytes; at least %d random bytes, e.g. from `openssl rand -base64 32`)", len(v), MinAdminTokenLen)
		return ""
	}
	if strings.TrimSpace(v) != v {
		l.fail(varAdminToken, "starts or ends with a space")
		return ""
	}
	return Secret(v)
}

// DevClock is a simulated clock: it reads Start at the real instant Anchor
// and runs Speed times faster than the wall clock from there.
type DevClock struct {
	Start  time.Time
	Speed  float64
	Anchor time.Time
}

// Now returns the simulated time at the real instant real.
func (d DevClock) Now(real time.Time) time.Time {
	return d.Start.Add(time.Duration(float64(real.Sub(d.Anchor)) * d.Speed))
}

// devClock reads NUDGE_DEV_CLOCK, START@SPEED[@ANCHOR]: the simulated
// clock reads START (RFC 3339) at the real instant ANCHOR (RFC 3339; by
// default when the configuration is loaded) and runs SPEED times the wall
// clock (360: an hour every 10 s). Processes that must share one simulated
// clock (a scheduler and its workers, restarted) share the ANCHOR. It is
// refused unless NUDGE_ENV=development is set explicitly.
func (l *loader) devClock() *DevClock {
	v := l.get(varDevClock)
	if v == "" {
		return nil
	}
	if l.get(varEnv) != string(Development) {
		l.fail(varDevClock, "a simulated clock is for development only: set %s=development to use it, or unset %s", varEnv, varDevClock)
		return nil
	}
	const want = "want START@SPEED[@ANCHOR], e.g. 2026-11-30T00:00:00Z@360"
	parts := strings.Split(v, "@")
	if len(parts) < 2 || len(parts) > 3 {
		l.fail(varDevClock, "%q not understood: %s", v, want)
		return nil
	}
	start, err := time.Parse(time.RFC3339, parts[0])
	if err != nil {
		l.fail(varDevClock, "%q: the start %q is not an RFC 3339 time: %s", v, parts[0], want)
		return nil
	}
	speed, err := strconv.ParseFloat(parts[1], 64)
	if err != nil || speed <= 0 || speed > 100_000 || math.IsNaN(speed) {
		l.fail(varDevClock, "%q: the speed %q is not a number above 0 and at most 100000: %s", v, parts[1], want)
		return nil
	}
	anchor := time.Now()
	if len(parts) == 3 {
		if anchor, err = time.Parse(time.RFC3339Nano, parts[2]); err != nil {
			l.fail(varDevClock, "%q: the anchor %q is not an RFC 3339 time: %s", v, parts[2], want)
			return nil
		}
	}
	return &DevClock{Start: start, Speed: speed, Anchor: anchor}
}

func (l *loader) postalAddress() string {
	v := l.get(varPostalAddress)
	if v == "" {
		if l.prod {
			l.fail(varPostalAddress, "required in production (the sender's postal address for the email footer)")
			return ""
		}
		return defaultPostalAddress
	}
	if strings.ContainsFunc(v, func(r rune) bool { return r < ' ' && r != '\n' }) {
		l.fail(varPostalAddress, "must not contain control characters")
	}
	return v
}

// templatesDir checks that the override directory exists; its files are
// checked when the library is loaded, each problem naming its file and line.
func (l *loader) templatesDir() string {
	v := l.get(varTemplatesDir)
	if v == "" {
		return ""
	}
	st, err := os.Stat(v)
	switch {
	case errors.Is(err, fs.ErrNotExist):
		l.fail(varTemplatesDir, "%q does not exist (a directory laid out like templates/: <locale>/<program>/NN-slug.txt)", v)
	case err != nil:
		var pe *fs.PathError
		if errors.As(err, &pe) {
			err = pe.Err
		}
		l.fail(varTemplatesDir, "%q cannot be read: %v", v, err)
	case !st.IsDir():
		l.fail(varTemplatesDir, "%q is not a directory", v)
	}
	return v
}

func (l *loader) logLevel() slog.Level {
	switch v := strings.ToLower(l.get(varLogLevel)); v {
	case "", "info":
		return slog.LevelInfo
	case "debug":
		return slog.LevelDebug
	case "warn":
		return slog.LevelWarn
	case "error":
		return slog.LevelError
	default:
		l.fail(varLogLevel, "%q is not a log level (debug, info, warn or error)", v)
		return slog.LevelInfo
	}
}

func (l *loader) twilio() Twilio {
	t := Twilio{
		AccountSID:          l.get(varTwilioSID),
		AuthToken:           Secret(l.getenv(varTwilioToken)),
		From:                l.get(varTwilioFrom),
		MessagingServiceSID: l.get(varTwilioService),
	}
	if v := l.get(varTwilioAPIURL); v != "" {
		u, err := url.Parse(v)
		switch {
		case err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "":
			l.fail(varTwilioAPIURL, "%q is not an absolute http:// or https:// URL", v)
		case u.User != nil:
			l.fail(varTwilioAPIURL, "must not contain a user name or password")
		case u.RawQuery != "" || u.ForceQuery || u.Fragment != "":
			l.fail(varTwilioAPIURL, "%q must not have a query or fragment", v)
		case l.prod && u.Scheme != "https":
			l.fail(varTwilioAPIURL, "%q must use https in production", v)
		default:
			u.Path = strings.TrimRight(u.Path, "/")
			t.APIURL = u
		}
	}

	if t.AccountSID == "" && t.AuthToken == "" && t.From == "" && t.MessagingServiceSID == "" {
		return Twilio{APIURL: t.APIURL}
	}
	// A partial set: name every missing piece.
	ok := true
	if t.AccountSID == "" {
		l.fail(varTwilioSID, "required when other NUDGE_TWILIO_ settings are set")
		ok = false
	} else if !twilioSID(t.AccountSID, "AC") {
		l.fail(varTwilioSID, "%q is not an account SID (AC followed by 32 hex digits)", t.AccountSID)
		ok = false
	}
	if t.AuthToken == "" {
		l.fail(varTwilioToken, "required when other NUDGE_TWILIO_ settings are set")
		ok = false
	} else if !alphanumeric(string(t.AuthToken)) {
		// twilio-go refuses such a token at every request; never echo it.
		l.fail(varTwilioToken, "must be letters and digits only (as Twilio's console shows it)")
		ok = false
	}
	switch {
	case t.From == "" && t.MessagingServiceSID == "":
		l.fail(varTwilioFrom, "required (or %s) when other NUDGE_TWILIO_ settings are set", varTwilioService)
		ok = false
	case t.From != "" && t.MessagingServiceSID != "":
		l.fail(varTwilioFrom, "set either it or %s, not both", varTwilioService)
		ok = false
	case t.MessagingServiceSID != "" && !twilioSID(t.MessagingServiceSID, "MG"):
		l.fail(varTwilioService, "%q is not a messaging service SID (MG followed by 32 hex digits)", t.MessagingServiceSID)
		ok = false
	}
	if !ok {
		return Twilio{}
	}
	return t
}

// alphanumeric reports whether s is ASCII letters and digits only.
func alphanumeric(s string) bool {
	for _, r := range s {
		if !('0' <= r && r <= '9' || 'a' <= r && r <= 'z' || 'A' <= r && r <= 'Z') {
			return false
		}
	}
	return true
}

// twilioSID reports whether s is a Twilio SID: a two-letter prefix and 32 hex digits.
func twilioSID(s, prefix string) bool {
	if len(s) != 34 || !strings.HasPrefix(s, prefix) {
		return false
	}
	for _, r := range s[2:] {
		if !('0' <= r && r <= '9' || 'a' <= r && r <= 'f' || 'A' <= r && r <= 'F') {
			return false
		}
	}
	return true
}

// trustedProxies reads NUDGE_TRUSTED_PROXIES: networks (CIDR) or single
// addresses, separated by commas or spaces.
func (l *loader) trustedProxies() []netip.Prefix {
	v := l.get(varTrustedProxies)
	if v == "" {
		return nil
	}
	p, err := clientip.ParseCIDRs(v)
	if err != nil {
		l.fail(varTrustedProxies, "%v", err)
		return nil
	}
	return p
}

// crisisLines reads NUDGE_CRISIS_LINES; every error names the entry at
// fault.
func (l *loader) crisisLines() *crisis.Directory {
	d, err := crisis.ParseEnv(l.get(varCrisisLines))
	if err != nil {
		l.fail(varCrisisLines, "%v", err)
		return crisis.Default()
	}
	return d
}

// metadataAddr is the cloud metadata service, which hands out credentials.
var metadataAddr = netip.AddrFrom4([4]byte{169, 254, 169, 254})

// webhookAllow reads NUDGE_WEBHOOK_ALLOW_CIDRS: networks (CIDR) or single
// addresses, separated by commas or spaces. A network of every address
// (0.0.0.0/0, ::/0) is refused: it would switch the check off.
func (l *loader) webhookAllow() []netip.Prefix {
	v := l.get(varWebhookAllow)
	if v == "" {
		return nil
	}
	ps, err := clientip.ParseCIDRs(v)
	if err != nil {
		l.fail(varWebhookAllow, "%v", err)
		return nil
	}
	for _, p := range ps {
		if p.Bits() == 0 {
			l.fail(varWebhookAllow, "%s would allow every address; list the networks the receivers are in (e.g. 10.20.0.0/16)", p)
			return nil
		}
	}
	return ps
}

// countries reads NUDGE_SMS_COUNTRIES: comma-separated two-letter codes,
// default US.
func (l *loader) countries() []string {
	v := l.get(varSMSCountries)
	if v == "" {
		return []string{"US"}
	}
	var out []string
	for _, c := range strings.Split(v, ",") {
		c = strings.ToUpper(strings.TrimSpace(c))
		if len(c) != 2 || c[0] < 'A' || c[0] > 'Z' || c[1] < 'A' || c[1] > 'Z' {
			l.fail(varSMSCountries, "%q is not a list of two-letter country codes like US,GB,ES", v)
			return []string{"US"}
		}
		out = append(out, c)
	}
	return out
}

// smsWindow reads NUDGE_SMS_WINDOW, "HH:MM-HH:MM" inside 08:00-21:00.
func (l *loader) smsWindow() scheduler.Window {
	v := l.get(varSMSWindow)
	if v == "" {
		return scheduler.DefaultSMSWindow
	}
	w, err := scheduler.ParseWindow(v)
	if err != nil {
		l.fail(varSMSWindow, "%v", err)
		return scheduler.DefaultSMSWindow
	}
	return w
}

func (l *loader) rate(name string) float64 {
	v := l.get(name)
	if v == "" {
		return 0
	}
	f, err := strconv.ParseFloat(v, 64)
	if err != nil || math.IsNaN(f) || math.IsInf(f, 0) || f < 0 || f > 1e6 {
		l.fail(name, "%q is not a rate (messages per second, a number above 0; 0 or unset for no limit)", v)
		return 0
	}
	return f
}

// oneOf reads a variable that must be one of allowed (compared without case).
func (l *loader) oneOf(name, def string, allowed ...string) string {
	v := strings.ToLower(l.get(name))
	if v == "" {
		return def
	}
	for _, a := range allowed {
		if v == a {
			return v
		}
	}
	l.fail(name, "%q is not one of %s", v, strings.Join(allowed, ", "))
	return def
}

func (l *loader) integer(name string, def, lo, hi int) int {
	v := l.get(name)
	if v == "" {
		return def
	}
	n, err := strconv.Atoi(v)
	if err != nil || n < lo || n > hi {
		l.fail(name, "%q is not a whole number from %d to %d", v, lo, hi)
		return def
	}
	return n
}

func (l *loader) port(name string, def int) int {
	v := l.get(name)
	if v == "" {
		return def
	}
	n, err := strconv.Atoi(v)
	if err != nil || n < 1 || n > 65535 {
		l.fail(name, "%q is not a port number (1-65535)", v)
		return def
	}
	return n
}

func (l *loader) duration(name string, def, lo, hi time.Duration) time.Duration {
	v := l.get(name)
	if v == "" {
		return def
	}
	d, err := time.ParseDuration(v)
	if err != nil {
		l.fail(name, "%q is not a duration (e.g. 90s, 5m, 6h)", v)
		return def
	}
	if d < lo || d > hi {
		l.fail(name, "%s is out of range (%s to %s)", d, lo, hi)
		return def
	}
	return d
}
