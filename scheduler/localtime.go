package scheduler

import "time"

// zoneSearch bounds the search for the zone periods that can hold a wall time.
// UTC offsets in tzdata stay within ±16h (local mean times included), so the
// instant of a wall-clock reading lies within that distance of the reading
// written as UTC; the margin also takes in the period before a transition.
const zoneSearch = 26 * time.Hour

// ResolveLocal returns the instant at which the wall clock in loc reads
// hour:min on the civil date year-month-day. The fields are normalised as
// time.Date normalises them (day 32 is the next month's first day).
//
// It applies nudge's policy where time.Date does not:
//
//   - A wall time that does not exist, because the clocks jumped over it
//     (spring forward), moves forward by the length of the jump: New York's
//     02:30 on spring-forward day is 03:30 EDT, Lord Howe's 02:15 is 02:45,
//     and Santiago's midnight on its spring-forward date is 01:00 on that date.
//     Whatever the jump, the instant is the one the clock would have shown
//     hour:min at had it not jumped.
//   - A wall time that happens twice (fall back) resolves to the first time
//     it happens.
//
// The result is in loc. loc must not be nil.
func ResolveLocal(loc *time.Location, year int, month time.Month, day, hour, min int) time.Time {
	// The wall-clock reading written as if it were UTC: an instant t shows
	// this reading in loc exactly when t plus its UTC offset equals wall.
	wall := time.Date(year, month, day, hour, min, 0, 0, time.UTC)

	// Walk the zone's periods (spans of one UTC offset) in time order. The
	// first period that holds wall-minus-its-offset gives the first instant;
	// if none does, the reading fell in a jump between two periods.
	var (
		gap     time.Time
		inGap   bool
		prevOff int
		first   = true
	)
	t := wall.Add(-zoneSearch).In(loc)
	limit := wall.Add(zoneSearch)
	for {
		_, off := t.Zone()
		start, end := t.ZoneBounds()
		if !end.IsZero() && !end.After(t) {
			// In the last UTC day of a leap year served by a zone's TZ
			// footer rule, Go reports an end before t (it counts 365-day
			// years: golang/go#81583). The period really runs to the end of
			// the UTC year; walking on from the bad end would loop forever.
			end = time.Date(t.UTC().Year()+1, time.January, 1, 0, 0, 0, 0, time.UTC)
		}
		cand := wall.Add(-offsetDuration(off))
		if (start.IsZero() || !cand.Before(start)) && (end.IsZero() || cand.Before(end)) {
			return cand.In(loc)
		}
		// The clocks jumped from prevOff to off at start: the readings in
		// [start+prevOff, start+off) never appeared. Keep the first such jump
		// and keep walking, in case a later fall back shows the reading after all.
		if !first && !inGap && off > prevOff &&
			!wall.Before(start.Add(offsetDuration(prevOff))) && wall.Before(start.Add(offsetDuration(off))) {
			gap, inGap = wall.Add(-offsetDuration(prevOff)), true
		}
		if end.IsZero() || end.After(limit) {
			break
		}
		prevOff, first = off, false
		t = end.In(loc)
	}
	if inGap {
		return gap.In(loc)
	}
	// Not reached with tzdata's zones; fall back to the standard library.
	return time.Date(year, month, day, hour, min, 0, 0, loc)
}

func offsetDuration(n int) time.Duration { return time.Duration(n) * time.Second }
