package scheduler

import (
	"strings"
	"time"
)

// The bounds an SMS window must stay inside, in minutes after local midnight.
const (
	EarliestSMS = 8 * 60  // 08:00
	LatestSMS   = 21 * 60 // 21:00
)

// Window is the part of the recipient's day in which SMS may be sent: local
// wall times in [Start, End), in minutes after local midnight.
type Window struct{ Start, End int }

// DefaultSMSWindow is 09:00–20:00 recipient local time. Treat it as a
// constant.
var DefaultSMSWindow = Window{Start: 9 * 60, End: 20 * 60}

// String returns the window as ParseWindow reads it, e.g. "09:00-20:00".
func (w Window) String() string {
	return wallTimeAt(w.Start).String() + "-" + wallTimeAt(w.End).String()
}

// ParseWindow reads a window written "HH:MM-HH:MM". The start must come
// before the end, and the window must lie inside 08:00–21:00. Errors match
// ErrInvalid and say what is expected.
func ParseWindow(s string) (Window, error) {
	startText, endText, ok := strings.Cut(strings.TrimSpace(s), "-")
	start, okStart := parseWallTime(strings.TrimSpace(startText))
	end, okEnd := parseWallTime(strings.TrimSpace(endText))
	if !ok || !okStart || !okEnd {
		return Window{}, invalidf("SMS window %q not understood: want HH:MM-HH:MM, e.g. %s", s, DefaultSMSWindow)
	}
	w := Window{Start: start.minutes(), End: end.minutes()}
	bounds := Window{Start: EarliestSMS, End: LatestSMS}
	switch {
	case w.Start >= w.End:
		return Window{}, invalidf("SMS window %q refused: the start must come before the end", s)
	case w.Start < EarliestSMS || w.End > LatestSMS:
		return Window{}, invalidf("SMS window %q refused: SMS may be sent only within %s local time", s, bounds)
	}
	return w, nil
}

// Contains reports whether t's wall time in loc is inside the window:
// Start <= wall time < End, to the second.
func (w Window) Contains(t time.Time, loc *time.Location) bool {
	h, m, s := t.In(loc).Clock()
	sec := h*3600 + m*60 + s
	return sec >= w.Start*60 && sec < w.End*60
}

// AllowsRule returns nil if the rule's wall time is inside the window, and
// otherwise an error (matching ErrInvalid) that says which times are allowed.
func (w Window) AllowsRule(r Rule) error {
	h, m := r.LocalTime()
	if at := h*60 + m; at >= w.Start && at < w.End {
		return nil
	}
	return invalidf("rule %q refused for SMS: text messages go out between %s and %s local time; choose a time from %s to %s",
		r.String(), wallTimeAt(w.Start), wallTimeAt(w.End), wallTimeAt(w.Start), wallTimeAt(w.End-1))
}

// wallTimeAt returns the wall time min minutes after midnight.
func wallTimeAt(min int) WallTime { return WallTime{Hour: min / 60, Minute: min % 60} }

// Defer returns t if it is inside the window, and otherwise the next instant
// after t at which the window opens: Start on t's local date if t is before
// it, else Start on the following day (resolved with ResolveLocal, so an
// opening that falls in a jump moves forward by the jump).
func (w Window) Defer(t time.Time, loc *time.Location) time.Time {
	if w.Contains(t, loc) {
		return t
	}
	y, m, d := t.In(loc).Date()
	var open time.Time
	// One or two days in practice; the bound only guards against a zone
	// whose every opening is skipped.
	for i := range 7 {
		open = ResolveLocal(loc, y, m, d+i, wallTimeAt(w.Start).Hour, wallTimeAt(w.Start).Minute)
		if open.After(t) && w.Contains(open, loc) {
			break
		}
	}
	return open
}

// Next returns r's next occurrence strictly after `after`, in loc, as an SMS
// schedule sends it: its instant is deferred into the window with Defer.
//
// For a rule the window allows, this differs from r.Next only when the
// occurrence's wall time fell in a spring-forward jump that carried it to or
// past the window's end (with clocks jumping from 12:00 to 13:00, a rule at
// 12:15 and a window ending at 12:30 would send at 13:15): the message then
// goes at the window's opening the next morning. Date stays the rule's date,
// so the occurrence keeps its task id. Step an SMS schedule from the
// instants this returns.
func (w Window) Next(r Rule, after time.Time, loc *time.Location) Occurrence {
	o := r.Next(after, loc)
	o.At = w.Defer(o.At, loc).UTC()
	return o
}
