package subscription

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"slices"
	"sort"
	"strings"
	"time"
	"unicode"
	"unicode/utf8"

	"github.com/hibiken/asynq"
	"github.com/nudgehq/nudge/internal/domain"
	"github.com/nudgehq/nudge/internal/store"
	"github.com/nudgehq/nudge/internal/task"
	"github.com/nudgehq/nudge/scheduler"
)

// SourceManagePage is the consent-ledger source of a change made in the
// preference centre.
const SourceManagePage = "manage-page"

// ManageWordingVersion names the wording of the preference centre; it
// changes whenever that wording does.
const ManageWordingVersion = "manage-2026-12"

// MaxPauseMonths is how far ahead a pause may reach.
const MaxPauseMonths = 6

// TaskInspector is the part of asynq.Inspector an erasure uses to find and
// delete a subscriber's queued tasks.
type TaskInspector interface {
	ListPendingTasks(queue string, opts ...asynq.ListOption) ([]*asynq.TaskInfo, error)
	ListScheduledTasks(queue string, opts ...asynq.ListOption) ([]*asynq.TaskInfo, error)
	ListRetryTasks(queue string, opts ...asynq.ListOption) ([]*asynq.TaskInfo, error)
	ListArchivedTasks(queue string, opts ...asynq.ListOption) ([]*asynq.TaskInfo, error)
	DeleteTask(queue, id string) error
}

// ManagerConfig sets up a Manager.
type ManagerConfig struct {
	Store *store.Store
	// Tasks finds and deletes queued tasks on erasure.
	Tasks TaskInspector
	// SMSWindow is the local-time window texts go out in; a schedule sent by
	// SMS must fall inside it.
	SMSWindow scheduler.Window
	// Queues are the asynq queues searched on erasure; nil means every
	// queue in task.AllQueues.
	Queues []string
	Now    func() time.Time
	Logger *slog.Logger
}

// Manager carries out what a subscriber does in the preference centre:
// change their preferences, pause and resume, download their data, erase it.
type Manager struct {
	c ManagerConfig
}

// NewManager returns a Manager.
func NewManager(c ManagerConfig) *Manager {
	if c.Queues == nil {
		c.Queues = task.AllQueues()
	}
	if c.Now == nil {
		c.Now = time.Now
	}
	if c.Logger == nil {
		c.Logger = slog.New(slog.DiscardHandler)
	}
	return &Manager{c: c}
}

// SMSWindow is the window texts go out in.
func (m *Manager) SMSWindow() scheduler.Window { return m.c.SMSWindow }

// Preferences are a subscriber's choices as the preference centre sends
// them.
type Preferences struct {
	// Schedules are the programs wanted, each with its rule.
	Schedules []domain.Schedule
	TimeZone  string
	Locale    string
	Goal      string
	Channels  []domain.Channel
}

// Reasons a preference is refused, per field, in FieldErrors.
const (
	ReasonInvalid   = "invalid"    // not a value the field takes
	ReasonTooLong   = "too-long"   // longer than allowed
	ReasonMissing   = "missing"    // nothing chosen where something must be
	ReasonNoPhone   = "no-phone"   // SMS chosen without a number on record
	ReasonNoEmail   = "no-email"   // email chosen without an address on record
	ReasonSMSWindow = "sms-window" // a time outside the SMS window with SMS chosen
	ReasonPast      = "past"       // a date that is not after today
	ReasonTooFar    = "too-far"    // a date too far ahead
)

// FieldErrors says, per field, why a change was refused. It matches
// domain.ErrInvalid (domain.ErrorCode finds the code).
type FieldErrors struct {
	// Fields maps a field ("tz", "locale", "goal", "channels", "programs",
	// "until", or a program's name) to a Reason constant.
	Fields map[string]string
}

func invalid(field, reason string) *FieldErrors {
	return &FieldErrors{Fields: map[string]string{field: reason}}
}

func (e *FieldErrors) Error() string {
	fields := make([]string, 0, len(e.Fields))
	for f, r := range e.Fields {
		fields = append(fields, f+": "+r)
	}
	sort.Strings(fields)
	return "invalid preferences: " + strings.Join(fields, ", ")
}

