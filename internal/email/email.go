// Package email is nudge's email channel: it builds a message (plain text and
// HTML, a stable Message-ID, List-Unsubscribe headers) and sends it over SMTP
// through a small pool of open connections (go-mail), and it is the one place
// that decides what an SMTP failure means.
//
// # Outcomes
//
// Send returns nil when the relay accepted the message, and otherwise a
// *SendError whose Class tells the caller what to do:
//
//   - Temporary: not delivered; retry later (4xx replies, a connection that
//     failed or dropped before the message was complete, a refused login).
//   - Permanent: not delivered and never will be as it is (5xx replies, a
//     message that cannot be built). Whether the recipient's address is to
//     blame is a narrower question: see SendError.RecipientFault.
//   - Unknown: the connection broke after the final "." was sent and before
//     the relay answered. The relay may have the message. Never resend it
//     automatically: a duplicate is worse than a rare miss. Such errors match
//     ErrUnknownOutcome with errors.Is.
//
// Classify maps any error (nil included) to its Class; Accepted is the class
// of nil, and of an error that arrived after the relay had already accepted the
// message (go-mail reports, for example, a failed RSET after delivery as an
// error: Msg.IsDelivered is checked first). Send itself returns nil in that
// case and logs the late error.
//
// # Connections
//
// SMTP keeps up to PoolSize connections open and sends message after message
// on each (MAIL, RCPT, DATA, end of data: four round trips a message; the
// NOOP and RSET go-mail adds by default are switched off, as neither is
// needed on a connection that is discarded after any error). A connection
// that failed in any way is closed, never reused. A pooled connection that
// the relay closed while idle (or one idle longer than a minute, which a NAT
// may have dropped silently) is replaced before the message is sent; if a
// reused connection fails before the relay has answered MAIL FROM (or answers
// 421), the message is tried once more on a fresh connection, which is safe
// because nothing of it has been accepted.
//
// The context passed to Send bounds waiting for a connection and dialling. Once
// a transaction has started it runs to its end, bounded by SMTPConfig.Timeout,
// because abandoning it halfway could leave its outcome unknown.
//
// # DKIM
//
// With SMTPConfig.DKIM set, every message is DKIM-signed when it is built,
// List-Unsubscribe and List-Unsubscribe-Post included (see DKIMConfig for the
// fields covered).
//
// Nothing here logs an address, a subject or a body: logs carry Message-IDs
// and connection numbers, and SendError's text has every word containing an
// "@" replaced.
package email

import (
	"errors"
	"fmt"
	"net/textproto"
	"strconv"
	"strings"

	"github.com/wneessen/go-mail"
)

// Message is one email to one recipient.
type Message struct {
	From    string // "Name <address>" or an address
	To      string // one recipient
	Subject string // line breaks are replaced by spaces
	Text    string // required: the plain-text part
	HTML    string // optional: the HTML alternative
	// MessageID is the stable id we set, with or without angle brackets
	// ("<occurrence-id@host>"). Empty means a random one.
	MessageID string
	// Headers are extra header fields, set verbatim (non-ASCII values are
	// RFC 2047-encoded), e.g. List-Unsubscribe and List-Unsubscribe-Post.
	// They may not replace a header this package sets (From, To, Subject,
	// Date, Message-ID, MIME and Content-* fields, DKIM-Signature), nor
	// contain a line break.
	Headers map[string]string
}

// Class is what the outcome of a send means for the caller.
type Class int

// The classes of outcome. Accepted is the zero value: the class of a nil error.
const (
	// Accepted: the relay took the message, possibly with an error afterwards
	// (a failed RSET or QUIT) that does not change that.
	Accepted Class = iota
	// Temporary: not delivered; retry with backoff.
	Temporary
	// Permanent: not delivered; do not retry.
	Permanent
	// Unknown: the connection was lost after the end of the message and
	// before the relay's reply; it may have the message. Never resend
	// automatically.
	Unknown
)

// String returns the class's name in lower case.
func (c Class) String() string {
	switch c {
	case Accepted:
		return "accepted"
	case Temporary:
		return "temporary"
	case Permanent:
		return "permanent"
	case Unknown:
		return "unknown"
	}
	return fmt.Sprintf("class(%d)", int(c))
}

// Stage is the step of sending at which a failure happened.
type Stage string

