// Package clinic is what a clinic can do, whatever the door (the JSON API,
// the operator's CLI): create a clinic and its API keys, enrol clients,
// set their sessions, plan between-session prompts, and read back what was
// sent and what the client replied.
//
// A clinic is a tenant. Every call names the clinic it acts for, and a
// client, prompt or key of another clinic is "not found", exactly like one
// that does not exist. A client is a subscriber record of its own, never
// shared with the public list or another clinic: the same person can be
// both, with separate consent, schedules and unsubscribes.
//
// # Prompts and sessions
//
// A prompt's rule places it at a fixed instant ("at:2026-12-03T18:00:00Z")
// or relative to a session ("session+2d@18:00", "session-1d@19:00",
// "session+2h"). A session-relative prompt is planned once for every
// session the client has: setting a next session plans the prompts of the
// days after it and of the evening before it. Setting a next session while
// another is still ahead moves it (the old one's prompts are dropped); a
// session in the past is kept as a past session (the newest few are kept).
// For a client who gets texts, an instant outside the SMS window is moved to
// the window's next opening.
//
// # Limits that protect clients
//
// At send time a prompt passes a frequency cap per client: by default at
// most one in a local day and three in any seven days; a clinic may set
// lower caps or up to double the defaults. One that does not pass is
// recorded as skipped ("frequency cap"). A clinic's own text has control
// characters removed and must fit in two SMS segments with the display name
// and opt-out words.
package clinic

import (
	"context"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base32"
	"encoding/hex"
	"errors"
	"fmt"
	"log/slog"
	"net/mail"
	"slices"
	"strings"
	"time"
	"unicode"
	"unicode/utf8"

	"github.com/hibiken/asynq"
	"github.com/nudgehq/nudge/internal/domain"
	"github.com/nudgehq/nudge/internal/notify"
	"github.com/nudgehq/nudge/internal/phone"
	"github.com/nudgehq/nudge/internal/render"
	"github.com/nudgehq/nudge/internal/store"
	"github.com/nudgehq/nudge/internal/task"
	"github.com/nudgehq/nudge/scheduler"
	"github.com/nudgehq/nudge/templates"
)

// Enqueuer is the part of asynq.Client the service uses.
type Enqueuer interface {
	EnqueueContext(ctx context.Context, t *asynq.Task, opts ...asynq.Option) (*asynq.TaskInfo, error)
}

// Eraser deletes a subscriber and everything queued for them.
type Eraser interface {
	EraseSubscriber(ctx context.Context, id string) error
}

// Config is what a Service needs.
type Config struct {
	Store   *store.Store
	Enqueue Enqueuer
	Erase   Eraser
	Library *templates.Library
	// Phones reads mobile numbers; nil when no SMS channel is configured
	// (then clients can only be enrolled by email).
	Phones *phone.Normaliser
	// SMSWindow is where texts may go out, in the client's local time.
	SMSWindow scheduler.Window
	// ServiceName is how a text signs itself when a clinic has no display name.
	ServiceName string
	// Webhooks says which webhook URLs a clinic may set; the zero Guard has
	// the production rules (https, no credentials, no inside addresses).
	Webhooks notify.Guard
	Now      func() time.Time
	Logger   *slog.Logger
}

// Service carries out what clinics and operators ask for.
type Service struct{ c Config }

// New returns a Service.
func New(c Config) *Service { return &Service{c: c} }

// FieldError is bad input in one field. It matches domain.ErrInvalid's code
// through ErrorCode.
type FieldError struct {
	Field   string
	Message string
}

func (e *FieldError) Error() string { return e.Field + ": " + e.Message }

// Unwrap lets domain.ErrorCode find the "invalid" code.
func (e *FieldError) Unwrap() error {
	return &domain.Error{Code: domain.ErrInvalid, Message: e.Field + ": " + e.Message}
}

func fieldErr(field, format string, args ...any) error {
	return &FieldError{Field: field, Message: fmt.Sprintf(format, args...)}
}

// ErrUnauthorized is returned for a missing, unknown or revoked API key.
var ErrUnauthorized = &domain.Error{Code: domain.ErrUnauthorized, Message: "a valid API key is needed: send it as Authorization: Bearer <key>"}

// Limits on what a clinic writes.
const (
	MaxNameLen          = 100
	MaxDisplayNameLen   = 40
	MaxSignOffLen       = 60
	MaxHelpTextLen      = 60
	MaxCrisisTextLen    = 100
	MaxFirstNameLen     = 40
	MaxAttestationLen   = 100
	MaxPromptsPerClient = 20
)