// Unwrap gives the domain error, for domain.ErrorCode.
func (e *FieldErrors) Unwrap() error {
	return &domain.Error{Code: domain.ErrInvalid, Message: e.Error()}
}

// ErrNotActive is returned for a change only an active subscriber can make.
var ErrNotActive = &domain.Error{Code: domain.ErrConflict, Message: "subscription is not active"}

// ErrArrangedByClinic is returned for a preference change of a clinic's
// client. A client's messages are the prompts their clinic plans (see
// package clinic); programs, days, times, zone, channels and goal are not
// theirs to choose in the preference centre, and a public program on a
// client's record would mix the clinic's list into the public one. Pausing,
// resuming, unsubscribing, the export and erasure work for a client as for
// anyone.
var ErrArrangedByClinic = &domain.Error{Code: domain.ErrForbidden, Message: "the messages of a clinic's client are arranged with the clinic"}

// Check returns what is wrong with p for sub, as ChangePreferences would
// refuse it: a Reason constant by field, empty when nothing is. The web form
// shows these beside its own parsing errors, so that every problem shows at
// once.
func (m *Manager) Check(sub domain.Subscriber, p Preferences) map[string]string {
	_, _, errs := m.check(sub, p)
	return errs
}

// check returns the problems of p for sub, and p's rules parsed.
func (m *Manager) check(sub domain.Subscriber, p Preferences) (map[domain.Program]scheduler.Rule, *time.Location, map[string]string) {
	errs := map[string]string{}
	loc, err := scheduler.LoadZone(p.TimeZone)
	if err != nil || p.TimeZone == "" {
		errs["tz"] = ReasonInvalid
	}
	if p.Locale != "en" && p.Locale != "es" {
		errs["locale"] = ReasonInvalid
	}
	switch {
	case utf8.RuneCountInString(p.Goal) > domain.GoalMaxLen:
		errs["goal"] = ReasonTooLong
	case !utf8.ValidString(p.Goal) || strings.IndexFunc(p.Goal, unicode.IsControl) >= 0:
		errs["goal"] = ReasonInvalid
	}
	sms := false
	switch {
	case len(p.Channels) == 0:
		errs["channels"] = ReasonMissing
	default:
		for _, c := range p.Channels {
			switch {
			case c == domain.Email && sub.Email == "":
				errs["channels"] = ReasonNoEmail
			case c == domain.SMS && sub.Phone == "":
				errs["channels"] = ReasonNoPhone
			case c == domain.SMS:
				sms = true
			case c != domain.Email:
				errs["channels"] = ReasonInvalid
			}
		}
	}
	if len(p.Schedules) == 0 {
		errs["programs"] = ReasonMissing
	}
	rules := map[domain.Program]scheduler.Rule{}
	for _, sc := range p.Schedules {
		name := string(sc.Program)
		if !slices.Contains(domain.PublicPrograms, sc.Program) || rules[sc.Program] != nil {
			errs["programs"] = ReasonInvalid
			continue
		}
		r, err := scheduler.ParseRule(sc.Rule)
		if err != nil {
			errs[name] = ReasonInvalid
			continue
		}
		rules[sc.Program] = r
		if sms && m.c.SMSWindow.AllowsRule(r) != nil {
			errs[name] = ReasonSMSWindow
		}
	}
	return rules, loc, errs
}

