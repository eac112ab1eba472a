// Package render turns a message of the copy library into what a channel
// sends: a multipart email (subject, plain text, HTML) or the text of an SMS.
//
// Names are cleaned before they reach a template: trimmed, control and
// formatting characters removed, cut to [MaxNameLen] characters. A person
// without a usable first name is not called "there" everywhere: the name is
// left out and the sentence around it mended. In English, after a greeting
// ("Hi", "Hello", "Hey") the name becomes "there" ("Hi there,"); a name that
// opens a sentence is dropped with its comma and the next word capitalised
// ("Sam, who lit up your week?" → "Who lit up your week?"); elsewhere it is
// dropped with the comma before it ("Hola, Sam:" → "Hola:", "Thanks, Sam."
// → "Thanks."). Spanish has no neutral word that reads like "there", so
// Spanish always drops the name.
//
// # Messages from a clinic
//
// A message to a clinic's client is from the clinic: [Data.Sender] (its
// display name) opens every text in place of the service name and is what
// {{.Sender}} says, and [Data.SignOff] closes every email, above the
// sender's name. A clinic's own words ([Renderer.TextSMS],
// [Renderer.TextEmail]) are untrusted input: they are cleaned and placed in
// the message as they are, never executed as a template, under a neutral
// subject that names only the sender.
//
// The HTML part is one layout (layout.go) built for mail clients: tables
// and inline styles, no images, no tracking, colours with good contrast that
// survive the inversion dark-mode clients apply, and the text of every block
// escaped.
package render

import (
	"errors"
	"fmt"
	"net/url"
	"strings"
	texttemplate "text/template"
	"unicode"
	"unicode/utf8"

	"golang.org/x/text/unicode/norm"

	"github.com/nudgehq/nudge/internal/crisis"
	"github.com/nudgehq/nudge/internal/review"
	"github.com/nudgehq/nudge/templates"
)

// MaxNameLen is how many characters of a first name are used.
const MaxNameLen = 40

// MaxSenderLen is how many characters of a sender's name (a clinic's
// display name) are used.
const MaxSenderLen = 40

// maxOwnTextLen bounds a clinic's own text; the clinic service keeps it to
// what fits in two SMS segments, far shorter.
const maxOwnTextLen = 1000

// maxNoteLen bounds a subscriber's note quoted in a monthly review (the
// store keeps notes to this length).
const maxNoteLen = 500

// maxGoalLen is how many characters of a goal are used; the signup form keeps
// goals shorter, this only bounds what reaches a message.
const maxGoalLen = 120

// Options are the operator's settings that appear in every message.
type Options struct {
	// ServiceName starts every SMS ("nudge: …"); "nudge" when empty.
	ServiceName string
	// PostalAddress goes in every email footer; line breaks are kept.
	PostalAddress string
	// CrisisLine is the crisis-resource line of every email footer, per
	// locale ("en", "es"); a locale without one uses "en". Crisis, when
	// set, is used instead: the footer then names the resources of the
	// person's country (Data.Country) in the message's language.
	CrisisLine map[string]string
	Crisis     *crisis.Directory
}

// DefaultCrisisLines returns the crisis-resource lines nudge ships with.
func DefaultCrisisLines() map[string]string {
	return map[string]string{
		"en": "nudge is not monitored. If you are in crisis, call or text 988 (US) or your local emergency number.",
		"es": "Nadie supervisa nudge en tiempo real. Si estás en crisis, llama o envía un mensaje de texto al 988 (EE. UU.) o al número de emergencias de tu país.",
	}
}

