package web

import (
	"fmt"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/nudgehq/nudge/internal/domain"
	"github.com/nudgehq/nudge/internal/store"
	"github.com/nudgehq/nudge/scheduler"
)

// "Your month" lives behind the manage link: the last twelve weeks of
// check-ins as a chart (an inline SVG with a title and a description for
// screen readers, and the same numbers in a table), each week's score and
// note, the gratitude replies, a Delete button per note, and the "quote my
// notes back to me" choice for the monthly review.
//
//	GET  /manage/{token}/month          the page
//	POST /manage/{token}/month/notes    deletes one note (occurrence=…)
//	POST /manage/{token}/month/quote    quote my notes back to me (quote=on, or absent)
func (s *Server) monthRoutes(mux *http.ServeMux) {
	mux.HandleFunc("GET /manage/{token}/month", s.monthShow)
	mux.HandleFunc("POST /manage/{token}/month/notes", s.monthNoteRemove)
	mux.HandleFunc("POST /manage/{token}/month/quote", s.monthQuoteSave)
}

// monthWeeks is how many weeks the page shows.
const monthWeeks = 12

// Chart geometry, in SVG user units.
const (
	chartWidth, chartHeight = 600, 220
	chartLeft, chartBottom  = 30, 30 // room for the axis labels
	chartTop                = 10
)

type weekRow struct {
	Week, Score, Note string
	Occurrence        string
	Answered          bool
	// Bar in the chart.
	X, Y, W, H, LabelX int
}

type gratitudeRow struct {
	Date, Note, Occurrence string
}

type monthPage struct {
	Title, ChartTitle, ChartDesc string
	Weeks                        []weekRow
	Gratitude                    []gratitudeRow
	Quote                        bool
	Notice                       string
	Back, Notes, QuoteAction     string
	// Chart frame.
	Width, Height, Left, Bottom, Top int
	Ticks                            []tick
}

type tick struct {
	Y     int
	Label string
}

func (s *Server) monthShow(w http.ResponseWriter, r *http.Request) {
	sub, ok := s.manageSubject(w, r)
	if !ok {
		return
	}
	tr := s.text[storedLocale(sub.Locale)]
	v, err := s.monthView(r, tr, sub)
	if err != nil {
		s.internalError(w, r, tr.locale, err)
		return
	}
	if done := r.URL.Query().Get("done"); done != "" && tr.has("yourmonth.done."+done) {
		v.Notice = tr.get("yourmonth.done." + done)
	}
	s.render(w, http.StatusOK, tr.locale, "month", v)
}

// monthView builds the page from the last twelve weeks.
func (s *Server) monthView(r *http.Request, tr texts, sub domain.Subscriber) (monthPage, error) {
	ctx := r.Context()
	now := s.d.Now()
	from := now.AddDate(0, 0, -7*monthWeeks)
	sent, err := s.d.Store.SentBetween(ctx, sub.ID, "", from, now.Add(time.Second))
	if err != nil {
		return monthPage{}, err
	}
	answers, err := s.d.Store.Answers(ctx, sub.ID, from, now.Add(time.Second))
	if err != nil {
		return monthPage{}, err
	}
	quote, err := s.d.Store.QuoteNotes(ctx, sub.ID)
	if err != nil {
		return monthPage{}, err
	}
	byOcc := map[string]store.Answer{}
	for _, a := range answers {
		byOcc[a.Occurrence] = a
	}
	loc, err := scheduler.LoadZone(sub.TimeZone)
	if err != nil {
		loc = time.UTC
	}
	base := manageBase(r)
	v := monthPage{
		Title: tr.get("yourmonth.title"), Quote: quote,
		Back: base, Notes: base + "/month/notes", QuoteAction: base + "/month/quote",
		Width: chartWidth, Height: chartHeight, Left: chartLeft, Bottom: chartHeight - chartBottom, Top: chartTop,
	}
	for score := 0; score <= 5; score++ {
		v.Ticks = append(v.Ticks, tick{Y: barY(score), Label: strconv.Itoa(score)})
	}
	seen := map[string]bool{}
	for _, o := range sent {
		a, answered := byOcc[o.Occurrence]
		seen[o.Occurrence] = true
		switch (store.Answer{Occurrence: o.Occurrence}).Program() {
		case domain.WeeklyCheckin:
			row := weekRow{Week: shortDate(tr, o.At.In(loc)), Occurrence: o.Occurrence, Answered: answered, Note: a.Note, Score: tr.get("yourmonth.no_answer")}
			switch {
			case a.Score > 0:
				row.Score = tr.get("yourmonth.score", a.Score)
			case answered:
				row.Score = tr.get("yourmonth.no_score")
			}
			v.Weeks = append(v.Weeks, row)
		case domain.Gratitude:
			if answered && a.Note != "" {
				v.Gratitude = append(v.Gratitude, gratitudeRow{Date: shortDate(tr, o.At.In(loc)), Note: a.Note, Occurrence: o.Occurrence})
			}
		}
	}
	// An answer whose send mark is gone (older data) still shows.
	for _, a := range answers {
		if seen[a.Occurrence] || a.Program() != domain.Gratitude || a.Note == "" {
			continue
		}
		v.Gratitude = append(v.Gratitude, gratitudeRow{Date: shortDate(tr, a.At().In(loc)), Note: a.Note, Occurrence: a.Occurrence})
	}
	if len(v.Weeks) > monthWeeks {
		v.Weeks = v.Weeks[len(v.Weeks)-monthWeeks:]
	}
	// Bars: one slot per week, as tall as its score.
	slot := (chartWidth - chartLeft) / monthWeeks
	answered, sum, scored := 0, 0, 0
	for i := range v.Weeks {
		row := &v.Weeks[i]
		a := byOcc[row.Occurrence]
		row.X = chartLeft + i*slot + slot/6
		row.W = slot * 2 / 3
		row.LabelX = row.X + row.W/2
		row.Y, row.H = barY(a.Score), barY(0)-barY(a.Score)
		if row.Answered {
			answered++
		}
		if a.Score > 0 {
			scored++
			sum += a.Score
		}
	}
	v.ChartTitle = tr.get("yourmonth.chart_title", len(v.Weeks))
	switch {
	case len(v.Weeks) == 0:
		v.ChartDesc = tr.get("yourmonth.chart_empty")
	case scored == 0:
		v.ChartDesc = tr.get("yourmonth.chart_desc_none", answered, len(v.Weeks))
	default:
		v.ChartDesc = tr.get("yourmonth.chart_desc", answered, len(v.Weeks), averageText(tr, float64(sum)/float64(scored)))
	}
	return v, nil
}

// barY is the top of a bar of score (0–5) in the chart.
func barY(score int) int {
	h := chartHeight - chartBottom - chartTop
	return chartHeight - chartBottom - score*h/5
}

// shortDate is "30 Nov" in tr's language.
func shortDate(tr texts, t time.Time) string {
	m := []rune(tr.get(fmt.Sprintf("month.%d", int(t.Month()))))
	if len(m) > 3 {
		m = m[:3]
	}
	return strconv.Itoa(t.Day()) + " " + string(m)
}

// averageText is an average with one decimal in tr's language.
func averageText(tr texts, f float64) string {
	s := strconv.FormatFloat(f, 'f', 1, 64)
	if tr.locale == spanish {
		s = strings.Replace(s, ".", ",", 1)
	}
	return s
}
