package render

import (
	"errors"
	"fmt"
	"strings"
	"unicode"
	"unicode/utf16"

	"golang.org/x/text/unicode/norm"

	"github.com/nudgehq/nudge/templates"
)

// MaxSMSSegments is the longest SMS nudge sends, in segments.
const MaxSMSSegments = 2

// SMSFooter is what follows the text of an SMS.
type SMSFooter int

// SMS footers.
const (
	// FooterNone adds nothing.
	FooterNone SMSFooter = iota
	// FooterOptOut adds "Reply STOP to opt out, HELP for help." in the
	// message's language: in the first message, and now and then after.
	FooterOptOut
)

// SMS renders m's SMS line for d and appends footer. The text always starts
// with the service name ("nudge: …"), or with d.Sender in its place when
// there is one (a clinic's display name replaces the copy's "nudge:" lead), typographic punctuation is replaced by
// its GSM-7 equivalent (’ → ', “ → ", – → -, … → ...), and the result fits
// in [MaxSMSSegments] segments. When it does not, it tries in turn, keeping
// the first that fits:
//
//  1. the text as written, with the first name and goal;
//  2. the same with accents GSM-7 lacks taken off (á → a; é and ñ stay);
//  3. 1 and 2 without the first name (a name in another script makes the
//     whole text UCS-2, 70 characters a segment), mended as the package doc says;
//  4. 1 and 2 without the name and the goal.
//
// If none fits, it returns an error.
func (r *Renderer) SMS(m *templates.Message, d Data, footer SMSFooter) (string, error) {
	if m == nil {
		return "", errors.New("render sms: no message")
	}
	if m.SMS == nil {
		return "", fmt.Errorf("render sms %s: the message has no SMS line", m.File)
	}
	if isMonthReview(m, d) {
		return r.monthSMS(m, d, footer)
	}
	locale := messageLocale(m, d)
	tail := ""
	if footer == FooterOptOut {
		tail = " " + labelsFor(locale).optOut
	}

	head := ""
	if d.WelcomeBack {
		head = labelsFor(locale).smsWelcome
	}
	v := r.vars(d)
	lead := r.sender(d)
	tries := []templates.Vars{v}
	if v.FirstName != "" {
		v.FirstName = ""
		tries = append(tries, v)
	}
	if v.Goal != "" {
		v.Goal = ""
		tries = append(tries, v)
	}
	segments := 0
	// With the answer invitation first; without it only if nothing else fits.
	for _, invite := range []string{smsInvitation(m, d, locale), ""} {
		for _, v := range tries {
			text, err := r.exec(m.SMS, v, locale)
			if err != nil {
				return "", fmt.Errorf("render sms %s: %w", m.File, err)
			}
			text = smartEncode(r.withLead(text, lead) + invite + tail)
			if head != "" {
				// "nudge: Welcome back! …", kept only while it fits.
				name := smartEncode(lead) + ": "
				if welcomed := name + head + strings.TrimPrefix(text, name); strings.HasPrefix(text, name) {
					if n, _ := GSM7Segments(welcomed); n <= MaxSMSSegments {
						text = welcomed
					}
				}
			}
			n, gsm := GSM7Segments(text)
			if n <= MaxSMSSegments {
				return text, nil
			}
			segments = n
			if !gsm {
				text = stripAccents(text)
				if n, _ = GSM7Segments(text); n <= MaxSMSSegments {
					return text, nil
				}
			}
		}
		if invite == "" {
			break
		}
	}
	return "", fmt.Errorf("render sms %s: %d segments even without the name, at most %d allowed", m.File, segments, MaxSMSSegments)
}

// withLead puts the sender first, as carriers and the design want. Copy
// that already starts with the service name keeps it when the sender is the
// service; for another sender, a leading "<service name>:" is replaced.
func (r *Renderer) withLead(s, lead string) string {
	name := r.opts.ServiceName
	starts := len(s) >= len(name) && strings.EqualFold(s[:len(name)], name)
	switch {
	case lead == name && starts:
		return s
	case starts && strings.HasPrefix(s[len(name):], ":"):
		return lead + ": " + strings.TrimLeft(s[len(name)+1:], " ")
	}
	return lead + ": " + s
}

