package web

import (
	"fmt"
	"net/mail"
	"net/url"
	"strings"
	"time"
	"unicode"
	"unicode/utf8"

	"github.com/nudgehq/nudge/internal/domain"
	"github.com/nudgehq/nudge/scheduler"
)

// signupForm is the signup form as typed, kept to re-render it on errors.
type signupForm struct {
	FirstName string
	Email     string
	TimeZone  string
	Locale    string
	Goal      string
	Programs  map[domain.Program]programChoice
	Honeypot  string
}

type programChoice struct {
	Checked bool
	Day     string // "sun" for weekly programs, "15", "last" or "first-mon" for monthly
	Time    string // "HH:MM"
}

// programInfo describes one program on the form.
type programInfo struct {
	Program                 domain.Program
	Title, Hint             string
	Monthly                 bool
	DefaultDay, DefaultTime string
	DefaultChecked          bool
}

var formPrograms = []programInfo{
	{domain.WeeklyCheckin, "Weekly check-in", "one small step and a question, once a week", false, "sun", "18:00", true},
	{domain.Gratitude, "Gratitude prompt", "a moment to notice a kindness, once a week", false, "fri", "19:00", false},
	{domain.MonthlyReview, "Monthly review", "a look back over your month", true, "last", "10:00", false},
}

type option struct{ Value, Label string }

var weekdays = []option{{"mon", "Monday"}, {"tue", "Tuesday"}, {"wed", "Wednesday"}, {"thu", "Thursday"}, {"fri", "Friday"}, {"sat", "Saturday"}, {"sun", "Sunday"}}

func monthDays() []option {
	out := []option{}
	for d := 1; d <= 28; d++ {
		out = append(out, option{fmt.Sprint(d), ordinal(d)})
	}
	out = append(out, option{"last", "The last day"})
	for _, which := range []string{"first", "last"} {
		for _, w := range weekdays {
			out = append(out, option{which + "-" + w.Value, "The " + which + " " + w.Label})
		}
	}
	return out
}

func ordinal(d int) string {
	suffix := "th"
	switch {
	case d%10 == 1 && d != 11:
		suffix = "st"
	case d%10 == 2 && d != 12:
		suffix = "nd"
	case d%10 == 3 && d != 13:
		suffix = "rd"
	}
	return fmt.Sprintf("The %d%s", d, suffix)
}

func defaultForm() signupForm {
	f := signupForm{Locale: "en", Programs: map[domain.Program]programChoice{}}
	for _, p := range formPrograms {
		f.Programs[p.Program] = programChoice{Checked: p.DefaultChecked, Day: p.DefaultDay, Time: p.DefaultTime}
	}
	return f
}

func parseSignupForm(v url.Values) signupForm {
	f := signupForm{
		FirstName: strings.TrimSpace(v.Get("first_name")),
		Email:     strings.TrimSpace(v.Get("email")),
		TimeZone:  strings.TrimSpace(v.Get("tz")),
		Locale:    v.Get("locale"),
		Goal:      strings.TrimSpace(v.Get("goal")),
		Honeypot:  v.Get("website"),
		Programs:  map[domain.Program]programChoice{},
	}
	checked := map[string]bool{}
	for _, p := range v["program"] {
		checked[p] = true
	}
	for _, p := range formPrograms {
		f.Programs[p.Program] = programChoice{
			Checked: checked[string(p.Program)],
			Day:     v.Get(string(p.Program) + "-day"),
			Time:    v.Get(string(p.Program) + "-time"),
		}
	}
	return f
}

// validate checks the form and returns what to store, or a message per field.
func (f signupForm) validate(zones map[string]bool) (domain.Subscriber, []domain.Schedule, map[string]string) {
	errs := map[string]string{}
	switch {
	case f.FirstName == "":
		errs["first_name"] = "Please tell us your first name, so the messages can greet you."
	case utf8.RuneCountInString(f.FirstName) > 40:
		errs["first_name"] = "Please keep your first name to 40 characters."
	case !utf8.ValidString(f.FirstName) || strings.IndexFunc(f.FirstName, unicode.IsControl) >= 0:
		errs["first_name"] = "Your first name has characters we cannot use."
	}
	switch {
	case utf8.RuneCountInString(f.Goal) > domain.GoalMaxLen:
		errs["goal"] = fmt.Sprintf("Please keep this to %d characters; a few words are plenty.", domain.GoalMaxLen)
	case !utf8.ValidString(f.Goal) || strings.IndexFunc(f.Goal, unicode.IsControl) >= 0:
		errs["goal"] = "This has characters we cannot use."
	}
	if msg := checkEmail(f.Email); msg != "" {
		errs["email"] = msg
	}
	if !zones[f.TimeZone] {
		errs["tz"] = "Please choose your time zone from the list."
	}
	locale := f.Locale
	if locale != "es" {
		locale = "en"
	}
	var scheds []domain.Schedule
	for _, p := range formPrograms {
		c := f.Programs[p.Program]
		if !c.Checked {
			continue
		}
		rule, msg := buildRule(p, c)
		if msg != "" {
			errs[string(p.Program)] = msg
			continue
		}
		scheds = append(scheds, domain.Schedule{Program: p.Program, Rule: rule})
	}
	if noneChecked(f) {
		errs["programs"] = "Please choose at least one kind of message."
	}
	if len(errs) > 0 {
		return domain.Subscriber{}, nil, errs
	}
	return domain.Subscriber{FirstName: f.FirstName, Email: f.Email, TimeZone: f.TimeZone, Locale: locale, Goal: f.Goal}, scheds, nil
}

func noneChecked(f signupForm) bool {
	for _, c := range f.Programs {
		if c.Checked {
			return false
		}
	}
	return true
}

// checkEmail returns why an address is not usable, or "".
func checkEmail(s string) string {
	if s == "" {
		return "Please enter your email address."
	}
	if len(s) > 254 {
		return "That email address is too long."
	}
	a, err := mail.ParseAddress(s)
	if err != nil || a.Address != s || !strings.Contains(s[strings.LastIndexByte(s, '@')+1:], ".") {
		return "Please enter an email address like name@example.com."
	}
	return ""
}

// buildRule turns a program's day and time into a rule and checks it the way
// every rule is checked.
func buildRule(p programInfo, c programChoice) (string, string) {
	if _, err := time.Parse("15:04", c.Time); err != nil || len(c.Time) != 5 {
		return "", "Please choose a time of day, like 18:30."
	}
	kind := "weekly"
	if p.Monthly {
		kind = "monthly"
	}
	rule := kind + ":" + c.Day + "@" + c.Time
	r, err := scheduler.ParseRule(rule)
	if err != nil {
		if p.Monthly {
			return "", "Please choose a day of the month and a time from the lists."
		}
		return "", "Please choose a day of the week and a time."
	}
	return r.String(), ""
}
