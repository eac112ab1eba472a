package scheduler_test

import (
	"errors"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/nudgehq/nudge/scheduler"
)

func mustParse(tb testing.TB, layout, s string) time.Time {
	tb.Helper()
	t, err := time.Parse(layout, s)
	if err != nil {
		tb.Fatal(err)
	}
	return t
}

// shownOccurrence is an Occurrence written for reading: the instant in the zone.
type shownOccurrence struct {
	At   string // RFC 3339, in the rule's zone
	Date string
}

func TestNext(t *testing.T) {
	t.Parallel()
	tests := []struct {
		rule  string
		zone  string
		after string // RFC 3339
		want  []shownOccurrence
		why   string
	}{
		{"weekly:sun@09:00", "Europe/London", "2026-06-01T00:00:00Z", []shownOccurrence{
			{"2026-06-07T09:00:00+01:00", "2026-06-07"},
			{"2026-06-14T09:00:00+01:00", "2026-06-14"},
		}, "an ordinary week"},
		{"weekly:sun@09:00", "Europe/London", "2026-06-07T08:00:00Z", []shownOccurrence{
			{"2026-06-14T09:00:00+01:00", "2026-06-14"},
		}, "strictly after: 09:00 BST is 08:00Z"},
		{"weekly:sun@09:00", "Europe/London", "2026-06-07T07:59:59Z", []shownOccurrence{
			{"2026-06-07T09:00:00+01:00", "2026-06-07"},
		}, "a second before"},

		{"weekly:sun@02:30", "America/New_York", "2026-03-07T12:00:00-05:00", []shownOccurrence{
			{"2026-03-08T03:30:00-04:00", "2026-03-08"},
			{"2026-03-15T02:30:00-04:00", "2026-03-15"},
		}, "spring forward: 02:30 does not exist, moves forward by the gap"},
		{"weekly:sun@02:30", "America/New_York", "2026-03-08T03:10:00-04:00", []shownOccurrence{
			{"2026-03-08T03:30:00-04:00", "2026-03-08"},
		}, "already past the wall time 02:30 but before the shifted instant"},
		{"weekly:sun@01:30", "America/New_York", "2026-10-31T12:00:00-04:00", []shownOccurrence{
			{"2026-11-01T01:30:00-04:00", "2026-11-01"},
			{"2026-11-08T01:30:00-05:00", "2026-11-08"},
		}, "fall back: once, at the first 01:30, not again at 01:30 EST"},

		{"weekly:sun@01:30", "Europe/London", "2026-03-28T00:00:00Z", []shownOccurrence{
			{"2026-03-29T02:30:00+01:00", "2026-03-29"},
		}, "London spring forward"},
		{"weekly:sun@01:30", "Europe/London", "2026-10-24T00:00:00Z", []shownOccurrence{
			{"2026-10-25T01:30:00+01:00", "2026-10-25"},
			{"2026-11-01T01:30:00Z", "2026-11-01"},
		}, "London fall back"},

		{"weekly:sun@02:15", "Australia/Lord_Howe", "2026-10-03T00:00:00Z", []shownOccurrence{
			{"2026-10-04T02:45:00+11:00", "2026-10-04"},
			{"2026-10-11T02:15:00+11:00", "2026-10-11"},
		}, "30-minute gap: +30 min"},
		{"weekly:sun@01:45", "Australia/Lord_Howe", "2026-04-04T00:00:00Z", []shownOccurrence{
			{"2026-04-05T01:45:00+11:00", "2026-04-05"},
			{"2026-04-12T01:45:00+10:30", "2026-04-12"},
		}, "30-minute repeat: first"},

		{"weekly:sun@00:00", "America/Santiago", "2026-09-05T12:00:00-04:00", []shownOccurrence{
			{"2026-09-06T01:00:00-03:00", "2026-09-06"},
			{"2026-09-13T00:00:00-03:00", "2026-09-13"},
		}, "midnight does not exist: 01:00 the same date"},
		{"weekly:sat@23:30", "America/Santiago", "2026-04-04T12:00:00-03:00", []shownOccurrence{
			{"2026-04-04T23:30:00-03:00", "2026-04-04"},
			{"2026-04-11T23:30:00-04:00", "2026-04-11"},
		}, "repeat before midnight: first"},
		{"monthly:first-sun@00:00", "America/Santiago", "2026-09-01T00:00:00Z", []shownOccurrence{
			{"2026-09-06T01:00:00-03:00", "2026-09-06"},
			{"2026-10-04T00:00:00-03:00", "2026-10-04"},
		}, "monthly rule on the midnight gap"},

		{"weekly:mon@09:00", "Asia/Kathmandu", "2026-06-01T00:00:00Z", []shownOccurrence{
			{"2026-06-01T09:00:00+05:45", "2026-06-01"},
			{"2026-06-08T09:00:00+05:45", "2026-06-08"},
		}, "+05:45"},
		{"weekly:wed@00:10", "Asia/Kathmandu", "1985-12-30T00:00:00Z", []shownOccurrence{
			{"1986-01-01T00:25:00+05:45", "1986-01-01"},
		}, "the 1986 15-minute gap"},

		{"weekly:sun@03:00", "Pacific/Chatham", "2026-09-26T00:00:00Z", []shownOccurrence{
			{"2026-09-27T04:00:00+13:45", "2026-09-27"},
			{"2026-10-04T03:00:00+13:45", "2026-10-04"},
		}, "+12:45 to +13:45 at 02:45"},
		{"weekly:sun@03:00", "Pacific/Chatham", "2026-04-04T00:00:00Z", []shownOccurrence{
			{"2026-04-05T03:00:00+13:45", "2026-04-05"},
			{"2026-04-12T03:00:00+12:45", "2026-04-12"},
		}, "+13:45 to +12:45: first"},

		{"weekly:sun@02:30", "Africa/Casablanca", "2026-02-14T00:00:00Z", []shownOccurrence{
			{"2026-02-15T02:30:00+01:00", "2026-02-15"},
			{"2026-02-22T02:30:00Z", "2026-02-22"},
		}, "Ramadan: clocks go back an hour, first"},
		{"weekly:sun@02:30", "Africa/Casablanca", "2026-03-21T00:00:00Z", []shownOccurrence{
			{"2026-03-22T03:30:00+01:00", "2026-03-22"},
			{"2026-03-29T02:30:00+01:00", "2026-03-29"},
		}, "after Ramadan: clocks go forward, gap"},

		{"weekly:fri@09:00", "Pacific/Apia", "2011-12-29T12:00:00-10:00", []shownOccurrence{
			{"2011-12-31T09:00:00+14:00", "2011-12-30"},
			{"2012-01-06T09:00:00+14:00", "2012-01-06"},
		}, "Samoa skipped Friday 30 December 2011: the date is kept, the instant is the next day's"},
		{"weekly:fri@09:00", "Pacific/Apia", "2011-12-31T08:00:00+14:00", []shownOccurrence{
			{"2011-12-31T09:00:00+14:00", "2011-12-30"},
		}, "the skipped Friday's shownOccurrence is still ahead on the 31st"},

		{"monthly:last@09:00", "Europe/London", "2028-02-01T00:00:00Z", []shownOccurrence{
			{"2028-02-29T09:00:00Z", "2028-02-29"},
			{"2028-03-31T09:00:00+01:00", "2028-03-31"},
		}, "leap year"},
		{"monthly:last@09:00", "Europe/London", "2027-02-01T00:00:00Z", []shownOccurrence{
			{"2027-02-28T09:00:00Z", "2027-02-28"},
		}, "not a leap year"},
		{"monthly:last-fri@18:00", "Europe/London", "2028-02-01T00:00:00Z", []shownOccurrence{
			{"2028-02-25T18:00:00Z", "2028-02-25"},
			{"2028-03-31T18:00:00+01:00", "2028-03-31"},
		}, "29 February 2028 is a Tuesday"},
		{"monthly:28@07:00", "Europe/London", "2028-02-01T00:00:00Z", []shownOccurrence{
			{"2028-02-28T07:00:00Z", "2028-02-28"},
			{"2028-03-28T07:00:00+01:00", "2028-03-28"},
		}, "day 28 in a leap February"},
		{"monthly:first-mon@09:00", "Europe/London", "2028-02-01T00:00:00Z", []shownOccurrence{
			{"2028-02-07T09:00:00Z", "2028-02-07"},
			{"2028-03-06T09:00:00Z", "2028-03-06"},
		}, "first Monday"},
		{"monthly:15@18:30", "Europe/London", "2026-05-15T17:30:00Z", []shownOccurrence{
			{"2026-06-15T18:30:00+01:00", "2026-06-15"},
		}, "strictly after this month's shownOccurrence"},
		{"monthly:last-fri@18:00", "Europe/London", "2026-12-25T18:00:00Z", []shownOccurrence{
			{"2027-01-29T18:00:00Z", "2027-01-29"},
		}, "across the year end"},
		{"monthly:1@00:30", "Pacific/Kiritimati", "2026-05-31T00:00:00-10:00", []shownOccurrence{
			{"2026-06-01T00:30:00+14:00", "2026-06-01"},
		}, "+14:00: `after` is a day behind in UTC"},
	}
	for _, tt := range tests {
		t.Run(tt.rule+" "+tt.zone+" "+tt.after, func(t *testing.T) {
			t.Parallel()
			loc := mustZone(t, tt.zone)
			r, err := scheduler.ParseRule(tt.rule)
			if err != nil {
				t.Fatal(err)
			}
			after := mustParse(t, time.RFC3339, tt.after)
			var got []shownOccurrence
			for range tt.want {
				o := r.Next(after, loc)
				if o.At.Location() != time.UTC {
					t.Errorf("Next(%v).At = %v, not in UTC", after, o.At)
				}
				got = append(got, shownOccurrence{At: o.At.In(loc).Format(time.RFC3339), Date: o.Date})
				after = o.At
			}
			if diff := cmp.Diff(tt.want, got); diff != "" {
				t.Errorf("%s (-want +got):\n%s", tt.why, diff)
			}
		})
	}
}

