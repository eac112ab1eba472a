package config

import (
	"bytes"
	"fmt"
	"github.com/nudgehq/nudge/internal/crisis"
	"github.com/nudgehq/nudge/scheduler"
	"log/slog"
	"net/mail"
	"net/netip"
	"net/url"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/google/go-cmp/cmp/cmpopts"
)

// env returns a getenv over a fixed map.
func env(vars map[string]string) func(string) string {
	return func(name string) string { return vars[name] }
}

// with returns base plus the overrides (an empty value unsets).
func with(base map[string]string, kv ...string) map[string]string {
	m := make(map[string]string, len(base)+len(kv)/2)
	for k, v := range base {
		m[k] = v
	}
	for i := 0; i+1 < len(kv); i += 2 {
		if kv[i+1] == "" {
			delete(m, kv[i])
			continue
		}
		m[kv[i]] = kv[i+1]
	}
	return m
}

const (
	testSecret     = "0123456789abcdef0123456789abcdef-prod"
	testSMTPPass   = "smtp-pass-MARKER"
	testSMTPUser   = "smtp-user-MARKER"
	testRedisPass  = "redis-pass-MARKER"
	testAuthToken  = "twiliotokenMARKER"
	testAdminToken = "admin-token-MARKER-0123456789abcdef"
	testSID        = "AC0123456789abcdef0123456789abcdef"
	testService    = "MG0123456789abcdef0123456789abcdef"
)

// production is a complete, valid production environment.
var production = map[string]string{
	"NUDGE_ENV":            "production",
	"NUDGE_BASE_URL":       "https://nudge.example.org/",
	"NUDGE_REDIS_URL":      "rediss://default:" + testRedisPass + "@redis.example.org:6380/2",
	"NUDGE_SMTP_HOST":      "smtp.example.org",
	"NUDGE_SMTP_USERNAME":  testSMTPUser,
	"NUDGE_SMTP_PASSWORD":  testSMTPPass,
	"NUDGE_EMAIL_FROM":     "Nudge <hello@example.org>",
	"NUDGE_SECRET":         testSecret,
	"NUDGE_POSTAL_ADDRESS": "Nudge, 1 High Street, Bristol",
}

func mustURL(t *testing.T, s string) *url.URL {
	t.Helper()
	u, err := url.Parse(s)
	if err != nil {
		t.Fatal(err)
	}
	return u
}

func TestLoadDefaults(t *testing.T) {
	t.Parallel()
	got, err := Load(env(nil))
	if err != nil {
		t.Fatalf("Load(empty) = %v", err)
	}
	want := Config{
		Env:                   Development,
		HTTPAddr:              ":8080",
		BaseURL:               mustURL(t, "http://localhost:8080"),
		RedisPrefix:           "nudge:",
		SMTP:                  SMTP{Port: 587, TLS: TLSStartTLS, PoolSize: 4},
		EmailFrom:             mail.Address{Name: "nudge", Address: "nudge@localhost"},
		Secret:                DevSecret,
		PostalAddress:         defaultPostalAddress,
		GraceWindow:           6 * time.Hour,
		WorkerConcurrency:     10,
		PlannerInterval:       5 * time.Second,
		PlannerHorizon:        time.Minute,
		LogLevel:              slog.LevelInfo,
		LogFormat:             "text",
		SMSCountries:          []string{"US"},
		SMSWindow:             scheduler.DefaultSMSWindow,
		ClinicAPIRate:         20,
		ClinicIdempotencyKeys: 10_000,
	}
	if diff := cmp.Diff(want, got, cmpopts.IgnoreFields(Config{}, "Warnings", "CrisisLines")); diff != "" {
		t.Errorf("defaults (-want +got):\n%s", diff)
	}
	if got.CrisisLines == nil || got.CrisisLines.SMS("MX", "es") != crisis.Default().SMS("MX", "es") {
		t.Errorf("crisis lines are not the built-in ones: %v", got.CrisisLines)
	}
	if !got.EmbeddedRedis() || !got.DevOutbox() || got.Production() || got.SMSEnabled() || !got.SMSOutbox() {
		t.Errorf("EmbeddedRedis=%v DevOutbox=%v Production=%v SMSEnabled=%v SMSOutbox=%v",
			got.EmbeddedRedis(), got.DevOutbox(), got.Production(), got.SMSEnabled(), got.SMSOutbox())
	}
	for _, w := range []string{"NUDGE_SECRET", "NUDGE_REDIS_URL", "NUDGE_SMTP_HOST"} {
		if !containsPrefix(got.Warnings, w) {
			t.Errorf("Warnings = %q, want one about %s", got.Warnings, w)
		}
	}
}

