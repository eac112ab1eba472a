package console

import (
	"encoding/csv"
	"errors"
	"net/http"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/nudgehq/nudge/internal/clinic"
	"github.com/nudgehq/nudge/internal/domain"
	"github.com/nudgehq/nudge/internal/store"
	"github.com/nudgehq/nudge/internal/web"
)

// The clinic settings page (owners): how the clinic's messages are signed
// and capped, its own crisis line, the console's idle limit and second
// factor rule, its webhook and API keys. Changes go through clinic.Service
// with the API's and CLI's checks; a new webhook secret or API key is shown
// once, on the answer to the POST that made it, and never written to the
// audit log.

type settingsForm struct {
	DisplayName, SignOff, CrisisText string
	CapDay, CapWeek                  string
	TimeZone                         string
	Idle                             string
	RequireTOTP                      bool
	WebhookURL                       string
}

type settingsData struct {
	Form             settingsForm
	Keys             []store.APIKey
	Errors           map[string]string // by field name
	ShownLabel       string            // a secret shown once
	ShownValue       string
	IdleMin, IdleMax int
	MaxCapDay        int
	MaxCapWeek       int
	HasWebhook       bool
}

// settingsLoad fills the page from the stored clinic; form replaces what
// was typed in the form that failed (nil: none).
func (s *Server) settingsRender(w http.ResponseWriter, r *http.Request, status int, d settingsData, typed func(*settingsForm)) {
	p := principalOf(r)
	ctx := r.Context()
	locale := web.RequestLocale(r)
	c, err := s.c.Service.Clinic(ctx, p.Clinic)
	if err != nil {
		s.fail(w, r, err)
		return
	}
	cs, err := s.c.Store.ConsoleSettingsOf(ctx, p.Clinic)
	if err != nil {
		s.internalError(w, r, err)
		return
	}
	keys, err := s.c.Service.Keys(ctx, p.Clinic)
	if err != nil {
		s.fail(w, r, err)
		return
	}
	sort.Slice(keys, func(i, j int) bool { return keys[i].CreatedAt.Before(keys[j].CreatedAt) })
	d.Form = settingsForm{DisplayName: c.DisplayName, SignOff: c.SignOff, CrisisText: c.CrisisText, CapDay: strconv.Itoa(c.CapDay), CapWeek: strconv.Itoa(c.CapWeek), TimeZone: c.TimeZone,
		Idle: strconv.Itoa(cs.IdleMinutes), RequireTOTP: cs.RequireTOTP, WebhookURL: c.WebhookURL}
	if typed != nil {
		typed(&d.Form)
	}
	d.Keys, d.HasWebhook = keys, c.WebhookURL != ""
	d.IdleMin, d.IdleMax, d.MaxCapDay, d.MaxCapWeek = store.MinIdleMinutes, store.MaxIdleMinutes, domain.MaxCapDay, domain.MaxCapWeek
	s.render(w, status, locale, "settings", page{Title: texts(locale)("owner.settings.title"), Who: p, Lang: locale, Path: "/console/settings", Data: d,
		Notice: ownerNotice(r, texts(locale))})
}

func (s *Server) settingsShow(w http.ResponseWriter, r *http.Request) {
	s.settingsRender(w, r, http.StatusOK, settingsData{}, nil)
}

// fieldMessage is the page's words for a service's refusal of a field.
func fieldMessage(tr func(string, ...any) string, fe *clinic.FieldError) string {
	switch fe.Field {
	case "display_name":
		return tr("owner.settings.err.display_name", clinic.MaxDisplayNameLen)
	case "sign_off":
		return tr("owner.settings.err.sign_off", clinic.MaxSignOffLen)
	case "crisis_text":
		return tr("owner.settings.err.crisis_text", clinic.MaxCrisisTextLen)
	case "cap_day", "cap_week":
		return tr("owner.settings.err.caps", domain.MaxCapDay, domain.MaxCapWeek)
	case "time_zone":
		return tr("owner.settings.err.time_zone")
	}
	return tr("owner.settings.err.url") + " (" + fe.Message + ")"
}

