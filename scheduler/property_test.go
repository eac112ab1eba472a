package scheduler_test

import (
	"archive/zip"
	"bytes"
	"flag"
	"fmt"
	"go/build"
	"go/format"
	"io"
	"os"
	"path/filepath"
	"runtime"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/nudgehq/nudge/scheduler"
	"pgregory.net/rapid"
)

// simulated is how long each property check steps a rule.
const simulated = 2 * 365 * 24 * time.Hour

// zonesPerShard is how many zones share one rapid.Check in
// TestRulesInEveryZone. Each check runs one zone of its shard; with rapid's
// usual 100 checks a zone goes unsampled with odds of (7/8)^100 < 2e-6, and
// fixed rules run first in every zone anyway.
const zonesPerShard = 8

// TestRulesInEveryZone is the property test. Every zone in the embedded
// tzdata (one name per distinct zone; see tzdata_zones_test.go) runs a few
// fixed rules and, through rapid, random rules, starting instants between
// 1970 and 2040 and SMS windows. Each rule is stepped for two simulated years,
// and the test checks that
//
//   - the instants strictly increase, one per rule date, with no rule date
//     skipped, and at most one per local date;
//   - every instant's wall time is the rule's, unless that wall time did not
//     exist that day, and then it is later by at most the jump;
//   - a wall time that happened twice fired at its first instant;
//   - with a window that allows the rule, Window.Next gives the same dates,
//     increasing instants one per local date, and every instant inside the
//     window.
//
// Zones are grouped in shards of zonesPerShard, run as parallel subtests;
// -rapid.checks (or RAPID_CHECKS) sets the checks per shard, and -short
// divides them by 5. The package's test time stays at a few seconds.
func TestRulesInEveryZone(t *testing.T) {
	t.Parallel()
	// Fixed rules run in every zone before rapid draws its own, at the hours
	// where clocks usually change.
	sweepRules := []string{"weekly:sun@02:30", "weekly:sat@23:30", "monthly:first-sun@00:00", "monthly:last@01:15"}
	sweepStart := time.Date(2025, 1, 1, 0, 0, 0, 0, time.UTC)
	for shard := range slices.Chunk(tzdataZones, zonesPerShard) {
		first, last := shard[0][0], shard[len(shard)-1][0]
		t.Run(first+"…"+last, func(t *testing.T) {
			t.Parallel()
			var locs []*time.Location
			for _, group := range shard {
				locs = append(locs, mustZone(t, group[0])) // the others name the same data
			}
			for _, loc := range locs {
				for _, text := range sweepRules {
					r, err := scheduler.ParseRule(text)
					if err != nil {
						t.Fatal(err)
					}
					plain := checkRule(t, loc, r, sweepStart)
					checkSMS(t, loc, scheduler.DefaultSMSWindow, r, sweepStart, plain)
				}
			}
			rapid.Check(t, func(t *rapid.T) {
				loc := rapid.SampledFrom(locs).Draw(t, "zone")
				rule := ruleGen().Draw(t, "rule")
				start := time.Unix(rapid.Int64Range(
					time.Date(1970, 1, 1, 0, 0, 0, 0, time.UTC).Unix(),
					time.Date(2040, 1, 1, 0, 0, 0, 0, time.UTC).Unix(),
				).Draw(t, "start"), 0)
				window := windowGen().Draw(t, "window")
				plain := checkRule(t, loc, rule, start)
				if window.AllowsRule(rule) == nil {
					checkSMS(t, loc, window, rule, start, plain)
				}
			})
		})
	}
}

// fataler is what the checks need of *testing.T and *rapid.T.
type fataler interface {
	Helper()
	Fatalf(format string, args ...any)
}

