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
	"strconv"
	"time"

	"github.com/nudgehq/nudge/internal/domain"
	"github.com/nudgehq/nudge/internal/httproute"
	"github.com/nudgehq/nudge/internal/outbox"
	"github.com/nudgehq/nudge/internal/phone"
	"github.com/nudgehq/nudge/internal/safety"
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
	// Phones reads mobile numbers; nil when no SMS channel is offered, and
	// the form then asks for email only. SMSWindow is when texts may go out.
	Phones    *phone.Normaliser
	SMSWindow scheduler.Window
	// Limits, when set, caps signups per client IP and per address.
	Limits SignupLimits
	// Manage carries out the preference centre's changes, export and
	// erasure; nil builds one on Store, with the default SMS window and an
	// asynq inspector on Store's Redis.
	Manage *subscription.Manager
	// Safety answers distress in a note on the answer page; nil: one on
	// Store with the built-in crisis resources.
	Safety *safety.Responder
	// Metrics, when set, counts signup posts by channel and outcome.
	Metrics SignupMetrics
	// Ready reports whether the service can do its work (Redis answers).
	Ready  func(ctx context.Context) error
	Now    func() time.Time
	Logger *slog.Logger
}

// SignupLimits are the signup form's budgets.
type SignupLimits interface {
	AllowIP(ctx context.Context, ip string) (time.Duration, error)
	AllowAddress(ctx context.Context, addr string) (bool, error)
}

// Server serves the web tier.
type Server struct {
	d     Deps
	zones map[string]bool
	text  map[string]texts                         // by locale
	pages map[string]map[string]*template.Template // by locale, then page
}

// New parses the pages, once per locale, and returns a Server.
func New(d Deps) (*Server, error) {
	s := &Server{d: d, zones: map[string]bool{}, text: map[string]texts{}, pages: map[string]map[string]*template.Template{}}
	for _, z := range d.Zones {
		s.zones[z] = true
	}
	for locale, m := range catalogue() {
		s.text[locale] = texts{locale: locale, m: m}
		s.pages[locale] = map[string]*template.Template{}
	}
	for _, name := range []string{"signup", "message", "manage", "outbox", "answer", "month"} {
		// t and lang are set per locale below; these only let the pages parse.
		base, err := template.New(name).Funcs(pageFuncs(texts{})).ParseFS(pageFiles, "pages/layout.html", "pages/"+name+".html")
		if err != nil {
			return nil, err
		}
		for locale, tr := range s.text {
			t, err := base.Clone()
			if err != nil {
				return nil, err
			}
			s.pages[locale][name] = t.Funcs(pageFuncs(tr))
		}
	}
	return s, nil
}

// pageFuncs are the functions the pages call: {{t "key"}} for text (with
// optional arguments) and {{lang}} for the locale.
func pageFuncs(tr texts) template.FuncMap {
	return template.FuncMap{
		"t":    tr.get,
		"lang": func() string { return tr.locale },
	}
}

// Handler returns the routes, wrapped in cross-origin protection.
func (s *Server) Handler() http.Handler {
	mux := http.NewServeMux()
	static, _ := fs.Sub(staticFiles, "static")
	mux.Handle("GET /static/", http.StripPrefix("/static/", filesOnly(static)))
	mux.HandleFunc("GET /{$}", s.signupPage)
	mux.HandleFunc("POST /signup", s.signup)
	mux.HandleFunc("GET /confirm/{token}", s.confirmPage)
	mux.HandleFunc("POST /confirm/{token}", s.confirm)
	s.manageRoutes(mux)
	s.answerRoutes(mux)
	s.monthRoutes(mux)
	mux.HandleFunc("GET /link/{token}", s.textLinkPage)
	mux.HandleFunc("POST /link/{token}", s.textLinkOpen)
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
	return securityHeaders(cop.Handler(httproute.Record(mux)))
}

func securityHeaders(h http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Security-Policy", "default-src 'self'; frame-src 'self' data:; img-src 'self' data:; style-src 'self' 'unsafe-inline'; frame-ancestors 'none'; form-action 'self'")
		w.Header().Set("X-Content-Type-Options", "nosniff")
		w.Header().Set("Referrer-Policy", "no-referrer")
		h.ServeHTTP(w, r)
	})
}

