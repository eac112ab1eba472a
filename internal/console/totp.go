package console

import (
	"crypto/aes"
	"crypto/cipher"
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha1"
	"crypto/subtle"
	"encoding/base32"
	"encoding/base64"
	"encoding/binary"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"strings"
	"time"

	"github.com/nudgehq/nudge/internal/store"
	"github.com/nudgehq/nudge/internal/web"
)

// The TOTP second factor (RFC 6238 over RFC 4226's HOTP): HMAC-SHA-1, six
// digits, 30-second steps, a code of the step before or after accepted too
// (clocks drift), and no code accepted twice: the last step used is kept
// and only a later one passes.
//
// Secrets are stored sealed with AES-256-GCM under a key derived from
// NUDGE_SECRET (Config.SealKey), the staff id bound in as additional data:
// a copy of Redis alone does not give away anyone's second factor. Changing
// NUDGE_SECRET makes every staff member enrol again.

const (
	totpPeriod = 30
	totpDigits = 6
	totpSkew   = 1 // steps either side
	// PendingTTL is how long a used link waits for its code.
	PendingTTL = 10 * time.Minute
	// PendingTries is how many codes a pending sign-in may try.
	PendingTries = 5
)

// hotp is RFC 4226's HOTP value of counter, digits long.
func hotp(secret []byte, counter uint64, digits int) string {
	var msg [8]byte
	binary.BigEndian.PutUint64(msg[:], counter)
	mac := hmac.New(sha1.New, secret)
	mac.Write(msg[:])
	sum := mac.Sum(nil)
	off := sum[len(sum)-1] & 0x0f
	bin := binary.BigEndian.Uint32(sum[off:off+4]) & 0x7fffffff
	mod := uint32(1)
	for range digits {
		mod *= 10
	}
	return fmt.Sprintf("%0*d", digits, bin%mod)
}

// totpStep is the RFC 6238 time step of t.
func totpStep(t time.Time) int64 { return t.Unix() / totpPeriod }

// totpCode is the code for a step.
func totpCode(secret []byte, step int64) string { return hotp(secret, uint64(step), totpDigits) }

// totpMatch finds the step, within the skew of now, whose code is code.
func totpMatch(secret []byte, code string, now time.Time) (int64, bool) {
	code = strings.Join(strings.Fields(code), "")
	if len(code) != totpDigits {
		return 0, false
	}
	at := totpStep(now)
	for d := int64(-totpSkew); d <= totpSkew; d++ {
		if subtle.ConstantTimeCompare([]byte(totpCode(secret, at+d)), []byte(code)) == 1 {
			return at + d, true
		}
	}
	return 0, false
}

var b32 = base32.StdEncoding.WithPadding(base32.NoPadding)

// newTOTPSecret is 20 random bytes, RFC 4226's recommended length.
func newTOTPSecret() []byte {
	b := make([]byte, 20)
	if _, err := rand.Read(b); err != nil {
		panic(fmt.Sprintf("crypto/rand failed: %v", err))
	}
	return b
}

// otpauthURI is the key URI authenticator apps read.
func otpauthURI(account string, secret []byte) string {
	q := url.Values{"secret": {b32.EncodeToString(secret)}, "issuer": {"nudge"}, "algorithm": {"SHA1"},
		"digits": {fmt.Sprint(totpDigits)}, "period": {fmt.Sprint(totpPeriod)}}
	return "otpauth://totp/" + url.PathEscape("nudge:"+account) + "?" + q.Encode()
}

// groups spaces a base32 secret in fours, easier to type.
func groups(s string) string {
	var b strings.Builder
	for i, r := range s {
		if i > 0 && i%4 == 0 {
			b.WriteByte(' ')
		}
		b.WriteRune(r)
	}
	return b.String()
}

func (s *Server) aead() (cipher.AEAD, error) {
	block, err := aes.NewCipher(s.c.SealKey)
	if err != nil {
		return nil, fmt.Errorf("seal key: %w", err)
	}
	return cipher.NewGCM(block)
}