func containsPrefix(list []string, prefix string) bool {
	for _, s := range list {
		if strings.HasPrefix(s, prefix) {
			return true
		}
	}
	return false
}

func TestLoadProduction(t *testing.T) {
	t.Parallel()
	vars := with(production,
		"NUDGE_TWILIO_ACCOUNT_SID", testSID,
		"NUDGE_TWILIO_AUTH_TOKEN", testAuthToken,
		"NUDGE_TWILIO_MESSAGING_SERVICE_SID", testService,
		"NUDGE_TWILIO_API_URL", "https://twilio-proxy.example.org/",
		"NUDGE_SMTP_TLS", "TLS",
		"NUDGE_SMTP_POOL", "8",
		"NUDGE_GRACE_WINDOW", "90m",
		"NUDGE_WORKER_CONCURRENCY", "50",
		"NUDGE_PLANNER_INTERVAL", "2s",
		"NUDGE_PLANNER_HORIZON", "30s",
		"NUDGE_LOG_LEVEL", "debug",
		"NUDGE_LOG_FORMAT", "json",
		"NUDGE_EMAIL_RATE", "12.5",
		"NUDGE_SMS_RATE", "1",
		"NUDGE_REDIS_PREFIX", "n1:",
		"NUDGE_HTTP_ADDR", "127.0.0.1:9000",
	)
	c, err := Load(env(vars))
	if err != nil {
		t.Fatalf("Load = %v", err)
	}
	if !c.Production() || c.EmbeddedRedis() || c.DevOutbox() || !c.SMSEnabled() || c.SMSOutbox() {
		t.Errorf("Production=%v EmbeddedRedis=%v DevOutbox=%v SMSEnabled=%v SMSOutbox=%v",
			c.Production(), c.EmbeddedRedis(), c.DevOutbox(), c.SMSEnabled(), c.SMSOutbox())
	}
	if got, want := c.BaseURL.String(), "https://nudge.example.org"; got != want {
		t.Errorf("BaseURL = %q, want %q (no trailing slash)", got, want)
	}
	if r := c.Redis.Single; r == nil || r.Addr != "redis.example.org:6380" || r.DB != 2 || r.Password != testRedisPass || r.TLSConfig == nil {
		t.Errorf("Redis = %v", c.Redis)
	}
	wantSMTP := SMTP{Host: "smtp.example.org", Port: 465, Username: testSMTPUser, Password: testSMTPPass, TLS: TLSImplicit, PoolSize: 8}
	if diff := cmp.Diff(wantSMTP, c.SMTP); diff != "" {
		t.Errorf("SMTP (-want +got):\n%s", diff)
	}
	if c.EmailFrom.Address != "hello@example.org" || c.EmailFrom.Name != "Nudge" {
		t.Errorf("EmailFrom = %v", c.EmailFrom)
	}
	if c.GraceWindow != 90*time.Minute || c.WorkerConcurrency != 50 || c.PlannerInterval != 2*time.Second ||
		c.PlannerHorizon != 30*time.Second || c.LogLevel != slog.LevelDebug || c.LogFormat != "json" ||
		c.EmailRate != 12.5 || c.SMSRate != 1 || c.RedisPrefix != "n1:" || c.HTTPAddr != "127.0.0.1:9000" {
		t.Errorf("scalars not as set: %v", c)
	}
	if c.Twilio.APIURL.String() != "https://twilio-proxy.example.org" || c.Twilio.MessagingServiceSID != testService {
		t.Errorf("Twilio = %v", c.Twilio)
	}
	if containsPrefix(c.Warnings, "NUDGE_SECRET") {
		t.Errorf("Warnings = %q, no secret warning expected", c.Warnings)
	}
}

func TestLoadSMTPPortDefault(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct{ tls, port string }{
		{"", "587"}, {"starttls", "587"}, {"none", "587"}, {"tls", "465"},
	} {
		c, err := Load(env(map[string]string{"NUDGE_SMTP_HOST": "mail", "NUDGE_SMTP_TLS": tc.tls}))
		if err != nil {
			t.Fatalf("tls %q: %v", tc.tls, err)
		}
		if got := fmt.Sprint(c.SMTP.Port); got != tc.port {
			t.Errorf("tls %q: port %s, want %s", tc.tls, got, tc.port)
		}
	}
}

