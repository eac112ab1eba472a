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

	// Without a Redis of its own there is nothing to keep a clinic in.
	code, _, errOut = cli(t, map[string]string{}, "list")
	if code != 2 || !strings.Contains(errOut, "NUDGE_REDIS_URL") {
		t.Errorf("with the embedded Redis: exit %d, %q", code, errOut)
	}
}