// seal encrypts a staff member's secret for storage.
func (s *Server) seal(staff string, secret []byte) (string, error) {
	g, err := s.aead()
	if err != nil {
		return "", err
	}
	nonce := make([]byte, g.NonceSize())
	if _, err := rand.Read(nonce); err != nil {
		return "", fmt.Errorf("seal a secret: %w", err)
	}
	return base64.RawStdEncoding.EncodeToString(g.Seal(nonce, nonce, secret, []byte(staff))), nil
}

// unseal opens what seal made for the same staff member.
func (s *Server) unseal(staff, sealed string) ([]byte, error) {
	raw, err := base64.RawStdEncoding.DecodeString(sealed)
	if err != nil {
		return nil, fmt.Errorf("open a secret: %w", err)
	}
	g, err := s.aead()
	if err != nil {
		return nil, err
	}
	if len(raw) < g.NonceSize() {
		return nil, errors.New("open a secret: too short")
	}
	out, err := g.Open(nil, raw[:g.NonceSize()], raw[g.NonceSize():], []byte(staff))
	if err != nil {
		return nil, fmt.Errorf("open a secret: %w", err)
	}
	return out, nil
}

// startEnrolment makes a new secret and keeps it pending for staff.
func (s *Server) startEnrolment(r *http.Request, staff string) error {
	sealed, err := s.seal(staff, newTOTPSecret())
	if err != nil {
		return err
	}
	return s.c.Store.SetStaffTOTPPending(r.Context(), staff, sealed)
}

// totpData is the second-factor page: the staff member's own (Signed in),
// or the enrolment a sign-in waits on.
type totpData struct {
	On, Required bool
	Secret, URI  string // a pending enrolment's, or ""
	Action       string // where the code goes
	Error        string
	SignIn       bool
}

func (s *Server) totpPageData(r *http.Request, staff, email string) (totpData, error) {
	ctx := r.Context()
	st, err := s.c.Store.StaffMember(ctx, staff)
	if err != nil {
		return totpData{}, err
	}
	tf, err := s.c.Store.StaffTOTPOf(ctx, staff)
	if err != nil {
		return totpData{}, err
	}
	cs, err := s.c.Store.ConsoleSettingsOf(ctx, st.Clinic)
	if err != nil {
		return totpData{}, err
	}
	d := totpData{On: tf.On, Required: cs.RequireTOTP, Action: "/console/totp/confirm" + queryLang(r)}
	if tf.Pending != "" {
		secret, err := s.unseal(staff, tf.Pending)
		if err != nil {
			return totpData{}, err
		}
		d.Secret, d.URI = groups(b32.EncodeToString(secret)), otpauthURI(email, secret)
	}
	return d, nil
}

// totpShow (any staff member) is their own second factor: on or off, and
// an enrolment in progress with its secret.
func (s *Server) totpShow(w http.ResponseWriter, r *http.Request) {
	s.totpRender(w, r, http.StatusOK, "")
}

func (s *Server) totpRender(w http.ResponseWriter, r *http.Request, status int, errText string) {
	p := principalOf(r)
	locale := web.RequestLocale(r)
	d, err := s.totpPageData(r, p.StaffID, p.Email)
	if err != nil {
		s.fail(w, r, err)
		return
	}
	d.Error = errText
	s.render(w, status, locale, "totp", page{Title: texts(locale)("owner.totp.title"), Who: p, Lang: locale, Path: "/console/totp", Data: d, Notice: ownerNotice(r, texts(locale))})
}

// totpStart makes a new secret for the staff member to confirm.
func (s *Server) totpStart(w http.ResponseWriter, r *http.Request) {
	p := principalOf(r)
	if err := s.startEnrolment(r, p.StaffID); err != nil {
		s.fail(w, r, err)
		return
	}
	s.audit(r, p, "totp.enrol-start", "", "")
	http.Redirect(w, r, withLang(r, "/console/totp"), http.StatusSeeOther)
}

