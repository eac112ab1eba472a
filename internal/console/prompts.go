package console

import (
	_ "embed"
	"errors"
	"net/http"
	"slices"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/nudgehq/nudge/internal/clinic"
	"github.com/nudgehq/nudge/internal/domain"
	"github.com/nudgehq/nudge/internal/render"
	"github.com/nudgehq/nudge/internal/store"
	"github.com/nudgehq/nudge/internal/web"
	"github.com/nudgehq/nudge/scheduler"
	"github.com/nudgehq/nudge/worker"
)

// Sessions, prompts and event notes of one client, from the client page.

// localInput is the form of a date-time input (datetime-local).
const localInput = "2006-01-02T15:04"

// sessionSet records a session given in the client's local time.
func (s *Server) sessionSet(w http.ResponseWriter, r *http.Request) {
	p := principalOf(r)
	ctx := r.Context()
	id := r.PathValue("id")
	sub, err := s.client(ctx, p, id)
	if err != nil {
		s.fail(w, r, err)
		return
	}
	tr := texts(web.RequestLocale(r))
	r.Body = http.MaxBytesReader(w, r.Body, 4<<10)
	_ = r.ParseForm()
	raw := strings.TrimSpace(r.PostForm.Get("at"))
	loc, err := scheduler.LoadZone(sub.TimeZone)
	if err != nil {
		s.internalError(w, r, err)
		return
	}
	at, perr := time.ParseInLocation(localInput, raw, loc)
	if perr != nil {
		s.clientPage(w, r, http.StatusUnprocessableEntity, clientForms{SessionAt: raw, SessionError: tr("sess.err.format")})
		return
	}
	now := s.c.Now()
	if sub.Status == domain.Discharged {
		s.clientPage(w, r, http.StatusUnprocessableEntity, clientForms{SessionAt: raw, SessionError: tr("sess.err.discharged")})
		return
	}
	if _, err := s.c.Service.SetSession(ctx, p.Clinic, id, at); err != nil {
		var fe *clinic.FieldError
		if errors.As(err, &fe) {
			s.clientPage(w, r, http.StatusUnprocessableEntity, clientForms{SessionAt: raw, SessionError: tr("sess.err.range")})
			return
		}
		s.fail(w, r, err)
		return
	}
	if err := s.c.Store.LogSession(ctx, p.Clinic, id, at.UTC().Truncate(time.Second), now); err != nil {
		s.internalError(w, r, err)
		return
	}
	s.audit(r, p, "client.session", id, "at "+at.UTC().Format(time.RFC3339))
	s.backToClient(w, r, id, "session")
}

// promptForm is the prompt form's values, as typed.
type promptForm struct {
	Kind     string // "library" or "text"
	Template int
	Text     string
	When     string // "session" or "at"
	Days     int    // days from the session's date, -7…7
	Time     string // HH:MM local
	At       string // datetime-local, the client's zone
}

type promptData struct {
	ClientID, FirstName, Zone string
	ClientLang                string // the language of the library's messages for the client
	Prefix, Suffix            string // what a text adds around a written prompt
	Form                      promptForm
	Errors                    map[string]string
	Library                   []option
	DayChoices                []option
	Previews                  []msgPreview
	Counted                   bool // Segments was counted (after Preview)
	Segments, Chars           int
	MaxSegments               int
}

// rule writes the form's timing as a prompt rule.
func (f promptForm) rule(loc *time.Location) (string, bool) {
	if f.When == "at" {
		t, err := time.ParseInLocation(localInput, strings.TrimSpace(f.At), loc)
		if err != nil {
			return "", false
		}
		return "at:" + t.UTC().Format(time.RFC3339), true
	}
	if _, err := time.Parse("15:04", f.Time); err != nil {
		return "", false
	}
	sign := "+"
	if f.Days < 0 {
		sign = "-"
	}
	return "session" + sign + strconv.Itoa(absDays(f.Days)) + "d@" + f.Time, true
}

