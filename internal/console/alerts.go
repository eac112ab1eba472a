package console

import (
	"errors"
	"net/http"
	"time"

	"github.com/nudgehq/nudge/internal/store"
	"github.com/nudgehq/nudge/internal/web"
)

type alertRow struct {
	store.Alert
	FirstName        string
	AckBy, ResolveBy string
}

// openAlerts counts each client's alerts not yet resolved.
func (s *Server) openAlerts(r *http.Request, cid string) (map[string]int, error) {
	all, err := s.c.Store.Alerts(r.Context(), cid)
	if err != nil {
		return nil, err
	}
	out := map[string]int{}
	for _, a := range all {
		if a.State != store.AlertResolved {
			out[a.Client]++
		}
	}
	return out, nil
}

// alertList lists the distress alerts of the clients the principal may
// see: open and acknowledged ones first, then the resolved.
func (s *Server) alertList(w http.ResponseWriter, r *http.Request) {
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
	var d struct{ Open, Resolved []alertRow }
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
	s.render(w, http.StatusOK, locale, "alerts", page{Title: tr("alerts.title"), Who: p, Lang: locale, Path: r.URL.Path, Data: d, Notice: noticeText(r, tr)})
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
