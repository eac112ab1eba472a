package render

import (
	"strings"
	"unicode"
	"unicode/utf8"
)

// labels are the words the renderer adds around the copy, in one language.
type labels struct {
	manage, unsubscribe string // footer link texts
	buttonHint          string // above the raw URL under a button
	optOut              string // the SMS opt-out footer
	// greetings are the words after which a missing name becomes there
	// (lower case); none means the name is always dropped.
	greetings   []string
	there       string
	welcomeBack string // opens the first email after a pause
	smsWelcome  string // opens the first text after a pause, when it fits
	// greeting opens an email of a clinic's own words, nameMark standing
	// for the first name; noteFrom is its subject, nameMark standing for
	// the sender. Both are neutral: nothing says what the clinic does.
	greeting, noteFrom string
	// notMonitored opens the footer's crisis line.
	notMonitored string
}

// labelsFor returns the labels of locale's language, English by default.
func labelsFor(locale string) labels {
	lang, _, _ := strings.Cut(strings.ToLower(locale), "-")
	switch lang {
	case "es":
		return labels{
			manage:       "Gestionar tus mensajes",
			notMonitored: "Nadie supervisa nudge en tiempo real.",
			unsubscribe:  "Cancelar la suscripción",
			buttonHint:   "Si el botón no funciona, copia este enlace en tu navegador:",
			// Twilio and the carriers act on the English keywords whatever
			// the language of the message.
			optOut:      "Responde STOP para darte de baja, HELP para ayuda.",
			welcomeBack: "Qué bueno tenerte de vuelta. Seguimos donde lo dejamos.",
			smsWelcome:  "De vuelta! ",
			greeting:    "Hola, " + nameMark + ":",
			noteFrom:    "Un mensaje de " + nameMark,
		}
	default:
		return labels{
			manage:       "Manage your messages",
			notMonitored: "nudge is not monitored.",
			unsubscribe:  "Unsubscribe",
			buttonHint:   "If the button doesn't work, copy this link into your browser:",
			optOut:       "Reply STOP to opt out, HELP for help.",
			welcomeBack:  "Welcome back. We'll pick up where we left off.",
			smsWelcome:   "Welcome back! ",
			greetings:    []string{"hi", "hello", "hey"},
			there:        "there",
			greeting:     "Hi " + nameMark + ",",
			noteFrom:     "A note from " + nameMark,
		}
	}
}

// dropName mends text rendered with nameMark for a missing first name:
// "Hi ⟨name⟩," becomes "Hi there," in English; "⟨name⟩, who…?" at the start
// of a sentence becomes "Who…?"; anywhere else the name goes with the comma
// or space before it ("Hola, ⟨name⟩:" → "Hola:").
func dropName(s, locale string) string {
	lb := labelsFor(locale)
	for {
		i := strings.Index(s, nameMark)
		if i < 0 {
			break
		}
		before, after := s[:i], s[i+len(nameMark):]
		trimmed := strings.TrimRight(before, " ")
		switch {
		case trimmed == "" || strings.ContainsAny(trimmed[len(trimmed)-1:], ".!?:;"):
			// Opens a sentence: drop it with a following comma and
			// capitalise what comes next.
			after = strings.TrimLeft(strings.TrimPrefix(after, ","), " ")
			s = before + capitalise(after)
		case lb.there != "" && endsWithGreeting(strings.TrimSuffix(trimmed, ","), lb.greetings):
			s = strings.TrimSuffix(trimmed, ",") + " " + lb.there + after
		default:
			s = strings.TrimSuffix(trimmed, ",") + after
		}
	}
	return strings.Join(strings.Fields(s), " ")
}

// endsWithGreeting reports whether s ends with one of the greeting words.
func endsWithGreeting(s string, greetings []string) bool {
	lower := strings.ToLower(s)
	for _, g := range greetings {
		if !strings.HasSuffix(lower, g) {
			continue
		}
		rest := lower[:len(lower)-len(g)]
		if r, _ := utf8.DecodeLastRuneInString(rest); rest == "" || !unicode.IsLetter(r) {
			return true
		}
	}
	return false
}

// capitalise upper-cases the first letter of s, after any opening
// punctuation ("¿quién" → "¿Quién").
func capitalise(s string) string {
	for i, r := range s {
		if unicode.IsLetter(r) {
			return s[:i] + string(unicode.ToUpper(r)) + s[i+utf8.RuneLen(r):]
		}
		if !unicode.IsPunct(r) {
			return s
		}
	}
	return s
}