func absDays(n int) int {
	if n < 0 {
		return -n
	}
	return n
}

func readPromptForm(r *http.Request) promptForm {
	v := r.PostForm.Get
	f := promptForm{Kind: v("kind"), Text: v("text"), When: v("when"), Time: strings.TrimSpace(v("time")), At: v("at")}
	f.Template, _ = strconv.Atoi(v("template"))
	f.Days, _ = strconv.Atoi(v("days"))
	f.Days = max(-7, min(7, f.Days))
	if f.Kind != "text" {
		f.Kind = "library"
	}
	if f.When != "at" {
		f.When = "session"
	}
	return f
}

// promptNew is the form for a prompt: ?kind=library picks a library
// message, ?kind=text writes one.
func (s *Server) promptNew(w http.ResponseWriter, r *http.Request) {
	p := principalOf(r)
	id := r.PathValue("id")
	if _, err := s.client(r.Context(), p, id); err != nil {
		s.fail(w, r, err)
		return
	}
	f := promptForm{Kind: r.URL.Query().Get("kind"), When: "session", Days: 1, Time: "18:00", Template: 1}
	if f.Kind != "text" {
		f.Kind = "library"
	}
	s.promptRender(w, r, http.StatusOK, id, promptData{Form: f}, false)
}

// promptRender shows the prompt form; with preview, the message rendered
// as the client would get it.
func (s *Server) promptRender(w http.ResponseWriter, r *http.Request, status int, id string, d promptData, withPreview bool) {
	p := principalOf(r)
	ctx := r.Context()
	locale := web.RequestLocale(r)
	tr := texts(locale)
	sub, err := s.client(ctx, p, id)
	if err != nil {
		s.fail(w, r, err)
		return
	}
	c, err := s.c.Service.Clinic(ctx, p.Clinic)
	if err != nil {
		s.internalError(w, r, err)
		return
	}
	d.ClientID, d.FirstName, d.Zone, d.MaxSegments = id, sub.FirstName, sub.TimeZone, render.MaxSMSSegments
	d.Prefix, d.Suffix, d.ClientLang = c.DisplayName+": ", " "+render.SMSOptOut(sub.Locale), sub.Locale
	for i, m := range s.c.Library.Series(domain.BetweenSession, sub.Locale) {
		label := m.Name
		if e, _, err := worker.PromptMessage(s.c.Library, s.c.Renderer, sub, c, domain.Prompt{Template: i + 1}, s.standInLinks()); err == nil {
			label = e.Subject
		}
		d.Library = append(d.Library, option{Value: strconv.Itoa(i + 1), Label: strconv.Itoa(i+1) + ". " + label, Selected: d.Form.Template == i+1})
	}
	for n := -7; n <= 7; n++ {
		d.DayChoices = append(d.DayChoices, option{Value: strconv.Itoa(n), Label: dayChoice(tr, n), Selected: d.Form.Days == n})
	}
	if withPreview && d.Form.Kind == "text" && d.Errors["text"] == "" {
		// As the service counts: display name, text, opt-out words.
		full := c.DisplayName + ": " + cleanPromptText(d.Form.Text) + " " + render.SMSOptOut(sub.Locale)
		d.Segments, _ = render.GSM7Segments(full)
		d.Chars, d.Counted = utf8.RuneCountInString(full), true
	}
	if withPreview && len(d.Errors) == 0 {
		pr := domain.Prompt{Template: d.Form.Template}
		if d.Form.Kind == "text" {
			pr = domain.Prompt{Text: cleanPromptText(d.Form.Text)}
		}
		e, text, err := worker.PromptMessage(s.c.Library, s.c.Renderer, sub, c, pr, s.standInLinks())
		switch {
		case err != nil && d.Counted && d.Segments > render.MaxSMSSegments:
			d.Errors = map[string]string{"text": tr("prompt.err.text_long", render.MaxSMSSegments)}
		case err != nil:
			// The error may quote the text: ids only.
			s.c.Logger.Info("prompt preview not rendered", "clinic_id", p.Clinic, "client_id", id)
			d.Errors = map[string]string{d.Form.Kind: tr("prompt.err." + d.Form.Kind)}
		default:
			// On the channels the client gets prompts on.
			chans := sub.Channels
			if len(chans) == 0 {
				chans = []domain.Channel{domain.Email}
			}
			if slices.Contains(chans, domain.Email) {
				d.Previews = append(d.Previews, msgPreview{Lang: sub.Locale, Label: tr("enrol.preview_email"), Subject: e.Subject, Body: e.Text})
			}
			if slices.Contains(chans, domain.SMS) {
				n, _ := render.GSM7Segments(text)
				d.Previews = append(d.Previews, msgPreview{Lang: sub.Locale, Label: tr("enrol.preview_sms"), Body: text, Segments: n})
			}
		}
	}
	title := tr("prompt.title_library", sub.FirstName)
	if d.Form.Kind == "text" {
		title = tr("prompt.title_text", sub.FirstName)
	}
	s.render(w, status, locale, "prompt_new", page{Title: title, Who: p, Lang: locale, Path: r.URL.Path, Data: d})
}

