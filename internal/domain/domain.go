// Package domain holds the types every part of nudge shares: programs, channels,
// subscribers, schedules and the one error type that carries a code to the edge.
// It depends on nothing but the standard library.
package domain

import (
	"errors"
	"fmt"
	"time"
)

// Program names one series of messages. The names are used everywhere:
// templates, API, CLI and Redis keys.
type Program string

// The programs nudge sends.
const (
	WeeklyCheckin  Program = "weekly-checkin"
	Gratitude      Program = "gratitude"
	MonthlyReview  Program = "monthly-review"
	BetweenSession Program = "between-session"
)

// PublicPrograms are the programs a person can choose on the signup form, in
// the order the form shows them.
var PublicPrograms = []Program{WeeklyCheckin, Gratitude, MonthlyReview}

// Valid reports whether p is a program nudge knows.
func (p Program) Valid() bool {
	switch p {
	case WeeklyCheckin, Gratitude, MonthlyReview, BetweenSession:
		return true
	}
	return false
}

// Channel is how a message reaches a person.
type Channel string

// The channels nudge delivers over.
const (
	Email Channel = "email"
	SMS   Channel = "sms"
)

// Status is where a subscriber stands.
type Status string

// Subscriber statuses.
const (
	// Pending: signed up, has not confirmed; nothing but the confirmation is sent.
	Pending Status = "pending"
	// Active: confirmed; schedules are planned.
	Active Status = "active"
	// Unsubscribed: opted out of everything; nothing is sent.
	Unsubscribed Status = "unsubscribed"
	// Discharged: a clinic's client whose care ended; nothing is sent, the
	// record is kept for the retention period (or until it is removed).
	Discharged Status = "discharged"
)

// Subscriber is one person on the public list, or one client of a clinic.
type Subscriber struct {
	ID string
	// Clinic is the id of the clinic that enrolled this person, or "" for
	// the public list. A clinic's clients are a list of their own: the same
	// address can be a public subscriber and a client, with separate
	// consent, schedules and opt-outs (except SMS STOP, which the carrier
	// applies to every message from our number).
	Clinic    string
	FirstName string
	Email     string
	TimeZone  string // IANA name
	Locale    string // "en", "es"
	// Goal is the person's own words for one connection they would like to
	// strengthen (optional, at most GoalMaxLen characters).
	Goal        string
	Status      Status
	CreatedAt   time.Time
	ConfirmedAt time.Time // zero until confirmed
	// EmailConfirmed is true once the address itself was confirmed through
	// the double opt-in link; no nudge is emailed before.
	EmailConfirmed bool
	// Phone is a mobile number in E.164 form, or "".
	Phone string
	// Channels are the channels nudges go out on; empty means email only.
	Channels []Channel
	// SMSStatus is the consent state of Phone: "" (no SMS), pending (asked
	// to reply YES), active, or stopped (said STOP).
	SMSStatus SMSStatus
	// SMSAskedAt is when the latest text asking the number to reply YES
	// went out; a YES confirms only a request that is recent enough.
	SMSAskedAt time.Time
	// SMSConfirmedAt is when the number's owner last confirmed texts (YES or
	// START from the number); zero while they never did.
	SMSConfirmedAt time.Time
	// SMSFooterAt is when the last text carrying the opt-out words went out.
	SMSFooterAt time.Time
	// PausedUntil, while in the future, holds back every nudge.
	PausedUntil time.Time
	// DistressAt is when a reply in distress held the person's nudges back;
	// they stay held (after one gentle check-in, GentleAt) until the person
	// chooses to resume. Zero when not held.
	DistressAt, GentleAt time.Time
	// LastNudge names the latest nudge sent ("<program>:<date>"), which a
	// reply is taken to answer.
	LastNudge string
}

// SMSStatus is where a subscriber's SMS consent stands.
type SMSStatus string

// SMS consent states.
const (
	SMSNone    SMSStatus = ""
	SMSPending SMSStatus = "pending"
	SMSActive  SMSStatus = "active"
	SMSStopped SMSStatus = "stopped"
)

