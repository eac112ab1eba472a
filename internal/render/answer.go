package render

import (
	"fmt"
	"net/url"
	"strconv"
	"strings"

	"github.com/nudgehq/nudge/internal/domain"
	"github.com/nudgehq/nudge/templates"
)

// Answer invitations ([Data.InviteAnswer]). Every weekly check-in asks how connected the week
// felt: the text ends with "Reply 1-5: …" (before the opt-out footer), the
// email carries five one-tap links whose visible text starts with the
// digits 1 to 5, and a link to write a line back. A gratitude prompt
// invites a one-line reply: by text, or through the same page without a
// score. A text that cannot fit two segments with its invitation goes out
// without it rather than not at all.

// AnswerLinks are the answer page links an email invites with. Every URL is
// absolute; all are optional (a message without them invites by text only).
type AnswerLinks struct {
	// Scores are the one-tap links for the scores 1 to 5, in order: five or
	// none.
	Scores []string
	// Note opens the same page without a score: "or write a line back".
	Note string
}

// Invitation is what a program's messages ask for.
type Invitation int

// Invitations.
const (
	InviteNothing Invitation = iota
	InviteScore              // a score 1–5 and an optional note: the weekly check-in
	InviteLine               // a one-line reply: gratitude
)

// InvitationOf is what a message of program p asks for.
func InvitationOf(p domain.Program) Invitation {
	switch p {
	case domain.WeeklyCheckin:
		return InviteScore
	case domain.Gratitude:
		return InviteLine
	}
	return InviteNothing
}

// answerLabels are the words of an invitation in one language.
type answerLabels struct {
	smsScore, smsLine  string
	question, lineAsk  string
	scale              [5]string
	writeLine, scoreSR string
}

func answerLabelsFor(locale string) answerLabels {
	lang, _, _ := strings.Cut(strings.ToLower(locale), "-")
	if lang == "es" {
		return answerLabels{
			// Words GSM-7 has (é, ñ, ¿), so the invitation alone never
			// makes a text UCS-2.
			smsScore: "Responde 1-5: ¿qué tan cerca de otras personas te sentiste esta semana?",
			smsLine:  "Si quieres, contesta con unas palabras.",
			question: "¿Qué tan cerca de otras personas te sentiste esta semana?",
			lineAsk:  "¿Quieres contarlo? Una línea basta.",
			scale:    [5]string{"nada", "poco", "algo", "bastante", "mucho"},
			// Shown after the links: a link without a score.
			writeLine: "o escribe una línea",
			scoreSR:   "Toca un número: 1 es nada, 5 es mucho.",
		}
	}
	return answerLabels{
		smsScore:  "Reply 1-5: how connected did you feel this week?",
		smsLine:   "Reply with a line if you like.",
		question:  "How connected did you feel this week?",
		lineAsk:   "Want to share it? One line is plenty.",
		scale:     [5]string{"not at all", "a little", "somewhat", "quite", "very"},
		writeLine: "or write a line back",
		scoreSR:   "Tap a number: 1 is not at all, 5 is very.",
	}
}

// smsInvitation is the invitation a text of m ends with, before the footer.
func smsInvitation(m *templates.Message, d Data, locale string) string {
	if !d.InviteAnswer {
		return ""
	}
	lb := answerLabelsFor(locale)
	switch InvitationOf(m.Program) {
	case InviteScore:
		return " " + lb.smsScore
	case InviteLine:
		return " " + lb.smsLine
	}
	return ""
}

// answerLink is one link of an email's invitation.
type answerLink struct {
	URL, Label string
}

// invitation is an email's invitation, as writeLayout shows it.
type invitation struct {
	Question string
	Hint     string // under the question, for every reader
	Scores   []answerLink
	Note     answerLink
}

// emailInvitation is the invitation of an email of m with links a; nil when
// there is nothing to invite or no link to do it with.
func emailInvitation(m *templates.Message, d Data, locale string, a AnswerLinks) (*invitation, error) {
	if !d.InviteAnswer {
		return nil, nil
	}
	lb := answerLabelsFor(locale)
	inv := &invitation{}
	switch InvitationOf(m.Program) {
	case InviteScore:
		if len(a.Scores) == 0 && a.Note == "" {
			return nil, nil
		}
		if len(a.Scores) != 5 {
			return nil, fmt.Errorf("%d score links, want 5", len(a.Scores))
		}
		inv.Question, inv.Hint = lb.question, lb.scoreSR
		for i, u := range a.Scores {
			if err := checkURL("score", u); err != nil {
				return nil, err
			}
			inv.Scores = append(inv.Scores, answerLink{URL: u, Label: strconv.Itoa(i+1) + " – " + lb.scale[i]})
		}
		if a.Note != "" {
			inv.Note = answerLink{URL: a.Note, Label: lb.writeLine}
		}
	case InviteLine:
		if a.Note == "" {
			return nil, nil
		}
		inv.Question = lb.lineAsk
		inv.Note = answerLink{URL: a.Note, Label: capitalise(strings.TrimPrefix(strings.TrimPrefix(lb.writeLine, "or "), "o "))}
	default:
		return nil, nil
	}
	if inv.Note.URL != "" {
		if err := checkURL("note", inv.Note.URL); err != nil {
			return nil, err
		}
	}
	return inv, nil
}

// invitationText is the invitation in the plain-text part.
func invitationText(inv *invitation) []string {
	if inv == nil {
		return nil
	}
	lines := []string{inv.Question}
	for _, s := range inv.Scores {
		lines = append(lines, s.Label+": "+s.URL)
	}
	if inv.Note.URL != "" {
		lines = append(lines, capitalise(inv.Note.Label)+": "+inv.Note.URL)
	}
	return lines
}

// checkURL reports a link that is not an absolute http(s) URL.
func checkURL(name, u string) error {
	p, err := url.Parse(u)
	if err != nil || (p.Scheme != "https" && p.Scheme != "http") || p.Host == "" {
		return fmt.Errorf("%s link %q is not an absolute http(s) URL", name, u)
	}
	return nil
}
