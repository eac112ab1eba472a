package review_test

import (
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/nudgehq/nudge/internal/review"
)

var day0 = time.Date(2026, 11, 2, 18, 0, 0, 0, time.UTC)

func week(n int) time.Time { return day0.Add(time.Duration(n) * 7 * 24 * time.Hour) }

func checkin(n int) review.Sent {
	return review.Sent{Occurrence: "weekly-checkin:" + week(n).Format(time.DateOnly), At: week(n)}
}

func occ(n int) string { return "weekly-checkin:" + week(n).Format(time.DateOnly) }

func TestSummariseAMonth(t *testing.T) {
	in := review.Input{
		PrevFrom: week(-4).Add(-time.Hour), From: week(0).Add(-time.Hour), To: week(5).Add(-time.Hour),
		Sent: []review.Sent{
			checkin(-3), checkin(-2),
			checkin(0), checkin(1), checkin(2), checkin(3), checkin(4),
			{Occurrence: "gratitude:2026-11-04", At: week(0).Add(48 * time.Hour)},
			{Occurrence: "gratitude:2026-11-11", At: week(1).Add(48 * time.Hour)},
		},
		Answers: []review.Answer{
			{Occurrence: occ(-3), Score: 2}, {Occurrence: occ(-2), Score: 2},
			{Occurrence: occ(0), Score: 3, Note: "quiet"},
			{Occurrence: occ(2), Score: 5, Note: "saw my brother"},
			{Occurrence: occ(3), Score: 4},
			{Occurrence: occ(4), Note: "busy, but called Mum"},
			{Occurrence: "gratitude:2026-11-11", Note: "the bus driver waited"},
			// An answer to something never sent in the month counts nowhere.
			{Occurrence: "weekly-checkin:2025-01-01", Score: 1},
		},
	}
	got := review.Summarise(in)
	if got.Sent != 5 || got.Answered != 4 || got.Scored != 3 || got.LongestRun != 3 {
		t.Errorf("sent %d answered %d scored %d run %d; want 5 4 3 3", got.Sent, got.Answered, got.Scored, got.LongestRun)
	}
	if got.Average != 4 || got.PrevAverage != 2 || got.Direction != review.Up {
		t.Errorf("average %.2f prev %.2f direction %d; want 4, 2, up", got.Average, got.PrevAverage, got.Direction)
	}
	if got.GratitudeSent != 2 || got.GratitudeReplies != 1 {
		t.Errorf("gratitude %d of %d; want 1 of 2", got.GratitudeReplies, got.GratitudeSent)
	}
	if got.Best == nil || got.Best.Score != 5 || got.Best.Date != "2026-11-16" {
		t.Errorf("best = %+v; want the week of 2026-11-16, 5", got.Best)
	}
	// Without the opt-in, no note anywhere.
	if got.Quote != "" || got.Best.Note != "" {
		t.Errorf("notes without the opt-in: %q, %q", got.Quote, got.Best.Note)
	}
	for _, w := range got.Weeks {
		if w.Note != "" {
			t.Errorf("week %s carries its note without the opt-in", w.Date)
		}
	}
	in.Quote = true
	got = review.Summarise(in)
	if got.Best.Note != "saw my brother" || got.Quote != "busy, but called Mum" {
		t.Errorf("with quoting: best note %q, quote %q", got.Best.Note, got.Quote)
	}
	wantWeeks := []review.Week{
		{Date: "2026-11-02", Answered: true, Score: 3, Note: "quiet"},
		{Date: "2026-11-09"},
		{Date: "2026-11-16", Answered: true, Score: 5, Note: "saw my brother"},
		{Date: "2026-11-23", Answered: true, Score: 4},
		{Date: "2026-11-30", Answered: true, Note: "busy, but called Mum"},
	}
	if diff := cmp.Diff(wantWeeks, got.Weeks); diff != "" {
		t.Errorf("weeks (-want +got):\n%s", diff)
	}
}

func TestSummariseDirectionAndEmptyMonths(t *testing.T) {
	base := review.Input{PrevFrom: week(-4), From: week(0), To: week(4), Sent: []review.Sent{checkin(-2), checkin(1)}}
	for _, tc := range []struct {
		prev, now int
		want      review.Direction
	}{{3, 3, review.Same}, {4, 2, review.Down}, {2, 4, review.Up}, {0, 4, review.NoComparison}, {4, 0, review.NoComparison}} {
		in := base
		in.Answers = nil
		if tc.prev > 0 {
			in.Answers = append(in.Answers, review.Answer{Occurrence: occ(-2), Score: tc.prev})
		}
		if tc.now > 0 {
			in.Answers = append(in.Answers, review.Answer{Occurrence: occ(1), Score: tc.now})
		}
		if got := review.Summarise(in).Direction; got != tc.want {
			t.Errorf("%d then %d: direction %d, want %d", tc.prev, tc.now, got, tc.want)
		}
	}
	empty := review.Summarise(review.Input{From: week(0), To: week(4)})
	if !empty.NoAnswers() || empty.Best != nil || empty.Sent != 0 || empty.LongestRun != 0 {
		t.Fatalf("empty month = %+v", empty)
	}
}

func TestWindow(t *testing.T) {
	now := time.Date(2026, 12, 15, 18, 0, 0, 0, time.UTC)
	prev, from := review.Window(now, nil)
	if !from.Equal(now.Add(-review.DefaultMonth)) || !prev.Equal(from.Add(-review.DefaultMonth)) {
		t.Errorf("first review: %v %v", prev, from)
	}
	nov := time.Date(2026, 11, 15, 18, 0, 0, 0, time.UTC)
	oct := time.Date(2026, 10, 15, 18, 0, 0, 0, time.UTC)
	prev, from = review.Window(now, []time.Time{nov})
	if !from.Equal(nov) || !prev.Equal(nov.Add(-now.Sub(nov))) {
		t.Errorf("second review: %v %v", prev, from)
	}
	// A review at now itself (a retry) is not an earlier one.
	prev, from = review.Window(now, []time.Time{now, nov, oct})
	if !from.Equal(nov) || !prev.Equal(oct) {
		t.Errorf("later review: %v %v; want %v %v", prev, from, oct, nov)
	}
}