// ruleGen draws any rule ParseRule accepts, by way of its text.
func ruleGen() *rapid.Generator[scheduler.Rule] {
	return rapid.Custom(func(t *rapid.T) scheduler.Rule {
		at := fmt.Sprintf("@%02d:%02d", rapid.IntRange(0, 23).Draw(t, "hour"), rapid.IntRange(0, 59).Draw(t, "minute"))
		day := []string{"sun", "mon", "tue", "wed", "thu", "fri", "sat"}[rapid.IntRange(0, 6).Draw(t, "weekday")]
		var text string
		switch rapid.IntRange(0, 3).Draw(t, "kind") {
		case 0:
			text = "weekly:" + day + at
		case 1:
			text = fmt.Sprintf("monthly:%d%s", rapid.IntRange(1, 28).Draw(t, "day"), at)
		case 2:
			text = "monthly:last" + at
		default:
			text = "monthly:" + rapid.SampledFrom([]string{"first-", "last-"}).Draw(t, "which") + day + at
		}
		r, err := scheduler.ParseRule(text)
		if err != nil {
			t.Fatalf("ParseRule(%q): %v", text, err)
		}
		if r.String() != text {
			t.Fatalf("ParseRule(%q).String() = %q", text, r.String())
		}
		return r
	})
}

// windowGen draws the default window half the time, else any window
// ParseWindow accepts.
func windowGen() *rapid.Generator[scheduler.Window] {
	return rapid.Custom(func(t *rapid.T) scheduler.Window {
		if rapid.Bool().Draw(t, "default window") {
			return scheduler.DefaultSMSWindow
		}
		start := rapid.IntRange(scheduler.EarliestSMS, scheduler.LatestSMS-1).Draw(t, "window start")
		end := rapid.IntRange(start+1, scheduler.LatestSMS).Draw(t, "window end")
		return scheduler.Window{Start: start, End: end}
	})
}

// isRuleDate is the rule's calendar, written independently of the package.
func isRuleDate(r scheduler.Rule, d time.Time) bool {
	daysInMonth := func() int { return time.Date(d.Year(), d.Month()+1, 0, 0, 0, 0, 0, time.UTC).Day() }
	switch r := r.(type) {
	case scheduler.Weekly:
		return d.Weekday() == r.Weekday
	case scheduler.MonthlyDay:
		if r.Day == scheduler.LastDay {
			return d.Day() == daysInMonth()
		}
		return d.Day() == r.Day
	case scheduler.MonthlyWeekday:
		if d.Weekday() != r.Weekday {
			return false
		}
		if r.Last {
			return d.Day()+7 > daysInMonth()
		}
		return d.Day() <= 7
	}
	panic(fmt.Sprintf("unknown rule type %T", r))
}

// followsDate reports whether rule date d is the one after rule date prev:
// a weekly rule has one date a week, a monthly rule one a month.
func followsDate(r scheduler.Rule, prev, d time.Time) bool {
	if _, ok := r.(scheduler.Weekly); ok {
		return d.Equal(prev.AddDate(0, 0, 7))
	}
	py, pm, _ := prev.Date()
	y, m, _ := d.Date()
	return y*12+int(m) == py*12+int(pm)+1
}

