package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/nudgehq/nudge/internal/clinic"
	"github.com/nudgehq/nudge/internal/config"
	"github.com/nudgehq/nudge/internal/domain"
	"github.com/nudgehq/nudge/internal/subscription"
)

const clinicUsage = `Usage:
  nudge clinic create --name NAME [--display-name NAME] [--sign-off TEXT] [--help-text TEXT]
                      [--crisis-text TEXT] [--webhook-url URL]
                      [--cap-day N] [--cap-week N]
        create a clinic; prints its id, its first API key and its webhook secret (shown once)
  nudge clinic list
        list clinics
  nudge clinic key add --clinic ID
        make another API key for a clinic (shown once)
  nudge clinic key list --clinic ID
        list a clinic's keys (ids and dates, never the keys)
  nudge clinic key revoke --clinic ID --key KEY_ID
        stop a key from working at once
  nudge clinic webhook set --clinic ID --url URL
        post the clinic's signed events to URL (https, on a public address);
        turning webhooks on prints a new signing secret (shown once)
  nudge clinic webhook remove --clinic ID
        stop posting the clinic's events
  nudge clinic staff add --clinic ID --email ADDRESS --role owner|clinician
        let someone sign in to the clinic console (an address is staff of one clinic)
  nudge clinic staff list --clinic ID
        list a clinic's staff
  nudge clinic staff remove --clinic ID --staff STAFF_ID
        remove a staff member; their console sessions end at once
  nudge clinic staff assign --clinic ID --staff STAFF_ID --client CLIENT_ID
        assign a client to a clinician (a clinician sees only their clients)

The clinic commands work on the Redis that NUDGE_REDIS_URL names.
`

