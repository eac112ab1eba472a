package config

import (
	"fmt"
	"log/slog"
	"maps"
	"net/url"
	"slices"
	"strconv"
	"strings"
)

// Redacted returns the configuration as variable name → value for a startup
// log line. Secrets show only "[redacted]" (or nothing when unset), and the
// Redis URL keeps its host but not its password.
func (c Config) Redacted() map[string]string {
	m := map[string]string{
		varEnv:               string(c.Env),
		varHTTPAddr:          c.HTTPAddr,
		varBaseURL:           urlString(c.BaseURL),
		varRedisURL:          redactedURL(string(c.RedisURL)),
		varRedisPrefix:       c.RedisPrefix,
		varSMTPHost:          c.SMTP.Host,
		varSMTPPort:          strconv.Itoa(c.SMTP.Port),
		varSMTPUsername:      c.SMTP.Username.String(),
		varSMTPPassword:      c.SMTP.Password.String(),
		varSMTPTLS:           c.SMTP.TLS,
		varSMTPPool:          strconv.Itoa(c.SMTP.PoolSize),
		varEmailFrom:         c.EmailFrom.String(),
		varSecret:            c.Secret.String(),
		varPostalAddress:     c.PostalAddress,
		varGraceWindow:       c.GraceWindow.String(),
		varWorkerConcurrency: strconv.Itoa(c.WorkerConcurrency),
		varPlannerInterval:   c.PlannerInterval.String(),
		varPlannerHorizon:    c.PlannerHorizon.String(),
		varLogLevel:          strings.ToLower(c.LogLevel.String()),
		varLogFormat:         c.LogFormat,
		varTwilioSID:         c.Twilio.AccountSID,
		varTwilioToken:       c.Twilio.AuthToken.String(),
		varTwilioFrom:        c.Twilio.From,
		varTwilioService:     c.Twilio.MessagingServiceSID,
		varTwilioAPIURL:      urlString(c.Twilio.APIURL),
		varEmailRate:         strconv.FormatFloat(c.EmailRate, 'g', -1, 64),
		varSMSRate:           strconv.FormatFloat(c.SMSRate, 'g', -1, 64),
		varDKIMDomain:        c.DKIM.Domain,
		varDKIMSelector:      c.DKIM.Selector,
		varDKIMKey:           "",
		varDKIMKeyFile:       c.DKIM.KeyFile,
		varAdminToken:        c.AdminToken.String(),
	}
	if c.DKIMEnabled() && c.DKIM.KeyFile == "" {
		m[varDKIMKey] = c.DKIM.Key.String()
	}
	if c.DevOutbox() {
		m[varSMTPHost] = "(dev outbox)"
	}
	if c.EmbeddedRedis() {
		m[varRedisURL] = "(embedded)"
	}
	if c.Secret == DevSecret {
		m[varSecret] = "(development key)"
	}
	return m
}

// LogValue lets a Config be logged whole (logger.Info("starting", "config",
// cfg)) without showing a secret: it logs Redacted, sorted by name.
func (c Config) LogValue() slog.Value {
	m := c.Redacted()
	attrs := make([]slog.Attr, 0, len(m))
	for _, k := range slices.Sorted(maps.Keys(m)) {
		attrs = append(attrs, slog.String(k, m[k]))
	}
	return slog.GroupValue(attrs...)
}

// String keeps fmt from printing the configuration's secrets.
func (c Config) String() string { return fmt.Sprint(c.Redacted()) }

// GoString keeps %#v from printing the configuration's secrets.
func (c Config) GoString() string { return "config.Config" + c.String() }

func urlString(u *url.URL) string {
	if u == nil {
		return ""
	}
	return u.String()
}

// redactedURL shows a URL with its password replaced, or nothing if it does
// not parse (its text might be the password).
func redactedURL(s string) string {
	if s == "" {
		return ""
	}
	u, err := url.Parse(s)
	if err != nil {
		return "[redacted]"
	}
	// A user name without a password (redis://secret@host) is Redis's
	// legacy password form: hide it too.
	if u.User != nil {
		if _, hasPassword := u.User.Password(); !hasPassword {
			u.User = url.User("xxxxx")
		}
	}
	return u.Redacted()
}
