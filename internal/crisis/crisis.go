// Package crisis holds the crisis resources nudge gives a person who may
// not be safe: the lines to call or text for their country, in their
// language, as short words for a text (SMS, GSM-7 only) and as one footer
// line for an email.
//
// The defaults cover the United States and Canada (988), Spain (024, 112),
// Mexico (Línea de la Vida, 911) and the United Kingdom (Samaritans, 999),
// in English and Spanish, and everywhere else point to the local emergency
// number. An operator overrides or adds lines per country and language
// with a JSON document (NUDGE_CRISIS_LINES, see ParseEnv):
//
//	{
//	  "US": {"en": {"sms": "Call or text 988 now (US).", "email": "…"},
//	         "es": {"sms": "…", "email": "…"}},
//	  "FR": {"en": {"sms": "Call 3114 now (France).", "email": "…"}},
//	  "*":  {"en": {"sms": "…"}}
//	}
//
// Keys are ISO 3166 alpha-2 country codes (any case) or "*" for every other
// country, then a two-letter language code ("en", "es", …). Each entry may
// give "sms", "email" or both; a field left out keeps what the defaults
// (or the fallback below) say. An SMS line must be GSM-7 basic characters
// only (plain letters: "Espana", not "España"; "numero", not "número") and
// at most 160 characters; an email line is one line of at most 300
// characters. Unknown fields are refused, and every error names the
// entry at fault.
//
// A line is looked up in this order, the first one set winning:
// country+language, country+"en", "*"+language, "*"+"en".
package crisis

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"sort"
	"strings"
	"unicode/utf8"
)

// Lines are the resources for one country in one language.
type Lines struct {
	// SMS is the short resource words for a text, GSM-7 basic only.
	SMS string `json:"sms,omitempty"`
	// Email is one footer line for an email, any Unicode.
	Email string `json:"email,omitempty"`
}

// Directory maps a country and a language to crisis lines. It is read
// only once built, so one Directory may serve any number of goroutines.
type Directory struct {
	lines map[string]map[string]Lines // country ("US", "*") → language → lines
}

// Limits on an operator's lines.
const (
	MaxSMS   = 160 // characters: one GSM-7 segment on its own
	MaxEmail = 300 // characters
)

// Default returns the built-in directory.
func Default() *Directory {
	d := &Directory{lines: make(map[string]map[string]Lines, len(defaults))}
	for c, byLang := range defaults {
		d.lines[c] = make(map[string]Lines, len(byLang))
		for l, ln := range byLang {
			d.lines[c][l] = ln
		}
	}
	return d
}

// Parse reads an operator's JSON document (the format is in the package
// documentation) and returns the defaults with its entries laid over them.
func Parse(r io.Reader) (*Directory, error) {
	dec := json.NewDecoder(r)
	dec.DisallowUnknownFields()
	var doc map[string]map[string]Lines
	if err := dec.Decode(&doc); err != nil {
		return nil, fmt.Errorf("crisis lines: %w", err)
	}
	if dec.More() {
		return nil, errors.New("crisis lines: more than one JSON document")
	}
	d := Default()
	countries := make([]string, 0, len(doc))
	for c := range doc {
		countries = append(countries, c)
	}
	sort.Strings(countries) // the same error first every time
	for _, c := range countries {
		country := strings.ToUpper(strings.TrimSpace(c))
		if country != "*" && !isAlpha2(country) {
			return nil, fmt.Errorf("crisis lines: %q: a country is an ISO 3166 alpha-2 code or \"*\"", c)
		}
		if len(doc[c]) == 0 {
			return nil, fmt.Errorf("crisis lines: %q: no languages", c)
		}
		langs := make([]string, 0, len(doc[c]))
		for l := range doc[c] {
			langs = append(langs, l)
		}
		sort.Strings(langs)
		for _, l := range langs {
			lang := strings.ToLower(strings.TrimSpace(l))
			ln := Lines{SMS: strings.TrimSpace(doc[c][l].SMS), Email: strings.TrimSpace(doc[c][l].Email)}
			where := fmt.Sprintf("%s/%s", c, l)
			if len(lang) != 2 || !isLower(lang) {
				return nil, fmt.Errorf("crisis lines: %q: a language is a two-letter code such as \"en\"", where)
			}
			if err := ln.check(); err != nil {
				return nil, fmt.Errorf("crisis lines: %q: %w", where, err)
			}
			if d.lines[country] == nil {
				d.lines[country] = map[string]Lines{}
			}
			cur := d.lines[country][lang]
			if ln.SMS != "" {
				cur.SMS = ln.SMS
			}
			if ln.Email != "" {
				cur.Email = ln.Email
			}
			d.lines[country][lang] = cur
		}
	}
	return d, nil
}

