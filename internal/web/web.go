// Package web is nudge's HTTP face for people: the signup form, the confirm,
// manage and unsubscribe pages behind signed links, the RFC 8058 one-click
// unsubscribe, the development outbox, and the health endpoints.
//
// A GET never changes state (mail scanners follow links): every change is a
// POST from a page's button, or the one-click POST a mail provider makes.
// Browser forms are protected with http.CrossOriginProtection; the one-click
// POST is exempt, as it comes from the provider, not a browser.
package web

import (
	"context"
	"embed"
	"errors"
	"html/template"
	"io/fs"
	"log/slog"
	"net"
	"net/http"
	"time"

	"github.com/nudgehq/nudge/internal/domain"
	"github.com/nudgehq/nudge/internal/outbox"
	"github.com/nudgehq/nudge/internal/store"
	"github.com/nudgehq/nudge/internal/subscription"
	"github.com/nudgehq/nudge/internal/token"
	"github.com/nudgehq/nudge/scheduler"
)

//go:embed pages/*.html
var pageFiles embed.FS

//go:embed static
var staticFiles embed.FS

// Deps is what the web tier needs.
type Deps struct {
	Subscriptions *subscription.Service
	Store         *store.Store
	Signer        *token.Signer
	// Outbox is shown at /dev/outbox when set (development only).
	Outbox *outbox.Outbox
	// Zones are the time zones the form offers; DefaultZone is selected
	// when the browser does not say.
	Zones       []string
	DefaultZone string
	// Ready reports whether the service can do its work (Redis answers).
	Ready  func(ctx context.Context) error
	Now    func() time.Time
	Logger *slog.Logger
}

// Server serves the web tier.
type Server struct {
	d     Deps
	zones map[string]bool
	pages map[string]*template.Template
}

// New parses the pages and returns a Server.
func New(d Deps) (*Server, error) {
	s := &Server{d: d, zones: map[string]bool{}, pages: map[string]*template.Template{}}
	for _, z := range d.Zones {
		s.zones[z] = true
	}
	for _, name := range []string{"signup", "message", "manage", "outbox"} {
		t, err := template.New(name).ParseFS(pageFiles, "pages/layout.html", "pages/"+name+".html")
		if err != nil {
			return nil, err
		}
		s.pages[name] = t
	}
	return s, nil
}

// Handler returns the routes, wrapped in cross-origin protection.
func (s *Server) Handler() http.Handler {
	mux := http.NewServeMux()
	static, _ := fs.Sub(staticFiles, "static")
	mux.Handle("GET /static/", http.StripPrefix("/static/", http.FileServerFS(static)))
	mux.HandleFunc("GET /{$}", s.signupPage)
	mux.HandleFunc("POST /signup", s.signup)
	mux.HandleFunc("GET /confirm/{token}", s.confirmPage)
	mux.HandleFunc("POST /confirm/{token}", s.confirm)
	mux.HandleFunc("GET /manage/{token}", s.managePage)
	mux.HandleFunc("GET /unsubscribe/{token}", s.unsubscribePage)
	mux.HandleFunc("POST /unsubscribe/{token}", s.unsubscribe)
	mux.HandleFunc("GET /healthz", func(w http.ResponseWriter, _ *http.Request) {
		w.Header().Set("Content-Type", "text/plain; charset=utf-8")
		_, _ = w.Write([]byte("ok\n"))
	})
	mux.HandleFunc("GET /readyz", s.ready)
	if s.d.Outbox != nil {
		mux.HandleFunc("GET /dev/outbox", s.outboxPage)
	}
	cop := http.NewCrossOriginProtection()
	// Mail providers make the RFC 8058 one-click POST themselves.
	cop.AddInsecureBypassPattern("POST /unsubscribe/{token}")
	return securityHeaders(cop.Handler(mux))
}

func securityHeaders(h http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Security-Policy", "default-src 'self'; frame-src 'self' data:; img-src 'self' data:; style-src 'self' 'unsafe-inline'; frame-ancestors 'none'; form-action 'self'")
		w.Header().Set("X-Content-Type-Options", "nosniff")
		w.Header().Set("Referrer-Policy", "no-referrer")
		h.ServeHTTP(w, r)
	})
}

func (s *Server) render(w http.ResponseWriter, status int, page string, data any) {
	w.Header().Set("Content-Type", "text/html; charset=utf-8")
	w.Header().Set("Cache-Control", "no-store")
	w.WriteHeader(status)
	if err := s.pages[page].ExecuteTemplate(w, "layout", data); err != nil {
		s.d.Logger.Error("render page", "page", page, "err", err)
	}
}

type messagePage struct {
	Title      string
	Paragraphs []string
	Action     string
	Button     string
}

