// Package console is the clinic console: server-rendered pages under
// /console/ where a clinic's staff sign in with a one-time emailed link,
// see their clients (an owner all of them, a clinician those assigned to
// them), a client's scores, replies and deliveries, pause and resume a
// client, work through distress alerts, and (owners) read the audit log.
//
// Changes go through clinic.Service, the service layer the JSON API uses.
// Every request is resolved to one principal (clinic, staff member, role)
// by session (auth.go), and every client, alert or page is reached through
// the checks there: another clinic's ids, or a clinician's look at a
// client not assigned to them, answer 404 exactly as a missing id.
//
// A GET never changes state (mail scanners open links); forms are POSTs
// behind http.CrossOriginProtection, and every page is sent with
// Cache-Control: no-store and the public pages' security headers.
package console

import (
	"context"
	"embed"
	"errors"
	"html/template"
	"log/slog"
	"net"
	"net/http"
	"time"

	"github.com/hibiken/asynq"
	"github.com/nudgehq/nudge/internal/clinic"
	"github.com/nudgehq/nudge/internal/httproute"
	"github.com/nudgehq/nudge/internal/render"
	"github.com/nudgehq/nudge/internal/store"
	"github.com/nudgehq/nudge/internal/web"
	"github.com/nudgehq/nudge/templates"
)

//go:embed pages/*.html
var pageFiles embed.FS

// Prefix is where the console lives.
const Prefix = "/console/"

// Session and link lifetimes.
const (
	LinkTTL       = 15 * time.Minute
	SessionMaxAge = 12 * time.Hour
	// SessionIdleFor is the default idle limit; each clinic's owners set
	// their own (store.ConsoleSettings), which is the one applied.
	SessionIdleFor = store.DefaultIdleMinutes * time.Minute
)

// Budgets caps sign-in link requests per client IP and per address.
type Budgets interface {
	AllowIP(ctx context.Context, ip string) (time.Duration, error)
	AllowAddress(ctx context.Context, addr string) (bool, error)
}

// Enqueuer is the part of asynq.Client the console uses.
type Enqueuer interface {
	EnqueueContext(ctx context.Context, t *asynq.Task, opts ...asynq.Option) (*asynq.TaskInfo, error)
}

// Config is what the console needs.
type Config struct {
	Service *clinic.Service
	Store   *store.Store
	Enqueue Enqueuer
	Budgets Budgets // nil: no budget
	// Development drops the cookie's Secure flag and __Host- prefix, so the
	// console works over plain http on a developer's machine.
	Development bool
	// ClientIP finds a request's client address behind trusted proxies
	// (clientip.Resolver.IP); nil takes the connection's peer.
	ClientIP func(*http.Request) string
	// SealKey (32 bytes) seals staff members' TOTP secrets at rest.
	SealKey []byte
	// Library and Renderer render previews of what a client is sent;
	// BaseURL (the service's address) stands in for an email's links there.
	Library  *templates.Library
	Renderer *render.Renderer
	BaseURL  string
	Now      func() time.Time
	Logger   *slog.Logger
}

// Server serves the console.
type Server struct {
	c     Config
	pages map[string]map[string]*template.Template // by locale, then page
}

// New parses the pages, once per locale.
func New(c Config) (*Server, error) {
	if c.Service == nil || c.Store == nil || c.Enqueue == nil || c.Now == nil || c.Logger == nil || c.Library == nil || c.Renderer == nil {
		return nil, errors.New("console: a service, store, queue, message library, renderer, clock and logger are needed")
	}
	if len(c.SealKey) != 32 {
		return nil, errors.New("console: a 32-byte key to seal second-factor secrets is needed")
	}
	s := &Server{c: c, pages: map[string]map[string]*template.Template{}}
	for locale, m := range catalogue {
		s.pages[locale] = map[string]*template.Template{}
		for _, name := range []string{"message", "sign_in", "clients", "client", "alerts", "audit", "staff", "settings", "totp", "totp_code",
			"enrol", "prompt_new", "timeline", "client_confirm"} {
			t, err := template.New(name).Funcs(pageFuncs(locale, m)).ParseFS(pageFiles, "pages/layout.html", "pages/"+name+".html")
			if err != nil {
				return nil, err
			}
			s.pages[locale][name] = t
		}
	}
	return s, nil
}

// CookieName is the session cookie's name: __Host- bound to this origin
// over https, a plain name in development (browsers refuse __Host- cookies
// without Secure, and Secure cookies over http).
func (s *Server) CookieName() string {
	if s.c.Development {
		return "nudge_console"
	}
	return "__Host-nudge_console"
}