// ---- clinics and keys ----

// NewClinic is what creating a clinic takes.
type NewClinic struct {
	Name, DisplayName, SignOff, WebhookURL string
	// HelpText is the clinic's contact line for the answer to HELP
	// ("Questions? Call 555 0100."): GSM-7, at most MaxHelpTextLen.
	HelpText string
	// CrisisText is the clinic's own crisis line, added to the crisis
	// resources its clients are given ("Out of hours: 555 0199."): GSM-7,
	// at most MaxCrisisTextLen.
	CrisisText      string
	CapDay, CapWeek int // 0: the default
}

// Created is a new clinic with its first API key and its webhook secret,
// both shown this once: only a hash of the key is kept.
type Created struct {
	Clinic        domain.Clinic
	KeyID, APIKey string
	WebhookSecret string
}

// CreateClinic creates a clinic and its first API key.
func (s *Service) CreateClinic(ctx context.Context, in NewClinic) (Created, error) {
	in.Name = strings.TrimSpace(in.Name)
	in.DisplayName = cleanLine(in.DisplayName)
	in.SignOff = cleanLine(in.SignOff)
	in.HelpText = cleanLine(strings.Join(strings.Fields(in.HelpText), " "))
	in.CrisisText = cleanLine(strings.Join(strings.Fields(in.CrisisText), " "))
	for _, f := range []struct{ name, value string }{{"help_text", in.HelpText}, {"crisis_text", in.CrisisText}} {
		if _, gsm := render.GSM7Segments(f.value); !gsm {
			return Created{}, fieldErr(f.name, "use only characters a plain text message can carry (no emoji or accents such as á)")
		}
	}
	switch {
	case utf8.RuneCountInString(in.CrisisText) > MaxCrisisTextLen:
		return Created{}, fieldErr("crisis_text", "at most %d characters", MaxCrisisTextLen)
	case utf8.RuneCountInString(in.HelpText) > MaxHelpTextLen:
		return Created{}, fieldErr("help_text", "at most %d characters", MaxHelpTextLen)
	case in.Name == "":
		return Created{}, fieldErr("name", "a name is needed")
	case utf8.RuneCountInString(in.Name) > MaxNameLen:
		return Created{}, fieldErr("name", "at most %d characters", MaxNameLen)
	case utf8.RuneCountInString(in.DisplayName) > MaxDisplayNameLen:
		return Created{}, fieldErr("display_name", "at most %d characters", MaxDisplayNameLen)
	case utf8.RuneCountInString(in.SignOff) > MaxSignOffLen:
		return Created{}, fieldErr("sign_off", "at most %d characters", MaxSignOffLen)
	}
	if in.DisplayName == "" {
		in.DisplayName = s.c.ServiceName
	}
	if in.SignOff == "" {
		in.SignOff = "Your care team"
	}
	in.WebhookURL = strings.TrimSpace(in.WebhookURL)
	if in.WebhookURL != "" {
		if err := s.checkWebhookURL("webhook_url", in.WebhookURL); err != nil {
			return Created{}, err
		}
	}
	capDay, capWeek, err := caps(in.CapDay, in.CapWeek)
	if err != nil {
		return Created{}, err
	}
	c := domain.Clinic{
		ID: "c" + store.NewID()[:12], Name: in.Name, DisplayName: in.DisplayName, SignOff: in.SignOff, HelpText: in.HelpText, CrisisText: in.CrisisText,
		WebhookURL: in.WebhookURL, CapDay: capDay, CapWeek: capWeek, CreatedAt: s.c.Now().UTC(),
	}
	secret := newWebhookSecret()
	if err := s.c.Store.CreateClinic(ctx, c, secret); err != nil {
		return Created{}, err
	}
	keyID, key, err := s.AddKey(ctx, c.ID)
	if err != nil {
		return Created{}, err
	}
	s.c.Logger.Info("clinic created", "clinic_id", c.ID)
	return Created{Clinic: c, KeyID: keyID, APIKey: key, WebhookSecret: secret}, nil
}

func newWebhookSecret() string { return "whsec_" + randomText(32) }

// checkWebhookURL refuses a URL the webhook guard would not call, as bad
// input in field.
func (s *Service) checkWebhookURL(field, raw string) error {
	err := s.c.Webhooks.CheckURL(raw)
	var re *notify.RefusedError
	if errors.As(err, &re) {
		msg := re.Reason
		if re.Detail != "" {
			msg += ": " + re.Detail
		}
		return fieldErr(field, "%s", msg)
	}
	return err
}