// ParseEnv reads the value of NUDGE_CRISIS_LINES: empty for the defaults,
// a JSON document when it starts with "{", else the path of a file holding
// one.
func ParseEnv(spec string) (*Directory, error) {
	spec = strings.TrimSpace(spec)
	switch {
	case spec == "":
		return Default(), nil
	case strings.HasPrefix(spec, "{"):
		return Parse(strings.NewReader(spec))
	}
	b, err := os.ReadFile(spec)
	if err != nil {
		return nil, fmt.Errorf("crisis lines file: %w", err)
	}
	d, err := Parse(bytes.NewReader(b))
	if err != nil {
		return nil, fmt.Errorf("%s: %w", spec, err)
	}
	return d, nil
}

func (ln Lines) check() error {
	if ln.SMS == "" && ln.Email == "" {
		return errors.New("neither sms nor email is set")
	}
	if n := utf8.RuneCountInString(ln.SMS); n > MaxSMS {
		return fmt.Errorf("sms is %d characters; at most %d", n, MaxSMS)
	}
	if r, ok := firstNonGSM7(ln.SMS); !ok {
		return fmt.Errorf("sms holds %q, which is not a GSM-7 character (write plain letters)", r)
	}
	if n := utf8.RuneCountInString(ln.Email); n > MaxEmail {
		return fmt.Errorf("email is %d characters; at most %d", n, MaxEmail)
	}
	if strings.ContainsAny(ln.Email, "\r\n") || !utf8.ValidString(ln.Email) {
		return errors.New("email must be one line of valid UTF-8")
	}
	return nil
}

// SMS returns the resource words for a text to a person in country (ISO
// 3166 alpha-2, any case, "" if unknown) whose language is locale ("en",
// "es", "es-MX", …).
func (d *Directory) SMS(country, locale string) string {
	return d.find(country, locale, func(l Lines) string { return l.SMS })
}

// Email returns the crisis line for an email footer.
func (d *Directory) Email(country, locale string) string {
	return d.find(country, locale, func(l Lines) string { return l.Email })
}

func (d *Directory) find(country, locale string, field func(Lines) string) string {
	country = strings.ToUpper(strings.TrimSpace(country))
	lang := strings.ToLower(strings.TrimSpace(locale))
	if i := strings.IndexAny(lang, "-_"); i >= 0 {
		lang = lang[:i]
	}
	for _, k := range [][2]string{{country, lang}, {country, "en"}, {"*", lang}, {"*", "en"}} {
		if s := field(d.lines[k[0]][k[1]]); s != "" {
			return s
		}
	}
	return ""
}

func isAlpha2(s string) bool {
	return len(s) == 2 && s[0] >= 'A' && s[0] <= 'Z' && s[1] >= 'A' && s[1] <= 'Z'
}

func isLower(s string) bool {
	for _, r := range s {
		if r < 'a' || r > 'z' {
			return false
		}
	}
	return true
}

// gsm7Basic is the GSM 03.38 basic character set (without the escape).
const gsm7Basic = "@£$¥èéùìòÇ\nØø\rÅåΔ_ΦΓΛΩΠΨΣΘΞÆæßÉ !\"#¤%&'()*+,-./0123456789:;<=>?" +
	"¡ABCDEFGHIJKLMNOPQRSTUVWXYZÄÖÑÜ§¿abcdefghijklmnopqrstuvwxyzäöñüà"

// firstNonGSM7 returns the first character of s outside the GSM-7 basic
// set, and false, or true when there is none.
func firstNonGSM7(s string) (rune, bool) {
	for _, r := range s {
		if !strings.ContainsRune(gsm7Basic, r) {
			return r, false
		}
	}
	return 0, true
}
