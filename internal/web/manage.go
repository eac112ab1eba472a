package web

import (
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"time"

	"github.com/hibiken/asynq"
	"github.com/nudgehq/nudge/internal/domain"
	"github.com/nudgehq/nudge/internal/store"
	"github.com/nudgehq/nudge/internal/subscription"
	"github.com/nudgehq/nudge/internal/token"
	"github.com/nudgehq/nudge/scheduler"
)

// The preference centre lives behind the signed manage link. Its page
// (GET /manage/{token}) shows the subscriber's schedules and a form per
// change; each change is a POST to a path under the link, answered with a
// redirect back to the page (so a reload does not send it again) or, when
// the input is wrong, the page again with a message next to the field (422).
//
//	GET  /manage/{token}               the page
//	POST /manage/{token}/preferences   programs, days, times, zone, language, channels, goal
//	POST /manage/{token}/pause         pause until a date
//	POST /manage/{token}/resume        end a pause
//	GET  /manage/{token}/export        everything kept about them, as a JSON download
//	GET  /manage/{token}/erase         asks to confirm an erasure
//	POST /manage/{token}/erase         erases them
//
// A clinic's client gets the same link, but their messages are arranged
// with their clinic: their page says so, by the clinic's display name (never
// its private name), and offers only the pause, the unsubscribe, the export
// and the erasure. A preferences POST for a client is refused (403) and
// changes nothing.
func (s *Server) manageRoutes(mux *http.ServeMux) {
	mux.HandleFunc("GET /manage/{token}", s.managePage)
	mux.HandleFunc("POST /manage/{token}/preferences", s.managePreferences)
	mux.HandleFunc("POST /manage/{token}/pause", s.managePause)
	mux.HandleFunc("POST /manage/{token}/resume", s.manageResume)
	mux.HandleFunc("GET /manage/{token}/export", s.manageExport)
	mux.HandleFunc("GET /manage/{token}/erase", s.erasePage)
	mux.HandleFunc("POST /manage/{token}/erase", s.erase)
}

// manager is the preference-centre service: Deps.Manage, or one built on
// the store's Redis (cheap: it holds no connection of its own).
func (s *Server) manager() *subscription.Manager {
	if s.d.Manage != nil {
		return s.d.Manage
	}
	return subscription.NewManager(subscription.ManagerConfig{
		Store: s.d.Store, Tasks: asynq.NewInspectorFromRedisClient(s.d.Store.Redis()),
		SMSWindow: scheduler.DefaultSMSWindow, Now: s.d.Now, Logger: s.d.Logger,
	})
}

type scheduleView struct{ Title, When, Next string }

// manageForm is the preferences form as shown or as sent back.
type manageForm struct {
	TimeZone, Locale, Goal string
	Email, SMS             bool
}

type managePage struct {
	FirstName, TimeZone, Status string
	// Client is, for a clinic's client, the name their messages are
	// arranged with (the clinic's display name); "" for a public
	// subscriber. It turns the page into the client's.
	Client    string
	Schedules []scheduleView
	// Notice says what the last change did.
	Notice string
	// Paused is when messages start again, in words; "" when not paused.
	Paused string
	// Held is true while messages are held after a reply in distress,
	// until the person resumes.
	Held bool

	// The preferences form.
	Form                  manageForm
	Programs              []programView
	Zones                 []string
	Errors                map[string]string // field → message
	EmailAddress, Phone   string            // offered as channels when there is one
	SMSWindow, SMSConsent string            // notes under the SMS choice

	// The pause form: the date input's bounds and value.
	PauseMin, PauseMax, PauseValue string

	// Where each form goes.
	Base, Preferences, Pause, Resume, Export, Erase, Unsubscribe string

	// ConfirmErase turns the page into the erasure's confirmation.
	ConfirmErase bool
}

// manageSubject verifies the manage link and loads its subscriber. On a bad
// link, or a subscriber who is gone, it answers itself and returns false.
func (s *Server) manageSubject(w http.ResponseWriter, r *http.Request) (domain.Subscriber, bool) {
	id, err := s.d.Signer.Verify(token.Manage, r.PathValue("token"), s.d.Now())
	if err != nil {
		s.badLink(w, r, err)
		return domain.Subscriber{}, false
	}
	sub, err := s.d.Store.Subscriber(r.Context(), id)
	if errors.Is(err, store.ErrNotFound) {
		s.badLink(w, r, token.ErrInvalid)
		return domain.Subscriber{}, false
	}
	if err != nil {
		s.internalError(w, r, requestLocale(r), err)
		return domain.Subscriber{}, false
	}
	return sub, true
}