// clinicCommand runs "nudge clinic …".
func clinicCommand(ctx context.Context, args []string, getenv func(string) string, now func() time.Time, stdout, stderr io.Writer) int {
	if len(args) == 0 || wantsHelp(args) {
		fmt.Fprint(stdout, clinicUsage)
		return 0
	}
	cfg, err := config.Load(getenv)
	if err != nil {
		fmt.Fprintf(stderr, "nudge: the configuration has problems:\n%v\n", err)
		return 2
	}
	if cfg.EmbeddedRedis() {
		fmt.Fprintln(stderr, "nudge clinic: set NUDGE_REDIS_URL to the Redis nudge runs on; the embedded Redis lives only inside a running nudge")
		return 2
	}
	// Operator tools log only problems; their output is for the operator.
	logger := slog.New(slog.NewTextHandler(stderr, &slog.HandlerOptions{Level: slog.LevelWarn}))
	app, err := NewApp(cfg, now, logger)
	if err != nil {
		fmt.Fprintf(stderr, "nudge clinic: %v\n", err)
		return 1
	}
	defer app.Close()
	svc := app.clinicService()

	cmd, rest := args[0], args[1:]
	if cmd == "key" || cmd == "webhook" || cmd == "staff" {
		if len(rest) == 0 {
			want := map[string]string{"key": "add, list or revoke", "webhook": "set or remove", "staff": "add, list, remove or assign"}[cmd]
			fmt.Fprintf(stderr, "nudge clinic %s: want %s\n\n%s", cmd, want, clinicUsage)
			return 2
		}
		cmd, rest = cmd+" "+rest[0], rest[1:]
	}
	fs := flag.NewFlagSet("nudge clinic "+cmd, flag.ContinueOnError)
	fs.SetOutput(stderr)
	var (
		name     = fs.String("name", "", "the clinic's name (never shown to clients)")
		display  = fs.String("display-name", "", "the neutral name that opens its messages")
		signOff  = fs.String("sign-off", "", "how its emails are signed")
		helpText = fs.String("help-text", "", "its contact line, added to the answer to HELP (plain text, at most 60 characters)")
		crisisTx = fs.String("crisis-text", "", "its own crisis line, added to the crisis resources its clients are given (plain text, at most 100 characters)")
		hook     = fs.String("webhook-url", "", "where its signed events are posted")
		capDay   = fs.Int("cap-day", 0, "prompts a client may get in a day (default 1, at most 2)")
		capWeek  = fs.Int("cap-week", 0, "prompts a client may get in seven days (default 3, at most 6)")
		clinicID = fs.String("clinic", "", "the clinic's id")
		keyID    = fs.String("key", "", "the key's id")
		hookURL  = fs.String("url", "", "the https URL the clinic's events are posted to")
		email    = fs.String("email", "", "the staff member's email address")
		role     = fs.String("role", "", "owner (sees every client and the audit log) or clinician (sees assigned clients)")
		staffID  = fs.String("staff", "", "the staff member's id")
		clientID = fs.String("client", "", "the client's id")
	)
	if err := fs.Parse(rest); err != nil {
		return 2
	}
	if fs.NArg() > 0 {
		fmt.Fprintf(stderr, "nudge clinic %s: unexpected %q\n", cmd, strings.Join(fs.Args(), " "))
		return 2
	}
	need := func(v, flagName string) bool {
		if v == "" {
			fmt.Fprintf(stderr, "nudge clinic %s: --%s is required\n", cmd, flagName)
			return false
		}
		return true
	}

	switch cmd {
	case "create":
		if !need(*name, "name") {
			return 2
		}
		c, err := svc.CreateClinic(ctx, clinic.NewClinic{
			Name: *name, DisplayName: *display, SignOff: *signOff, HelpText: *helpText, CrisisText: *crisisTx, WebhookURL: *hook, CapDay: *capDay, CapWeek: *capWeek,
		})
		if err != nil {
			return clinicFail(stderr, cmd, err)
		}
		fmt.Fprintf(stdout, "clinic         %s\n", c.Clinic.ID)
		fmt.Fprintf(stdout, "display name   %s\n", c.Clinic.DisplayName)
		fmt.Fprintf(stdout, "caps           %d a day, %d a week\n", c.Clinic.CapDay, c.Clinic.CapWeek)
		fmt.Fprintf(stdout, "api key        %s\n", c.APIKey)
		kept := "The API key is shown this once: keep it now."
		if c.Clinic.WebhookURL != "" {
			fmt.Fprintf(stdout, "webhook secret %s\n", c.WebhookSecret)
			kept = "The API key and the webhook secret are shown this once: keep them now."
		}
		fmt.Fprintf(stdout, "\n%s\n", kept)
	case "list":
		cs, err := svc.Clinics(ctx)
		if err != nil {
			return clinicFail(stderr, cmd, err)
		}
		tw := tabwriter.NewWriter(stdout, 0, 4, 2, ' ', 0)
		fmt.Fprintln(tw, "ID\tNAME\tDISPLAY NAME\tCAPS\tWEBHOOK\tCREATED")
		for _, c := range cs {
			hookSet := "-"
			if c.WebhookURL != "" {
				hookSet = c.WebhookURL
			}
			fmt.Fprintf(tw, "%s\t%s\t%s\t%d/day %d/week\t%s\t%s\n", c.ID, c.Name, c.DisplayName, c.CapDay, c.CapWeek,
				hookSet, c.CreatedAt.Format(time.DateOnly))
		}
		tw.Flush()
	case "key add":
		if !need(*clinicID, "clinic") {
			return 2
		}
		id, key, err := svc.AddKey(ctx, *clinicID)
		if err != nil {
			return clinicFail(stderr, cmd, err)
		}
		fmt.Fprintf(stdout, "key id   %s\napi key  %s\n\nThe API key is shown this once: keep it now.\n", id, key)
	case "key list":
		if !need(*clinicID, "clinic") {
			return 2
		}
		keys, err := svc.Keys(ctx, *clinicID)
		if err != nil {
			return clinicFail(stderr, cmd, err)
		}
		tw := tabwriter.NewWriter(stdout, 0, 4, 2, ' ', 0)
		fmt.Fprintln(tw, "KEY ID\tCREATED\tREVOKED")
		for _, k := range keys {
			revoked := "-"
			if !k.RevokedAt.IsZero() {
				revoked = k.RevokedAt.UTC().Format(time.RFC3339)
			}
			fmt.Fprintf(tw, "%s\t%s\t%s\n", k.ID, k.CreatedAt.UTC().Format(time.RFC3339), revoked)
		}
		tw.Flush()
	case "key revoke":
		if !need(*clinicID, "clinic") || !need(*keyID, "key") {
			return 2
		}
		if err := svc.RevokeKey(ctx, *clinicID, *keyID); err != nil {
			return clinicFail(stderr, cmd, err)
		}
		fmt.Fprintf(stdout, "key %s revoked\n", *keyID)
	case "webhook set":
		if !need(*clinicID, "clinic") || !need(*hookURL, "url") {
			return 2
		}
		w, err := svc.SetWebhook(ctx, *clinicID, *hookURL)
		if err != nil {
			return clinicFail(stderr, cmd, err)
		}
		fmt.Fprintf(stdout, "webhook        %s\n", w.URL)
		if w.Secret != "" {
			fmt.Fprintf(stdout, "webhook secret %s\n\nThe webhook secret is shown this once: keep it now.\n", w.Secret)
		}
	case "webhook remove":
		if !need(*clinicID, "clinic") {
			return 2
		}
		if _, err := svc.SetWebhook(ctx, *clinicID, ""); err != nil {
			return clinicFail(stderr, cmd, err)
		}
		fmt.Fprintln(stdout, "webhook removed")
	case "staff add", "staff list", "staff remove", "staff assign":
		return staffCommand(ctx, app, cmd, staffArgs{clinic: *clinicID, email: *email, role: *role, staff: *staffID, client: *clientID}, need, stdout, stderr)
	default:
		fmt.Fprintf(stderr, "nudge clinic: unknown command %q\n\n%s", cmd, clinicUsage)
		return 2
	}
	return 0
}

