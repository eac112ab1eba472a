package console

import (
	"bytes"
	"encoding/csv"
	"net/http"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/nudgehq/nudge/internal/clinic"
	"github.com/nudgehq/nudge/internal/web"
)

// The timeline and the summary export of one client. Both show what the
// client wrote, so each is audited.

type timelineItem struct {
	At      time.Time
	Kind    string // reply, delivery, note
	Channel string
	Score   int
	Text    string // a reply's words, a delivery's state, a note
}

type timelineData struct {
	ID, FirstName string
	Items         []timelineItem
}

// timeline lists a client's replies, deliveries and event notes on one
// list, newest first.
func (s *Server) timeline(w http.ResponseWriter, r *http.Request) {
	p := principalOf(r)
	ctx := r.Context()
	id := r.PathValue("id")
	sub, err := s.client(ctx, p, id)
	if err != nil {
		s.fail(w, r, err)
		return
	}
	locale := web.RequestLocale(r)
	tr := texts(locale)
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
	notes, err := s.c.Store.ClientNotes(ctx, p.Clinic, id)
	if err != nil {
		s.fail(w, r, err)
		return
	}
	d := timelineData{ID: id, FirstName: sub.FirstName}
	for _, rp := range replies.Items {
		d.Items = append(d.Items, timelineItem{At: rp.At, Kind: "reply", Channel: rp.Channel, Score: rp.Rating, Text: rp.Text})
	}
	for _, dl := range deliveries.Items {
		state := tr("cl.dstate." + string(dl.State))
		if dl.ProviderStatus != "" {
			state += " (" + dl.ProviderStatus + ")"
		}
		d.Items = append(d.Items, timelineItem{At: dl.At, Kind: "delivery", Channel: string(dl.Key.Channel), Text: state})
	}
	for _, n := range notes {
		d.Items = append(d.Items, timelineItem{At: n.Day, Kind: "note", Text: n.Text})
	}
	slices.SortStableFunc(d.Items, func(a, b timelineItem) int { return b.At.Compare(a.At) })
	s.audit(r, p, "client.timeline", id, "")
	s.render(w, http.StatusOK, locale, "timeline", page{Title: tr("timeline.title", sub.FirstName), Who: p, Lang: locale, Path: r.URL.Path, Data: d})
}

// exportCell keeps a cell from being read as a formula by a spreadsheet: a
// cell starting with = + - @, a tab or a carriage return gets a leading '.
func exportCell(s string) string {
	if s != "" && strings.ContainsRune("=+-@\t\r", rune(s[0])) {
		return "'" + s
	}
	return s
}

// export sends a client's summary as CSV: the date, kind, score and note
// of every answer and event note, oldest first.
func (s *Server) export(w http.ResponseWriter, r *http.Request) {
	p := principalOf(r)
	ctx := r.Context()
	id := r.PathValue("id")
	if _, err := s.client(ctx, p, id); err != nil {
		s.fail(w, r, err)
		return
	}
	answers, err := s.c.Store.Answers(ctx, id, time.Time{}, time.Time{})
	if err != nil {
		s.internalError(w, r, err)
		return
	}
	notes, err := s.c.Store.ClientNotes(ctx, p.Clinic, id)
	if err != nil {
		s.fail(w, r, err)
		return
	}
	type row struct {
		at                time.Time
		kind, score, note string
	}
	var rows []row
	for _, a := range answers {
		sc := ""
		if a.Score > 0 {
			sc = strconv.Itoa(a.Score)
		}
		rows = append(rows, row{at: a.At(), kind: "answer", score: sc, note: a.Note})
	}
	for _, n := range notes {
		rows = append(rows, row{at: n.Day, kind: "event", note: n.Text})
	}
	slices.SortStableFunc(rows, func(a, b row) int { return a.at.Compare(b.at) })
	var buf bytes.Buffer
	cw := csv.NewWriter(&buf)
	_ = cw.Write([]string{"date", "kind", "score", "note"})
	for _, x := range rows {
		_ = cw.Write([]string{x.at.UTC().Format("2006-01-02"), x.kind, exportCell(x.score), exportCell(x.note)})
	}
	cw.Flush()
	if err := cw.Error(); err != nil {
		s.internalError(w, r, err)
		return
	}
	s.audit(r, p, "client.export", id, strconv.Itoa(len(rows))+" rows")
	w.Header().Set("Content-Type", "text/csv; charset=utf-8")
	w.Header().Set("Content-Disposition", `attachment; filename="client-`+id+`-summary.csv"`)
	w.Header().Set("X-Content-Type-Options", "nosniff")
	_, _ = w.Write(buf.Bytes())
}