func (s *Server) render(w http.ResponseWriter, status int, locale, page string, data any) {
	w.Header().Set("Content-Type", "text/html; charset=utf-8")
	w.Header().Set("Cache-Control", "no-store")
	// Pages not tied to a subscriber follow the browser's language.
	w.Header().Set("Vary", "Accept-Language")
	w.WriteHeader(status)
	if err := s.pages[locale][page].ExecuteTemplate(w, "layout", data); err != nil {
		s.d.Logger.Error("render page", "page", page, "locale", locale, "err", err)
	}
}

type messagePage struct {
	Title      string
	Paragraphs []string
	Action     string
	Button     string
}

func (s *Server) message(w http.ResponseWriter, status int, locale string, p messagePage) {
	s.render(w, status, locale, "message", p)
}

func (s *Server) internalError(w http.ResponseWriter, r *http.Request, locale string, err error) {
	s.d.Logger.Error("request failed", "method", r.Method, "route", r.Pattern, "err", err)
	tr := s.text[locale]
	s.message(w, http.StatusInternalServerError, locale, messagePage{
		Title:      tr.get("internal.title"),
		Paragraphs: []string{tr.get("internal.body")},
	})
}

// badLink answers a link that does not verify, in the language of the
// browser: whose link it is, is not known.
func (s *Server) badLink(w http.ResponseWriter, r *http.Request, err error) {
	tr := s.text[requestLocale(r)]
	title, body := tr.get("bad_link.title"), tr.get("bad_link.body")
	if errors.Is(err, token.ErrExpired) {
		title, body = tr.get("expired.title"), tr.get("expired.body")
	}
	s.message(w, http.StatusNotFound, tr.locale, messagePage{Title: title, Paragraphs: []string{body}})
}

// subscriberLocale is the page locale of subscriber id, for the pages behind
// a signed link. A subscriber that cannot be loaded gets the browser's
// language: the handler deals with a missing one as it always has.
func (s *Server) subscriberLocale(r *http.Request, id string) string {
	_, locale := s.linkSubscriber(r, id)
	return locale
}

// linkSubscriber loads subscriber id for a page behind a signed link, with
// the page's locale (subscriberLocale's). One that cannot be loaded comes
// back as the zero Subscriber: the handler deals with a missing one as it
// always has.
func (s *Server) linkSubscriber(r *http.Request, id string) (domain.Subscriber, string) {
	sub, err := s.d.Store.Subscriber(r.Context(), id)
	if err != nil {
		if !errors.Is(err, store.ErrNotFound) {
			s.d.Logger.Warn("load subscriber for the page language", "subscriber_id", id, "err", err)
		}
		return domain.Subscriber{}, requestLocale(r)
	}
	return sub, storedLocale(sub.Locale)
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
	Errors   map[string]string // field → message
	Zones    []string
	Programs []programView
	// Action is where the form posts: /signup with the page's language, so
	// the page stays in it if the form comes back with errors.
	Action string
	// SMS is true when texts are offered.
	SMS bool
	// SMSConsentText is the consent box's label, with the SMS window's hours.
	SMSConsentText string
}

// signupView is the form in tr's language; errs are catalogue keys per field.
func (s *Server) signupView(tr texts, f signupForm, errs map[string]string) signupPage {
	if f.TimeZone == "" {
		f.TimeZone = s.d.DefaultZone
	}
	// The SMS window is the operator's (NUDGE_SMS_WINDOW): the texts that
	// name it say the configured hours.
	start, end := windowStart(s.d.SMSWindow), windowEnd(s.d.SMSWindow)
	msgs := map[string]string{}
	for field, key := range errs {
		if key == "error.sms_window" {
			msgs[field] = tr.get(key, start, end)
			continue
		}
		msgs[field] = tr.get(key)
	}
	v := signupPage{Form: f, Errors: msgs, Zones: s.d.Zones, Action: "/signup?lang=" + tr.locale,
		SMSConsentText: tr.get("signup.sms_consent", start, end)}
	for _, p := range formPrograms {
		c := f.Programs[p.Program]
		days := weekdayOptions(tr)
		if p.Monthly {
			days = monthDayOptions(tr)
		}
		name := string(p.Program)
		v.Programs = append(v.Programs, programView{
			Name: name, Title: tr.get("program." + name + ".title"), Hint: tr.get("program." + name + ".hint"), Monthly: p.Monthly,
			Checked: c.Checked, Day: c.Day, Time: c.Time, Error: msgs[name], Days: days,
		})
	}
	v.SMS = s.d.Phones != nil
	return v
}