// TextSMS renders a clinic's own text as an SMS for d: the sender first,
// then the text as it was written (cleaned, never executed as a template),
// then footer; typography made GSM-7 and, if that is what it takes to fit
// in [MaxSMSSegments] segments, accents GSM-7 lacks taken off. A text that
// still does not fit is an error: a clinic's words are never cut.
func (r *Renderer) TextSMS(text string, d Data, footer SMSFooter) (string, error) {
	body := cleanText(text, maxOwnTextLen)
	if body == "" {
		return "", errors.New("render sms: no text")
	}
	tail := ""
	if footer == FooterOptOut {
		tail = " " + labelsFor(textLocale(d)).optOut
	}
	out := smartEncode(r.sender(d) + ": " + body + tail)
	n, gsm := GSM7Segments(out)
	if n <= MaxSMSSegments {
		return out, nil
	}
	if !gsm {
		if m, _ := GSM7Segments(stripAccents(out)); m <= MaxSMSSegments {
			return stripAccents(out), nil
		}
	}
	return "", fmt.Errorf("render sms: the text takes %d segments with the sender and footer, at most %d allowed", n, MaxSMSSegments)
}

// SMSOptOut is the opt-out footer a text in locale ends with, for checking
// a text's length before it is sent.
func SMSOptOut(locale string) string { return labelsFor(locale).optOut }

// The GSM 03.38 default alphabet (without the escape code) and its extension
// table, whose characters take two septets.
const (
	gsm7Basic = "@£$¥èéùìòÇ\nØø\rÅåΔ_ΦΓΛΩΠΨΣΘΞÆæßÉ !\"#¤%&'()*+,-./0123456789:;<=>?" +
		"¡ABCDEFGHIJKLMNOPQRSTUVWXYZÄÖÑÜ§¿abcdefghijklmnopqrstuvwxyzäöñüà"
	gsm7Extension = "\f^{}\\[~]|€"
)

// gsm7Cost is how many septets r takes in GSM-7, or 0 if it has none.
func gsm7Cost(r rune) int {
	switch {
	case strings.ContainsRune(gsm7Basic, r):
		return 1
	case strings.ContainsRune(gsm7Extension, r):
		return 2
	}
	return 0
}

// GSM7Segments returns how many SMS segments s takes and whether it can be
// sent in GSM-7. In GSM-7 one segment holds 160 septets, and a longer text
// 153 per segment (an extension character such as € or { takes two septets,
// never split across segments). Any other character makes the whole text
// UCS-2: 70 UTF-16 units in one segment, 67 per segment beyond (an emoji's
// surrogate pair is never split). The empty string takes no segments.
func GSM7Segments(s string) (segments int, gsm7 bool) {
	if s == "" {
		return 0, true
	}
	gsm7 = true
	total := 0
	for _, r := range s {
		c := gsm7Cost(r)
		if c == 0 {
			gsm7 = false
			break
		}
		total += c
	}
	single, multi := 160, 153
	cost := gsm7Cost
	if !gsm7 {
		single, multi = 70, 67
		cost = utf16.RuneLen
		total = 0
		for _, r := range s {
			total += utf16.RuneLen(r)
		}
	}
	if total <= single {
		return 1, gsm7
	}
	segments, used := 1, 0
	for _, r := range s {
		c := cost(r)
		if used+c > multi {
			segments++
			used = 0
		}
		used += c
	}
	return segments, gsm7
}

// smartEncode replaces typographic characters that would force UCS-2 with
// their plain equivalents, as Twilio's "smart encoding" does; it never
// changes a letter.
func smartEncode(s string) string {
	return strings.Map(func(r rune) rune {
		switch r {
		case '‘', '’', '‚', '‛', '′', '`', '´':
			return '\''
		case '“', '”', '„', '‟', '″', '«', '»':
			return '"'
		case '‐', '‑', '‒', '–', '—', '―', '−':
			return '-'
		case '\u00a0', '\u2000', '\u2001', '\u2002', '\u2003', '\u2004', '\u2005',
			'\u2006', '\u2007', '\u2008', '\u2009', '\u200a', '\u202f', '\u205f', '\u3000':
			return ' '
		case '\u200b', '\ufeff':
			return -1
		}
		return r
	}, strings.ReplaceAll(s, "…", "..."))
}

// stripAccents takes off the accents GSM-7 lacks ("á" → "a", "ç" → "c"),
// leaving letters it has ("é", "ñ") and anything it cannot help.
func stripAccents(s string) string {
	var b strings.Builder
	for _, r := range s {
		if gsm7Cost(r) > 0 {
			b.WriteRune(r)
			continue
		}
		base := strings.Map(func(r rune) rune {
			if unicode.Is(unicode.Mn, r) {
				return -1
			}
			return r
		}, norm.NFD.String(string(r)))
		if base != "" && strings.IndexFunc(base, func(r rune) bool { return gsm7Cost(r) == 0 }) < 0 {
			b.WriteString(base)
		} else {
			b.WriteRune(r)
		}
	}
	return b.String()
}