func TestNextPanicsOnOutOfRangeRule(t *testing.T) {
	t.Parallel()
	for _, r := range []scheduler.Rule{
		scheduler.MonthlyDay{Day: 31, Time: scheduler.WallTime{Hour: 9}},
		scheduler.Weekly{Weekday: 7},
		scheduler.MonthlyWeekday{Time: scheduler.WallTime{Hour: 24}},
	} {
		func() {
			defer func() {
				if recover() == nil {
					t.Errorf("%#v: Next did not panic", r)
				}
			}()
			r.Next(time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC), time.UTC)
		}()
	}
}

func TestParseRule(t *testing.T) {
	t.Parallel()
	at := func(h, m int) scheduler.WallTime { return scheduler.WallTime{Hour: h, Minute: m} }
	tests := []struct {
		in        string
		want      scheduler.Rule
		canonical string
	}{
		{"weekly:sun@09:00", scheduler.Weekly{Weekday: time.Sunday, Time: at(9, 0)}, "weekly:sun@09:00"},
		{"weekly:mon@00:00", scheduler.Weekly{Weekday: time.Monday, Time: at(0, 0)}, "weekly:mon@00:00"},
		{"weekly:sat@23:59", scheduler.Weekly{Weekday: time.Saturday, Time: at(23, 59)}, "weekly:sat@23:59"},
		{"monthly:1@06:05", scheduler.MonthlyDay{Day: 1, Time: at(6, 5)}, "monthly:1@06:05"},
		{"monthly:15@18:30", scheduler.MonthlyDay{Day: 15, Time: at(18, 30)}, "monthly:15@18:30"},
		{"monthly:28@09:00", scheduler.MonthlyDay{Day: 28, Time: at(9, 0)}, "monthly:28@09:00"},
		{"monthly:last@09:00", scheduler.MonthlyDay{Day: scheduler.LastDay, Time: at(9, 0)}, "monthly:last@09:00"},
		{"monthly:first-mon@09:00", scheduler.MonthlyWeekday{Weekday: time.Monday, Time: at(9, 0)}, "monthly:first-mon@09:00"},
		{"monthly:last-fri@18:00", scheduler.MonthlyWeekday{Last: true, Weekday: time.Friday, Time: at(18, 0)}, "monthly:last-fri@18:00"},
		// Spaces and case are forgiven; String gives the canonical form.
		{" Weekly:SUN@09:00\n", scheduler.Weekly{Weekday: time.Sunday, Time: at(9, 0)}, "weekly:sun@09:00"},
		{"monthly:05@09:00", scheduler.MonthlyDay{Day: 5, Time: at(9, 0)}, "monthly:5@09:00"},
		{"MONTHLY:Last-Wed@07:45", scheduler.MonthlyWeekday{Last: true, Weekday: time.Wednesday, Time: at(7, 45)}, "monthly:last-wed@07:45"},
	}
	for _, tt := range tests {
		t.Run(tt.in, func(t *testing.T) {
			t.Parallel()
			got, err := scheduler.ParseRule(tt.in)
			if err != nil {
				t.Fatal(err)
			}
			if diff := cmp.Diff(tt.want, got); diff != "" {
				t.Errorf("ParseRule(%q) (-want +got):\n%s", tt.in, diff)
			}
			if diff := cmp.Diff(tt.canonical, got.String()); diff != "" {
				t.Errorf("String (-want +got):\n%s", diff)
			}
			again, err := scheduler.ParseRule(got.String())
			if err != nil || again != got {
				t.Errorf("ParseRule(%q) = %#v, %v; want %#v", got.String(), again, err, got)
			}
			h, m := got.LocalTime()
			if diff := cmp.Diff(tt.canonical[len(tt.canonical)-5:], scheduler.WallTime{Hour: h, Minute: m}.String()); diff != "" {
				t.Errorf("LocalTime (-want +got):\n%s", diff)
			}
		})
	}
}

