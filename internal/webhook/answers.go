package webhook

import (
	"context"
	"strings"

	"github.com/nudgehq/nudge/internal/domain"
	"github.com/nudgehq/nudge/internal/keyword"
	"github.com/nudgehq/nudge/internal/safety"
)

// serviceName opens every automatic answer to someone on the public list.
const serviceName = "nudge"

// answerSet is how nudge answers one number: in the language of the record
// the text reaches (or of the text itself, for a number no confirmed record
// holds), opened with the clinic's display name for a clinic's client.
type answerSet struct {
	locale    string
	words     replyWords
	sender    string // the service name, or the clinic's display name
	helpLine  string // the clinic's own contact line, or ""
	resources string // where to turn in a crisis, for this person
	lines     safety.Help
}

// answers returns the answer set for a text from number that reaches
// target (known) or nobody (then body decides the language).
func (t *Twilio) answers(ctx context.Context, from string, target domain.Subscriber, known bool, body string) (answerSet, error) {
	locale := "en"
	switch {
	case known && target.Locale == "es":
		locale = "es"
	case !known && spanish(body):
		locale = "es"
	}
	a := answerSet{locale: locale, words: replies[locale], sender: serviceName}
	zone, clinicCrisis := "", ""
	if known {
		zone = target.TimeZone
	}
	if known && target.Clinic != "" {
		c, err := t.store.Clinic(ctx, target.Clinic)
		if err != nil {
			return answerSet{}, err
		}
		a.sender, a.helpLine, clinicCrisis = c.DisplayName, c.HelpText, c.CrisisText
	}
	a.lines = t.responder().HelpFor(from, zone, locale, clinicCrisis)
	a.resources = a.lines.SMS
	return a, nil
}

// text fills in who the answer is from.
func (a answerSet) text(s string) string { return strings.ReplaceAll(s, "{sender}", a.sender) }

// help is the answer to HELP: what this is, how to stop or pause, the
// clinic's contact line if it set one, and where to turn in a crisis.
func (a answerSet) help() string {
	h := a.text(a.words.help)
	if a.helpLine != "" {
		h += " " + a.helpLine
	}
	return h + " " + a.words.notMonitored + " " + a.resources
}

// crisis is the answer to distress: a caring line, the resources, and what
// happened to the nudges.
func (a answerSet) crisis(paused bool) string {
	c := a.text(a.words.crisis) + " " + a.resources
	if paused {
		c += " " + a.words.crisisPaused
	}
	return c
}

// spanishWords are the keywords that say a text from an unknown number is
// in Spanish.
var spanishWords = map[string]bool{
	"baja": true, "alto": true, "parar": true, "para": true, "cancelar": true, "ayuda": true,
	"pausa": true, "si": true, "enlace": true, "no mas mensajes": true,
}

func spanish(body string) bool {
	n := keyword.Normalise(body)
	if spanishWords[n] {
		return true
	}
	for _, w := range []string{"no me ", "mensajes", "por favor", "ayuda", "quiero"} {
		if strings.Contains(" "+n+" ", " "+strings.TrimSpace(w)+" ") {
			return true
		}
	}
	return false
}

// replyWords are the texts nudge sends back, GSM-7 only, the sender first.
// They never name a topic that a lock screen could give away.
type replyWords struct {
	stopped, started, help, notMonitored, paused, unknown, link, linkLater, crisis, crisisPaused string
}

var replies = map[string]replyWords{
	"en": {
		stopped:      "{sender}: you will get no more texts from us. Reply START to turn them back on.",
		started:      "{sender}: texts are on. Reply STOP to stop, HELP for help, LINK for your settings page.",
		link:         "{sender}: your page, for the next 30 minutes (it opens once): {link}",
		linkLater:    "{sender}: we sent this number several links already. Text LINK again tomorrow.",
		help:         "{sender}: short weekly prompts for keeping in touch. Reply STOP to stop, PAUSE for a 2-week break.",
		notMonitored: "No one reads this number. In a crisis:",
		paused:       "{sender}: paused until {date}. Reply START to resume sooner.",
		unknown:      "nudge: we do not have this number. Reply HELP for help.",
		crisis:       "{sender}: thank you for telling us. No one reads this number, so if you are in danger or might hurt yourself, please reach out now.",
		crisisPaused: "We paused your messages; reply START when you want them back.",
	},
	"es": {
		stopped:      "{sender}: no te enviaremos mas mensajes. Responde START para volver a recibirlos.",
		started:      "{sender}: mensajes activados. Responde BAJA para dejarlos, AYUDA para ayuda, ENLACE para tu pagina.",
		link:         "{sender}: tu pagina, durante los proximos 30 minutos (se abre una vez): {link}",
		linkLater:    "{sender}: ya enviamos varios enlaces a este numero. Escribe ENLACE otra vez mañana.",
		help:         "{sender}: mensajes breves cada semana para no perder el contacto. Responde BAJA para dejarlos, PAUSA para 2 semanas de pausa.",
		notMonitored: "Nadie lee este numero. En una crisis:",
		paused:       "{sender}: en pausa hasta el {date}. Responde START para volver antes.",
		unknown:      "nudge: no tenemos este numero. Responde AYUDA para ayuda.",
		crisis:       "{sender}: gracias por contarnoslo. Nadie lee este numero; si estas en peligro o podrias hacerte daño, busca ayuda ahora.",
		crisisPaused: "Pausamos tus mensajes; responde START cuando quieras volver a recibirlos.",
	},
}