func (s *Server) message(w http.ResponseWriter, status int, p messagePage) {
	s.render(w, status, "message", p)
}

func (s *Server) internalError(w http.ResponseWriter, r *http.Request, err error) {
	s.d.Logger.Error("request failed", "method", r.Method, "route", r.Pattern, "err", err)
	s.message(w, http.StatusInternalServerError, messagePage{
		Title:      "Something went wrong on our side",
		Paragraphs: []string{"Nothing you typed was lost by you: please try again in a minute."},
	})
}

func (s *Server) badLink(w http.ResponseWriter, err error) {
	title, body := "This link does not work", "It may have been cut short when it was copied. Please open it straight from the email."
	if errors.Is(err, token.ErrExpired) {
		title, body = "This link has expired", "Sign up again on the front page and we will send you a fresh one."
	}
	s.message(w, http.StatusNotFound, messagePage{Title: title, Paragraphs: []string{body}})
}

func origin(r *http.Request, source string) subscription.Origin {
	ip, _, err := net.SplitHostPort(r.RemoteAddr)
	if err != nil {
		ip = r.RemoteAddr
	}
	return subscription.Origin{Source: source, IP: ip, UserAgent: r.UserAgent()}
}

// --- signup ---

type programView struct {
	Name, Title, Hint string
	Monthly, Checked  bool
	Day, Time, Error  string
	Days              []option
}

type signupPage struct {
	Form     signupForm
	Errors   map[string]string
	Zones    []string
	Programs []programView
}

func (s *Server) signupView(f signupForm, errs map[string]string) signupPage {
	if f.TimeZone == "" {
		f.TimeZone = s.d.DefaultZone
	}
	v := signupPage{Form: f, Errors: errs, Zones: s.d.Zones}
	for _, p := range formPrograms {
		c := f.Programs[p.Program]
		days := weekdays
		if p.Monthly {
			days = monthDays()
		}
		v.Programs = append(v.Programs, programView{
			Name: string(p.Program), Title: p.Title, Hint: p.Hint, Monthly: p.Monthly,
			Checked: c.Checked, Day: c.Day, Time: c.Time, Error: errs[string(p.Program)], Days: days,
		})
	}
	return v
}

func (s *Server) signupPage(w http.ResponseWriter, r *http.Request) {
	f := defaultForm()
	f.TimeZone = "" // let the browser's zone win when JavaScript runs
	v := s.signupView(f, nil)
	v.Form.TimeZone = ""
	s.render(w, http.StatusOK, "signup", v)
}

func (s *Server) signup(w http.ResponseWriter, r *http.Request) {
	r.Body = http.MaxBytesReader(w, r.Body, 64<<10)
	if err := r.ParseForm(); err != nil {
		s.message(w, http.StatusBadRequest, messagePage{Title: "We could not read that form", Paragraphs: []string{"Please go back and send it again."}})
		return
	}
	f := parseSignupForm(r.PostForm)
	checkEmail := messagePage{
		Title:      "Check your email",
		Paragraphs: []string{"We have sent a message to the address you gave. Open it and press the button to confirm; nothing else is sent until you do.", "No email after a few minutes? Look in your spam folder, or sign up again."},
	}
	if f.Honeypot != "" {
		s.message(w, http.StatusOK, checkEmail) // a bot: look the same, do nothing
		return
	}
	sub, scheds, errs := f.validate(s.zones)
	if len(errs) > 0 {
		s.render(w, http.StatusUnprocessableEntity, "signup", s.signupView(f, errs))
		return
	}
	if err := s.d.Subscriptions.Signup(r.Context(), sub, scheds, origin(r, "form")); err != nil {
		s.internalError(w, r, err)
		return
	}
	s.message(w, http.StatusOK, checkEmail)
}

// --- confirm ---

func (s *Server) confirmPage(w http.ResponseWriter, r *http.Request) {
	if _, err := s.d.Signer.Verify(token.Confirm, r.PathValue("token"), s.d.Now()); err != nil {
		s.badLink(w, err)
		return
	}
	s.message(w, http.StatusOK, messagePage{
		Title:      "One last step",
		Paragraphs: []string{"Press the button to confirm you would like to receive these messages."},
		Action:     r.URL.Path, Button: "Yes, send me these",
	})
}

func (s *Server) confirm(w http.ResponseWriter, r *http.Request) {
	id, err := s.d.Signer.Verify(token.Confirm, r.PathValue("token"), s.d.Now())
	if err != nil {
		s.badLink(w, err)
		return
	}
	err = s.d.Subscriptions.Confirm(r.Context(), id, origin(r, "link"))
	if errors.Is(err, store.ErrNotFound) {
		s.badLink(w, token.ErrInvalid)
		return
	}
	if err != nil {
		s.internalError(w, r, err)
		return
	}
	s.message(w, http.StatusOK, messagePage{
		Title:      "You are all set",
		Paragraphs: []string{"Your first message arrives at the time you chose. Every message has links to change your choices or stop at any time."},
	})
}