func (s *Server) signupPage(w http.ResponseWriter, r *http.Request) {
	tr := s.text[requestLocale(r)]
	f := defaultForm()
	f.Locale = tr.locale
	f.TimeZone = "" // let the browser's zone win when JavaScript runs
	v := s.signupView(tr, f, nil)
	v.Form.TimeZone = ""
	s.render(w, http.StatusOK, tr.locale, "signup", v)
}

func (s *Server) signup(w http.ResponseWriter, r *http.Request) {
	r.Body = http.MaxBytesReader(w, r.Body, 64<<10)
	if err := r.ParseForm(); err != nil {
		tr := s.text[requestLocale(r)]
		s.message(w, http.StatusBadRequest, tr.locale, messagePage{Title: tr.get("bad_form.title"), Paragraphs: []string{tr.get("bad_form.body")}})
		return
	}
	f := parseSignupForm(r.PostForm)
	// The answer is in the language chosen for the messages.
	chosen := s.text[formLocale(f.Locale)]
	checkEmail := messagePage{
		Title:      chosen.get("check_email.title"),
		Paragraphs: []string{chosen.get("check_email.sent"), chosen.get("check_email.spam")},
	}
	if f.Honeypot != "" {
		s.countSignup(nil, "bot")
		s.message(w, http.StatusOK, chosen.locale, checkEmail) // a bot: look the same, do nothing
		return
	}
	o := origin(r, "form")
	if s.d.Limits != nil {
		wait, err := s.d.Limits.AllowIP(r.Context(), o.IP)
		if err != nil {
			s.internalError(w, r, chosen.locale, err)
			return
		}
		if wait > 0 {
			s.countSignup(nil, "limited")
			minutes := int(wait.Minutes()) + 1
			w.Header().Set("Retry-After", strconv.Itoa(int(wait.Seconds())+1))
			tr := s.text[signupPageLocale(r, f)]
			s.message(w, http.StatusTooManyRequests, tr.locale, messagePage{Title: tr.get("limit.title"), Paragraphs: []string{tr.get("limit.body", minutes)}})
			return
		}
	}
	sub, scheds, errs := f.validate(s.zones, smsRules{phones: s.d.Phones, window: s.d.SMSWindow})
	if len(errs) > 0 {
		s.countSignup(nil, "invalid")
		tr := s.text[signupPageLocale(r, f)]
		s.render(w, http.StatusUnprocessableEntity, tr.locale, "signup", s.signupView(tr, f, errs))
		return
	}
	// The address's budget here; a number's budget is taken when its
	// confirmation text goes out, whichever door asked for it.
	if s.d.Limits != nil && sub.Email != "" {
		ok, err := s.d.Limits.AllowAddress(r.Context(), sub.Email)
		if err != nil {
			s.internalError(w, r, chosen.locale, err)
			return
		}
		if !ok {
			// The same answer as ever: nobody learns an address is known.
			s.d.Logger.Info("signup dropped: address over its budget")
			s.countSignup(&sub, "limited")
			s.message(w, http.StatusOK, chosen.locale, checkEmail)
			return
		}
	}
	if err := s.d.Subscriptions.Signup(r.Context(), sub, scheds, o); err != nil {
		s.internalError(w, r, chosen.locale, err)
		return
	}
	s.countSignup(&sub, "accepted")
	s.message(w, http.StatusOK, chosen.locale, s.checkPage(chosen, sub, checkEmail))
}

// checkPage is the answer to a signup: check your email, and for a number,
// check your phone, with when the text will come if it is night there now
// (a confirmation text waits for the texting hours of the zone chosen).
func (s *Server) checkPage(tr texts, sub domain.Subscriber, checkEmail messagePage) messagePage {
	if sub.SMSStatus != domain.SMSPending || sub.Phone == "" {
		return checkEmail
	}
	p := messagePage{Title: tr.get("check_phone.title")}
	if sub.Email != "" {
		p.Title = tr.get("check_both.title")
		p.Paragraphs = append(p.Paragraphs, tr.get("check_email.sent"))
	}
	p.Paragraphs = append(p.Paragraphs, tr.get("check_phone.sent"))
	if loc, err := scheduler.LoadZone(sub.TimeZone); err == nil {
		now := s.d.Now()
		if open := s.d.SMSWindow.Defer(now, loc); !open.Equal(now) {
			p.Paragraphs = append(p.Paragraphs, tr.get("check_phone.later", open.In(loc).Format("15:04")))
		}
	}
	return p
}