// settingsSave changes how the clinic's messages are signed and capped.
func (s *Server) settingsSave(w http.ResponseWriter, r *http.Request) {
	p := principalOf(r)
	tr := texts(web.RequestLocale(r))
	if !s.parseForm(w, r) {
		return
	}
	f := r.PostForm
	typed := func(t *settingsForm) {
		t.DisplayName, t.SignOff, t.CrisisText, t.CapDay, t.CapWeek = f.Get("display_name"), f.Get("sign_off"), f.Get("crisis_text"), f.Get("cap_day"), f.Get("cap_week")
		t.TimeZone = f.Get("time_zone")
	}
	errs := map[string]string{}
	capDay, err1 := strconv.Atoi(strings.TrimSpace(f.Get("cap_day")))
	capWeek, err2 := strconv.Atoi(strings.TrimSpace(f.Get("cap_week")))
	if err1 != nil || capDay < 1 {
		errs["cap_day"] = tr("owner.settings.err.caps", domain.MaxCapDay, domain.MaxCapWeek)
	}
	if err2 != nil || capWeek < 1 {
		errs["cap_week"] = tr("owner.settings.err.caps", domain.MaxCapDay, domain.MaxCapWeek)
	}
	if len(errs) > 0 {
		s.settingsRender(w, r, http.StatusUnprocessableEntity, settingsData{Errors: errs}, typed)
		return
	}
	before, err := s.c.Service.Clinic(r.Context(), p.Clinic)
	if err != nil {
		s.fail(w, r, err)
		return
	}
	after, err := s.c.Service.UpdateSettings(r.Context(), p.Clinic, clinic.Settings{
		DisplayName: f.Get("display_name"), SignOff: f.Get("sign_off"), CrisisText: f.Get("crisis_text"), CapDay: capDay, CapWeek: capWeek,
		TimeZone: f.Get("time_zone"),
	})
	var fe *clinic.FieldError
	if errors.As(err, &fe) {
		s.settingsRender(w, r, http.StatusUnprocessableEntity, settingsData{Errors: map[string]string{fe.Field: fieldMessage(tr, fe)}}, typed)
		return
	}
	if err != nil {
		s.fail(w, r, err)
		return
	}
	var changed []string
	for _, c := range []struct {
		name string
		diff bool
	}{
		{"display_name", before.DisplayName != after.DisplayName}, {"sign_off", before.SignOff != after.SignOff},
		{"crisis_text", before.CrisisText != after.CrisisText}, {"cap_day", before.CapDay != after.CapDay}, {"cap_week", before.CapWeek != after.CapWeek},
		{"time_zone", before.TimeZone != after.TimeZone},
	} {
		if c.diff {
			changed = append(changed, c.name)
		}
	}
	s.audit(r, p, "settings.change", "", strings.Join(changed, " "))
	http.Redirect(w, r, doneURL(r, "/console/settings", "settings"), http.StatusSeeOther)
}

// settingsConsole sets the idle limit and whether a second factor is required.
func (s *Server) settingsConsole(w http.ResponseWriter, r *http.Request) {
	p := principalOf(r)
	tr := texts(web.RequestLocale(r))
	if !s.parseForm(w, r) {
		return
	}
	f := r.PostForm
	cs := store.ConsoleSettings{RequireTOTP: f.Get("require_totp") == "on"}
	idle, err := strconv.Atoi(strings.TrimSpace(f.Get("idle_minutes")))
	if err != nil || idle < store.MinIdleMinutes || idle > store.MaxIdleMinutes {
		s.settingsRender(w, r, http.StatusUnprocessableEntity,
			settingsData{Errors: map[string]string{"idle_minutes": tr("owner.settings.err.idle", store.MinIdleMinutes, store.MaxIdleMinutes)}},
			func(t *settingsForm) { t.Idle, t.RequireTOTP = f.Get("idle_minutes"), cs.RequireTOTP })
		return
	}
	cs.IdleMinutes = idle
	if err := s.c.Store.SetConsoleSettings(r.Context(), p.Clinic, cs); err != nil {
		s.internalError(w, r, err)
		return
	}
	s.audit(r, p, "settings.console", "", "idle "+strconv.Itoa(idle)+" min, second factor required "+strconv.FormatBool(cs.RequireTOTP))
	http.Redirect(w, r, doneURL(r, "/console/settings", "console"), http.StatusSeeOther)
}

