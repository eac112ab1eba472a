package main

import (
	"bytes"
	"context"
	"crypto/ed25519"
	"crypto/rand"
	"crypto/x509"
	"encoding/base64"
	"encoding/pem"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"testing"

	"github.com/nudgehq/nudge/internal/redistest"
	"github.com/nudgehq/nudge/internal/smtptest"
	"github.com/nudgehq/nudge/internal/twiliotest"
)

// doctorRun runs "nudge doctor" with env and deps and returns the exit
// code and the verdict line of each check.
func doctorRun(t *testing.T, env map[string]string, deps doctorDeps, args ...string) (int, map[string]string, string) {
	t.Helper()
	var out, errOut bytes.Buffer
	code := doctorCommand(context.Background(), args, func(k string) string { return env[k] }, &out, &errOut, deps)
	lines := map[string]string{}
	for _, l := range strings.Split(strings.TrimSpace(out.String()), "\n") {
		if name, verdict, ok := strings.Cut(l, " "); ok {
			lines[name] = strings.TrimSpace(verdict)
		}
	}
	return code, lines, out.String() + errOut.String()
}

// dkimKey makes an Ed25519 key: its PEM for NUDGE_DKIM_PRIVATE_KEY and its
// DNS record.
func dkimKey(t *testing.T) (pemText, record string) {
	t.Helper()
	pub, priv, err := ed25519.GenerateKey(rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	der, err := x509.MarshalPKCS8PrivateKey(priv)
	if err != nil {
		t.Fatal(err)
	}
	return string(pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: der})),
		"v=DKIM1; k=ed25519; p=" + base64.StdEncoding.EncodeToString(pub)
}

// dns answers TXT look-ups from a table.
func dns(records map[string][]string) doctorDeps {
	return doctorDeps{lookupTXT: func(_ context.Context, name string) ([]string, error) {
		if r, ok := records[name]; ok {
			return r, nil
		}
		return nil, errors.New("no such host")
	}}
}

// healthy is a setting in which every check passes: a redis-server with
// AOF, a relay with STARTTLS and AUTH, a Twilio account owning the sending
// number and a published DKIM key.
type healthy struct {
	env   map[string]string
	deps  doctorDeps
	relay *smtptest.Server
	tw    *twiliotest.Server
}

func setupHealthy(t *testing.T) *healthy {
	t.Helper()
	rds := redistest.StartServer(t, "--appendonly", "yes")
	relay := smtptest.StartWith(t, smtptest.Options{StartTLS: true, Users: map[string]string{"nudge": "relay-password"}})
	tw := twiliotest.Start(t, twiliotest.WithNumbers("+15005550006"))
	key, record := dkimKey(t)
	h := &healthy{relay: relay, tw: tw, env: map[string]string{
		"NUDGE_REDIS_URL":          "redis://" + rds.Addr + "/0",
		"NUDGE_SMTP_HOST":          relay.Host(),
		"NUDGE_SMTP_PORT":          strconv.Itoa(relay.Port()),
		"NUDGE_SMTP_USERNAME":      "nudge",
		"NUDGE_SMTP_PASSWORD":      "relay-password",
		"NUDGE_EMAIL_FROM":         "nudge <hello@nudge.test>",
		"NUDGE_TWILIO_ACCOUNT_SID": tw.AccountSID,
		"NUDGE_TWILIO_AUTH_TOKEN":  tw.AuthToken,
		"NUDGE_TWILIO_FROM":        "+15005550006",
		"NUDGE_TWILIO_API_URL":     tw.URL,
		"NUDGE_DKIM_DOMAIN":        "nudge.test",
		"NUDGE_DKIM_SELECTOR":      "s2026",
		"NUDGE_DKIM_PRIVATE_KEY":   key,
	}}
	h.deps = dns(map[string][]string{"s2026._domainkey.nudge.test": {"google-site-verification=x", record}})
	h.deps.tls = relay.ClientTLS()
	return h
}

