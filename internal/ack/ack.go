// Package ack writes the short acknowledgement a subscriber gets after
// answering a check-in or a gratitude prompt, by text or on the answer page.
//
// The words listen to the answer: a low score (1–2) gets a gentle line and
// one tiny thing to try; a middle score (3) a plain, warm thanks; a high
// score (4–5) a short celebration; a note that says there was no one
// ("no one", "nobody", "nadie") gets a kind line about starting small,
// whatever the score; an answer without a score (a gratitude reply) a thank
// you for sharing it. The same words never go out twice in a row: the
// caller passes the index of the last acknowledgement (kept per subscriber
// with store.LastAck and store.SetLastAck) and gets the new one back.
//
// Every line is GSM-7 and at most [MaxLen] characters, so a sender prefix
// of up to 40 characters and ": " still fits one SMS segment. The lines say
// nothing a lock screen should not show.
package ack

import (
	"strings"
	"unicode"

	"golang.org/x/text/unicode/norm"
)

// MaxLen is the longest acknowledgement, in characters: one 160-character
// SMS less a 40-character sender name and ": ".
const MaxLen = 160 - 40 - 2

// Kind is what an answer calls for.
type Kind int

// Kinds of acknowledgement.
const (
	Low       Kind = iota // score 1–2
	Middle                // score 3
	High                  // score 4–5
	NoOne                 // the note says there was no one
	NoteOnly              // no score: a gratitude reply or a line back
	kindCount             // how many kinds there are
)

// linesFor returns the lines of locale's language (English when nudge has
// none in it), by kind. An index names a line across the kinds of one
// locale: kind*perKind + position.
func linesFor(locale string) [kindCount][]string {
	lang, _, _ := strings.Cut(strings.ToLower(locale), "-")
	if lang == "es" {
		return [kindCount][]string{
			Low: {
				"Gracias por contarlo. Una semana dura cuenta igual. Un paso: manda un saludo corto a alguien que aprecias.",
				"Gracias por decirlo. Ve con calma. Si puedes, dale los buenos días a una persona mañana. Con eso basta.",
				"Anotado, gracias. Estas semanas pasan. Una idea: sal cinco minutos a un sitio con gente.",
			},
			Middle: {
				"Gracias por responder. Una semana normal es una semana en la que estuviste presente.",
				"Recibido, gracias. Fijarte en cómo fue la semana es lo que importa.",
				"Gracias. Estable está bien. Hasta la semana que viene.",
			},
			High: {
				"Qué bien leer eso. Bien hecho por abrir espacio a otras personas esta semana.",
				"¡Una buena semana! Gracias por compartirla. Lo que hiciste, funcionó.",
				"Qué alegría. Disfruta esa sensación, te la ganaste.",
			},
			NoOne: {
				"Gracias por decirlo. Hay semanas sin nadie. Empezar poco a poco es empezar: un saludo es suficiente.",
				"Suena a soledad, y gracias por contarlo. Prueba un contacto breve esta semana, aunque sea un mensaje.",
				"Gracias por tu sinceridad. Nadie empieza con un grupo grande. Una charla corta con quien sea ya cuenta.",
			},
			NoteOnly: {
				"Gracias por compartirlo. Lo guardamos para tu repaso del mes.",
				"Gracias por escribir. Es bueno haberte fijado en eso.",
				"Qué bonito, gracias. Darse cuenta ya es la mitad de lo bueno.",
			},
		}
	}
	return [kindCount][]string{
		Low: {
			"Thanks for being honest. A hard week counts too. One tiny step: send a one-line hello to someone you like.",
			"Thank you for telling us. Go gently. If you can, say good morning to one person tomorrow. That is enough.",
			"Noted, and thank you. Weeks like this pass. Small idea: step outside for five minutes near other people.",
		},
		Middle: {
			"Thanks for checking in. A middle week is still a week you showed up for.",
			"Got it, thank you. Noticing how the week felt is the habit that matters.",
			"Thanks. Steady is fine. See you next week.",
		},
		High: {
			"That's lovely to hear. Well done for making room for people this week.",
			"A good week! Thanks for sharing it. Whatever you did, it worked.",
			"Great to hear. Enjoy that feeling, you earned it.",
		},
		NoOne: {
			"Thank you for saying so. Weeks with no one happen. Starting small is still starting: one hello is plenty.",
			"That sounds lonely, and thank you for telling us. Try one small contact this week, even a short text.",
			"Thanks for being honest. Nobody starts with a crowd. One brief chat with anyone counts as a first step.",
		},
		NoteOnly: {
			"Thank you for sharing that. It's kept for your monthly look back.",
			"Thanks for writing back. That's a good thing to have noticed.",
			"Lovely, thank you. Noticing it is half the good of it.",
		},
	}
}

