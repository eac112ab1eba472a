package render

import (
	"strings"
	"unicode/utf8"
)

// textWidth is where the plain-text part wraps. Words longer than this (a
// URL) stay whole on a line of their own.
const textWidth = 72

// plainText is the text/plain part: the same content as the HTML, links as
// bare URLs, and a footer after the usual "-- " signature line.
func plainText(p *page) string {
	var b strings.Builder
	b.Grow(4 << 10)
	if lines := monthText(p.Month); len(lines) > 0 {
		for _, line := range lines {
			if line == "" || strings.Contains(line, "  ") {
				b.WriteString(line + "\n") // the chart's columns are kept
				continue
			}
			wrap(&b, line, "", "")
		}
		b.WriteByte('\n')
	}
	for _, bl := range p.Blocks {
		if bl.List {
			for _, it := range bl.Items {
				wrap(&b, it, "- ", "  ")
			}
		} else {
			wrap(&b, bl.Items[0], "", "")
		}
		b.WriteByte('\n')
	}
	if lines := invitationText(p.Invite); len(lines) > 0 {
		for _, line := range lines {
			wrap(&b, line, "", "")
		}
		b.WriteByte('\n')
	}
	if p.Action != "" {
		wrap(&b, p.ActionLabel+":", "", "")
		b.WriteString(p.Action + "\n\n")
	}
	if len(p.SignOff) > 0 {
		for _, line := range p.SignOff {
			wrap(&b, line, "", "")
		}
		b.WriteByte('\n')
	}
	b.WriteString("-- \n")
	b.WriteString(p.ManageLabel + ": " + p.Manage + "\n")
	b.WriteString(p.UnsubscribeLabel + ": " + p.Unsubscribe + "\n")
	for _, line := range p.Address {
		b.WriteString(line + "\n")
	}
	if p.Crisis != "" {
		wrap(&b, p.Crisis, "", "")
	}
	return b.String()
}

// wrap writes s word-wrapped at textWidth, the first line starting with
// first and the others with rest, and ends it with a line break.
func wrap(b *strings.Builder, s, first, rest string) {
	b.WriteString(first)
	width := utf8.RuneCountInString(first)
	empty := true
	for w := range strings.FieldsSeq(s) {
		n := utf8.RuneCountInString(w)
		if !empty && width+1+n > textWidth {
			b.WriteByte('\n')
			b.WriteString(rest)
			width, empty = utf8.RuneCountInString(rest), true
		}
		if !empty {
			b.WriteByte(' ')
			width++
		}
		b.WriteString(w)
		width += n
		empty = false
	}
	b.WriteByte('\n')
}