// checkRule steps r from start for two simulated years, checks the
// properties of each occurrence, and returns the occurrences.
func checkRule(t fataler, loc *time.Location, r scheduler.Rule, start time.Time) []scheduler.Occurrence {
	t.Helper()
	who := r.String() + " in " + loc.String()
	hour, minute := r.LocalTime()
	end := start.Add(simulated)
	after := start
	var (
		all      []scheduler.Occurrence
		prev     scheduler.Occurrence
		prevDate time.Time
	)
	for after.Before(end) {
		o := r.Next(after, loc)
		all = append(all, o)
		at := o.At.In(loc)
		date, err := time.Parse(scheduler.DateLayout, o.Date)
		switch {
		case err != nil:
			t.Fatalf("%v: Next(%v) gave date %q: %v", who, after, o.Date, err)
		case !o.At.After(after):
			t.Fatalf("%v: Next(%v) = %v, not after it", who, after, at)
		case o.At.Location() != time.UTC:
			t.Fatalf("%v: Next(%v) = %v, not in UTC", who, after, o.At)
		case !isRuleDate(r, date):
			t.Fatalf("%v: Next(%v) chose %s, not a date of the rule", who, after, o.Date)
		}
		if prev.Date != "" {
			if !followsDate(r, prevDate, date) {
				t.Fatalf("%v: stepped from %s to %s, not to the next date of the rule", who, prev.Date, o.Date)
			}
			if a, b := prev.At.In(loc).Format(time.DateOnly), at.Format(time.DateOnly); a >= b {
				t.Fatalf("%v: local date %s follows local date %s (%v after %v)", who, b, a, at, prev.At.In(loc))
			}
		} else {
			// The occurrence before the first must not lie after `after`.
			d := date.AddDate(0, 0, -1)
			for !isRuleDate(r, d) {
				d = d.AddDate(0, 0, -1)
			}
			if before := scheduler.ResolveLocal(loc, d.Year(), d.Month(), d.Day(), hour, minute); before.After(after) {
				t.Fatalf("%v: Next(%v) = %v on %s, but %v on %s comes first", who, after, at, o.Date, before, d.Format(time.DateOnly))
			}
		}
		checkWallTime(t, loc, r, o, who)
		prev, prevDate, after = o, date, o.At
	}
	return all
}

// checkWallTime checks that o shows the rule's wall time on its date, or,
// where that reading did not exist, a later one by at most the jump; and that
// a reading that happened twice fired the first time.
func checkWallTime(t fataler, loc *time.Location, r scheduler.Rule, o scheduler.Occurrence, who string) {
	hour, minute := r.LocalTime()
	date, _ := time.Parse(scheduler.DateLayout, o.Date)
	want := date.Add(time.Duration(hour)*time.Hour + time.Duration(minute)*time.Minute)
	at := o.At.In(loc)
	got := wallOf(at)
	periodStart, _ := at.ZoneBounds()
	_, offset := at.Zone()
	_, offsetBefore := periodStart.Add(-time.Second).In(loc).Zone()
	if periodStart.IsZero() {
		offsetBefore = offset
	}
	if got.Equal(want) {
		// Had the reading happened earlier, it was before a fall back
		// into this period, at the higher offset in force before it.
		if offsetBefore > offset {
			if earlier := want.Add(-time.Duration(offsetBefore) * time.Second); earlier.Before(periodStart) && wallOf(earlier.In(loc)).Equal(want) {
				t.Fatalf("%v on %s: fired at %v, but the reading happened first at %v", who, o.Date, at, earlier.In(loc))
			}
		}
		return
	}
	// The reading must not exist: time.Date finds one where there is one.
	if std := time.Date(date.Year(), date.Month(), date.Day(), hour, minute, 0, 0, loc); wallOf(std).Equal(want) {
		t.Fatalf("%v on %s: fired at %v, but %v shows the wall time asked for", who, o.Date, at, std)
	}
	jump := time.Duration(offset-offsetBefore) * time.Second
	if late := got.Sub(want); late <= 0 || late > jump {
		t.Fatalf("%v on %s: fired at %v, %v from the wall time asked for; the jump before it was %v", who, o.Date, at, late, jump)
	}
}

// checkSMS steps r through Window w from start: the same dates as the rule's
// occurrences (plain), increasing instants, one per local date, each inside w.
func checkSMS(t fataler, loc *time.Location, w scheduler.Window, r scheduler.Rule, start time.Time, plain []scheduler.Occurrence) {
	t.Helper()
	who := r.String() + " in " + loc.String()
	after := start
	prevLocal := ""
	for _, want := range plain {
		o := w.Next(r, after, loc)
		local := o.At.In(loc).Format(time.DateOnly)
		switch {
		case o.Date != want.Date:
			t.Fatalf("%v, window %v: SMS occurrence on %s, the rule's on %s", who, w, o.Date, want.Date)
		case !o.At.After(after):
			t.Fatalf("%v, window %v: Next(%v) = %v, not after it", who, w, after, o.At)
		case !w.Contains(o.At, loc):
			t.Fatalf("%v, window %v: SMS at %v, outside the window (the rule's instant: %v)", who, w, o.At.In(loc), want.At.In(loc))
		case local <= prevLocal:
			t.Fatalf("%v, window %v: local date %s follows %s", who, w, local, prevLocal)
		}
		after, prevLocal = o.At, local
	}
}