// cleanPromptText is the text as the service will keep it, for a preview.
func cleanPromptText(s string) string {
	return strings.TrimSpace(strings.Map(func(r rune) rune {
		if r == '\n' || r == '\t' || r == '\r' {
			return ' '
		}
		return r
	}, s))
}

func dayChoice(tr func(string, ...any) string, n int) string {
	switch {
	case n == 0:
		return tr("prompt.day_of")
	case n == -1:
		return tr("prompt.day_before")
	case n == 1:
		return tr("prompt.day_after")
	case n < 0:
		return tr("prompt.days_before", -n)
	}
	return tr("prompt.days_after", n)
}

// promptSubmit is the prompt form's POST: step "preview" renders it (and
// counts a written text's segments), "add" adds it.
func (s *Server) promptSubmit(w http.ResponseWriter, r *http.Request) {
	p := principalOf(r)
	ctx := r.Context()
	id := r.PathValue("id")
	sub, err := s.client(ctx, p, id)
	if err != nil {
		s.fail(w, r, err)
		return
	}
	tr := texts(web.RequestLocale(r))
	r.Body = http.MaxBytesReader(w, r.Body, 16<<10)
	if err := r.ParseForm(); err != nil {
		s.message(w, r, http.StatusBadRequest, tr("badform.title"), messageData{Paragraphs: []string{tr("badform.body")}})
		return
	}
	f := readPromptForm(r)
	errs := map[string]string{}
	loc, err := scheduler.LoadZone(sub.TimeZone)
	if err != nil {
		s.internalError(w, r, err)
		return
	}
	rule, ok := f.rule(loc)
	if !ok {
		errs[f.When] = tr("prompt.err." + f.When)
	}
	if f.Kind == "text" && strings.TrimSpace(f.Text) == "" {
		errs["text"] = tr("prompt.err.text_empty")
	}
	if sub.Status == domain.Discharged {
		errs["kind"] = tr("sess.err.discharged")
	}
	if r.PostForm.Get("step") != "add" || len(errs) > 0 {
		status := http.StatusOK
		if len(errs) > 0 {
			status = http.StatusUnprocessableEntity
		}
		s.promptRender(w, r, status, id, promptData{Form: f, Errors: errs}, true)
		return
	}
	in := clinic.NewPrompt{Rule: rule}
	if f.Kind == "text" {
		in.Text = f.Text
	} else {
		in.Template = f.Template
	}
	pv, err := s.c.Service.AddPrompt(ctx, p.Clinic, id, in)
	var fe *clinic.FieldError
	if errors.As(err, &fe) {
		field := map[string]string{"rule": f.When, "template": "library", "text": "text"}[fe.Field]
		msg := tr("prompt.err." + field)
		if field == "text" && strings.Contains(fe.Message, "segments") {
			msg = tr("prompt.err.text_long", render.MaxSMSSegments)
		}
		if fe.Field == "rule" && strings.Contains(fe.Message, "at most") && strings.Contains(fe.Message, "prompts") {
			msg = tr("prompt.err.full", clinic.MaxPromptsPerClient)
		}
		s.promptRender(w, r, http.StatusUnprocessableEntity, id, promptData{Form: f, Errors: map[string]string{field: msg}}, true)
		return
	}
	if err != nil {
		s.fail(w, r, err)
		return
	}
	s.audit(r, p, "client.prompt.add", id, pv.ID)
	s.backToClient(w, r, id, "prompt_added")
}

