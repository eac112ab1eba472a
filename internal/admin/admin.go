// Package admin serves the operator's pages under /admin/: asynq's queue
// monitor (asynqmon, read-only) at /admin/queues/. They exist only when
// NUDGE_ADMIN_TOKEN is set, and open to that token alone: sent as
// "Authorization: Bearer <token>" (scripts, curl), or typed once into the
// sign-in form at /admin/login, which sets a cookie for twelve hours (the
// form works without JavaScript; the monitor itself needs it).
//
// The session cookie holds an expiry and an HMAC of it keyed by the token:
// nothing is stored, changing the token ends every session, and signing out
// removes the cookie from that browser only.
package admin

import (
	"crypto/hmac"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/base64"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"strconv"
	"strings"
	"time"
)

// Paths the package serves.
const (
	Prefix     = "/admin/"       // mount the handler here
	QueuesPath = "/admin/queues" // asynqmon's root
	LoginPath  = "/admin/login"
	LogoutPath = "/admin/logout"
)

// MinTokenLen is the shortest token New accepts (config checks the same).
const MinTokenLen = 32

// SessionTTL is how long a sign-in through the form lasts.
const SessionTTL = 12 * time.Hour

const cookieName = "nudge_admin"

// Config is what the admin pages need.
type Config struct {
	// Token is the one secret that opens the pages (NUDGE_ADMIN_TOKEN).
	Token string
	// Queues is served at QueuesPath+"/" to a signed-in operator (Queues
	// builds asynqmon).
	Queues http.Handler
	// Secure marks the cookie HTTPS-only: set it when the public base URL
	// is https.
	Secure bool
	Now    func() time.Time
	Logger *slog.Logger
}

// Handler serves everything under Prefix.
type Handler struct {
	cfg   Config
	token [sha256.Size]byte // compared in constant time, whatever the length typed
	mux   *http.ServeMux
}

// New returns the admin pages, or an error when the token is shorter than
// MinTokenLen or a part is missing.
func New(cfg Config) (*Handler, error) {
	switch {
	case len(cfg.Token) < MinTokenLen:
		return nil, fmt.Errorf("admin: token too short (%d bytes; at least %d)", len(cfg.Token), MinTokenLen)
	case cfg.Queues == nil:
		return nil, errors.New("admin: no queues handler")
	case cfg.Now == nil || cfg.Logger == nil:
		return nil, errors.New("admin: Now and Logger are required")
	}
	h := &Handler{cfg: cfg, token: sha256.Sum256([]byte(cfg.Token))}
	mux := http.NewServeMux()
	mux.HandleFunc("GET /admin/{$}", func(w http.ResponseWriter, r *http.Request) {
		http.Redirect(w, r, QueuesPath+"/", http.StatusSeeOther)
	})
	mux.HandleFunc("GET "+LoginPath, h.loginShow)
	mux.HandleFunc("POST "+LoginPath, h.loginCheck)
	mux.HandleFunc("POST "+LogoutPath, h.logout)
	mux.HandleFunc("GET "+QueuesPath, func(w http.ResponseWriter, r *http.Request) {
		http.Redirect(w, r, QueuesPath+"/", http.StatusSeeOther)
	})
	mux.Handle(QueuesPath+"/", h.signedIn(cfg.Queues))
	mux.HandleFunc(Prefix, http.NotFound)
	h.mux = mux
	return h, nil
}

// ServeHTTP serves the pages with cross-origin protection for the forms
// and headers that keep them out of caches, frames and other origins'
// requests. The policy also keeps asynqmon from loading Google's fonts (it
// falls back to the browser's).
func (h *Handler) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	hd := w.Header()
	hd.Set("Cache-Control", "no-store")
	hd.Set("Referrer-Policy", "no-referrer")
	hd.Set("X-Frame-Options", "DENY")
	hd.Set("Content-Security-Policy", "default-src 'self'; script-src 'self' 'unsafe-inline'; style-src 'self' 'unsafe-inline'; "+
		"img-src 'self' data:; font-src 'self' data:; connect-src 'self'; frame-ancestors 'none'; base-uri 'none'; form-action 'self'")
	http.NewCrossOriginProtection().Handler(h.mux).ServeHTTP(w, r)
}

// signedIn lets through requests that carry the token or a live session,
// and answers the others 401 with the sign-in form.
func (h *Handler) signedIn(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if auth := r.Header.Get("Authorization"); auth != "" {
			tok, ok := strings.CutPrefix(auth, "Bearer ")
			if !ok || !h.tokenMatches(tok) {
				w.Header().Set("WWW-Authenticate", `Bearer realm="nudge admin", error="invalid_token"`)
				h.cfg.Logger.Warn("admin request refused", "reason", "wrong bearer token")
				h.renderLogin(w, http.StatusUnauthorized, "")
				return
			}
			next.ServeHTTP(w, r)
			return
		}
		if c, err := r.Cookie(cookieName); err == nil && h.sessionValid(c.Value) {
			next.ServeHTTP(w, r)
			return
		}
		w.Header().Set("WWW-Authenticate", `Bearer realm="nudge admin"`)
		h.renderLogin(w, http.StatusUnauthorized, "")
	})
}

// tokenMatches compares s with the token in constant time (hashes of
// equal length, so not even the length shows).
func (h *Handler) tokenMatches(s string) bool {
	sum := sha256.Sum256([]byte(s))
	return subtle.ConstantTimeCompare(sum[:], h.token[:]) == 1
}

// session returns a cookie value good until exp: "<exp>.<mac>".
func (h *Handler) session(exp time.Time) string {
	e := strconv.FormatInt(exp.Unix(), 10)
	return e + "." + base64.RawURLEncoding.EncodeToString(h.mac(e))
}

func (h *Handler) mac(exp string) []byte {
	m := hmac.New(sha256.New, []byte(h.cfg.Token))
	m.Write([]byte("nudge admin session\x00" + exp))
	return m.Sum(nil)
}

// sessionValid checks a cookie value's MAC (in constant time) and expiry.
func (h *Handler) sessionValid(v string) bool {
	e, sig, ok := strings.Cut(v, ".")
	if !ok {
		return false
	}
	got, err := base64.RawURLEncoding.DecodeString(sig)
	if err != nil || !hmac.Equal(got, h.mac(e)) {
		return false
	}
	exp, err := strconv.ParseInt(e, 10, 64)
	return err == nil && h.cfg.Now().Unix() < exp
}
