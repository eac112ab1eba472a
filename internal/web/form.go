package web

import (
	"errors"
	"net/mail"
	"net/url"
	"strconv"
	"strings"
	"time"
	"unicode"
	"unicode/utf8"

	"github.com/nudgehq/nudge/internal/domain"
	"github.com/nudgehq/nudge/internal/phone"
	"github.com/nudgehq/nudge/scheduler"
)

// signupForm is the signup form as typed, kept to re-render it on errors.
type signupForm struct {
	FirstName string
	Email     string
	TimeZone  string
	Locale    string
	Goal      string
	// Phone and SMSConsent ask for texts: both are needed, and the consent
	// box is never ticked by default.
	Phone      string
	SMSConsent bool
	Programs   map[domain.Program]programChoice
	Honeypot   string
}

type programChoice struct {
	Checked bool
	Day     string // "sun" for weekly programs, "15", "last" or "first-mon" for monthly
	Time    string // "HH:MM"
}

// programInfo describes one program on the form. Its title and hint are in
// the catalogue under program.NAME.title and program.NAME.hint.
type programInfo struct {
	Program                 domain.Program
	Monthly                 bool
	DefaultDay, DefaultTime string
	DefaultChecked          bool
}

var formPrograms = []programInfo{
	{domain.WeeklyCheckin, false, "sun", "18:00", true},
	{domain.Gratitude, false, "fri", "19:00", false},
	{domain.MonthlyReview, true, "last", "10:00", false},
}

// The longest first name and goal the form takes.
const (
	maxNameLen = 40
	maxGoalLen = domain.GoalMaxLen
)

type option struct{ Value, Label string }

// weekdayOptions are the days of a weekly program, in t's words.
func weekdayOptions(t texts) []option {
	out := []option{}
	for _, code := range weekdayCodes() {
		out = append(out, option{code, t.get("weekday." + code)})
	}
	return out
}

// monthDayOptions are the days of a monthly program, in t's words.
func monthDayOptions(t texts) []option {
	out := []option{}
	for d := 1; d <= scheduler.MaxMonthDay; d++ {
		v := strconv.Itoa(d)
		out = append(out, option{v, t.get("monthday." + v)})
	}
	out = append(out, option{"last", t.get("monthday.last")})
	for _, which := range []string{"first", "last"} {
		for _, code := range weekdayCodes() {
			v := which + "-" + code
			out = append(out, option{v, t.get("monthday." + v)})
		}
	}
	return out
}

// formLocale is the locale a signup stores: Spanish when the form asks for
// it, English otherwise.
func formLocale(locale string) string {
	if locale == spanish {
		return spanish
	}
	return english
}

func defaultForm() signupForm {
	f := signupForm{Locale: english, Programs: map[domain.Program]programChoice{}}
	for _, p := range formPrograms {
		f.Programs[p.Program] = programChoice{Checked: p.DefaultChecked, Day: p.DefaultDay, Time: p.DefaultTime}
	}
	return f
}