func TestParseRuleErrors(t *testing.T) {
	t.Parallel()
	const (
		wantRule = "want weekly:DAY@HH:MM or monthly:WHEN@HH:MM, e.g. weekly:sun@09:00 or monthly:last@18:30"
		wantDay  = "want weekly:DAY@HH:MM with DAY one of mon…sun"
		wantWhen = "want monthly:WHEN@HH:MM with WHEN a day 1–28, last, first-DAY or last-DAY (DAY one of mon…sun)"
		wantTime = "want HH:MM, a 24-hour time from 00:00 to 23:59"
	)
	tests := []struct {
		in   string
		want string
	}{
		{"", `rule "" not understood: ` + wantRule},
		{"daily@09:00", `rule "daily@09:00" not understood: ` + wantRule},
		{"yearly:01-01@09:00", `rule "yearly:01-01@09:00" not understood: ` + wantRule},
		{"at:2026-12-03T18:00:00Z", `rule "at:2026-12-03T18:00:00Z" not understood: ` + wantRule},
		{"weekly:sunday@9", `rule "weekly:sunday@9" not understood: ` + wantDay},
		{"weekly:@09:00", `rule "weekly:@09:00" not understood: ` + wantDay},
		{"weekly:sun@9", `rule "weekly:sun@9" not understood: ` + wantTime},
		{"weekly:sun@9:00", `rule "weekly:sun@9:00" not understood: ` + wantTime},
		{"weekly:sun@24:00", `rule "weekly:sun@24:00" not understood: ` + wantTime},
		{"weekly:sun@09:60", `rule "weekly:sun@09:60" not understood: ` + wantTime},
		{"weekly:sun@09:00pm", `rule "weekly:sun@09:00pm" not understood: ` + wantTime},
		{"weekly:sun", `rule "weekly:sun" not understood: ` + wantTime},
		{"weekly:sun@+9:00", `rule "weekly:sun@+9:00" not understood: ` + wantTime},
		{"monthly:29@09:00", `rule "monthly:29@09:00" refused: not every month has a day 29; write last (e.g. monthly:last@09:00) for the last day of the month, or a day 1–28`},
		{"monthly:30@09:00", `rule "monthly:30@09:00" refused: not every month has a day 30; write last (e.g. monthly:last@09:00) for the last day of the month, or a day 1–28`},
		{"monthly:31@18:30", `rule "monthly:31@18:30" refused: not every month has a day 31; write last (e.g. monthly:last@09:00) for the last day of the month, or a day 1–28`},
		{"monthly:0@09:00", `rule "monthly:0@09:00" not understood: ` + wantWhen},
		{"monthly:32@09:00", `rule "monthly:32@09:00" not understood: ` + wantWhen},
		{"monthly:-1@09:00", `rule "monthly:-1@09:00" not understood: ` + wantWhen},
		{"monthly:second-mon@09:00", `rule "monthly:second-mon@09:00" not understood: ` + wantWhen},
		{"monthly:first-monday@09:00", `rule "monthly:first-monday@09:00" not understood: ` + wantWhen},
		{"monthly:lastday@09:00", `rule "monthly:lastday@09:00" not understood: ` + wantWhen},
		{"monthly:last@", `rule "monthly:last@" not understood: ` + wantTime},
	}
	for _, tt := range tests {
		t.Run(tt.in, func(t *testing.T) {
			t.Parallel()
			r, err := scheduler.ParseRule(tt.in)
			if err == nil {
				t.Fatalf("ParseRule(%q) = %v, want an error", tt.in, r)
			}
			if diff := cmp.Diff(tt.want, err.Error()); diff != "" {
				t.Errorf("(-want +got):\n%s", diff)
			}
			if !errors.Is(err, scheduler.ErrInvalid) {
				t.Errorf("error %v does not match ErrInvalid", err)
			}
		})
	}
}

