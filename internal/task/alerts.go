package task

import (
	"encoding/json"
	"fmt"
	"time"

	"github.com/hibiken/asynq"
)

// Alert emails to a clinic's staff: ids only, the worker reads the rest.
const (
	TypeSendAlertEmail = "email:alert"
	TypeEscalateAlert  = "email:alert_escalate"
	TypeSendDigest     = "email:digest"
)

// SendAlertEmail asks the worker to email the staff a distress alert
// concerns: the client's assigned clinician, or the owners when none.
type SendAlertEmail struct {
	ClinicID string `json:"c"`
	AlertID  string `json:"a"`
}

// NewSendAlertEmail builds an alert email task, enqueued once per alert.
func NewSendAlertEmail(p SendAlertEmail) (*asynq.Task, error) {
	b, err := json.Marshal(p)
	if err != nil {
		return nil, fmt.Errorf("encode %s: %w", TypeSendAlertEmail, err)
	}
	return asynq.NewTask(TypeSendAlertEmail, b,
		asynq.TaskID("alert-email:"+p.ClinicID+":"+p.AlertID), asynq.Queue(QueueCritical),
		asynq.MaxRetry(MaxRetry), asynq.Timeout(Timeout), asynq.Retention(Retention)), nil
}

func (p *SendAlertEmail) valid() error {
	if p.ClinicID == "" || p.AlertID == "" {
		return fmt.Errorf("no clinic or alert id")
	}
	return nil
}

// EscalateAlert asks the worker, once a distress alert's escalation time
// has passed, to email every owner if it is still not acknowledged.
type EscalateAlert struct {
	ClinicID string `json:"c"`
	AlertID  string `json:"a"`
}

// NewEscalateAlert builds an escalation task, enqueued once per alert and
// processed after delay (counted on the caller's clock, as the planners
// count theirs).
func NewEscalateAlert(p EscalateAlert, delay time.Duration) (*asynq.Task, error) {
	b, err := json.Marshal(p)
	if err != nil {
		return nil, fmt.Errorf("encode %s: %w", TypeEscalateAlert, err)
	}
	return asynq.NewTask(TypeEscalateAlert, b,
		asynq.TaskID("alert-escalate:"+p.ClinicID+":"+p.AlertID), asynq.Queue(QueueCritical), asynq.ProcessIn(max(delay, 0)),
		asynq.MaxRetry(MaxRetry), asynq.Timeout(Timeout), asynq.Retention(Retention)), nil
}

func (p *EscalateAlert) valid() error {
	if p.ClinicID == "" || p.AlertID == "" {
		return fmt.Errorf("no clinic or alert id")
	}
	return nil
}

// SendDigest asks the worker to email a clinician their weekly digest: the
// week named by Week ("2026-W50"), counting from From to To (Unix seconds).
type SendDigest struct {
	ClinicID string `json:"c"`
	StaffID  string `json:"st"`
	Week     string `json:"w"`
	From     int64  `json:"f"`
	To       int64  `json:"t"`
}

// NewSendDigest builds a digest task, enqueued once per staff member and week.
func NewSendDigest(p SendDigest) (*asynq.Task, error) {
	b, err := json.Marshal(p)
	if err != nil {
		return nil, fmt.Errorf("encode %s: %w", TypeSendDigest, err)
	}
	return asynq.NewTask(TypeSendDigest, b,
		asynq.TaskID("digest:"+p.StaffID+":"+p.Week), asynq.Queue(QueueDefault),
		asynq.MaxRetry(MaxRetry), asynq.Timeout(Timeout), asynq.Retention(Retention)), nil
}

func (p *SendDigest) valid() error {
	if p.ClinicID == "" || p.StaffID == "" || p.Week == "" || p.To <= p.From {
		return fmt.Errorf("no clinic, staff member or week")
	}
	return nil
}
