package console

import (
	"fmt"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"time"
	"unicode"

	"golang.org/x/text/unicode/norm"

	"github.com/nudgehq/nudge/internal/clinic"
	"github.com/nudgehq/nudge/internal/domain"
	"github.com/nudgehq/nudge/internal/store"
	"github.com/nudgehq/nudge/internal/web"
	"github.com/nudgehq/nudge/scheduler"
)

// clientRow is one line of the clients list.
type clientRow struct {
	ID, FirstName, Status, Channels, Clinician string
	Paused                                     bool
	LastScore                                  int    // 0: none
	Change, ChangeText                         string // the change from the answer before, as shown and as read out; "" for a first answer
	OpenAlert                                  bool
	NextSession                                string // in the client's zone; "" none
}

type clientsData struct {
	Rows    []clientRow
	Next    string // the next page's link, "" on the last
	Query   string
	Status  string
	Filters []option
	Notice  string
}

// listStatuses are the clients list's status filter: the statuses a
// client can be in, with a pause shown as its own.
var listStatuses = []string{"pending", "active", "paused", "stopped", "discharged"}

// listStatus is a client's status as the list's filter names it.
func listStatus(v clinic.ClientView, now time.Time) string {
	switch v.Status {
	case domain.Pending:
		return "pending"
	case domain.Unsubscribed:
		return "stopped"
	case domain.Discharged:
		return "discharged"
	}
	if v.PausedUntil.After(now) || !v.DistressAt.IsZero() {
		return "paused"
	}
	return "active"
}

// foldName is a name for matching: lower case, accents taken off
// ("José" and "jose" match).
func foldName(s string) string {
	var b strings.Builder
	for _, r := range norm.NFD.String(strings.ToLower(strings.TrimSpace(s))) {
		if !unicode.Is(unicode.Mn, r) {
			b.WriteRune(r)
		}
	}
	return b.String()
}

// maxScan bounds how many clients one filtered page looks through.
const maxScan = 20 * clinic.MaxPage