func TestLoadZone(t *testing.T) {
	t.Parallel()
	for _, name := range []string{"Europe/London", "UTC", "America/Argentina/Buenos_Aires", "Etc/GMT+5"} {
		loc, err := scheduler.LoadZone(name)
		if err != nil || loc.String() != name {
			t.Errorf("LoadZone(%q) = %v, %v", name, loc, err)
		}
	}
	tests := []struct {
		name string
		want string
	}{
		{"", "time zone is empty: want an IANA name such as Europe/London"},
		{"Local", `time zone "Local" refused: want an IANA name such as Europe/London, not the server's zone`},
		{"Mars/Olympus_Mons", `time zone "Mars/Olympus_Mons" not known: want an IANA name such as Europe/London: unknown time zone Mars/Olympus_Mons`},
		{"../etc/passwd", `time zone "../etc/passwd" not known: want an IANA name such as Europe/London: time: invalid location name`},
	}
	for _, tt := range tests {
		_, err := scheduler.LoadZone(tt.name)
		if err == nil {
			t.Errorf("LoadZone(%q): no error", tt.name)
			continue
		}
		if diff := cmp.Diff(tt.want, err.Error()); diff != "" {
			t.Errorf("LoadZone(%q) (-want +got):\n%s", tt.name, diff)
		}
		if !errors.Is(err, scheduler.ErrInvalid) {
			t.Errorf("LoadZone(%q): error %v does not match ErrInvalid", tt.name, err)
		}
	}
	// The cause stays in the chain for callers that want it.
	_, cause := time.LoadLocation("../etc/passwd")
	if _, err := scheduler.LoadZone("../etc/passwd"); cause == nil || !errors.Is(err, cause) {
		t.Errorf("LoadZone error %v: want %v in its chain", err, cause)
	}
}