// Wants reports whether nudges should go out on channel c: chosen, and
// for SMS, consented to.
func (s Subscriber) Wants(c Channel) bool {
	chosen := len(s.Channels) == 0 && c == Email
	for _, ch := range s.Channels {
		chosen = chosen || ch == c
	}
	switch c {
	case Email:
		return chosen && s.Email != "" && s.EmailConfirmed
	case SMS:
		return chosen && s.Phone != "" && s.SMSStatus == SMSActive
	}
	return false
}

// GoalMaxLen keeps a goal short enough to read in a message (and the
// subscriber's Redis hash compact).
const GoalMaxLen = 60

// Schedule is one program's rule for one subscriber.
type Schedule struct {
	SubscriberID string
	Program      Program
	Rule         string // as written everywhere, e.g. "weekly:sun@09:00"
	// Version grows with every change of the schedule; a queued task carries
	// the version it was planned from, and a task for an older version is not sent.
	Version int64
	// Step is the index of the next message in the program's series.
	Step int64
	// Next is the next planned instant; zero when the schedule is not planned.
	Next time.Time
}

// Clinic is a tenant: a practice whose clients get between-session prompts.
// Its data is its own; nothing of one clinic is visible to another.
type Clinic struct {
	ID string
	// Name is the operator's name for the clinic; it never appears in a message.
	Name string
	// DisplayName signs the clinic's messages and opens its texts. It should
	// be neutral: a clinic's own name can disclose treatment on a lock screen.
	DisplayName string
	// SignOff closes the clinic's emails ("Your care team").
	SignOff string
	// HelpText is the clinic's own contact line, added to the answer to
	// HELP from its clients ("" for none).
	HelpText string
	// CrisisText is the clinic's own crisis line, added to the crisis
	// resources its clients are given ("" for none).
	CrisisText string
	// WebhookURL receives the clinic's signed events; "" for none.
	WebhookURL string
	// CapDay and CapWeek limit prompts per client: at most CapDay in one
	// local day and CapWeek in any seven days.
	CapDay, CapWeek int
	// TimeZone is the clinic's own zone (IANA), for what is planned by the
	// clinic's week rather than a client's: its staff's weekly digest. ""
	// is UTC.
	TimeZone  string
	CreatedAt time.Time
}

// Frequency caps for a clinic's prompts: the defaults, and the most a clinic
// may configure (never above the default's double).
const (
	DefaultCapDay  = 1
	DefaultCapWeek = 3
	MaxCapDay      = 2 * DefaultCapDay
	MaxCapWeek     = 2 * DefaultCapWeek
)

// Prompt is one between-session prompt a clinic set for a client: a rule
// placing it (an absolute instant, or relative to each session) and either
// a message of the between-session library or the clinic's own short text.
type Prompt struct {
	ID       string
	ClientID string
	// Rule is the canonical prompt rule: "at:2026-12-03T18:00:00Z",
	// "session+2d@18:00", "session-1d@19:00", "session+2h".
	Rule string
	// Template is the number (1-based) of a between-session library message,
	// or 0 when Text is used.
	Template int
	// Text is the clinic's own words (control characters stripped, length
	// checked for SMS), or "".
	Text      string
	CreatedAt time.Time
}

// Error codes. Each maps to one HTTP status at the edge.
const (
	ErrInvalid      = "invalid"      // the input is wrong; the message says how
	ErrNotFound     = "not_found"    // no such thing, or not yours
	ErrConflict     = "conflict"     // it exists already
	ErrExpired      = "expired"      // a link or token is too old
	ErrForbidden    = "forbidden"    // not allowed
	ErrUnauthorized = "unauthorized" // no credentials, or not valid ones
	ErrRateLimited  = "rate_limited" // too many requests; wait and try again
	ErrInternal     = "internal"     // our fault; logged, never shown in detail
)

// Error is an error a person can be shown: a code and a message.
type Error struct {
	Code    string
	Message string
}

func (e *Error) Error() string { return fmt.Sprintf("%s: %s", e.Code, e.Message) }

// Errorf returns an *Error with the code and a formatted message.
func Errorf(code, format string, args ...any) *Error {
	return &Error{Code: code, Message: fmt.Sprintf(format, args...)}
}

// ErrorCode returns the code of the first *Error in err's chain, or ErrInternal.
func ErrorCode(err error) string {
	var e *Error
	if errors.As(err, &e) {
		return e.Code
	}
	return ErrInternal
}
