package worker

import (
	"context"
	"errors"
	"fmt"
	"html/template"
	"log/slog"
	"strconv"
	"strings"
	"time"

	"github.com/hibiken/asynq"
	"github.com/nudgehq/nudge/internal/domain"
	"github.com/nudgehq/nudge/internal/email"
	"github.com/nudgehq/nudge/internal/store"
	"github.com/nudgehq/nudge/internal/task"
	"github.com/nudgehq/nudge/templates"
)

// The staff emails of the console's alerts, in the copy library's system
// messages: a distress alert, its escalation to the owners, and the weekly
// digest. They name the clinic (its display name), never a client, and
// hold no client's words: the console, behind a sign-in, has the rest.
const (
	StaffAlert      = "staff-alert"
	StaffEscalation = "staff-escalation"
	StaffDigest     = "staff-digest"
)

// digestLabels are the digest's lines, per locale: clients assigned,
// answers, average score, open alerts, and what stands for no average.
var digestLabels = map[string][5]string{
	"en": {"Clients assigned to you", "Answers this week", "Average score (1 to 5)", "Open alerts", "no scores"},
	"es": {"Personas asignadas a ti", "Respuestas esta semana", "Puntuación media (de 1 a 5)", "Alertas abiertas", "sin puntuaciones"},
}

// openLabel leads the link to the console, per locale.
var openLabel = map[string]string{"en": "Open the console:", "es": "Abre la consola:"}

var staffHTML = template.Must(template.New("staff").Parse(`<!doctype html>
<html lang="{{.Lang}}"><body>
{{range .Paragraphs}}<p>{{.}}</p>
{{end}}{{with .Lines}}<ul>
{{range .}}<li>{{.}}</li>
{{end}}</ul>
{{end}}<p>{{.Open}} <a href="{{.Link}}">{{.Link}}</a></p>
</body></html>`))

// staffMessage renders a staff email from the library: subject and
// paragraphs from message name in locale, then lines (counts), then the
// link to the console's alerts.
func (h *Handler) staffMessage(name, locale, sender string, lines []string) (subject, text, html string, err error) {
	if _, ok := digestLabels[locale]; !ok {
		locale = "en"
	}
	msg, err := h.d.Library.System(name, locale)
	if err != nil {
		return "", "", "", err
	}
	v := templates.Vars{Sender: sender}
	if msg.Subject == nil {
		return "", "", "", fmt.Errorf("%s has no subject", msg.File)
	}
	if subject, err = templates.Execute(msg.Subject, v); err != nil {
		return "", "", "", err
	}
	var paras []string
	for _, b := range msg.Body {
		for _, it := range b.Items {
			s, err := templates.Execute(it, v)
			if err != nil {
				return "", "", "", err
			}
			if b.List {
				s = "- " + s
			}
			paras = append(paras, s)
		}
	}
	link := h.d.Links.ConsoleAlerts()
	var t strings.Builder
	for _, p := range paras {
		t.WriteString(p + "\n\n")
	}
	for _, l := range lines {
		t.WriteString("- " + l + "\n")
	}
	if len(lines) > 0 {
		t.WriteString("\n")
	}
	t.WriteString(openLabel[locale] + " " + link + "\n")
	var hb strings.Builder
	if err := staffHTML.Execute(&hb, map[string]any{"Lang": locale, "Paragraphs": paras, "Lines": lines, "Open": openLabel[locale], "Link": link}); err != nil {
		return "", "", "", err
	}
	return subject, t.String(), hb.String(), nil
}

// sendStaff emails one staff member a staff message in their locale.
func (h *Handler) sendStaff(ctx context.Context, st store.Staff, clinic domain.Clinic, name, msgID string, lines func(locale string) []string) error {
	locale, err := h.d.Store.StaffLocale(ctx, st.ID)
	if err != nil {
		return err
	}
	var ls []string
	if lines != nil {
		ls = lines(locale)
	}
	subject, text, html, err := h.staffMessage(name, locale, clinicName(clinic), ls)
	if err != nil {
		return fmt.Errorf("render %s: %v: %w", name, err, asynq.SkipRetry)
	}
	if h.d.EmailLimit != nil {
		if err := h.waitRate(ctx, h.d.EmailLimit, domain.Email); err != nil {
			return fmt.Errorf("wait for the email rate: %w", err)
		}
	}
	m := email.Message{From: h.d.From, To: st.Email, Subject: subject, Text: text, HTML: html,
		MessageID: "<" + msgID + "@" + h.d.Links.Host() + ">"}
	if err := h.d.Email.Send(ctx, m); err != nil {
		if email.Classify(err) == email.Temporary {
			return fmt.Errorf("send %s: %w", name, err)
		}
		return fmt.Errorf("send %s: %v: %w", name, err, asynq.SkipRetry)
	}
	return nil
}