// signupPageLocale is the language of a form sent back with errors: the
// page's own (?lang=, set in the form's action), else the language chosen
// for the messages, else the browser's.
func signupPageLocale(r *http.Request, f signupForm) string {
	if l, ok := matchLocale(r.URL.Query().Get("lang")); ok {
		return l
	}
	if l, ok := matchLocale(f.Locale); ok {
		return l
	}
	return requestLocale(r)
}

// --- confirm ---

func (s *Server) confirmPage(w http.ResponseWriter, r *http.Request) {
	id, err := s.d.Signer.Verify(token.Confirm, r.PathValue("token"), s.d.Now())
	if err != nil {
		s.badLink(w, r, err)
		return
	}
	tr := s.text[s.subscriberLocale(r, id)]
	s.message(w, http.StatusOK, tr.locale, messagePage{
		Title:      tr.get("confirm.title"),
		Paragraphs: []string{tr.get("confirm.body")},
		Action:     r.URL.Path, Button: tr.get("confirm.button"),
	})
}

func (s *Server) confirm(w http.ResponseWriter, r *http.Request) {
	id, err := s.d.Signer.Verify(token.Confirm, r.PathValue("token"), s.d.Now())
	if err != nil {
		s.badLink(w, r, err)
		return
	}
	tr := s.text[s.subscriberLocale(r, id)]
	err = s.d.Subscriptions.Confirm(r.Context(), id, origin(r, "link"))
	if errors.Is(err, store.ErrNotFound) {
		s.badLink(w, r, token.ErrInvalid)
		return
	}
	if err != nil {
		s.internalError(w, r, tr.locale, err)
		return
	}
	s.message(w, http.StatusOK, tr.locale, messagePage{
		Title:      tr.get("confirmed.title"),
		Paragraphs: []string{tr.get("confirmed.body")},
	})
}

// --- unsubscribe ---

func (s *Server) unsubscribePage(w http.ResponseWriter, r *http.Request) {
	id, err := s.d.Signer.Verify(token.Unsubscribe, r.PathValue("token"), s.d.Now())
	if err != nil {
		s.badLink(w, r, err)
		return
	}
	tr := s.text[s.subscriberLocale(r, id)]
	s.message(w, http.StatusOK, tr.locale, messagePage{
		Title:      tr.get("unsubscribe.title"),
		Paragraphs: []string{tr.get("unsubscribe.body")},
		Action:     r.URL.Path, Button: tr.get("unsubscribe.button"),
	})
}

// unsubscribe serves both the page's button and the RFC 8058 one-click POST
// (body "List-Unsubscribe=One-Click"); both stop everything.
func (s *Server) unsubscribe(w http.ResponseWriter, r *http.Request) {
	id, err := s.d.Signer.Verify(token.Unsubscribe, r.PathValue("token"), s.d.Now())
	if err != nil {
		s.badLink(w, r, err)
		return
	}
	r.Body = http.MaxBytesReader(w, r.Body, 4<<10)
	_ = r.ParseForm() // the body only tells a one-click POST from a button
	source := "link"
	if r.PostForm.Get("List-Unsubscribe") == "One-Click" {
		source = "one-click"
	}
	sub, locale := s.linkSubscriber(r, id)
	tr := s.text[locale]
	err = s.d.Subscriptions.Unsubscribe(r.Context(), id, origin(r, source))
	if err != nil && !errors.Is(err, store.ErrNotFound) {
		s.internalError(w, r, tr.locale, err)
		return
	}
	body := tr.get("unsubscribed.body")
	if sub.Clinic != "" {
		// A clinic's client is not pointed to the public signup: what
		// stopped is what their clinic arranged.
		name, err := s.arrangedWith(r, tr, sub)
		if err != nil {
			s.internalError(w, r, tr.locale, err)
			return
		}
		body = tr.get("manage.client.unsubscribed", name)
	}
	s.message(w, http.StatusOK, tr.locale, messagePage{
		Title:      tr.get("unsubscribed.title"),
		Paragraphs: []string{body},
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
		s.internalError(w, r, english, err)
		return
	}
	// A development page: English only.
	s.render(w, http.StatusOK, english, "outbox", struct {
		Entries  []outbox.Entry
		Capacity int
	}{entries, outbox.Capacity})
}

// SecurityHeaders wraps h in the headers every page of ours carries (the
// clinic console's pages too).
func SecurityHeaders(h http.Handler) http.Handler { return securityHeaders(h) }

// RequestLocale is the page locale of a request not tied to a subscriber:
// ?lang=, else Accept-Language, else English.
func RequestLocale(r *http.Request) string { return requestLocale(r) }
