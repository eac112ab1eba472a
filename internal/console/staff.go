package console

import (
	"errors"
	"net/http"
	"net/mail"
	"strings"

	"github.com/nudgehq/nudge/internal/store"
	"github.com/nudgehq/nudge/internal/task"
	"github.com/nudgehq/nudge/internal/web"
)

// The staff page (owners): who is on the clinic's staff, in which role and
// with a second factor or not; inviting someone (they are emailed a
// sign-in link, as a sign-in would); changing a role; removing someone.
// A clinic always keeps one owner. A removed member's sessions end at once
// and their clients are left unassigned (owners see every client).

type staffRow struct {
	store.Staff
	TOTP bool
	Self bool
}

type staffData struct {
	Rows       []staffRow
	Email      string
	Role       string
	EmailError string
	Error      string // a refused role change or removal
}

func (s *Server) staffList(w http.ResponseWriter, r *http.Request) {
	s.staffRender(w, r, http.StatusOK, staffData{Role: store.RoleClinician})
}

func (s *Server) staffRender(w http.ResponseWriter, r *http.Request, status int, d staffData) {
	p := principalOf(r)
	ctx := r.Context()
	locale := web.RequestLocale(r)
	list, err := s.c.Store.StaffList(ctx, p.Clinic)
	if err != nil {
		s.internalError(w, r, err)
		return
	}
	ids := make([]string, len(list))
	for i, st := range list {
		ids[i] = st.ID
	}
	on, err := s.c.Store.StaffTOTPOn(ctx, ids)
	if err != nil {
		s.internalError(w, r, err)
		return
	}
	for _, st := range list {
		d.Rows = append(d.Rows, staffRow{Staff: st, TOTP: on[st.ID], Self: st.ID == p.StaffID})
	}
	s.render(w, status, locale, "staff", page{Title: texts(locale)("owner.staff.title"), Who: p, Lang: locale, Path: "/console/staff", Data: d,
		Notice: ownerNotice(r, texts(locale))})
}

// staffInvite adds a staff member and emails them a sign-in link.
func (s *Server) staffInvite(w http.ResponseWriter, r *http.Request) {
	p := principalOf(r)
	tr := texts(web.RequestLocale(r))
	if !s.parseForm(w, r) {
		return
	}
	addr := strings.TrimSpace(r.PostForm.Get("email"))
	role := r.PostForm.Get("role")
	d := staffData{Email: addr, Role: role}
	if a, err := mail.ParseAddress(addr); err != nil || a.Address != addr {
		d.EmailError = tr("signin.bad_email")
	}
	if role != store.RoleOwner && role != store.RoleClinician {
		d.Role = store.RoleClinician
		d.Error = tr("owner.staff.bad_role")
	}
	if d.EmailError != "" || d.Error != "" {
		s.staffRender(w, r, http.StatusUnprocessableEntity, d)
		return
	}
	st := store.Staff{ID: store.NewID(), Clinic: p.Clinic, Email: addr, Role: role, CreatedAt: s.c.Now().UTC()}
	err := s.c.Store.AddStaff(r.Context(), st)
	if errors.Is(err, store.ErrStaffTaken) {
		// Whether the address is staff of another clinic is not this
		// clinic's to learn: one message for both.
		d.EmailError = tr("owner.staff.taken")
		s.staffRender(w, r, http.StatusUnprocessableEntity, d)
		return
	}
	if err != nil {
		s.internalError(w, r, err)
		return
	}
	t, err := task.NewSendConsoleLink(task.SendConsoleLink{StaffID: st.ID, Locale: web.RequestLocale(r), Nonce: store.NewID(), Invite: true})
	if err == nil {
		err = s.enqueue(r.Context(), t)
	}
	if err != nil {
		s.internalError(w, r, err)
		return
	}
	s.audit(r, p, "staff.invite", "", "staff "+st.ID+" "+store.NormaliseEmail(addr)+" as "+role)
	http.Redirect(w, r, doneURL(r, "/console/staff", "invited"), http.StatusSeeOther)
}

// staffRole changes a staff member's role; the last owner stays one.
func (s *Server) staffRole(w http.ResponseWriter, r *http.Request) {
	p := principalOf(r)
	tr := texts(web.RequestLocale(r))
	id := r.PathValue("id")
	if _, err := s.c.Store.ClinicStaff(r.Context(), p.Clinic, id); err != nil {
		s.fail(w, r, err)
		return
	}
	if !s.parseForm(w, r) {
		return
	}
	role := r.PostForm.Get("role")
	if role != store.RoleOwner && role != store.RoleClinician {
		s.staffRender(w, r, http.StatusUnprocessableEntity, staffData{Role: store.RoleClinician, Error: tr("owner.staff.bad_role")})
		return
	}
	err := s.c.Store.SetStaffRole(r.Context(), p.Clinic, id, role)
	if errors.Is(err, store.ErrLastOwner) {
		s.staffRender(w, r, http.StatusConflict, staffData{Role: store.RoleClinician, Error: tr("owner.staff.last_owner")})
		return
	}
	if err != nil {
		s.fail(w, r, err)
		return
	}
	s.audit(r, p, "staff.role", "", "staff "+id+" to "+role)
	to := "/console/staff"
	if id == p.StaffID && role != store.RoleOwner {
		// No longer an owner: the staff page is not theirs any more.
		to = "/console/clients"
	}
	http.Redirect(w, r, doneURL(r, to, "role"), http.StatusSeeOther)
}

// staffRemove removes a staff member: their sessions end, their clients
// are left unassigned. The last owner cannot be removed.
func (s *Server) staffRemove(w http.ResponseWriter, r *http.Request) {
	p := principalOf(r)
	tr := texts(web.RequestLocale(r))
	id := r.PathValue("id")
	st, err := s.c.Store.ClinicStaff(r.Context(), p.Clinic, id)
	if err != nil {
		s.fail(w, r, err)
		return
	}
	err = s.c.Store.RemoveStaffMember(r.Context(), p.Clinic, id)
	if errors.Is(err, store.ErrLastOwner) {
		s.staffRender(w, r, http.StatusConflict, staffData{Role: store.RoleClinician, Error: tr("owner.staff.last_owner")})
		return
	}
	if err != nil {
		s.fail(w, r, err)
		return
	}
	s.audit(r, p, "staff.remove", "", "staff "+id+" "+st.Email)
	if id == p.StaffID {
		s.clearCookie(w)
		http.Redirect(w, r, withLang(r, "/console/sign-in"), http.StatusSeeOther)
		return
	}
	http.Redirect(w, r, doneURL(r, "/console/staff", "removed"), http.StatusSeeOther)
}

// staffResetTOTP (owners) turns a staff member's second factor off, for
// one who lost their device; with the clinic requiring one, they enrol
// again at their next sign-in.
func (s *Server) staffResetTOTP(w http.ResponseWriter, r *http.Request) {
	p := principalOf(r)
	id := r.PathValue("id")
	if _, err := s.c.Store.ClinicStaff(r.Context(), p.Clinic, id); err != nil {
		s.fail(w, r, err)
		return
	}
	if err := s.c.Store.ClearStaffTOTP(r.Context(), id); err != nil {
		s.fail(w, r, err)
		return
	}
	s.audit(r, p, "staff.totp-reset", "", "staff "+id)
	http.Redirect(w, r, doneURL(r, "/console/staff", "totp_off"), http.StatusSeeOther)
}
