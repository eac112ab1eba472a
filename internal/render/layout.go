package render

import (
	"strconv"
	"strings"
)

// The one HTML layout of every nudge email, written by writeLayout. Built for
// mail clients, not browsers: nested tables for structure, every style inline
// (no <style>, no media queries, no flexbox, grid or CSS variables), no
// images, so it reads the same with images blocked. Paragraphs and lists
// keep the clients' own margins rather than setting them, which most clients
// handle better. Every element that sets a colour also sits on a set
// background, so clients that invert colours for dark mode invert both
// together; the text colours have at least 6:1 contrast on their
// backgrounds.
//
// The layout is written in Go rather than executed as an html/template: a
// template escaped every value through reflected calls, which cost more CPU
// than the rest of a delivery. The output is byte for byte what the
// template testdata/layout.html writes (a test holds the two together over
// the whole library), and every value goes through the same escaping as
// html/template's: text and attributes through escapeHTML, links through
// escapeURL.

// Inline styles the layout repeats.
const (
	styleText  = `font-family:Arial,Helvetica,sans-serif;font-size:16px;color:#1f2937;`
	styleSmall = `font-family:Arial,Helvetica,sans-serif;font-size:14px;line-height:20px;color:#4b5563;`
)

// writeLayout writes p as the HTML part of an email.
func writeLayout(b *strings.Builder, p *page) {
	b.WriteString(`<!DOCTYPE html>
<html lang="`)
	escapeHTML(b, p.Lang)
	b.WriteString(`" dir="ltr">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<meta name="x-apple-disable-message-reformatting">
<meta name="color-scheme" content="light dark">
<meta name="supported-color-schemes" content="light dark">
<title>`)
	escapeHTML(b, p.Subject)
	b.WriteString(`</title>
</head>
<body style="margin:0;padding:0;background-color:#f3f4f6;">
<div role="article" aria-roledescription="email" aria-label="`)
	escapeHTML(b, p.Subject)
	b.WriteString(`" lang="`)
	escapeHTML(b, p.Lang)
	b.WriteString(`" dir="ltr" style="background-color:#f3f4f6;color:#1f2937;">
<table role="presentation" width="100%" cellpadding="0" cellspacing="0" border="0" bgcolor="#f3f4f6" style="width:100%;background-color:#f3f4f6;">
<tr>
<td align="center" style="padding:24px 12px;">
<table role="presentation" width="100%" cellpadding="0" cellspacing="0" border="0" style="width:100%;max-width:560px;">
<tr>
<td bgcolor="#ffffff" style="padding:16px 28px;background-color:#ffffff;color:#1f2937;font-family:Arial,Helvetica,sans-serif;font-size:16px;line-height:24px;">
<h1 style="font-family:Arial,Helvetica,sans-serif;font-size:22px;line-height:30px;color:#1f2937;">`)
	escapeHTML(b, p.Subject)
	b.WriteString(`</h1>`)
	if p.Month != nil {
		writeMonth(b, p.Month)
	}
	for _, bl := range p.Blocks {
		if bl.List {
			b.WriteString("\n<ul>")
			for _, it := range bl.Items {
				b.WriteString("\n<li style=\"" + styleText + "\">")
				escapeHTML(b, it)
				b.WriteString("</li>")
			}
			b.WriteString("\n</ul>")
			continue
		}
		b.WriteString("\n<p style=\"" + styleText + "\">")
		escapeHTML(b, bl.Items[0])
		b.WriteString("</p>")
	}
	if p.Invite != nil {
		writeInvitation(b, p.Invite)
	}
	if p.Action != "" {
		b.WriteString(`
<table role="presentation" cellpadding="0" cellspacing="0" border="0">
<tr>
<td align="center" bgcolor="#1d4ed8" style="background-color:#1d4ed8;">
<a href="`)
		escapeURL(b, p.Action)
		b.WriteString(`" style="display:inline-block;padding:12px 24px;font-family:Arial,Helvetica,sans-serif;font-size:16px;font-weight:bold;color:#ffffff;text-decoration:none;">`)
		escapeHTML(b, p.ActionLabel)
		b.WriteString(`</a>
</td>
</tr>
</table>
<p style="` + styleSmall + `">`)
		escapeHTML(b, p.ButtonHint)
		b.WriteString("<br>\n<a href=\"")
		escapeURL(b, p.Action)
		b.WriteString(`" style="color:#1d4ed8;word-break:break-all;">`)
		escapeHTML(b, p.Action)
		b.WriteString("</a></p>")
	}
	if len(p.SignOff) > 0 {
		b.WriteString("\n<p style=\"" + styleText + "\">")
		writeLines(b, p.SignOff)
		b.WriteString("</p>")
	}
	b.WriteString(`
</td>
</tr>
<tr>
<td style="padding:8px 28px;` + styleSmall + `">
<p><a href="`)
	escapeURL(b, p.Manage)
	b.WriteString(`" style="color:#1d4ed8;">`)
	escapeHTML(b, p.ManageLabel)
	b.WriteString(`</a> &middot; <a href="`)
	escapeURL(b, p.Unsubscribe)
	b.WriteString(`" style="color:#1d4ed8;">`)
	escapeHTML(b, p.UnsubscribeLabel)
	b.WriteString(`</a></p>`)
	if len(p.Address) > 0 {
		b.WriteString("\n<p>")
		writeLines(b, p.Address)
		b.WriteString("</p>")
	}
	if p.Crisis != "" {
		b.WriteString("\n<p>")
		escapeHTML(b, p.Crisis)
		b.WriteString("</p>")
	}
	b.WriteString(`
</td>
</tr>
</table>
</td>
</tr>
</table>
</div>
</body>
</html>
`)
}

