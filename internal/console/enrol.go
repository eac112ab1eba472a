package console

import (
	"errors"
	"net/http"
	"strings"
	"time"

	"github.com/nudgehq/nudge/internal/clinic"
	"github.com/nudgehq/nudge/internal/domain"
	"github.com/nudgehq/nudge/internal/render"
	"github.com/nudgehq/nudge/internal/web"
	"github.com/nudgehq/nudge/scheduler"
	"github.com/nudgehq/nudge/worker"
)

// Enrolment in the console: the API's fields and consent attestation, with
// consent attested per channel, then a confirmation step that shows the
// message the client will be sent (as the worker renders it) before
// anything is recorded or sent.

// enrolForm is the enrolment form's values, as typed.
type enrolForm struct {
	FirstName, Goal, Email, Phone, TimeZone, Locale string
	ChanEmail, ChanSMS                              bool
	ConsentEmail, ConsentSMS                        bool
	ConsentBy, ConsentOn, ConsentMethod             string
	Clinician                                       string // owners: who the client is assigned to ("" nobody)
}

// msgPreview is one message as the client would get it.
type msgPreview struct {
	Lang     string // the client's language, which the message is in
	Label    string // "Email", "Text message"
	Subject  string
	Body     string
	Segments int // texts only
}

type enrolData struct {
	Form       enrolForm
	Errors     map[string]string // field → message
	Confirm    bool              // the confirmation step
	Previews   []msgPreview
	Zones      []string
	Locales    []option
	Methods    []option
	Clinicians []option // owners only
}

// commonZones are offered in the time zone field's list; any IANA name is
// accepted.
var commonZones = []string{
	"America/New_York", "America/Chicago", "America/Denver", "America/Los_Angeles", "America/Phoenix", "America/Anchorage",
	"Pacific/Honolulu", "America/Mexico_City", "America/Bogota", "America/Lima", "America/Santiago", "America/Argentina/Buenos_Aires",
	"America/Toronto", "America/Puerto_Rico", "Europe/London", "Europe/Dublin", "Europe/Madrid", "Europe/Lisbon", "Europe/Paris",
	"Europe/Berlin", "Australia/Sydney", "Pacific/Auckland", "UTC",
}

// enrolFields maps the service's field names to the form's.
var enrolFields = map[string]string{
	"first_name": "first_name", "goal": "goal", "email": "email", "phone": "phone", "time_zone": "time_zone",
	"locale": "locale", "channels": "channels", "consent.obtained_by": "consent_by", "consent.obtained_at": "consent_on",
	"consent.method": "consent_method",
}

func (s *Server) enrolShow(w http.ResponseWriter, r *http.Request) {
	p := principalOf(r)
	f := enrolForm{Locale: "en", ConsentBy: p.Email, ConsentOn: s.c.Now().UTC().Format("2006-01-02"), ConsentMethod: "written", ChanEmail: true}
	s.enrolRender(w, r, http.StatusOK, enrolData{Form: f})
}

func (s *Server) enrolRender(w http.ResponseWriter, r *http.Request, status int, d enrolData) {
	p := principalOf(r)
	locale := web.RequestLocale(r)
	tr := texts(locale)
	d.Zones = commonZones
	for _, l := range []string{"en", "es"} {
		d.Locales = append(d.Locales, option{Value: l, Label: tr("enrol.locale_" + l), Selected: d.Form.Locale == l})
	}
	for _, m := range []string{"written", "verbal", "electronic"} {
		d.Methods = append(d.Methods, option{Value: m, Label: tr("enrol.method_" + m), Selected: d.Form.ConsentMethod == m})
	}
	if p.Owner() {
		staff, err := s.c.Store.StaffList(r.Context(), p.Clinic)
		if err != nil {
			s.internalError(w, r, err)
			return
		}
		d.Clinicians = append(d.Clinicians, option{Value: "", Label: tr("client.nobody"), Selected: d.Form.Clinician == ""})
		for _, st := range staff {
			d.Clinicians = append(d.Clinicians, option{Value: st.ID, Label: st.Email, Selected: st.ID == d.Form.Clinician})
		}
	}
	title := tr("enrol.title")
	if d.Confirm {
		title = tr("enrol.confirm_title")
	}
	s.render(w, status, locale, "enrol", page{Title: title, Who: p, Lang: locale, Path: r.URL.Path, Data: d})
}

func readEnrolForm(r *http.Request) enrolForm {
	v := r.PostForm.Get
	return enrolForm{
		FirstName: v("first_name"), Goal: v("goal"), Email: strings.TrimSpace(v("email")), Phone: strings.TrimSpace(v("phone")),
		TimeZone: strings.TrimSpace(v("time_zone")), Locale: v("locale"),
		ChanEmail: v("chan_email") == "1", ChanSMS: v("chan_sms") == "1",
		ConsentEmail: v("consent_email") == "1", ConsentSMS: v("consent_sms") == "1",
		ConsentBy: v("consent_by"), ConsentOn: strings.TrimSpace(v("consent_on")), ConsentMethod: v("consent_method"),
		Clinician: v("clinician"),
	}
}