// Data is what is known about the person a message is for.
type Data struct {
	FirstName string // as they typed it; cleaned here
	Goal      string // optional
	// Locale is the person's locale. The message's own locale wins: it is
	// the language the copy is in. This is used only for a message without one.
	Locale string
	Week   int
	// WelcomeBack marks the first message after a pause: it opens with a
	// short welcome back.
	WelcomeBack bool
	// Sender, when set, is who the message is from instead of the service:
	// a clinic's display name. It opens every text and is {{.Sender}}.
	Sender string
	// SignOff, when set, closes an email ("Your care team"), followed by
	// the Sender.
	SignOff string
	// InviteAnswer makes a check-in or gratitude message invite an answer
	// (see answer.go): the worker sets it for every nudge it sends.
	InviteAnswer bool
	// Country is the person's country (crisis.CountryFor), for the crisis
	// resources in the footer; "" gives the advice for anywhere.
	Country string
	// ClinicCrisis is a clinic's own crisis line, added to the footer of
	// its clients' emails.
	ClinicCrisis string
	// Month, when set, opens a monthly review with the subscriber's month
	// in numbers (see month.go).
	Month *review.Summary
}

// Links are the links an email carries. Every URL is absolute, http or https
// (the configuration insists on https in production).
type Links struct {
	Manage, Unsubscribe string // always in the footer; required
	Action              string // optional: the button's URL (confirm link, …)
	ActionLabel         string // the button's text; required with Action
	// Answer are the answer page's links a check-in or gratitude email
	// invites an answer with (see answer.go); optional.
	Answer AnswerLinks
}

// Email is a rendered email.
type Email struct {
	Subject, Text, HTML string
}

// Renderer renders messages. It is safe for concurrent use.
type Renderer struct {
	lib  *templates.Library
	opts Options
	// onPage, when set (by tests), is given every page laid out.
	onPage func(page)
}

// New returns a Renderer for the messages of lib.
func New(lib *templates.Library, opts Options) *Renderer {
	if opts.ServiceName == "" {
		opts.ServiceName = "nudge"
	}
	return &Renderer{lib: lib, opts: opts}
}

// page is what writeLayout lays out.
type page struct {
	Lang, Subject                   string
	Blocks                          []block
	Action, ActionLabel, ButtonHint string
	Manage, ManageLabel             string
	Unsubscribe, UnsubscribeLabel   string
	SignOff                         []string // lines closing the body
	Address                         []string
	Crisis                          string
	Invite                          *invitation // the answer links, when the message asks for one
	Month                           *monthView  // a monthly review's numbers, before the blocks
}

// pageExtra are the parts of a page only some messages have.
type pageExtra struct {
	invite *invitation
	month  *monthView
}

// block is a rendered body block: plain text, escaped by the layout.
type block struct {
	List  bool
	Items []string
}

// Email renders m as an email for d, with links l.
func (r *Renderer) Email(m *templates.Message, d Data, l Links) (Email, error) {
	if m == nil {
		return Email{}, errors.New("render email: no message")
	}
	if m.Subject == nil || len(m.Body) == 0 {
		return Email{}, fmt.Errorf("render email %s: the message has no subject or no body", m.File)
	}
	if err := l.check(); err != nil {
		return Email{}, fmt.Errorf("render email %s: %w", m.File, err)
	}
	locale := messageLocale(m, d)
	lb := labelsFor(locale)
	v := r.vars(d)

	subject, err := r.exec(m.Subject, v, locale)
	if err != nil {
		return Email{}, fmt.Errorf("render email %s: subject: %w", m.File, err)
	}
	blocks := make([]block, 0, len(m.Body)+1)
	if d.WelcomeBack {
		blocks = append(blocks, block{Items: []string{lb.welcomeBack}})
	}
	for _, b := range m.Body {
		out := block{List: b.List}
		for _, it := range b.Items {
			s, err := r.exec(it, v, locale)
			if err != nil {
				return Email{}, fmt.Errorf("render email %s: body: %w", m.File, err)
			}
			if s != "" {
				out.Items = append(out.Items, s)
			}
		}
		if len(out.Items) > 0 {
			blocks = append(blocks, out)
		}
	}

	inv, err := emailInvitation(m, d, locale, l.Answer)
	if err != nil {
		return Email{}, fmt.Errorf("render email %s: %w", m.File, err)
	}
	extra := pageExtra{invite: inv}
	if isMonthReview(m, d) {
		extra.month = monthNumbers(d.Month, locale, func(s string) string { return cleanText(s, maxNoteLen) })
	}
	e, err := r.page(locale, subject, blocks, d, l, extra)
	if err != nil {
		return Email{}, fmt.Errorf("render email %s: %w", m.File, err)
	}
	return e, nil
}

