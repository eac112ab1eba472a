package console

import (
	"fmt"
	"testing"
	"time"

	"github.com/nudgehq/nudge/internal/store"
)

func TestScoreChartDrawsOneBarPerAnswerScaledByScore(t *testing.T) {
	tr := func(k string, a ...any) string { return k + fmt.Sprint(a...) }
	day := time.Date(2026, 12, 1, 10, 0, 0, 0, time.UTC)
	var as []store.Answer
	for i, s := range []int{1, 5, 3} {
		as = append(as, store.Answer{Occurrence: "weekly-checkin:2026-12-0" + fmt.Sprint(i+1), Score: s, AnsweredAt: day.AddDate(0, 0, i)})
	}
	c := scoreChart(as, tr)
	if len(c.Bars) != 3 || len(c.Grid) != 5 {
		t.Fatalf("%d bars, %d grid lines", len(c.Bars), len(c.Grid))
	}
	if c.Bars[1].H != 5*c.Bars[0].H || c.Bars[1].Y+c.Bars[1].H != c.Bars[0].Y+c.Bars[0].H {
		t.Errorf("bars not scaled from one baseline: %+v", c.Bars)
	}
	if c.Summary != "chart.summary"+fmt.Sprint(3, 1, 3) {
		t.Errorf("summary %q", c.Summary)
	}
	if e := scoreChart(nil, tr); len(e.Bars) != 0 || e.Summary != "chart.none" {
		t.Errorf("empty chart: %+v", e)
	}
}