// Two listeners on port 0 each get a free port of their own: no clash.
func TestLoadMetricsAndHTTPBothOnAnyFreePort(t *testing.T) {
	t.Parallel()
	c, err := Load(env(map[string]string{"NUDGE_HTTP_ADDR": "127.0.0.1:0", "NUDGE_METRICS_ADDR": "127.0.0.1:0"}))
	if err != nil {
		t.Fatal(err)
	}
	if c.MetricsAddr != "127.0.0.1:0" {
		t.Errorf("metrics address %q", c.MetricsAddr)
	}
}

// problems splits a Load error into its lines.
func problems(err error) []string {
	if err == nil {
		return nil
	}
	return strings.Split(err.Error(), "\n")
}

func TestLoadBadValue(t *testing.T) {
	t.Parallel()
	tests := []struct {
		variable string
		value    string
		want     string // a part of the message after "VARIABLE: "
	}{
		{"NUDGE_ENV", "staging", `"staging" is not an environment`},
		{"NUDGE_HTTP_ADDR", "8080", `"8080" is not a listen address`},
		{"NUDGE_HTTP_ADDR", ":http8", `is not a port number`},
		{"NUDGE_BASE_URL", "localhost:8080", "is not an absolute http:// or https:// URL"},
		{"NUDGE_BASE_URL", "ftp://example.org", "is not an absolute"},
		{"NUDGE_BASE_URL", "https://example.org/?a=1", "must not have a query"},
		{"NUDGE_BASE_URL", "https://u:p@example.org", "must not contain a user name"},
		{"NUDGE_REDIS_URL", "http://localhost:6379", "must start with redis://"},
		{"NUDGE_REDIS_URL", "redis+sentinel://h1,h2/", "names no master"},
		{"NUDGE_REDIS_URL", "redis://localhost:6379/x", "is not a Redis URL"},
		{"NUDGE_REDIS_URL", "redis://local host", "not a valid URL"},
		{"NUDGE_REDIS_PREFIX", "a b", "without spaces"},
		{"NUDGE_SMTP_PORT", "abc", `"abc" is not a port number (1-65535)`},
		{"NUDGE_SMTP_PORT", "70000", `"70000" is not a port number (1-65535)`},
		{"NUDGE_SMTP_TLS", "ssl", `"ssl" is not one of none, starttls, tls`},
		{"NUDGE_SMTP_POOL", "0", `"0" is not a whole number from 1 to 100`},
		{"NUDGE_EMAIL_FROM", "not an address", "is not an email address"},
		{"NUDGE_SECRET", "short", "too short (5 bytes; at least 32)"},
		{"NUDGE_GRACE_WINDOW", "6", "is not a duration"},
		{"NUDGE_GRACE_WINDOW", "30s", "out of range (1m0s to 48h0m0s)"},
		{"NUDGE_GRACE_WINDOW", "49h", "out of range"},
		{"NUDGE_WORKER_CONCURRENCY", "1001", "from 1 to 1000"},
		{"NUDGE_WORKER_CONCURRENCY", "ten", "from 1 to 1000"},
		{"NUDGE_PLANNER_INTERVAL", "soon", "is not a duration"},
		{"NUDGE_PLANNER_HORIZON", "2s", "shorter than NUDGE_PLANNER_INTERVAL"},
		{"NUDGE_LOG_LEVEL", "verbose", "is not a log level"},
		{"NUDGE_LOG_FORMAT", "xml", "is not one of text, json"},
		{"NUDGE_TWILIO_API_URL", "twilio", "is not an absolute"},
		{"NUDGE_TWILIO_API_URL", "https://api.example.org/?edge=x", "must not have a query"},
		{"NUDGE_TWILIO_AUTH_TOKEN", "abc-def", "letters and digits only"},
		{"NUDGE_TRUSTED_PROXIES", "10.0.0.0/8,proxy", `"proxy" is not an address`},
		{"NUDGE_METRICS_ADDR", "9090", "is not a listen address"},
		{"NUDGE_WEBHOOK_ALLOW_CIDRS", "10.20.0.0/16 office-lan", `"office-lan" is not an address`},
		{"NUDGE_WEBHOOK_ALLOW_CIDRS", "10.20.0.0/33", `is not a network`},
		{"NUDGE_WEBHOOK_ALLOW_CIDRS", "0.0.0.0/0", "would allow every address"},
		{"NUDGE_WEBHOOK_ALLOW_CIDRS", "::/0", "would allow every address"},
		{"NUDGE_METRICS_ADDR", ":8080", "a listener of their own"},
		{"NUDGE_ADMIN_TOKEN", "0123456789abcdef0123456789abcde", "too short (31 bytes; at least 32"},
		{"NUDGE_ADMIN_TOKEN", " 0123456789abcdef0123456789abcdef", "starts or ends with a space"},
		{"NUDGE_EMAIL_RATE", "-1", "is not a rate"},
		{"NUDGE_SMS_RATE", "NaN", "is not a rate"},
		{"NUDGE_SMS_RATE", "fast", "is not a rate"},
		{"NUDGE_CRISIS_LINES", `{"FR": {"en": {"sms": "Appelez le 3114 (número)"}}}`, "FR"},
		{"NUDGE_CRISIS_LINES", "/nonexistent/crisis.json", "crisis lines file"},
		{"NUDGE_CLINIC_API_RATE", "-5", "is not a rate"},
		{"NUDGE_CLINIC_API_RATE", "lots", "is not a rate"},
		{"NUDGE_CLINIC_API_IDEMPOTENCY_KEYS", "10", "from 100 to 1000000"},
	}
	for _, tc := range tests {
		t.Run(tc.variable+"="+tc.value, func(t *testing.T) {
			t.Parallel()
			vars := map[string]string{tc.variable: tc.value}
			if tc.variable == "NUDGE_SMTP_PORT" || tc.variable == "NUDGE_SMTP_TLS" {
				vars["NUDGE_SMTP_HOST"] = "smtp.example.org"
			}
			if tc.variable == "NUDGE_TWILIO_AUTH_TOKEN" {
				vars["NUDGE_TWILIO_ACCOUNT_SID"] = testSID
				vars["NUDGE_TWILIO_FROM"] = "+15005550006"
			}
			_, err := Load(env(vars))
			lines := problems(err)
			if len(lines) != 1 {
				t.Fatalf("Load = %q, want exactly one problem", lines)
			}
			if prefix := tc.variable + ": "; !strings.HasPrefix(lines[0], prefix) || !strings.Contains(lines[0], tc.want) {
				t.Errorf("problem = %q, want %q…%q", lines[0], prefix, tc.want)
			}
		})
	}
}