// Webhook is a clinic's webhook as SetWebhook leaves it. Secret is set only
// when a new one was made (the clinic had no webhook before): it is shown
// this once.
type Webhook struct {
	URL    string
	Secret string
}

// SetWebhook sets the URL a clinic's events are posted to; "" turns them
// off. Turning webhooks on makes a new signing secret (the one made with
// the clinic may never have been shown); changing the URL keeps the secret.
func (s *Service) SetWebhook(ctx context.Context, cid, rawURL string) (Webhook, error) {
	rawURL = strings.TrimSpace(rawURL)
	if rawURL != "" {
		if err := s.checkWebhookURL("url", rawURL); err != nil {
			return Webhook{}, err
		}
	}
	c, err := s.c.Store.Clinic(ctx, cid)
	if err != nil {
		return Webhook{}, err
	}
	out := Webhook{URL: rawURL}
	if c.WebhookURL == "" && rawURL != "" {
		out.Secret = newWebhookSecret()
	}
	if err := s.c.Store.SetClinicWebhook(ctx, cid, rawURL, out.Secret); err != nil {
		return Webhook{}, err
	}
	s.c.Logger.Info("clinic webhook set", "clinic_id", cid, "on", rawURL != "", "new_secret", out.Secret != "")
	return out, nil
}

// caps checks a clinic's frequency caps (0 means the default).
func caps(day, week int) (int, int, error) {
	if day == 0 {
		day = domain.DefaultCapDay
	}
	if week == 0 {
		week = domain.DefaultCapWeek
	}
	switch {
	case day < 0 || day > domain.MaxCapDay:
		return 0, 0, fieldErr("cap_day", "between 1 and %d prompts a day", domain.MaxCapDay)
	case week < 0 || week > domain.MaxCapWeek:
		return 0, 0, fieldErr("cap_week", "between 1 and %d prompts a week", domain.MaxCapWeek)
	case day > week:
		return 0, 0, fieldErr("cap_day", "cannot be more than the weekly cap (%d)", week)
	}
	return day, week, nil
}

// Clinics lists every clinic (an operator's view).
func (s *Service) Clinics(ctx context.Context) ([]domain.Clinic, error) {
	return s.c.Store.Clinics(ctx)
}

// Keys lists a clinic's API keys (ids and dates only).
func (s *Service) Keys(ctx context.Context, cid string) ([]store.APIKey, error) {
	if _, err := s.c.Store.Clinic(ctx, cid); err != nil {
		return nil, err
	}
	return s.c.Store.APIKeys(ctx, cid)
}

// keyPrefix starts every API key, so a leaked one is easy to recognise.
const keyPrefix = "nk_"

// AddKey makes a new API key for a clinic and returns its id and the key,
// which is shown this once.
func (s *Service) AddKey(ctx context.Context, cid string) (keyID, key string, err error) {
	keyID = randomText(8)
	key = keyPrefix + keyID + "_" + randomText(32)
	if err := s.c.Store.AddAPIKey(ctx, cid, keyID, KeyHash(key), s.c.Now()); err != nil {
		return "", "", err
	}
	s.c.Logger.Info("api key added", "clinic_id", cid, "key_id", keyID)
	return keyID, key, nil
}

// RevokeKey stops a key from working at once.
func (s *Service) RevokeKey(ctx context.Context, cid, keyID string) error {
	if err := s.c.Store.RevokeAPIKey(ctx, cid, keyID, s.c.Now()); err != nil {
		return err
	}
	s.c.Logger.Info("api key revoked", "clinic_id", cid, "key_id", keyID)
	return nil
}

// KeyHash is the stored form of an API key.
func KeyHash(key string) string {
	sum := sha256.Sum256([]byte(key))
	return hex.EncodeToString(sum[:])
}

// Authenticate returns the clinic an API key belongs to, or ErrUnauthorized.
func (s *Service) Authenticate(ctx context.Context, key string) (domain.Clinic, string, error) {
	if !strings.HasPrefix(key, keyPrefix) || len(key) > 100 {
		return domain.Clinic{}, "", ErrUnauthorized
	}
	cid, keyID, err := s.c.Store.ClinicByKeyHash(ctx, KeyHash(key))
	if errors.Is(err, store.ErrNotFound) {
		return domain.Clinic{}, "", ErrUnauthorized
	}
	if err != nil {
		return domain.Clinic{}, "", err
	}
	c, err := s.c.Store.Clinic(ctx, cid)
	if errors.Is(err, store.ErrNotFound) {
		return domain.Clinic{}, "", ErrUnauthorized
	}
	return c, keyID, err
}

