// Package review works out the numbers of a subscriber's monthly review
// from their own month: the check-ins sent and answered, the average score
// and its direction against the month before, the longest run of answered
// weeks, the gratitude prompts that got a reply, the week that felt most
// connected and, only for a subscriber who asked for it, one of their own
// notes. It is pure: the caller loads what was sent and answered.
//
// Notes are private by default: without the "quote my notes back to me"
// opt-in no note appears in a summary at all, not even the best week's.
package review

import (
	"slices"
	"strings"
	"time"
)

// Programs whose occurrences the review counts, as the occurrence names
// start ("<program>:<date>").
const (
	checkinPrefix   = "weekly-checkin:"
	gratitudePrefix = "gratitude:"
)

// Sent is one occurrence that went out.
type Sent struct {
	Occurrence string // "<program>:<local date>"
	At         time.Time
}

// Answer is one answer to an occurrence.
type Answer struct {
	Occurrence string
	Score      int // 1–5, 0 for none
	Note       string
}

// Input is what a summary is made from: everything sent and answered from
// PrevFrom on. The month is [From, To); the month before it [PrevFrom, From).
type Input struct {
	PrevFrom, From, To time.Time
	Sent               []Sent
	Answers            []Answer
	// Quote is the subscriber's "quote my notes back to me" opt-in.
	Quote bool
}

// Week is one check-in of the month.
type Week struct {
	Date     string // its local date, "2006-01-02"
	Answered bool
	Score    int    // 0 when unanswered or answered with a note only
	Note     string // only when quoting is on
}

// Direction is how the average moved against the month before.
type Direction int

// Directions.
const (
	NoComparison Direction = iota // no scores in one of the two months
	Up
	Same
	Down
)

// sameBand is how far apart two averages may be and still count as about
// the same.
const sameBand = 0.3

// Summary is a month in numbers.
type Summary struct {
	// Weeks are the check-ins sent in the month, oldest first.
	Weeks []Week
	// Sent and Answered count the month's check-ins.
	Sent, Answered int
	// Average is the mean of the month's scores (Scored of them); 0 when
	// there are none. PrevAverage is the month before's (PrevScored).
	Average, PrevAverage float64
	Scored, PrevScored   int
	Direction            Direction
	// LongestRun is the longest run of answered check-ins in a row.
	LongestRun int
	// GratitudeSent and GratitudeReplies count the month's gratitude
	// prompts and those that got a reply.
	GratitudeSent, GratitudeReplies int
	// Best is the check-in that felt most connected (the highest score,
	// the latest of equals); nil when no check-in got a score.
	Best *Week
	// Quoting is the opt-in; Quote is one of their notes (not the best
	// week's), when quoting is on and there is one.
	Quoting bool
	Quote   string
}

// NoAnswers reports whether nothing at all was answered in the month.
func (s Summary) NoAnswers() bool { return s.Answered == 0 && s.GratitudeReplies == 0 }

// Summarise works out the month of in.
func Summarise(in Input) Summary {
	answers := make(map[string]Answer, len(in.Answers))
	for _, a := range in.Answers {
		answers[a.Occurrence] = a
	}
	sent := slices.Clone(in.Sent)
	slices.SortStableFunc(sent, func(a, b Sent) int { return a.At.Compare(b.At) })

	s := Summary{Quoting: in.Quote}
	var sum, prevSum int
	run := 0
	var notes []string // the month's notes, newest last
	for _, o := range sent {
		inMonth := !o.At.Before(in.From) && o.At.Before(in.To)
		inPrev := !o.At.Before(in.PrevFrom) && o.At.Before(in.From)
		a, answered := answers[o.Occurrence]
		switch {
		case strings.HasPrefix(o.Occurrence, checkinPrefix) && inMonth:
			w := Week{Date: strings.TrimPrefix(o.Occurrence, checkinPrefix), Answered: answered, Score: a.Score}
			if in.Quote {
				w.Note = a.Note
			}
			s.Weeks = append(s.Weeks, w)
			s.Sent++
			if answered {
				s.Answered++
				run++
				s.LongestRun = max(s.LongestRun, run)
			} else {
				run = 0
			}
			if a.Score > 0 {
				s.Scored++
				sum += a.Score
				if s.Best == nil || a.Score >= s.Best.Score {
					best := w
					s.Best = &best
				}
			}
			if a.Note != "" {
				notes = append(notes, a.Note)
			}
		case strings.HasPrefix(o.Occurrence, checkinPrefix) && inPrev && a.Score > 0:
			s.PrevScored++
			prevSum += a.Score
		case strings.HasPrefix(o.Occurrence, gratitudePrefix) && inMonth:
			s.GratitudeSent++
			if answered {
				s.GratitudeReplies++
			}
			if a.Note != "" {
				notes = append(notes, a.Note)
			}
		}
	}
	if s.Scored > 0 {
		s.Average = float64(sum) / float64(s.Scored)
	}
	if s.PrevScored > 0 {
		s.PrevAverage = float64(prevSum) / float64(s.PrevScored)
	}
	if s.Scored > 0 && s.PrevScored > 0 {
		switch d := s.Average - s.PrevAverage; {
		case d >= sameBand:
			s.Direction = Up
		case d <= -sameBand:
			s.Direction = Down
		default:
			s.Direction = Same
		}
	}
	if in.Quote {
		// The newest note that is not the best week's own.
		for i := len(notes) - 1; i >= 0; i-- {
			if s.Best == nil || notes[i] != s.Best.Note {
				s.Quote = notes[i]
				break
			}
		}
	}
	return s
}

// DefaultMonth is the month a first review covers, with no review before it.
const DefaultMonth = 31 * 24 * time.Hour

// Window returns the month a review made at now covers, [from, now), and
// the month before it, [prevFrom, from): from is the latest of the earlier
// reviews' send times (reviews) before now, or DefaultMonth before now
// without one; prevFrom is the review before that, or as long again before
// from.
func Window(now time.Time, reviews []time.Time) (prevFrom, from time.Time) {
	var before []time.Time
	for _, t := range reviews {
		if t.Before(now) {
			before = append(before, t)
		}
	}
	slices.SortFunc(before, time.Time.Compare)
	switch n := len(before); {
	case n == 0:
		from = now.Add(-DefaultMonth)
		return from.Add(-DefaultMonth), from
	case n == 1:
		from = before[0]
		return from.Add(-now.Sub(from)), from
	default:
		return before[n-2], before[n-1]
	}
}
