// Package keyword is the one reader of an inbound text message. Read says
// what a body asks for (an opt-out, an opt-in, a confirmation, help, a
// pause, the manage link, a 1–5 rating of the latest check-in, or free
// text) and, whatever it asks, whether it shows distress
// (internal/distress). Everything is matched after Normalise.
//
// The words, English and Spanish:
//
//	Stop    STOP, STOPALL, UNSUBSCRIBE, CANCEL, END, QUIT, REVOKE, OPTOUT, OPT OUT,
//	        BAJA, ALTO, PARA, PARAR, CANCELAR, and plain requests ("stop texting me",
//	        "no más mensajes", "no me escribas más", "dejen de escribirme")
//	Start   START, UNSTOP, RESUME, RESTART, ALTA, REANUDAR
//	Yes     YES, SI (SÍ) — a bare "Y" is not a confirmation
//	Help    HELP, INFO, AYUDA
//	Pause   PAUSE, PAUSA, PAUSAR
//	Link    LINK, MANAGE, ENLACE
//	Rating  a digit 1–5 first, alone or followed by words: "3", "3!", "2/5",
//	        "4 out of 5", "4 saw my brother", "5 - great week"
//
// A keyword may come with politeness around it ("STOP please", "sí, por
// favor", "help me please"); repeated letters count once ("stoppp", "yesss").
//
// Opt-outs err on the side of stopping, since a missed opt-out is a legal
// and human failure while a false one costs the person a START:
//
//   - a text of at most five words holding STOP, UNSUBSCRIBE, CANCEL, PARAR,
//     CANCELAR or a near miss of them ("stopp", "stpo", "sotp", "cancle",
//     "unsubscibe") is a stop, unless the word is negated ("can't stop",
//     "don't stop"), part of a place ("bus stop", "pit stop"), the phrasal
//     "stop by", or "stop" followed by another verb after a subject ("trying
//     to stop smoking");
//   - END, QUIT, ALTO, PARA and BAJA are ordinary words too ("para mi
//     hermana", "estoy baja de ánimo", "I quit my job"), so they stop only
//     when nothing but politeness is around them ("para ya por favor",
//     "end please", "I quit");
//   - a text of any length beginning with STOP written in capitals, or
//     holding a plain request ("please stop sending these", "ya no quiero
//     mensajes"), is a stop;
//   - a longer sentence that merely holds the word ("I can't stop thinking
//     about my sister") is a note.
//
// Stop wins over every other reading ("3 stop" is a stop), but Distress is
// always computed and reported alongside: a caller answers distress with
// crisis resources whatever Kind is.
package keyword

import (
	"strings"
	"unicode"
	"unicode/utf8"

	"github.com/nudgehq/nudge/internal/distress"
	"golang.org/x/text/unicode/norm"
)

// Kind is what a message asks for.
type Kind int

// Kinds of inbound message. Text is the zero value.
const (
	Text   Kind = iota // anything else: a note on the latest check-in
	Stop               // an opt-out
	Start              // an opt-in after an opt-out
	Yes                // a confirmation of a pending request (YES, SÍ)
	Help               // HELP, INFO, AYUDA
	Pause              // PAUSE, PAUSA
	Rating             // a number from 1 to 5, maybe with a note
	Link               // LINK, MANAGE, ENLACE: send the manage link
)

func (k Kind) String() string {
	switch k {
	case Stop:
		return "stop"
	case Start:
		return "start"
	case Yes:
		return "yes"
	case Help:
		return "help"
	case Pause:
		return "pause"
	case Rating:
		return "rating"
	case Link:
		return "link"
	}
	return "text"
}

// Match is what a message was read as.
type Match struct {
	Kind Kind
	// Rating is 1–5 when Kind is Rating, else 0.
	Rating int
	// Note is, for a Rating, the words after the number ("3 saw my brother"
	// gives "saw my brother"); for Text, the whole body. Both are the
	// original words, trimmed, with bidirectional controls and zero-width
	// spaces removed (they must not be stored); other kinds have no note.
	Note string
	// Carrier is true when the body is a bare carrier opt-out word (STOP,
	// STOPALL, UNSUBSCRIBE, CANCEL, END, QUIT, REVOKE, OPTOUT, any case,
	// with only spaces and punctuation around) that Twilio and the carriers
	// answer themselves. It errs towards false ("ＳＴＯＰ" is a Stop but not
	// Carrier), so a person is never left without an answer.
	Carrier bool
	// Distress is true when the body shows distress, whatever Kind is.
	Distress bool
	// Rule names the distress rule that matched ("" if none); a stable id
	// for the audit record, never the words.
	Rule string
}

