package web_test

import (
	"context"
	"errors"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/hibiken/asynq"
	"github.com/nudgehq/nudge/internal/domain"
	"github.com/nudgehq/nudge/internal/phone"
	"github.com/nudgehq/nudge/internal/redistest"
	"github.com/nudgehq/nudge/internal/signuplimit"
	"github.com/nudgehq/nudge/internal/store"
	"github.com/nudgehq/nudge/internal/subscription"
	"github.com/nudgehq/nudge/internal/token"
	"github.com/nudgehq/nudge/internal/web"
	"github.com/nudgehq/nudge/internal/zones"
	"github.com/nudgehq/nudge/scheduler"
)

func TestMain(m *testing.M) { redistest.Main(m, redistest.DBWeb) }

type bundle struct {
	srv    *httptest.Server
	st     *store.Store
	signer *token.Signer
	now    time.Time
	ready  error
}

func setup(t *testing.T) *bundle {
	t.Helper()
	t.Parallel()
	rdb := redistest.Client(t, redistest.DBWeb)
	b := &bundle{st: store.New(rdb, redistest.Prefix(t)), signer: token.NewSigner([]byte("a-web-test-secret-of-enough-length!")),
		now: time.Date(2026, 11, 30, 9, 0, 0, 0, time.UTC)}
	now := func() time.Time { return b.now }
	logger := slog.New(slog.NewTextHandler(io.Discard, nil))
	s, err := web.New(web.Deps{
		Subscriptions: subscription.New(b.st, asynq.NewClientFromRedisClient(rdb), now, logger),
		Store:         b.st, Signer: b.signer, Zones: zones.Names(), DefaultZone: "UTC",
		Phones: phone.New("US", []string{"US", "GB", "ES", "MX"}), SMSWindow: scheduler.DefaultSMSWindow,
		Ready: func(context.Context) error { return b.ready }, Now: now, Logger: logger,
	})
	if err != nil {
		t.Fatal(err)
	}
	b.srv = httptest.NewServer(s.Handler())
	t.Cleanup(b.srv.Close)
	return b
}

func (b *bundle) do(t *testing.T, method, path string, form url.Values, header http.Header) (int, string) {
	t.Helper()
	var body io.Reader
	if form != nil {
		body = strings.NewReader(form.Encode())
	}
	req, err := http.NewRequest(method, b.srv.URL+path, body)
	if err != nil {
		t.Fatal(err)
	}
	if form != nil {
		req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	}
	for k, v := range header {
		req.Header[k] = v
	}
	res, err := b.srv.Client().Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer res.Body.Close()
	out, _ := io.ReadAll(res.Body)
	// Every page of every test is checked for text missing from the
	// catalogue, which shows as [[key]].
	if strings.HasPrefix(res.Header.Get("Content-Type"), "text/html") && strings.Contains(string(out), "[[") {
		t.Errorf("%s %s: a catalogue key is missing: %s", method, path, between(string(out), "[[", "]]"))
	}
	return res.StatusCode, string(out)
}

// between returns the text after the first from in s, up to the next to.
func between(s, from, to string) string {
	_, after, ok := strings.Cut(s, from)
	if !ok {
		return ""
	}
	in, _, _ := strings.Cut(after, to)
	return in
}

// subscriberID returns the id stored for addr.
func (b *bundle) subscriberID(t *testing.T, addr string) string {
	t.Helper()
	id, err := b.st.Redis().HGet(context.Background(), b.st.Prefix()+"idx:email", addr).Result()
	if err != nil {
		t.Fatalf("no subscriber for %s: %v", addr, err)
	}
	return id
}

func validForm() url.Values {
	return url.Values{
		"first_name": {"Ada"}, "email": {"ada@example.org"}, "tz": {"Europe/London"}, "locale": {"en"},
		"program": {"weekly-checkin", "monthly-review"}, "weekly-checkin-day": {"tue"}, "weekly-checkin-time": {"18:30"},
		"monthly-review-day": {"last-fri"}, "monthly-review-time": {"10:00"},
	}
}