func TestParsePromptRule(t *testing.T) {
	t.Parallel()
	tests := []struct {
		in        string
		want      scheduler.PromptRule
		canonical string
	}{
		{"at:2026-12-03T18:00:00Z", scheduler.AbsoluteRule{Instant: time.Date(2026, 12, 3, 18, 0, 0, 0, time.UTC)}, "at:2026-12-03T18:00:00Z"},
		{"at:2026-12-03T19:00:00+01:00", scheduler.AbsoluteRule{Instant: time.Date(2026, 12, 3, 18, 0, 0, 0, time.UTC)}, "at:2026-12-03T18:00:00Z"},
		{" AT:2026-12-03T18:00:00.5Z ", scheduler.AbsoluteRule{Instant: time.Date(2026, 12, 3, 18, 0, 0, 5e8, time.UTC)}, "at:2026-12-03T18:00:00.5Z"},
		{"session+1d@18:00", scheduler.SessionRule{OnDay: true, Days: 1, Time: scheduler.WallTime{Hour: 18}}, "session+1d@18:00"},
		{"session-1d@19:00", scheduler.SessionRule{OnDay: true, Days: -1, Time: scheduler.WallTime{Hour: 19}}, "session-1d@19:00"},
		{"session+0d@08:00", scheduler.SessionRule{OnDay: true, Time: scheduler.WallTime{Hour: 8}}, "session+0d@08:00"},
		{"session-0d@08:00", scheduler.SessionRule{OnDay: true, Time: scheduler.WallTime{Hour: 8}}, "session+0d@08:00"},
		{"session+90d@08:00", scheduler.SessionRule{OnDay: true, Days: 90, Time: scheduler.WallTime{Hour: 8}}, "session+90d@08:00"},
		{"session+2h", scheduler.SessionRule{Offset: 2 * time.Hour}, "session+2h"},
		{"session-30m", scheduler.SessionRule{Offset: -30 * time.Minute}, "session-30m"},
		{"session+1h30m", scheduler.SessionRule{Offset: 90 * time.Minute}, "session+1h30m"},
		{"session+90m", scheduler.SessionRule{Offset: 90 * time.Minute}, "session+1h30m"},
		{"Session+0m", scheduler.SessionRule{}, "session+0m"},
		{"session+2160h", scheduler.SessionRule{Offset: 2160 * time.Hour}, "session+2160h"},
	}
	for _, tt := range tests {
		t.Run(tt.in, func(t *testing.T) {
			t.Parallel()
			got, err := scheduler.ParsePromptRule(tt.in)
			if err != nil {
				t.Fatal(err)
			}
			if diff := cmp.Diff(tt.want, got); diff != "" {
				t.Errorf("ParsePromptRule(%q) (-want +got):\n%s", tt.in, diff)
			}
			if diff := cmp.Diff(tt.canonical, got.String()); diff != "" {
				t.Errorf("String (-want +got):\n%s", diff)
			}
			again, err := scheduler.ParsePromptRule(got.String())
			if err != nil {
				t.Fatal(err)
			}
			if diff := cmp.Diff(got, again); diff != "" {
				t.Errorf("ParsePromptRule(%q) (-want +got):\n%s", got.String(), diff)
			}
		})
	}
}