// totpConfirm turns the pending secret on when the code is right.
func (s *Server) totpConfirm(w http.ResponseWriter, r *http.Request) {
	p := principalOf(r)
	tr := texts(web.RequestLocale(r))
	if !s.parseForm(w, r) {
		return
	}
	ok, err := s.confirmEnrolment(r, p.StaffID, r.PostForm.Get("code"))
	if err != nil {
		s.fail(w, r, err)
		return
	}
	if !ok {
		s.audit(r, p, "totp.code-refused", "", "enrolment")
		s.totpRender(w, r, http.StatusUnprocessableEntity, tr("owner.totp.bad_code"))
		return
	}
	s.audit(r, p, "totp.on", "", "")
	http.Redirect(w, r, doneURL(r, "/console/totp", "totp_on"), http.StatusSeeOther)
}

// confirmEnrolment checks a code against the staff member's pending secret
// and, when right, turns it on. No pending secret is a wrong code.
func (s *Server) confirmEnrolment(r *http.Request, staff, code string) (bool, error) {
	ctx := r.Context()
	tf, err := s.c.Store.StaffTOTPOf(ctx, staff)
	if err != nil || tf.Pending == "" {
		return false, err
	}
	secret, err := s.unseal(staff, tf.Pending)
	if err != nil {
		return false, err
	}
	step, ok := totpMatch(secret, code, s.c.Now())
	if !ok || step <= tf.LastStep {
		return false, nil
	}
	if err := s.c.Store.ConfirmStaffTOTP(ctx, staff, tf.Pending, step); err != nil {
		return false, err
	}
	return true, nil
}

// totpOff turns the staff member's own second factor off, unless the
// clinic requires one.
func (s *Server) totpOff(w http.ResponseWriter, r *http.Request) {
	p := principalOf(r)
	tr := texts(web.RequestLocale(r))
	cs, err := s.c.Store.ConsoleSettingsOf(r.Context(), p.Clinic)
	if err != nil {
		s.fail(w, r, err)
		return
	}
	if cs.RequireTOTP {
		s.totpRender(w, r, http.StatusConflict, tr("owner.totp.required_keep"))
		return
	}
	if err := s.c.Store.ClearStaffTOTP(r.Context(), p.StaffID); err != nil {
		s.fail(w, r, err)
		return
	}
	s.audit(r, p, "totp.off", "", "")
	http.Redirect(w, r, doneURL(r, "/console/totp", "totp_off"), http.StatusSeeOther)
}

// ---- signing in with a second factor ----

func (s *Server) pendingCookieName() string { return s.CookieName() + "_pending" }

func (s *Server) setPendingCookie(w http.ResponseWriter, id string, maxAge int) {
	http.SetCookie(w, &http.Cookie{
		Name: s.pendingCookieName(), Value: id, Path: "/", HttpOnly: true, Secure: !s.c.Development,
		SameSite: http.SameSiteLaxMode, MaxAge: maxAge,
	})
}

// secondFactor is called once a sign-in link has been used and found good:
// when the staff member has a second factor, or the clinic requires one,
// it holds the sign-in pending and sends the browser to the code (or
// enrolment) page, and answers true; otherwise false, and the session may
// start.
func (s *Server) secondFactor(w http.ResponseWriter, r *http.Request, st store.Staff) (bool, error) {
	ctx := r.Context()
	tf, err := s.c.Store.StaffTOTPOf(ctx, st.ID)
	if err != nil {
		return false, err
	}
	cs, err := s.c.Store.ConsoleSettingsOf(ctx, st.Clinic)
	if err != nil {
		return false, err
	}
	if !tf.On && !cs.RequireTOTP {
		return false, nil
	}
	enrol := !tf.On
	if enrol {
		if err := s.startEnrolment(r, st.ID); err != nil {
			return false, err
		}
	}
	id, err := s.c.Store.CreatePendingSignIn(ctx, st, enrol, s.c.Now(), PendingTTL)
	if err != nil {
		return false, err
	}
	s.setPendingCookie(w, id, int(PendingTTL.Seconds()))
	to := "/console/sign-in/code"
	if enrol {
		to = "/console/sign-in/enrol"
	}
	http.Redirect(w, r, withLang(r, to), http.StatusSeeOther)
	return true, nil
}

