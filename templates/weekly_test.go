package templates

import (
	"testing"
	"time"

	"github.com/nudgehq/nudge/internal/domain"
)

// TestWeeklyIndex checks the rule of a weekly series of 52 messages: the
// first year sends each message once, the opener only in week 1, and after
// that no text ever comes back in the same calendar month it last came in,
// whatever day the person joined, over ten years.
func TestWeeklyIndex(t *testing.T) {
	t.Parallel()
	const n = 52
	seen := map[int]int64{}
	for step := int64(0); step < n; step++ {
		i := WeeklyIndex(step, n)
		if prev, ok := seen[i]; ok {
			t.Fatalf("steps %d and %d both send message %d within the first year", prev, step, i)
		}
		seen[i] = step
	}
	if WeeklyIndex(0, n) != 0 {
		t.Errorf("step 0 sends message %d, want the opener (0)", WeeklyIndex(0, n))
	}
	const years = 10
	for step := int64(1); step < years*n; step++ {
		if i := WeeklyIndex(step, n); i == 0 || i >= n {
			t.Fatalf("step %d sends message %d: want 1 to %d (the opener goes out once)", step, i, n-1)
		}
	}
	if WeeklyIndex(-3, n) != 0 || WeeklyIndex(5, 1) != 0 || WeeklyIndex(5, 2) != 1 {
		t.Errorf("edge cases: %d %d %d, want 0 0 1", WeeklyIndex(-3, n), WeeklyIndex(5, 1), WeeklyIndex(5, 2))
	}

	// Every join day of a year, every text's consecutive sendings.
	start := time.Date(2027, time.January, 1, 18, 0, 0, 0, time.UTC)
	for day := 0; day < 366; day++ {
		joined := start.AddDate(0, 0, day)
		last := map[int]time.Time{}
		for step := int64(0); step < years*n; step++ {
			at := joined.AddDate(0, 0, 7*int(step))
			i := WeeklyIndex(step, n)
			if prev, ok := last[i]; ok {
				if prev.Month() == at.Month() {
					t.Fatalf("joined %s: message %d goes out on %s and again on %s, the same month",
						joined.Format(time.DateOnly), i, prev.Format(time.DateOnly), at.Format(time.DateOnly))
				}
				if at.Sub(prev) < 20*7*24*time.Hour {
					t.Fatalf("joined %s: message %d comes back after %s", joined.Format(time.DateOnly), i, at.Sub(prev))
				}
			}
			last[i] = at
		}
	}
}

// TestPickWeekly checks that Pick follows WeeklyIndex for the weekly
// programs and takes the step modulo the length for the others.
func TestPickWeekly(t *testing.T) {
	t.Parallel()
	lib, err := Default()
	if err != nil {
		t.Fatal(err)
	}
	for _, p := range []domain.Program{domain.WeeklyCheckin, domain.Gratitude} {
		s := lib.Series(p, "en")
		for _, step := range []int64{0, 1, 51, 52, 53, 103, 104, 500} {
			m, err := lib.Pick(p, "en", step)
			if err != nil || m != s[WeeklyIndex(step, int64(len(s)))] {
				t.Errorf("Pick(%s, %d) = %v, %v; want %s", p, step, m, err, s[WeeklyIndex(step, int64(len(s)))])
			}
		}
	}
	s := lib.Series(domain.MonthlyReview, "en")
	if m, _ := lib.Pick(domain.MonthlyReview, "en", int64(len(s))+1); m != s[1] {
		t.Errorf("monthly review after a year = %v, want %v", m, s[1])
	}
}
