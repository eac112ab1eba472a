package render

import (
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/nudgehq/nudge/internal/domain"
	"github.com/nudgehq/nudge/internal/review"
	"github.com/nudgehq/nudge/templates"
)

// The monthly review opens with the subscriber's month in numbers
// ([Data.Month]), and the library's reflection follows. The email shows the
// month's check-ins as a bar chart built of table cells (no images), with
// every score also written out, so screen readers and the plain-text part
// say the same. The text gives the numbers in a line, with the
// reflection's own line while both fit in two segments, and never a note.
// A month without answers says so kindly and suggests one small step.

// monthLabels are the words of the numbers in one language.
type monthLabels struct {
	heading, answered, average, up, down, same, run  string
	gratitude, best, bestNote, quote, none           string
	caption, weekHead, scoreHead, outOf, noAnswer    string
	noteOnly                                         string
	smsAnswered, smsAverage, smsUp, smsDown, smsNone string
	months                                           [12]string
	decimal                                          string
}

func monthLabelsFor(locale string) monthLabels {
	lang, _, _ := strings.Cut(strings.ToLower(locale), "-")
	if lang == "es" {
		return monthLabels{
			heading:     "Tu mes en números",
			answered:    "Respondiste %d de %d repasos semanales.",
			average:     "Tu promedio: %s de 5",
			up:          ", más alto que el mes anterior (%s).",
			down:        ", más bajo que el mes anterior (%s).",
			same:        ", parecido al mes anterior.",
			run:         "Tu racha más larga: %d semanas seguidas.",
			gratitude:   "Contestaste %d de %d mensajes de gratitud.",
			best:        "La semana en que más cerca te sentiste: la del %s (%d de 5).",
			bestNote:    " Escribiste: «%s»",
			quote:       "Una línea tuya de este mes: «%s»",
			none:        "Este mes no hubo respuestas, y no pasa nada: los mensajes siguen llegando igual. Si te apetece un paso pequeño, responde al próximo con un solo número.",
			caption:     "Tus repasos de este mes, del 1 al 5",
			weekHead:    "Semana del",
			scoreHead:   "Número",
			outOf:       "%d de 5",
			noAnswer:    "sin respuesta",
			noteOnly:    "una nota, sin número",
			smsAnswered: "Tu mes: %d de %d respondidos",
			smsAverage:  ", promedio %s/5",
			smsUp:       " (sube)",
			smsDown:     " (baja)",
			smsNone:     "Este mes no hubo respuestas, y no pasa nada. Un paso pequeño: contesta al siguiente con una cifra.",
			months:      [12]string{"ene", "feb", "mar", "abr", "may", "jun", "jul", "ago", "sep", "oct", "nov", "dic"},
			decimal:     ",",
		}
	}
	return monthLabels{
		heading:     "Your month in numbers",
		answered:    "You answered %d of %d check-ins.",
		average:     "Your average: %s out of 5",
		up:          ", up from %s the month before.",
		down:        ", down from %s the month before.",
		same:        ", about the same as the month before.",
		run:         "Longest run: %d weeks in a row.",
		gratitude:   "You replied to %d of %d gratitude prompts.",
		best:        "The week that felt most connected: the week of %s (%d of 5).",
		bestNote:    " You wrote: “%s”",
		quote:       "A line of yours from this month: “%s”",
		none:        "No answers this month, and that's fine: the check-ins keep coming either way. If you'd like one small step, answer the next one with just a number.",
		caption:     "Your check-ins this month, scored 1 to 5",
		weekHead:    "Week of",
		scoreHead:   "Score",
		outOf:       "%d of 5",
		noAnswer:    "no answer",
		noteOnly:    "a note, no score",
		smsAnswered: "Your month: %d of %d check-ins answered",
		smsAverage:  ", average %s/5",
		smsUp:       " (up)",
		smsDown:     " (down)",
		smsNone:     "No answers this month, and that's fine. One small step: answer the next check-in with a number.",
		months:      [12]string{"Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"},
		decimal:     ".",
	}
}

// monthView is the numbers block of a monthly review email.
type monthView struct {
	Heading string
	Lines   []string
	Chart   *chartView
}

// chartView is the month's check-ins as a table of bars.
type chartView struct {
	Caption, WeekHead, ScoreHead string
	Rows                         []chartRow
}

// chartRow is one check-in: its week, a bar as wide as its score (16% of
// the cell a point, leaving room for the score written after it; none
// without one) and the score in words.
type chartRow struct {
	Week  string
	Width int // percent of the bar's cell, 0 for no bar
	Value string
}

