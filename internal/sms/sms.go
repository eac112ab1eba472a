// Package sms is nudge's SMS channel: it sends a message through Twilio's
// REST API with the official client (twilio-go) over a pool of kept-alive
// connections, and it is the one place that decides what a Twilio failure
// means.
//
// # Outcomes
//
// Send returns the message SID when Twilio created the message, and
// otherwise a *SendError whose Class tells the caller what to do:
//
//   - Temporary: not sent; retry later. Twilio answered 429 or 5xx, or the
//     request never reached Twilio whole (a refused or failed dial, a TLS
//     failure, a connection that broke while the request was being
//     written, a context cancelled before that).
//   - Permanent: not sent and never will be as it is: any other 4xx answer
//     (21211 invalid number, 21610 unsubscribed recipient, 21612, 21614 not
//     a mobile number, 21635 landline, a refused login, …), or a message
//     without a recipient or a body. OptedOut tells the 21610 case apart,
//     and SendError.RecipientFault the failures that are the number's fault
//     (the only ones that should count towards suppressing it).
//   - Unknown: the whole request was written to the connection and then no
//     usable answer came (the connection dropped, the timeout passed, or a
//     2xx answer could not be read). Twilio may have queued the message, and
//     it has no idempotency key: never resend automatically. Such errors
//     match ErrUnknownOutcome with errors.Is.
//
// Classify maps any error (nil included) to its Class.
//
// # Before or after the request was written
//
// The line between Temporary and Unknown is whether every byte of the
// request was handed to the operating system. Send finds out with two
// instruments. An httptrace.ClientTrace's WroteRequest hook reports that
// net/http has finished writing the request, but it fires when the last
// bytes are in the transport's write buffer, before the buffer is flushed
// to the socket. So the connections are dialled by this package and wrapped
// (above TLS, so that a TLS close_notify written while the transport tears
// a broken connection down does not count) in a conn that remembers whether
// any Write failed. The request counts as written when WroteRequest reported
// no error and no Write on its connection failed. A connection is used by
// one request at a time and discarded after any error, so a failed Write is
// this request's. When the connection is not one this package dialled (a
// proxy tunnel from HTTPS_PROXY), only WroteRequest is used: that errs
// towards Unknown, never towards a duplicate.
//
// net/http itself resends a POST only when nothing of it was written (on a
// pooled connection the server had closed), which cannot duplicate a
// message. Send also refuses to let twilio-go make a second request for one
// message.
//
// # Cancellation
//
// The context passed to Send bounds everything up to the moment the request
// has been written. After that Send waits for Twilio's answer for up to
// Config.Timeout whatever the context says, because abandoning the wait
// would turn a message Twilio has most likely accepted into an Unknown one.
// A worker's shutdown timeout should therefore exceed Config.Timeout.
//
// # Privacy
//
// Nothing here logs a phone number or a message body: logs carry SIDs,
// statuses and error codes. SendError's text leaves out Twilio's error
// message, which can quote the recipient's number.
package sms

import (
	"errors"
	"fmt"
	"net/http"
	"strings"

	"github.com/twilio/twilio-go/client"
)

// Class is what the outcome of a send means for the caller.
type Class int

