package scheduler

import (
	"errors"
	"fmt"
	"strconv"
	"strings"
	"time"
	_ "time/tzdata" // zones must load in a bare container with no zoneinfo files
)

// DateLayout is the layout of Occurrence.Date: "2006-01-02".
const DateLayout = time.DateOnly

// MaxMonthDay is the highest day of the month a monthly rule may name: every
// month has it. Later days are written "last".
const MaxMonthDay = 28

// LastDay as MonthlyDay.Day means the last day of the month.
const LastDay = -1

// MaxPromptOffset bounds how far a session rule may move from the session.
const MaxPromptOffset = 90 * 24 * time.Hour

// ErrInvalid is matched, with errors.Is, by every error this package returns
// for bad input: a rule, prompt rule, zone or window that is not understood or
// not allowed. The error's text says what is expected and can be shown to the
// person who wrote the input.
var ErrInvalid = errors.New("invalid schedule input")

// invalidError is a message for a person that also matches ErrInvalid and,
// when there is one, the underlying error.
type invalidError struct {
	msg string
	err error
}

func (e *invalidError) Error() string { return e.msg }

func (e *invalidError) Unwrap() []error {
	if e.err != nil {
		return []error{ErrInvalid, e.err}
	}
	return []error{ErrInvalid}
}

func invalidf(format string, args ...any) error {
	return &invalidError{msg: fmt.Sprintf(format, args...)}
}

// Rule is a recurring schedule: a set of civil dates and one wall time,
// read in the subscriber's zone.
type Rule interface {
	// Next returns the first occurrence strictly after `after`, in loc.
	Next(after time.Time, loc *time.Location) Occurrence
	// String returns the canonical text form (ParseRule(r.String()) == r).
	String() string
	// LocalTime returns the wall clock hour and minute the rule asks for.
	LocalTime() (hour, min int)
}

// Occurrence is one time a rule fires.
type Occurrence struct {
	At   time.Time // the instant (UTC)
	Date string    // the civil date the rule chose, "2006-01-02" — used in task ids, one occurrence per (subscriber, program, Date)
}

// WallTime is a time of day on a wall clock, to the minute.
type WallTime struct {
	Hour   int // 0–23
	Minute int // 0–59
}

// String returns the time as HH:MM.
func (w WallTime) String() string { return fmt.Sprintf("%02d:%02d", w.Hour, w.Minute) }

func (w WallTime) valid() bool { return w.Hour >= 0 && w.Hour < 24 && w.Minute >= 0 && w.Minute < 60 }

// minutes returns the minutes after midnight.
func (w WallTime) minutes() int { return w.Hour*60 + w.Minute }

// Weekly fires every week on Weekday at Time: "weekly:sun@09:00".
type Weekly struct {
	Weekday time.Weekday
	Time    WallTime
}

// MonthlyDay fires every month on day Day (1–28, or LastDay) at Time:
// "monthly:15@18:30", "monthly:last@09:00".
type MonthlyDay struct {
	Day  int
	Time WallTime
}

// MonthlyWeekday fires every month on the first (or, if Last, the last)
// Weekday of the month at Time: "monthly:first-mon@09:00", "monthly:last-fri@18:00".
type MonthlyWeekday struct {
	Last    bool
	Weekday time.Weekday
	Time    WallTime
}

// Next returns the first occurrence strictly after `after`, in loc.
// It panics if r is out of range (build rules with ParseRule).
func (r Weekly) Next(after time.Time, loc *time.Location) Occurrence {
	mustBeValid(r, validWeekday(r.Weekday) && r.Time.valid())
	return nextOccurrence(r.onOrAfter, r.Time, after, loc)
}

// String returns the canonical text form, e.g. "weekly:sun@09:00".
func (r Weekly) String() string {
	return "weekly:" + weekdayName(r.Weekday) + "@" + r.Time.String()
}

// LocalTime returns the wall clock hour and minute the rule asks for.
func (r Weekly) LocalTime() (hour, min int) { return r.Time.Hour, r.Time.Minute }

func (r Weekly) onOrAfter(day time.Time) time.Time {
	return day.AddDate(0, 0, (int(r.Weekday)-int(day.Weekday())+7)%7)
}