// ChangePreferences applies a subscriber's new choices: programs, their days
// and times, time zone, language, channels and goal. Choices that cannot be
// kept come back as FieldErrors and change nothing; SMS needs a number on
// record and every chosen time inside the SMS window. Each schedule whose
// rule or zone changed is planned afresh from now (a task queued for its
// old rule is not sent), a dropped program stops at once, and the change is
// recorded in the consent ledger. Only an active or pending subscriber can
// change anything (ErrNotActive otherwise), and never a clinic's client
// (ErrArrangedByClinic, whatever their status): nothing is written for them.
func (m *Manager) ChangePreferences(ctx context.Context, id string, p Preferences, o Origin) (store.PreferenceChange, error) {
	sub, err := m.c.Store.Subscriber(ctx, id)
	if err != nil {
		return store.PreferenceChange{}, err
	}
	if sub.Clinic != "" {
		return store.PreferenceChange{}, fmt.Errorf("change preferences of %s: %w", id, ErrArrangedByClinic)
	}
	if sub.Status != domain.Active && sub.Status != domain.Pending {
		return store.PreferenceChange{}, fmt.Errorf("change preferences of %s: %w", id, ErrNotActive)
	}
	rules, loc, errs := m.check(sub, p)
	if len(errs) > 0 {
		return store.PreferenceChange{}, &FieldErrors{Fields: errs}
	}
	// Channels are kept in one order, each once, so that a choice made
	// again compares equal.
	var channels []domain.Channel
	for _, c := range []domain.Channel{domain.Email, domain.SMS} {
		if slices.Contains(p.Channels, c) {
			channels = append(channels, c)
		}
	}
	now := m.c.Now()
	sp := store.Preferences{TimeZone: p.TimeZone, Locale: p.Locale, Goal: p.Goal, Channels: channels, Next: map[domain.Program]time.Time{}}
	for _, sc := range p.Schedules {
		r := rules[sc.Program]
		// Rules are stored as the scheduler writes them, so that an
		// unchanged choice compares equal.
		sp.Schedules = append(sp.Schedules, domain.Schedule{Program: sc.Program, Rule: r.String()})
		sp.Next[sc.Program] = r.Next(now, loc).At
	}
	change, err := m.c.Store.UpdatePreferences(ctx, id, sp, store.ConsentEvent{
		At: now, Action: store.ConsentPreferences, Channel: channelsOf(channels), Source: o.Source,
		Wording: ManageWordingVersion, IP: o.IP, UserAgent: o.UserAgent,
	})
	if err != nil {
		return store.PreferenceChange{}, err
	}
	if change.Changed() {
		m.c.Logger.Info("preferences changed", "subscriber_id", id,
			"added", change.Added, "removed", change.Removed, "rescheduled", change.Rescheduled, "fields", change.Fields)
	}
	return change, nil
}

func channelsOf(cs []domain.Channel) string {
	names := make([]string, len(cs))
	for i, c := range cs {
		names[i] = string(c)
	}
	return strings.Join(names, ",")
}

// PauseUntil holds back every nudge until the start of date ("2006-01-02")
// in the subscriber's time zone: nudges start again that day. The date must
// be after today there and at most MaxPauseMonths ahead; otherwise a
// FieldErrors for "until" comes back. It returns the instant nudges resume.
func (m *Manager) PauseUntil(ctx context.Context, id, date string, o Origin) (time.Time, error) {
	sub, err := m.c.Store.Subscriber(ctx, id)
	if err != nil {
		return time.Time{}, err
	}
	if sub.Status != domain.Active {
		return time.Time{}, fmt.Errorf("pause %s: %w", id, ErrNotActive)
	}
	loc, err := scheduler.LoadZone(sub.TimeZone)
	if err != nil {
		loc = time.UTC // a record without a readable zone still pauses
	}
	day, err := time.ParseInLocation(time.DateOnly, strings.TrimSpace(date), loc)
	if err != nil {
		return time.Time{}, invalid("until", ReasonInvalid)
	}
	now := m.c.Now()
	y, mo, d := now.In(loc).Date()
	today := time.Date(y, mo, d, 0, 0, 0, 0, loc)
	switch {
	case !day.After(today):
		return time.Time{}, invalid("until", ReasonPast)
	case day.After(today.AddDate(0, MaxPauseMonths, 0)):
		return time.Time{}, invalid("until", ReasonTooFar)
	}
	until := scheduler.ResolveLocal(loc, day.Year(), day.Month(), day.Day(), 0, 0)
	err = m.c.Store.SetPause(ctx, id, until, store.ConsentEvent{
		At: now, Action: store.ConsentPause, Channel: channelsOf(sub.Channels), Source: o.Source,
		Wording: ManageWordingVersion, IP: o.IP, UserAgent: o.UserAgent, Detail: "until " + day.Format(time.DateOnly),
	})
	if err != nil {
		return time.Time{}, err
	}
	m.c.Logger.Info("nudges paused", "subscriber_id", id, "until", until)
	return until, nil
}