// promptRemove removes one of a client's prompts.
func (s *Server) promptRemove(w http.ResponseWriter, r *http.Request) {
	p := principalOf(r)
	ctx := r.Context()
	id, pid := r.PathValue("id"), r.PathValue("prompt")
	if _, err := s.client(ctx, p, id); err != nil {
		s.fail(w, r, err)
		return
	}
	if err := s.c.Service.RemovePrompt(ctx, p.Clinic, id, pid); err != nil {
		s.fail(w, r, err)
		return
	}
	s.audit(r, p, "client.prompt.remove", id, pid)
	s.backToClient(w, r, id, "prompt_removed")
}

// MaxEventNoteLen is the longest event note.
const MaxEventNoteLen = 200

// noteAdd adds a dated event note to a client.
func (s *Server) noteAdd(w http.ResponseWriter, r *http.Request) {
	p := principalOf(r)
	ctx := r.Context()
	id := r.PathValue("id")
	if _, err := s.client(ctx, p, id); err != nil {
		s.fail(w, r, err)
		return
	}
	tr := texts(web.RequestLocale(r))
	r.Body = http.MaxBytesReader(w, r.Body, 8<<10)
	_ = r.ParseForm()
	day := strings.TrimSpace(r.PostForm.Get("day"))
	text := strings.Join(strings.Fields(strings.Map(func(r rune) rune {
		if r < ' ' || r == 0x7f {
			return ' '
		}
		return r
	}, r.PostForm.Get("note"))), " ")
	forms := clientForms{NoteDay: day, NoteText: text}
	d, err := time.Parse("2006-01-02", day)
	now := s.c.Now()
	switch {
	case err != nil || d.After(now.AddDate(1, 0, 0)) || d.Before(now.AddDate(-10, 0, 0)):
		forms.NoteDayError = tr("note.err.day")
	case text == "":
		forms.NoteError = tr("note.err.empty")
	case utf8.RuneCountInString(text) > MaxEventNoteLen:
		forms.NoteError = tr("note.err.long", MaxEventNoteLen)
	}
	if forms.NoteDayError != "" || forms.NoteError != "" {
		s.clientPage(w, r, http.StatusUnprocessableEntity, forms)
		return
	}
	n := store.ClientNote{ID: "n" + store.NewID()[:12], Client: id, Day: d, Text: text, Staff: p.StaffID, Written: now}
	if err := s.c.Store.AddClientNote(ctx, p.Clinic, n); err != nil {
		if errors.Is(err, store.ErrTooMany) {
			forms.NoteError = tr("note.err.full", store.MaxClientNotes)
			s.clientPage(w, r, http.StatusUnprocessableEntity, forms)
			return
		}
		s.fail(w, r, err)
		return
	}
	s.audit(r, p, "client.note.add", id, n.ID)
	s.backToClient(w, r, id, "note_added")
}

