package console

import (
	"fmt"
	"testing"
	"time"

	"github.com/nudgehq/nudge/internal/store"
)

func TestNoteMarkersSitBetweenTheAnswersOfTheirDay(t *testing.T) {
	tr := func(k string, a ...any) string { return k + fmt.Sprint(a...) }
	var as []store.Answer
	for i := range 3 {
		day := time.Date(2026, 12, 1+3*i, 18, 0, 0, 0, time.UTC)
		as = append(as, store.Answer{Occurrence: "weekly-checkin:" + day.Format("2006-01-02"), Score: 3, AnsweredAt: day})
	}
	notes := []store.ClientNote{
		{Day: time.Date(2026, 11, 20, 0, 0, 0, 0, time.UTC), Text: "before"},
		{Day: time.Date(2026, 12, 4, 0, 0, 0, 0, time.UTC), Text: "same day as the second"},
		{Day: time.Date(2026, 12, 5, 0, 0, 0, 0, time.UTC), Text: "between"},
		{Day: time.Date(2026, 12, 30, 0, 0, 0, 0, time.UTC), Text: "after"},
	}
	c := scoreChartWithNotes(as, notes, tr)
	want := []int{chartLeft, chartLeft + 2*barStep, chartLeft + 2*barStep, chartLeft + 3*barStep}
	if len(c.Markers) != len(want) {
		t.Fatalf("%d markers", len(c.Markers))
	}
	for i, m := range c.Markers {
		if m.X != want[i] {
			t.Errorf("marker %q at %d, want %d", notes[i].Text, m.X, want[i])
		}
	}
	if c.Markers[2].Label != "2026-12-05: between" {
		t.Errorf("label %q", c.Markers[2].Label)
	}
	if c.Markers[3].X > c.Width {
		t.Errorf("the last marker (%d) is outside the chart (%d)", c.Markers[3].X, c.Width)
	}
}

func TestCSVSafeDefusesFormulas(t *testing.T) {
	for in, want := range map[string]string{
		"=1+1": "'=1+1", "+44": "'+44", "-2": "'-2", "@SUM(A1)": "'@SUM(A1)", "\tx": "'\tx", "\rx": "'\rx",
		"fine": "fine", "": "", "a=b": "a=b", "5": "5",
	} {
		if got := exportCell(in); got != want {
			t.Errorf("exportCell(%q) = %q, want %q", in, got, want)
		}
	}
}

func TestFoldNameIgnoresCaseAndAccents(t *testing.T) {
	for _, pair := range [][2]string{{"José", "jose"}, {"ÁNGELES", "angeles"}, {"Zoë", "zoe"}, {" Ñu ", "nu"}} {
		if got := foldName(pair[0]); got != pair[1] {
			t.Errorf("foldName(%q) = %q, want %q", pair[0], got, pair[1])
		}
	}
}