// page lays out an email: the blocks, the button, the sign-off and the footer.
func (r *Renderer) page(locale, subject string, blocks []block, d Data, l Links, extra pageExtra) (Email, error) {
	lb := labelsFor(locale)
	p := page{
		Lang:             locale,
		Subject:          subject,
		Blocks:           blocks,
		SignOff:          signOff(d),
		Action:           l.Action,
		ActionLabel:      l.ActionLabel,
		ButtonHint:       lb.buttonHint,
		Manage:           l.Manage,
		ManageLabel:      lb.manage,
		Unsubscribe:      l.Unsubscribe,
		UnsubscribeLabel: lb.unsubscribe,
		Address:          addressLines(r.opts.PostalAddress),
		Crisis:           r.crisisLine(locale, d),
		Invite:           extra.invite,
		Month:            extra.month,
	}
	if r.onPage != nil {
		r.onPage(p)
	}
	var html strings.Builder
	html.Grow(8 << 10)
	writeLayout(&html, &p)
	return Email{Subject: subject, Text: plainText(&p), HTML: html.String()}, nil
}

// signOff is the lines that close an email from a clinic: its sign-off and
// its name (once, if the sign-off already names it); none without a sign-off.
func signOff(d Data) []string {
	so := cleanText(d.SignOff, MaxNameLen+MaxSenderLen)
	if so == "" {
		return nil
	}
	lines := []string{so}
	if sender := cleanText(d.Sender, MaxSenderLen); sender != "" && !strings.Contains(strings.ToLower(so), strings.ToLower(sender)) {
		lines = append(lines, sender)
	}
	return lines
}

// TextEmail renders a clinic's own text as an email for d, with links l:
// a neutral subject naming the sender ("A note from …"), a greeting, the
// text as it was written (cleaned, never executed as a template), the
// sign-off and the usual footer.
func (r *Renderer) TextEmail(text string, d Data, l Links) (Email, error) {
	body := cleanText(text, maxOwnTextLen)
	if body == "" {
		return Email{}, errors.New("render email: no text")
	}
	if err := l.check(); err != nil {
		return Email{}, fmt.Errorf("render email: %w", err)
	}
	locale := textLocale(d)
	lb := labelsFor(locale)
	greeting := lb.greeting
	if name := cleanText(d.FirstName, MaxNameLen); name != "" {
		greeting = strings.ReplaceAll(greeting, nameMark, name)
	} else {
		greeting = dropName(greeting, locale)
	}
	blocks := []block{{Items: []string{greeting}}}
	if d.WelcomeBack {
		blocks = append(blocks, block{Items: []string{lb.welcomeBack}})
	}
	blocks = append(blocks, block{Items: []string{body}})
	subject := strings.ReplaceAll(lb.noteFrom, nameMark, r.sender(d))
	e, err := r.page(locale, subject, blocks, d, l, pageExtra{})
	if err != nil {
		return Email{}, fmt.Errorf("render email: %w", err)
	}
	return e, nil
}

// textLocale is the language a clinic's own text is framed in: the person's.
func textLocale(d Data) string {
	if d.Locale != "" {
		return strings.ToLower(d.Locale)
	}
	return templates.Fallback
}

// sender is who a message is from: d's sender, or the service.
func (r *Renderer) sender(d Data) string {
	if s := cleanText(d.Sender, MaxSenderLen); s != "" {
		return s
	}
	return r.opts.ServiceName
}