// clinicName is how staff emails name the clinic: by the operator's name
// for it, which staff know (the display name, neutral for clients' lock
// screens, is often just the service's), else by its display name.
func clinicName(c domain.Clinic) string {
	if c.Name != "" {
		return c.Name
	}
	return c.DisplayName
}

// owners lists a clinic's owners.
func (h *Handler) owners(ctx context.Context, cid string) ([]store.Staff, error) {
	all, err := h.d.Store.StaffList(ctx, cid)
	if err != nil {
		return nil, err
	}
	var out []store.Staff
	for _, st := range all {
		if st.Role == store.RoleOwner {
			out = append(out, st)
		}
	}
	return out, nil
}

// alertOf loads a task's alert and clinic; ok false when either is gone.
func (h *Handler) alertOf(ctx context.Context, cid, id string) (store.Alert, domain.Clinic, bool, error) {
	a, err := h.d.Store.Alert(ctx, cid, id)
	if errors.Is(err, store.ErrNotFound) {
		return store.Alert{}, domain.Clinic{}, false, nil
	}
	if err != nil {
		return store.Alert{}, domain.Clinic{}, false, err
	}
	c, err := h.d.Store.Clinic(ctx, cid)
	if errors.Is(err, store.ErrNotFound) {
		return store.Alert{}, domain.Clinic{}, false, nil
	}
	if err != nil {
		return store.Alert{}, domain.Clinic{}, false, err
	}
	return a, c, true, nil
}

// SendAlertEmail tells the staff a distress alert concerns: the client's
// assigned clinician, or, with none, every owner.
func (h *Handler) SendAlertEmail(ctx context.Context, t *asynq.Task) error {
	var p task.SendAlertEmail
	if err := task.Decode(t, &p); err != nil {
		return err
	}
	log := h.d.Logger.With("clinic_id", p.ClinicID, "alert_id", p.AlertID, "message", "alert")
	a, clinic, ok, err := h.alertOf(ctx, p.ClinicID, p.AlertID)
	if err != nil {
		return err
	}
	if !ok {
		log.Info("alert email skipped", "reason", "alert or clinic gone")
		return nil
	}
	var to []store.Staff
	sid, err := h.d.Store.AssignedTo(ctx, p.ClinicID, a.Client)
	if err != nil {
		return err
	}
	if sid != "" {
		st, err := h.d.Store.ClinicStaff(ctx, p.ClinicID, sid)
		if err != nil && !errors.Is(err, store.ErrNotFound) {
			return err
		}
		if err == nil {
			to = append(to, st)
		}
	}
	if len(to) == 0 {
		if to, err = h.owners(ctx, p.ClinicID); err != nil {
			return err
		}
	}
	return h.sendEach(ctx, log, to, clinic, StaffAlert, "alert."+a.ID)
}

// EscalateAlert emails every owner of the clinic once a distress alert has
// waited the clinic's escalation time without being acknowledged. It
// reads the alert when it runs: acknowledged (or resolved, or gone) is
// nothing to do; not yet due (the escalation time was raised since) is
// queued again for then.
func (h *Handler) EscalateAlert(ctx context.Context, t *asynq.Task) error {
	var p task.EscalateAlert
	if err := task.Decode(t, &p); err != nil {
		return err
	}
	log := h.d.Logger.With("clinic_id", p.ClinicID, "alert_id", p.AlertID, "message", "alert-escalation")
	a, clinic, ok, err := h.alertOf(ctx, p.ClinicID, p.AlertID)
	if err != nil {
		return err
	}
	if !ok {
		log.Info("escalation skipped", "reason", "alert or clinic gone")
		return nil
	}
	if a.State != store.AlertOpen {
		log.Info("escalation not needed", "state", a.State)
		return nil
	}
	set, err := h.d.Store.AlertSettingsOf(ctx, p.ClinicID)
	if err != nil {
		return err
	}
	now := h.d.Now()
	if due := a.At.Add(set.Escalation); now.Before(due) {
		// Not yet (the clinic lengthened its escalation time since): a task
		// of its own waits out the rest, on the service's clock.
		if h.d.Enqueue == nil {
			return fmt.Errorf("escalation due in %s: %w", due.Sub(now).Round(time.Second), errNotYet)
		}
		later, err := task.NewEscalateAlert(p, due.Sub(now))
		if err != nil {
			return err
		}
		id := "alert-escalate:" + p.ClinicID + ":" + p.AlertID + ":" + strconv.FormatInt(due.Unix(), 10)
		if _, err := h.d.Enqueue.EnqueueContext(ctx, later, asynq.TaskID(id)); err != nil && !errors.Is(err, asynq.ErrTaskIDConflict) {
			return fmt.Errorf("queue the escalation again: %w", err)
		}
		log.Info("escalation not yet due", "in", due.Sub(now).Round(time.Second).String())
		return nil
	}
	done, err := h.d.Store.AlertEscalated(ctx, a.ID)
	if err != nil {
		return err
	}
	if done {
		log.Info("escalation skipped", "reason", "owners emailed already")
		return nil
	}
	owners, err := h.owners(ctx, p.ClinicID)
	if err != nil {
		return err
	}
	if err := h.sendEach(ctx, log, owners, clinic, StaffEscalation, "alert-escalation."+a.ID); err != nil {
		return err
	}
	if _, err := h.d.Store.MarkAlertEscalated(ctx, a.ID, now); err != nil {
		return err
	}
	return nil
}