func TestSignupFormRerendersWithMessagesAndKeepsValues(t *testing.T) {
	tests := []struct {
		name, field, value string
		errorID            string // the id of the message next to the field
		wantEn, wantEs     string
	}{
		{"no name", "first_name", "", "first_name-error", "tell us your first name", "Dinos tu nombre"},
		{"long name", "first_name", strings.Repeat("a", 41), "first_name-error", "40 characters", "hasta 40 caracteres"},
		{"bad email", "email", "ada@", "email-error", "email address like", "correo electrónico como"},
		{"display-name email", "email", "Ada <ada@example.org>", "email-error", "email address like", "correo electrónico como"},
		{"unknown zone", "tz", "Mars/Olympus", "tz-error", "choose your time zone", "zona horaria de la lista"},
		{"bad time", "weekly-checkin-time", "25:99", "weekly-checkin-error", "time of day", "hora del día"},
		{"bad day", "weekly-checkin-day", "someday", "weekly-checkin-error", "day of the week", "día de la semana"},
		{"bad month day", "monthly-review-day", "31", "monthly-review-error", "day of the month", "día del mes"},
		{"no program", "program", "", "programs-error", "at least one", "al menos un tipo"},
		{"long goal", "goal", strings.Repeat("g", 61), "goal-error", "60 characters", "hasta 60 caracteres"},
	}
	for _, locale := range []string{"en", "es"} {
		for _, tt := range tests {
			t.Run(locale+"/"+tt.name, func(t *testing.T) {
				b := setup(t)
				f := validForm()
				f.Set("locale", locale)
				if tt.value == "" && tt.field == "program" {
					f.Del("program")
				} else {
					f.Set(tt.field, tt.value)
				}
				code, body := b.do(t, "POST", "/signup?lang="+locale, f, nil)
				if code != http.StatusUnprocessableEntity {
					t.Fatalf("status = %d, want 422", code)
				}
				want := tt.wantEn
				if locale == "es" {
					want = tt.wantEs
				}
				if got := between(body, `id="`+tt.errorID+`">`, "</p>"); !strings.Contains(got, want) {
					t.Errorf("message next to the field = %q, want it to say %q", got, want)
				}
				if !strings.Contains(body, `<html lang="`+locale+`">`) {
					t.Errorf("page is not marked as %s", locale)
				}
				if !strings.Contains(body, `aria-invalid="true"`) && tt.field != "program" {
					t.Errorf("field is not marked invalid")
				}
				// What was typed is kept (escaped), the language too.
				if tt.field != "first_name" && !strings.Contains(body, `value="Ada"`) {
					t.Errorf("first name not kept")
				}
				if !strings.Contains(body, `<option value="`+locale+`" lang="`+locale+`" selected>`) {
					t.Errorf("language of the messages not kept")
				}
				if _, err := b.st.Redis().HGet(context.Background(), b.st.Prefix()+"idx:email", "ada@example.org").Result(); err == nil {
					t.Errorf("an invalid form stored a subscriber")
				}
			})
		}
	}
}

func TestSignupPageLanguage(t *testing.T) {
	tests := []struct {
		name, query, acceptLanguage, want string
	}{
		{"nothing said", "", "", "en"},
		{"browser prefers Spanish", "", "es-MX,es;q=0.9,en;q=0.8", "es"},
		{"browser prefers English", "", "en-US,en;q=0.9,es;q=0.8", "en"},
		{"Spanish is the best the browser accepts", "", "fr-FR, de;q=0.9, es;q=0.5", "es"},
		{"Spanish refused", "", "es;q=0, fr", "en"},
		{"switched to English", "?lang=en", "es-ES", "en"},
		{"switched to Spanish", "?lang=es", "en-GB", "es"},
		{"unknown lang left to the browser", "?lang=xx", "es", "es"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			b := setup(t)
			h := http.Header{}
			if tt.acceptLanguage != "" {
				h.Set("Accept-Language", tt.acceptLanguage)
			}
			code, body := b.do(t, "GET", "/"+tt.query, nil, h)
			if code != 200 {
				t.Fatalf("GET / = %d", code)
			}
			heading := map[string]string{"en": "Small nudges toward", "es": "Pequeños recordatorios"}[tt.want]
			for _, want := range []string{
				`<html lang="` + tt.want + `">`,
				heading,
				// The messages default to the page's language; the form
				// posts back in it; the switch works without JavaScript.
				`<option value="` + tt.want + `" lang="` + tt.want + `" selected>`,
				`action="/signup?lang=` + tt.want + `"`,
				`<a href="/?lang=en" lang="en" hreflang="en"`,
				`<a href="/?lang=es" lang="es" hreflang="es"`,
				`hreflang="` + tt.want + `" aria-current="page"`,
			} {
				if !strings.Contains(body, want) {
					t.Errorf("page lacks %q", want)
				}
			}
		})
	}
}