func parseSignupForm(v url.Values) signupForm {
	f := signupForm{
		FirstName:  strings.TrimSpace(v.Get("first_name")),
		Email:      strings.TrimSpace(v.Get("email")),
		TimeZone:   strings.TrimSpace(v.Get("tz")),
		Locale:     v.Get("locale"),
		Goal:       strings.TrimSpace(v.Get("goal")),
		Phone:      strings.TrimSpace(v.Get("phone")),
		SMSConsent: v.Get("sms_consent") == "yes",
		Honeypot:   v.Get("website"),
		Programs:   map[domain.Program]programChoice{},
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

// validate checks the form and returns what to store, or the catalogue key
// of a message per field.
// smsRules says how texts can be asked for: phones is nil when the service
// offers no SMS.
type smsRules struct {
	phones *phone.Normaliser
	window scheduler.Window
}

func (f signupForm) validate(zones map[string]bool, sr smsRules) (domain.Subscriber, []domain.Schedule, map[string]string) {
	errs := map[string]string{}
	switch {
	case f.FirstName == "":
		errs["first_name"] = "error.first_name.missing"
	case utf8.RuneCountInString(f.FirstName) > maxNameLen:
		errs["first_name"] = "error.first_name.long"
	case !utf8.ValidString(f.FirstName) || strings.IndexFunc(f.FirstName, unicode.IsControl) >= 0:
		errs["first_name"] = "error.first_name.invalid"
	}
	switch {
	case utf8.RuneCountInString(f.Goal) > maxGoalLen:
		errs["goal"] = "error.goal.long"
	case !utf8.ValidString(f.Goal) || strings.IndexFunc(f.Goal, unicode.IsControl) >= 0:
		errs["goal"] = "error.goal.invalid"
	}
	wantsSMS := sr.phones != nil && (f.SMSConsent || f.Phone != "")
	var e164 string
	if wantsSMS {
		var err error
		switch e164, err = sr.phones.Normalise(f.Phone); {
		case errors.Is(err, phone.ErrEmpty):
			errs["phone"] = "error.phone.missing"
		case errors.Is(err, phone.ErrNotMobile):
			errs["phone"] = "error.phone.not_mobile"
		case errors.Is(err, phone.ErrNotAllowed):
			errs["phone"] = "error.phone.country"
		case err != nil:
			errs["phone"] = "error.phone.invalid"
		case !f.SMSConsent:
			errs["sms_consent"] = "error.sms_consent"
		}
	}
	// An address is needed unless texts are asked for.
	if f.Email != "" || !wantsSMS {
		if key := checkEmail(f.Email); key != "" {
			errs["email"] = key
		}
	}
	if !zones[f.TimeZone] {
		errs["tz"] = "error.tz"
	}
	var scheds []domain.Schedule
	for _, p := range formPrograms {
		c := f.Programs[p.Program]
		if !c.Checked {
			continue
		}
		rule, key := buildRule(p, c)
		if key != "" {
			errs[string(p.Program)] = key
			continue
		}
		if wantsSMS {
			if r, err := scheduler.ParseRule(rule); err == nil && sr.window.AllowsRule(r) != nil {
				errs[string(p.Program)] = "error.sms_window"
				continue
			}
		}
		scheds = append(scheds, domain.Schedule{Program: p.Program, Rule: rule})
	}
	if noneChecked(f) {
		errs["programs"] = "error.programs"
	}
	if len(errs) > 0 {
		return domain.Subscriber{}, nil, errs
	}
	sub := domain.Subscriber{FirstName: f.FirstName, Email: f.Email, TimeZone: f.TimeZone, Locale: formLocale(f.Locale), Goal: f.Goal}
	if f.Email != "" {
		sub.Channels = append(sub.Channels, domain.Email)
	}
	if wantsSMS {
		sub.Phone, sub.SMSStatus = e164, domain.SMSPending
		sub.Channels = append(sub.Channels, domain.SMS)
	}
	return sub, scheds, nil
}

func noneChecked(f signupForm) bool {
	for _, c := range f.Programs {
		if c.Checked {
			return false
		}
	}
	return true
}

// checkEmail returns the catalogue key of why an address is not usable, or "".
func checkEmail(s string) string {
	if s == "" {
		return "error.email.missing"
	}
	if len(s) > 254 {
		return "error.email.long"
	}
	a, err := mail.ParseAddress(s)
	if err != nil || a.Address != s || !strings.Contains(s[strings.LastIndexByte(s, '@')+1:], ".") {
		return "error.email.invalid"
	}
	return ""
}

// buildRule turns a program's day and time into a rule and checks it the way
// every rule is checked; on a problem it returns the catalogue key of why.
func buildRule(p programInfo, c programChoice) (string, string) {
	if _, err := time.Parse("15:04", c.Time); err != nil || len(c.Time) != 5 {
		return "", "error.time"
	}
	kind := "weekly"
	if p.Monthly {
		kind = "monthly"
	}
	rule := kind + ":" + c.Day + "@" + c.Time
	r, err := scheduler.ParseRule(rule)
	if err != nil {
		if p.Monthly {
			return "", "error.monthday"
		}
		return "", "error.weekday"
	}
	return r.String(), ""
}