// errNotYet marks a task that ran before its time (asynq retries it).
var errNotYet = errors.New("not yet due")

// sendEach emails each staff member; a failure for one does not stop the
// others, and the first temporary failure makes the task retry. Each
// message sent is remembered, so the retry emails only those it missed.
func (h *Handler) sendEach(ctx context.Context, log *slog.Logger, to []store.Staff, clinic domain.Clinic, name, msgID string) error {
	var errs []error
	for _, st := range to {
		id := msgID + "." + st.ID
		if sent, err := h.d.Store.StaffMailSent(ctx, id); err != nil || sent {
			errs = append(errs, err)
			continue
		}
		if err := h.sendStaff(ctx, st, clinic, name, id, nil); err != nil {
			log.Warn("staff email failed", "staff_id", st.ID, "err", err)
			errs = append(errs, err)
			continue
		}
		log.Info("staff email sent", "staff_id", st.ID)
		if err := h.d.Store.MarkStaffMailSent(ctx, id, h.d.Now()); err != nil {
			// Sent: a lost mark costs at most one more email on a retry.
			log.Warn("could not remember a staff email as sent", "staff_id", st.ID, "err", err)
		}
	}
	return errors.Join(errs...)
}

// SendDigest emails a clinician the counts of their week, once per week
// (a second task for the same week, or a retry after it went, sends
// nothing).
func (h *Handler) SendDigest(ctx context.Context, t *asynq.Task) error {
	var p task.SendDigest
	if err := task.Decode(t, &p); err != nil {
		return err
	}
	log := h.d.Logger.With("clinic_id", p.ClinicID, "staff_id", p.StaffID, "week", p.Week, "message", "digest")
	st, err := h.d.Store.ClinicStaff(ctx, p.ClinicID, p.StaffID)
	if errors.Is(err, store.ErrNotFound) {
		log.Info("digest skipped", "reason", "staff member gone")
		return nil
	}
	if err != nil {
		return err
	}
	clinic, err := h.d.Store.Clinic(ctx, p.ClinicID)
	if errors.Is(err, store.ErrNotFound) {
		return nil
	}
	if err != nil {
		return err
	}
	sent, err := h.d.Store.DigestSent(ctx, st.ID, p.Week)
	if err != nil {
		return err
	}
	if sent {
		log.Info("digest skipped", "reason", "sent already")
		return nil
	}
	d, err := h.d.Store.DigestCountsOf(ctx, p.ClinicID, st.ID, time.Unix(p.From, 0), time.Unix(p.To, 0))
	if err != nil {
		return err
	}
	lines := func(locale string) []string {
		l, ok := digestLabels[locale]
		if !ok {
			l = digestLabels["en"]
		}
		avg := l[4]
		if d.Scored > 0 {
			avg = strconv.FormatFloat(d.Average, 'f', 1, 64)
			if locale == "es" {
				avg = strings.Replace(avg, ".", ",", 1)
			}
		}
		return []string{
			l[0] + ": " + strconv.Itoa(d.Clients),
			l[1] + ": " + strconv.Itoa(d.Answers),
			l[2] + ": " + avg,
			l[3] + ": " + strconv.Itoa(d.OpenAlerts),
		}
	}
	if err := h.sendStaff(ctx, st, clinic, StaffDigest, "digest."+st.ID+"."+p.Week, lines); err != nil {
		return err
	}
	if _, err := h.d.Store.MarkDigestSent(ctx, st.ID, p.Week, h.d.Now()); err != nil {
		return err
	}
	log.Info("digest sent")
	return nil
}

// notePromptSent checks a client's run of unanswered prompts once a prompt
// went out (the one before it now counts). A failure is logged: the prompt
// is sent, and the periodic check looks again.
func (h *Handler) notePromptSent(ctx context.Context, log *slog.Logger, client, occurrence string) {
	a, raised, err := h.d.Store.NotePromptSent(ctx, client, occurrence, h.d.Now())
	if err != nil {
		log.Error("could not check unanswered prompts", "err", err)
		return
	}
	if raised {
		log.Info("unanswered alert raised", "alert_id", a.ID, "prompts", a.Count)
	}
}