// Resume ends a pause at once. Resuming when not paused changes nothing.
func (m *Manager) Resume(ctx context.Context, id string, o Origin) error {
	sub, err := m.c.Store.Subscriber(ctx, id)
	if err != nil {
		return err
	}
	if !m.c.Now().Before(sub.PausedUntil) && sub.DistressAt.IsZero() {
		return nil
	}
	err = m.c.Store.SetPause(ctx, id, time.Time{}, store.ConsentEvent{
		At: m.c.Now(), Action: store.ConsentResume, Channel: channelsOf(sub.Channels), Source: o.Source,
		Wording: ManageWordingVersion, IP: o.IP, UserAgent: o.UserAgent,
	})
	if err != nil {
		return err
	}
	m.c.Logger.Info("nudges resumed", "subscriber_id", id)
	return nil
}

// Export is everything nudge keeps about one subscriber, as they download it.
type Export struct {
	ExportedAt time.Time            `json:"exported_at"`
	Subscriber ExportSubscriber     `json:"subscriber"`
	Schedules  []ExportSchedule     `json:"schedules"`
	Consent    []store.ConsentEvent `json:"consent"`
	Replies    []store.Reply        `json:"replies"`
	Deliveries []ExportDelivery     `json:"deliveries"`
	// Answers are their answers to check-ins, gratitude prompts and
	// clinic prompts (score, note), oldest first.
	Answers []store.Answer `json:"answers"`
	// Distress is what nudge did when a reply read as distress.
	Distress []store.Detection `json:"distress_detections"`
	// Clinic, Sessions and Prompts are a clinic's client's only: the clinic
	// that arranges their messages, their sessions (past and planned,
	// oldest first) and the prompts the clinic set.
	Clinic   *ExportClinic  `json:"clinic,omitempty"`
	Sessions []time.Time    `json:"sessions,omitempty"`
	Prompts  []ExportPrompt `json:"prompts,omitempty"`
}

// ExportClinic names the clinic that enrolled a client, as the client knows
// it: its display name (its own, private name is the operator's).
type ExportClinic struct {
	ID          string `json:"id"`
	DisplayName string `json:"display_name,omitempty"`
}

// ExportPrompt is one prompt a clinic set for a client: its rule, and the
// number of a library message or the clinic's own words.
type ExportPrompt struct {
	ID        string    `json:"id"`
	Rule      string    `json:"rule"`
	Template  int       `json:"template,omitempty"`
	Text      string    `json:"text,omitempty"`
	CreatedAt time.Time `json:"created_at,omitzero"`
}

// ExportSubscriber is the subscriber record, every field.
type ExportSubscriber struct {
	ID          string    `json:"id"`
	FirstName   string    `json:"first_name"`
	Email       string    `json:"email,omitempty"`
	Phone       string    `json:"phone,omitempty"`
	TimeZone    string    `json:"time_zone"`
	Locale      string    `json:"language"`
	Goal        string    `json:"goal,omitempty"`
	Status      string    `json:"status"`
	Channels    []string  `json:"channels"`
	SMSStatus   string    `json:"sms_status,omitempty"`
	SMSFooterAt time.Time `json:"sms_opt_out_reminder_at,omitzero"`
	PausedUntil time.Time `json:"paused_until,omitzero"`
	LastNudge   string    `json:"last_nudge,omitempty"`
	CreatedAt   time.Time `json:"created_at,omitzero"`
	ConfirmedAt time.Time `json:"confirmed_at,omitzero"`
}

// ExportSchedule is one program's schedule. Chosen is false for a program
// dropped since: its rule is kept only so its version keeps growing.
type ExportSchedule struct {
	Program string    `json:"program"`
	Rule    string    `json:"rule"`
	Chosen  bool      `json:"chosen"`
	Version int64     `json:"version"`
	Step    int64     `json:"step"`
	Next    time.Time `json:"next,omitzero"`
}

// ExportDelivery is one delivery record: what became of one occurrence on
// one channel.
type ExportDelivery struct {
	Program        string    `json:"program"`
	Date           string    `json:"date"`
	Channel        string    `json:"channel"`
	State          string    `json:"state"`
	At             time.Time `json:"at,omitzero"`
	ProviderID     string    `json:"provider_id,omitempty"`
	ProviderStatus string    `json:"provider_status,omitempty"`
	Reason         string    `json:"reason,omitempty"`
}