// Read reads a message body. It never fails: any string, valid UTF-8 or
// not, is read as something.
func Read(body string) Match {
	n := Normalise(body)
	var m Match
	if r, ok := distress.Detect(n); ok {
		m.Distress, m.Rule = true, r.Rule
	}
	m.Carrier = isCarrier(body)
	toks := strings.Fields(squeeze(n))
	switch {
	case isStop(toks, body):
		m.Kind = Stop
	default:
		if rating, note, ok := readRating(body); ok {
			m.Kind, m.Rating, m.Note = Rating, rating, note
			return m
		}
		m.Kind = readWord(toks)
		if m.Kind == Text {
			m.Note = cleanNote(body)
		}
	}
	return m
}

var carrierWords = map[string]bool{
	"stop": true, "stopall": true, "unsubscribe": true, "cancel": true,
	"end": true, "quit": true, "revoke": true, "optout": true,
}

// isCarrier matches the way carriers and Twilio do: the trimmed body,
// ASCII case folded, as one word; only ASCII punctuation may surround it.
func isCarrier(body string) bool {
	w := strings.TrimFunc(body, func(r rune) bool {
		return r < utf8.RuneSelf && (unicode.IsSpace(r) || unicode.IsPunct(r)) || r == '¡' || r == '¿'
	})
	return carrierWords[strings.ToLower(w)]
}

// The tables below are written plainly and squeezed when used, as the
// tokens are.

// strongStop words mean stop in any short text.
var strongStop = set("stop", "stopall", "unsubscribe", "unsub", "cancel", "revoke", "optout",
	"parar", "cancelar", "desuscribir", "desuscribirme", "detener")

// weakStop words are ordinary words too; they stop only with nothing but
// politeness around them.
var weakStop = set("end", "quit", "alto", "para", "baja", "basta", "pare", "paren")

// stopPhrases stop a text of any length; one ending in " $" only at the
// end of the text ("remove me", but not "they remove me from plans").
var stopPhrases = squeezeAll(
	"opt out", "optout", "opt me out", "unsubscribe", "stop texting", "stop sending", "stop messaging",
	"stop contacting", "stop emailing", "stop the texts", "stop the messages", "stop these texts",
	"stop these messages", "stop your texts", "stop your messages", "quit texting", "quit sending",
	"quit messaging", "dont text me", "do not text me", "dont message me", "do not message me",
	"dont send me texts", "dont send me messages", "dont send me these", "dont send me any more",
	"dont send me anymore", "dont send me $", "do not send me $", "do not send me texts",
	"do not send me messages", "dont contact me", "do not contact me", "no more texts",
	"no more messages", "no more nudges", "dont want these texts", "dont want these messages",
	"dont want any more texts", "dont want any more messages", "dont want texts", "dont want messages",
	"dont want your texts", "dont want your messages", "no longer want these", "no longer want your",
	"no longer want texts", "no longer want messages", "remove me $", "remove me from your",
	"remove me from this", "remove me from the list", "remove my number",
	"take me off", "take my number off", "delete my number", "cancel my subscription",
	"cancel these", "cancel the texts", "wrong number",
	"no me escriban", "no me escribas", "no me escribais", "no me manden mas", "no me mandes mas",
	"no me manden mensajes", "no me mandes mensajes", "no me manden $", "no me mandes $",
	"no me envien mas", "no me envies mas", "no me envien mensajes", "no me envies mensajes",
	"no me envien $", "no me envies $", "no me contacten", "no me contactes", "no me molesten",
	"dejen de escribir", "deja de escribir", "dejen de escribirme", "deja de escribirme",
	"dejen de enviar", "deja de enviar", "dejen de enviarme", "deja de enviarme",
	"dejen de mandar", "deja de mandar", "dejen de mandarme", "deja de mandarme",
	"dar de baja", "darme de baja", "dame de baja", "denme de baja", "dad de baja",
	"no mas mensajes", "no quiero mas mensajes", "ya no quiero mensajes", "no quiero mensajes",
	"no quiero recibir", "ya no quiero recibir", "basta de mensajes", "quitame de", "quitenme de",
	"borrame de", "borrenme de", "numero equivocado", "cancelar suscripcion", "cancelar mi suscripcion",
)