func TestDoctorHelp(t *testing.T) {
	for _, args := range [][]string{{"doctor", "--help"}, {"doctor", "-h"}, {"doctor", "help"}} {
		var out, errOut bytes.Buffer
		if code := run(context.Background(), args, func(string) string { return "" }, &out, &errOut); code != 0 || !strings.Contains(out.String(), "nudge doctor") ||
			!strings.Contains(out.String(), "maxmemory-policy noeviction") {
			t.Errorf("nudge %s: exit %d, %q %q", strings.Join(args, " "), code, out.String(), errOut.String())
		}
	}
	var out bytes.Buffer
	if code := run(context.Background(), []string{"--help"}, func(string) string { return "" }, &out, &out); code != 0 || !strings.Contains(out.String(), "nudge doctor") {
		t.Errorf("the usage does not list doctor: %s", out.String())
	}
	code, _, text := doctorRun(t, nil, dns(nil), "now")
	if code != 2 || !strings.Contains(text, "takes no arguments") {
		t.Errorf("nudge doctor now: exit %d, %q", code, text)
	}
	code, _, text = doctorRun(t, map[string]string{"NUDGE_SMTP_PORT": "x", "NUDGE_SMTP_HOST": "smtp.example.org"}, dns(nil))
	if code != 2 || !strings.Contains(text, "NUDGE_SMTP_PORT") {
		t.Errorf("bad settings: exit %d, %q", code, text)
	}
}

func TestDoctorNothingConfigured(t *testing.T) {
	code, lines, text := doctorRun(t, map[string]string{}, dns(nil))
	if code != 0 || len(lines) != 4 {
		t.Fatalf("exit %d:\n%s", code, text)
	}
	for _, name := range []string{"redis", "smtp", "twilio", "dkim"} {
		if lines[name] != "not configured" {
			t.Errorf("%s: %q, want not configured", name, lines[name])
		}
	}
}

func TestDoctorAllHealthy(t *testing.T) {
	t.Parallel()
	h := setupHealthy(t)
	code, lines, text := doctorRun(t, h.env, h.deps)
	if code != 0 {
		t.Fatalf("exit %d:\n%s", code, text)
	}
	for name, want := range map[string]string{
		"redis":  "maxmemory-policy noeviction, AOF on, PING",
		"smtp":   "STARTTLS, AUTH accepted",
		"twilio": "account active, number +15005550006 belongs to it",
		"dkim":   "the key at s2026._domainkey.nudge.test matches",
	} {
		if !strings.HasPrefix(lines[name], "ok (") || !strings.Contains(lines[name], want) {
			t.Errorf("%s: %q, want ok with %q", name, lines[name], want)
		}
	}
	// Checked, never sent.
	if h.relay.Authenticated() != 1 || len(h.relay.Messages()) != 0 || h.tw.Accepted() != 0 {
		t.Errorf("relay logins %d, messages %d; twilio messages %d", h.relay.Authenticated(), len(h.relay.Messages()), h.tw.Accepted())
	}

	// A messaging service instead of a number.
	svc := twiliotest.Start(t, twiliotest.WithMessagingServices("MG"+strings.Repeat("ab", 16)))
	env := with(h.env, map[string]string{"NUDGE_TWILIO_FROM": "", "NUDGE_TWILIO_MESSAGING_SERVICE_SID": "MG" + strings.Repeat("ab", 16),
		"NUDGE_TWILIO_ACCOUNT_SID": svc.AccountSID, "NUDGE_TWILIO_AUTH_TOKEN": svc.AuthToken, "NUDGE_TWILIO_API_URL": svc.URL})
	if code, lines, text := doctorRun(t, env, h.deps); code != 0 || !strings.Contains(lines["twilio"], "messaging service MG") {
		t.Errorf("messaging service: exit %d:\n%s", code, text)
	}
}

// with returns env with changes made ("" removes a variable).
func with(env, changes map[string]string) map[string]string {
	out := map[string]string{}
	for k, v := range env {
		out[k] = v
	}
	for k, v := range changes {
		if v == "" {
			delete(out, k)
		} else {
			out[k] = v
		}
	}
	return out
}