// KindOf says what an answer with this score (0: none) and note calls for.
func KindOf(score int, note string) Kind {
	switch {
	case saysNoOne(note):
		return NoOne
	case score >= 4:
		return High
	case score == 3:
		return Middle
	case score >= 1:
		return Low
	}
	return NoteOnly
}

// Pick returns the acknowledgement for an answer in locale (its language;
// English when nudge has no lines in it) and its index. last is the index
// Pick returned the time before (-1 for none): the new line is never the
// same words. The choice is otherwise the line after last's position in
// its kind, so it is deterministic and cycles through every line.
func Pick(locale string, score int, note string, last int) (text string, index int) {
	set := linesFor(locale)
	k := KindOf(score, note)
	n := len(set[k])
	pos := 0
	if last >= 0 {
		pos = (last%perKind + 1) % n
	}
	index = int(k)*perKind + pos
	if index == last {
		pos = (pos + 1) % n
		index = int(k)*perKind + pos
	}
	return set[k][pos], index
}

// perKind spaces the indexes of kinds apart, so that an index names one
// line; every kind has at most this many lines.
const perKind = 16

// saysNoOne reports whether a note says there was no one, after folding
// case, accents and spacing.
func saysNoOne(note string) bool {
	f := " " + fold(note) + " "
	for _, p := range []string{"no one", "noone", "no-one", "nobody", "no body", "nadie", "ninguna persona"} {
		if i := strings.Index(f, p); i >= 0 {
			before, after := rune(f[i-1]), rune(f[i+len(p)])
			if !unicode.IsLetter(before) && !unicode.IsLetter(after) {
				return true
			}
		}
	}
	return false
}

// fold lower-cases s, takes off accents and folds runs of space.
func fold(s string) string {
	var b strings.Builder
	for _, r := range norm.NFD.String(strings.ToLower(s)) {
		switch {
		case unicode.Is(unicode.Mn, r):
		case unicode.IsSpace(r):
			b.WriteByte(' ')
		default:
			b.WriteRune(r)
		}
	}
	return strings.Join(strings.Fields(b.String()), " ")
}

// SMS is an acknowledgement as one text: the sender's name (the service's,
// or a clinic's display name, cut to 40 characters) first, and the accents
// GSM-7 lacks taken off (á → a; é and ñ stay), so it stays one segment.
func SMS(sender, text string) string {
	sender = strings.TrimSpace(sender)
	if r := []rune(sender); len(r) > 40 {
		sender = strings.TrimSpace(string(r[:40]))
	}
	return gsm7(sender + ": " + text)
}

// gsm7Accented are the accented letters GSM-7 has.
const gsm7Accented = "èéùìòÇØøÅåÆæßÉÄÖÑÜäöñüà¿¡"

// gsm7 takes off the accents GSM-7 lacks.
func gsm7(s string) string {
	var b strings.Builder
	for _, r := range s {
		if r < 0x80 || strings.ContainsRune(gsm7Accented, r) {
			b.WriteRune(r)
			continue
		}
		for _, d := range norm.NFD.String(string(r)) {
			if !unicode.Is(unicode.Mn, d) {
				b.WriteRune(d)
			}
		}
	}
	return b.String()
}