// --- manage ---

type scheduleView struct{ Title, When, Next string }

type managePage struct {
	FirstName, TimeZone, Status, Unsubscribe string
	Schedules                                []scheduleView
}

func (s *Server) managePage(w http.ResponseWriter, r *http.Request) {
	id, err := s.d.Signer.Verify(token.Manage, r.PathValue("token"), s.d.Now())
	if err != nil {
		s.badLink(w, err)
		return
	}
	sub, err := s.d.Store.Subscriber(r.Context(), id)
	if errors.Is(err, store.ErrNotFound) {
		s.badLink(w, token.ErrInvalid)
		return
	}
	if err != nil {
		s.internalError(w, r, err)
		return
	}
	scheds, err := s.d.Store.Schedules(r.Context(), id)
	if err != nil {
		s.internalError(w, r, err)
		return
	}
	loc, err := scheduler.LoadZone(sub.TimeZone)
	if err != nil {
		loc = time.UTC
	}
	v := managePage{FirstName: sub.FirstName, TimeZone: sub.TimeZone, Status: string(sub.Status),
		Unsubscribe: "/unsubscribe/" + s.d.Signer.Sign(token.Unsubscribe, id, s.d.Now().Add(time.Hour))}
	for _, sc := range scheds {
		next := "—"
		if !sc.Next.IsZero() {
			next = sc.Next.In(loc).Format("Mon 2 Jan 15:04")
		}
		v.Schedules = append(v.Schedules, scheduleView{Title: programTitle(sc.Program), When: sc.Rule, Next: next})
	}
	s.render(w, http.StatusOK, "manage", v)
}

func programTitle(p domain.Program) string {
	for _, fp := range formPrograms {
		if fp.Program == p {
			return fp.Title
		}
	}
	return string(p)
}

// --- unsubscribe ---

func (s *Server) unsubscribePage(w http.ResponseWriter, r *http.Request) {
	if _, err := s.d.Signer.Verify(token.Unsubscribe, r.PathValue("token"), s.d.Now()); err != nil {
		s.badLink(w, err)
		return
	}
	s.message(w, http.StatusOK, messagePage{
		Title:      "Stop all messages?",
		Paragraphs: []string{"Press the button and nothing more will be sent to you, including anything already on its way."},
		Action:     r.URL.Path, Button: "Unsubscribe",
	})
}

// unsubscribe serves both the page's button and the RFC 8058 one-click POST
// (body "List-Unsubscribe=One-Click"); both stop everything.
func (s *Server) unsubscribe(w http.ResponseWriter, r *http.Request) {
	id, err := s.d.Signer.Verify(token.Unsubscribe, r.PathValue("token"), s.d.Now())
	if err != nil {
		s.badLink(w, err)
		return
	}
	r.Body = http.MaxBytesReader(w, r.Body, 4<<10)
	_ = r.ParseForm() // the body only tells a one-click POST from a button
	source := "link"
	if r.PostForm.Get("List-Unsubscribe") == "One-Click" {
		source = "one-click"
	}
	err = s.d.Subscriptions.Unsubscribe(r.Context(), id, origin(r, source))
	if err != nil && !errors.Is(err, store.ErrNotFound) {
		s.internalError(w, r, err)
		return
	}
	s.message(w, http.StatusOK, messagePage{
		Title:      "You are unsubscribed",
		Paragraphs: []string{"Nothing more will be sent to you. If you change your mind, you can sign up again on the front page."},
	})
}

// --- health and dev ---

func (s *Server) ready(w http.ResponseWriter, r *http.Request) {
	ctx, cancel := context.WithTimeout(r.Context(), 2*time.Second)
	defer cancel()
	w.Header().Set("Content-Type", "text/plain; charset=utf-8")
	if err := s.d.Ready(ctx); err != nil {
		s.d.Logger.Warn("not ready", "err", err)
		w.WriteHeader(http.StatusServiceUnavailable)
		_, _ = w.Write([]byte("redis unreachable\n"))
		return
	}
	_, _ = w.Write([]byte("ready\n"))
}

func (s *Server) outboxPage(w http.ResponseWriter, r *http.Request) {
	entries, err := s.d.Outbox.List(r.Context())
	if err != nil {
		s.internalError(w, r, err)
		return
	}
	s.render(w, http.StatusOK, "outbox", struct {
		Entries  []outbox.Entry
		Capacity int
	}{entries, outbox.Capacity})
}