// Next returns the first occurrence strictly after `after`, in loc.
// It panics if r is out of range (build rules with ParseRule).
func (r MonthlyDay) Next(after time.Time, loc *time.Location) Occurrence {
	mustBeValid(r, (r.Day == LastDay || r.Day >= 1 && r.Day <= MaxMonthDay) && r.Time.valid())
	return nextOccurrence(func(day time.Time) time.Time { return monthlyOnOrAfter(day, r.dateIn) }, r.Time, after, loc)
}

// String returns the canonical text form, e.g. "monthly:15@18:30".
func (r MonthlyDay) String() string {
	day := strconv.Itoa(r.Day)
	if r.Day == LastDay {
		day = "last"
	}
	return "monthly:" + day + "@" + r.Time.String()
}

// LocalTime returns the wall clock hour and minute the rule asks for.
func (r MonthlyDay) LocalTime() (hour, min int) { return r.Time.Hour, r.Time.Minute }

func (r MonthlyDay) dateIn(year int, month time.Month) time.Time {
	if r.Day == LastDay {
		return time.Date(year, month+1, 0, 0, 0, 0, 0, time.UTC) // day 0 is the day before the 1st
	}
	return time.Date(year, month, r.Day, 0, 0, 0, 0, time.UTC)
}

// Next returns the first occurrence strictly after `after`, in loc.
// It panics if r is out of range (build rules with ParseRule).
func (r MonthlyWeekday) Next(after time.Time, loc *time.Location) Occurrence {
	mustBeValid(r, validWeekday(r.Weekday) && r.Time.valid())
	return nextOccurrence(func(day time.Time) time.Time { return monthlyOnOrAfter(day, r.dateIn) }, r.Time, after, loc)
}

// String returns the canonical text form, e.g. "monthly:last-fri@18:00".
func (r MonthlyWeekday) String() string {
	which := "first-"
	if r.Last {
		which = "last-"
	}
	return "monthly:" + which + weekdayName(r.Weekday) + "@" + r.Time.String()
}

// LocalTime returns the wall clock hour and minute the rule asks for.
func (r MonthlyWeekday) LocalTime() (hour, min int) { return r.Time.Hour, r.Time.Minute }

func (r MonthlyWeekday) dateIn(year int, month time.Month) time.Time {
	if r.Last {
		last := time.Date(year, month+1, 0, 0, 0, 0, 0, time.UTC)
		return last.AddDate(0, 0, -((int(last.Weekday()) - int(r.Weekday) + 7) % 7))
	}
	first := time.Date(year, month, 1, 0, 0, 0, 0, time.UTC)
	return first.AddDate(0, 0, (int(r.Weekday)-int(first.Weekday())+7)%7)
}

// nextOccurrence returns the first occurrence strictly after `after` of the
// rule whose dates onOrAfter gives (the first rule date on or after a date;
// dates are midnight UTC) and whose wall time is at.
func nextOccurrence(onOrAfter func(day time.Time) time.Time, at WallTime, after time.Time, loc *time.Location) Occurrence {
	y, m, d := after.In(loc).Date()
	// Start two days back: a date whose wall time fell in a jump (up to a whole
	// day, as in Samoa at the end of 2011) resolves later than its own date.
	day := time.Date(y, m, d-2, 0, 0, 0, 0, time.UTC)
	for {
		day = onOrAfter(day)
		t := ResolveLocal(loc, day.Year(), day.Month(), day.Day(), at.Hour, at.Minute)
		if t.After(after) {
			return Occurrence{At: t.UTC(), Date: day.Format(DateLayout)}
		}
		day = day.AddDate(0, 0, 1)
	}
}

// monthlyOnOrAfter returns the first date on or after day that dateIn picks
// in its month.
func monthlyOnOrAfter(day time.Time, dateIn func(int, time.Month) time.Time) time.Time {
	if c := dateIn(day.Year(), day.Month()); !c.Before(day) {
		return c
	}
	n := time.Date(day.Year(), day.Month()+1, 1, 0, 0, 0, 0, time.UTC)
	return dateIn(n.Year(), n.Month())
}

