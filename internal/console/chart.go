package console

import (
	"github.com/nudgehq/nudge/internal/store"
)

// chart is a client's score series drawn as bars in an inline SVG: one bar
// per answer, oldest on the left, height by score (1–5). The page gives
// the SVG a title and a summary for screen readers, and the same numbers
// in a table beside it.
type chart struct {
	Width, Height int
	Bars          []bar
	Grid          []gridLine
	Markers       []marker
	Summary       string
}

type bar struct {
	X, Y, W, H int
	Label      string // "date: score"
}

type gridLine struct {
	Y     int
	Score int
}

// Chart geometry, in SVG units.
const (
	chartHeight = 160
	chartLeft   = 24 // room for the score labels
	chartTop    = 10 // leaves a plot height divisible by 5
	barStep     = 22
	barWidth    = 16
	maxBars     = 60 // the newest; the table lists every answer
)

// scoreChart draws ratings (oldest first) in the page's language.
func scoreChart(ratings []store.Answer, tr func(string, ...any) string) chart {
	if len(ratings) > maxBars {
		ratings = ratings[len(ratings)-maxBars:]
	}
	plot := chartHeight - chartTop
	c := chart{Height: chartHeight + 4, Width: chartLeft + max(1, len(ratings))*barStep + 4}
	for s := 1; s <= 5; s++ {
		c.Grid = append(c.Grid, gridLine{Y: chartTop + plot - s*plot/5, Score: s})
	}
	for i, a := range ratings {
		h := a.Score * plot / 5
		c.Bars = append(c.Bars, bar{X: chartLeft + i*barStep + (barStep-barWidth)/2, Y: chartTop + plot - h, W: barWidth, H: h,
			Label: a.At().UTC().Format("2006-01-02") + ": " + itoa(a.Score)})
	}
	switch n := len(ratings); n {
	case 0:
		c.Summary = tr("chart.none")
	default:
		c.Summary = tr("chart.summary", n, ratings[0].Score, ratings[n-1].Score)
	}
	return c
}

func itoa(n int) string {
	if n >= 0 && n <= 9 {
		return string(rune('0' + n))
	}
	return "?"
}

// marker is an event note on the chart: a line between the bars of the
// answers before and after its day.
type marker struct {
	X     int
	Label string // "date: note"
}

// scoreChartWithNotes is scoreChart with a marker per event note. A note
// before the first bar drawn sits at the left edge, one after the last at
// the right.
func scoreChartWithNotes(ratings []store.Answer, notes []store.ClientNote, tr func(string, ...any) string) chart {
	c := scoreChart(ratings, tr)
	if len(ratings) > maxBars {
		ratings = ratings[len(ratings)-maxBars:]
	}
	for _, n := range notes {
		day := n.Day.UTC().Format("2006-01-02")
		i := 0
		for i < len(ratings) && ratings[i].At().UTC().Format("2006-01-02") <= day {
			i++
		}
		c.Markers = append(c.Markers, marker{X: chartLeft + i*barStep, Label: day + ": " + n.Text})
	}
	if len(notes) > 0 {
		c.Summary += " " + tr("chart.notes", len(notes))
	}
	return c
}