// Handler returns the console's routes, with cross-origin protection and
// the security headers.
func (s *Server) Handler() http.Handler {
	mux := http.NewServeMux()
	mux.HandleFunc("GET /console/{$}", s.home)
	mux.HandleFunc("GET /console/sign-in", s.signInShow)
	mux.HandleFunc("POST /console/sign-in", s.signInSend)
	mux.HandleFunc("GET /console/sign-in/{token}", s.linkShow)
	mux.HandleFunc("POST /console/sign-in/{token}", s.linkOpen)
	mux.Handle("POST /console/sign-out", s.staffOnly(s.signOut))
	mux.Handle("GET /console/clients", s.staffOnly(s.clientList))
	mux.Handle("GET /console/clients/{id}", s.staffOnly(s.clientShow))
	mux.Handle("POST /console/clients/{id}/pause", s.staffOnly(s.clientPause))
	mux.Handle("POST /console/clients/{id}/resume", s.staffOnly(s.clientResume))
	mux.Handle("POST /console/clients/{id}/assign", s.ownersOnly(s.clientAssign))
	mux.Handle("GET /console/clients/new", s.staffOnly(s.enrolShow))
	mux.Handle("POST /console/clients/new", s.staffOnly(s.enrolSubmit))
	mux.Handle("POST /console/clients/{id}/session", s.staffOnly(s.sessionSet))
	mux.Handle("GET /console/clients/{id}/prompts/new", s.staffOnly(s.promptNew))
	mux.Handle("POST /console/clients/{id}/prompts", s.staffOnly(s.promptSubmit))
	mux.Handle("POST /console/clients/{id}/prompts/{prompt}/remove", s.staffOnly(s.promptRemove))
	mux.Handle("POST /console/clients/{id}/notes", s.staffOnly(s.noteAdd))
	mux.Handle("POST /console/clients/{id}/notes/{note}/delete", s.staffOnly(s.noteDelete))
	mux.Handle("GET /console/clients/{id}/timeline", s.staffOnly(s.timeline))
	mux.Handle("GET /console/clients/{id}/export.csv", s.staffOnly(s.export))
	mux.Handle("GET /console/clients/{id}/discharge", s.staffOnly(s.clientConfirm("discharge")))
	mux.Handle("POST /console/clients/{id}/discharge", s.staffOnly(s.clientDischarge))
	mux.Handle("POST /console/clients/{id}/readmit", s.staffOnly(s.clientReadmit))
	mux.Handle("GET /console/clients/{id}/remove", s.staffOnly(s.clientConfirm("remove")))
	mux.Handle("POST /console/clients/{id}/remove", s.staffOnly(s.clientRemove))
	mux.Handle("GET /console/static/prompt.js", http.HandlerFunc(s.promptScript))
	mux.Handle("GET /console/alerts", s.staffOnly(s.alertList))
	mux.Handle("POST /console/alerts/{id}/acknowledge", s.staffOnly(s.alertAcknowledge))
	mux.Handle("POST /console/alerts/{id}/resolve", s.staffOnly(s.alertResolve))
	mux.Handle("POST /console/alerts/settings", s.ownersOnly(s.alertSettings))
	mux.Handle("GET /console/audit", s.ownersOnly(s.auditList))
	mux.Handle("GET /console/audit.csv", s.ownersOnly(s.auditCSV))
	mux.Handle("GET /console/staff", s.ownersOnly(s.staffList))
	mux.Handle("POST /console/staff", s.ownersOnly(s.staffInvite))
	mux.Handle("POST /console/staff/{id}/role", s.ownersOnly(s.staffRole))
	mux.Handle("POST /console/staff/{id}/remove", s.ownersOnly(s.staffRemove))
	mux.Handle("POST /console/staff/{id}/totp-reset", s.ownersOnly(s.staffResetTOTP))
	mux.Handle("GET /console/settings", s.ownersOnly(s.settingsShow))
	mux.Handle("POST /console/settings", s.ownersOnly(s.settingsSave))
	mux.Handle("POST /console/settings/console", s.ownersOnly(s.settingsConsole))
	mux.Handle("POST /console/settings/webhook", s.ownersOnly(s.settingsWebhook))
	mux.Handle("POST /console/settings/webhook/rotate", s.ownersOnly(s.settingsRotate))
	mux.Handle("POST /console/settings/keys", s.ownersOnly(s.keyCreate))
	mux.Handle("POST /console/settings/keys/{id}/revoke", s.ownersOnly(s.keyRevoke))
	mux.Handle("GET /console/totp", s.enrolling(s.totpShow))
	mux.Handle("POST /console/totp/start", s.enrolling(s.totpStart))
	mux.Handle("POST /console/totp/confirm", s.enrolling(s.totpConfirm))
	mux.Handle("POST /console/totp/off", s.staffOnly(s.totpOff))
	mux.HandleFunc("GET /console/sign-in/code", s.codeShow)
	mux.HandleFunc("POST /console/sign-in/code", s.codeCheck)
	mux.HandleFunc("GET /console/sign-in/enrol", s.totpEnrolShow)
	mux.HandleFunc("POST /console/sign-in/enrol", s.codeCheck)
	mux.HandleFunc("/console/", s.notFoundPage)
	cop := http.NewCrossOriginProtection()
	return web.SecurityHeaders(noStore(cop.Handler(httproute.Record(mux))))
}

