// Package distress recognises, in an inbound reply, that a person may not be
// safe: suicidal thoughts, self-harm, wanting to die or to disappear, not
// being safe, and hopelessness, in English and Spanish. It does not
// diagnose; it decides whether a reply gets crisis resources at once.
//
// Detect takes text already passed through keyword.Normalise (lower case,
// no accents, punctuation and emoji turned into spaces, apostrophes
// dropped: "don't" is "dont"). The normalisation lives in package keyword,
// which calls Detect for every inbound text (keyword.Read reports the
// result as Match.Distress and Match.Rule); this package imports nothing of
// keyword, so there is no import cycle. Callers outside keyword use
// keyword.Read, or Detect(keyword.Normalise(s)) for an email reply.
//
// How a text is read:
//
//  1. Repeated letters count once, in the text and in the rules alike
//     ("dieeee" is "die", "moriiir" is "morir"), and a few misspellings are
//     put right word by word ("suicde", "sucidal", "suisidarme", "kiero").
//  2. Idioms are set aside: "dying to see her", "me muero de risa", "killing
//     me softly", "to die for", "suicide squad", "this traffic is killing me"
//     (which no rule matches anyway), "no puedo más de la risa".
//  3. The rules are phrase patterns, each with a stable id ("en.want-to-die",
//     "es.no-aguanto"), listed in rules.go. Some of them give way to a
//     negation just before the phrase ("I'm not suicidal", "no me quiero
//     morir"); phrases that carry their own negation ("I don't want to live",
//     "ya no quiero vivir") do not.
//  4. A short text (four words or fewer) that holds a word of danger ("help
//     me", "I'm dying", "me muero", "auxilio") errs towards help, unless it
//     also laughs ("lol", "jaja"); its rule is "en.short-ambiguous" or
//     "es.short-ambiguous".
//
// Nothing here logs, and Result holds only rule ids, never the words.
package distress

import (
	"regexp"
	"strings"
	"unicode"
)

// Result names what recognised distress: the rule's stable id (for the
// audit record) and the language of the rule ("en" or "es").
type Result struct {
	Rule string
	Lang string
}

// Detect reports whether a normalised text shows distress, and which rule
// saw it. The first matching rule in rules.go order wins.
func Detect(normalised string) (Result, bool) {
	s := canonical(squeeze(normalised))
	if s == "" {
		return Result{}, false
	}
	for _, id := range idioms {
		s = id.ReplaceAllString(s, " . ")
	}
	s = strings.Trim(strings.Join(strings.Fields(s), " "), " .")
	for _, r := range rules {
		for _, loc := range r.re.FindAllStringIndex(s, -1) {
			if r.negatable && negated(s[:loc[0]]) {
				continue
			}
			return Result{Rule: r.id, Lang: r.id[:2]}, true
		}
	}
	return shortAmbiguous(s)
}

// shortWords is the most words a text may have to be read as short.
const shortWords = 4

func shortAmbiguous(s string) (Result, bool) {
	words := strings.Fields(strings.ReplaceAll(s, ".", " "))
	if len(words) == 0 || len(words) > shortWords || laughter.MatchString(s) {
		return Result{}, false
	}
	for _, d := range shortDanger {
		for _, loc := range d.re.FindAllStringIndex(s, -1) {
			if !negated(s[:loc[0]]) {
				return Result{Rule: d.lang + ".short-ambiguous", Lang: d.lang}, true
			}
		}
	}
	return Result{}, false
}

// negators before a phrase turn it around: "not suicidal", "would never
// kill myself", "no me quiero morir".
var negators = map[string]bool{
	"not": true, "never": true, "dont": true, "wont": true, "wouldnt": true, "isnt": true, "didnt": true,
	"wasnt": true, "arent": true, "no": true, "nunca": true, "jamas": true, "ni": true, "tampoco": true,
}

// negated reports whether one of the two words before a phrase (within its
// clause) is a negation.
func negated(before string) bool {
	words := strings.Fields(before)
	for i := len(words) - 1; i >= 0 && i >= len(words)-2; i-- {
		if words[i] == "." {
			return false
		}
		if negators[words[i]] && !knowNot(words, i) {
			return true
		}
	}
	return false
}

// knowNot reports whether the negation at i only says "I don't know"
// ("ya no sé para qué vivo", "I don't know why I want to die").
func knowNot(words []string, i int) bool {
	return i+1 < len(words) && (words[i] == "no" && words[i+1] == "se" || words[i] == "dont" && words[i+1] == "know")
}

// squeeze collapses every run of one repeated letter to a single letter.
func squeeze(s string) string {
	var b strings.Builder
	b.Grow(len(s))
	var prev rune = -1
	for _, r := range s {
		if r == prev && unicode.IsLetter(r) {
			continue
		}
		b.WriteRune(r)
		prev = r
	}
	return b.String()
}

// squeezePattern squeezes the literal letters of a regular expression as
// squeeze does a text, leaving escapes ("\b") alone.
func squeezePattern(p string) string {
	var b strings.Builder
	var prev rune = -1
	escaped := false
	for _, r := range p {
		switch {
		case escaped:
			escaped = false
			b.WriteRune(r)
			prev = -1
			continue
		case r == '\\':
			escaped = true
		case r == prev && unicode.IsLetter(r):
			continue
		}
		b.WriteRune(r)
		prev = r
	}
	return b.String()
}

// canonical puts right the misspellings that patterns cannot list: any
// word within a typing slip or two of "suicide" and its family, and a few
// phonetic spellings.
func canonical(s string) string {
	words := strings.Fields(s)
	for i, w := range words {
		if c, ok := respell[w]; ok {
			words[i] = c
			continue
		}
		if len(w) < 6 || w[0] != 's' || notSuicide[w] {
			continue
		}
		for _, form := range suicideForms {
			limit := 1
			if len(form) >= 8 {
				limit = 2
			}
			if editDistance(w, form) <= limit {
				words[i] = form
				break
			}
		}
	}
	return strings.Join(words, " ")
}

// suicideForms are squeezed (no letter is doubled in them anyway).
var suicideForms = []string{"suicide", "suicidal", "suicidio", "suicida", "suicidas", "suicidarme", "suicidar", "suicidally"}

// notSuicide are real words a slip or two from a suicide form.
var notSuicide = map[string]bool{"subside": true, "subsided": true, "subsidio": true, "subsides": true}

var respell = map[string]string{
	"kiero": "quiero", "qiero": "quiero", "kero": "quiero", "qero": "quiero", "myslef": "myself",
	"myselv": "myself", "mysef": "myself", "myelf": "myself", "mysel": "myself",
}

// editDistance is the optimal string alignment distance between two words.
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

type rule struct {
	id        string
	re        *regexp.Regexp
	negatable bool
}

// phrase compiles a rule's pattern, squeezed and bounded by word edges.
func phrase(p string) *regexp.Regexp {
	return regexp.MustCompile(`\b(?:` + squeezePattern(p) + `)\b`)
}