// politeness may surround a keyword without changing it.
var politeness = set("please", "pls", "plz", "plis", "plox", "now", "right", "ya", "already", "thanks",
	"thank", "you", "thx", "ty", "ok", "okay", "gracias", "por", "favor", "porfa", "porfavor", "xfa",
	"ahora", "mismo", "hey", "hi", "hello", "hola", "oye", "nudge", "messages", "message", "texts",
	"text", "msgs", "sms", "mensajes", "mensaje", "textos", "the", "these", "los", "las", "them",
	"i", "yo", "again", "nuevo", "de", "otra", "vez", "just", "asap", "seriously", "really")

// notStopBefore words make a following "stop" something else.
var notStopBefore = set("cant", "cannot", "couldnt", "dont", "didnt", "doesnt", "wont", "never", "not",
	"bus", "pit", "non", "full", "truck", "last", "next", "first", "one", "rest", "shouldnt", "wouldnt")

// messagingVerbs after "stop" keep it an opt-out even after a subject.
var messagingVerbs = set("texting", "messaging", "sending", "contacting", "emailing", "spamming", "bugging",
	"writing", "nudging")

const shortText = 5 // at most this many words is a short text

func isStop(toks []string, body string) bool {
	if len(toks) == 0 {
		return false
	}
	padded := " " + strings.Join(toks, " ") + " "
	for _, p := range stopPhrases {
		if end, ok := strings.CutSuffix(p, " $"); ok {
			if strings.HasSuffix(padded, " "+end+" ") {
				return true
			}
			continue
		}
		if strings.Contains(padded, " "+p+" ") {
			return true
		}
	}
	if len(toks) > 1 && shoutedStop(body) {
		return true
	}
	if len(toks) > shortText {
		return false
	}
	for i, t := range toks {
		switch {
		case strongStop[t] || nearStop(t):
			if i > 0 && notStopBefore[toks[i-1]] {
				continue
			}
			if i+1 < len(toks) && (toks[i+1] == "by" || toks[i+1] == "over") {
				continue
			}
			if i > 0 && i+1 < len(toks) && strings.HasSuffix(toks[i+1], "ing") && !messagingVerbs[toks[i+1]] {
				continue // "trying to stop smoking"
			}
			return true
		case weakStop[t]:
			if onlyPoliteness(toks, i) {
				return true
			}
		}
	}
	return false
}

// shoutedStop reports whether the body starts with the word STOP in
// capitals (after any punctuation or format characters): people who shout
// it mean it, however long the rest.
func shoutedStop(body string) bool {
	s := strings.TrimLeftFunc(norm.NFKC.String(body), func(r rune) bool {
		return !unicode.IsLetter(r)
	})
	s = strings.Map(func(r rune) rune {
		if unicode.Is(unicode.Cf, r) {
			return -1
		}
		return r
	}, s)
	if !strings.HasPrefix(s, "STOP") {
		return false
	}
	rest := strings.TrimLeft(s[len("STOP"):], "P")
	r, _ := utf8.DecodeRuneInString(rest)
	return rest == "" || !unicode.IsLetter(r)
}

func onlyPoliteness(toks []string, except int) bool {
	for i, t := range toks {
		if i != except && !politeness[t] {
			return false
		}
	}
	return true
}

// nearStop is a word one typing slip from STOP, CANCEL, CANCELAR, PARAR
// or UNSUBSCRIBE (two for that long word): a letter added, dropped,
// changed or two neighbours swapped. Real words that are one slip away
// ("top", "step", "shop", "spot") are not.
func nearStop(t string) bool {
	if nearMissWords[t] {
		return false
	}
	switch {
	case len(t) >= 3 && len(t) <= 5 && editDistance(t, "stop") <= 1:
		return true
	case len(t) >= 5 && len(t) <= 7 && editDistance(t, squeeze("cancel")) <= 1:
		return true
	case len(t) >= 7 && len(t) <= 9 && editDistance(t, squeeze("cancelar")) <= 1:
		return true
	case len(t) >= 9 && editDistance(t, "unsubscribe") <= 2:
		return true
	}
	return false
}

var nearMissWords = set("top", "sop", "step", "shop", "slop", "atop", "stow", "stoo", "sto", "sup", "soup",
	"stab", "star", "stay", "spot", "post", "pots", "tops", "stops", "snop", "ston", "stom",
	"cancer", "candel", "camel", "canceler", "cancela", "cancelo")