// monthNumbers is the view of the numbers of s in locale's words.
func monthNumbers(s *review.Summary, locale string, clean func(string) string) *monthView {
	lb := monthLabelsFor(locale)
	v := &monthView{Heading: lb.heading}
	if s.NoAnswers() {
		v.Lines = append(v.Lines, lb.none)
	} else {
		if s.Sent > 0 {
			v.Lines = append(v.Lines, fmt.Sprintf(lb.answered, s.Answered, s.Sent))
		}
		if s.Scored > 0 {
			line := fmt.Sprintf(lb.average, lb.number(s.Average))
			switch s.Direction {
			case review.Up:
				line += fmt.Sprintf(lb.up, lb.number(s.PrevAverage))
			case review.Down:
				line += fmt.Sprintf(lb.down, lb.number(s.PrevAverage))
			case review.Same:
				line += lb.same
			default:
				line += "."
			}
			v.Lines = append(v.Lines, line)
		}
		if s.LongestRun >= 2 {
			v.Lines = append(v.Lines, fmt.Sprintf(lb.run, s.LongestRun))
		}
		if s.GratitudeSent > 0 {
			v.Lines = append(v.Lines, fmt.Sprintf(lb.gratitude, s.GratitudeReplies, s.GratitudeSent))
		}
		if s.Best != nil {
			line := fmt.Sprintf(lb.best, lb.date(s.Best.Date), s.Best.Score)
			if note := clean(s.Best.Note); s.Quoting && note != "" {
				line += fmt.Sprintf(lb.bestNote, note)
			}
			v.Lines = append(v.Lines, line)
		}
		if quote := clean(s.Quote); s.Quoting && quote != "" {
			v.Lines = append(v.Lines, fmt.Sprintf(lb.quote, quote))
		}
	}
	if len(s.Weeks) > 0 && !s.NoAnswers() {
		c := &chartView{Caption: lb.caption, WeekHead: lb.weekHead, ScoreHead: lb.scoreHead}
		for _, w := range s.Weeks {
			row := chartRow{Week: lb.date(w.Date), Value: lb.noAnswer}
			switch {
			case w.Score > 0:
				row.Width, row.Value = w.Score*16, fmt.Sprintf(lb.outOf, w.Score)
			case w.Answered:
				row.Value = lb.noteOnly
			}
			c.Rows = append(c.Rows, row)
		}
		v.Chart = c
	}
	return v
}

// number writes an average with one decimal in the language's way.
func (lb monthLabels) number(f float64) string {
	return strings.Replace(strconv.FormatFloat(f, 'f', 1, 64), ".", lb.decimal, 1)
}

// date writes a local date "2006-01-02" as "30 Nov"; anything else as it is.
func (lb monthLabels) date(d string) string {
	t, err := time.Parse(time.DateOnly, d)
	if err != nil {
		return d
	}
	return strconv.Itoa(t.Day()) + " " + lb.months[t.Month()-1]
}

// monthText is the numbers block in the plain-text part: the lines, then
// the chart drawn with characters, a score written after each bar.
func monthText(v *monthView) []string {
	if v == nil {
		return nil
	}
	lines := append([]string{v.Heading}, v.Lines...)
	if v.Chart != nil {
		lines = append(lines, "", v.Chart.Caption+":")
		for _, r := range v.Chart.Rows {
			bar := strings.Repeat("#", r.Width/10)
			lines = append(lines, fmt.Sprintf("%-7s %-10s %s", r.Week, bar, r.Value))
		}
	}
	return lines
}

// isMonthReview reports whether m with d opens with the month's numbers.
func isMonthReview(m *templates.Message, d Data) bool {
	return m.Program == domain.MonthlyReview && d.Month != nil
}

// monthSMS is a monthly review's text: the sender, the numbers in a line,
// the reflection's own line while it fits, the footer. It never quotes a
// note.
func (r *Renderer) monthSMS(m *templates.Message, d Data, footer SMSFooter) (string, error) {
	locale := messageLocale(m, d)
	lb := monthLabelsFor(locale)
	s := d.Month
	numbers := lb.smsNone
	if !s.NoAnswers() {
		numbers = fmt.Sprintf(lb.smsAnswered, s.Answered, s.Sent)
		if s.Scored > 0 {
			numbers += fmt.Sprintf(lb.smsAverage, lb.number(s.Average))
			switch s.Direction {
			case review.Up:
				numbers += lb.smsUp
			case review.Down:
				numbers += lb.smsDown
			}
		}
		numbers += "."
	}
	tail := ""
	if footer == FooterOptOut {
		tail = " " + labelsFor(locale).optOut
	}
	lead := r.sender(d)
	name := lead + ": "
	v := r.vars(d)
	tries := []templates.Vars{v}
	if v.FirstName != "" || v.Goal != "" {
		v.FirstName, v.Goal = "", ""
		tries = append(tries, v)
	}
	var candidates []string
	for _, v := range tries {
		reflection, err := r.exec(m.SMS, v, locale)
		if err != nil {
			return "", fmt.Errorf("render sms %s: %w", m.File, err)
		}
		reflection = strings.TrimPrefix(r.withLead(reflection, lead), name)
		candidates = append(candidates, name+numbers+" "+reflection+tail)
	}
	candidates = append(candidates, name+numbers+tail)
	for _, c := range candidates {
		c = smartEncode(c)
		if n, gsm := GSM7Segments(c); n <= MaxSMSSegments {
			return c, nil
		} else if !gsm {
			if n, _ := GSM7Segments(stripAccents(c)); n <= MaxSMSSegments {
				return stripAccents(c), nil
			}
		}
	}
	return "", fmt.Errorf("render sms %s: the month's numbers do not fit in %d segments", m.File, MaxSMSSegments)
}