// writeMonth writes a monthly review's numbers: a heading, its lines and the
// weeks as an image-free bar chart (a table whose bars are cell widths).
func writeMonth(b *strings.Builder, m *monthView) {
	b.WriteString(`
<h2 style="font-family:Arial,Helvetica,sans-serif;font-size:18px;line-height:26px;color:#1f2937;">`)
	escapeHTML(b, m.Heading)
	b.WriteString("</h2>")
	for _, line := range m.Lines {
		b.WriteString("\n<p style=\"" + styleText + "\">")
		escapeHTML(b, line)
		b.WriteString("</p>")
	}
	c := m.Chart
	if c == nil {
		return
	}
	b.WriteString(`
<table width="100%" cellpadding="0" cellspacing="0" border="0" style="width:100%;border-collapse:collapse;">
<caption style="text-align:left;padding:0 0 8px 0;font-family:Arial,Helvetica,sans-serif;font-size:14px;line-height:20px;color:#4b5563;">`)
	escapeHTML(b, c.Caption)
	b.WriteString(`</caption>
<tr>
<th scope="col" align="left" style="padding:4px 8px 4px 0;font-family:Arial,Helvetica,sans-serif;font-size:14px;color:#4b5563;">`)
	escapeHTML(b, c.WeekHead)
	b.WriteString(`</th>
<th scope="col" align="left" style="padding:4px 0;font-family:Arial,Helvetica,sans-serif;font-size:14px;color:#4b5563;">`)
	escapeHTML(b, c.ScoreHead)
	b.WriteString(`</th>
</tr>`)
	for _, r := range c.Rows {
		b.WriteString(`
<tr>
<th scope="row" align="left" valign="middle" width="70" style="width:70px;padding:4px 8px 4px 0;font-family:Arial,Helvetica,sans-serif;font-size:14px;font-weight:normal;color:#1f2937;white-space:nowrap;">`)
		escapeHTML(b, r.Week)
		b.WriteString(`</th>
<td valign="middle" style="padding:4px 0;">
<table role="presentation" width="100%" cellpadding="0" cellspacing="0" border="0" style="width:100%;">
<tr>`)
		if r.Width != 0 {
			w := strconv.Itoa(r.Width)
			b.WriteString(`
<td width="` + w + `%" bgcolor="#1d4ed8" style="width:` + w + `%;background-color:#1d4ed8;font-size:14px;line-height:20px;">&nbsp;</td>`)
		}
		b.WriteString(`
<td style="padding-left:8px;font-family:Arial,Helvetica,sans-serif;font-size:14px;line-height:20px;color:#1f2937;white-space:nowrap;">`)
		escapeHTML(b, r.Value)
		b.WriteString(`</td>
</tr>
</table>
</td>
</tr>`)
	}
	b.WriteString("\n</table>")
}