// manageBase is the page's own path, under which every form posts.
func manageBase(r *http.Request) string {
	return "/manage/" + url.PathEscape(r.PathValue("token"))
}

// backToPage answers a change with a redirect to the page, which says what
// was done.
func backToPage(w http.ResponseWriter, r *http.Request, done string) {
	to := manageBase(r)
	if done != "" {
		to += "?done=" + done
	}
	http.Redirect(w, r, to, http.StatusSeeOther)
}

func (s *Server) managePage(w http.ResponseWriter, r *http.Request) {
	sub, ok := s.manageSubject(w, r)
	if !ok {
		return
	}
	tr := s.text[storedLocale(sub.Locale)]
	v, err := s.manageView(r, tr, sub, formOf(sub), nil, nil)
	if err != nil {
		s.internalError(w, r, tr.locale, err)
		return
	}
	if done := r.URL.Query().Get("done"); done != "" && tr.has("manage.done."+done) {
		v.Notice = tr.get("manage.done." + done)
	}
	s.render(w, http.StatusOK, tr.locale, "manage", v)
}

// formOf is the preferences form filled in with sub's current choices.
func formOf(sub domain.Subscriber) manageForm {
	f := manageForm{TimeZone: sub.TimeZone, Locale: storedLocale(sub.Locale), Goal: sub.Goal}
	// No channels recorded means email only.
	f.Email = (len(sub.Channels) == 0 && sub.Email != "") || slices.Contains(sub.Channels, domain.Email)
	f.SMS = slices.Contains(sub.Channels, domain.SMS)
	return f
}

// manageView builds the page. chosen, when not nil, are the programs as sent
// back with errors; otherwise they are read from the stored schedules.
// errs are messages by field.
func (s *Server) manageView(r *http.Request, tr texts, sub domain.Subscriber, f manageForm, chosen map[domain.Program]programChoice, errs map[string]string) (managePage, error) {
	loc, err := scheduler.LoadZone(sub.TimeZone)
	if err != nil {
		loc = time.UTC
	}
	now := s.d.Now()
	base := manageBase(r)
	v := managePage{
		FirstName: sub.FirstName, TimeZone: sub.TimeZone, Status: string(sub.Status),
		Form: f, Errors: errs, Zones: s.d.Zones, EmailAddress: sub.Email, Phone: sub.Phone,
		Base: base, Preferences: base + "/preferences", Pause: base + "/pause", Resume: base + "/resume",
		Export: base + "/export", Erase: base + "/erase",
		Unsubscribe: "/unsubscribe/" + s.d.Signer.Sign(token.Unsubscribe, sub.ID, now.Add(time.Hour)),
	}
	if !slices.Contains(v.Zones, sub.TimeZone) && sub.TimeZone != "" {
		// A zone set elsewhere (a clinic, an older list) stays choosable.
		v.Zones = append([]string{sub.TimeZone}, v.Zones...)
	}
	v.Held = !sub.DistressAt.IsZero()
	if now.Before(sub.PausedUntil) {
		v.Paused = describeDate(tr, sub.PausedUntil.In(loc))
		v.PauseValue = sub.PausedUntil.In(loc).Format(time.DateOnly)
	}
	today := now.In(loc)
	v.PauseMin = today.AddDate(0, 0, 1).Format(time.DateOnly)
	v.PauseMax = today.AddDate(0, subscription.MaxPauseMonths, 0).Format(time.DateOnly)

	if sub.Clinic != "" {
		// No programs, no preferences form: the clinic arranges them.
		v.Client, err = s.arrangedWith(r, tr, sub)
		return v, err
	}
	scheds, err := s.d.Store.Schedules(r.Context(), sub.ID)
	if err != nil && !errors.Is(err, store.ErrNotFound) {
		return managePage{}, err
	}
	if chosen == nil {
		chosen = map[domain.Program]programChoice{}
		for _, sc := range scheds {
			chosen[sc.Program] = ruleChoice(sc.Rule)
		}
	}
	for _, sc := range scheds {
		next := "—"
		if !sc.Next.IsZero() {
			next = describeTime(tr, sc.Next.In(loc))
		}
		v.Schedules = append(v.Schedules, scheduleView{Title: programTitle(tr, sc.Program), When: describeRule(tr, sc.Rule), Next: next})
	}
	for _, p := range formPrograms {
		c, ok := chosen[p.Program]
		if !ok {
			c = programChoice{Day: p.DefaultDay, Time: p.DefaultTime}
		}
		days := weekdayOptions(tr)
		if p.Monthly {
			days = monthDayOptions(tr)
		}
		name := string(p.Program)
		v.Programs = append(v.Programs, programView{
			Name: name, Title: tr.get("program." + name + ".title"), Hint: tr.get("program." + name + ".hint"), Monthly: p.Monthly,
			Checked: c.Checked, Day: c.Day, Time: c.Time, Error: errs[name], Days: days,
		})
	}
	if sub.Phone != "" {
		w := s.manager().SMSWindow()
		v.SMSWindow = tr.get("manage.prefs.sms_window", windowStart(w), windowEnd(w))
		switch sub.SMSStatus {
		case domain.SMSActive:
		case domain.SMSPending:
			v.SMSConsent = tr.get("manage.prefs.sms_pending")
		case domain.SMSStopped:
			v.SMSConsent = tr.get("manage.prefs.sms_stopped")
		default:
			v.SMSConsent = tr.get("manage.prefs.sms_none")
		}
	}
	return v, nil
}