func TestSignupAnswersInTheChosenLanguage(t *testing.T) {
	b := setup(t)
	// An English page, Spanish messages: the answer is in Spanish, as the
	// confirmation email will be.
	f := validForm()
	f.Set("locale", "es")
	code, body := b.do(t, "POST", "/signup?lang=en", f, nil)
	if code != 200 || !strings.Contains(body, `<html lang="es">`) || !strings.Contains(body, "Revisa tu correo") {
		t.Fatalf("signup = %d, page:\n%s", code, body)
	}
	sub, _ := b.st.Subscriber(context.Background(), b.subscriberID(t, "ada@example.org"))
	if sub.Locale != "es" {
		t.Errorf("stored locale = %q, want es", sub.Locale)
	}
	// With errors, the form stays in the page's language.
	f.Set("email", "ada@")
	code, body = b.do(t, "POST", "/signup?lang=en", f, nil)
	if code != http.StatusUnprocessableEntity || !strings.Contains(body, `<html lang="en">`) || !strings.Contains(body, "email address like") {
		t.Errorf("re-rendered form = %d, not in English", code)
	}
}

func TestSignupStoresPendingAndAnswersTheSameForAnyAddress(t *testing.T) {
	b := setup(t)
	withGoal := validForm()
	withGoal.Set("goal", "my sister Ana")
	code, first := b.do(t, "POST", "/signup", withGoal, nil)
	if code != 200 || !strings.Contains(first, "Check your email") {
		t.Fatalf("signup = %d", code)
	}
	id, err := b.st.Redis().HGet(context.Background(), b.st.Prefix()+"idx:email", "ada@example.org").Result()
	if err != nil {
		t.Fatalf("no subscriber stored: %v", err)
	}
	sub, _ := b.st.Subscriber(context.Background(), id)
	scheds, _ := b.st.Schedules(context.Background(), id)
	if sub.Status != domain.Pending || sub.Goal != "my sister Ana" || len(scheds) != 2 || scheds[1].Rule != "monthly:last-fri@10:00" {
		t.Fatalf("stored %+v with %+v", sub, scheds)
	}
	// The same address again, and a honeypot hit: the same page.
	_, again := b.do(t, "POST", "/signup", validForm(), nil)
	bot := validForm()
	bot.Set("email", "bot@example.org")
	bot.Set("website", "http://spam.example")
	_, botPage := b.do(t, "POST", "/signup", bot, nil)
	if again != first || botPage != first {
		t.Error("the answer differs between a new address, a known one and a bot")
	}
	if _, err := b.st.Redis().HGet(context.Background(), b.st.Prefix()+"idx:email", "bot@example.org").Result(); err == nil {
		t.Error("a honeypot submission was stored")
	}
}

func TestCrossOriginFormPostIsRefused(t *testing.T) {
	b := setup(t)
	code, _ := b.do(t, "POST", "/signup", validForm(), http.Header{"Sec-Fetch-Site": {"cross-site"}})
	if code != http.StatusForbidden {
		t.Fatalf("cross-site POST = %d, want 403", code)
	}
}