func TestParsePromptRuleErrors(t *testing.T) {
	t.Parallel()
	const wantPrompt = "want at:TIME (RFC 3339, e.g. at:2026-12-03T18:00:00Z), " +
		"session+Nd@HH:MM or session-Nd@HH:MM (N days after or before the session's date, at a local time), " +
		"or session+DURATION or session-DURATION (e.g. session+2h, session-30m, session+1h30m)"
	const wantDays = "want session+Nd@HH:MM or session-Nd@HH:MM, N a number of days and HH:MM a 24-hour time, e.g. session-1d@19:00"
	tests := []struct {
		in   string
		want string
	}{
		{"", `prompt rule "" not understood: ` + wantPrompt},
		{"weekly:sun@09:00", `prompt rule "weekly:sun@09:00" not understood: ` + wantPrompt},
		{"session", `prompt rule "session" not understood: ` + wantPrompt},
		{"session 2h", `prompt rule "session 2h" not understood: ` + wantPrompt},
		{"session+2", `prompt rule "session+2" not understood: ` + wantPrompt},
		{"session+2x", `prompt rule "session+2x" not understood: ` + wantPrompt},
		{"session+1.5h", `prompt rule "session+1.5h" not understood: ` + wantPrompt},
		{"session+30m2h", `prompt rule "session+30m2h" not understood: ` + wantPrompt},
		{"session+1d", `prompt rule "session+1d" not understood: a day count needs a local time; write session+1d@HH:MM, or a plain duration in hours such as session+24h`},
		{"session-2d", `prompt rule "session-2d" not understood: a day count needs a local time; write session-2d@HH:MM, or a plain duration in hours such as session-24h`},
		{"session+1d@25:00", `prompt rule "session+1d@25:00" not understood: ` + wantDays},
		{"session+d@09:00", `prompt rule "session+d@09:00" not understood: ` + wantDays},
		{"session+1h@09:00", `prompt rule "session+1h@09:00" not understood: ` + wantDays},
		{"session+91d@09:00", `prompt rule "session+91d@09:00" refused: a prompt may be at most 90 days from the session`},
		{"session-2161h", `prompt rule "session-2161h" refused: a prompt may be at most 90 days from the session`},
		{"at:tomorrow", `prompt rule "at:tomorrow" not understood: want at:TIME with TIME in RFC 3339, e.g. at:2026-12-03T18:00:00Z`},
		{"at:2026-12-03 18:00", `prompt rule "at:2026-12-03 18:00" not understood: want at:TIME with TIME in RFC 3339, e.g. at:2026-12-03T18:00:00Z`},
		{"at:2026-12-03T18:00:00", `prompt rule "at:2026-12-03T18:00:00" not understood: want at:TIME with TIME in RFC 3339, e.g. at:2026-12-03T18:00:00Z`},
	}
	for _, tt := range tests {
		t.Run(tt.in, func(t *testing.T) {
			t.Parallel()
			r, err := scheduler.ParsePromptRule(tt.in)
			if err == nil {
				t.Fatalf("ParsePromptRule(%q) = %v, want an error", tt.in, r)
			}
			if diff := cmp.Diff(tt.want, err.Error()); diff != "" {
				t.Errorf("(-want +got):\n%s", diff)
			}
			if !errors.Is(err, scheduler.ErrInvalid) {
				t.Errorf("error %v does not match ErrInvalid", err)
			}
		})
	}
}