// arrangedWith is the name a client's messages are arranged with: their
// clinic's display name, or a neutral phrase when it has none (or is gone).
// The clinic's own name is the operator's and never shown.
func (s *Server) arrangedWith(r *http.Request, tr texts, sub domain.Subscriber) (string, error) {
	c, err := s.d.Store.Clinic(r.Context(), sub.Clinic)
	switch {
	case errors.Is(err, store.ErrNotFound):
	case err != nil:
		return "", err
	case strings.TrimSpace(c.DisplayName) != "":
		return c.DisplayName, nil
	}
	return tr.get("manage.client.unnamed"), nil
}

// arrangedByClinic answers a preferences POST for a clinic's client: the
// page again, saying why nothing was changed.
func (s *Server) arrangedByClinic(w http.ResponseWriter, r *http.Request, tr texts, sub domain.Subscriber) {
	v, err := s.manageView(r, tr, sub, formOf(sub), nil, nil)
	if err != nil {
		s.internalError(w, r, tr.locale, err)
		return
	}
	v.Errors = map[string]string{"client": tr.get("manage.client.refused", v.Client)}
	s.render(w, http.StatusForbidden, tr.locale, "manage", v)
}

// ruleChoice is a stored rule as the form's day and time: the inverse of
// buildRule. A rule the form cannot show comes back unchecked.
func ruleChoice(rule string) programChoice {
	r, err := scheduler.ParseRule(rule)
	if err != nil {
		return programChoice{}
	}
	_, rest, _ := strings.Cut(r.String(), ":")
	day, at, _ := strings.Cut(rest, "@")
	return programChoice{Checked: true, Day: day, Time: at}
}

// programTitle is the name of p in tr's language, or p itself if the
// catalogue does not name it.
func programTitle(tr texts, p domain.Program) string {
	if key := "program." + string(p) + ".title"; tr.has(key) {
		return tr.get(key)
	}
	return string(p)
}

// describeDate says a date in words ("15 January 2027").
func describeDate(tr texts, t time.Time) string {
	return tr.get("manage.date", t.Day(), tr.get(fmt.Sprintf("month.%d", int(t.Month()))), t.Year())
}

func windowStart(w scheduler.Window) string {
	return scheduler.WallTime{Hour: w.Start / 60, Minute: w.Start % 60}.String()
}

func windowEnd(w scheduler.Window) string {
	return scheduler.WallTime{Hour: w.End / 60, Minute: w.End % 60}.String()
}

// windowLast is the last minute inside the window.
func windowLast(w scheduler.Window) string {
	return scheduler.WallTime{Hour: (w.End - 1) / 60, Minute: (w.End - 1) % 60}.String()
}

// fieldMessages turns catalogue keys by field into messages in tr's language.
func (s *Server) fieldMessages(tr texts, keys map[string]string) map[string]string {
	w := s.manager().SMSWindow()
	out := make(map[string]string, len(keys))
	for field, key := range keys {
		switch key {
		case "manage.error.sms_window":
			out[field] = tr.get(key, windowStart(w), windowEnd(w), windowStart(w), windowLast(w))
		case "manage.error.until_far":
			out[field] = tr.get(key, subscription.MaxPauseMonths)
		default:
			out[field] = tr.get(key)
		}
	}
	return out
}

