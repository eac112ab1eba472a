package scripts

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/nudgehq/nudge/internal/redistest"
	"github.com/redis/go-redis/v9"
	"go.uber.org/goleak"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

// run runs test-env with env added to this process's environment and
// returns its exit code, standard output and standard error.
func run(t *testing.T, env []string, args ...string) (int, string, string) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, "/bin/bash", append([]string{"test-env"}, args...)...)
	cmd.Env = append(os.Environ(), env...)
	var out, errOut bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &errOut
	err := cmd.Run()
	var exit *exec.ExitError
	switch {
	case err == nil:
		return 0, out.String(), errOut.String()
	case errors.As(err, &exit):
		return exit.ExitCode(), out.String(), errOut.String()
	}
	t.Fatalf("run test-env: %v\n%s", err, errOut.String())
	return 0, "", ""
}

// ping is a command that asks the Redis on port for PONG and prints the
// answer, then exits 7.
func ping(port int) []string {
	return []string{"/bin/bash", "-c", fmt.Sprintf(`exec 3<>/dev/tcp/127.0.0.1/%d && printf 'PING\r\n' >&3 && read -r r <&3 && echo "$r"; exit 7`, port)}
}

func TestStartsAThrowawayRedisAndStopsItAfter(t *testing.T) {
	t.Parallel()
	port := redistest.FreePort(t)
	addr := fmt.Sprintf("127.0.0.1:%d", port)
	code, out, errOut := run(t, []string{"NUDGE_TEST_SETUP=redis", "NUDGE_TEST_REDIS_ADDR=" + addr}, ping(port)...)
	if code != 7 {
		t.Errorf("exit %d, want the command's 7\n%s", code, errOut)
	}
	if !strings.Contains(out, "+PONG") {
		t.Errorf("the command found no Redis on %s: %q\n%s", addr, out, errOut)
	}
	if !strings.Contains(errOut, "started a throwaway redis-server on "+addr) || !strings.Contains(errOut, "stopped the throwaway redis-server") {
		t.Errorf("stderr does not say what it started and stopped:\n%s", errOut)
	}
	if c, err := net.DialTimeout("tcp", addr, time.Second); err == nil {
		c.Close()
		t.Errorf("something still listens on %s after the tests ended", addr)
	}
}

func TestLeavesARedisThatAnswersAlone(t *testing.T) {
	t.Parallel()
	srv := redistest.StartServer(t)
	code, _, errOut := run(t, []string{"NUDGE_TEST_SETUP=redis", "NUDGE_TEST_REDIS_ADDR=" + srv.Addr}, "true")
	if code != 0 || !strings.Contains(errOut, "redis answers on "+srv.Addr) || strings.Contains(errOut, "throwaway") {
		t.Errorf("exit %d:\n%s", code, errOut)
	}
	c := redis.NewClient(&redis.Options{Addr: srv.Addr})
	defer c.Close()
	if err := c.Ping(context.Background()).Err(); err != nil {
		t.Errorf("the Redis that was running no longer answers: %v", err)
	}
}

// Without a tool and without leave to install it, the script stops before
// the tests, saying what to install.
func TestMissingToolsFailLoudlyBeforeTheTests(t *testing.T) {
	t.Parallel()
	empty := t.TempDir() // PATH: neither redis-server nor chromium
	for _, tc := range []struct{ setup, want string }{
		{"redis", "redis-server is not installed (NUDGE_TEST_INSTALL=no): install redis-server"},
		{"chromium", "chromium is not installed (NUDGE_TEST_INSTALL=no): install chromium"},
	} {
		marker := filepath.Join(t.TempDir(), "ran")
		code, _, errOut := run(t, []string{"PATH=" + empty, "NUDGE_TEST_INSTALL=no", "NUDGE_TEST_SETUP=" + tc.setup,
			"NUDGE_TEST_REDIS_ADDR=127.0.0.1:1"}, "/usr/bin/touch", marker)
		if code == 0 || !strings.Contains(errOut, tc.want) {
			t.Errorf("%s missing: exit %d, stderr:\n%s", tc.setup, code, errOut)
		}
		if _, err := os.Stat(marker); err == nil {
			t.Errorf("%s missing: the tests ran anyway", tc.setup)
		}
	}
	if code, _, errOut := run(t, nil); code == 0 || !strings.Contains(errOut, "usage:") {
		t.Errorf("no command: exit %d:\n%s", code, errOut)
	}
}