func TestLoadReportsAllProblems(t *testing.T) {
	t.Parallel()
	_, err := Load(env(map[string]string{
		"NUDGE_SMTP_HOST":          "smtp.example.org",
		"NUDGE_SMTP_PORT":          "abc",
		"NUDGE_LOG_LEVEL":          "loud",
		"NUDGE_WORKER_CONCURRENCY": "0",
		"NUDGE_EMAIL_FROM":         "@",
		"NUDGE_SECRET":             "tiny",
	}))
	got := problems(err)
	want := []string{
		`NUDGE_SMTP_PORT: "abc" is not a port number (1-65535)`,
		`NUDGE_EMAIL_FROM: "@" is not an email address`,
		`NUDGE_SECRET: too short (4 bytes; at least 32)`,
		`NUDGE_WORKER_CONCURRENCY: "0" is not a whole number from 1 to 1000`,
		`NUDGE_LOG_LEVEL: "loud" is not a log level (debug, info, warn or error)`,
	}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("problems (-want +got):\n%s", diff)
	}
}

func TestLoadTemplatesDir(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	file := filepath.Join(dir, "en.txt")
	if err := os.WriteFile(file, []byte("x"), 0o644); err != nil {
		t.Fatal(err)
	}
	c, err := Load(env(map[string]string{"NUDGE_TEMPLATES_DIR": " " + dir + " "}))
	if err != nil || c.TemplatesDir != dir {
		t.Fatalf("Load = %q, %v; want TemplatesDir %q", c.TemplatesDir, err, dir)
	}
	for _, tc := range []struct{ value, want string }{
		{filepath.Join(dir, "nope"), "does not exist"},
		{file, "is not a directory"},
	} {
		_, err := Load(env(map[string]string{"NUDGE_TEMPLATES_DIR": tc.value}))
		lines := problems(err)
		if want := fmt.Sprintf("NUDGE_TEMPLATES_DIR: %q %s", tc.value, tc.want); len(lines) != 1 || !strings.HasPrefix(lines[0], want) {
			t.Errorf("NUDGE_TEMPLATES_DIR=%s: problems %q, want one starting %q", tc.value, lines, want)
		}
	}
}