// Clinic loads one clinic.
func (s *Service) Clinic(ctx context.Context, cid string) (domain.Clinic, error) {
	return s.c.Store.Clinic(ctx, cid)
}

func randomText(n int) string {
	b := make([]byte, (n*5+7)/8)
	if _, err := rand.Read(b); err != nil {
		panic(fmt.Sprintf("crypto/rand failed: %v", err)) // the OS has no entropy: nothing sensible to do
	}
	return strings.ToLower(base32.StdEncoding.WithPadding(base32.NoPadding).EncodeToString(b))[:n]
}

// cleanLine trims s and removes control characters (a line break included).
func cleanLine(s string) string {
	return strings.TrimSpace(strings.Map(func(r rune) rune {
		if invisible(r) {
			return -1
		}
		return r
	}, s))
}

// invisible reports a character that is removed from what a clinic writes
// before it is stored: controls, and format characters such as the
// bidirectional overrides (U+202A–U+202E, U+2066–U+2069) and zero-width
// marks, which can make a text read differently from what it says.
func invisible(r rune) bool {
	return unicode.IsControl(r) || unicode.Is(unicode.Cf, r)
}

// ---- clients ----

// Attestation is the clinic's record of the client's consent: who obtained
// it, when and how.
type Attestation struct {
	By     string
	At     time.Time
	Method string // written, verbal, electronic
}

// Attestation methods.
var attestationMethods = []string{"written", "verbal", "electronic"}

// Enrolment is what enrolling a client takes.
type Enrolment struct {
	FirstName string
	// Goal is who the client would like to be closer to, in their words;
	// optional, at most domain.GoalMaxLen characters. Library prompts may
	// use it.
	Goal     string
	Email    string
	Phone    string
	TimeZone string
	Locale   string
	Channels []domain.Channel // empty: email if there is an address, else SMS
	Consent  Attestation
}

// ConsentWording names what a clinic attests to when it enrols a client.
const ConsentWording = "clinic-attestation-2026-11"

// Enrol records a pending client and sends the confirmation (an email link,
// a text asking to reply YES, or both). Nothing else is sent until the
// client confirms.
func (s *Service) Enrol(ctx context.Context, cid string, in Enrolment) (domain.Subscriber, error) {
	now := s.c.Now().UTC()
	sub, err := s.checkEnrolment(in, now)
	if err != nil {
		return domain.Subscriber{}, err
	}
	if _, err := s.c.Store.Clinic(ctx, cid); err != nil {
		return domain.Subscriber{}, err
	}
	sub.ID, sub.Clinic, sub.CreatedAt, sub.Status = store.NewID(), cid, now, domain.Pending
	ev := store.ConsentEvent{
		At: now, Action: store.ConsentSignup, Channel: channelsText(sub.Channels), Source: "clinic",
		Wording: ConsentWording,
		Detail: fmt.Sprintf("attested by %s (%s) at %s", in.Consent.By, in.Consent.Method,
			in.Consent.At.UTC().Format(time.RFC3339)),
	}
	if err := s.c.Store.EnrolClient(ctx, sub, ev); err != nil {
		return domain.Subscriber{}, err
	}
	nonce := "enrol"
	if sub.Email != "" {
		t, err := task.NewSendConfirmation(task.SendConfirmation{SubscriberID: sub.ID, Nonce: nonce})
		if err != nil {
			return domain.Subscriber{}, err
		}
		if err := s.enqueue(ctx, t); err != nil {
			return domain.Subscriber{}, err
		}
	}
	if sub.SMSStatus == domain.SMSPending {
		t, err := task.NewSendSMSConfirm(task.SendConfirmation{SubscriberID: sub.ID, Nonce: nonce})
		if err != nil {
			return domain.Subscriber{}, err
		}
		if err := s.enqueue(ctx, t); err != nil {
			return domain.Subscriber{}, err
		}
	}
	s.c.Logger.Info("client enrolled", "clinic_id", cid, "client_id", sub.ID)
	return s.c.Store.Client(ctx, cid, sub.ID)
}

func channelsText(cs []domain.Channel) string {
	parts := make([]string, len(cs))
	for i, c := range cs {
		parts[i] = string(c)
	}
	return strings.Join(parts, ",")
}

