package main

import (
	"flag"
	"fmt"
	"io"
	"time"

	"github.com/nudgehq/nudge/scheduler"
)

// scheduleCommand prints the next occurrences of a rule: the operator's
// answer to "when will this person hear from us next?".
func scheduleCommand(args []string, stdout, stderr io.Writer, now func() time.Time) int {
	fs := flag.NewFlagSet("nudge schedule", flag.ContinueOnError)
	fs.SetOutput(stderr)
	zone := fs.String("tz", "", "IANA time zone, e.g. Europe/London (required)")
	ruleText := fs.String("rule", "", "rule, e.g. weekly:sun@09:00, monthly:last-fri@18:00 (required)")
	from := fs.String("from", "", "start after this instant, RFC 3339 (default now)")
	count := fs.Int("count", 5, "how many occurrences to print (1-1000)")
	channel := fs.String("channel", "email", "email or sms (sms refuses rules outside quiet hours)")
	if wantsHelp(args) {
		fs.SetOutput(stdout)
		fmt.Fprintln(stdout, "usage: nudge schedule --tz ZONE --rule RULE [--from RFC3339] [--count N] [--channel email|sms]")
		fs.PrintDefaults()
		return 0
	}
	if err := fs.Parse(args); err != nil {
		return 2
	}
	fail := func(format string, a ...any) int {
		fmt.Fprintf(stderr, "nudge schedule: "+format+"\n", a...)
		return 2
	}
	if fs.NArg() > 0 {
		return fail("unexpected argument %q", fs.Arg(0))
	}
	if *zone == "" || *ruleText == "" {
		return fail("--tz and --rule are required, e.g. --tz Europe/London --rule weekly:sun@09:00")
	}
	loc, err := scheduler.LoadZone(*zone)
	if err != nil {
		return fail("%v", err)
	}
	rule, err := scheduler.ParseRule(*ruleText)
	if err != nil {
		return fail("%v", err)
	}
	if *count < 1 || *count > 1000 {
		return fail("--count must be between 1 and 1000, not %d", *count)
	}
	switch *channel {
	case "email":
	case "sms":
		if err := scheduler.DefaultSMSWindow.AllowsRule(rule); err != nil {
			return fail("%v", err)
		}
	default:
		return fail("--channel must be email or sms, not %q", *channel)
	}
	after := now()
	if *from != "" {
		if after, err = time.Parse(time.RFC3339, *from); err != nil {
			return fail("--from %q is not an RFC 3339 instant like 2026-03-08T00:00:00Z", *from)
		}
	}
	for range *count {
		occ := rule.Next(after, loc)
		fmt.Fprintf(stdout, "%s  %s\n", occ.At.UTC().Format(time.RFC3339), occ.At.In(loc).Format("2006-01-02 15:04 Mon -07:00 MST"))
		after = occ.At
	}
	return 0
}
