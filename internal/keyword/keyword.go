// Package keyword reads an inbound text message: an opt-out, opt-in, help
// or pause keyword, a 1–5 rating of the latest check-in, or free text. The
// carrier keywords are matched on the trimmed, case-folded body with
// surrounding punctuation ignored, as carriers and Twilio match them; a
// free-text "please stop texting me" is an opt-out too.
package keyword

import (
	"strings"
	"unicode"
)

// Kind is what a message asks for.
type Kind int

// Kinds of inbound message.
const (
	Text   Kind = iota // anything else: a note on the latest check-in
	Stop               // STOP, STOPALL, UNSUBSCRIBE, CANCEL, END, QUIT, REVOKE, OPTOUT, or a plain request to stop
	Start              // START, UNSTOP, YES
	Help               // HELP, INFO
	Pause              // PAUSE
	Rating             // a number from 1 to 5
)

func (k Kind) String() string {
	return [...]string{"text", "stop", "start", "help", "pause", "rating"}[k]
}

// Match is what a message was read as.
type Match struct {
	Kind   Kind
	Rating int // 1–5 when Kind is Rating
}

var keywords = map[string]Kind{
	"stop": Stop, "stopall": Stop, "unsubscribe": Stop, "cancel": Stop, "end": Stop,
	"quit": Stop, "revoke": Stop, "optout": Stop, "opt-out": Stop, "opt out": Stop,
	"start": Start, "unstop": Start, "yes": Start,
	"help": Help, "info": Help,
	"pause": Pause,
}

// stopPhrases are plain-language requests to stop, in English and Spanish.
// A message is an opt-out when, once normalised, it contains one of them.
var stopPhrases = []string{
	"stop texting", "stop sending", "stop messaging", "stop contacting", "stop the texts", "stop the messages",
	"stop these", "dont text me", "do not text me", "dont message me", "do not message me", "no more texts",
	"no more messages", "unsubscribe me", "remove me", "take me off", "leave me alone", "opt me out",
	"no me escriban", "no me escribas", "no me manden", "no me envien", "dejen de escribir", "deja de escribir",
	"dejen de enviar", "deja de enviar", "darme de baja", "dame de baja", "denme de baja", "no quiero mas mensajes",
}

// Read reads a message body.
func Read(body string) Match {
	word := normalise(body)
	if k, ok := keywords[word]; ok {
		return Match{Kind: k}
	}
	if len(word) == 1 && word[0] >= '1' && word[0] <= '5' {
		return Match{Kind: Rating, Rating: int(word[0] - '0')}
	}
	for _, p := range stopPhrases {
		if strings.Contains(" "+word+" ", " "+p+" ") {
			return Match{Kind: Stop}
		}
	}
	return Match{Kind: Text}
}

// normalise folds case, drops apostrophes and common Spanish accents, turns
// other punctuation into spaces and collapses white space.
func normalise(s string) string {
	var b strings.Builder
	space := true
	for _, r := range strings.ToLower(s) {
		switch r {
		case '\'', '’', '`':
			continue
		case 'á':
			r = 'a'
		case 'é':
			r = 'e'
		case 'í':
			r = 'i'
		case 'ó':
			r = 'o'
		case 'ú', 'ü':
			r = 'u'
		}
		if unicode.IsLetter(r) || unicode.IsDigit(r) || r == '-' {
			b.WriteRune(r)
			space = false
			continue
		}
		if !space {
			b.WriteByte(' ')
			space = true
		}
	}
	return strings.TrimSpace(b.String())
}
