// Package guideprint keeps a fingerprint of the guide the copy library is
// written from: the hashes of every run of [RunLen] words in it, normalised.
// The repository carries the fingerprint, never the guide's text, and a test
// checks every message against it, so any clone can tell whether a message
// pastes the guide rather than saying it in its own words.
package guideprint

import (
	"bufio"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"io"
	"slices"
	"strings"
	"unicode"
)

// RunLen is the length, in words, of the shortest run of the guide's words
// that counts as pasted rather than paraphrased.
const RunLen = 10

// hashLen is how many bytes of a run's SHA-256 the fingerprint keeps: 8
// bytes make a false match between a message and the guide vanishingly rare.
const hashLen = 8

// Fingerprint is the set of hashed runs of one or more texts.
type Fingerprint struct {
	hashes map[string]struct{}
}

// FromText fingerprints texts: every run of RunLen words of each, in every
// normalisation.
func FromText(texts ...string) *Fingerprint {
	f := &Fingerprint{hashes: make(map[string]struct{})}
	for _, text := range texts {
		for _, words := range normalisations(text) {
			for i := 0; i+RunLen <= len(words); i++ {
				f.hashes[hash(strings.Join(words[i:i+RunLen], " "))] = struct{}{}
			}
		}
	}
	return f
}

// Len is the number of distinct runs in the fingerprint.
func (f *Fingerprint) Len() int { return len(f.hashes) }

// SharedRun returns the first run of RunLen words of s (normalised) whose
// hash is in the fingerprint, or "".
func (f *Fingerprint) SharedRun(s string) string {
	for _, words := range normalisations(s) {
		for i := 0; i+RunLen <= len(words); i++ {
			run := strings.Join(words[i:i+RunLen], " ")
			if _, ok := f.hashes[hash(run)]; ok {
				return run
			}
		}
	}
	return ""
}

// Equal reports whether f and g hold the same runs.
func (f *Fingerprint) Equal(g *Fingerprint) bool {
	if len(f.hashes) != len(g.hashes) {
		return false
	}
	for h := range f.hashes {
		if _, ok := g.hashes[h]; !ok {
			return false
		}
	}
	return true
}

// WriteTo writes f in its file format: comment lines starting with "#",
// then one hash a line, in hexadecimal, sorted.
func (f *Fingerprint) WriteTo(w io.Writer) (int64, error) {
	lines := make([]string, 0, len(f.hashes))
	for h := range f.hashes {
		lines = append(lines, h)
	}
	slices.Sort(lines)
	var b strings.Builder
	b.WriteString("# The guide's fingerprint: the SHA-256 (first 8 bytes, hex) of every\n")
	fmt.Fprintf(&b, "# run of %d words of the guide, lower-cased, with punctuation deleted and\n", RunLen)
	b.WriteString("# with punctuation read as a space. Made by `go generate ./templates`\n")
	b.WriteString("# when the guide is beside the checkout; do not edit.\n")
	for _, l := range lines {
		b.WriteString(l)
		b.WriteByte('\n')
	}
	n, err := io.WriteString(w, b.String())
	return int64(n), err
}

// Parse reads a fingerprint written by [Fingerprint.WriteTo].
func Parse(r io.Reader) (*Fingerprint, error) {
	f := &Fingerprint{hashes: make(map[string]struct{})}
	sc := bufio.NewScanner(r)
	line := 0
	for sc.Scan() {
		line++
		t := strings.TrimSpace(sc.Text())
		if t == "" || strings.HasPrefix(t, "#") {
			continue
		}
		if b, err := hex.DecodeString(t); err != nil || len(b) != hashLen {
			return nil, fmt.Errorf("guide fingerprint line %d: %q is not a %d-byte hex hash", line, t, hashLen)
		}
		f.hashes[t] = struct{}{}
	}
	if err := sc.Err(); err != nil {
		return nil, fmt.Errorf("guide fingerprint: %w", err)
	}
	return f, nil
}

func hash(run string) string {
	sum := sha256.Sum256([]byte(run))
	return hex.EncodeToString(sum[:hashLen])
}

// normalisations returns s lower-cased and split on white space, once with
// punctuation deleted ("don't" → "dont") and once with punctuation read as a
// space ("goals—sharing" → "goals sharing"), so that neither way of writing
// a word hides a match.
func normalisations(s string) [][]string {
	s = strings.ToLower(s)
	isPunct := func(r rune) bool { return unicode.IsPunct(r) || unicode.IsSymbol(r) }
	deleted := strings.Map(func(r rune) rune {
		if isPunct(r) {
			return -1
		}
		return r
	}, s)
	spaced := strings.Map(func(r rune) rune {
		if isPunct(r) {
			return ' '
		}
		return r
	}, s)
	return [][]string{strings.Fields(deleted), strings.Fields(spaced)}
}