// editDistance is the optimal string alignment distance (Damerau–
// Levenshtein without repeated edits of one substring) between two words.
func editDistance(a, b string) int {
	ra, rb := []rune(a), []rune(b)
	d := make([][]int, len(ra)+1)
	for i := range d {
		d[i] = make([]int, len(rb)+1)
		d[i][0] = i
	}
	for j := range rb {
		d[0][j+1] = j + 1
	}
	for i := 1; i <= len(ra); i++ {
		for j := 1; j <= len(rb); j++ {
			cost := 1
			if ra[i-1] == rb[j-1] {
				cost = 0
			}
			d[i][j] = min(d[i-1][j]+1, d[i][j-1]+1, d[i-1][j-1]+cost)
			if i > 1 && j > 1 && ra[i-1] == rb[j-2] && ra[i-2] == rb[j-1] {
				d[i][j] = min(d[i][j], d[i-2][j-2]+1)
			}
		}
	}
	return d[len(ra)][len(rb)]
}

// words lists each single-intent keyword (also as a phrase) with its kind.
var words = squeezeKeys(map[string]Kind{
	"start": Start, "unstop": Start, "resume": Start, "restart": Start, "alta": Start, "reanudar": Start,
	"dar de alta": Start, "darme de alta": Start, "start texts": Start,
	"yes": Yes, "si": Yes, "yes yes": Yes, "si si": Yes, "yes i do": Yes, "si quiero": Yes,
	"help": Help, "help me": Help, "ayudame": Help, "info": Help, "ayuda": Help, "information": Help, "informacion": Help,
	"pause": Pause, "pausa": Pause, "pausar": Pause,
	"link": Link, "manage": Link, "enlace": Link, "manage link": Link, "my link": Link,
	"send link": Link, "send me the link": Link, "send the link": Link, "mi enlace": Link,
	"el enlace": Link, "enviame el enlace": Link, "mandame el enlace": Link,
})

// readWord reads a single-intent keyword, alone or with politeness
// around it.
func readWord(toks []string) Kind {
	if k, ok := words[strings.Join(toks, " ")]; ok {
		return k
	}
	var core []string
	for _, t := range toks {
		if !politeness[t] {
			core = append(core, t)
		}
	}
	if k, ok := words[strings.Join(core, " ")]; ok && len(core) > 0 {
		return k
	}
	return Text
}

// readRating reads a 1–5 rating at the start of the body and the note
// after it. "3.5" and "3,5" (decimals), "3/10", "10" and "1st" are not
// ratings; "2/5", "4 out of 5" and "4 de 5" are.
func readRating(body string) (int, string, bool) {
	s := cleanNote(body)
	r, w := utf8.DecodeRuneInString(s)
	if r == utf8.RuneError {
		return 0, "", false
	}
	d := norm.NFKC.String(string(r))
	if len(d) != 1 || d[0] < '1' || d[0] > '5' {
		return 0, "", false
	}
	rest := s[w:]
	next, _ := utf8.DecodeRuneInString(rest)
	if next != utf8.RuneError && (unicode.IsLetter(next) || unicode.IsDigit(next)) {
		return 0, "", false
	}
	if (next == '.' || next == ',') && len(rest) > 1 && rest[1] >= '0' && rest[1] <= '9' {
		return 0, "", false
	}
	trimmed := strings.TrimLeft(rest, " ")
	for _, of := range []string{"/", "out of ", "de ", "of "} {
		if len(trimmed) < len(of) || !strings.EqualFold(trimmed[:len(of)], of) {
			continue
		}
		after := strings.TrimLeft(trimmed[len(of):], " ")
		if strings.HasPrefix(after, "5") && (len(after) == 1 || after[1] < '0' || after[1] > '9') {
			rest = after[1:]
			break
		}
		if of == "/" {
			return 0, "", false // "3/10" is not a rating
		}
	}
	note := strings.TrimLeftFunc(rest, func(r rune) bool { return unicode.IsSpace(r) || unicode.IsPunct(r) })
	return int(d[0] - '0'), strings.TrimSpace(note), true
}

func set(ws ...string) map[string]bool {
	m := make(map[string]bool, len(ws))
	for _, w := range ws {
		m[squeeze(w)] = true
	}
	return m
}

func squeezeKeys(m map[string]Kind) map[string]Kind {
	out := make(map[string]Kind, len(m))
	for w, k := range m {
		out[squeeze(w)] = k
	}
	return out
}

func squeezeAll(ps ...string) []string {
	out := make([]string, len(ps))
	for i, p := range ps {
		out[i] = squeeze(p)
	}
	return out
}
