package scheduler_test

import (
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/nudgehq/nudge/scheduler"
)

func mustZone(tb testing.TB, name string) *time.Location {
	tb.Helper()
	loc, err := scheduler.LoadZone(name)
	if err != nil {
		tb.Fatal(err)
	}
	return loc
}

func TestResolveLocal(t *testing.T) {
	t.Parallel()
	tests := []struct {
		zone string
		date string // civil date
		time string // wall time asked for
		want string // RFC 3339, in the zone
		why  string
	}{
		{"UTC", "2026-06-01", "09:00", "2026-06-01T09:00:00Z", "no transitions"},

		{"America/New_York", "2026-03-08", "01:59", "2026-03-08T01:59:00-05:00", "just before the jump"},
		{"America/New_York", "2026-03-08", "02:00", "2026-03-08T03:00:00-04:00", "gap start moves forward by 1h"},
		{"America/New_York", "2026-03-08", "02:30", "2026-03-08T03:30:00-04:00", "gap moves forward by 1h"},
		{"America/New_York", "2026-03-08", "03:00", "2026-03-08T03:00:00-04:00", "first time after the jump"},
		{"America/New_York", "2026-11-01", "00:59", "2026-11-01T00:59:00-04:00", "before the repeat"},
		{"America/New_York", "2026-11-01", "01:00", "2026-11-01T01:00:00-04:00", "repeat: first instant"},
		{"America/New_York", "2026-11-01", "01:30", "2026-11-01T01:30:00-04:00", "repeat: first instant"},
		{"America/New_York", "2026-11-01", "02:00", "2026-11-01T02:00:00-05:00", "after the repeat"},

		{"Europe/London", "2026-03-29", "01:30", "2026-03-29T02:30:00+01:00", "gap at 01:00"},
		{"Europe/London", "2026-10-25", "01:30", "2026-10-25T01:30:00+01:00", "repeat: BST first"},
		{"Europe/London", "2026-10-25", "02:00", "2026-10-25T02:00:00Z", "after the repeat"},

		{"Australia/Lord_Howe", "2026-10-04", "02:00", "2026-10-04T02:30:00+11:00", "30-minute gap"},
		{"Australia/Lord_Howe", "2026-10-04", "02:15", "2026-10-04T02:45:00+11:00", "30-minute gap"},
		{"Australia/Lord_Howe", "2026-10-04", "02:30", "2026-10-04T02:30:00+11:00", "after the gap"},
		{"Australia/Lord_Howe", "2026-04-05", "01:45", "2026-04-05T01:45:00+11:00", "30-minute repeat: first"},
		{"Australia/Lord_Howe", "2026-04-05", "01:29", "2026-04-05T01:29:00+11:00", "before the repeat"},

		{"America/Santiago", "2026-09-06", "00:00", "2026-09-06T01:00:00-03:00", "midnight does not exist: 01:00 the same date"},
		{"America/Santiago", "2026-09-06", "00:30", "2026-09-06T01:30:00-03:00", "gap after midnight"},
		{"America/Santiago", "2026-09-05", "23:59", "2026-09-05T23:59:00-04:00", "the evening before"},
		{"America/Santiago", "2026-04-04", "23:30", "2026-04-04T23:30:00-03:00", "repeat before midnight: first"},
		{"America/Santiago", "2026-04-05", "00:00", "2026-04-05T00:00:00-04:00", "after the repeat"},

		{"Asia/Kathmandu", "2026-06-01", "09:00", "2026-06-01T09:00:00+05:45", "+05:45 all year"},
		{"Asia/Kathmandu", "1986-01-01", "00:10", "1986-01-01T00:25:00+05:45", "15-minute gap at midnight, 1986"},
		{"Asia/Kathmandu", "1985-12-31", "23:50", "1985-12-31T23:50:00+05:30", "before the 1986 change"},

		{"Pacific/Chatham", "2026-09-27", "02:45", "2026-09-27T03:45:00+13:45", "gap at 02:45"},
		{"Pacific/Chatham", "2026-09-27", "03:00", "2026-09-27T04:00:00+13:45", "gap"},
		{"Pacific/Chatham", "2026-09-27", "03:45", "2026-09-27T03:45:00+13:45", "after the gap"},
		{"Pacific/Chatham", "2026-04-05", "03:00", "2026-04-05T03:00:00+13:45", "repeat: first"},
		{"Pacific/Chatham", "2026-04-05", "03:45", "2026-04-05T03:45:00+12:45", "after the repeat"},

		{"Africa/Casablanca", "2026-02-15", "02:30", "2026-02-15T02:30:00+01:00", "Ramadan: clocks go back, repeat: first"},
		{"Africa/Casablanca", "2026-02-15", "03:00", "2026-02-15T03:00:00Z", "Ramadan: after the repeat"},
		{"Africa/Casablanca", "2026-03-22", "02:30", "2026-03-22T03:30:00+01:00", "after Ramadan: gap"},
		{"Africa/Casablanca", "2026-03-22", "09:00", "2026-03-22T09:00:00+01:00", "after Ramadan"},

		{"Pacific/Apia", "2011-12-30", "09:00", "2011-12-31T09:00:00+14:00", "Samoa skipped 30 December 2011: a day-long gap"},
		{"Pacific/Apia", "2011-12-29", "23:30", "2011-12-29T23:30:00-10:00", "the day before the skip"},

		{"America/New_York", "2040-12-31", "09:00", "2040-12-31T09:00:00-05:00", "last day of a leap year served by the TZ rule (golang/go#81583)"},
		{"Europe/Warsaw", "2040-12-31", "23:59", "2040-12-31T23:59:00+01:00", "last day of a leap year served by the TZ rule (golang/go#81583)"},
	}
	for _, tt := range tests {
		t.Run(tt.zone+" "+tt.date+" "+tt.time, func(t *testing.T) {
			t.Parallel()
			loc := mustZone(t, tt.zone)
			d, err := time.Parse(time.DateOnly, tt.date)
			if err != nil {
				t.Fatal(err)
			}
			w, err := time.Parse("15:04", tt.time)
			if err != nil {
				t.Fatal(err)
			}
			got := scheduler.ResolveLocal(loc, d.Year(), d.Month(), d.Day(), w.Hour(), w.Minute())
			if diff := cmp.Diff(tt.want, got.Format(time.RFC3339)); diff != "" {
				t.Errorf("%s (-want +got):\n%s", tt.why, diff)
			}
			if got.Location() != loc {
				t.Errorf("result in %v, want %v", got.Location(), loc)
			}
		})
	}
}

