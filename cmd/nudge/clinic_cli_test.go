package main

import (
	"bytes"
	"context"
	"fmt"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/nudgehq/nudge/internal/redistest"
)

// cli runs "nudge clinic args…" against the test database and returns the
// exit code, stdout and stderr.
func cli(t *testing.T, env map[string]string, args ...string) (int, string, string) {
	t.Helper()
	var out, errOut bytes.Buffer
	now := func() time.Time { return time.Date(2026, 11, 30, 9, 0, 0, 0, time.UTC) }
	code := clinicCommand(context.Background(), args, func(k string) string { return env[k] }, now, &out, &errOut)
	return code, out.String(), errOut.String()
}

func TestClinicCommandsCreateListAndRevokeKeys(t *testing.T) {
	env := map[string]string{
		"NUDGE_REDIS_URL":    fmt.Sprintf("redis://%s/%d", redistest.Addr(), redistest.DBMain),
		"NUDGE_REDIS_PREFIX": redistest.Prefix(t),
		"NUDGE_BASE_URL":     "https://nudge.test",
		"NUDGE_SECRET":       "a-cli-test-secret-of-enough-length",
	}
	code, out, errOut := cli(t, env, "create", "--name", "Riverside Counselling", "--display-name", "Practice team", "--cap-week", "2")
	if code != 0 {
		t.Fatalf("create: exit %d, %s", code, errOut)
	}
	id := regexp.MustCompile(`clinic\s+(c\S+)`).FindStringSubmatch(out)
	key := regexp.MustCompile(`api key\s+(nk_(\S+?)_\S+)`).FindStringSubmatch(out)
	if id == nil || key == nil || !strings.Contains(out, "1 a day, 2 a week") || strings.Contains(out, "webhook secret") {
		t.Fatalf("create printed:\n%s", out)
	}

	code, out, _ = cli(t, env, "list")
	if code != 0 || !strings.Contains(out, id[1]) || !strings.Contains(out, "Riverside Counselling") || strings.Contains(out, key[1]) {
		t.Errorf("list: exit %d:\n%s", code, out)
	}

	code, out, _ = cli(t, env, "key", "add", "--clinic", id[1])
	second := regexp.MustCompile(`key id\s+(\S+)`).FindStringSubmatch(out)
	if code != 0 || second == nil || !strings.Contains(out, "api key  nk_"+second[1]+"_") {
		t.Fatalf("key add: exit %d:\n%s", code, out)
	}
	if code, out, _ = cli(t, env, "key", "revoke", "--clinic", id[1], "--key", key[2]); code != 0 {
		t.Fatalf("key revoke: exit %d: %s", code, out)
	}
	code, out, _ = cli(t, env, "key", "list", "--clinic", id[1])
	lines := strings.Split(strings.TrimSpace(out), "\n")
	if code != 0 || len(lines) != 3 {
		t.Fatalf("key list: exit %d:\n%s", code, out)
	}
	for _, l := range lines[1:] {
		revoked := !strings.HasSuffix(strings.TrimSpace(l), "-")
		if strings.HasPrefix(l, key[2]) != revoked {
			t.Errorf("key list line %q: only the first key should be revoked", l)
		}
	}

	for _, tc := range []struct {
		args []string
		code int
		msg  string
	}{
		{[]string{"create"}, 2, "--name is required"},
		{[]string{"create", "--name", "X", "--cap-day", "5"}, 2, "--cap-day"},
		{[]string{"create", "--name", "X", "--webhook-url", "not a url"}, 2, "--webhook-url"},
		{[]string{"webhook", "set", "--clinic", id[1], "--url", "https://169.254.169.254/latest/meta-data/"}, 2, "--url: address not public: 169.254.169.254 is not a public address"},
		{[]string{"webhook", "set", "--clinic", id[1], "--url", "https://u:p@hooks.clinic.example/"}, 2, "--url: user name or password"},
		{[]string{"webhook", "set", "--clinic", id[1]}, 2, "--url is required"},
		{[]string{"webhook", "set", "--clinic", "cnosuchclinic", "--url", "https://hooks.clinic.example/"}, 2, "no such clinic"},
		{[]string{"webhook"}, 2, "want set or remove"},
		{[]string{"key", "add"}, 2, "--clinic is required"},
		{[]string{"key", "add", "--clinic", "cnosuchclinic"}, 2, "no such clinic"},
		{[]string{"key", "revoke", "--clinic", id[1], "--key", "nosuchkey"}, 2, "no such clinic or key"},
		{[]string{"key", "rotate"}, 2, "unknown command"},
		{[]string{"frobnicate"}, 2, "unknown command"},
		{[]string{"list", "extra"}, 2, "unexpected"},
	} {
		code, _, errOut := cli(t, env, tc.args...)
		if code != tc.code || !strings.Contains(errOut, tc.msg) {
			t.Errorf("nudge clinic %s: exit %d, %q; want %d and %q", strings.Join(tc.args, " "), code, errOut, tc.code, tc.msg)
		}
	}

	// Development (the default here) takes a receiver on this machine.
	code, out, errOut = cli(t, env, "webhook", "set", "--clinic", id[1], "--url", "http://127.0.0.1:9/hook")
	if code != 0 || !strings.Contains(out, "webhook secret whsec_") {
		t.Errorf("webhook set: exit %d, %q %q", code, out, errOut)
	}
	code, out, _ = cli(t, env, "webhook", "set", "--clinic", id[1], "--url", "https://hooks.clinic.example/nudge")
	if code != 0 || strings.Contains(out, "secret") {
		t.Errorf("webhook moved: exit %d, %q; want no new secret", code, out)
	}
	if code, out, _ = cli(t, env, "list"); !strings.Contains(out, "https://hooks.clinic.example/nudge") {
		t.Errorf("list after webhook set: exit %d:\n%s", code, out)
	}
	if code, out, _ = cli(t, env, "webhook", "remove", "--clinic", id[1]); code != 0 || !strings.Contains(out, "removed") {
		t.Errorf("webhook remove: exit %d, %q", code, out)
	}
	// Production refuses it, and http.
	prod := map[string]string{"NUDGE_ENV": "production", "NUDGE_SMTP_HOST": "smtp.nudge.test", "NUDGE_EMAIL_FROM": "nudge <hello@nudge.test>",
		"NUDGE_POSTAL_ADDRESS": "1 Test Street"}
	for k, v := range env {
		prod[k] = v
	}
	code, _, errOut = cli(t, prod, "webhook", "set", "--clinic", id[1], "--url", "http://127.0.0.1:9/hook")
	if code != 2 || !strings.Contains(errOut, "--url: scheme not allowed: want an https URL") {
		t.Errorf("production webhook set to loopback over http: exit %d, %q", code, errOut)
	}

	// Without a Redis of its own there is nothing to keep a clinic in.
	code, _, errOut = cli(t, map[string]string{}, "list")
	if code != 2 || !strings.Contains(errOut, "NUDGE_REDIS_URL") {
		t.Errorf("with the embedded Redis: exit %d, %q", code, errOut)
	}
}
