package console

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/hibiken/asynq"
	"github.com/nudgehq/nudge/internal/store"
	"github.com/nudgehq/nudge/internal/task"
	"github.com/nudgehq/nudge/internal/web"
)

type alertRow struct {
	store.Alert
	FirstName        string
	AckBy, ResolveBy string
}

// alertSettingsForm is the owners' form of the clinic's alert settings:
// the values as typed, and a message per field that was refused.
type alertSettingsForm struct {
	Unanswered, Escalation string
	Errors                 map[string]string
}

// alertsData is the alerts page's data.
type alertsData struct {
	Open, Resolved []alertRow
	Settings       *alertSettingsForm // owners only
}

// openAlerts counts each client's distress alerts not yet resolved (the
// clients list and page flag those).
func (s *Server) openAlerts(r *http.Request, cid string) (map[string]int, error) {
	all, err := s.c.Store.Alerts(r.Context(), cid)
	if err != nil {
		return nil, err
	}
	out := map[string]int{}
	for _, a := range all {
		if a.State != store.AlertResolved && a.KindOf() == store.AlertDistress {
			out[a.Client]++
		}
	}
	return out, nil
}

// alertList lists the alerts (distress, stopped, unanswered) of the
// clients the principal may see: open and acknowledged ones first, then
// the resolved; an owner also gets the clinic's alert settings.
func (s *Server) alertList(w http.ResponseWriter, r *http.Request) {
	p := principalOf(r)
	var form *alertSettingsForm
	if p.Owner() {
		set, err := s.c.Store.AlertSettingsOf(r.Context(), p.Clinic)
		if err != nil {
			s.internalError(w, r, err)
			return
		}
		form = &alertSettingsForm{Unanswered: strconv.Itoa(set.Unanswered), Escalation: strconv.Itoa(int(set.Escalation / time.Hour))}
	}
	s.renderAlerts(w, r, http.StatusOK, form)
}

// renderAlerts renders the alerts page with a settings form (nil for a
// clinician).
func (s *Server) renderAlerts(w http.ResponseWriter, r *http.Request, status int, form *alertSettingsForm) {
	p := principalOf(r)
	ctx := r.Context()
	locale := web.RequestLocale(r)
	tr := texts(locale)
	all, err := s.c.Store.Alerts(ctx, p.Clinic)
	if err != nil {
		s.internalError(w, r, err)
		return
	}
	assigned, err := s.c.Store.Assignments(ctx, p.Clinic)
	if err != nil {
		s.internalError(w, r, err)
		return
	}
	names, err := s.staffNames(r, p.Clinic)
	if err != nil {
		s.internalError(w, r, err)
		return
	}
	d := alertsData{Settings: form}
	for _, a := range all {
		if !p.mayView(a.Client, assigned) {
			continue
		}
		row := alertRow{Alert: a, AckBy: names[a.AcknowledgedBy], ResolveBy: names[a.ResolvedBy]}
		if sub, err := s.c.Store.Client(ctx, p.Clinic, a.Client); err == nil {
			row.FirstName = sub.FirstName
		} else if !errors.Is(err, store.ErrNotFound) {
			s.internalError(w, r, err)
			return
		}
		if a.State == store.AlertResolved {
			d.Resolved = append(d.Resolved, row)
		} else {
			d.Open = append(d.Open, row)
		}
	}
	notice := noticeText(r, tr)
	if r.Method == http.MethodGet && r.URL.Query().Get("done") == "settings" {
		notice = tr("alerting.saved")
	}
	s.render(w, status, locale, "alerts", page{Title: tr("alerting.title"), Who: p, Lang: locale, Path: "/console/alerts", Data: d, Notice: notice})
}

// alertSettings (owners) sets how many unanswered prompts in a row raise
// an alert and how long a distress alert may wait unacknowledged before
// every owner is emailed. Bad input shows the page again, the message
// beside the field.
func (s *Server) alertSettings(w http.ResponseWriter, r *http.Request) {
	p := principalOf(r)
	tr := texts(web.RequestLocale(r))
	f := &alertSettingsForm{Unanswered: strings.TrimSpace(r.PostFormValue("unanswered")), Escalation: strings.TrimSpace(r.PostFormValue("escalation")), Errors: map[string]string{}}
	n, err := strconv.Atoi(f.Unanswered)
	if err != nil || n < store.MinUnanswered || n > store.MaxUnanswered {
		f.Errors["unanswered"] = tr("alerting.unanswered_error", store.MinUnanswered, store.MaxUnanswered)
	}
	h, err := strconv.Atoi(f.Escalation)
	if err != nil || h < int(store.MinEscalation/time.Hour) || h > int(store.MaxEscalation/time.Hour) {
		f.Errors["escalation"] = tr("alerting.escalation_error", int(store.MinEscalation/time.Hour), int(store.MaxEscalation/time.Hour))
	}
	if len(f.Errors) > 0 {
		s.renderAlerts(w, r, http.StatusUnprocessableEntity, f)
		return
	}
	set := store.AlertSettings{Unanswered: n, Escalation: time.Duration(h) * time.Hour}
	if err := s.c.Store.SetAlertSettings(r.Context(), p.Clinic, set); err != nil {
		s.fail(w, r, err)
		return
	}
	if err := s.escalateSooner(r.Context(), p.Clinic, set.Escalation); err != nil {
		s.fail(w, r, err)
		return
	}
	s.audit(r, p, "alert.settings", "", fmt.Sprintf("unanswered %d, escalation %dh", n, h))
	to := "/console/alerts?done=settings"
	if q := queryLang(r); q != "" {
		to += "&" + q[1:]
	}
	http.Redirect(w, r, to, http.StatusSeeOther)
}