// parseForm reads a POSTed form of the preference centre; on a body it
// cannot read it answers itself and returns false.
func (s *Server) parseForm(w http.ResponseWriter, r *http.Request, locale string) bool {
	r.Body = http.MaxBytesReader(w, r.Body, 64<<10)
	if err := r.ParseForm(); err != nil {
		tr := s.text[locale]
		s.message(w, http.StatusBadRequest, locale, messagePage{Title: tr.get("bad_form.title"), Paragraphs: []string{tr.get("bad_form.body")}})
		return false
	}
	return true
}

func (s *Server) managePreferences(w http.ResponseWriter, r *http.Request) {
	sub, ok := s.manageSubject(w, r)
	if !ok {
		return
	}
	tr := s.text[storedLocale(sub.Locale)]
	if !s.parseForm(w, r, tr.locale) {
		return
	}
	if sub.Clinic != "" {
		// The page offers a client no such form; the service would refuse
		// it too (subscription.ErrArrangedByClinic).
		s.arrangedByClinic(w, r, tr, sub)
		return
	}
	if sub.Status != domain.Active {
		backToPage(w, r, "") // the page says where they stand
		return
	}
	// The programs, zone, language and goal use the signup form's fields
	// and rules.
	sf := parseSignupForm(r.PostForm)
	f := manageForm{TimeZone: sf.TimeZone, Locale: sf.Locale, Goal: sf.Goal}
	var channels []domain.Channel
	for _, c := range r.PostForm["channel"] {
		channels = append(channels, domain.Channel(c))
		f.Email = f.Email || c == string(domain.Email)
		f.SMS = f.SMS || c == string(domain.SMS)
	}
	errs := map[string]string{}
	p := subscription.Preferences{TimeZone: sf.TimeZone, Locale: sf.Locale, Goal: sf.Goal, Channels: channels}
	for _, info := range formPrograms {
		c := sf.Programs[info.Program]
		if !c.Checked {
			continue
		}
		rule, key := buildRule(info, c)
		if key != "" {
			errs[string(info.Program)] = key
			continue
		}
		p.Schedules = append(p.Schedules, domain.Schedule{Program: info.Program, Rule: rule})
	}
	if !s.zones[sf.TimeZone] && sf.TimeZone != sub.TimeZone {
		errs["tz"] = "error.tz"
	}
	if noneChecked(sf) {
		errs["programs"] = "error.programs"
	}
	// The service's own checks too, so that every problem shows at once.
	for field, reason := range s.manager().Check(sub, p) {
		if field == "programs" && reason == subscription.ReasonMissing {
			continue // said above, or a chosen program has its own message
		}
		if _, ok := errs[field]; !ok {
			errs[field] = reasonKey(field, reason)
		}
	}
	if len(errs) == 0 {
		change, err := s.manager().ChangePreferences(r.Context(), sub.ID, p, origin(r, subscription.SourceManagePage))
		var fe *subscription.FieldErrors
		switch {
		case errors.As(err, &fe):
			for field, reason := range fe.Fields {
				errs[field] = reasonKey(field, reason)
			}
		case errors.Is(err, store.ErrNotFound):
			s.badLink(w, r, token.ErrInvalid)
			return
		case errors.Is(err, subscription.ErrNotActive):
			backToPage(w, r, "")
			return
		case errors.Is(err, subscription.ErrArrangedByClinic):
			s.arrangedByClinic(w, r, tr, sub)
			return
		case err != nil:
			s.internalError(w, r, tr.locale, err)
			return
		case change.Changed():
			backToPage(w, r, "saved")
			return
		default:
			backToPage(w, r, "same")
			return
		}
	}
	chosen := map[domain.Program]programChoice{}
	for prog, c := range sf.Programs {
		chosen[prog] = c
	}
	v, err := s.manageView(r, tr, sub, f, chosen, s.fieldMessages(tr, errs))
	if err != nil {
		s.internalError(w, r, tr.locale, err)
		return
	}
	s.render(w, http.StatusUnprocessableEntity, tr.locale, "manage", v)
}