// The stages of sending a message.
const (
	StageBuild     Stage = "build"          // the message could not be built: our data, not the relay
	StageConnect   Stage = "connect"        // dial, greeting, EHLO, STARTTLS, AUTH, or a closed pool
	StageMailFrom  Stage = "MAIL FROM"      // the envelope sender
	StageRcptTo    Stage = "RCPT TO"        // the recipient
	StageData      Stage = "DATA"           // the DATA command, before any content
	StageContent   Stage = "content"        // writing the message, before the final "."
	StageEndOfData Stage = "end of data"    // the final "." and the relay's verdict
	StageAfter     Stage = "after delivery" // after the relay accepted the message
)

// ErrUnknownOutcome is matched (errors.Is) by every error of class Unknown.
var ErrUnknownOutcome = errors.New("email: outcome unknown: the relay may have accepted the message")

// ErrClosed is the cause of a Temporary SendError from Send after Close.
var ErrClosed = errors.New("email: SMTP sender closed")

// SendError is the error Send returns when a message was not (known to be)
// accepted. Its text never contains an address.
type SendError struct {
	Class Class
	Stage Stage
	// Code is the relay's reply code (421, 550, …), or 0 when no reply
	// was received (a network error) or the failure was ours.
	Code int
	// EnhancedCode is the RFC 3463 status ("5.1.1") when the relay sent one.
	EnhancedCode string
	// MessageID is the Message-ID of the message concerned.
	MessageID string

	detail string // the cause, addresses redacted
	err    error  // the cause as returned by go-mail; its text may hold addresses
}

// Error describes the failure without naming an address.
func (e *SendError) Error() string {
	var b strings.Builder
	if e.Class == Unknown {
		fmt.Fprintf(&b, "email: outcome unknown at %s", e.Stage)
	} else {
		fmt.Fprintf(&b, "email: %s failure at %s", e.Class, e.Stage)
	}
	if e.detail != "" {
		b.WriteString(": ")
		b.WriteString(e.detail)
	}
	return b.String()
}

// Unwrap returns the underlying error (often a *mail.SendError). Its text
// may contain addresses: inspect it, do not log it.
func (e *SendError) Unwrap() error { return e.err }

// Is makes every Unknown SendError match ErrUnknownOutcome.
func (e *SendError) Is(target error) bool {
	return target == ErrUnknownOutcome && e.Class == Unknown
}

// RecipientFault reports whether the relay refused the recipient's address
// itself: a permanent refusal at RCPT TO, or an RFC 3463 mailbox or address
// status (5.1.x, 5.2.x) at the end of data. Only such failures should count
// towards suppressing an address; other permanent failures (a refused
// sender, a rejected message, a relay misconfiguration) are the sender's to
// fix.
func (e *SendError) RecipientFault() bool {
	if e.Class != Permanent {
		return false
	}
	switch e.Stage {
	case StageRcptTo:
		return e.EnhancedCode == "" || strings.HasPrefix(e.EnhancedCode, "5.1.") || strings.HasPrefix(e.EnhancedCode, "5.2.")
	case StageEndOfData:
		return strings.HasPrefix(e.EnhancedCode, "5.1.") || strings.HasPrefix(e.EnhancedCode, "5.2.")
	}
	return false
}

// Classify returns the Class of an error from Send: Accepted for nil, the
// SendError's Class, or, for an error straight from go-mail, the class its
// stage and reply code give. An error of any other origin is Unknown: without
// knowing how far a transaction went, resending could duplicate the message.
func Classify(err error) Class {
	if err == nil {
		return Accepted
	}
	var se *SendError
	if errors.As(err, &se) {
		return se.Class
	}
	if errors.Is(err, ErrUnknownOutcome) {
		return Unknown
	}
	class, _, _, _ := classifyMail(err)
	return class
}