// Export gathers everything kept about a subscriber: the record, schedules,
// consent ledger, replies and delivery records, and for a clinic's client
// their clinic, sessions and prompts too.
func (m *Manager) Export(ctx context.Context, id string) (Export, error) {
	sub, err := m.c.Store.Subscriber(ctx, id)
	if err != nil {
		return Export{}, err
	}
	chosen, err := m.c.Store.Schedules(ctx, id)
	if err != nil {
		return Export{}, err
	}
	all, err := m.c.Store.AllSchedules(ctx, id)
	if err != nil {
		return Export{}, err
	}
	consent, err := m.c.Store.Consent(ctx, id)
	if err != nil {
		return Export{}, err
	}
	replies, err := m.c.Store.Replies(ctx, id)
	if err != nil {
		return Export{}, err
	}
	dl, err := m.c.Store.Deliveries(ctx, id)
	if err != nil {
		return Export{}, err
	}
	detections, err := m.c.Store.Detections(ctx, id)
	if err != nil {
		return Export{}, err
	}
	answers, err := m.c.Store.Answers(ctx, id, time.Time{}, time.Time{})
	if err != nil {
		return Export{}, err
	}
	out := Export{
		ExportedAt: m.c.Now().UTC(),
		Subscriber: ExportSubscriber{
			ID: sub.ID, FirstName: sub.FirstName, Email: sub.Email, Phone: sub.Phone, TimeZone: sub.TimeZone,
			Locale: sub.Locale, Goal: sub.Goal, Status: string(sub.Status), Channels: []string{},
			SMSStatus: string(sub.SMSStatus), SMSFooterAt: sub.SMSFooterAt, PausedUntil: sub.PausedUntil,
			LastNudge: sub.LastNudge, CreatedAt: sub.CreatedAt, ConfirmedAt: sub.ConfirmedAt,
		},
		Schedules: []ExportSchedule{}, Consent: consent, Replies: replies, Deliveries: []ExportDelivery{}, Answers: answers, Distress: detections,
	}
	for _, c := range sub.Channels {
		out.Subscriber.Channels = append(out.Subscriber.Channels, string(c))
	}
	isChosen := map[domain.Program]bool{}
	for _, sc := range chosen {
		isChosen[sc.Program] = true
	}
	for _, sc := range all {
		out.Schedules = append(out.Schedules, ExportSchedule{
			Program: string(sc.Program), Rule: sc.Rule, Chosen: isChosen[sc.Program], Version: sc.Version, Step: sc.Step, Next: sc.Next,
		})
	}
	slices.SortFunc(dl, func(a, b store.DeliveryRecord) int { return strings.Compare(a.Key.String(), b.Key.String()) })
	for _, d := range dl {
		out.Deliveries = append(out.Deliveries, ExportDelivery{
			Program: string(d.Key.Program), Date: d.Key.Date, Channel: string(d.Key.Channel), State: string(d.State),
			At: d.At, ProviderID: d.ProviderID, ProviderStatus: d.ProviderStatus, Reason: d.Reason,
		})
	}
	if sub.Clinic != "" {
		if err := m.exportClient(ctx, sub, &out); err != nil {
			return Export{}, err
		}
	}
	m.c.Logger.Info("data exported", "subscriber_id", id)
	return out, nil
}

// exportClient adds a client's clinic, sessions and prompts to out.
func (m *Manager) exportClient(ctx context.Context, sub domain.Subscriber, out *Export) error {
	out.Clinic = &ExportClinic{ID: sub.Clinic}
	c, err := m.c.Store.Clinic(ctx, sub.Clinic)
	switch {
	case err == nil:
		out.Clinic.DisplayName = c.DisplayName
	case !errors.Is(err, store.ErrNotFound):
		return err
	}
	st, err := m.c.Store.PromptStateOf(ctx, sub.Clinic, sub.ID)
	if err != nil {
		return err
	}
	out.Sessions = st.Sessions
	for _, p := range st.Prompts {
		out.Prompts = append(out.Prompts, ExportPrompt{ID: p.ID, Rule: p.Rule, Template: p.Template, Text: p.Text, CreatedAt: p.CreatedAt})
	}
	return nil
}

// Erasure says what Erase did.
type Erasure struct {
	store.Erasure
	// Tasks is how many queued tasks were deleted.
	Tasks int
}

