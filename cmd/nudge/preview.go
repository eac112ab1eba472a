package main

import (
	"errors"
	"flag"
	"fmt"
	"io"
	"net/url"
	"strconv"
	"strings"
	"unicode/utf8"

	"github.com/nudgehq/nudge/internal/domain"
	"github.com/nudgehq/nudge/internal/render"
	"github.com/nudgehq/nudge/templates"
)

// The settings preview falls back to: the same as a development start.
const (
	previewBaseURL       = "http://localhost:8080"
	previewPostalAddress = "nudge (development), 1 Example Street, Exampletown"
)

// The sample subscriber a preview is rendered for, unless --name and --goal
// say otherwise. The goal is what the sign-up form asks for: someone to be
// closer to.
const (
	previewName = "Sam"
	previewGoal = "my sister"
)

// previewCommand prints a program's messages, or one of them rendered as a
// subscriber would get it, so copy can be read and checked without sending
// anything. It reads only NUDGE_TEMPLATES_DIR, NUDGE_BASE_URL and
// NUDGE_POSTAL_ADDRESS, so it works with no configuration at all.
func previewCommand(args []string, stdout, stderr io.Writer, getenv func(string) string) int {
	fs := flag.NewFlagSet("nudge preview", flag.ContinueOnError)
	fs.SetOutput(stderr)
	if wantsHelp(args) {
		fs.SetOutput(stdout) // asked-for help is the output, not an error
	}
	fs.Usage = func() {
		fmt.Fprint(fs.Output(), "usage: nudge preview PROGRAM [STEP] [--channel email|sms] [--locale LOCALE] [--name NAME] [--goal GOAL] [--html]\n\n"+
			"Without STEP, list the program's messages; with it, print that message rendered for a sample subscriber\n"+
			"(--name and --goal change who that is; an empty value previews a person who gave none).\n"+
			"Programs: "+programNames()+"\n\n")
		fs.PrintDefaults()
	}
	channel := fs.String("channel", "email", "email or sms")
	locale := fs.String("locale", templates.Fallback, "the language of the copy, e.g. es")
	asHTML := fs.Bool("html", false, "print the email's HTML part instead of its text")
	name := fs.String("name", previewName, "the subscriber's first name")
	goal := fs.String("goal", previewGoal, `who they would like to be closer to, as the sign-up form asks: a name or a relationship, like "my sister"`)

	if wantsHelp(args) {
		fs.Usage()
		return 0
	}

	// Flags may come before, between or after PROGRAM and STEP.
	var pos []string
	for {
		if err := fs.Parse(args); err != nil {
			if errors.Is(err, flag.ErrHelp) {
				return 0
			}
			return 2
		}
		if fs.NArg() == 0 {
			break
		}
		pos = append(pos, fs.Arg(0))
		args = fs.Args()[1:]
	}
	fail := func(format string, a ...any) int {
		fmt.Fprintf(stderr, "nudge preview: "+format+"\n", a...)
		return 2
	}

	if len(pos) == 0 {
		return fail("which program? one of %s (nudge preview PROGRAM [STEP])", programNames())
	}
	if len(pos) > 2 {
		return fail("unexpected argument %q (nudge preview PROGRAM [STEP])", pos[2])
	}
	program := domain.Program(pos[0])
	if !program.Valid() {
		return fail("unknown program %q: want one of %s", pos[0], programNames())
	}
	if *channel != "email" && *channel != "sms" {
		return fail("--channel must be email or sms, not %q", *channel)
	}
	if *asHTML && *channel != "email" {
		return fail("--html shows an email's HTML part; it does not go with --channel %s", *channel)
	}

	if n := utf8.RuneCountInString(*name); n > render.MaxNameLen {
		return fail("--name is %d characters; the sign-up form takes at most %d", n, render.MaxNameLen)
	}
	if n := utf8.RuneCountInString(*goal); n > domain.GoalMaxLen {
		return fail("--goal is %d characters; the sign-up form takes at most %d", n, domain.GoalMaxLen)
	}
	person := render.Data{FirstName: *name, Goal: *goal}

	base, err := previewBase(getenv("NUDGE_BASE_URL"))
	if err != nil {
		return fail("NUDGE_BASE_URL: %v", err)
	}
	address := strings.TrimSpace(getenv("NUDGE_POSTAL_ADDRESS"))
	if address == "" {
		address = previewPostalAddress
	}
	dir := strings.TrimSpace(getenv("NUDGE_TEMPLATES_DIR"))
	lib, err := templates.LoadWithOverrides(templates.FS(), dir)
	if err != nil {
		if dir != "" {
			return fail("NUDGE_TEMPLATES_DIR=%s: the message library has problems:\n%v", dir, err)
		}
		return fail("the message library has problems:\n%v", err)
	}

	loc := lib.Match(*locale)
	if lang, _, _ := strings.Cut(strings.ToLower(*locale), "-"); loc == templates.Fallback && lang != templates.Fallback {
		return fail("no messages in locale %q: the library has %s", *locale, strings.Join(lib.Locales(), ", "))
	}
	series := lib.Series(program, loc)
	if len(series) == 0 {
		return fail("%s has no messages in %s", program, loc)
	}

	r := render.New(lib, render.Options{
		ServiceName:   "nudge",
		PostalAddress: address,
		CrisisLine:    render.DefaultCrisisLines(),
	})
	links := render.Links{
		Manage:      base + "/manage/SAMPLE-TOKEN",
		Unsubscribe: base + "/unsubscribe/SAMPLE-TOKEN",
	}

	if len(pos) == 1 {
		for i, m := range series {
			e, err := r.Email(m, previewData(person, i+1, loc), links)
			if err != nil {
				fmt.Fprintf(stderr, "nudge preview: %v\n", err)
				return 1
			}
			fmt.Fprintf(stdout, "%2d  %-28s  %s\n", i+1, slug(m.Name), e.Subject)
		}
		return 0
	}

	step, err := strconv.Atoi(pos[1])
	if err != nil || step < 1 || step > len(series) {
		return fail("step %q: want a number from 1 to %d (%s has %d messages; nudge preview %s lists them)",
			pos[1], len(series), program, len(series), program)
	}
	m := series[step-1]
	d := previewData(person, step, loc)
	if *channel == "sms" {
		s, err := r.SMS(m, d, render.FooterOptOut)
		if err != nil {
			fmt.Fprintf(stderr, "nudge preview: %v\n", err)
			return 1
		}
		fmt.Fprintln(stdout, s)
		return 0
	}
	e, err := r.Email(m, d, links)
	if err != nil {
		fmt.Fprintf(stderr, "nudge preview: %v\n", err)
		return 1
	}
	if *asHTML {
		fmt.Fprint(stdout, e.HTML)
		return 0
	}
	fmt.Fprintf(stdout, "Subject: %s\n\n%s", e.Subject, e.Text)
	return 0
}

// previewData is the sample subscriber at a given step of a series: one
// message a week, so step N is week N.
func previewData(person render.Data, step int, locale string) render.Data {
	person.Week, person.Locale = step, locale
	return person
}

// previewBase checks NUDGE_BASE_URL the way the service does, loosely: an
// absolute http(s) URL; the default when empty.
func previewBase(v string) (string, error) {
	v = strings.TrimSpace(v)
	if v == "" {
		return previewBaseURL, nil
	}
	u, err := url.Parse(v)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		return "", fmt.Errorf("%q is not an absolute http:// or https:// URL", v)
	}
	return strings.TrimRight(v, "/"), nil
}

// slug is a message's name without its number: "03-greet-a-neighbour" →
// "greet-a-neighbour".
func slug(name string) string {
	if _, after, ok := strings.Cut(name, "-"); ok {
		return after
	}
	return name
}

func programNames() string {
	return strings.Join([]string{
		string(domain.WeeklyCheckin), string(domain.Gratitude),
		string(domain.MonthlyReview), string(domain.BetweenSession),
	}, ", ")
}
