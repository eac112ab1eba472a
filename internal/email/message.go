package email

import (
	"errors"
	"fmt"
	"net/textproto"
	"slices"
	"strings"

	"github.com/wneessen/go-mail"
)

// reserved reports whether a header field (in canonical form) is one this
// package sets itself, which Message.Headers may not replace.
func reserved(canonical string) bool {
	switch canonical {
	case "From", "To", "Cc", "Bcc", "Sender", "Subject", "Date", "Message-Id",
		"Mime-Version", "Content-Type", "Content-Transfer-Encoding", "Return-Path", "Dkim-Signature":
		return true
	}
	return false
}

// maxLine is RFC 5322's limit on a line, CRLF excluded.
const maxLine = 998

// buildError is a message that cannot be built. Its text names the field,
// never the value (which may be an address).
type buildError struct {
	field string
	err   error
}

func (e *buildError) Error() string { return "invalid " + e.field }
func (e *buildError) Unwrap() error { return e.err }

// build turns m into a go-mail message: multipart/alternative when there is
// HTML, quoted-printable UTF-8 parts, Date from the sender's clock, and a
// DKIM signature when SMTPConfig.DKIM is set.
func (s *SMTP) build(m Message) (*mail.Msg, error) {
	msg := mail.NewMsg(mail.WithNoDefaultUserAgent())
	if err := msg.From(m.From); err != nil {
		return nil, &buildError{"From address", err}
	}
	if err := msg.To(m.To); err != nil {
		return nil, &buildError{"To address", err}
	}
	// A line break in a subject (a name typed into a form, say) would start
	// a new header field: fold it into a space instead.
	msg.Subject(strings.Map(func(r rune) rune {
		if r == '\r' || r == '\n' || r == '\t' || r == 0 {
			return ' '
		}
		return r
	}, m.Subject))
	msg.SetDateWithValue(s.now())

	if m.MessageID != "" {
		id := strings.TrimSuffix(strings.TrimPrefix(m.MessageID, "<"), ">")
		if err := checkMessageID(id); err != nil {
			return nil, &buildError{"Message-ID", err}
		}
		msg.SetMessageIDWithValue(id)
	}

	if m.Text == "" {
		return nil, &buildError{"body", errors.New("the plain-text part is empty")}
	}
	msg.SetBodyString(mail.TypeTextPlain, m.Text)
	if m.HTML != "" {
		msg.AddAlternativeString(mail.TypeTextHTML, m.HTML)
	}

	names := make([]string, 0, len(m.Headers))
	for name := range m.Headers {
		names = append(names, name)
	}
	slices.Sort(names)
	for _, name := range names {
		value := m.Headers[name]
		if err := checkHeader(name, value); err != nil {
			return nil, &buildError{"header " + name, err}
		}
		if isASCII(value) {
			msg.SetGenHeaderPreformatted(mail.Header(name), value)
		} else {
			msg.SetGenHeader(mail.Header(name), value)
		}
	}
	if s.cfg.DKIM != nil {
		if err := s.sign(msg); err != nil {
			return nil, &buildError{"message (DKIM signing)", err}
		}
	}
	return msg, nil
}

// checkMessageID accepts an id-left "@" id-right with no space, angle
// bracket, quote or control character.
func checkMessageID(id string) error {
	left, right, ok := strings.Cut(id, "@")
	if !ok || left == "" || right == "" || strings.Contains(right, "@") || len(id) > 250 {
		return errors.New("not of the form id@host")
	}
	for i := 0; i < len(id); i++ {
		if c := id[i]; c <= ' ' || c >= 0x7f || c == '<' || c == '>' || c == '"' || c == '\\' {
			return fmt.Errorf("character %q not allowed", c)
		}
	}
	return nil
}

// checkHeader rejects a field name that is not an RFC 5322 field name or is
// one this package sets, and a value that would break the header block.
func checkHeader(name, value string) error {
	if name == "" {
		return errors.New("empty field name")
	}
	for i := 0; i < len(name); i++ {
		if c := name[i]; c <= ' ' || c >= 0x7f || c == ':' {
			return fmt.Errorf("character %q not allowed in a field name", c)
		}
	}
	if reserved(textproto.CanonicalMIMEHeaderKey(name)) {
		return errors.New("set by the email package, not by Headers")
	}
	if strings.ContainsAny(value, "\r\n\x00") {
		return errors.New("line break in the value")
	}
	if len(name)+2+len(value) > maxLine {
		return fmt.Errorf("longer than %d characters", maxLine)
	}
	return nil
}

func isASCII(s string) bool {
	for i := 0; i < len(s); i++ {
		if s[i] >= 0x80 {
			return false
		}
	}
	return true
}
