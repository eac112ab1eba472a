package scheduler_test

import (
	"errors"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/nudgehq/nudge/scheduler"
)

func TestParseWindow(t *testing.T) {
	t.Parallel()
	tests := []struct {
		in   string
		want scheduler.Window
	}{
		{"09:00-20:00", scheduler.DefaultSMSWindow},
		{"08:00-21:00", scheduler.Window{Start: 8 * 60, End: 21 * 60}},
		{" 10:00 - 18:30 ", scheduler.Window{Start: 10 * 60, End: 18*60 + 30}},
		{"12:00-12:01", scheduler.Window{Start: 12 * 60, End: 12*60 + 1}},
	}
	for _, tt := range tests {
		got, err := scheduler.ParseWindow(tt.in)
		if err != nil {
			t.Errorf("ParseWindow(%q): %v", tt.in, err)
			continue
		}
		if diff := cmp.Diff(tt.want, got); diff != "" {
			t.Errorf("ParseWindow(%q) (-want +got):\n%s", tt.in, diff)
		}
		if again, err := scheduler.ParseWindow(got.String()); err != nil || again != got {
			t.Errorf("ParseWindow(%q) = %v, %v; want %v", got.String(), again, err, got)
		}
	}
	if diff := cmp.Diff("09:00-20:00", scheduler.DefaultSMSWindow.String()); diff != "" {
		t.Errorf("DefaultSMSWindow (-want +got):\n%s", diff)
	}
}

func TestParseWindowErrors(t *testing.T) {
	t.Parallel()
	tests := []struct {
		in   string
		want string
	}{
		{"", `SMS window "" not understood: want HH:MM-HH:MM, e.g. 09:00-20:00`},
		{"9-20", `SMS window "9-20" not understood: want HH:MM-HH:MM, e.g. 09:00-20:00`},
		{"09:00", `SMS window "09:00" not understood: want HH:MM-HH:MM, e.g. 09:00-20:00`},
		{"09:00–20:00", `SMS window "09:00–20:00" not understood: want HH:MM-HH:MM, e.g. 09:00-20:00`},
		{"09:00-24:00", `SMS window "09:00-24:00" not understood: want HH:MM-HH:MM, e.g. 09:00-20:00`},
		{"07:59-20:00", `SMS window "07:59-20:00" refused: SMS may be sent only within 08:00-21:00 local time`},
		{"09:00-21:01", `SMS window "09:00-21:01" refused: SMS may be sent only within 08:00-21:00 local time`},
		{"00:00-23:59", `SMS window "00:00-23:59" refused: SMS may be sent only within 08:00-21:00 local time`},
		{"20:00-09:00", `SMS window "20:00-09:00" refused: the start must come before the end`},
		{"09:00-09:00", `SMS window "09:00-09:00" refused: the start must come before the end`},
	}
	for _, tt := range tests {
		_, err := scheduler.ParseWindow(tt.in)
		if err == nil {
			t.Errorf("ParseWindow(%q): no error", tt.in)
			continue
		}
		if diff := cmp.Diff(tt.want, err.Error()); diff != "" {
			t.Errorf("ParseWindow(%q) (-want +got):\n%s", tt.in, diff)
		}
		if !errors.Is(err, scheduler.ErrInvalid) {
			t.Errorf("ParseWindow(%q): error %v does not match ErrInvalid", tt.in, err)
		}
	}
}

func TestWindowContains(t *testing.T) {
	t.Parallel()
	ny := mustZone(t, "America/New_York")
	w := scheduler.DefaultSMSWindow
	tests := []struct {
		at   string // RFC 3339
		loc  *time.Location
		want bool
	}{
		{"2026-06-01T08:59:59-04:00", ny, false},
		{"2026-06-01T09:00:00-04:00", ny, true},
		{"2026-06-01T19:59:59-04:00", ny, true},
		{"2026-06-01T20:00:00-04:00", ny, false},
		{"2026-06-01T03:00:00-04:00", ny, false},
		// The same instant, read in another zone.
		{"2026-06-01T20:00:00-04:00", mustZone(t, "America/Los_Angeles"), true},
		{"2026-06-01T09:30:00-04:00", mustZone(t, "Asia/Kathmandu"), true},
		{"2026-06-01T11:00:00-04:00", mustZone(t, "Asia/Kathmandu"), false},
		{"2026-06-01T09:30:00-04:00", mustZone(t, "Pacific/Chatham"), false},
		{"2026-06-01T19:30:00-04:00", mustZone(t, "Pacific/Chatham"), true},
	}
	for _, tt := range tests {
		at := mustParse(t, time.RFC3339, tt.at)
		if got := w.Contains(at, tt.loc); got != tt.want {
			t.Errorf("Contains(%v in %v) = %v, want %v", at, tt.loc, got, tt.want)
		}
	}
}