var updateZones = flag.Bool("update-zones", false, "rewrite tzdata_zones_test.go from GOROOT/lib/time/zoneinfo.zip")

// TestZoneList checks that tzdataZones (tzdata_zones_test.go) names every zone
// in the zoneinfo.zip of the Go that runs the tests, the file time/tzdata
// embeds, with names whose data is identical (America/New_York, EST5EDT and
// US/Eastern) in one group, and that LoadZone loads each name. With -update-zones it rewrites the list:
//
//	go test ./scheduler -run TestZoneList -update-zones
func TestZoneList(t *testing.T) {
	t.Parallel()
	for _, group := range tzdataZones {
		for _, name := range group {
			mustZone(t, name)
		}
	}
	zipPath := filepath.Join(build.Default.GOROOT, "lib", "time", "zoneinfo.zip")
	want, err := readZoneGroups(zipPath)
	if err != nil {
		t.Fatalf("cannot read this Go's tzdata (%s) to compare the zone list with: %v", zipPath, err)
	}
	if *updateZones {
		var b bytes.Buffer
		fmt.Fprintf(&b, "// Code generated by TestZoneList (go test ./scheduler -run TestZoneList -update-zones); DO NOT EDIT.\n\n")
		fmt.Fprintf(&b, "package scheduler_test\n\n")
		fmt.Fprintf(&b, "// tzdataZones names every zone in Go's lib/time/zoneinfo.zip (%s), which\n", runtime.Version())
		fmt.Fprintf(&b, "// time/tzdata embeds. Names whose data is the same file form one group;\n")
		fmt.Fprintf(&b, "// tests that depend only on the data use the group's first name.\n")
		fmt.Fprintf(&b, "var tzdataZones = [][]string{\n")
		for _, group := range want {
			fmt.Fprintf(&b, "\t{%s},\n", strings.Join(quoteAll(group), ", "))
		}
		fmt.Fprintf(&b, "}\n")
		src, err := format.Source(b.Bytes())
		if err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile("tzdata_zones_test.go", src, 0o644); err != nil {
			t.Fatal(err)
		}
		return
	}
	if diff := cmp.Diff(want, tzdataZones); diff != "" {
		t.Errorf("tzdata_zones_test.go is out of date with %s; run go test ./scheduler -run TestZoneList -update-zones (-want +got):\n%s", zipPath, diff)
	}
}

// readZoneGroups reads the zone names in a zoneinfo.zip, grouped by identical
// contents, each group and the list of groups sorted by name.
func readZoneGroups(zipPath string) ([][]string, error) {
	r, err := zip.OpenReader(zipPath)
	if err != nil {
		return nil, err
	}
	defer r.Close()
	byData := map[string][]string{}
	for _, f := range r.File {
		rc, err := f.Open()
		if err != nil {
			return nil, fmt.Errorf("open %s: %w", f.Name, err)
		}
		data, err := io.ReadAll(rc)
		rc.Close()
		if err != nil {
			return nil, fmt.Errorf("read %s: %w", f.Name, err)
		}
		byData[string(data)] = append(byData[string(data)], f.Name)
	}
	var groups [][]string
	for _, names := range byData {
		slices.Sort(names)
		groups = append(groups, names)
	}
	slices.SortFunc(groups, func(a, b []string) int { return strings.Compare(a[0], b[0]) })
	return groups, nil
}

func quoteAll(names []string) []string {
	q := make([]string, len(names))
	for i, n := range names {
		q[i] = strconv.Quote(n)
	}
	return q
}
