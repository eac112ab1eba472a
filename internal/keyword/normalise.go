package keyword

import (
	"strings"
	"unicode"
	"unicode/utf8"

	"golang.org/x/text/cases"
	"golang.org/x/text/unicode/norm"
)

// Normalise is the one normalisation of an inbound text, used both to read
// keywords (Read) and to recognise distress (distress.Detect takes its
// output). In order it:
//
//   - applies Unicode NFKC, so full-width "ＳＴＯＰ" is "STOP", "３" is "3" and
//     ligatures are split;
//   - removes every format character (category Cf: zero-width spaces and
//     joiners U+200B–U+200F, word joiners U+2060–U+2064, U+FEFF, bidirectional
//     controls U+202A–U+202E and U+2066–U+2069, soft hyphens);
//   - folds case (full Unicode case folding, "ß" becomes "ss");
//   - strips accents: NFD, every non-spacing mark (Mn) dropped, NFC, so
//     "más" is "mas" and "ñ" is "n";
//   - drops apostrophes inside words, so "don't" is "dont" and "I'm" is "im";
//   - turns every other character that is not a letter, digit or spacing
//     mark (punctuation, symbols, emoji, control characters, invalid UTF-8)
//     into a space, collapses runs of white space to one space and trims.
//
// The result holds only lower-case letters, digits and single spaces, and
// Normalise(Normalise(s)) == Normalise(s).
func Normalise(s string) string {
	// The pipeline is run until it no longer changes its input: case folding
	// can produce a character that NFKC maps again, and the loop keeps the
	// result a fixed point whatever the input. Two passes are the most seen.
	out := normaliseOnce(s)
	for range 3 {
		again := normaliseOnce(out)
		if again == out {
			break
		}
		out = again
	}
	return out
}

func normaliseOnce(s string) string {
	// U+00B4 (acute accent) decomposes under NFKC into a space and a
	// combining mark; as an apostrophe stand-in it must go first.
	s = strings.ReplaceAll(s, "\u00b4", "")
	s = norm.NFKC.String(s)
	s = cases.Fold().String(s)
	s = norm.NFD.String(s)
	var b strings.Builder
	b.Grow(len(s))
	space := true
	for i, w := 0, 0; i < len(s); i += w {
		r, width := utf8.DecodeRuneInString(s[i:])
		w = width
		switch {
		case r == utf8.RuneError && width <= 1:
			// invalid byte: a separator
		case unicode.Is(unicode.Mn, r), unicode.Is(unicode.Cf, r), isApostrophe(r):
			continue
		case unicode.IsLetter(r), unicode.IsDigit(r), unicode.Is(unicode.Mc, r):
			b.WriteRune(r)
			space = false
			continue
		}
		if !space {
			b.WriteByte(' ')
			space = true
		}
	}
	return norm.NFC.String(strings.TrimSpace(b.String()))
}

func isApostrophe(r rune) bool {
	switch r {
	case '\'', '’', '‘', '`', 'ʼ', '′', '＇':
		return true
	}
	return false
}

// squeeze collapses every run of one repeated letter to a single letter
// ("stoppp" and "stoop" become "stop", "siii" becomes "si"). Keyword tables
// are squeezed the same way, so "all" and "al" are one word to the matcher.
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

// cleanNote removes the characters that must never be stored in a kept
// reply: bidirectional controls (which can make a note read differently
// from what it holds), zero-width spaces, word joiners and the byte-order
// mark. Joiners inside emoji (U+200C, U+200D) are kept, and nothing else
// of the body is changed.
func cleanNote(s string) string {
	s = strings.Map(func(r rune) rune {
		switch {
		case r >= 0x202a && r <= 0x202e, r >= 0x2066 && r <= 0x2069, r == 0x200e, r == 0x200f, r == 0x061c,
			r == 0x200b, r >= 0x2060 && r <= 0x2064, r == 0xfeff:
			return -1
		}
		return r
	}, s)
	return strings.TrimSpace(strings.ToValidUTF8(s, "\uFFFD"))
}