// check reports a link a message must not carry.
func (l Links) check() error {
	for _, u := range []struct{ name, url string }{{"manage", l.Manage}, {"unsubscribe", l.Unsubscribe}, {"action", l.Action}} {
		if u.url == "" {
			if u.name == "action" {
				continue
			}
			return fmt.Errorf("no %s link", u.name)
		}
		p, err := url.Parse(u.url)
		if err != nil || (p.Scheme != "https" && p.Scheme != "http") || p.Host == "" {
			return fmt.Errorf("%s link %q is not an absolute http(s) URL", u.name, u.url)
		}
	}
	if l.Action != "" && strings.TrimSpace(l.ActionLabel) == "" {
		return errors.New("action link without a label")
	}
	return nil
}

// messageLocale is the language the message is written in.
func messageLocale(m *templates.Message, d Data) string {
	switch {
	case m.Locale != "":
		return m.Locale
	case d.Locale != "":
		return strings.ToLower(d.Locale)
	}
	return templates.Fallback
}

// crisisLine returns the footer's crisis line: with a directory, the
// resources of the person's country in the message's language; without,
// the line for locale, its language or English. A clinic's own line follows.
func (r *Renderer) crisisLine(locale string, d Data) string {
	lang, _, _ := strings.Cut(locale, "-")
	line := ""
	if r.opts.Crisis != nil {
		line = labelsFor(locale).notMonitored + " " + r.opts.Crisis.Email(d.Country, lang)
	} else {
		for _, k := range []string{locale, lang, templates.Fallback} {
			if s := strings.TrimSpace(r.opts.CrisisLine[k]); s != "" {
				line = s
				break
			}
		}
	}
	if c := cleanText(d.ClinicCrisis, maxOwnTextLen); c != "" {
		line = strings.TrimSpace(line + " " + c)
	}
	return line
}

func addressLines(s string) []string {
	var lines []string
	for line := range strings.SplitSeq(strings.ReplaceAll(s, "\r\n", "\n"), "\n") {
		if line = strings.TrimSpace(line); line != "" {
			lines = append(lines, line)
		}
	}
	return lines
}

// vars cleans what the person typed before it reaches a template.
func (r *Renderer) vars(d Data) templates.Vars {
	return templates.Vars{
		FirstName: cleanText(d.FirstName, MaxNameLen),
		Goal:      cleanText(d.Goal, maxGoalLen),
		Sender:    r.sender(d),
	}
}

// cleanText makes typed text safe to put in a message: valid UTF-8 in NFC,
// no control, formatting or private-use characters, white space folded,
// at most max characters.
func cleanText(s string, max int) string {
	s = norm.NFC.String(strings.ToValidUTF8(s, ""))
	var b strings.Builder
	for _, r := range s {
		switch {
		case unicode.IsSpace(r):
			b.WriteByte(' ')
		case unicode.Is(unicode.Cc, r), unicode.Is(unicode.Co, r), r == utf8.RuneError:
		case unicode.Is(unicode.Cf, r) && r != '\u200c' && r != '\u200d':
			// Bidi overrides and invisible marks can disguise a name; the two
			// joiners are kept because some scripts' names need them.
		default:
			b.WriteRune(r)
		}
	}
	s = strings.Join(strings.Fields(b.String()), " ")
	if utf8.RuneCountInString(s) > max {
		s = strings.TrimSpace(string([]rune(s)[:max]))
	}
	return s
}

// nameMark stands in for a missing name while a template runs, so that the
// sentence around it can be mended afterwards. It is a private-use
// character, which cleanText removes from every name.
const nameMark = "\uE000"

// exec runs one template of a message. Without a first name it runs with
// nameMark in its place and mends the result (see the package doc).
func (r *Renderer) exec(t *texttemplate.Template, v templates.Vars, locale string) (string, error) {
	if v.FirstName != "" {
		return templates.Execute(t, v)
	}
	v.FirstName = nameMark
	s, err := templates.Execute(t, v)
	if err != nil {
		return "", err
	}
	return dropName(s, locale), nil
}