// escalateSooner queues, for every open distress alert, an escalation at
// the escalation time just set: one queued at raise time for a longer time
// would otherwise wait for that. A task already queued for a time that has
// not changed is the same task (its id names the time); the one queued for
// a later time finds the owners emailed already, or the alert acknowledged,
// and does nothing.
func (s *Server) escalateSooner(ctx context.Context, cid string, after time.Duration) error {
	alerts, err := s.c.Store.Alerts(ctx, cid)
	if err != nil {
		return err
	}
	now := s.c.Now()
	for _, a := range alerts {
		if a.State != store.AlertOpen || a.KindOf() != store.AlertDistress {
			continue
		}
		due := a.At.Add(after)
		t, err := task.NewEscalateAlert(task.EscalateAlert{ClinicID: cid, AlertID: a.ID}, due.Sub(now))
		if err != nil {
			return err
		}
		id := "alert-escalate:" + cid + ":" + a.ID + ":" + strconv.FormatInt(due.Unix(), 10)
		if _, err := s.c.Enqueue.EnqueueContext(ctx, t, asynq.TaskID(id)); err != nil && !errors.Is(err, asynq.ErrTaskIDConflict) {
			return fmt.Errorf("queue the escalation of alert %s: %w", a.ID, err)
		}
	}
	return nil
}

func (s *Server) alertAcknowledge(w http.ResponseWriter, r *http.Request) {
	s.advanceAlert(w, r, store.AlertAcknowledged, "alert.acknowledge", "acknowledged")
}

func (s *Server) alertResolve(w http.ResponseWriter, r *http.Request) {
	s.advanceAlert(w, r, store.AlertResolved, "alert.resolve", "resolved")
}

// advanceAlert moves an alert the principal may see one step on. A step
// already taken (by someone else, or a double click) changes nothing and
// goes back to the list.
func (s *Server) advanceAlert(w http.ResponseWriter, r *http.Request, to, action, done string) {
	p := principalOf(r)
	ctx := r.Context()
	a, err := s.c.Store.Alert(ctx, p.Clinic, r.PathValue("id"))
	if err != nil {
		s.fail(w, r, err)
		return
	}
	if _, err := s.client(ctx, p, a.Client); err != nil && !(errors.Is(err, store.ErrNotFound) && p.Owner()) {
		// An owner may still close the alert of a client since erased.
		s.fail(w, r, err)
		return
	}
	_, err = s.c.Store.AdvanceAlert(ctx, p.Clinic, a.ID, to, p.StaffID, s.c.Now())
	if errors.Is(err, store.ErrAlertState) {
		http.Redirect(w, r, withLang(r, "/console/alerts"), http.StatusSeeOther)
		return
	}
	if err != nil {
		s.fail(w, r, err)
		return
	}
	s.audit(r, p, action, a.Client, "alert "+a.ID)
	to2 := "/console/alerts?done=" + done
	if q := queryLang(r); q != "" {
		to2 += "&" + q[1:]
	}
	http.Redirect(w, r, to2, http.StatusSeeOther)
}

// auditList (owners) is the clinic's audit log, newest first.
func (s *Server) auditList(w http.ResponseWriter, r *http.Request) {
	p := principalOf(r)
	locale := web.RequestLocale(r)
	entries, err := s.c.Store.AuditLog(r.Context(), p.Clinic, 500)
	if err != nil {
		s.internalError(w, r, err)
		return
	}
	s.render(w, http.StatusOK, locale, "audit", page{Title: texts(locale)("audit.title"), Who: p, Lang: locale, Path: r.URL.Path,
		Data: struct {
			Entries []store.AuditEntry
			Kept    time.Duration
		}{entries, store.AuditRetention}})
}