func TestResolveLocalNormalisesLikeTimeDate(t *testing.T) {
	t.Parallel()
	loc := mustZone(t, "Europe/London")
	got := scheduler.ResolveLocal(loc, 2026, time.February, 29, 9, 0)
	if diff := cmp.Diff("2026-03-01T09:00:00Z", got.Format(time.RFC3339)); diff != "" {
		t.Errorf("(-want +got):\n%s", diff)
	}
}

// wallOf returns t's wall-clock reading written as UTC, to compare readings.
func wallOf(t time.Time) time.Time {
	y, m, d := t.Date()
	h, mi, s := t.Clock()
	return time.Date(y, m, d, h, mi, s, 0, time.UTC)
}

// zonePeriods walks loc's periods (spans of one offset) from `from` to `to`
// and returns the offsets it meets and the instants where the offset changes.
func zonePeriods(loc *time.Location, from, to time.Time) (offsets []int, changes []time.Time) {
	seen := map[int]bool{}
	c := from.In(loc)
	for c.Before(to) {
		_, off := c.Zone()
		if !seen[off] {
			seen[off] = true
			offsets = append(offsets, off)
		}
		_, end := c.ZoneBounds()
		if end.IsZero() {
			break
		}
		if !end.After(c) { // golang/go#81583
			end = time.Date(c.UTC().Year()+1, time.January, 1, 0, 0, 0, 0, time.UTC)
		}
		if _, next := end.In(loc).Zone(); next != off {
			changes = append(changes, end)
		}
		c = end.In(loc)
	}
	return offsets, changes
}

// resolveByBruteForce applies the policy by its definition: the earliest
// instant whose reading is w; failing that, w minus the offset in force just
// before the first instant whose reading passes w.
func resolveByBruteForce(loc *time.Location, offsets []int, w time.Time) time.Time {
	var best time.Time
	maxOff := offsets[0]
	for _, o := range offsets {
		maxOff = max(maxOff, o)
		c := w.Add(-time.Duration(o) * time.Second)
		if wallOf(c.In(loc)).Equal(w) && (best.IsZero() || c.Before(best)) {
			best = c
		}
	}
	if !best.IsZero() {
		return best
	}
	c := w.Add(-time.Duration(maxOff)*time.Second - time.Hour)
	for !wallOf(c.In(loc)).After(w) {
		c = c.Add(time.Minute)
	}
	for c = c.Add(-time.Minute); !wallOf(c.In(loc)).After(w); c = c.Add(time.Second) {
	}
	_, before := c.Add(-time.Second).In(loc).Zone()
	return w.Add(-time.Duration(before) * time.Second)
}

// TestResolveLocalEveryTransition checks ResolveLocal against the policy's
// definition around every offset change from 1970 to 2040 in every zone of
// the embedded tzdata.
func TestResolveLocalEveryTransition(t *testing.T) {
	t.Parallel()
	from := time.Date(1970, 1, 1, 0, 0, 0, 0, time.UTC)
	to := time.Date(2041, 1, 1, 0, 0, 0, 0, time.UTC)
	for _, group := range tzdataZones {
		name := group[0] // the others name the same data
		t.Run(name, func(t *testing.T) {
			loc := mustZone(t, name)
			offsets, changes := zonePeriods(loc, from, to)
			for _, change := range changes {
				_, o1 := change.Add(-time.Second).In(loc).Zone()
				_, o2 := change.In(loc).Zone()
				jump := time.Duration(max(o1-o2, o2-o1)) * time.Second
				// Readings from an hour before the change's lower reading to
				// an hour after its upper one, every quarter hour.
				first := change.UTC().Add(time.Duration(min(o1, o2))*time.Second - time.Hour).Truncate(15 * time.Minute)
				for w := first; !w.After(first.Add(jump + 2*time.Hour)); w = w.Add(15 * time.Minute) {
					got := scheduler.ResolveLocal(loc, w.Year(), w.Month(), w.Day(), w.Hour(), w.Minute())
					if want := resolveByBruteForce(loc, offsets, w); !got.Equal(want) {
						t.Fatalf("%s %s: got %s, want %s", name, w.Format("2006-01-02 15:04"),
							got.Format(time.RFC3339), want.In(loc).Format(time.RFC3339))
					}
				}
			}
		})
	}
}