func TestConfirmNeedsAPostAndAValidToken(t *testing.T) {
	b := setup(t)
	b.do(t, "POST", "/signup", validForm(), nil)
	id, _ := b.st.Redis().HGet(context.Background(), b.st.Prefix()+"idx:email", "ada@example.org").Result()
	tok := b.signer.Sign(token.Confirm, id, b.now.Add(time.Hour))

	code, page := b.do(t, "GET", "/confirm/"+tok, nil, nil)
	if code != 200 || !strings.Contains(page, `<form method="post"`) {
		t.Fatalf("GET confirm = %d", code)
	}
	if sub, _ := b.st.Subscriber(context.Background(), id); sub.Status != domain.Pending {
		t.Fatalf("a GET changed the status to %s", sub.Status)
	}
	// Wrong purpose, tampered, expired: a clear page, nothing changes.
	for name, bad := range map[string]string{
		"manage token": b.signer.Sign(token.Manage, id, b.now.Add(time.Hour)),
		"tampered":     tok[:len(tok)-2] + "xx",
		"expired":      b.signer.Sign(token.Confirm, id, b.now.Add(-time.Second)),
	} {
		code, page := b.do(t, "POST", "/confirm/"+bad, url.Values{}, nil)
		if code != http.StatusNotFound || !strings.Contains(page, "link") {
			t.Errorf("%s: POST confirm = %d", name, code)
		}
	}
	if sub, _ := b.st.Subscriber(context.Background(), id); sub.Status != domain.Pending {
		t.Fatalf("a bad token changed the status to %s", sub.Status)
	}
	code, _ = b.do(t, "POST", "/confirm/"+tok, url.Values{}, nil)
	if code != 200 {
		t.Fatalf("POST confirm = %d", code)
	}
	sub, _ := b.st.Subscriber(context.Background(), id)
	scheds, _ := b.st.Schedules(context.Background(), id)
	if sub.Status != domain.Active || scheds[0].Next.IsZero() {
		t.Fatalf("after confirming: %+v %+v", sub, scheds)
	}
	// Tuesday 1 December 18:30 in London is the first check-in.
	if want := time.Date(2026, 12, 1, 18, 30, 0, 0, time.UTC); !scheds[0].Next.Equal(want) {
		t.Errorf("first check-in planned at %s, want %s", scheds[0].Next, want)
	}
}

func TestOneClickUnsubscribeWorksWithoutBrowserHeaders(t *testing.T) {
	b := setup(t)
	b.do(t, "POST", "/signup", validForm(), nil)
	id, _ := b.st.Redis().HGet(context.Background(), b.st.Prefix()+"idx:email", "ada@example.org").Result()
	tok := b.signer.Sign(token.Unsubscribe, id, b.now.Add(time.Hour))
	if code, _ := b.do(t, "GET", "/unsubscribe/"+tok, nil, nil); code != 200 {
		t.Fatalf("GET unsubscribe = %d", code)
	}
	if sub, _ := b.st.Subscriber(context.Background(), id); sub.Status == domain.Unsubscribed {
		t.Fatal("a GET unsubscribed")
	}
	// A mail provider's POST may even look cross-site: it must still work.
	code, _ := b.do(t, "POST", "/unsubscribe/"+tok, url.Values{"List-Unsubscribe": {"One-Click"}}, http.Header{"Sec-Fetch-Site": {"cross-site"}})
	if code != 200 {
		t.Fatalf("one-click POST = %d", code)
	}
	if sub, _ := b.st.Subscriber(context.Background(), id); sub.Status != domain.Unsubscribed {
		t.Fatalf("status after one-click = %s", sub.Status)
	}
	ev, _ := b.st.Consent(context.Background(), id)
	if last := ev[len(ev)-1]; last.Action != store.ConsentUnsubscribe || last.Source != "one-click" {
		t.Fatalf("ledger's last event = %+v", last)
	}
}

func TestHealthAndReadiness(t *testing.T) {
	b := setup(t)
	if code, _ := b.do(t, "GET", "/healthz", nil, nil); code != 200 {
		t.Fatalf("healthz = %d", code)
	}
	if code, _ := b.do(t, "GET", "/readyz", nil, nil); code != 200 {
		t.Fatalf("readyz = %d", code)
	}
	b.ready = errors.New("redis down")
	if code, _ := b.do(t, "GET", "/readyz", nil, nil); code != http.StatusServiceUnavailable {
		t.Fatalf("readyz with redis down = %d", code)
	}
	if code, _ := b.do(t, "GET", "/dev/outbox", nil, nil); code != http.StatusNotFound {
		t.Fatalf("dev outbox without an outbox = %d, want 404", code)
	}
}

