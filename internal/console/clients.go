package console

import (
	"net/http"
	"strings"
	"time"

	"github.com/nudgehq/nudge/internal/clinic"
	"github.com/nudgehq/nudge/internal/store"
	"github.com/nudgehq/nudge/internal/web"
)

// clientRow is one line of the clients list.
type clientRow struct {
	ID, FirstName, Status, Channels, Clinician string
	Paused                                     bool
	LastScore                                  int // 0: none
	OpenAlert                                  bool
}

type clientsData struct {
	Rows []clientRow
	Next string // the next page's link, "" on the last
}

// clientList lists the clients the principal may see, a page at a time.
func (s *Server) clientList(w http.ResponseWriter, r *http.Request) {
	p := principalOf(r)
	ctx := r.Context()
	locale := web.RequestLocale(r)
	tr := texts(locale)
	pg, err := s.c.Service.Clients(ctx, p.Clinic, r.URL.Query().Get("after"), clinic.MaxPage)
	if err != nil {
		s.fail(w, r, err)
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
	open, err := s.openAlerts(r, p.Clinic)
	if err != nil {
		s.internalError(w, r, err)
		return
	}
	var d clientsData
	now := s.c.Now()
	for _, c := range pg.Items {
		if !p.mayView(c.ID, assigned) {
			continue
		}
		row := clientRow{ID: c.ID, FirstName: c.FirstName, Status: tr("status." + string(c.Status)),
			Channels: channelsText(c.Channels), Clinician: names[assigned[c.ID]], Paused: c.PausedUntil.After(now), OpenAlert: open[c.ID] > 0}
		ratings, err := s.c.Service.Ratings(ctx, p.Clinic, c.ID, time.Time{}, time.Time{})
		if err != nil {
			s.fail(w, r, err)
			return
		}
		if n := len(ratings); n > 0 {
			row.LastScore = ratings[n-1].Score
		}
		d.Rows = append(d.Rows, row)
	}
	if pg.Next != "" {
		d.Next = "/console/clients?after=" + pg.Next
		if q := queryLang(r); q != "" {
			d.Next += "&lang=" + locale
		}
	}
	s.render(w, http.StatusOK, locale, "clients", page{Title: tr("clients.title"), Who: p, Lang: locale, Path: r.URL.Path, Data: d})
}

// staffNames maps a clinic's staff ids to their addresses.
func (s *Server) staffNames(r *http.Request, cid string) (map[string]string, error) {
	staff, err := s.c.Store.StaffList(r.Context(), cid)
	if err != nil {
		return nil, err
	}
	out := map[string]string{}
	for _, st := range staff {
		out[st.ID] = st.Email
	}
	return out, nil
}

func channelsText[T ~string](cs []T) string {
	if len(cs) == 0 {
		return "email"
	}
	parts := make([]string, len(cs))
	for i, c := range cs {
		parts[i] = string(c)
	}
	return strings.Join(parts, ", ")
}

type option struct {
	Value, Label string
	Selected     bool
}

type clientData struct {
	ID, FirstName, Status, Channels, Clinician string
	NextSession                                time.Time
	PausedUntil                                time.Time
	Chart                                      chart
	Ratings                                    []store.Answer
	Replies                                    []store.Reply
	Deliveries                                 []store.DeliveryRecord
	Alerts                                     []store.Alert
	Clinicians                                 []option // owners only
}

// clientShow is a client's page: scores as a chart and a table, replies,
// deliveries, pause or resume, and (owners) the assignment. Each view is
// audited.
func (s *Server) clientShow(w http.ResponseWriter, r *http.Request) {
	p := principalOf(r)
	ctx := r.Context()
	id := r.PathValue("id")
	if _, err := s.client(ctx, p, id); err != nil {
		s.fail(w, r, err)
		return
	}
	locale := web.RequestLocale(r)
	tr := texts(locale)
	v, err := s.c.Service.View(ctx, p.Clinic, id)
	if err != nil {
		s.fail(w, r, err)
		return
	}
	ratings, err := s.c.Service.Ratings(ctx, p.Clinic, id, time.Time{}, time.Time{})
	if err != nil {
		s.fail(w, r, err)
		return
	}
	replies, err := s.c.Service.Replies(ctx, p.Clinic, id, "", clinic.MaxPage)
	if err != nil {
		s.fail(w, r, err)
		return
	}
	deliveries, err := s.c.Service.Deliveries(ctx, p.Clinic, id, "", clinic.MaxPage)
	if err != nil {
		s.fail(w, r, err)
		return
	}
	names, err := s.staffNames(r, p.Clinic)
	if err != nil {
		s.internalError(w, r, err)
		return
	}
	by, err := s.c.Store.AssignedTo(ctx, p.Clinic, id)
	if err != nil {
		s.internalError(w, r, err)
		return
	}
	alerts, err := s.c.Store.Alerts(ctx, p.Clinic)
	if err != nil {
		s.internalError(w, r, err)
		return
	}
	d := clientData{ID: id, FirstName: v.FirstName, Status: tr("status." + string(v.Status)), Channels: channelsText(v.Channels),
		Clinician: names[by], NextSession: v.NextSession, Ratings: ratings, Replies: replies.Items, Deliveries: deliveries.Items,
		Chart: scoreChart(ratings, tr)}
	if v.PausedUntil.After(s.c.Now()) {
		d.PausedUntil = v.PausedUntil
	}
	for _, a := range alerts {
		if a.Client == id && a.State != store.AlertResolved {
			d.Alerts = append(d.Alerts, a)
		}
	}
	if p.Owner() {
		staff, err := s.c.Store.StaffList(ctx, p.Clinic)
		if err != nil {
			s.internalError(w, r, err)
			return
		}
		d.Clinicians = append(d.Clinicians, option{Value: "", Label: tr("client.nobody"), Selected: by == ""})
		for _, st := range staff {
			d.Clinicians = append(d.Clinicians, option{Value: st.ID, Label: st.Email, Selected: st.ID == by})
		}
	}
	s.audit(r, p, "client.view", id, "")
	s.render(w, http.StatusOK, locale, "client", page{Title: v.FirstName, Who: p, Lang: locale, Path: r.URL.Path, Data: d, Notice: noticeText(r, tr)})
}

// noticeText is the line a redirect after a change asks for (?done=…).
func noticeText(r *http.Request, tr func(string, ...any) string) string {
	switch done := r.URL.Query().Get("done"); done {
	case "paused", "resumed", "assigned", "acknowledged", "resolved":
		return tr("done." + done)
	}
	return ""
}

// pauseChoices are the pauses the client page offers, in days.
var pauseChoices = map[string]int{"7": 7, "14": 14, "28": 28}

func (s *Server) clientPause(w http.ResponseWriter, r *http.Request) {
	p := principalOf(r)
	id := r.PathValue("id")
	if _, err := s.client(r.Context(), p, id); err != nil {
		s.fail(w, r, err)
		return
	}
	r.Body = http.MaxBytesReader(w, r.Body, 4<<10)
	_ = r.ParseForm()
	days, ok := pauseChoices[r.PostForm.Get("days")]
	if !ok {
		days = 7
	}
	until := s.c.Now().AddDate(0, 0, days)
	if _, err := s.c.Service.Pause(r.Context(), p.Clinic, id, until); err != nil {
		s.fail(w, r, err)
		return
	}
	s.audit(r, p, "client.pause", id, "until "+until.UTC().Format(time.RFC3339))
	s.backToClient(w, r, id, "paused")
}

func (s *Server) clientResume(w http.ResponseWriter, r *http.Request) {
	p := principalOf(r)
	id := r.PathValue("id")
	if _, err := s.client(r.Context(), p, id); err != nil {
		s.fail(w, r, err)
		return
	}
	if _, err := s.c.Service.Resume(r.Context(), p.Clinic, id); err != nil {
		s.fail(w, r, err)
		return
	}
	s.audit(r, p, "client.resume", id, "")
	s.backToClient(w, r, id, "resumed")
}

// clientAssign (owners) assigns the client to a staff member.
func (s *Server) clientAssign(w http.ResponseWriter, r *http.Request) {
	p := principalOf(r)
	id := r.PathValue("id")
	if _, err := s.client(r.Context(), p, id); err != nil {
		s.fail(w, r, err)
		return
	}
	r.Body = http.MaxBytesReader(w, r.Body, 4<<10)
	_ = r.ParseForm()
	staff := r.PostForm.Get("staff")
	var err error
	if staff == "" {
		err = s.c.Store.Unassign(r.Context(), p.Clinic, id)
	} else {
		err = s.c.Store.Assign(r.Context(), p.Clinic, staff, id)
	}
	if err != nil {
		s.fail(w, r, err)
		return
	}
	s.audit(r, p, "client.assign", id, "to "+orNobody(staff))
	s.backToClient(w, r, id, "assigned")
}

func orNobody(id string) string {
	if id == "" {
		return "nobody"
	}
	return id
}

func (s *Server) backToClient(w http.ResponseWriter, r *http.Request, id, done string) {
	to := "/console/clients/" + id + "?done=" + done
	if q := queryLang(r); q != "" {
		to += "&" + q[1:]
	}
	http.Redirect(w, r, to, http.StatusSeeOther)
}