// noStore keeps every console answer, page or redirect, out of caches.
func noStore(h http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Cache-Control", "no-store")
		h.ServeHTTP(w, r)
	})
}

func (s *Server) home(w http.ResponseWriter, r *http.Request) {
	http.Redirect(w, r, withLang(r, "/console/clients"), http.StatusSeeOther)
}

// render writes a page in locale.
func (s *Server) render(w http.ResponseWriter, status int, locale, page string, data any) {
	w.Header().Set("Content-Type", "text/html; charset=utf-8")
	w.Header().Set("Vary", "Accept-Language, Cookie")
	w.WriteHeader(status)
	if err := s.pages[locale][page].ExecuteTemplate(w, "layout", data); err != nil {
		s.c.Logger.Error("render console page", "page", page, "locale", locale, "err", err)
	}
}

// page is what every page template gets: its own data and, once signed
// in, who is.
type page struct {
	Title  string
	Who    *principal
	Lang   string
	Path   string // the page's own path, for the language links
	Data   any
	Notice string
}

type messageData struct {
	Paragraphs []string
	Action     string
	Button     string
}

func (s *Server) message(w http.ResponseWriter, r *http.Request, status int, title string, m messageData) {
	locale := web.RequestLocale(r)
	s.render(w, status, locale, "message", page{Title: title, Lang: locale, Path: r.URL.Path, Data: m, Who: principalOf(r)})
}

// notFound answers a missing id, another clinic's id and a client not
// assigned to a clinician alike.
func (s *Server) notFound(w http.ResponseWriter, r *http.Request) {
	tr := texts(web.RequestLocale(r))
	s.message(w, r, http.StatusNotFound, tr("notfound.title"), messageData{Paragraphs: []string{tr("notfound.body")}})
}

func (s *Server) notFoundPage(w http.ResponseWriter, r *http.Request) { s.notFound(w, r) }

func (s *Server) internalError(w http.ResponseWriter, r *http.Request, err error) {
	s.c.Logger.Error("console request failed", "method", r.Method, "route", r.Pattern, "err", err)
	tr := texts(web.RequestLocale(r))
	s.message(w, r, http.StatusInternalServerError, tr("internal.title"), messageData{Paragraphs: []string{tr("internal.body")}})
}

// fail answers an error from the store or service: not found is 404,
// anything else 500.
func (s *Server) fail(w http.ResponseWriter, r *http.Request, err error) {
	if errors.Is(err, store.ErrNotFound) {
		s.notFound(w, r)
		return
	}
	s.internalError(w, r, err)
}

// withLang adds the request's ?lang= to a console path, so a page's links
// and redirects stay in its language.
func withLang(r *http.Request, path string) string {
	if l := r.URL.Query().Get("lang"); l == "en" || l == "es" {
		return path + "?lang=" + l
	}
	return path
}

// clientIP is the request's client: behind trusted proxies the address
// they forwarded for, else the connection's peer.
func (s *Server) clientIP(r *http.Request) string {
	if s.c.ClientIP != nil {
		return s.c.ClientIP(r)
	}
	ip, _, err := net.SplitHostPort(r.RemoteAddr)
	if err != nil {
		return r.RemoteAddr
	}
	return ip
}

// enqueue queues a task; a repeat of the same task id is success.
func (s *Server) enqueue(ctx context.Context, t *asynq.Task) error {
	if _, err := s.c.Enqueue.EnqueueContext(ctx, t); err != nil && !errors.Is(err, asynq.ErrTaskIDConflict) {
		return err
	}
	return nil
}