// enrolment turns the form into the service's enrolment, or field errors.
func (s *Server) enrolment(f enrolForm, tr func(string, ...any) string) (clinic.Enrolment, map[string]string) {
	errs := map[string]string{}
	e := clinic.Enrolment{FirstName: f.FirstName, Goal: f.Goal, Email: f.Email, Phone: f.Phone, TimeZone: f.TimeZone, Locale: f.Locale,
		Consent: clinic.Attestation{By: f.ConsentBy, Method: f.ConsentMethod}}
	if f.ChanEmail {
		e.Channels = append(e.Channels, domain.Email)
	}
	if f.ChanSMS {
		e.Channels = append(e.Channels, domain.SMS)
	}
	if len(e.Channels) == 0 {
		errs["channels"] = tr("enrol.err.channels_none")
	}
	// Consent is attested for each channel chosen.
	if f.ChanEmail && !f.ConsentEmail {
		errs["consent_email"] = tr("enrol.err.consent_email")
	}
	if f.ChanSMS && !f.ConsentSMS {
		errs["consent_sms"] = tr("enrol.err.consent_sms")
	}
	// The checks the service makes one at a time, so that they show together.
	if strings.TrimSpace(f.FirstName) == "" {
		errs["first_name"] = tr("enrol.err.first_name")
	}
	if f.Email == "" && f.Phone == "" {
		errs["email"] = tr("enrol.err.email")
	}
	// The day consent was obtained, taken at its start in the client's zone
	// (UTC while the zone is not known).
	loc := time.UTC
	if z, err := scheduler.LoadZone(f.TimeZone); err == nil {
		loc = z
	} else {
		errs["time_zone"] = tr("enrol.err.time_zone")
	}
	if day, err := time.ParseInLocation("2006-01-02", f.ConsentOn, loc); err == nil {
		e.Consent.At = day
	} else {
		errs["consent_on"] = tr("enrol.err.consent_on")
	}
	return e, errs
}

// enrolCheck checks the form: the console's own checks, then the
// service's (which names the first field it refuses).
func (s *Server) enrolCheck(f enrolForm, tr func(string, ...any) string) (clinic.Enrolment, domain.Subscriber, map[string]string) {
	e, errs := s.enrolment(f, tr)
	sub, err := s.c.Service.CheckEnrolment(e)
	var fe *clinic.FieldError
	if errors.As(err, &fe) {
		field := formField(fe)
		if _, seen := errs[field]; !seen {
			errs[field] = tr("enrol.err." + field)
		}
	}
	return e, sub, errs
}

// formField is the form field a service error names.
func formField(fe *clinic.FieldError) string {
	if f, ok := enrolFields[fe.Field]; ok {
		return f
	}
	return "first_name"
}

// enrolSubmit is the form's POST: step "check" (the default) checks it and
// shows the confirmation step, "change" goes back to the form, "send"
// enrols the client and sends the confirmation.
func (s *Server) enrolSubmit(w http.ResponseWriter, r *http.Request) {
	p := principalOf(r)
	ctx := r.Context()
	locale := web.RequestLocale(r)
	tr := texts(locale)
	r.Body = http.MaxBytesReader(w, r.Body, 16<<10)
	if err := r.ParseForm(); err != nil {
		s.message(w, r, http.StatusBadRequest, tr("badform.title"), messageData{Paragraphs: []string{tr("badform.body")}})
		return
	}
	f := readEnrolForm(r)
	if !p.Owner() {
		f.Clinician = ""
	}
	step := r.PostForm.Get("step")
	if step == "change" {
		s.enrolRender(w, r, http.StatusOK, enrolData{Form: f})
		return
	}
	if f.Clinician != "" {
		if _, err := s.c.Store.ClinicStaff(ctx, p.Clinic, f.Clinician); err != nil {
			f.Clinician = ""
		}
	}
	e, sub, errs := s.enrolCheck(f, tr)
	if len(errs) > 0 {
		s.enrolRender(w, r, http.StatusUnprocessableEntity, enrolData{Form: f, Errors: errs})
		return
	}
	if step != "send" {
		c, err := s.c.Service.Clinic(ctx, p.Clinic)
		if err != nil {
			s.internalError(w, r, err)
			return
		}
		pv, err := s.confirmationPreviews(sub, c, tr)
		if err != nil {
			s.internalError(w, r, err)
			return
		}
		s.enrolRender(w, r, http.StatusOK, enrolData{Form: f, Confirm: true, Previews: pv})
		return
	}
	sub, err := s.c.Service.Enrol(ctx, p.Clinic, e)
	var fe *clinic.FieldError
	if errors.As(err, &fe) {
		field := formField(fe)
		s.enrolRender(w, r, http.StatusUnprocessableEntity, enrolData{Form: f, Errors: map[string]string{field: tr("enrol.err." + field)}})
		return
	}
	if domain.ErrorCode(err) == domain.ErrConflict {
		// The address or number is another client's of the clinic.
		field := "email"
		if strings.Contains(err.Error(), "mobile") {
			field = "phone"
		}
		s.enrolRender(w, r, http.StatusUnprocessableEntity, enrolData{Form: f, Errors: map[string]string{field: tr("enrol.err.taken_" + field)}})
		return
	}
	if err != nil {
		s.fail(w, r, err)
		return
	}
	to := f.Clinician
	if !p.Owner() {
		to = p.StaffID // a clinician who enrols is the client's clinician
	}
	if to != "" {
		if err := s.c.Store.Assign(ctx, p.Clinic, to, sub.ID); err != nil {
			s.internalError(w, r, err)
			return
		}
	}
	s.audit(r, p, "client.enrol", sub.ID, "assigned to "+orNobody(to))
	s.backToClient(w, r, sub.ID, "enrolled")
}

