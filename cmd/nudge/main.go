// Command nudge runs the nudge reminder service and its operator tools.
//
//	nudge [run]      everything in one process: HTTP, planner, worker
//	nudge serve      HTTP only: forms, pages, health
//	nudge worker     the asynq worker only
//	nudge scheduler  the planner only
//	nudge schedule   print the next occurrences of a rule
//	nudge preview    print a message of the library
//	nudge clinic     manage clinics and their API keys
//	nudge doctor     check Redis, the SMTP relay, Twilio and DKIM
//
// Configuration comes from NUDGE_* environment variables (see README.md).
// With none set, nudge starts on an embedded Redis and a dev outbox.
package main

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"os"
	"os/signal"
	"strings"
	"syscall"
	"time"

	"github.com/nudgehq/nudge/internal/config"
	"github.com/redis/go-redis/v9"
)

func main() {
	// go-redis has one logger for the whole process (redis.SetLogger), so it
	// is set here, in main, the one place that owns the process; tests that
	// start several programs in one process keep the library's default. The
	// settings are read again in run, which reports their problems.
	cfg, _ := config.Load(os.Getenv)
	redis.SetLogger(redisLog{logger: newLogger(cfg, os.Stderr)})

	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	code := run(ctx, os.Args[1:], os.Getenv, os.Stdout, os.Stderr)
	stop()
	os.Exit(code)
}

const usage = `nudge: small, regular prompts toward the people around you.

Usage:
  nudge [run]        run everything in one process (HTTP, planner, worker)
  nudge serve        run the HTTP tier only
  nudge worker       run the worker only
  nudge scheduler    run the planner only
  nudge schedule --tz ZONE --rule RULE [--from RFC3339] [--count N] [--channel email|sms]
                     print the next occurrences of a rule
  nudge preview PROGRAM [STEP] [--channel email|sms] [--locale es] [--html]
                     list a program's messages, or print one rendered for a sample subscriber
  nudge clinic create|list|key|webhook …
                     manage clinics, their API keys and webhooks (nudge clinic help)
  nudge doctor       check Redis, the SMTP relay, Twilio and DKIM with these settings
                     (nudge doctor --help)

Configuration is read from NUDGE_* environment variables; see README.md.
`

// run is main without the exit: it returns the process's exit code.
func run(ctx context.Context, args []string, getenv func(string) string, stdout, stderr io.Writer) int {
	cmd := "run"
	if len(args) > 0 && !strings.HasPrefix(args[0], "-") {
		cmd, args = args[0], args[1:]
	}
	switch cmd {
	case "run", "serve", "worker", "scheduler":
		if wantsHelp(args) {
			fmt.Fprint(stdout, usage)
			return 0
		}
		if len(args) > 0 {
			fmt.Fprintf(stderr, "nudge %s takes no arguments (configuration comes from NUDGE_* variables)\n", cmd)
			return 2
		}
		return runRole(ctx, Role(cmd), getenv, stderr)
	case "schedule":
		return scheduleCommand(args, stdout, stderr, time.Now)
	case "preview":
		return previewCommand(args, stdout, stderr, getenv)
	case "clinic":
		return clinicCommand(ctx, args, getenv, time.Now, stdout, stderr)
	case "doctor":
		return doctorCommand(ctx, args, getenv, stdout, stderr, defaultDoctorDeps())
	case "help", "-h", "-help", "--help":
		fmt.Fprint(stdout, usage)
		return 0
	default:
		fmt.Fprintf(stderr, "nudge: unknown command %q\n\n%s", cmd, usage)
		return 2
	}
}

// wantsHelp reports whether args ask for help (-h, -help or --help, or
// "help" first) before any "--".
func wantsHelp(args []string) bool {
	for i, a := range args {
		switch {
		case a == "--":
			return false
		case a == "-h" || a == "-help" || a == "--help" || (i == 0 && a == "help"):
			return true
		}
	}
	return false
}

func runRole(ctx context.Context, role Role, getenv func(string) string, stderr io.Writer) int {
	cfg, err := config.Load(getenv)
	if err != nil {
		fmt.Fprintf(stderr, "nudge: the configuration has problems:\n%v\n", err)
		return 2
	}
	logger := newLogger(cfg, stderr)
	for _, w := range cfg.Warnings {
		logger.Warn(w)
	}
	now := time.Now
	if c := cfg.DevClock; c != nil {
		now = func() time.Time { return c.Now(time.Now()) }
	}
	app, err := NewApp(cfg, now, logger)
	if err != nil {
		logger.Error("cannot start", "err", err)
		return 1
	}
	defer app.Close()
	if err := app.Run(ctx, role, nil); err != nil {
		logger.Error("stopped with errors", "err", err)
		return 1
	}
	return 0
}

func newLogger(cfg config.Config, w io.Writer) *slog.Logger {
	opts := &slog.HandlerOptions{Level: cfg.LogLevel}
	if cfg.LogFormat == "json" {
		return slog.New(slog.NewJSONHandler(w, opts))
	}
	return slog.New(slog.NewTextHandler(w, opts))
}