func mustBeValid(r Rule, ok bool) {
	if !ok {
		panic(fmt.Sprintf("scheduler: rule %#v out of range; build rules with ParseRule", r))
	}
}

func validWeekday(d time.Weekday) bool { return d >= time.Sunday && d <= time.Saturday }

// weekdayName returns the rule spelling of d: "sun", "mon", …
func weekdayName(d time.Weekday) string {
	if !validWeekday(d) {
		return strconv.Itoa(int(d))
	}
	return strings.ToLower(d.String()[:3])
}

func parseWeekday(s string) (time.Weekday, bool) {
	for d := time.Sunday; d <= time.Saturday; d++ {
		if s == weekdayName(d) {
			return d, true
		}
	}
	return 0, false
}

// parseWallTime reads exactly HH:MM, 00:00 to 23:59.
func parseWallTime(s string) (WallTime, bool) {
	if len(s) != 5 || s[2] != ':' || !allDigits(s[:2]) || !allDigits(s[3:]) {
		return WallTime{}, false
	}
	h, _ := strconv.Atoi(s[:2])
	m, _ := strconv.Atoi(s[3:])
	w := WallTime{Hour: h, Minute: m}
	return w, w.valid()
}

func allDigits(s string) bool {
	if s == "" {
		return false
	}
	for _, c := range s {
		if c < '0' || c > '9' {
			return false
		}
	}
	return true
}

// The expected forms, as the error messages state them.
const (
	wantRule    = "want weekly:DAY@HH:MM or monthly:WHEN@HH:MM, e.g. weekly:sun@09:00 or monthly:last@18:30"
	wantWeekday = "want weekly:DAY@HH:MM with DAY one of mon…sun"
	wantWhen    = "want monthly:WHEN@HH:MM with WHEN a day 1–28, last, first-DAY or last-DAY (DAY one of mon…sun)"
	wantTime    = "want HH:MM, a 24-hour time from 00:00 to 23:59"
)

// ParseRule reads a recurring rule as it is written everywhere (form, API, CLI):
//
//	weekly:DAY@HH:MM            DAY one of mon tue wed thu fri sat sun
//	monthly:N@HH:MM             N a day of the month, 1–28
//	monthly:last@HH:MM          the last day of the month
//	monthly:first-DAY@HH:MM     the first DAY of the month
//	monthly:last-DAY@HH:MM      the last DAY of the month
//
// Surrounding spaces and letter case are ignored; String gives the canonical
// form. Errors match ErrInvalid and say what is expected.
func ParseRule(s string) (Rule, error) {
	kind, rest, _ := strings.Cut(strings.ToLower(strings.TrimSpace(s)), ":")
	switch kind {
	case "weekly":
		dayText, timeText, _ := strings.Cut(rest, "@")
		day, ok := parseWeekday(dayText)
		if !ok {
			return nil, invalidf("rule %q not understood: %s", s, wantWeekday)
		}
		at, ok := parseWallTime(timeText)
		if !ok {
			return nil, invalidf("rule %q not understood: %s", s, wantTime)
		}
		return Weekly{Weekday: day, Time: at}, nil
	case "monthly":
		whenText, timeText, _ := strings.Cut(rest, "@")
		rule, err := parseMonthlyWhen(s, whenText)
		if err != nil {
			return nil, err
		}
		at, ok := parseWallTime(timeText)
		if !ok {
			return nil, invalidf("rule %q not understood: %s", s, wantTime)
		}
		return rule(at), nil
	}
	return nil, invalidf("rule %q not understood: %s", s, wantRule)
}