// confirmationPreviews renders what Enrol sends: the email (with the
// links standing in) when there is an address, the text asking for YES
// when there is a number.
func (s *Server) confirmationPreviews(sub domain.Subscriber, c domain.Clinic, tr func(string, ...any) string) ([]msgPreview, error) {
	var out []msgPreview
	if sub.Email != "" {
		l := s.standInLinks()
		l.Action = l.Manage
		e, err := worker.ClinicConfirmation(s.c.Library, s.c.Renderer, sub, c, l)
		if err != nil {
			return nil, err
		}
		out = append(out, msgPreview{Lang: sub.Locale, Label: tr("enrol.preview_email"), Subject: e.Subject, Body: e.Text})
	}
	if sub.Phone != "" {
		text, err := worker.ClinicSMSConfirmation(s.c.Library, s.c.Renderer, sub, c)
		if err != nil {
			return nil, err
		}
		n, _ := render.GSM7Segments(text)
		out = append(out, msgPreview{Lang: sub.Locale, Label: tr("enrol.preview_sms"), Body: text, Segments: n})
	}
	return out, nil
}

// standInLinks are the links a preview's email carries: the service's
// address, never a working confirm or unsubscribe link.
func (s *Server) standInLinks() render.Links {
	base := strings.TrimSuffix(s.c.BaseURL, "/")
	if base == "" {
		base = "https://nudge.invalid"
	}
	return render.Links{Manage: base + "/", Unsubscribe: base + "/"}
}

// clientConfirmData is a page asking to confirm a change that cannot be undone.
type clientConfirmData struct {
	ID, Lede, Action, Button string
}

// clientConfirm asks to confirm a discharge or a removal.
func (s *Server) clientConfirm(what string) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		p := principalOf(r)
		id := r.PathValue("id")
		sub, err := s.client(r.Context(), p, id)
		if err != nil {
			s.fail(w, r, err)
			return
		}
		locale := web.RequestLocale(r)
		tr := texts(locale)
		s.render(w, http.StatusOK, locale, "client_confirm", page{Title: tr(what+".title", sub.FirstName), Who: p, Lang: locale, Path: r.URL.Path,
			Data: clientConfirmData{ID: id, Lede: tr(what+".lede", sub.FirstName), Action: "/console/clients/" + id + "/" + what, Button: tr(what + ".button")}})
	}
}

// clientDischarge stops every prompt and nudge to a client and keeps the
// record, shown as discharged.
func (s *Server) clientDischarge(w http.ResponseWriter, r *http.Request) {
	p := principalOf(r)
	id := r.PathValue("id")
	if _, err := s.client(r.Context(), p, id); err != nil {
		s.fail(w, r, err)
		return
	}
	if _, err := s.c.Service.Discharge(r.Context(), p.Clinic, id, p.StaffID); err != nil {
		s.fail(w, r, err)
		return
	}
	s.audit(r, p, "client.discharge", id, "")
	s.backToClient(w, r, id, "discharged")
}

// clientReadmit undoes a discharge.
func (s *Server) clientReadmit(w http.ResponseWriter, r *http.Request) {
	p := principalOf(r)
	id := r.PathValue("id")
	if _, err := s.client(r.Context(), p, id); err != nil {
		s.fail(w, r, err)
		return
	}
	if _, err := s.c.Service.Readmit(r.Context(), p.Clinic, id, p.StaffID); err != nil {
		s.fail(w, r, err)
		return
	}
	s.audit(r, p, "client.readmit", id, "")
	s.backToClient(w, r, id, "readmitted")
}

// clientRemove erases a client and everything queued for them.
func (s *Server) clientRemove(w http.ResponseWriter, r *http.Request) {
	p := principalOf(r)
	id := r.PathValue("id")
	if _, err := s.client(r.Context(), p, id); err != nil {
		s.fail(w, r, err)
		return
	}
	if err := s.c.Service.Remove(r.Context(), p.Clinic, id); err != nil {
		s.fail(w, r, err)
		return
	}
	s.audit(r, p, "client.remove", id, "")
	to := "/console/clients?done=removed"
	if q := queryLang(r); q != "" {
		to += "&" + q[1:]
	}
	http.Redirect(w, r, to, http.StatusSeeOther)
}