func (s *Service) checkEnrolment(in Enrolment, now time.Time) (domain.Subscriber, error) {
	sub := domain.Subscriber{FirstName: cleanLine(in.FirstName), TimeZone: strings.TrimSpace(in.TimeZone)}
	switch {
	case sub.FirstName == "":
		return sub, fieldErr("first_name", "a first name is needed")
	case utf8.RuneCountInString(sub.FirstName) > MaxFirstNameLen:
		return sub, fieldErr("first_name", "at most %d characters", MaxFirstNameLen)
	}
	if sub.Goal = cleanLine(in.Goal); utf8.RuneCountInString(sub.Goal) > domain.GoalMaxLen {
		return sub, fieldErr("goal", "at most %d characters", domain.GoalMaxLen)
	}
	if e := strings.TrimSpace(in.Email); e != "" {
		a, err := mail.ParseAddress(e)
		if err != nil || a.Address != e || !strings.Contains(e[strings.LastIndex(e, "@")+1:], ".") || len(e) > 254 {
			return sub, fieldErr("email", "not an email address (want name@example.org)")
		}
		sub.Email = store.NormaliseEmail(e)
	}
	if p := strings.TrimSpace(in.Phone); p != "" {
		if s.c.Phones == nil {
			return sub, fieldErr("phone", "this service sends no texts: enrol the client by email")
		}
		n, err := s.c.Phones.Normalise(p)
		if err != nil {
			return sub, fieldErr("phone", "%v (want a mobile number in international form: + and the country code)", err)
		}
		sub.Phone = n
	}
	if sub.Email == "" && sub.Phone == "" {
		return sub, fieldErr("email", "an email address or a mobile number is needed")
	}
	if _, err := scheduler.LoadZone(sub.TimeZone); err != nil {
		return sub, fieldErr("time_zone", "%v", err)
	}
	sub.Locale = strings.ToLower(strings.TrimSpace(in.Locale))
	if sub.Locale == "" {
		sub.Locale = "en"
	}
	if s.c.Library.Match(sub.Locale) != sub.Locale {
		return sub, fieldErr("locale", "not offered: want one of %s", strings.Join(s.c.Library.Locales(), ", "))
	}
	chans := in.Channels
	if len(chans) == 0 {
		if sub.Email != "" {
			chans = []domain.Channel{domain.Email}
		} else {
			chans = []domain.Channel{domain.SMS}
		}
	}
	seen := map[domain.Channel]bool{}
	for _, c := range chans {
		switch {
		case seen[c]:
			return sub, fieldErr("channels", "%q twice", c)
		case c == domain.Email && sub.Email == "":
			return sub, fieldErr("channels", "email needs an email address")
		case c == domain.SMS && sub.Phone == "":
			return sub, fieldErr("channels", "sms needs a mobile number")
		case c != domain.Email && c != domain.SMS:
			return sub, fieldErr("channels", "%q unknown: want email or sms", c)
		}
		seen[c] = true
		sub.Channels = append(sub.Channels, c)
	}
	if sub.Phone != "" {
		sub.SMSStatus = domain.SMSPending
	}
	a := in.Consent
	a.By, a.Method = cleanLine(a.By), strings.ToLower(strings.TrimSpace(a.Method))
	switch {
	case a.By == "":
		return sub, fieldErr("consent.obtained_by", "say who obtained the client's consent")
	case utf8.RuneCountInString(a.By) > MaxAttestationLen:
		return sub, fieldErr("consent.obtained_by", "at most %d characters", MaxAttestationLen)
	case a.At.IsZero():
		return sub, fieldErr("consent.obtained_at", "say when consent was obtained (RFC 3339)")
	case a.At.After(now.Add(5 * time.Minute)):
		return sub, fieldErr("consent.obtained_at", "is in the future")
	case a.At.Before(now.AddDate(-2, 0, 0)):
		return sub, fieldErr("consent.obtained_at", "is more than two years ago: obtain consent again")
	case !slices.Contains(attestationMethods, a.Method):
		return sub, fieldErr("consent.method", "want one of %s", strings.Join(attestationMethods, ", "))
	}
	return sub, nil
}

// Client loads one of the clinic's clients.
func (s *Service) Client(ctx context.Context, cid, id string) (domain.Subscriber, error) {
	return s.c.Store.Client(ctx, cid, id)
}

// ClientView is a client with its session and prompt state.
type ClientView struct {
	domain.Subscriber
	NextSession time.Time // zero when none is set
}