// parseMonthlyWhen reads the WHEN of monthly:WHEN@HH:MM (s is the whole rule,
// for messages) and returns the rule it makes at a given time.
func parseMonthlyWhen(s, when string) (func(WallTime) Rule, error) {
	if when == "last" {
		return func(at WallTime) Rule { return MonthlyDay{Day: LastDay, Time: at} }, nil
	}
	if len(when) <= 2 && allDigits(when) {
		n, _ := strconv.Atoi(when)
		switch {
		case n >= 1 && n <= MaxMonthDay:
			return func(at WallTime) Rule { return MonthlyDay{Day: n, Time: at} }, nil
		case n > MaxMonthDay && n <= 31:
			return nil, invalidf("rule %q refused: not every month has a day %d; write last (e.g. monthly:last@09:00) for the last day of the month, or a day 1–%d",
				s, n, MaxMonthDay)
		}
	}
	which, dayText, _ := strings.Cut(when, "-")
	if day, ok := parseWeekday(dayText); ok && (which == "first" || which == "last") {
		return func(at WallTime) Rule { return MonthlyWeekday{Last: which == "last", Weekday: day, Time: at} }, nil
	}
	return nil, invalidf("rule %q not understood: %s", s, wantWhen)
}

// LoadZone loads an IANA time zone such as "Europe/London". It refuses ""
// and "Local", which time.LoadLocation would read as UTC and as the server's
// own zone: a subscriber's zone is always named.
func LoadZone(name string) (*time.Location, error) {
	switch name {
	case "":
		return nil, invalidf("time zone is empty: want an IANA name such as Europe/London")
	case "Local":
		return nil, invalidf(`time zone "Local" refused: want an IANA name such as Europe/London, not the server's zone`)
	}
	loc, err := time.LoadLocation(name)
	if err != nil {
		return nil, &invalidError{
			msg: fmt.Sprintf("time zone %q not known: want an IANA name such as Europe/London: %v", name, err),
			err: err,
		}
	}
	return loc, nil
}

// PromptRule places one clinic prompt: at a fixed instant (AbsoluteRule) or
// relative to the client's session (SessionRule).
type PromptRule interface {
	// At returns the instant (UTC) the prompt is due, for a client whose
	// session is at session and whose zone is loc.
	At(session time.Time, loc *time.Location) time.Time
	// String returns the canonical text form (ParsePromptRule(r.String()) == r).
	String() string
}

// AbsoluteRule is a prompt at a fixed instant: "at:2026-12-03T18:00:00Z".
type AbsoluteRule struct {
	Instant time.Time // UTC
}

// At returns the rule's instant; the session and zone play no part.
func (r AbsoluteRule) At(session time.Time, loc *time.Location) time.Time { return r.Instant.UTC() }

// String returns the canonical text form: "at:" and the instant in RFC 3339, in UTC.
func (r AbsoluteRule) String() string { return "at:" + r.Instant.UTC().Format(time.RFC3339Nano) }

// SessionRule is a prompt placed relative to a session.
//
// With OnDay set it is at Time (wall clock, in the client's zone) on the
// session's local date moved by Days: "session+1d@18:00" is 18:00 the day
// after the session, "session-1d@19:00" 19:00 the evening before,
// "session+0d@08:00" 08:00 on the session's own date (even if that is before
// the session). The wall time is resolved with ResolveLocal.
//
// Without OnDay it is the plain duration Offset after the session (before it
// if negative): "session+2h", "session-30m", "session+1h30m". Days and Time
// are then unused.
type SessionRule struct {
	OnDay  bool
	Days   int
	Time   WallTime
	Offset time.Duration
}

// At returns the instant (UTC) the prompt is due for a session at session,
// for a client in loc.
func (r SessionRule) At(session time.Time, loc *time.Location) time.Time {
	if !r.OnDay {
		return session.Add(r.Offset).UTC()
	}
	y, m, d := session.In(loc).Date()
	return ResolveLocal(loc, y, m, d+r.Days, r.Time.Hour, r.Time.Minute).UTC()
}

// String returns the canonical text form, e.g. "session-1d@19:00" or "session+1h30m".
func (r SessionRule) String() string {
	if r.OnDay {
		return fmt.Sprintf("session%+dd@%s", r.Days, r.Time)
	}
	sign, d := "+", r.Offset
	if d < 0 {
		sign, d = "-", -d
	}
	h, m := int(d/time.Hour), int(d%time.Hour/time.Minute)
	var b strings.Builder
	b.WriteString("session" + sign)
	if h > 0 {
		b.WriteString(strconv.Itoa(h) + "h")
	}
	if m > 0 || h == 0 {
		b.WriteString(strconv.Itoa(m) + "m")
	}
	return b.String()
}