// noteDelete deletes a note: its writer may, and an owner.
func (s *Server) noteDelete(w http.ResponseWriter, r *http.Request) {
	p := principalOf(r)
	ctx := r.Context()
	id, nid := r.PathValue("id"), r.PathValue("note")
	if _, err := s.client(ctx, p, id); err != nil {
		s.fail(w, r, err)
		return
	}
	notes, err := s.c.Store.ClientNotes(ctx, p.Clinic, id)
	if err != nil {
		s.fail(w, r, err)
		return
	}
	found := false
	for _, n := range notes {
		if n.ID == nid && (p.Owner() || n.Staff == p.StaffID) {
			found = true
		}
	}
	if !found {
		s.notFound(w, r)
		return
	}
	if err := s.c.Store.DeleteClientNote(ctx, p.Clinic, id, nid); err != nil {
		s.fail(w, r, err)
		return
	}
	s.audit(r, p, "client.note.delete", id, nid)
	s.backToClient(w, r, id, "note_deleted")
}

// localWhen writes an instant in the client's zone.
func localWhen(t time.Time, loc *time.Location) string {
	return t.In(loc).Format("2006-01-02 15:04 MST")
}

// fillSessionsAndPrompts adds the client's sessions (next, past) and
// prompts to the client page, times in the client's zone.
func (s *Server) fillSessionsAndPrompts(r *http.Request, p *principal, v clinic.ClientView, d *clientData, tr func(string, ...any) string) error {
	ctx := r.Context()
	loc, err := scheduler.LoadZone(v.TimeZone)
	if err != nil {
		loc = time.UTC
	}
	now := s.c.Now()
	if !v.NextSession.IsZero() {
		d.NextLocal = localWhen(v.NextSession, loc)
	}
	logged, err := s.c.Store.SessionLog(ctx, p.Clinic, v.ID)
	if err != nil {
		return err
	}
	st, err := s.c.Store.PromptStateOf(ctx, p.Clinic, v.ID)
	if err != nil {
		return err
	}
	seen := map[int64]bool{}
	var past []time.Time
	for _, t := range append(logged, st.Sessions...) {
		if !t.After(now) && !seen[t.Unix()] {
			seen[t.Unix()] = true
			past = append(past, t)
		}
	}
	slices.SortFunc(past, func(a, b time.Time) int { return b.Compare(a) })
	for _, t := range past {
		d.PastSessions = append(d.PastSessions, localWhen(t, loc))
	}
	prompts, err := s.c.Service.Prompts(ctx, p.Clinic, v.ID)
	if err != nil {
		return err
	}
	for _, pv := range prompts {
		row := promptRow{ID: pv.ID, Rule: describeRule(tr, pv.Rule, loc), Next: tr("prompt.none_ahead")}
		if !pv.Next.IsZero() {
			row.Next = localWhen(pv.Next, loc)
		}
		if pv.Template > 0 {
			row.Message = tr("prompt.library_n", pv.Template)
			if ms := s.c.Library.Series(domain.BetweenSession, v.Locale); pv.Template <= len(ms) {
				row.Message += " (" + ms[pv.Template-1].Name + ")"
			}
		} else {
			row.Message = pv.Text
		}
		d.Prompts = append(d.Prompts, row)
	}
	return nil
}

// describeRule says when a prompt goes, in the page's language.
func describeRule(tr func(string, ...any) string, rule string, loc *time.Location) string {
	pr, err := scheduler.ParsePromptRule(rule)
	if err != nil {
		return rule
	}
	switch r := pr.(type) {
	case scheduler.AbsoluteRule:
		return tr("prompt.rule_at", localWhen(r.Instant, loc))
	case scheduler.SessionRule:
		if r.OnDay {
			return tr("prompt.rule_day", dayChoice(tr, r.Days), r.Time.String())
		}
	}
	return rule
}

//go:embed static/prompt.js
var promptJS []byte

// promptScript serves the prompt form's live counter, from this origin (the
// pages' policy allows no inline script).
func (s *Server) promptScript(w http.ResponseWriter, r *http.Request) {
	w.Header().Set("Content-Type", "text/javascript; charset=utf-8")
	_, _ = w.Write(promptJS)
}