// View loads a client with its next session.
func (s *Service) View(ctx context.Context, cid, id string) (ClientView, error) {
	st, err := s.c.Store.PromptStateOf(ctx, cid, id)
	if err != nil {
		return ClientView{}, err
	}
	return ClientView{Subscriber: st.Client, NextSession: st.NextSession(s.c.Now())}, nil
}

// Page is one page of a list: Next is the cursor of the following page,
// "" on the last.
type Page[T any] struct {
	Items []T
	Next  string
}

// MaxPage is the most items one page holds.
const MaxPage = 100

func pageLimit(limit int) int {
	if limit <= 0 || limit > MaxPage {
		return 50
	}
	return limit
}

// Clients lists the clinic's clients, a page at a time, in id order.
func (s *Service) Clients(ctx context.Context, cid, cursor string, limit int) (Page[ClientView], error) {
	ids, more, err := s.c.Store.ClientIDs(ctx, cid, cursor, pageLimit(limit))
	if err != nil {
		return Page[ClientView]{}, err
	}
	var out Page[ClientView]
	for _, id := range ids {
		v, err := s.View(ctx, cid, id)
		if errors.Is(err, store.ErrNotFound) {
			continue // erased between the listing and the read
		}
		if err != nil {
			return Page[ClientView]{}, err
		}
		out.Items = append(out.Items, v)
	}
	if more && len(ids) > 0 {
		out.Next = ids[len(ids)-1]
	}
	return out, nil
}

// Pause holds back every prompt to a client until an instant.
func (s *Service) Pause(ctx context.Context, cid, id string, until time.Time) (ClientView, error) {
	now := s.c.Now()
	if _, err := s.c.Store.Client(ctx, cid, id); err != nil {
		return ClientView{}, err
	}
	if !until.After(now) {
		return ClientView{}, fieldErr("until", "must be in the future")
	}
	if until.After(now.AddDate(1, 0, 0)) {
		return ClientView{}, fieldErr("until", "at most a year ahead")
	}
	ev := store.ConsentEvent{At: now, Action: store.ConsentPause, Source: "clinic", Detail: "until " + until.UTC().Format(time.RFC3339)}
	if err := s.c.Store.Pause(ctx, id, until, ev); err != nil {
		return ClientView{}, err
	}
	return s.View(ctx, cid, id)
}

// Resume lifts a client's pause.
func (s *Service) Resume(ctx context.Context, cid, id string) (ClientView, error) {
	if _, err := s.c.Store.Client(ctx, cid, id); err != nil {
		return ClientView{}, err
	}
	ev := store.ConsentEvent{At: s.c.Now(), Action: store.ConsentPause, Source: "clinic", Detail: "resumed"}
	if err := s.c.Store.Pause(ctx, id, time.Time{}, ev); err != nil {
		return ClientView{}, err
	}
	return s.View(ctx, cid, id)
}

// Remove erases a client and everything queued for them.
func (s *Service) Remove(ctx context.Context, cid, id string) error {
	if _, err := s.c.Store.Client(ctx, cid, id); err != nil {
		return err
	}
	if err := s.c.Erase.EraseSubscriber(ctx, id); err != nil {
		return err
	}
	s.c.Logger.Info("client removed", "clinic_id", cid, "client_id", id)
	return nil
}

// ---- sessions and prompts ----

// SetSession records a session. One in the future becomes the next session
// (replacing any other still ahead: the session moved); one in the past is
// kept as a past session. The prompts are planned again at once.
func (s *Service) SetSession(ctx context.Context, cid, id string, at time.Time) (ClientView, error) {
	now := s.c.Now()
	if at.IsZero() {
		return ClientView{}, fieldErr("at", "a session instant is needed (RFC 3339)")
	}
	if at.Before(now.AddDate(0, 0, -90)) || at.After(now.AddDate(1, 0, 0)) {
		return ClientView{}, fieldErr("at", "must be within 90 days back and a year ahead")
	}
	at = at.UTC().Truncate(time.Second)
	st, err := s.c.Store.UpdatePrompts(ctx, cid, id, now, func(st *store.PromptState) error {
		if at.After(now) {
			kept := st.Sessions[:0]
			for _, t := range st.Sessions {
				if !t.After(now) {
					kept = append(kept, t)
				}
			}
			st.Sessions = kept
		}
		st.Sessions = append(st.Sessions, at)
		return nil
	}, s.plan(now))
	if err != nil {
		return ClientView{}, err
	}
	return ClientView{Subscriber: st.Client, NextSession: st.NextSession(now)}, nil
}

