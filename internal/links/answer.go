package links

import (
	"errors"
	"strconv"
	"strings"
	"time"

	"github.com/nudgehq/nudge/internal/token"
)

// AnswerTTL is how long an answer link works: a late answer still lands on
// the check-in it answers.
const AnswerTTL = 60 * 24 * time.Hour

// Answer is the link that answers one occurrence ("<program>:<date>") of a
// subscriber's nudges with score 1–5, or, with score 0, opens the answer
// page without a score (a line back). It opens a page; only its Save
// button records anything.
func (b *Builder) Answer(id, occurrence string, score int) string {
	return b.link("/answer/", token.Rate, AnswerSubject(id, occurrence, score), AnswerTTL)
}

// AnswerLinks are the five score links (when scores is true) and the
// line-back link of one occurrence.
func (b *Builder) AnswerLinks(id, occurrence string, scores bool) (score []string, note string) {
	if scores {
		for s := 1; s <= 5; s++ {
			score = append(score, b.Answer(id, occurrence, s))
		}
	}
	return score, b.Answer(id, occurrence, 0)
}

// AnswerSubject is what an answer token names: "<id>|<score>|<occurrence>".
func AnswerSubject(id, occurrence string, score int) string {
	return id + "|" + strconv.Itoa(score) + "|" + occurrence
}

// ErrBadAnswerSubject is returned for a token subject that does not name
// an answer.
var ErrBadAnswerSubject = errors.New("links: not an answer subject")

// ParseAnswerSubject reads what AnswerSubject wrote.
func ParseAnswerSubject(subject string) (id, occurrence string, score int, err error) {
	id, rest, ok1 := strings.Cut(subject, "|")
	sc, occurrence, ok2 := strings.Cut(rest, "|")
	if !ok1 || !ok2 || id == "" || occurrence == "" || len(sc) != 1 || sc[0] < '0' || sc[0] > '5' {
		return "", "", 0, ErrBadAnswerSubject
	}
	return id, occurrence, int(sc[0] - '0'), nil
}