// Erase deletes everything kept about a subscriber (see store.Erase) and
// then their queued tasks: nudges, confirmations and notices waiting,
// scheduled or due for a retry, and failed ones kept for inspection (their
// error may quote an address). A task already running finds the subscriber
// gone and sends nothing more. Only a hashed suppression entry stays, and
// only if they had opted out. Erasing again is harmless.
func (m *Manager) Erase(ctx context.Context, id string) (Erasure, error) {
	// The record first: from then on no planner plans and no worker sends,
	// so a task queued in between is harmless, and is deleted next.
	res, err := m.c.Store.Erase(ctx, id)
	if err != nil {
		return Erasure{Erasure: res}, err
	}
	return m.afterErase(ctx, id, res)
}

// EraseUnconfirmed erases a signup still unconfirmed and made before
// cutoff, as Erase does, and leaves a record confirmed meanwhile untouched
// (Found false): the check and the erasure are one transaction.
func (m *Manager) EraseUnconfirmed(ctx context.Context, id string, cutoff time.Time) (Erasure, error) {
	res, err := m.c.Store.EraseUnconfirmed(ctx, id, cutoff)
	if err != nil || !res.Found {
		return Erasure{Erasure: res}, err
	}
	return m.afterErase(ctx, id, res)
}

// afterErase deletes an erased subscriber's queued tasks.
func (m *Manager) afterErase(ctx context.Context, id string, res store.Erasure) (Erasure, error) {
	n, err := m.deleteTasks(ctx, id)
	out := Erasure{Erasure: res, Tasks: n}
	if err != nil {
		return out, fmt.Errorf("erase %s: %w", id, err)
	}
	m.c.Logger.Info("subscriber erased", "subscriber_id", id, "found", res.Found,
		"deliveries", res.Deliveries, "tasks", n, "suppressed", res.Suppressed)
	return out, nil
}

// taskPage is how many tasks one inspector call lists.
const taskPage = 500

// ownsTask reports whether a task id belongs to subscriber id: a nudge is
// "<id>:<program>:<date>", a confirmation "confirm:<id>:<nonce>", a notice
// "notice:<id>:<kind>:<nonce>". Ids are random and fixed-length, so no
// other subscriber's task matches.
func ownsTask(taskID, id string) bool {
	return strings.HasPrefix(taskID, id+":") || strings.Contains(taskID, ":"+id+":") || strings.HasSuffix(taskID, ":"+id)
}

func (m *Manager) deleteTasks(ctx context.Context, id string) (int, error) {
	if m.c.Tasks == nil {
		return 0, nil
	}
	type lister func(string, ...asynq.ListOption) ([]*asynq.TaskInfo, error)
	states := []struct {
		name string
		list lister
	}{
		{"pending", m.c.Tasks.ListPendingTasks},
		{"scheduled", m.c.Tasks.ListScheduledTasks},
		{"retry", m.c.Tasks.ListRetryTasks},
		{"archived", m.c.Tasks.ListArchivedTasks},
	}
	var deleted int
	for _, q := range m.c.Queues {
		for _, st := range states {
			// Listing first, deleting after: deleting while paging would
			// shift the pages under the listing.
			var ids []string
			for page := 1; ; page++ {
				if err := ctx.Err(); err != nil {
					return deleted, err
				}
				tasks, err := st.list(q, asynq.PageSize(taskPage), asynq.Page(page))
				if errors.Is(err, asynq.ErrQueueNotFound) {
					break
				}
				if err != nil {
					return deleted, fmt.Errorf("list %s tasks of queue %s: %w", st.name, q, err)
				}
				for _, t := range tasks {
					if ownsTask(t.ID, id) {
						ids = append(ids, t.ID)
					}
				}
				if len(tasks) < taskPage {
					break
				}
			}
			for _, tid := range ids {
				err := m.c.Tasks.DeleteTask(q, tid)
				switch {
				case err == nil:
					deleted++
				case errors.Is(err, asynq.ErrTaskNotFound):
					// It ran, or was deleted, meanwhile.
				default:
					// Most likely it started running: it finds no subscriber.
					m.c.Logger.Warn("could not delete a queued task", "subscriber_id", id, "task_id", tid, "queue", q, "err", err)
				}
			}
		}
	}
	return deleted, nil
}