func TestLoadProductionRefusals(t *testing.T) {
	t.Parallel()
	if _, err := Load(env(production)); err != nil {
		t.Fatalf("the base production environment must load: %v", err)
	}
	tests := []struct {
		name     string
		vars     map[string]string
		variable string
		want     string
	}{
		{"embedded Redis", with(production, "NUDGE_REDIS_URL", ""), "NUDGE_REDIS_URL", "required in production"},
		{"dev outbox", with(production, "NUDGE_SMTP_HOST", "", "NUDGE_SMTP_USERNAME", "", "NUDGE_SMTP_PASSWORD", ""), "NUDGE_SMTP_HOST", "required in production"},
		{"no secret", with(production, "NUDGE_SECRET", ""), "NUDGE_SECRET", "required in production"},
		{"short secret", with(production, "NUDGE_SECRET", "0123456789"), "NUDGE_SECRET", "too short"},
		{"dev secret", with(production, "NUDGE_SECRET", DevSecret), "NUDGE_SECRET", "public development key"},
		{"no base URL", with(production, "NUDGE_BASE_URL", ""), "NUDGE_BASE_URL", "required in production"},
		{"http base URL", with(production, "NUDGE_BASE_URL", "http://nudge.example.org"), "NUDGE_BASE_URL", "must use https in production"},
		{"no sender", with(production, "NUDGE_EMAIL_FROM", ""), "NUDGE_EMAIL_FROM", "required in production"},
		{"no postal address", with(production, "NUDGE_POSTAL_ADDRESS", ""), "NUDGE_POSTAL_ADDRESS", "required in production"},
		{"http Twilio API", with(production, "NUDGE_TWILIO_API_URL", "http://localhost:9999"), "NUDGE_TWILIO_API_URL", "must use https in production"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			_, err := Load(env(tc.vars))
			lines := problems(err)
			if len(lines) != 1 || !strings.HasPrefix(lines[0], tc.variable+": ") || !strings.Contains(lines[0], tc.want) {
				t.Errorf("Load = %q, want one problem %q…%q", lines, tc.variable, tc.want)
			}
		})
	}

	// Everything missing at once: every refusal is listed.
	_, err := Load(env(map[string]string{"NUDGE_ENV": "production"}))
	got := problems(err)
	for _, v := range []string{"NUDGE_BASE_URL", "NUDGE_REDIS_URL", "NUDGE_SMTP_HOST", "NUDGE_EMAIL_FROM", "NUDGE_SECRET", "NUDGE_POSTAL_ADDRESS"} {
		if !containsPrefix(got, v+": ") {
			t.Errorf("bare production: problems %q lack %s", got, v)
		}
	}
}