// pending finds the pending sign-in behind the request's cookie; without
// one the browser is told to start over.
func (s *Server) pending(w http.ResponseWriter, r *http.Request) (string, store.PendingSignIn, store.Staff, bool) {
	startOver := func() {
		s.setPendingCookie(w, "", -1)
		tr := texts(web.RequestLocale(r))
		s.message(w, r, http.StatusNotFound, tr("owner.pending.gone_title"), messageData{Paragraphs: []string{tr("owner.pending.gone")},
			Action: "/console/sign-in" + queryLang(r), Button: tr("badlink.button")})
	}
	c, err := r.Cookie(s.pendingCookieName())
	if err != nil || c.Value == "" {
		startOver()
		return "", store.PendingSignIn{}, store.Staff{}, false
	}
	ps, err := s.c.Store.PendingSignInOf(r.Context(), c.Value)
	if err == nil && s.c.Now().Sub(ps.CreatedAt) >= PendingTTL {
		err = store.ErrNotFound
	}
	var st store.Staff
	if err == nil {
		st, err = s.c.Store.ClinicStaff(r.Context(), ps.Clinic, ps.Staff)
	}
	if errors.Is(err, store.ErrNotFound) {
		startOver()
		return "", store.PendingSignIn{}, store.Staff{}, false
	}
	if err != nil {
		s.internalError(w, r, err)
		return "", store.PendingSignIn{}, store.Staff{}, false
	}
	return c.Value, ps, st, true
}

type codeData struct {
	Action string
	Error  string
}

// codeShow asks for the code of a pending sign-in.
func (s *Server) codeShow(w http.ResponseWriter, r *http.Request) {
	if _, _, _, ok := s.pending(w, r); !ok {
		return
	}
	s.codeRender(w, r, http.StatusOK, "")
}

func (s *Server) codeRender(w http.ResponseWriter, r *http.Request, status int, errText string) {
	locale := web.RequestLocale(r)
	s.render(w, status, locale, "totp_code", page{Title: texts(locale)("owner.code.title"), Lang: locale, Path: r.URL.Path,
		Data: codeData{Action: "/console/sign-in/code" + queryLang(r), Error: errText}})
}

// totpEnrolShow is the enrolment a clinic requiring a second factor puts
// between the link and the session.
func (s *Server) totpEnrolShow(w http.ResponseWriter, r *http.Request) {
	_, ps, st, ok := s.pending(w, r)
	if !ok {
		return
	}
	if !ps.Enrol {
		http.Redirect(w, r, withLang(r, "/console/sign-in/code"), http.StatusSeeOther)
		return
	}
	s.totpEnrolRender(w, r, st, http.StatusOK, "")
}

func (s *Server) totpEnrolRender(w http.ResponseWriter, r *http.Request, st store.Staff, status int, errText string) {
	locale := web.RequestLocale(r)
	d, err := s.totpPageData(r, st.ID, st.Email)
	if err != nil {
		s.fail(w, r, err)
		return
	}
	d.Error, d.SignIn, d.Action = errText, true, "/console/sign-in/enrol"+queryLang(r)
	s.render(w, status, locale, "totp", page{Title: texts(locale)("owner.totp.enrol_title"), Lang: locale, Path: r.URL.Path, Data: d})
}