func (s *Server) managePause(w http.ResponseWriter, r *http.Request) {
	sub, ok := s.manageSubject(w, r)
	if !ok {
		return
	}
	tr := s.text[storedLocale(sub.Locale)]
	if !s.parseForm(w, r, tr.locale) {
		return
	}
	_, err := s.manager().PauseUntil(r.Context(), sub.ID, r.PostForm.Get("until"), origin(r, subscription.SourceManagePage))
	var fe *subscription.FieldErrors
	switch {
	case errors.As(err, &fe):
		keys := map[string]string{}
		for field, reason := range fe.Fields {
			keys[field] = reasonKey(field, reason)
		}
		v, verr := s.manageView(r, tr, sub, formOf(sub), nil, s.fieldMessages(tr, keys))
		if verr != nil {
			s.internalError(w, r, tr.locale, verr)
			return
		}
		v.PauseValue = r.PostForm.Get("until")
		s.render(w, http.StatusUnprocessableEntity, tr.locale, "manage", v)
	case errors.Is(err, store.ErrNotFound):
		s.badLink(w, r, token.ErrInvalid)
	case errors.Is(err, subscription.ErrNotActive):
		backToPage(w, r, "")
	case err != nil:
		s.internalError(w, r, tr.locale, err)
	default:
		backToPage(w, r, "paused")
	}
}

func (s *Server) manageResume(w http.ResponseWriter, r *http.Request) {
	sub, ok := s.manageSubject(w, r)
	if !ok {
		return
	}
	err := s.manager().Resume(r.Context(), sub.ID, origin(r, subscription.SourceManagePage))
	switch {
	case errors.Is(err, store.ErrNotFound):
		s.badLink(w, r, token.ErrInvalid)
	case err != nil:
		s.internalError(w, r, storedLocale(sub.Locale), err)
	default:
		backToPage(w, r, "resumed")
	}
}

func (s *Server) manageExport(w http.ResponseWriter, r *http.Request) {
	sub, ok := s.manageSubject(w, r)
	if !ok {
		return
	}
	ex, err := s.manager().Export(r.Context(), sub.ID)
	if errors.Is(err, store.ErrNotFound) {
		s.badLink(w, r, token.ErrInvalid)
		return
	}
	if err != nil {
		s.internalError(w, r, storedLocale(sub.Locale), err)
		return
	}
	b, err := json.MarshalIndent(ex, "", "  ")
	if err != nil {
		s.internalError(w, r, storedLocale(sub.Locale), fmt.Errorf("encode export of %s: %w", sub.ID, err))
		return
	}
	w.Header().Set("Content-Type", "application/json; charset=utf-8")
	w.Header().Set("Content-Disposition", `attachment; filename="nudge-my-data-`+s.d.Now().UTC().Format(time.DateOnly)+`.json"`)
	w.Header().Set("Cache-Control", "no-store")
	_, _ = w.Write(append(b, '\n'))
}

func (s *Server) erasePage(w http.ResponseWriter, r *http.Request) {
	sub, ok := s.manageSubject(w, r)
	if !ok {
		return
	}
	tr := s.text[storedLocale(sub.Locale)]
	base := manageBase(r)
	v := managePage{ConfirmErase: true, Base: base, Erase: base + "/erase", Status: string(sub.Status)}
	if sub.Clinic != "" {
		name, err := s.arrangedWith(r, tr, sub)
		if err != nil {
			s.internalError(w, r, tr.locale, err)
			return
		}
		v.Client = name
	}
	s.render(w, http.StatusOK, tr.locale, "manage", v)
}

// erase erases the subscriber behind the link. A subscriber already gone is
// swept again (whatever an earlier, interrupted erasure left) and gets the
// same answer.
func (s *Server) erase(w http.ResponseWriter, r *http.Request) {
	id, err := s.d.Signer.Verify(token.Manage, r.PathValue("token"), s.d.Now())
	if err != nil {
		s.badLink(w, r, err)
		return
	}
	sub, locale := s.linkSubscriber(r, id)
	tr := s.text[locale]
	body := tr.get("manage.erased.body")
	if sub.Clinic != "" {
		body = tr.get("manage.client.erased") // not pointed to the public signup
	}
	if _, err := s.manager().Erase(r.Context(), id); err != nil {
		s.internalError(w, r, tr.locale, err)
		return
	}
	s.message(w, http.StatusOK, tr.locale, messagePage{
		Title:      tr.get("manage.erased.title"),
		Paragraphs: []string{body},
	})
}