// NewPrompt is what adding a prompt takes: a rule and either a library
// message (Template, 1-based) or the clinic's own Text.
type NewPrompt struct {
	Rule     string
	Template int
	Text     string
}

// PromptView is a prompt with its next planned instant (zero if none ahead).
type PromptView struct {
	domain.Prompt
	Next time.Time
}

// AddPrompt adds a prompt for a client and plans it.
func (s *Service) AddPrompt(ctx context.Context, cid, id string, in NewPrompt) (PromptView, error) {
	now := s.c.Now()
	rule, err := scheduler.ParsePromptRule(in.Rule)
	if err != nil {
		return PromptView{}, fieldErr("rule", "%v", err)
	}
	client, err := s.c.Store.Client(ctx, cid, id)
	if err != nil {
		return PromptView{}, err
	}
	p := domain.Prompt{ID: "p" + randomText(9), ClientID: id, Rule: rule.String(), CreatedAt: now.UTC()}
	if err := s.checkPromptContent(ctx, cid, client, in, &p); err != nil {
		return PromptView{}, err
	}
	if abs, ok := rule.(scheduler.AbsoluteRule); ok && !abs.Instant.After(now) {
		return PromptView{}, fieldErr("rule", "the instant has passed")
	}
	if abs, ok := rule.(scheduler.AbsoluteRule); ok && abs.Instant.After(now.AddDate(1, 0, 0)) {
		return PromptView{}, fieldErr("rule", "at most a year ahead")
	}
	st, err := s.c.Store.UpdatePrompts(ctx, cid, id, now, func(st *store.PromptState) error {
		if len(st.Prompts) >= MaxPromptsPerClient {
			return fieldErr("rule", "a client has at most %d prompts: remove one first", MaxPromptsPerClient)
		}
		st.Prompts = append(st.Prompts, p)
		return nil
	}, s.plan(now))
	if err != nil {
		return PromptView{}, err
	}
	return s.viewPrompt(st, p, now), nil
}

// checkPromptContent fills p's message from in: a library message by
// number, or the clinic's own text, cleaned and length-checked.
func (s *Service) checkPromptContent(ctx context.Context, cid string, client domain.Subscriber, in NewPrompt, p *domain.Prompt) error {
	text := strings.TrimSpace(strings.Map(func(r rune) rune {
		if r == '\n' || r == '\t' {
			return ' '
		}
		if invisible(r) {
			return -1
		}
		return r
	}, in.Text))
	switch {
	case in.Template != 0 && text != "":
		return fieldErr("text", "give a template number or a text, not both")
	case in.Template != 0:
		n := len(s.c.Library.Series(domain.BetweenSession, client.Locale))
		if in.Template < 1 || in.Template > n {
			return fieldErr("template", "want a number from 1 to %d (the between-session library)", n)
		}
		p.Template = in.Template
		return nil
	case text == "":
		return fieldErr("text", "give a template number or a text")
	}
	clinic, err := s.c.Store.Clinic(ctx, cid)
	if err != nil {
		return err
	}
	// The text as a client's phone would show it: the display name first,
	// the opt-out words after.
	full := clinic.DisplayName + ": " + text + " " + render.SMSOptOut(client.Locale)
	if n, _ := render.GSM7Segments(full); n > render.MaxSMSSegments {
		return fieldErr("text", "too long for a text message: %d segments with the display name and opt-out words, at most %d (about %d characters of plain text)",
			n, render.MaxSMSSegments, 306-utf8.RuneCountInString(full)+utf8.RuneCountInString(text))
	}
	p.Text = text
	return nil
}

// Prompts lists a client's prompts with their next instants.
func (s *Service) Prompts(ctx context.Context, cid, id string) ([]PromptView, error) {
	st, err := s.c.Store.PromptStateOf(ctx, cid, id)
	if err != nil {
		return nil, err
	}
	now := s.c.Now()
	out := make([]PromptView, 0, len(st.Prompts))
	for _, p := range st.Prompts {
		out = append(out, s.viewPrompt(st, p, now))
	}
	return out, nil
}

// RemovePrompt removes a prompt; what was queued for it is not sent.
func (s *Service) RemovePrompt(ctx context.Context, cid, id, promptID string) error {
	now := s.c.Now()
	_, err := s.c.Store.UpdatePrompts(ctx, cid, id, now, func(st *store.PromptState) error {
		for i, p := range st.Prompts {
			if p.ID == promptID {
				st.Prompts = append(st.Prompts[:i], st.Prompts[i+1:]...)
				return nil
			}
		}
		return fmt.Errorf("remove prompt %s: %w", promptID, store.ErrNotFound)
	}, s.plan(now))
	return err
}