// The classes of outcome. Accepted is the zero value: the class of a nil error.
const (
	// Accepted: Twilio created the message.
	Accepted Class = iota
	// Temporary: not sent; retry with backoff.
	Temporary
	// Permanent: not sent; do not retry.
	Permanent
	// Unknown: the request reached the connection whole and no usable
	// answer came back; Twilio may have queued the message. Never resend
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

// Twilio error codes this package gives a meaning to
// (https://www.twilio.com/docs/api/errors).
const (
	CodeTooManyRequests = 20429 // the account's API rate limit
	CodeInvalidTo       = 21211 // the 'To' number is not a valid phone number
	CodeUnsubscribed    = 21610 // the recipient texted STOP; Twilio refuses until START
	CodeUnreachable     = 21612 // this 'To' and 'From' cannot be connected
	CodeNotMobile       = 21614 // the 'To' number is not a mobile number
	CodeLandline        = 21635 // the 'To' number is a landline
)

// ErrUnknownOutcome is matched (errors.Is) by every error of class Unknown.
var ErrUnknownOutcome = errors.New("sms: outcome unknown: Twilio may have queued the message")

// ErrInvalidMessage is the cause of a Permanent SendError for a message
// without a recipient or a body.
var ErrInvalidMessage = errors.New("sms: message needs a recipient and a body")

// SendError is the error Send returns when Twilio did not (knowingly) create
// the message. Its text never contains a phone number or a message body.
type SendError struct {
	Class Class
	// Status is the HTTP status of Twilio's answer, or 0 when no answer
	// arrived.
	Status int
	// Code is Twilio's error code from the answer's body, or 0.
	Code int
	// Written reports whether the whole request reached the connection.
	Written bool

	err error // the cause; a *client.TwilioRestError's text may hold the number
}

// Error describes the failure without Twilio's message text.
func (e *SendError) Error() string {
	var b strings.Builder
	if e.Class == Unknown {
		b.WriteString("sms: outcome unknown")
	} else {
		fmt.Fprintf(&b, "sms: %s failure", e.Class)
	}
	switch {
	case e.Status != 0:
		fmt.Fprintf(&b, ": twilio answered %d", e.Status)
		if e.Code != 0 {
			fmt.Fprintf(&b, " with error %d (https://www.twilio.com/docs/errors/%d)", e.Code, e.Code)
		}
	case e.Written:
		b.WriteString(": request written, no answer")
	case errors.Is(e.err, ErrInvalidMessage):
	default:
		b.WriteString(": request not sent")
	}
	var rest *client.TwilioRestError
	if e.err != nil && !errors.As(e.err, &rest) {
		// Network and decoding errors name the API URL (with the account
		// SID, an id), never the recipient.
		b.WriteString(": ")
		b.WriteString(strings.TrimPrefix(e.err.Error(), "sms: "))
	}
	return b.String()
}

// Unwrap returns the cause: a *client.TwilioRestError when Twilio answered
// with an error, a network or context error otherwise. A TwilioRestError's
// Message may quote the phone number: inspect it, do not log it.
func (e *SendError) Unwrap() error { return e.err }

// Is makes every Unknown SendError match ErrUnknownOutcome.
func (e *SendError) Is(target error) bool {
	return target == ErrUnknownOutcome && e.Class == Unknown
}

// RecipientFault reports whether Twilio refused the message because of the
// recipient's number itself: not a valid number (21211), not a mobile
// (21614), a landline (21635), or opted out (21610). Only such failures
// should count towards suppressing a number; other permanent failures (a
// refused login, a sender not allowed to reach a country, 21612's pairing of
// sender and recipient) are the sender's to fix, and counting them would
// suppress every subscriber at once.
func (e *SendError) RecipientFault() bool {
	if e.Class != Permanent {
		return false
	}
	switch e.Code {
	case CodeInvalidTo, CodeNotMobile, CodeLandline, CodeUnsubscribed:
		return true
	}
	return false
}

// Classify returns the Class of an error from Send: Accepted for nil, the
// SendError's Class, or, for an error straight from twilio-go, the class
// Twilio's status and code give. An error of any other origin is Unknown:
// without knowing whether the request reached Twilio, resending could
// duplicate the message.
func Classify(err error) Class {
	if err == nil {
		return Accepted
	}
	var se *SendError
	if errors.As(err, &se) {
		return se.Class
	}
	if errors.Is(err, ErrInvalidMessage) {
		return Permanent
	}
	var rest *client.TwilioRestError
	if errors.As(err, &rest) {
		return classifyAnswer(rest.Status, rest.Code)
	}
	return Unknown
}

// OptedOut reports whether Twilio refused the message because the recipient
// has opted out (21610, after they texted STOP): the caller records the
// opt-out.
func OptedOut(err error) bool {
	return twilioCode(err) == CodeUnsubscribed
}

// twilioCode returns the Twilio error code carried by err, or 0.
func twilioCode(err error) int {
	var se *SendError
	if errors.As(err, &se) && se.Code != 0 {
		return se.Code
	}
	var rest *client.TwilioRestError
	if errors.As(err, &rest) {
		return rest.Code
	}
	return 0
}

// classify is the rule for a send that Twilio did not knowingly accept:
// status is the HTTP status of the answer (0 for none), code Twilio's error
// code (0 for none), written whether the whole request reached the
// connection.
func classify(status, code int, written bool) Class {
	if status == 0 {
		if written {
			return Unknown
		}
		return Temporary
	}
	return classifyAnswer(status, code)
}

// classifyAnswer classifies an answer from Twilio that did not give us a
// message SID.
func classifyAnswer(status, code int) Class {
	switch {
	case status >= 200 && status < 300:
		// Created, but the body could not be read: Twilio has it.
		return Unknown
	case status == http.StatusTooManyRequests || code == CodeTooManyRequests:
		return Temporary
	case status >= 500:
		return Temporary
	case status >= 400:
		return Permanent
	default:
		// 1xx or 3xx (an API URL that redirects): nothing was created,
		// and the fault is the configuration's, not the message's.
		return Temporary
	}
}