func TestWindowAllowsRule(t *testing.T) {
	t.Parallel()
	narrow := scheduler.Window{Start: 10 * 60, End: 18*60 + 30}
	tests := []struct {
		w    scheduler.Window
		rule string
		want string // "" for allowed
	}{
		{scheduler.DefaultSMSWindow, "weekly:sun@09:00", ""},
		{scheduler.DefaultSMSWindow, "monthly:last-fri@19:59", ""},
		{scheduler.DefaultSMSWindow, "weekly:sun@08:59",
			`rule "weekly:sun@08:59" refused for SMS: text messages go out between 09:00 and 20:00 local time; choose a time from 09:00 to 19:59`},
		{scheduler.DefaultSMSWindow, "monthly:last@20:00",
			`rule "monthly:last@20:00" refused for SMS: text messages go out between 09:00 and 20:00 local time; choose a time from 09:00 to 19:59`},
		{scheduler.DefaultSMSWindow, "monthly:1@03:00",
			`rule "monthly:1@03:00" refused for SMS: text messages go out between 09:00 and 20:00 local time; choose a time from 09:00 to 19:59`},
		{narrow, "weekly:mon@18:29", ""},
		{narrow, "weekly:mon@18:30",
			`rule "weekly:mon@18:30" refused for SMS: text messages go out between 10:00 and 18:30 local time; choose a time from 10:00 to 18:29`},
	}
	for _, tt := range tests {
		r, err := scheduler.ParseRule(tt.rule)
		if err != nil {
			t.Fatal(err)
		}
		err = tt.w.AllowsRule(r)
		got := ""
		if err != nil {
			got = err.Error()
			if !errors.Is(err, scheduler.ErrInvalid) {
				t.Errorf("%v: error %v does not match ErrInvalid", tt.rule, err)
			}
		}
		if diff := cmp.Diff(tt.want, got); diff != "" {
			t.Errorf("%v.AllowsRule(%v) (-want +got):\n%s", tt.w, tt.rule, diff)
		}
	}
}

func TestWindowDefer(t *testing.T) {
	t.Parallel()
	khartoum := mustZone(t, "Africa/Khartoum") // 2000-01-15: 12:00 jumped to 13:00
	london := mustZone(t, "Europe/London")
	tests := []struct {
		w    scheduler.Window
		loc  *time.Location
		at   string // RFC 3339
		want string // RFC 3339, in loc
		why  string
	}{
		{scheduler.DefaultSMSWindow, london, "2026-06-01T12:00:00+01:00", "2026-06-01T12:00:00+01:00", "inside: unchanged"},
		{scheduler.DefaultSMSWindow, london, "2026-06-01T07:15:00+01:00", "2026-06-01T09:00:00+01:00", "before the window: its opening that day"},
		{scheduler.DefaultSMSWindow, london, "2026-06-01T20:00:00+01:00", "2026-06-02T09:00:00+01:00", "at the end: the next morning"},
		{scheduler.DefaultSMSWindow, london, "2026-03-28T23:30:00Z", "2026-03-29T09:00:00+01:00", "the next morning, across spring forward"},
		{scheduler.Window{Start: 12 * 60, End: 20 * 60}, khartoum, "2000-01-14T21:00:00+02:00", "2000-01-15T13:00:00+03:00", "an opening in a gap moves forward by the gap"},
	}
	for _, tt := range tests {
		got := tt.w.Defer(mustParse(t, time.RFC3339, tt.at), tt.loc)
		if diff := cmp.Diff(tt.want, got.In(tt.loc).Format(time.RFC3339)); diff != "" {
			t.Errorf("%s: %v.Defer(%s) (-want +got):\n%s", tt.why, tt.w, tt.at, diff)
		}
	}
}

func TestWindowNext(t *testing.T) {
	t.Parallel()
	// Khartoum jumped from 12:00 to 13:00 on Saturday 15 January 2000: a rule
	// at 12:15 shifts to 13:15, outside a window ending at 12:30, so the SMS
	// goes at the next opening, keeping the rule's date.
	loc := mustZone(t, "Africa/Khartoum")
	w, err := scheduler.ParseWindow("09:00-12:30")
	if err != nil {
		t.Fatal(err)
	}
	r, err := scheduler.ParseRule("weekly:sat@12:15")
	if err != nil {
		t.Fatal(err)
	}
	if err := w.AllowsRule(r); err != nil {
		t.Fatal(err)
	}
	after := time.Date(2000, 1, 9, 0, 0, 0, 0, time.UTC)
	var rule, sms []shownOccurrence
	for range 3 {
		o := r.Next(after, loc)
		rule = append(rule, shownOccurrence{At: o.At.In(loc).Format(time.RFC3339), Date: o.Date})
		s := w.Next(r, after, loc)
		sms = append(sms, shownOccurrence{At: s.At.In(loc).Format(time.RFC3339), Date: s.Date})
		after = s.At
	}
	wantRule := []shownOccurrence{
		{"2000-01-15T13:15:00+03:00", "2000-01-15"},
		{"2000-01-22T12:15:00+03:00", "2000-01-22"},
		{"2000-01-29T12:15:00+03:00", "2000-01-29"},
	}
	wantSMS := []shownOccurrence{
		{"2000-01-16T09:00:00+03:00", "2000-01-15"},
		{"2000-01-22T12:15:00+03:00", "2000-01-22"},
		{"2000-01-29T12:15:00+03:00", "2000-01-29"},
	}
	if diff := cmp.Diff(wantRule, rule); diff != "" {
		t.Errorf("rule (-want +got):\n%s", diff)
	}
	if diff := cmp.Diff(wantSMS, sms); diff != "" {
		t.Errorf("SMS (-want +got):\n%s", diff)
	}
}