func TestPagesBehindALinkUseTheSubscribersLanguage(t *testing.T) {
	b := setup(t)
	f := validForm()
	f.Set("locale", "es")
	b.do(t, "POST", "/signup", f, nil)
	id := b.subscriberID(t, "ada@example.org")
	english := http.Header{"Accept-Language": {"en-US,en"}} // the stored locale wins over the browser
	confirm := "/confirm/" + b.signer.Sign(token.Confirm, id, b.now.Add(time.Hour))
	manage := "/manage/" + b.signer.Sign(token.Manage, id, b.now.Add(time.Hour))
	unsubscribe := "/unsubscribe/" + b.signer.Sign(token.Unsubscribe, id, b.now.Add(time.Hour))

	steps := []struct {
		method, path string
		want         []string
	}{
		{"GET", manage, []string{"Todavía no has confirmado"}},
		{"GET", confirm, []string{"Un último paso", "Sí, quiero recibirlos"}},
		{"POST", confirm, []string{"Todo listo"}},
		{"GET", manage, []string{
			"Hola, Ada.", "Mensaje semanal", "Todos los martes a las 18:30", "Martes 1 de diciembre, 18:30",
			"Revisión mensual", "El último viernes de cada mes a las 10:00", "Viernes 25 de diciembre, 10:00", "Darme de baja de todo",
		}},
		{"GET", unsubscribe, []string{"¿Dejar de recibir todos los mensajes?", "Cancelar la suscripción"}},
		{"POST", unsubscribe, []string{"Cancelaste tu suscripción"}},
		{"GET", manage, []string{"Cancelaste tu suscripción. No te enviaremos nada más."}},
	}
	for _, st := range steps {
		var form url.Values
		if st.method == "POST" {
			form = url.Values{}
		}
		code, body := b.do(t, st.method, st.path, form, english)
		if code != 200 {
			t.Fatalf("%s %s = %d", st.method, st.path, code)
		}
		if !strings.Contains(body, `<html lang="es">`) {
			t.Errorf("%s %s: page is not marked Spanish", st.method, st.path)
		}
		for _, want := range st.want {
			if !strings.Contains(body, want) {
				t.Errorf("%s %s: page lacks %q", st.method, st.path, want)
			}
		}
	}
}

func TestManagePageInEnglish(t *testing.T) {
	b := setup(t)
	f := validForm()
	f.Set("first_name", "Ada <b>")
	b.do(t, "POST", "/signup", f, nil)
	id := b.subscriberID(t, "ada@example.org")
	b.do(t, "POST", "/confirm/"+b.signer.Sign(token.Confirm, id, b.now.Add(time.Hour)), url.Values{}, nil)
	code, body := b.do(t, "GET", "/manage/"+b.signer.Sign(token.Manage, id, b.now.Add(time.Hour)), nil, http.Header{"Accept-Language": {"es"}})
	if code != 200 {
		t.Fatalf("GET manage = %d", code)
	}
	for _, want := range []string{
		`<html lang="en">`, "Hi Ada &lt;b&gt;.", "Weekly check-in", "Every Tuesday at 18:30", "Tuesday 1 December, 18:30",
		"Monthly review", "The last Friday of each month at 10:00", "Friday 25 December, 10:00",
	} {
		if !strings.Contains(body, want) {
			t.Errorf("page lacks %q", want)
		}
	}
}

func TestLinksWithoutASubscriberFollowTheBrowser(t *testing.T) {
	b := setup(t)
	spanish := http.Header{"Accept-Language": {"es-AR,es;q=0.9"}}
	// A valid link whose subscriber is gone: the page still shows, in the
	// browser's language, and the POST says the link does not work.
	tok := b.signer.Sign(token.Confirm, "no-such-subscriber", b.now.Add(time.Hour))
	code, body := b.do(t, "GET", "/confirm/"+tok, nil, spanish)
	if code != 200 || !strings.Contains(body, `<html lang="es">`) || !strings.Contains(body, "Un último paso") {
		t.Errorf("GET confirm for a missing subscriber = %d, not in Spanish", code)
	}
	code, body = b.do(t, "POST", "/confirm/"+tok, url.Values{}, spanish)
	if code != http.StatusNotFound || !strings.Contains(body, "Este enlace no funciona") {
		t.Errorf("POST confirm for a missing subscriber = %d, not the Spanish bad-link page", code)
	}
	expired := b.signer.Sign(token.Unsubscribe, "no-such-subscriber", b.now.Add(-time.Second))
	code, body = b.do(t, "GET", "/unsubscribe/"+expired, nil, spanish)
	if code != http.StatusNotFound || !strings.Contains(body, "Este enlace ya venció") {
		t.Errorf("expired link = %d, not the Spanish expired page", code)
	}
	code, body = b.do(t, "GET", "/manage/tampered", nil, nil)
	if code != http.StatusNotFound || !strings.Contains(body, `<html lang="en">`) || !strings.Contains(body, "This link does not work") {
		t.Errorf("bad link without a language = %d, not the English page", code)
	}
}

