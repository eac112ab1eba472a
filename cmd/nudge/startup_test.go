package main

import (
	"bytes"
	"fmt"
	"net"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/nudgehq/nudge/internal/redistest"
)

// runBinary runs the built nudge with args and only the given environment,
// and returns its exit code, stdout and stderr.
func runBinary(t *testing.T, bin string, env []string, args ...string) (int, string, string) {
	t.Helper()
	cmd := exec.Command(bin, args...)
	cmd.Env = env
	var out, errOut bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &errOut
	err := cmd.Run()
	code := 0
	if err != nil {
		ee, ok := err.(*exec.ExitError)
		if !ok {
			t.Fatalf("run %v: %v", args, err)
		}
		code = ee.ExitCode()
	}
	return code, out.String(), errOut.String()
}

// TestStartupFailuresNameTheirCause runs every role and the clinic command
// against the failures a new operator meets first and checks that each
// prints its cause, naming the variable to blame, and exits 1 or 2 without
// a panic.
func TestStartupFailuresNameTheirCause(t *testing.T) {
	bin := buildNudge(t)
	busy, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer busy.Close()
	realRedis := fmt.Sprintf("NUDGE_REDIS_URL=redis://%s/%d", redistest.Addr(), redistest.DBMain)

	failures := []struct {
		name string
		env  []string
		want []string // each must appear in stderr
	}{
		{"no redis", []string{"NUDGE_REDIS_URL=redis://127.0.0.1:1/0"},
			[]string{"NUDGE_REDIS_URL", "connection refused"}},
		{"twilio token with a dash", []string{realRedis, "NUDGE_TWILIO_ACCOUNT_SID=AC0123456789abcdef0123456789abcdef",
			"NUDGE_TWILIO_AUTH_TOKEN=0123456789abcdef-0123456789abcde", "NUDGE_TWILIO_FROM=+15005550006"},
			[]string{"NUDGE_TWILIO_AUTH_TOKEN", "letters and digits"}},
		{"missing dkim key file", []string{realRedis, "NUDGE_SMTP_HOST=127.0.0.1", "NUDGE_SMTP_TLS=none",
			"NUDGE_DKIM_DOMAIN=example.org", "NUDGE_DKIM_SELECTOR=s1",
			"NUDGE_DKIM_PRIVATE_KEY_FILE=" + filepath.Join(t.TempDir(), "absent.pem")},
			[]string{"NUDGE_DKIM_PRIVATE_KEY_FILE"}},
		{"bad templates dir", []string{realRedis, "NUDGE_TEMPLATES_DIR=" + filepath.Join(t.TempDir(), "absent")},
			[]string{"NUDGE_TEMPLATES_DIR", "does not exist"}},
	}
	commands := [][]string{{"run"}, {"serve"}, {"worker"}, {"scheduler"}, {"clinic", "list"}}
	for _, f := range failures {
		for _, args := range commands {
			t.Run(f.name+"/"+strings.Join(args, " "), func(t *testing.T) {
				code, _, stderr := runBinary(t, bin, f.env, args...)
				checkFailure(t, code, stderr, f.want)
			})
		}
	}
	t.Run("http address in use/serve", func(t *testing.T) {
		code, _, stderr := runBinary(t, bin, []string{realRedis, "NUDGE_HTTP_ADDR=" + busy.Addr().String()}, "serve")
		checkFailure(t, code, stderr, []string{busy.Addr().String(), "address already in use"})
	})
}

func checkFailure(t *testing.T, code int, stderr string, want []string) {
	t.Helper()
	if code != 1 && code != 2 {
		t.Errorf("exit %d, want 1 or 2; stderr:\n%s", code, stderr)
	}
	if strings.Contains(stderr, "panic") || strings.Contains(stderr, "goroutine ") {
		t.Fatalf("it panicked:\n%s", stderr)
	}
	for _, w := range want {
		if !strings.Contains(stderr, w) {
			t.Errorf("stderr does not name %q:\n%s", w, stderr)
		}
	}
	// go-redis's own unstructured lines stay out of it.
	if strings.Contains(stderr, "pool.go") {
		t.Errorf("go-redis printed its own lines:\n%s", stderr)
	}
}

// TestHelpPrintsUsage checks that every way of asking for help prints usage
// on stdout and exits 0, without touching any configuration.
func TestHelpPrintsUsage(t *testing.T) {
	bin := buildNudge(t)
	cases := []struct {
		args []string
		want string
	}{
		{[]string{"--help"}, "nudge serve"},
		{[]string{"-h"}, "nudge serve"},
		{[]string{"help"}, "nudge serve"},
		{[]string{"run", "--help"}, "nudge serve"},
		{[]string{"serve", "-h"}, "nudge serve"},
		{[]string{"worker", "--help"}, "nudge serve"},
		{[]string{"scheduler", "--help"}, "nudge serve"},
		{[]string{"schedule", "--help"}, "--tz"},
		{[]string{"preview", "--help"}, "nudge preview PROGRAM"},
		{[]string{"clinic", "--help"}, "nudge clinic create"},
		{[]string{"clinic", "create", "--help"}, "nudge clinic create"},
	}
	// A broken setting must not get in the way of help.
	env := []string{"NUDGE_REDIS_URL=redis://127.0.0.1:1/0"}
	for _, tc := range cases {
		t.Run(strings.Join(tc.args, " "), func(t *testing.T) {
			code, stdout, stderr := runBinary(t, bin, env, tc.args...)
			if code != 0 || !strings.Contains(stdout, tc.want) {
				t.Errorf("exit %d, stdout:\n%s\nstderr:\n%s\nwant exit 0 and %q on stdout", code, stdout, stderr, tc.want)
			}
		})
	}
}