func TestPromptRuleAt(t *testing.T) {
	t.Parallel()
	tests := []struct {
		rule    string
		zone    string
		session string // RFC 3339
		want    string // RFC 3339, in the zone
		why     string
	}{
		{"session+1d@18:00", "America/New_York", "2026-03-07T15:00:00-05:00", "2026-03-08T18:00:00-04:00", "the next day, across spring forward"},
		{"session-1d@19:00", "America/New_York", "2026-03-09T10:00:00-04:00", "2026-03-08T19:00:00-04:00", "the evening before"},
		{"session+1d@02:30", "America/New_York", "2026-03-07T10:00:00-05:00", "2026-03-08T03:30:00-04:00", "a wall time in the gap moves forward"},
		{"session-1d@23:30", "America/Santiago", "2026-04-05T10:00:00-04:00", "2026-04-04T23:30:00-03:00", "a repeated wall time fires at its first instant"},
		{"session+2h", "America/New_York", "2026-11-01T00:30:00-04:00", "2026-11-01T01:30:00-05:00", "a plain duration across fall back"},
		{"session-30m", "Asia/Kathmandu", "2026-06-01T09:00:00+05:45", "2026-06-01T08:30:00+05:45", "before the session"},
		{"session+0d@08:00", "Asia/Kathmandu", "2026-06-01T22:00:00+05:45", "2026-06-01T08:00:00+05:45", "the session's own date, even before it"},
		{"session+1d@09:00", "Pacific/Chatham", "2026-06-01T20:00:00Z", "2026-06-03T09:00:00+12:45", "the session's date is its local date (2 June in Chatham)"},
		{"at:2026-12-03T18:00:00Z", "Europe/London", "2026-06-01T09:00:00Z", "2026-12-03T18:00:00Z", "a fixed instant ignores the session"},
	}
	for _, tt := range tests {
		t.Run(tt.rule+" "+tt.zone, func(t *testing.T) {
			t.Parallel()
			loc := mustZone(t, tt.zone)
			r, err := scheduler.ParsePromptRule(tt.rule)
			if err != nil {
				t.Fatal(err)
			}
			got := r.At(mustParse(t, time.RFC3339, tt.session), loc)
			if got.Location() != time.UTC {
				t.Errorf("At = %v, not in UTC", got)
			}
			if diff := cmp.Diff(tt.want, got.In(loc).Format(time.RFC3339)); diff != "" {
				t.Errorf("%s (-want +got):\n%s", tt.why, diff)
			}
		})
	}
}
