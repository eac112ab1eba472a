package console

import (
	"errors"
	"net/http"
	"net/mail"
	"strconv"
	"strings"

	"github.com/nudgehq/nudge/internal/store"
	"github.com/nudgehq/nudge/internal/task"
	"github.com/nudgehq/nudge/internal/web"
)

type signInData struct {
	Email string
	Error string
}

// signInShow is the sign-in form: an address, nothing else.
func (s *Server) signInShow(w http.ResponseWriter, r *http.Request) {
	locale := web.RequestLocale(r)
	s.render(w, http.StatusOK, locale, "sign_in", page{Title: texts(locale)("signin.title"), Lang: locale, Path: r.URL.Path, Data: signInData{}})
}

// signInSend emails a one-time link when the address is a staff member's.
// The answer is the same whether it is or not, and whether the address's
// budget is spent or not; only an IP over its budget is told to wait.
func (s *Server) signInSend(w http.ResponseWriter, r *http.Request) {
	locale := web.RequestLocale(r)
	tr := texts(locale)
	r.Body = http.MaxBytesReader(w, r.Body, 4<<10)
	if err := r.ParseForm(); err != nil {
		s.message(w, r, http.StatusBadRequest, tr("badform.title"), messageData{Paragraphs: []string{tr("badform.body")}})
		return
	}
	addr := strings.TrimSpace(r.PostForm.Get("email"))
	if a, err := mail.ParseAddress(addr); err != nil || a.Address != addr {
		s.render(w, http.StatusUnprocessableEntity, locale, "sign_in", page{Title: tr("signin.title"), Lang: locale, Path: r.URL.Path,
			Data: signInData{Email: addr, Error: tr("signin.bad_email")}})
		return
	}
	ctx := r.Context()
	sent := messageData{Paragraphs: []string{tr("signin.sent"), tr("signin.sent_ttl")}}
	if s.c.Budgets != nil {
		wait, err := s.c.Budgets.AllowIP(ctx, s.clientIP(r))
		if err != nil {
			s.internalError(w, r, err)
			return
		}
		if wait > 0 {
			w.Header().Set("Retry-After", strconv.Itoa(int(wait.Seconds())+1))
			s.message(w, r, http.StatusTooManyRequests, tr("limit.title"), messageData{Paragraphs: []string{tr("limit.body", int(wait.Minutes())+1)}})
			return
		}
		ok, err := s.c.Budgets.AllowAddress(ctx, addr)
		if err != nil {
			s.internalError(w, r, err)
			return
		}
		if !ok {
			s.c.Logger.Info("console link dropped: address over its budget")
			s.message(w, r, http.StatusOK, tr("signin.sent_title"), sent)
			return
		}
	}
	st, err := s.c.Store.StaffByEmail(ctx, addr)
	switch {
	case errors.Is(err, store.ErrNotFound):
		s.c.Logger.Info("console link asked for an address that is no staff member's")
	case err != nil:
		s.internalError(w, r, err)
		return
	default:
		t, err := task.NewSendConsoleLink(task.SendConsoleLink{StaffID: st.ID, Locale: locale, Nonce: store.NewID()})
		if err == nil {
			err = s.enqueue(ctx, t)
		}
		if err != nil {
			s.internalError(w, r, err)
			return
		}
		s.audit(r, &principal{Clinic: st.Clinic, StaffID: st.ID, Email: st.Email}, "sign-in.link-sent", "", "")
	}
	s.message(w, r, http.StatusOK, tr("signin.sent_title"), sent)
}

// linkShow is what opening the emailed link shows: a button. Mail
// scanners open links; only the button's POST signs in.
func (s *Server) linkShow(w http.ResponseWriter, r *http.Request) {
	tr := texts(web.RequestLocale(r))
	s.message(w, r, http.StatusOK, tr("link.title"), messageData{
		Paragraphs: []string{tr("link.body")}, Action: r.URL.Path + queryLang(r), Button: tr("link.button"),
	})
}

// linkOpen uses the link once and starts a session with a new id.
func (s *Server) linkOpen(w http.ResponseWriter, r *http.Request) {
	tr := texts(web.RequestLocale(r))
	ctx := r.Context()
	now := s.c.Now()
	refuse := func(st *principal, why string) {
		if st != nil {
			s.audit(r, st, "sign-in.failed", "", why)
		}
		s.message(w, r, http.StatusNotFound, tr("badlink.title"), messageData{Paragraphs: []string{tr("badlink.body")},
			Action: "/console/sign-in" + queryLang(r), Button: tr("badlink.button")})
	}
	l, err := s.c.Store.UseSignInLink(ctx, r.PathValue("token"), now)
	if errors.Is(err, store.ErrNotFound) {
		refuse(nil, "")
		return
	}
	if err != nil {
		s.internalError(w, r, err)
		return
	}
	who := &principal{Clinic: l.Clinic, StaffID: l.Staff}
	st, err := s.c.Store.ClinicStaff(ctx, l.Clinic, l.Staff)
	if errors.Is(err, store.ErrNotFound) {
		refuse(who, "staff member removed")
		return
	}
	if err != nil {
		s.internalError(w, r, err)
		return
	}
	who.Email = st.Email
	switch {
	case l.Used:
		refuse(who, "link used before")
		return
	case now.Sub(l.CreatedAt) >= LinkTTL || now.Before(l.CreatedAt):
		refuse(who, "link expired")
		return
	}
	// A session already in this browser ends: the sign-in gets a new id.
	if c, err := r.Cookie(s.CookieName()); err == nil && c.Value != "" {
		if old, err := s.c.Store.ConsoleSessionOf(ctx, c.Value); err == nil {
			_ = s.c.Store.EndConsoleSession(ctx, c.Value, old.Staff)
		}
	}
	// With a second factor the link leads to the code page; the session
	// starts there.
	if held, err := s.secondFactor(w, r, st); held || err != nil {
		if err != nil {
			s.internalError(w, r, err)
		}
		return
	}
	id, err := s.c.Store.CreateConsoleSession(ctx, st, now, SessionMaxAge)
	if errors.Is(err, store.ErrNotFound) {
		refuse(who, "staff member removed")
		return
	}
	if err != nil {
		s.internalError(w, r, err)
		return
	}
	s.setCookie(w, id)
	s.audit(r, who, "sign-in", "", "")
	http.Redirect(w, r, withLang(r, "/console/clients"), http.StatusSeeOther)
}

// signOut ends the session.
func (s *Server) signOut(w http.ResponseWriter, r *http.Request) {
	p := principalOf(r)
	if err := s.c.Store.EndConsoleSession(r.Context(), p.SessionID, p.StaffID); err != nil {
		s.internalError(w, r, err)
		return
	}
	s.clearCookie(w)
	s.audit(r, p, "sign-out", "", "")
	tr := texts(web.RequestLocale(r))
	s.render(w, http.StatusOK, web.RequestLocale(r), "message", page{Title: tr("signout.title"), Lang: web.RequestLocale(r), Path: "/console/sign-in",
		Data: messageData{Paragraphs: []string{tr("signout.body")}, Action: "", Button: ""}})
}

func queryLang(r *http.Request) string {
	if l := r.URL.Query().Get("lang"); l == "en" || l == "es" {
		return "?lang=" + l
	}
	return ""
}