const wantPrompt = "want at:TIME (RFC 3339, e.g. at:2026-12-03T18:00:00Z), " +
	"session+Nd@HH:MM or session-Nd@HH:MM (N days after or before the session's date, at a local time), " +
	"or session+DURATION or session-DURATION (e.g. session+2h, session-30m, session+1h30m)"

// ParsePromptRule reads a clinic prompt rule:
//
//	at:TIME             a fixed instant, TIME in RFC 3339 with an offset
//	session+Nd@HH:MM    HH:MM local time, N days after the session's local date
//	session-Nd@HH:MM    HH:MM local time, N days before the session's local date
//	session+DURATION    a plain duration after the session, e.g. 2h, 30m, 1h30m
//	session-DURATION    the same, before the session
//
// N and DURATION reach at most 90 days. A day count needs a time ("session+1d"
// alone is refused: write session+24h or session+1d@HH:MM). Errors match
// ErrInvalid and say what is expected.
func ParsePromptRule(s string) (PromptRule, error) {
	text := strings.TrimSpace(s)
	if len(text) >= 3 && strings.EqualFold(text[:3], "at:") {
		t, err := time.Parse(time.RFC3339, text[3:])
		if err != nil {
			return nil, invalidf("prompt rule %q not understood: want at:TIME with TIME in RFC 3339, e.g. at:2026-12-03T18:00:00Z", s)
		}
		return AbsoluteRule{Instant: t.UTC()}, nil
	}
	text = strings.ToLower(text)
	rest, ok := strings.CutPrefix(text, "session")
	if !ok || rest == "" || (rest[0] != '+' && rest[0] != '-') {
		return nil, invalidf("prompt rule %q not understood: %s", s, wantPrompt)
	}
	neg, rest := rest[0] == '-', rest[1:]
	if daysText, timeText, ok := strings.Cut(rest, "@"); ok {
		n, okDays := strings.CutSuffix(daysText, "d")
		at, okTime := parseWallTime(timeText)
		if !okDays || !allDigits(n) || len(n) > 3 || !okTime {
			return nil, invalidf("prompt rule %q not understood: want session+Nd@HH:MM or session-Nd@HH:MM, N a number of days and HH:MM a 24-hour time, e.g. session-1d@19:00", s)
		}
		days, _ := strconv.Atoi(n)
		if time.Duration(days)*24*time.Hour > MaxPromptOffset {
			return nil, invalidf("prompt rule %q refused: a prompt may be at most %d days from the session", s, MaxPromptOffset/(24*time.Hour))
		}
		if neg {
			days = -days
		}
		return SessionRule{OnDay: true, Days: days, Time: at}, nil
	}
	if strings.HasSuffix(rest, "d") {
		return nil, invalidf("prompt rule %q not understood: a day count needs a local time; write session%c%s@HH:MM, or a plain duration in hours such as session%c24h",
			s, text[7], rest, text[7])
	}
	d, ok := parseHoursMinutes(rest)
	if !ok {
		return nil, invalidf("prompt rule %q not understood: %s", s, wantPrompt)
	}
	if d > MaxPromptOffset {
		return nil, invalidf("prompt rule %q refused: a prompt may be at most %d days from the session", s, MaxPromptOffset/(24*time.Hour))
	}
	if neg {
		d = -d
	}
	return SessionRule{Offset: d}, nil
}

// parseHoursMinutes reads "2h", "30m" or "1h30m".
func parseHoursMinutes(s string) (time.Duration, bool) {
	var d time.Duration
	hours, rest, hasH := strings.Cut(s, "h")
	if !hasH {
		hours, rest = "", s
	}
	if hasH {
		if !allDigits(hours) || len(hours) > 4 {
			return 0, false
		}
		n, _ := strconv.Atoi(hours)
		d += time.Duration(n) * time.Hour
	}
	if rest != "" {
		mins, ok := strings.CutSuffix(rest, "m")
		if !ok || !allDigits(mins) || len(mins) > 6 {
			return 0, false
		}
		n, _ := strconv.Atoi(mins)
		d += time.Duration(n) * time.Minute
	}
	return d, hasH || rest != ""
}