func TestLoadPartialSettings(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name string
		vars map[string]string
		want []string // variables named, in order
	}{
		{"Twilio SID only", map[string]string{"NUDGE_TWILIO_ACCOUNT_SID": testSID},
			[]string{"NUDGE_TWILIO_AUTH_TOKEN", "NUDGE_TWILIO_FROM"}},
		{"Twilio token only", map[string]string{"NUDGE_TWILIO_AUTH_TOKEN": testAuthToken},
			[]string{"NUDGE_TWILIO_ACCOUNT_SID", "NUDGE_TWILIO_FROM"}},
		{"Twilio both senders", map[string]string{"NUDGE_TWILIO_ACCOUNT_SID": testSID, "NUDGE_TWILIO_AUTH_TOKEN": testAuthToken,
			"NUDGE_TWILIO_FROM": "+15005550006", "NUDGE_TWILIO_MESSAGING_SERVICE_SID": testService},
			[]string{"NUDGE_TWILIO_FROM"}},
		{"Twilio bad SID", map[string]string{"NUDGE_TWILIO_ACCOUNT_SID": "AC123", "NUDGE_TWILIO_AUTH_TOKEN": testAuthToken,
			"NUDGE_TWILIO_FROM": "+15005550006"},
			[]string{"NUDGE_TWILIO_ACCOUNT_SID"}},
		{"SMTP user without password", map[string]string{"NUDGE_SMTP_HOST": "mail", "NUDGE_SMTP_USERNAME": "u"},
			[]string{"NUDGE_SMTP_PASSWORD"}},
		{"SMTP password without user", map[string]string{"NUDGE_SMTP_HOST": "mail", "NUDGE_SMTP_PASSWORD": "p"},
			[]string{"NUDGE_SMTP_USERNAME"}},
		{"SMTP settings without host", map[string]string{"NUDGE_SMTP_PORT": "25", "NUDGE_SMTP_PASSWORD": "p"},
			[]string{"NUDGE_SMTP_HOST"}},
		{"SMTP host with port", map[string]string{"NUDGE_SMTP_HOST": "mail:25"},
			[]string{"NUDGE_SMTP_HOST"}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			_, err := Load(env(tc.vars))
			var got []string
			for _, line := range problems(err) {
				name, _, _ := strings.Cut(line, ": ")
				got = append(got, name)
			}
			if diff := cmp.Diff(tc.want, got); diff != "" {
				t.Errorf("variables named (-want +got):\n%s\nproblems: %v", diff, err)
			}
		})
	}

	c, err := Load(env(map[string]string{"NUDGE_TWILIO_ACCOUNT_SID": testSID, "NUDGE_TWILIO_AUTH_TOKEN": testAuthToken,
		"NUDGE_TWILIO_FROM": "+15005550006"}))
	if err != nil || !c.SMSEnabled() || c.SMSOutbox() {
		t.Errorf("complete Twilio settings: err %v, SMSEnabled %v", err, c.SMSEnabled())
	}
}

func TestSecretsNeverShown(t *testing.T) {
	t.Parallel()
	vars := with(production, "NUDGE_TWILIO_ACCOUNT_SID", testSID, "NUDGE_TWILIO_AUTH_TOKEN", testAuthToken,
		"NUDGE_TWILIO_FROM", "+15005550006", "NUDGE_ADMIN_TOKEN", testAdminToken)
	c, err := Load(env(vars))
	if err != nil {
		t.Fatal(err)
	}
	var logged bytes.Buffer
	slog.New(slog.NewJSONHandler(&logged, nil)).Info("starting", "config", c, "smtp", c.SMTP)
	outputs := map[string]string{
		"Redacted": fmt.Sprint(c.Redacted()),
		"%v":       fmt.Sprintf("%v", c),
		"%+v":      fmt.Sprintf("%+v", c),
		"%#v":      fmt.Sprintf("%#v", c),
		"SMTP %+v": fmt.Sprintf("%+v", c.SMTP),
		"slog":     logged.String(),
	}
	for name, out := range outputs {
		for _, secret := range []string{testSecret, testSMTPPass, testSMTPUser, testRedisPass, testAuthToken, testAdminToken} {
			if strings.Contains(out, secret) {
				t.Errorf("%s shows a secret: %s", name, out)
			}
		}
	}
	r := c.Redacted()
	if got, want := r["NUDGE_REDIS_URL"], "rediss://default:xxxxx@redis.example.org:6380/2"; got != want {
		t.Errorf("Redacted Redis URL = %q, want %q", got, want)
	}
	if c.AdminToken != testAdminToken || r["NUDGE_ADMIN_TOKEN"] != "[redacted]" {
		t.Errorf("admin token %q shows as %q", c.AdminToken, r["NUDGE_ADMIN_TOKEN"])
	}
	if r["NUDGE_SECRET"] != "[redacted]" || r["NUDGE_SMTP_PASSWORD"] != "[redacted]" || r["NUDGE_SMTP_HOST"] != "smtp.example.org" {
		t.Errorf("Redacted = %v", r)
	}
	if got := redactedURL("redis://legacy-password@host:6379"); strings.Contains(got, "legacy-password") {
		t.Errorf("redactedURL kept a legacy password: %q", got)
	}

	// Problems never echo a secret either.
	_, err = Load(env(with(production, "NUDGE_SECRET", "short-secret-MARKER",
		"NUDGE_REDIS_URL", "redis://:"+testRedisPass+"@host:6379/notanumber")))
	if err == nil || strings.Contains(err.Error(), "short-secret-MARKER") || strings.Contains(err.Error(), testRedisPass) {
		t.Errorf("Load error shows a secret: %v", err)
	}
}