// writeInvitation writes a check-in's or a gratitude prompt's invitation to
// answer: the question, the five score links and the link to write a line.
func writeInvitation(b *strings.Builder, inv *invitation) {
	b.WriteString(`
<p style="font-family:Arial,Helvetica,sans-serif;font-size:16px;font-weight:bold;color:#1f2937;">`)
	escapeHTML(b, inv.Question)
	b.WriteString("</p>")
	if len(inv.Scores) > 0 {
		b.WriteString("\n<p style=\"" + styleSmall + "\">")
		escapeHTML(b, inv.Hint)
		b.WriteString(`</p>
<table role="presentation" width="100%" cellpadding="0" cellspacing="4" border="0" style="width:100%;">
<tr>`)
		for _, s := range inv.Scores {
			b.WriteString(`
<td align="center" valign="top" width="20%" bgcolor="#eff6ff" style="width:20%;background-color:#eff6ff;border:1px solid #1d4ed8;"><a href="`)
			escapeURL(b, s.URL)
			b.WriteString(`" style="display:block;padding:10px 4px;font-family:Arial,Helvetica,sans-serif;font-size:14px;line-height:20px;font-weight:bold;color:#1d4ed8;text-decoration:none;">`)
			escapeHTML(b, s.Label)
			b.WriteString("</a></td>")
		}
		b.WriteString("\n</tr>\n</table>")
	}
	if inv.Note.URL != "" {
		b.WriteString("\n<p style=\"" + styleText + "\"><a href=\"")
		escapeURL(b, inv.Note.URL)
		b.WriteString(`" style="color:#1d4ed8;">`)
		escapeHTML(b, inv.Note.Label)
		b.WriteString("</a></p>")
	}
}

// writeLines writes lines escaped, separated by line breaks.
func writeLines(b *strings.Builder, lines []string) {
	for i, line := range lines {
		if i > 0 {
			b.WriteString("<br>")
		}
		escapeHTML(b, line)
	}
}

// escapeHTML writes s escaped for HTML text and quoted attribute values,
// exactly as html/template escapes a string there: the five characters that
// can open markup or close a quote, and "+" (which some old browsers read as
// the start of a UTF-7 sequence), become references; NUL becomes U+FFFD.
// All of them are ASCII, so the string is scanned byte by byte (a byte of a
// multi-byte UTF-8 sequence is never ASCII).
func escapeHTML(b *strings.Builder, s string) {
	written := 0
	for i := 0; i < len(s); i++ {
		var repl string
		switch s[i] {
		case 0:
			repl = "\uFFFD"
		case '"':
			repl = "&#34;"
		case '&':
			repl = "&amp;"
		case '\'':
			repl = "&#39;"
		case '+':
			repl = "&#43;"
		case '<':
			repl = "&lt;"
		case '>':
			repl = "&gt;"
		default:
			continue
		}
		b.WriteString(s[written:i])
		b.WriteString(repl)
		written = i + 1
	}
	b.WriteString(s[written:])
}

// escapeURL writes s as the value of an href, exactly as html/template does
// with a URL there: a URL with a scheme other than http, https or mailto
// becomes "#ZgotmplZ"; bytes that may not appear in a URL are
// percent-encoded (existing escapes and reserved characters kept); then the
// result is escaped as an attribute value.
func escapeURL(b *strings.Builder, s string) {
	if scheme, _, ok := strings.Cut(s, ":"); ok && !strings.Contains(scheme, "/") &&
		!strings.EqualFold(scheme, "http") && !strings.EqualFold(scheme, "https") && !strings.EqualFold(scheme, "mailto") {
		b.WriteString("#ZgotmplZ")
		return
	}
	const hexDigits = "0123456789abcdef"
	written := 0
	var norm strings.Builder
	for i := 0; i < len(s); i++ {
		c := s[i]
		switch {
		case 'a' <= c && c <= 'z', 'A' <= c && c <= 'Z', '0' <= c && c <= '9':
			continue
		case strings.IndexByte("!#$&*+,/:;=?@[]-._~", c) >= 0:
			continue
		case c == '%' && i+2 < len(s) && isHex(s[i+1]) && isHex(s[i+2]):
			continue
		}
		norm.WriteString(s[written:i])
		norm.WriteByte('%')
		norm.WriteByte(hexDigits[c>>4])
		norm.WriteByte(hexDigits[c&15])
		written = i + 1
	}
	if written == 0 {
		escapeHTML(b, s)
		return
	}
	norm.WriteString(s[written:])
	escapeHTML(b, norm.String())
}

func isHex(c byte) bool {
	return '0' <= c && c <= '9' || 'a' <= c && c <= 'f' || 'A' <= c && c <= 'F'
}