func (s *Service) viewPrompt(st store.PromptState, p domain.Prompt, now time.Time) PromptView {
	v := PromptView{Prompt: p}
	occs, err := s.plan(now)(store.PromptState{Client: st.Client, Sessions: st.Sessions, Prompts: []domain.Prompt{p}})
	if err != nil {
		return v
	}
	for _, o := range occs {
		if o.At.After(now) && (v.Next.IsZero() || o.At.Before(v.Next)) {
			v.Next = o.At
		}
	}
	return v
}

// plan returns the planning function for a client's prompt state: every
// prompt at its fixed instant, every session-relative prompt once per
// session, texts moved into the SMS window.
func (s *Service) plan(now time.Time) func(store.PromptState) ([]store.PromptOccurrence, error) {
	return func(st store.PromptState) ([]store.PromptOccurrence, error) {
		if st.Client.Status == domain.Discharged {
			return nil, nil // nothing is planned for a discharged client
		}
		loc, err := scheduler.LoadZone(st.Client.TimeZone)
		if err != nil {
			return nil, fmt.Errorf("plan prompts of %s: %w", st.Client.ID, err)
		}
		texts := st.Client.Phone != "" && (len(st.Client.Channels) == 0 && st.Client.Email == "" || slices.Contains(st.Client.Channels, domain.SMS))
		var out []store.PromptOccurrence
		add := func(p domain.Prompt, session int64, at time.Time) {
			if texts {
				at = s.c.SMSWindow.Defer(at, loc)
			}
			out = append(out, store.PromptOccurrence{ClientID: st.Client.ID, PromptID: p.ID, Session: session, At: at.UTC()})
		}
		for _, p := range st.Prompts {
			rule, err := scheduler.ParsePromptRule(p.Rule)
			if err != nil {
				s.c.Logger.Error("prompt rule unreadable", "client_id", st.Client.ID, "prompt_id", p.ID, "err", err)
				continue
			}
			if abs, ok := rule.(scheduler.AbsoluteRule); ok {
				add(p, 0, abs.Instant)
				continue
			}
			for _, sess := range st.Sessions {
				at := rule.At(sess, loc)
				// A prompt planned before it was written is not sent late.
				if at.Before(p.CreatedAt) {
					continue
				}
				add(p, sess.Unix(), at)
			}
		}
		return out, nil
	}
}

// ---- what was sent, what came back ----

// Deliveries lists a client's delivery records, newest first, a page at a
// time.
func (s *Service) Deliveries(ctx context.Context, cid, id, cursor string, limit int) (Page[store.DeliveryRecord], error) {
	if _, err := s.c.Store.Client(ctx, cid, id); err != nil {
		return Page[store.DeliveryRecord]{}, err
	}
	recs, next, err := s.c.Store.ClientDeliveries(ctx, id, cursor, pageLimit(limit))
	if err != nil {
		return Page[store.DeliveryRecord]{}, err
	}
	return Page[store.DeliveryRecord]{Items: recs, Next: next}, nil
}

// Replies lists a client's replies, newest first, a page at a time.
func (s *Service) Replies(ctx context.Context, cid, id, cursor string, limit int) (Page[store.Reply], error) {
	if _, err := s.c.Store.Client(ctx, cid, id); err != nil {
		return Page[store.Reply]{}, err
	}
	all, err := s.c.Store.Replies(ctx, id)
	if err != nil {
		return Page[store.Reply]{}, err
	}
	start := 0
	if cursor != "" {
		if _, err := fmt.Sscanf(cursor, "%d", &start); err != nil || start < 0 {
			return Page[store.Reply]{}, fieldErr("cursor", "not a cursor this list gave")
		}
	}
	limit = pageLimit(limit)
	var out Page[store.Reply]
	for i := len(all) - 1 - start; i >= 0 && len(out.Items) < limit; i-- {
		out.Items = append(out.Items, all[i])
	}
	if start+len(out.Items) < len(all) {
		out.Next = fmt.Sprint(start + len(out.Items))
	}
	return out, nil
}

func (s *Service) enqueue(ctx context.Context, t *asynq.Task) error {
	_, err := s.c.Enqueue.EnqueueContext(ctx, t)
	if err != nil && !errors.Is(err, asynq.ErrTaskIDConflict) {
		return fmt.Errorf("enqueue %s: %w", t.Type(), err)
	}
	return nil
}