// classifyMail maps a go-mail error to its class, stage, reply code and
// enhanced status code. It is where the rules live:
//
//	delivered (Msg.IsDelivered) or RSET after delivery  → Accepted
//	connection check                                    → Temporary
//	MAIL FROM, RCPT TO, DATA command: 4xx or no reply   → Temporary; 5xx → Permanent
//	writing the content (the final "." not yet sent)    → Temporary
//	end of data: 4xx → Temporary, 5xx → Permanent, no reply → Unknown
//	anything else                                       → Unknown
func classifyMail(err error) (Class, Stage, int, string) {
	var me *mail.SendError
	if !errors.As(err, &me) {
		return Unknown, "", 0, ""
	}
	code, enhanced := me.ErrorCode(), me.EnhancedStatusCode()
	if msg := me.Msg(); msg != nil && msg.IsDelivered() {
		return Accepted, StageAfter, code, enhanced
	}
	switch me.Reason {
	case mail.ErrSMTPReset:
		// go-mail sends RSET only after the relay accepted the message.
		return Accepted, StageAfter, code, enhanced
	case mail.ErrConnCheck:
		return Temporary, StageConnect, code, enhanced
	case mail.ErrGetSender, mail.ErrGetRcpts, mail.ErrNoUnencoded:
		return Permanent, StageBuild, code, enhanced
	case mail.ErrSMTPMailFrom:
		return byReply(code), StageMailFrom, code, enhanced
	case mail.ErrSMTPRcptTo:
		return byReply(code), StageRcptTo, code, enhanced
	case mail.ErrSMTPData:
		return byReply(code), StageData, code, enhanced
	case mail.ErrWriteContent:
		return Temporary, StageContent, code, enhanced
	case mail.ErrSMTPDataClose:
		if code >= 400 && code < 600 {
			return byReply(code), StageEndOfData, code, enhanced
		}
		return Unknown, StageEndOfData, code, enhanced
	}
	return Unknown, "", code, enhanced
}

// byReply classifies a failure before the end of data, when the relay
// cannot have the message: 5xx is permanent, anything else (4xx, or no reply
// at all) temporary.
func byReply(code int) Class {
	if code >= 500 && code < 600 {
		return Permanent
	}
	return Temporary
}

// replyCode returns the SMTP reply code and enhanced status code inside err,
// if it carries one (a dial-time refusal such as a 535 at AUTH).
func replyCode(err error) (int, string) {
	var te *textproto.Error
	if !errors.As(err, &te) {
		return 0, ""
	}
	enhanced, _, _ := strings.Cut(te.Msg, " ")
	if !isEnhancedCode(enhanced) {
		enhanced = ""
	}
	return te.Code, enhanced
}

// isEnhancedCode reports whether s looks like an RFC 3463 status (4.2.1).
func isEnhancedCode(s string) bool {
	parts := strings.Split(s, ".")
	if len(parts) != 3 || (parts[0] != "2" && parts[0] != "4" && parts[0] != "5") {
		return false
	}
	for _, p := range parts[1:] {
		if p == "" || len(p) > 3 || strings.Trim(p, "0123456789") != "" {
			return false
		}
	}
	return true
}

// redact returns an error's text fit for logs: go-mail's stage prefix (the
// SendError says it already) and lists of affected recipients cut off,
// textproto's quoted replies unquoted, and every word containing an "@" (an
// address, or a Message-ID) replaced.
func redact(err error) string {
	if err == nil {
		return ""
	}
	s := err.Error()
	var me *mail.SendError
	if errors.As(err, &me) {
		s = strings.TrimPrefix(s, me.Reason.String()+": ")
	}
	for _, cut := range []string{", affected recipient(s): ", ", affected message ID: "} {
		if i := strings.Index(s, cut); i >= 0 {
			s = s[:i]
		}
	}
	s = unquoteReplies(s)
	words := strings.Fields(s)
	for i, w := range words {
		if strings.Contains(w, "@") {
			words[i] = "[redacted]"
		}
	}
	return strings.Join(words, " ")
}

// unquoteReplies turns textproto's `550 "5.1.1 text"` into `550 5.1.1 text`.
func unquoteReplies(s string) string {
	var b strings.Builder
	for {
		i := strings.Index(s, ` "`)
		if i < 3 || strings.Trim(s[i-3:i], "0123456789") != "" {
			if i < 0 {
				b.WriteString(s)
				return b.String()
			}
			b.WriteString(s[:i+2])
			s = s[i+2:]
			continue
		}
		quoted, err := strconv.QuotedPrefix(s[i+1:])
		if err != nil {
			b.WriteString(s[:i+2])
			s = s[i+2:]
			continue
		}
		text, _ := strconv.Unquote(quoted)
		b.WriteString(s[:i+1])
		b.WriteString(text)
		s = s[i+1+len(quoted):]
	}
}