// TestDoctorFindsProblems breaks one part at a time: that check fails with
// its reason, the others still pass, and the exit code is 1.
func TestDoctorFindsProblems(t *testing.T) {
	t.Parallel()
	h := setupHealthy(t)
	lru := redistest.StartServer(t, "--maxmemory-policy", "allkeys-lru", "--appendonly", "yes")
	volatile := redistest.StartServer(t) // no AOF, no RDB
	_, otherKey := dkimKey(t)
	suspended := twiliotest.Start(t, twiliotest.WithNumbers("+15005550006"), twiliotest.WithAccountStatus("suspended"))
	closedPort := redistest.FreePort(t)

	for _, tc := range []struct {
		name    string
		env     map[string]string
		records map[string][]string
		check   string
		reason  string
	}{
		{name: "redis evicts", env: map[string]string{"NUDGE_REDIS_URL": "redis://" + lru.Addr + "/0"},
			check: "redis", reason: "maxmemory-policy is allkeys-lru, want noeviction"},
		{name: "redis keeps nothing on disk", env: map[string]string{"NUDGE_REDIS_URL": "redis://" + volatile.Addr + "/0"},
			check: "redis", reason: "no persistence"},
		{name: "redis not there", env: map[string]string{"NUDGE_REDIS_URL": fmt.Sprintf("redis://127.0.0.1:%d/0", closedPort)},
			check: "redis", reason: "no answer to PING"},
		{name: "relay closed", env: map[string]string{"NUDGE_SMTP_PORT": strconv.Itoa(closedPort)},
			check: "smtp", reason: "connection refused"},
		{name: "relay password wrong", env: map[string]string{"NUDGE_SMTP_PASSWORD": "not-the-password"},
			check: "smtp", reason: "SMTP AUTH failed: 535"},
		{name: "twilio token wrong", env: map[string]string{"NUDGE_TWILIO_AUTH_TOKEN": "0123456789abcdef0123456789abcdef"},
			check: "twilio", reason: "Twilio refused the account SID and auth token"},
		{name: "twilio number not the account's", env: map[string]string{"NUDGE_TWILIO_FROM": "+15005550009"},
			check: "twilio", reason: "+15005550009 is not one of the account's phone numbers"},
		{name: "twilio account suspended", env: map[string]string{"NUDGE_TWILIO_ACCOUNT_SID": suspended.AccountSID,
			"NUDGE_TWILIO_AUTH_TOKEN": suspended.AuthToken, "NUDGE_TWILIO_API_URL": suspended.URL},
			check: "twilio", reason: "is suspended, not active"},
		{name: "twilio messaging service unknown", env: map[string]string{"NUDGE_TWILIO_FROM": "", "NUDGE_TWILIO_MESSAGING_SERVICE_SID": "MG" + strings.Repeat("cd", 16)},
			check: "twilio", reason: "no such resource"},
		{name: "dkim another key", records: map[string][]string{"s2026._domainkey.nudge.test": {otherKey}},
			check: "dkim", reason: "is not the public half"},
		{name: "dkim not published", records: map[string][]string{},
			check: "dkim", reason: "no TXT record at s2026._domainkey.nudge.test"},
		{name: "dkim revoked", records: map[string][]string{"s2026._domainkey.nudge.test": {"v=DKIM1; k=ed25519; p="}},
			check: "dkim", reason: "revoked"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			deps := h.deps
			if tc.records != nil {
				deps = dns(tc.records)
				deps.tls = h.deps.tls
			}
			code, lines, text := doctorRun(t, with(h.env, tc.env), deps)
			if code != 1 {
				t.Errorf("exit %d, want 1:\n%s", code, text)
			}
			for _, name := range []string{"redis", "smtp", "twilio", "dkim"} {
				got := lines[name]
				switch {
				case name == tc.check && (!strings.HasPrefix(got, "FAIL: ") || !strings.Contains(got, tc.reason)):
					t.Errorf("%s: %q, want FAIL with %q", name, got, tc.reason)
				case name != tc.check && !strings.HasPrefix(got, "ok ("):
					t.Errorf("%s: %q, want ok", name, got)
				}
			}
		})
	}
	if len(h.relay.Messages()) != 0 || h.tw.Accepted() != 0 {
		t.Error("a check sent a message")
	}
}