func smsForm() url.Values {
	f := validForm()
	f.Del("email")
	f.Set("phone", "(201) 555-0123")
	f.Set("sms_consent", "yes")
	return f
}

func TestSMSOnlySignupAsksTheNumberToReplyYes(t *testing.T) {
	b := setup(t)
	_, page := b.do(t, "GET", "/", nil, nil)
	if !strings.Contains(page, `id="sms_consent"`) || strings.Contains(page, `name="sms_consent" value="yes" checked`) {
		t.Fatal("the SMS consent box is missing or ticked by default")
	}
	if code, body := b.do(t, "POST", "/signup", smsForm(), nil); code != 200 {
		t.Fatalf("sms signup = %d\n%s", code, body)
	}
	id, err := b.st.SubscriberByPhone(context.Background(), "+12015550123")
	if err != nil {
		t.Fatalf("no subscriber for the number: %v", err)
	}
	sub, _ := b.st.Subscriber(context.Background(), id)
	if sub.Email != "" || sub.SMSStatus != domain.SMSPending || len(sub.Channels) != 1 || sub.Channels[0] != domain.SMS {
		t.Fatalf("stored %+v", sub)
	}
	insp := asynq.NewInspectorFromRedisClient(b.st.Redis())
	tasks, err := insp.ListPendingTasks("critical")
	if err != nil {
		t.Fatal(err)
	}
	found := false
	for _, tk := range tasks {
		found = found || strings.HasPrefix(tk.ID, "smsconfirm:"+id+":")
	}
	if !found {
		t.Fatal("no text asking for YES was queued")
	}
}

func TestSMSSignupErrors(t *testing.T) {
	tests := []struct {
		name, field, value, wantMsg string
	}{
		{"no consent", "sms_consent", "", "Tick the box"},
		{"landline", "phone", "+44 20 7946 0018", "landline"},
		{"other country", "phone", "+33 6 12 34 56 78", "that country"},
		{"not a number", "phone", "call me", "mobile number like"},
		{"night time", "weekly-checkin-time", "07:00", "between 09:00 and 20:00"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			b := setup(t)
			f := smsForm()
			f.Set(tt.field, tt.value)
			code, body := b.do(t, "POST", "/signup", f, nil)
			if code != http.StatusUnprocessableEntity || !strings.Contains(body, tt.wantMsg) {
				t.Fatalf("status %d, want 422 with %q", code, tt.wantMsg)
			}
			if _, err := b.st.SubscriberByPhone(context.Background(), "+12015550123"); err == nil {
				t.Fatal("an invalid form stored a subscriber")
			}
		})
	}
}

func TestSignupBudgets(t *testing.T) {
	b := setup(t)
	// A server of its own, with the budgets on.
	rdb := redistest.Client(t, redistest.DBWeb)
	logger := slog.New(slog.NewTextHandler(io.Discard, nil))
	now := func() time.Time { return b.now }
	s, err := web.New(web.Deps{
		Subscriptions: subscription.New(b.st, asynq.NewClientFromRedisClient(rdb), now, logger),
		Store:         b.st, Signer: b.signer, Zones: zones.Names(), DefaultZone: "UTC",
		Limits: signuplimit.New(rdb, b.st.Prefix(), now),
		Ready:  func(context.Context) error { return nil }, Now: now, Logger: logger,
	})
	if err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewServer(s.Handler())
	t.Cleanup(srv.Close)
	b.srv = srv

	_, first := b.do(t, "POST", "/signup", validForm(), nil)
	for range signuplimit.AddressBurst - 1 {
		b.do(t, "POST", "/signup", validForm(), nil)
	}
	// Over the address's budget: the same page, and no further email queued.
	id, _ := b.st.Redis().HGet(context.Background(), b.st.Prefix()+"idx:email", "ada@example.org").Result()
	before, _ := b.st.Consent(context.Background(), id)
	code, over := b.do(t, "POST", "/signup", validForm(), nil)
	after, _ := b.st.Consent(context.Background(), id)
	if code != 200 || over != first || len(after) != len(before) {
		t.Fatalf("over the address budget: status %d, same page %v, ledger %d → %d", code, over == first, len(before), len(after))
	}
	// Over the IP's budget (five from one IP in ten minutes): 429 with Retry-After.
	f := validForm()
	f.Set("email", "other@example.org")
	if code, _ := b.do(t, "POST", "/signup", f, nil); code != 200 {
		t.Fatalf("fifth signup from one IP = %d", code)
	}
	req, _ := http.NewRequest("POST", srv.URL+"/signup", strings.NewReader(f.Encode()))
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	res, err := srv.Client().Do(req)
	if err != nil {
		t.Fatal(err)
	}
	res.Body.Close()
	if res.StatusCode != http.StatusTooManyRequests || res.Header.Get("Retry-After") == "" {
		t.Fatalf("sixth signup from one IP = %d, Retry-After %q", res.StatusCode, res.Header.Get("Retry-After"))
	}
	// Ten minutes on, the IP may sign up again.
	b.now = b.now.Add(signuplimit.IPPer)
	if code, _ := b.do(t, "POST", "/signup", f, nil); code != 200 {
		t.Fatalf("after waiting: %d", code)
	}
}

