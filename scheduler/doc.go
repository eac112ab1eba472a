// Package scheduler decides when nudges go out: the recurrence rules of the
// weekly check-in, the gratitude prompt and the monthly review, clinic prompt
// rules, the SMS quiet-hours window, the planner that turns due schedules
// into queued tasks (planner.go), and the prompt planner that does the same
// for clinics' planned prompt occurrences (prompts.go).
//
// The rules, ResolveLocal and the window are pure functions of (rule, zone,
// instant): they never read the clock or keep state, so the same inputs
// always give the same answer. This comment is their specification.
//
// # Rules
//
// A recurring rule is written the same way everywhere (form, API, CLI), and
// ParseRule(r.String()) == r:
//
//	weekly:DAY@HH:MM          every DAY (mon tue wed thu fri sat sun)     weekly:sun@09:00
//	monthly:N@HH:MM           day N of every month, N from 1 to 28        monthly:15@18:30
//	monthly:last@HH:MM        the last day of every month                 monthly:last@09:00
//	monthly:first-DAY@HH:MM   the first DAY of every month                monthly:first-mon@09:00
//	monthly:last-DAY@HH:MM    the last DAY of every month                 monthly:last-fri@18:00
//
// HH:MM is a 24-hour wall-clock time, to the minute, in the subscriber's IANA
// zone. Days 29–31 are refused, with a message suggesting "last": a rule that
// skipped short months, or drifted to their last day unannounced, would
// surprise someone either way.
//
// A rule picks civil dates; on each it fires at its wall time. Rule.Next
// returns the first occurrence strictly after a given instant: the instant
// (UTC) and the civil date the rule chose. That date, not the instant's date,
// names the occurrence in task ids (one task per subscriber, program and
// date), so an occurrence keeps its name however its instant was adjusted.
// Consecutive calls, each given the previous instant, yield strictly
// increasing instants and at most one occurrence per local date.
//
// # Wall times that do not exist or happen twice
//
// ResolveLocal turns a civil date and wall time into an instant, and every
// rule goes through it:
//
//   - A wall time that does not exist (the clocks spring forward over it)
//     moves forward by the length of the jump: 02:30 in New York on
//     spring-forward day is 03:30 EDT; 02:15 on Lord Howe Island (a 30-minute
//     jump) is 02:45; midnight in Santiago on its spring-forward date is 01:00
//     on that date.
//   - A wall time that happens twice (fall back) fires once, at the first
//     instant: 01:30 in New York on fall-back day is 01:30 EDT.
//
// time.Date does neither reliably: in a jump it may return an earlier time or
// the previous date, and in a repeat either instant. Zones with odd rules are
// tested by name (Lord_Howe, Santiago, Kathmandu, Chatham, Casablanca's
// Ramadan changes) and every zone in the embedded tzdata by a property test.
//
// # Clinic prompts
//
// A clinic prompt is placed once, not repeated. ParsePromptRule reads:
//
//	at:TIME             a fixed instant, TIME in RFC 3339    at:2026-12-03T18:00:00Z
//	session+Nd@HH:MM    HH:MM local, N days after the session's local date    session+1d@18:00
//	session-Nd@HH:MM    HH:MM local, N days before it                         session-1d@19:00
//	session+DURATION    a plain duration after the session (h, m)             session+2h, session+1h30m
//	session-DURATION    the same, before the session                          session-30m
//
// N and DURATION reach at most 90 days. "session+0d@08:00" is 08:00 on the
// session's own date. A day count needs a wall time: "session+1d" alone is
// refused (write session+24h for exactly a day later). PromptRule.At gives the
// instant for a session and the client's zone; day-based forms resolve their
// wall time with ResolveLocal.
//
// # SMS quiet hours
//
// SMS goes out only inside a Window of recipient-local wall time, [Start,
// End): DefaultSMSWindow is 09:00–20:00, and ParseWindow accepts windows
// inside 08:00–21:00. Window.AllowsRule refuses a rule whose wall time is
// outside the window. A rule the window allows can still land outside it on
// a spring-forward day, when the jump carries its instant to or past the end:
// Khartoum's clocks jumped from 12:00 to 13:00 on 15 January 2000, so a rule
// at 12:15 with a window ending at 12:30 came out at 13:15. (Since 1970 that
// is tzdata's only jump inside 08:00–21:00, in Khartoum and Juba; day-long
// skips such as Samoa's keep the wall time.) An SMS schedule therefore takes its
// occurrences from Window.Next, which defers an instant outside the window to
// the window's next opening (the next morning, in that example) and keeps the
// rule's date, so the task id does not change. Window.Defer applies the same
// policy to any instant, such as a clinic prompt's.
//
// # Zones and errors
//
// LoadZone loads an IANA zone by name and refuses "" and "Local". The tzdata
// is embedded (time/tzdata), so zones load in a bare container. Every error
// for bad input matches ErrInvalid and its text says what is expected, e.g.
//
//	rule "weekly:sunday@9" not understood: want weekly:DAY@HH:MM with DAY one of mon…sun
package scheduler