func TestURL(t *testing.T) {
	t.Parallel()
	tests := []struct{ base, path, want string }{
		{"https://example.org", "/confirm?t=abc", "https://example.org/confirm?t=abc"},
		{"https://example.org/", "confirm", "https://example.org/confirm"},
		{"https://example.org/nudge/", "/u/x", "https://example.org/nudge/u/x"},
		{"https://example.org/nudge", "", "https://example.org/nudge"},
		{"http://localhost:8080", "?x=1", "http://localhost:8080?x=1"},
	}
	for _, tc := range tests {
		c, err := Load(env(map[string]string{"NUDGE_BASE_URL": tc.base}))
		if err != nil {
			t.Fatal(err)
		}
		if got := c.URL(tc.path); got != tc.want {
			t.Errorf("base %q: URL(%q) = %q, want %q", tc.base, tc.path, got, tc.want)
		}
	}
	if got := (Config{}).URL("/x"); got != "/x" {
		t.Errorf("zero Config URL = %q", got)
	}
}

func TestLoadSMSCountriesAndWindow(t *testing.T) {
	t.Parallel()
	c, err := Load(env(map[string]string{"NUDGE_SMS_COUNTRIES": "gb, us", "NUDGE_SMS_WINDOW": "10:00-19:30"}))
	if err != nil {
		t.Fatal(err)
	}
	if len(c.SMSCountries) != 2 || c.SMSCountries[0] != "GB" || c.SMSWindow.String() != "10:00-19:30" {
		t.Fatalf("countries %v, window %s", c.SMSCountries, c.SMSWindow)
	}
	d, _ := Load(env(nil))
	if len(d.SMSCountries) != 1 || d.SMSCountries[0] != "US" || d.SMSWindow.String() != "09:00-20:00" {
		t.Fatalf("defaults: countries %v, window %s", d.SMSCountries, d.SMSWindow)
	}
	for name, v := range map[string]string{"NUDGE_SMS_COUNTRIES": "USA", "NUDGE_SMS_WINDOW": "06:00-23:00"} {
		if _, err := Load(env(map[string]string{name: v})); err == nil || !strings.Contains(err.Error(), name) {
			t.Errorf("%s=%q: err = %v, want one naming the variable", name, v, err)
		}
	}
}

func TestLoadCrisisLines(t *testing.T) {
	t.Parallel()
	path := filepath.Join(t.TempDir(), "crisis.json")
	if err := os.WriteFile(path, []byte(`{"FR": {"en": {"sms": "Call 3114 now (France)."}}}`), 0o600); err != nil {
		t.Fatal(err)
	}
	for _, v := range []string{`{"FR": {"en": {"sms": "Call 3114 now (France)."}}}`, path} {
		got, err := Load(env(map[string]string{"NUDGE_CRISIS_LINES": v}))
		if err != nil {
			t.Fatalf("Load(%s) = %v", v, err)
		}
		if s := got.CrisisLines.SMS("FR", "en"); s != "Call 3114 now (France)." {
			t.Errorf("%s: France gets %q", v, s)
		}
		if got.CrisisLines.SMS("US", "en") != crisis.Default().SMS("US", "en") {
			t.Errorf("%s: the built-in lines of other countries are lost", v)
		}
	}
}

func TestLoadWebhookAllow(t *testing.T) {
	t.Parallel()
	c, err := Load(env(map[string]string{"NUDGE_WEBHOOK_ALLOW_CIDRS": "10.20.0.0/16, 192.168.5.7 fd00:1::/64"}))
	if err != nil {
		t.Fatal(err)
	}
	want := []netip.Prefix{netip.MustParsePrefix("10.20.0.0/16"), netip.MustParsePrefix("192.168.5.7/32"), netip.MustParsePrefix("fd00:1::/64")}
	if diff := cmp.Diff(want, c.WebhookAllow, cmp.Comparer(func(a, b netip.Prefix) bool { return a == b })); diff != "" {
		t.Errorf("WebhookAllow (-want +got):\n%s", diff)
	}
	for _, w := range c.Warnings {
		if strings.Contains(w, "NUDGE_WEBHOOK_ALLOW_CIDRS") {
			t.Errorf("unexpected warning %q", w)
		}
	}
	if c, _ := Load(env(map[string]string{})); c.WebhookAllow != nil {
		t.Errorf("default WebhookAllow = %v, want none", c.WebhookAllow)
	}
	// A network that holds the metadata service loads, with a warning.
	c, err = Load(env(map[string]string{"NUDGE_WEBHOOK_ALLOW_CIDRS": "169.254.0.0/16"}))
	if err != nil {
		t.Fatal(err)
	}
	if !slices.ContainsFunc(c.Warnings, func(w string) bool { return strings.Contains(w, "169.254.169.254") }) {
		t.Errorf("no warning about the metadata service: %q", c.Warnings)
	}
}