// codeCheck takes a pending sign-in's code (or, enrolling, the first code
// of the new secret) and starts the session when it is right. Each try is
// counted; after PendingTries the sign-in starts over from a new link.
func (s *Server) codeCheck(w http.ResponseWriter, r *http.Request) {
	id, ps, st, ok := s.pending(w, r)
	if !ok || !s.parseForm(w, r) {
		return
	}
	ctx := r.Context()
	tr := texts(web.RequestLocale(r))
	who := &principal{Clinic: st.Clinic, StaffID: st.ID, Email: st.Email}
	n, err := s.c.Store.TryPendingSignIn(ctx, id)
	if err != nil {
		s.fail(w, r, err)
		return
	}
	if n > PendingTries {
		_ = s.c.Store.EndPendingSignIn(ctx, id)
		s.setPendingCookie(w, "", -1)
		s.audit(r, who, "sign-in.failed", "", "too many codes")
		s.message(w, r, http.StatusTooManyRequests, tr("owner.pending.gone_title"), messageData{Paragraphs: []string{tr("owner.code.too_many")},
			Action: "/console/sign-in" + queryLang(r), Button: tr("badlink.button")})
		return
	}
	code := r.PostForm.Get("code")
	if ps.Enrol {
		good, err := s.confirmEnrolment(r, st.ID, code)
		if err != nil {
			s.fail(w, r, err)
			return
		}
		if !good {
			s.audit(r, who, "sign-in.code-refused", "", "enrolment")
			s.totpEnrolRender(w, r, st, http.StatusUnprocessableEntity, tr("owner.totp.bad_code"))
			return
		}
		s.audit(r, who, "totp.on", "", "")
	} else {
		good, err := s.checkCode(r, st.ID, code)
		if err != nil {
			s.fail(w, r, err)
			return
		}
		if !good {
			s.audit(r, who, "sign-in.code-refused", "", "")
			s.codeRender(w, r, http.StatusUnprocessableEntity, tr("owner.code.bad"))
			return
		}
	}
	if err := s.c.Store.EndPendingSignIn(ctx, id); err != nil {
		s.internalError(w, r, err)
		return
	}
	s.setPendingCookie(w, "", -1)
	sid, err := s.c.Store.CreateConsoleSession(ctx, st, s.c.Now(), SessionMaxAge)
	if err != nil {
		s.fail(w, r, err)
		return
	}
	s.setCookie(w, sid)
	s.audit(r, who, "sign-in", "", "second factor")
	http.Redirect(w, r, withLang(r, "/console/clients"), http.StatusSeeOther)
}

// checkCode checks a code against a staff member's second factor and
// uses its step: the same code (or an older one) is refused after.
func (s *Server) checkCode(r *http.Request, staff, code string) (bool, error) {
	ctx := r.Context()
	tf, err := s.c.Store.StaffTOTPOf(ctx, staff)
	if err != nil || !tf.On {
		return false, err
	}
	secret, err := s.unseal(staff, tf.Secret)
	if err != nil {
		return false, err
	}
	step, ok := totpMatch(secret, code, s.c.Now())
	if !ok {
		return false, nil
	}
	return s.c.Store.UseTOTPStep(ctx, staff, step)
}

// parseForm reads a small form; a broken one is answered here.
func (s *Server) parseForm(w http.ResponseWriter, r *http.Request) bool {
	r.Body = http.MaxBytesReader(w, r.Body, 8<<10)
	if err := r.ParseForm(); err != nil {
		tr := texts(web.RequestLocale(r))
		s.message(w, r, http.StatusBadRequest, tr("badform.title"), messageData{Paragraphs: []string{tr("badform.body")}})
		return false
	}
	return true
}

// ownerNotices are the ?done= values of the owners' and second-factor
// pages, each with its text owner.done.<value>.
var ownerNotices = map[string]bool{
	"totp_on": true, "totp_off": true, "invited": true, "role": true, "removed": true, "settings": true,
	"console": true, "webhook": true, "key_revoked": true,
}

// ownerNotice is the notice for a page's ?done=, if it is one of these pages'.
func ownerNotice(r *http.Request, tr func(string, ...any) string) string {
	if d := r.URL.Query().Get("done"); ownerNotices[d] {
		return tr("owner.done." + d)
	}
	return ""
}

// doneURL is a page's path with ?done= (and the language) for its notice.
func doneURL(r *http.Request, path, done string) string {
	u := path + "?done=" + done
	if q := queryLang(r); q != "" {
		u += "&" + q[1:]
	}
	return u
}
