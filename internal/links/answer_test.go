package links_test

import (
	"testing"

	"github.com/nudgehq/nudge/internal/links"
)

func TestAnswerSubjectRoundTripsAndRefusesOthers(t *testing.T) {
	for _, occ := range []string{"weekly-checkin:2026-12-01", "between-session:p1|1764774000"} {
		for score := 0; score <= 5; score++ {
			id, got, s, err := links.ParseAnswerSubject(links.AnswerSubject("abc", occ, score))
			if err != nil || id != "abc" || got != occ || s != score {
				t.Fatalf("round trip of %q %d = %q %q %d %v", occ, score, id, got, s, err)
			}
		}
	}
	for _, bad := range []string{"", "abc", "abc|3", "|3|weekly-checkin:x", "abc|6|weekly-checkin:x", "abc|-1|weekly-checkin:x", "abc|33|w:x", "abc|3|"} {
		if _, _, _, err := links.ParseAnswerSubject(bad); err == nil {
			t.Errorf("ParseAnswerSubject(%q) accepted", bad)
		}
	}
}