func TestLoadClinicAPIBudget(t *testing.T) {
	t.Parallel()
	c, err := Load(env(map[string]string{}))
	if err != nil || c.ClinicAPIRate != 20 || c.ClinicIdempotencyKeys != 10_000 {
		t.Fatalf("defaults: %v %d (%v), want 20 and 10000", c.ClinicAPIRate, c.ClinicIdempotencyKeys, err)
	}
	c, err = Load(env(map[string]string{"NUDGE_CLINIC_API_RATE": "2.5", "NUDGE_CLINIC_API_IDEMPOTENCY_KEYS": "500"}))
	if err != nil || c.ClinicAPIRate != 2.5 || c.ClinicIdempotencyKeys != 500 {
		t.Fatalf("set: %v %d (%v)", c.ClinicAPIRate, c.ClinicIdempotencyKeys, err)
	}
	if c, err = Load(env(map[string]string{"NUDGE_CLINIC_API_RATE": "0"})); err != nil || c.ClinicAPIRate != 0 {
		t.Fatalf("0 (no limit): %v (%v)", c.ClinicAPIRate, err)
	}
}

func TestLoadDevClock(t *testing.T) {
	t.Parallel()
	c, err := Load(env(map[string]string{
		"NUDGE_ENV":       "development",
		"NUDGE_DEV_CLOCK": "2026-11-30T00:00:00Z@360@2026-12-05T16:00:00Z",
	}))
	if err != nil {
		t.Fatal(err)
	}
	if c.DevClock == nil {
		t.Fatal("NUDGE_DEV_CLOCK ignored")
	}
	real := time.Date(2026, 12, 5, 16, 0, 10, 0, time.UTC) // 10 s after the anchor
	if got, want := c.DevClock.Now(real), time.Date(2026, 11, 30, 1, 0, 0, 0, time.UTC); !got.Equal(want) {
		t.Errorf("simulated time 10 s after the anchor = %s, want %s", got, want)
	}

	// Without an anchor the clock starts when the configuration is loaded.
	c, err = Load(env(map[string]string{"NUDGE_ENV": "development", "NUDGE_DEV_CLOCK": "2026-11-30T00:00:00Z@1"}))
	if err != nil {
		t.Fatal(err)
	}
	if d := c.DevClock.Now(time.Now()).Sub(time.Date(2026, 11, 30, 0, 0, 0, 0, time.UTC)); d < 0 || d > time.Minute {
		t.Errorf("an unanchored clock is %s past its start, want about 0", d)
	}
}

func TestLoadDevClockRefused(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name string
		vars map[string]string
		want string
	}{
		{"production", with(production, "NUDGE_DEV_CLOCK", "2026-11-30T00:00:00Z@360"), "development only"},
		{"environment not set", map[string]string{"NUDGE_DEV_CLOCK": "2026-11-30T00:00:00Z@360"}, "development only"},
		{"no speed", map[string]string{"NUDGE_ENV": "development", "NUDGE_DEV_CLOCK": "2026-11-30T00:00:00Z"}, "not understood"},
		{"bad start", map[string]string{"NUDGE_ENV": "development", "NUDGE_DEV_CLOCK": "monday@360"}, "not an RFC 3339 time"},
		{"zero speed", map[string]string{"NUDGE_ENV": "development", "NUDGE_DEV_CLOCK": "2026-11-30T00:00:00Z@0"}, "speed"},
		{"NaN speed", map[string]string{"NUDGE_ENV": "development", "NUDGE_DEV_CLOCK": "2026-11-30T00:00:00Z@NaN"}, "speed"},
		{"bad anchor", map[string]string{"NUDGE_ENV": "development", "NUDGE_DEV_CLOCK": "2026-11-30T00:00:00Z@360@soon"}, "anchor"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := Load(env(tt.vars))
			if err == nil || !strings.Contains(err.Error(), "NUDGE_DEV_CLOCK") || !strings.Contains(err.Error(), tt.want) {
				t.Fatalf("Load = %v, want a NUDGE_DEV_CLOCK problem saying %q", err, tt.want)
			}
		})
	}
}