// clientList lists the clients the principal may see, a page at a time;
// ?q= keeps those whose first name contains it (case and accents aside)
// and ?status= those in one status.
func (s *Server) clientList(w http.ResponseWriter, r *http.Request) {
	p := principalOf(r)
	ctx := r.Context()
	locale := web.RequestLocale(r)
	tr := texts(locale)
	q := r.URL.Query()
	d := clientsData{Query: strings.TrimSpace(q.Get("q")), Status: q.Get("status")}
	if !slices.Contains(listStatuses, d.Status) {
		d.Status = ""
	}
	if len([]rune(d.Query)) > 40 {
		d.Query = string([]rune(d.Query)[:40])
	}
	d.Filters = append(d.Filters, option{Value: "", Label: tr("search.any"), Selected: d.Status == ""})
	for _, st := range listStatuses {
		d.Filters = append(d.Filters, option{Value: st, Label: tr("search.status_" + st), Selected: d.Status == st})
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
	now := s.c.Now()
	want := foldName(d.Query)
	filtered := want != "" || d.Status != ""
	cursor, scanned, next := q.Get("after"), 0, ""
	for {
		pg, err := s.c.Service.Clients(ctx, p.Clinic, cursor, clinic.MaxPage)
		if err != nil {
			s.fail(w, r, err)
			return
		}
		for _, c := range pg.Items {
			scanned++
			if !p.mayView(c.ID, assigned) {
				continue
			}
			if want != "" && !strings.Contains(foldName(c.FirstName), want) {
				continue
			}
			st := listStatus(c, now)
			if d.Status != "" && st != d.Status {
				continue
			}
			row := clientRow{ID: c.ID, FirstName: c.FirstName, Status: tr("status." + string(c.Status)),
				Channels: channelsText(c.Channels), Clinician: names[assigned[c.ID]], Paused: st == "paused", OpenAlert: open[c.ID] > 0}
			if !c.NextSession.IsZero() {
				loc, err := scheduler.LoadZone(c.TimeZone)
				if err != nil {
					loc = time.UTC
				}
				row.NextSession = localWhen(c.NextSession, loc)
			}
			ratings, err := s.c.Service.Ratings(ctx, p.Clinic, c.ID, time.Time{}, time.Time{})
			if err != nil {
				s.fail(w, r, err)
				return
			}
			if n := len(ratings); n > 0 {
				row.LastScore = ratings[n-1].Score
				if n > 1 {
					row.Change, row.ChangeText = scoreChange(ratings[n-1].Score-ratings[n-2].Score, tr)
				}
			}
			d.Rows = append(d.Rows, row)
		}
		next = pg.Next
		// Unfiltered, one page of the clinic's list is one page here;
		// filtered, pages are read until one's worth matched.
		if !filtered || next == "" || len(d.Rows) >= clinic.MaxPage || scanned >= maxScan {
			break
		}
		cursor = next
	}
	if next != "" {
		v := url.Values{"after": {next}}
		if d.Query != "" {
			v.Set("q", d.Query)
		}
		if d.Status != "" {
			v.Set("status", d.Status)
		}
		if queryLang(r) != "" {
			v.Set("lang", locale)
		}
		d.Next = "/console/clients?" + v.Encode()
	}
	s.render(w, http.StatusOK, locale, "clients", page{Title: tr("clients.title"), Who: p, Lang: locale, Path: r.URL.Path, Data: d, Notice: noticeText(r, tr)})
}

// scoreChange is a score's change from the answer before, as the list
// shows it ("+2", "−1", "=") and in words for a screen reader.
func scoreChange(diff int, tr func(string, ...any) string) (string, string) {
	switch {
	case diff > 0:
		return fmt.Sprintf("+%d", diff), tr("journey.change_up", diff)
	case diff < 0:
		return fmt.Sprintf("−%d", -diff), tr("journey.change_down", -diff)
	}
	return "=", tr("journey.change_same")
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
	Zone                                       string
	Discharged                                 bool
	NextSession                                time.Time
	NextLocal                                  string // the next session in the client's zone
	PastSessions                               []string
	PausedUntil                                time.Time
	Chart                                      chart
	Ratings                                    []store.Answer
	Replies                                    []store.Reply
	Deliveries                                 []store.DeliveryRecord
	Alerts                                     []store.Alert
	Clinicians                                 []option   // owners only
	Rows                                       []scoreRow // the chart's table: scores and event notes by date
	Prompts                                    []promptRow
	Notes                                      []noteRow
	Forms                                      clientForms
}

// clientForms are the client page's forms as typed, with their errors,
// when a POST re-renders the page.
type clientForms struct {
	SessionAt, SessionError string
	NoteDay, NoteText       string
	NoteDayError, NoteError string
}

// scoreRow is a line of the chart's table: a score, or an event note.
type scoreRow struct {
	Day, Channel, Note string
	Score              int
}

type promptRow struct {
	ID, Rule, Message, Next string
}

type noteRow struct {
	ID, Day, Text, By string
	Mine              bool // the viewer may delete it
}

// clientShow is a client's page: scores as a chart and a table, replies,
// deliveries, sessions, prompts, event notes, pause or resume, and
// (owners) the assignment. Each view is audited.
func (s *Server) clientShow(w http.ResponseWriter, r *http.Request) {
	s.clientPage(w, r, http.StatusOK, clientForms{})
}

// clientPage renders the client page, with forms as typed after a POST
// that did not pass.
func (s *Server) clientPage(w http.ResponseWriter, r *http.Request, status int, forms clientForms) {
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
	notes, err := s.c.Store.ClientNotes(ctx, p.Clinic, id)
	if err != nil {
		s.fail(w, r, err)
		return
	}
	d := clientData{ID: id, FirstName: v.FirstName, Status: tr("status." + string(v.Status)), Channels: channelsText(v.Channels),
		Clinician: names[by], NextSession: v.NextSession, Ratings: ratings, Replies: replies.Items, Deliveries: deliveries.Items,
		Chart: scoreChartWithNotes(ratings, notes, tr), Zone: v.TimeZone, Discharged: v.Status == domain.Discharged, Forms: forms}
	if err := s.fillSessionsAndPrompts(r, p, v, &d, tr); err != nil {
		s.fail(w, r, err)
		return
	}
	for _, a := range ratings {
		d.Rows = append(d.Rows, scoreRow{Day: a.At().UTC().Format("2006-01-02"), Score: a.Score, Channel: string(a.Channel)})
	}
	for _, n := range notes {
		d.Rows = append(d.Rows, scoreRow{Day: n.Day.Format("2006-01-02"), Note: n.Text})
	}
	slices.SortStableFunc(d.Rows, func(a, b scoreRow) int { return strings.Compare(a.Day, b.Day) })
	for _, n := range notes {
		d.Notes = append(d.Notes, noteRow{ID: n.ID, Day: n.Day.Format("2006-01-02"), Text: n.Text, By: names[n.Staff], Mine: p.Owner() || n.Staff == p.StaffID})
	}
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
	s.render(w, status, locale, "client", page{Title: v.FirstName, Who: p, Lang: locale, Path: r.URL.Path, Data: d, Notice: noticeText(r, tr)})
}

// noticeText is the line a redirect after a change asks for (?done=…).
func noticeText(r *http.Request, tr func(string, ...any) string) string {
	switch done := r.URL.Query().Get("done"); done {
	case "paused", "resumed", "assigned", "acknowledged", "resolved",
		"enrolled", "session", "prompt_added", "prompt_removed", "note_added", "note_deleted", "discharged", "readmitted", "removed":
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
