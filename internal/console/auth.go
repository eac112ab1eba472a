package console

import (
	"context"
	"errors"
	"fmt"
	"net/http"

	"github.com/nudgehq/nudge/internal/clinic"
	"github.com/nudgehq/nudge/internal/domain"
	"github.com/nudgehq/nudge/internal/store"
)

// principal is who a console request acts as: one staff member of one
// clinic, with their role. It is resolved once per request, from the
// session, and every read and write below goes through it.
type principal struct {
	Clinic    string
	StaffID   string
	Email     string
	Role      string
	SessionID string
	// MustEnrol: the clinic requires a second factor this staff member
	// has not set up; only the enrolment page (and sign-out) is open.
	MustEnrol bool
}

// Owner reports whether the principal may see every client and the audit log.
func (p *principal) Owner() bool { return p != nil && p.Role == store.RoleOwner }

type principalKey struct{}

func principalOf(r *http.Request) *principal {
	p, _ := r.Context().Value(principalKey{}).(*principal)
	return p
}

// resolve finds the live session behind a request's cookie: present in
// Redis (a sign-out or a staff removal deletes it), within its absolute
// lifetime and its clinic's idle limit, and its staff member still on the
// clinic's staff.
func (s *Server) resolve(r *http.Request) (*principal, error) {
	c, err := r.Cookie(s.CookieName())
	if err != nil || c.Value == "" {
		return nil, store.ErrNotFound
	}
	ctx := r.Context()
	sess, err := s.c.Store.ConsoleSessionOf(ctx, c.Value)
	if err != nil {
		return nil, err
	}
	now := s.c.Now()
	cs, err := s.c.Store.ConsoleSettingsOf(ctx, sess.Clinic)
	if err != nil {
		return nil, err
	}
	if now.Sub(sess.CreatedAt) >= SessionMaxAge || now.Sub(sess.SeenAt) >= cs.IdleFor() {
		if err := s.c.Store.EndConsoleSession(ctx, c.Value, sess.Staff); err != nil {
			return nil, err
		}
		return nil, fmt.Errorf("session expired: %w", store.ErrNotFound)
	}
	st, err := s.c.Store.ClinicStaff(ctx, sess.Clinic, sess.Staff)
	if err != nil {
		return nil, err
	}
	if err := s.c.Store.TouchConsoleSession(ctx, c.Value, now); err != nil {
		return nil, err
	}
	p := &principal{Clinic: st.Clinic, StaffID: st.ID, Email: st.Email, Role: st.Role, SessionID: c.Value}
	if cs.RequireTOTP {
		tf, err := s.c.Store.StaffTOTPOf(ctx, st.ID)
		if err != nil {
			return nil, err
		}
		p.MustEnrol = !tf.On
	}
	return p, nil
}

// staffOnly lets a request through with its principal, or sends the
// browser to the sign-in page (or, when the clinic requires a second
// factor the staff member lacks, to enrol one).
func (s *Server) staffOnly(h http.HandlerFunc) http.Handler { return s.signedIn(h, false) }

// enrolling is staffOnly for the second-factor pages, open to a staff
// member who must enrol.
func (s *Server) enrolling(h http.HandlerFunc) http.Handler { return s.signedIn(h, true) }

func (s *Server) signedIn(h http.HandlerFunc, enrolPage bool) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		p, err := s.resolve(r)
		if errors.Is(err, store.ErrNotFound) {
			s.clearCookie(w)
			http.Redirect(w, r, withLang(r, "/console/sign-in"), http.StatusSeeOther)
			return
		}
		if err != nil {
			s.internalError(w, r, err)
			return
		}
		if p.MustEnrol && !enrolPage && r.URL.Path != "/console/sign-out" {
			http.Redirect(w, r, withLang(r, "/console/totp"), http.StatusSeeOther)
			return
		}
		h(w, r.WithContext(context.WithValue(r.Context(), principalKey{}, p)))
	})
}

// ownersOnly is staffOnly for owners; a clinician gets the 404 of a page
// that is not there for them.
func (s *Server) ownersOnly(h http.HandlerFunc) http.Handler {
	return s.staffOnly(func(w http.ResponseWriter, r *http.Request) {
		if !principalOf(r).Owner() {
			s.notFound(w, r)
			return
		}
		h(w, r)
	})
}

// access is the principal as the service layer knows it: the kind the
// JSON API resolves a key to, checked by the same rule.
func (p *principal) access() clinic.Principal {
	return clinic.Principal{Clinic: p.Clinic, Staff: p.StaffID, Role: p.Role}
}

// client loads a client the principal may see: one of their clinic's, and
// for a clinician one assigned to them (clinic.Service.Reach, the API's
// rule too). Anything else is ErrNotFound.
func (s *Server) client(ctx context.Context, p *principal, id string) (domain.Subscriber, error) {
	return s.c.Service.Reach(ctx, p.access(), id)
}

// mayView says whether the principal may see a client, given the clinic's
// assignments (a listing checks many at once).
func (p *principal) mayView(client string, assigned map[string]string) bool {
	return p.access().MayView(client, assigned)
}

func (s *Server) setCookie(w http.ResponseWriter, id string) {
	http.SetCookie(w, &http.Cookie{
		Name: s.CookieName(), Value: id, Path: "/", HttpOnly: true, Secure: !s.c.Development,
		SameSite: http.SameSiteLaxMode, MaxAge: int(SessionMaxAge.Seconds()),
	})
}

func (s *Server) clearCookie(w http.ResponseWriter) {
	http.SetCookie(w, &http.Cookie{
		Name: s.CookieName(), Value: "", Path: "/", HttpOnly: true, Secure: !s.c.Development,
		SameSite: http.SameSiteLaxMode, MaxAge: -1,
	})
}

// audit records an action of the principal on a client ("" none).
func (s *Server) audit(r *http.Request, p *principal, action, client, detail string) {
	e := store.AuditEntry{At: s.c.Now(), Staff: p.StaffID, Email: p.Email, Action: action, Client: client, Detail: detail, IP: s.clientIP(r)}
	if err := s.c.Store.Audit(r.Context(), p.Clinic, e); err != nil {
		// The action is done; a lost audit line is logged loudly, ids only.
		s.c.Logger.Error("could not write the audit log", "clinic_id", p.Clinic, "staff_id", p.StaffID, "action", action, "err", err)
	}
}
