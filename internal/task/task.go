// Package task is the contract between the planner, the web tier and the
// worker: the task type names, their payloads (ids only, never an address or
// message text) and the constructors that set queue, id, retries and
// retention the same way everywhere.
package task

import (
	"encoding/json"
	"fmt"
	"strconv"
	"time"

	"github.com/hibiken/asynq"
	"github.com/nudgehq/nudge/internal/domain"
)

// Task type names, "domain:action" as asynq does.
const (
	TypeDeliverNudge     = "nudge:deliver"
	TypeSendConfirmation = "email:confirm"
	TypeSendNotice       = "email:notice"
	TypeSendSMSConfirm   = "sms:confirm"
	TypeDeliverPrompt    = "prompt:deliver"
	TypeDeliverWebhook   = "webhook:deliver"
	TypeSendConsoleLink  = "email:console_link"
)

// Queues, most urgent first. Confirmations wait behind nothing; nudges come
// next; webhooks and housekeeping take what is left.
const (
	QueueCritical = "critical"
	QueueDefault  = "default"
	QueueLow      = "low"
)

// Queues maps the queues of the main worker server to their priority
// weights: confirmations, then nudges and prompts.
func Queues() map[string]int {
	return map[string]int{QueueCritical: 6, QueueDefault: 3}
}

// LowQueues are the queues of the worker's second, small server: clinics'
// webhooks (and housekeeping). A slow or failing endpoint can hold only that
// server's few goroutines, never the ones nudges need.
func LowQueues() map[string]int {
	return map[string]int{QueueLow: 1}
}

// AllQueues lists every queue nudge uses.
func AllQueues() []string { return []string{QueueCritical, QueueDefault, QueueLow} }

const (
	// MaxRetry is small: a reminder that cannot go out within a few tries is
	// better recorded than sent hours late.
	MaxRetry = 4
	// Timeout bounds one attempt, comfortably above the slowest provider call.
	Timeout = 2 * time.Minute
	// Retention keeps a finished task (and so its id) for a while, so the
	// same occurrence cannot be enqueued again by a late planner.
	Retention = 48 * time.Hour
)

// DeliverNudge asks the worker to deliver one occurrence of a schedule.
type DeliverNudge struct {
	SubscriberID string         `json:"s"`
	Program      domain.Program `json:"p"`
	Date         string         `json:"d"`  // the occurrence's local date
	At           int64          `json:"at"` // the planned instant, Unix seconds
	Version      int64          `json:"v"`  // the schedule version it was planned from
	Step         int64          `json:"n"`  // which message of the series
}

// ID is the occurrence's task id: one per (subscriber, program, local date).
func (p DeliverNudge) ID() string {
	return p.SubscriberID + ":" + string(p.Program) + ":" + p.Date
}

// NewDeliverNudge builds the task for an occurrence, to be processed after
// delay (zero or negative: at once).
func NewDeliverNudge(p DeliverNudge, delay time.Duration) (*asynq.Task, error) {
	b, err := json.Marshal(p)
	if err != nil {
		return nil, fmt.Errorf("encode %s: %w", TypeDeliverNudge, err)
	}
	return asynq.NewTask(TypeDeliverNudge, b,
		asynq.TaskID(p.ID()), asynq.Queue(QueueDefault), asynq.ProcessIn(delay),
		asynq.MaxRetry(MaxRetry), asynq.Timeout(Timeout), asynq.Retention(Retention)), nil
}

// SendConfirmation asks the worker to send the double opt-in email.
type SendConfirmation struct {
	SubscriberID string `json:"s"`
	// Nonce tells apart deliberate re-sends (a second signup) from retries.
	Nonce string `json:"k"`
}