func TestSignupSaysTheConfiguredSMSWindow(t *testing.T) {
	b := setup(t)
	rdb := redistest.Client(t, redistest.DBWeb)
	logger := slog.New(slog.NewTextHandler(io.Discard, nil))
	now := func() time.Time { return b.now }
	window, err := scheduler.ParseWindow("10:00-19:00")
	if err != nil {
		t.Fatal(err)
	}
	s, err := web.New(web.Deps{
		Subscriptions: subscription.New(b.st, asynq.NewClientFromRedisClient(rdb), now, logger),
		Store:         b.st, Signer: b.signer, Zones: zones.Names(), DefaultZone: "UTC",
		Phones: phone.New("US", []string{"US"}), SMSWindow: window,
		Ready: func(context.Context) error { return nil }, Now: now, Logger: logger,
	})
	if err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewServer(s.Handler())
	t.Cleanup(srv.Close)

	res, err := http.Get(srv.URL + "/")
	if err != nil {
		t.Fatal(err)
	}
	page, _ := io.ReadAll(res.Body)
	res.Body.Close()
	if !strings.Contains(string(page), "between 10:00 and 19:00 my time") || strings.Contains(string(page), "20:00") {
		t.Errorf("the consent box does not name the configured window")
	}
	f := smsForm()
	f.Set("weekly-checkin-time", "09:30") // inside the default window, outside this one
	res, err = http.PostForm(srv.URL+"/signup", f)
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(res.Body)
	res.Body.Close()
	if res.StatusCode != http.StatusUnprocessableEntity || !strings.Contains(string(body), "between 10:00 and 19:00 your time") {
		t.Errorf("status %d; the error does not name the configured window", res.StatusCode)
	}
}

// A number given at night is texted in the morning of its zone, and the page
// says when; by day the page says only to check the phone.
func TestCheckYourPhoneSaysWhenTheTextComes(t *testing.T) {
	for _, tt := range []struct {
		name   string
		at     time.Time
		locale string
		want   []string
		absent string
	}{
		// 08:00 UTC is 03:00 in New York (the form's zone below).
		{"night", time.Date(2026, 12, 1, 8, 0, 0, 0, time.UTC), "en", []string{"Check your phone", "Reply YES", "goes out at 09:00 your time"}, ""},
		{"noche", time.Date(2026, 12, 1, 8, 0, 0, 0, time.UTC), "es", []string{"Revisa tu teléfono", "saldrá a las 09:00"}, ""},
		{"day", time.Date(2026, 12, 1, 16, 0, 0, 0, time.UTC), "en", []string{"Check your phone", "Reply YES"}, "goes out at"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			b := setup(t)
			b.now = tt.at
			f := smsForm()
			f.Set("tz", "America/New_York")
			f.Set("locale", tt.locale)
			code, body := b.do(t, "POST", "/signup", f, nil)
			if code != http.StatusOK {
				t.Fatalf("status %d", code)
			}
			for _, w := range tt.want {
				if !strings.Contains(body, w) {
					t.Errorf("the page lacks %q:\n%s", w, body)
				}
			}
			if tt.absent != "" && strings.Contains(body, tt.absent) {
				t.Errorf("the page says %q by day", tt.absent)
			}
		})
	}
}
