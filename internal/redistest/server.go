package redistest

import (
	"context"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"
)

// RedisServerBin is the redis-server the process tests start.
const RedisServerBin = "redis-server"

// Server is a redis-server (or redis-server --sentinel) process a test
// started on a free loopback port. It is killed when the test ends.
type Server struct {
	Addr string
	Dir  string // its working directory: config, logs, RDB and AOF files
	args []string

	mu   sync.Mutex
	cmd  *exec.Cmd
	done chan struct{}
}

// FreePort returns a loopback port nobody listened on a moment ago.
func FreePort(tb testing.TB) int {
	tb.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		tb.Fatalf("find a free port: %v", err)
	}
	defer ln.Close()
	return ln.Addr().(*net.TCPAddr).Port
}

// StartServer starts redis-server on a free loopback port in a directory
// of its own, without persistence unless extra (later arguments win) turns
// it on: StartServer(t, "--appendonly", "yes").
func StartServer(tb testing.TB, extra ...string) *Server {
	tb.Helper()
	port := FreePort(tb)
	dir := tb.TempDir()
	args := []string{
		"--port", strconv.Itoa(port), "--bind", "127.0.0.1", "--dir", dir,
		"--save", "", "--appendonly", "no", "--logfile", filepath.Join(dir, "redis.log"),
		"--maxmemory-policy", "noeviction", "--repl-diskless-sync-delay", "0",
	}
	s := &Server{Addr: "127.0.0.1:" + strconv.Itoa(port), Dir: dir, args: append(args, extra...)}
	s.start(tb)
	return s
}

// StartSentinel starts redis-server --sentinel on a free loopback port,
// watching the primary at primaryAddr under name with the given quorum and
// down-after time.
func StartSentinel(tb testing.TB, name, primaryAddr string, quorum int, downAfter time.Duration) *Server {
	tb.Helper()
	port := FreePort(tb)
	dir := tb.TempDir()
	host, pport, err := net.SplitHostPort(primaryAddr)
	if err != nil {
		tb.Fatal(err)
	}
	conf := fmt.Sprintf(`port %d
bind 127.0.0.1
dir %s
logfile %s
sentinel monitor %s %s %s %d
sentinel down-after-milliseconds %s %d
sentinel failover-timeout %s 10000
sentinel parallel-syncs %s 1
`, port, dir, filepath.Join(dir, "sentinel.log"), name, host, pport, quorum, name, downAfter.Milliseconds(), name, name)
	path := filepath.Join(dir, "sentinel.conf")
	if err := os.WriteFile(path, []byte(conf), 0o600); err != nil {
		tb.Fatal(err)
	}
	s := &Server{Addr: "127.0.0.1:" + strconv.Itoa(port), Dir: dir, args: []string{path, "--sentinel"}}
	s.start(tb)
	return s
}

func (s *Server) start(tb testing.TB) {
	tb.Helper()
	cmd := exec.Command(RedisServerBin, s.args...)
	if err := cmd.Start(); err != nil {
		tb.Fatalf("start %s: %v", RedisServerBin, err)
	}
	done := make(chan struct{})
	go func() {
		_ = cmd.Wait()
		close(done)
	}()
	s.mu.Lock()
	first := s.cmd == nil
	s.cmd, s.done = cmd, done
	s.mu.Unlock()
	if first {
		tb.Cleanup(func() {
			s.Kill()
			if tb.Failed() {
				for _, f := range []string{"redis.log", "sentinel.log"} {
					if b, err := os.ReadFile(filepath.Join(s.Dir, f)); err == nil {
						tb.Logf("%s %s (last 3000 bytes):\n%s", s.Addr, f, tail(b, 3000))
					}
				}
			}
		})
	}
	s.waitUp(tb, cmd, done)
}

func tail(b []byte, n int) []byte {
	if len(b) > n {
		return b[len(b)-n:]
	}
	return b
}

// waitUp waits until the process answers PING (a server loading a large
// AOF answers LOADING, which counts as not yet up).
func (s *Server) waitUp(tb testing.TB, cmd *exec.Cmd, done chan struct{}) {
	tb.Helper()
	c := redis.NewClient(&redis.Options{Addr: s.Addr, MaxRetries: -1, DialTimeout: time.Second})
	defer c.Close()
	deadline := time.Now().Add(10 * time.Second)
	for {
		ctx, cancel := context.WithTimeout(context.Background(), time.Second)
		err := c.Ping(ctx).Err()
		cancel()
		if err == nil {
			return
		}
		select {
		case <-done:
			tb.Fatalf("%s %v exited at start: see %s", RedisServerBin, cmd.Args, s.Dir)
		default:
		}
		if time.Now().After(deadline) {
			tb.Fatalf("%s on %s did not answer within 10s: %v", RedisServerBin, s.Addr, err)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// Kill sends SIGKILL and waits for the process to go; a no-op if it has.
func (s *Server) Kill() {
	s.mu.Lock()
	cmd, done := s.cmd, s.done
	s.mu.Unlock()
	_ = cmd.Process.Signal(syscall.SIGKILL)
	<-done
}

// Signal sends sig (SIGSTOP and SIGCONT pause and resume the server).
func (s *Server) Signal(sig syscall.Signal) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.cmd.Process.Signal(sig)
}

// Restart starts the server again with the same arguments, port and
// directory (so from its own RDB or AOF files), after Kill.
func (s *Server) Restart(tb testing.TB) {
	tb.Helper()
	s.start(tb)
}

// Client returns a client on the server, closed when the test ends.
func (s *Server) Client(tb testing.TB) *redis.Client {
	c := redis.NewClient(&redis.Options{Addr: s.Addr})
	tb.Cleanup(func() { c.Close() })
	return c
}