// NewSendConfirmation builds a confirmation task. Its id is derived from the
// subscriber and nonce, so a double submit enqueues it once.
func NewSendConfirmation(p SendConfirmation) (*asynq.Task, error) {
	b, err := json.Marshal(p)
	if err != nil {
		return nil, fmt.Errorf("encode %s: %w", TypeSendConfirmation, err)
	}
	return asynq.NewTask(TypeSendConfirmation, b,
		asynq.TaskID("confirm:"+p.SubscriberID+":"+p.Nonce), asynq.Queue(QueueCritical),
		asynq.MaxRetry(MaxRetry), asynq.Timeout(Timeout), asynq.Retention(Retention)), nil
}

// NewSendSMSConfirm builds the task that texts a new number asking it to
// reply YES. It shares SendConfirmation's payload.
func NewSendSMSConfirm(p SendConfirmation) (*asynq.Task, error) {
	b, err := json.Marshal(p)
	if err != nil {
		return nil, fmt.Errorf("encode %s: %w", TypeSendSMSConfirm, err)
	}
	return asynq.NewTask(TypeSendSMSConfirm, b,
		asynq.TaskID("smsconfirm:"+p.SubscriberID+":"+p.Nonce), asynq.Queue(QueueCritical),
		asynq.MaxRetry(MaxRetry), asynq.Timeout(Timeout), asynq.Retention(Retention)), nil
}

// Notice kinds.
const (
	NoticeAlreadySubscribed = "already-subscribed"
	NoticeWelcome           = "welcome"
)

// SendNotice asks the worker to send a one-off system email. Nothing is sent
// after an unsubscribe: the page that took it is the confirmation.
type SendNotice struct {
	SubscriberID string `json:"s"`
	Kind         string `json:"kind"`
	Nonce        string `json:"k"`
}

// NewSendNotice builds a notice task, enqueued once per (subscriber, kind, nonce).
func NewSendNotice(p SendNotice) (*asynq.Task, error) {
	b, err := json.Marshal(p)
	if err != nil {
		return nil, fmt.Errorf("encode %s: %w", TypeSendNotice, err)
	}
	return asynq.NewTask(TypeSendNotice, b,
		asynq.TaskID("notice:"+p.SubscriberID+":"+p.Kind+":"+p.Nonce), asynq.Queue(QueueCritical),
		asynq.MaxRetry(MaxRetry), asynq.Timeout(Timeout), asynq.Retention(Retention)), nil
}

// DeliverPrompt asks the worker to deliver one between-session prompt
// occurrence: one prompt of a client, for one session (0 for a prompt at a
// fixed instant).
type DeliverPrompt struct {
	ClientID string `json:"c"`
	PromptID string `json:"p"`
	Session  int64  `json:"s"`  // the session's Unix seconds, or 0
	At       int64  `json:"at"` // the planned instant, Unix seconds
}

// ID is the occurrence's task id: "prompt:<client>:<prompt>:<session>".
func (p DeliverPrompt) ID() string {
	return "prompt:" + p.ClientID + ":" + p.PromptID + ":" + strconv.FormatInt(p.Session, 10)
}

// NewDeliverPrompt builds the task for a prompt occurrence, to be processed
// after delay (zero or negative: at once).
func NewDeliverPrompt(p DeliverPrompt, delay time.Duration) (*asynq.Task, error) {
	b, err := json.Marshal(p)
	if err != nil {
		return nil, fmt.Errorf("encode %s: %w", TypeDeliverPrompt, err)
	}
	return asynq.NewTask(TypeDeliverPrompt, b,
		asynq.TaskID(p.ID()), asynq.Queue(QueueDefault), asynq.ProcessIn(delay),
		asynq.MaxRetry(MaxRetry), asynq.Timeout(Timeout), asynq.Retention(Retention)), nil
}

// WebhookMaxRetry is how often a clinic's webhook is tried again: with the
// worker's backoff (30 s doubling up to 1 h, worker.RetryDelay), over about
// four hours.
const WebhookMaxRetry = 10