// settingsWebhook sets the webhook URL, or removes it when empty. Turning
// webhooks on makes a new secret, shown this once.
func (s *Server) settingsWebhook(w http.ResponseWriter, r *http.Request) {
	p := principalOf(r)
	tr := texts(web.RequestLocale(r))
	if !s.parseForm(w, r) {
		return
	}
	raw := r.PostForm.Get("webhook_url")
	hook, err := s.c.Service.SetWebhook(r.Context(), p.Clinic, raw)
	var fe *clinic.FieldError
	if errors.As(err, &fe) {
		s.settingsRender(w, r, http.StatusUnprocessableEntity, settingsData{Errors: map[string]string{"webhook_url": fieldMessage(tr, fe)}},
			func(t *settingsForm) { t.WebhookURL = raw })
		return
	}
	if err != nil {
		s.fail(w, r, err)
		return
	}
	if hook.URL == "" {
		s.audit(r, p, "webhook.remove", "", "")
	} else {
		s.audit(r, p, "webhook.set", "", "new secret "+strconv.FormatBool(hook.Secret != ""))
	}
	if hook.Secret != "" {
		s.settingsRender(w, r, http.StatusOK, settingsData{ShownLabel: tr("owner.settings.secret_shown"), ShownValue: hook.Secret}, nil)
		return
	}
	http.Redirect(w, r, doneURL(r, "/console/settings", "webhook"), http.StatusSeeOther)
}

// settingsRotate makes a new webhook secret, shown this once.
func (s *Server) settingsRotate(w http.ResponseWriter, r *http.Request) {
	p := principalOf(r)
	tr := texts(web.RequestLocale(r))
	secret, err := s.c.Service.RotateWebhookSecret(r.Context(), p.Clinic)
	if err != nil {
		s.fail(w, r, err)
		return
	}
	s.audit(r, p, "webhook.rotate", "", "")
	s.settingsRender(w, r, http.StatusOK, settingsData{ShownLabel: tr("owner.settings.secret_shown"), ShownValue: secret}, nil)
}

// keyCreate makes an API key, shown this once.
func (s *Server) keyCreate(w http.ResponseWriter, r *http.Request) {
	p := principalOf(r)
	tr := texts(web.RequestLocale(r))
	id, key, err := s.c.Service.AddKey(r.Context(), p.Clinic)
	if err != nil {
		s.fail(w, r, err)
		return
	}
	s.audit(r, p, "apikey.create", "", "key "+id)
	s.settingsRender(w, r, http.StatusOK, settingsData{ShownLabel: tr("owner.settings.key_shown", id), ShownValue: key}, nil)
}

// keyRevoke stops one of the clinic's keys; another clinic's key id is 404.
func (s *Server) keyRevoke(w http.ResponseWriter, r *http.Request) {
	p := principalOf(r)
	id := r.PathValue("id")
	if err := s.c.Service.RevokeKey(r.Context(), p.Clinic, id); err != nil {
		s.fail(w, r, err)
		return
	}
	s.audit(r, p, "apikey.revoke", "", "key "+id)
	http.Redirect(w, r, doneURL(r, "/console/settings", "key_revoked"), http.StatusSeeOther)
}

// auditCSV (owners) is every audit entry the clinic keeps, newest first,
// as CSV. Entries never hold what a client wrote; a cell that a
// spreadsheet would read as a formula is given a leading apostrophe. The
// export is itself an entry, written before the log is read.
func (s *Server) auditCSV(w http.ResponseWriter, r *http.Request) {
	p := principalOf(r)
	s.audit(r, p, "audit.export", "", "")
	entries, err := s.c.Store.AuditAll(r.Context(), p.Clinic)
	if err != nil {
		s.internalError(w, r, err)
		return
	}
	w.Header().Set("Content-Type", "text/csv; charset=utf-8")
	w.Header().Set("Content-Disposition", `attachment; filename="audit-`+p.Clinic+`-`+s.c.Now().UTC().Format("2006-01-02")+`.csv"`)
	cw := csv.NewWriter(w)
	_ = cw.Write([]string{"at", "staff_id", "staff_email", "action", "client_id", "detail", "ip"})
	for _, e := range entries {
		row := []string{e.At.UTC().Format(time.RFC3339), e.Staff, e.Email, e.Action, e.Client, e.Detail, e.IP}
		for i := range row {
			row[i] = csvSafe(row[i])
		}
		if err := cw.Write(row); err != nil {
			s.c.Logger.Error("write the audit export", "clinic_id", p.Clinic, "err", err)
			return
		}
	}
	cw.Flush()
	if err := cw.Error(); err != nil {
		s.c.Logger.Error("write the audit export", "clinic_id", p.Clinic, "err", err)
	}
}

// csvSafe keeps a cell from being run as a formula by a spreadsheet (OWASP's
// CSV injection advice): one starting with = + - @, a tab or a carriage
// return is prefixed with an apostrophe.
func csvSafe(v string) string {
	if v != "" && strings.ContainsRune("=+-@\t\r", rune(v[0])) {
		return "'" + v
	}
	return v
}