// clinicFail reports an error: input problems and unknown ids as such (exit
// 2), anything else as a failure (exit 1).
func clinicFail(stderr io.Writer, cmd string, err error) int {
	var fe *clinic.FieldError
	switch {
	case errors.As(err, &fe):
		fmt.Fprintf(stderr, "nudge clinic %s: --%s: %s\n", cmd, strings.ReplaceAll(fe.Field, "_", "-"), fe.Message)
		return 2
	case domain.ErrorCode(err) == domain.ErrConflict:
		fmt.Fprintf(stderr, "nudge clinic %s: %v\n", cmd, err)
		return 2
	case domain.ErrorCode(err) == domain.ErrNotFound:
		what := "clinic or key"
		if strings.HasPrefix(cmd, "staff ") {
			what = "clinic, staff member or client"
		}
		fmt.Fprintf(stderr, "nudge clinic %s: no such %s\n", cmd, what)
		return 2
	}
	fmt.Fprintf(stderr, "nudge clinic %s: %v\n", cmd, err)
	return 1
}

// clinicService is the clinic service on this process's Redis and queue,
// shared by the API and the clinic commands.
func (a *App) clinicService() *clinic.Service {
	return clinic.New(clinic.Config{
		Store: a.store, Enqueue: a.queue, Erase: subscriberEraser{a.manager()}, Library: a.library,
		Phones: a.phones(), SMSWindow: a.cfg.SMSWindow, ServiceName: "nudge", Webhooks: a.webhookGuard(), Now: a.now, Logger: a.logger,
	})
}

// subscriberEraser erases a client as the preference centre erases a
// subscriber: the record, then everything queued for it.
type subscriberEraser struct{ m *subscription.Manager }

func (e subscriberEraser) EraseSubscriber(ctx context.Context, id string) error {
	_, err := e.m.Erase(ctx, id)
	return err
}