// DeliverWebhook asks the worker to post one event to a clinic's webhook
// URL. The event itself (which may quote a reply) is kept in Redis, not in
// the task.
type DeliverWebhook struct {
	ClinicID string `json:"c"`
	EventID  string `json:"e"`
}

// NewDeliverWebhook builds the task for an event, once per event id.
func NewDeliverWebhook(p DeliverWebhook) (*asynq.Task, error) {
	b, err := json.Marshal(p)
	if err != nil {
		return nil, fmt.Errorf("encode %s: %w", TypeDeliverWebhook, err)
	}
	return asynq.NewTask(TypeDeliverWebhook, b,
		asynq.TaskID("webhook:"+p.ClinicID+":"+p.EventID), asynq.Queue(QueueLow),
		asynq.MaxRetry(WebhookMaxRetry), asynq.Timeout(30*time.Second), asynq.Retention(Retention)), nil
}

// Decode reads a payload. A payload that does not decode, or lacks its ids,
// is wrapped with asynq.SkipRetry: retrying it cannot help.
func Decode(t *asynq.Task, v interface{ valid() error }) error {
	if err := json.Unmarshal(t.Payload(), v); err != nil {
		return fmt.Errorf("decode %s payload: %v: %w", t.Type(), err, asynq.SkipRetry)
	}
	if err := v.valid(); err != nil {
		return fmt.Errorf("decode %s payload: %v: %w", t.Type(), err, asynq.SkipRetry)
	}
	return nil
}

func (p *DeliverNudge) valid() error {
	switch {
	case p.SubscriberID == "":
		return fmt.Errorf("no subscriber id")
	case !p.Program.Valid():
		return fmt.Errorf("unknown program %q", p.Program)
	case p.Date == "":
		return fmt.Errorf("no occurrence date")
	}
	return nil
}

func (p *DeliverPrompt) valid() error {
	switch {
	case p.ClientID == "":
		return fmt.Errorf("no client id")
	case p.PromptID == "":
		return fmt.Errorf("no prompt id")
	}
	return nil
}

func (p *DeliverWebhook) valid() error {
	switch {
	case p.ClinicID == "":
		return fmt.Errorf("no clinic id")
	case p.EventID == "":
		return fmt.Errorf("no event id")
	}
	return nil
}

func (p *SendConfirmation) valid() error {
	if p.SubscriberID == "" {
		return fmt.Errorf("no subscriber id")
	}
	return nil
}

func (p *SendNotice) valid() error {
	switch {
	case p.SubscriberID == "":
		return fmt.Errorf("no subscriber id")
	case p.Kind != NoticeAlreadySubscribed && p.Kind != NoticeWelcome:
		return fmt.Errorf("unknown notice %q", p.Kind)
	}
	return nil
}

// SendConsoleLink asks the worker to email a staff member a one-time link
// into the clinic console. The worker mints the link: no secret sits in
// the queue.
type SendConsoleLink struct {
	StaffID string `json:"st"`
	Locale  string `json:"l"`
	Nonce   string `json:"k"`
	// Invite makes it the email that welcomes a new staff member: who
	// added them to which clinic's console, the link, and the sign-in page
	// for when the link has run out.
	Invite bool `json:"i,omitempty"`
}

// NewSendConsoleLink builds a console sign-in task, enqueued once per nonce.
func NewSendConsoleLink(p SendConsoleLink) (*asynq.Task, error) {
	b, err := json.Marshal(p)
	if err != nil {
		return nil, fmt.Errorf("encode %s: %w", TypeSendConsoleLink, err)
	}
	return asynq.NewTask(TypeSendConsoleLink, b,
		asynq.TaskID("console-link:"+p.StaffID+":"+p.Nonce), asynq.Queue(QueueCritical),
		asynq.MaxRetry(MaxRetry), asynq.Timeout(Timeout), asynq.Retention(Retention)), nil
}

func (p *SendConsoleLink) valid() error {
	if p.StaffID == "" {
		return fmt.Errorf("no staff id")
	}
	return nil
}
