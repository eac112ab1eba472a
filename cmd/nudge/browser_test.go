package main

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"image/png"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/chromedp/cdproto/cdp"
	"github.com/chromedp/cdproto/emulation"
	"github.com/chromedp/chromedp"
	"github.com/google/go-cmp/cmp"
	"github.com/google/go-cmp/cmp/cmpopts"
	"github.com/nudgehq/nudge/internal/config"
	"github.com/nudgehq/nudge/internal/domain"
	"github.com/nudgehq/nudge/internal/redistest"
	"github.com/nudgehq/nudge/internal/smtptest"
	"github.com/nudgehq/nudge/internal/store"
	"github.com/nudgehq/nudge/internal/twiliotest"
)

// The browser tests drive the pages people use (the signup form, the pages
// behind signed links) in Debian's Chromium through chromedp, against the
// whole program on 127.0.0.1:0 with its real Redis, an SMTP sink and the
// Twilio stand-in. Without Chromium they fail, never skip.

// site is the whole program running for one browser test.
type site struct {
	app   *App
	base  string // http://127.0.0.1:port
	mail  *smtptest.Server
	texts *twiliotest.Server
	st    *store.Store
	clk   *clock
}

// startSite runs the whole program with both channels: email to an SMTP
// sink, texts to the Twilio stand-in.
func startSite(t *testing.T) *site {
	t.Helper()
	mail := smtptest.Start(t)
	texts := twiliotest.Start(t)
	prefix := redistest.Prefix(t)
	// Monday 30 November 2026, 15:00 UTC: 10:00 in New York, inside the
	// texting hours of the numbers the tests sign up (a confirmation text
	// waits for them).
	clk := &clock{t: time.Date(2026, 11, 30, 15, 0, 0, 0, time.UTC)}
	app := startApp(t, smsConfig(t, mail, texts, prefix), RoleAll, clk)
	st := store.New(redistest.Client(t, redistest.DBMain), prefix)
	// The asynq queues are shared by every test of the package: leave none
	// of this test's tasks behind (cleanups run last first, so this runs
	// while the program is still up).
	t.Cleanup(func() { waitSettled(t, st, clk) })
	return &site{app: app, base: "http://" + app.Addr().String(), mail: mail, texts: texts, st: st, clk: clk}
}

// smsConfig is testConfig's environment plus the Twilio stand-in, so that
// the form offers texts.
func smsConfig(t *testing.T, sink *smtptest.Server, texts *twiliotest.Server, prefix string) config.Config {
	t.Helper()
	env := map[string]string{
		"NUDGE_REDIS_URL":          fmt.Sprintf("redis://%s/%d", redistest.Addr(), redistest.DBMain),
		"NUDGE_REDIS_PREFIX":       prefix,
		"NUDGE_SMTP_HOST":          sink.Host(),
		"NUDGE_SMTP_PORT":          fmt.Sprint(sink.Port()),
		"NUDGE_SMTP_TLS":           "none",
		"NUDGE_EMAIL_FROM":         "nudge <hello@nudge.test>",
		"NUDGE_BASE_URL":           "https://nudge.test",
		"NUDGE_HTTP_ADDR":          "127.0.0.1:0",
		"NUDGE_SECRET":             "a-browser-test-secret-of-enough-length",
		"NUDGE_POSTAL_ADDRESS":     "1 Test Street, Testville",
		"NUDGE_TWILIO_ACCOUNT_SID": texts.AccountSID,
		"NUDGE_TWILIO_AUTH_TOKEN":  texts.AuthToken,
		"NUDGE_TWILIO_FROM":        "+15005550006",
		"NUDGE_TWILIO_API_URL":     texts.URL,
	}
	cfg, err := config.Load(func(k string) string { return env[k] })
	if err != nil {
		t.Fatalf("config: %v", err)
	}
	cfg.PlannerInterval = 20 * time.Millisecond
	cfg.PlannerHorizon = time.Second
	return cfg
}

// subscriberByEmail loads the subscriber signed up with addr.
func (s *site) subscriberByEmail(t *testing.T, addr string) domain.Subscriber {
	t.Helper()
	sub, err := s.st.Subscriber(context.Background(), subscriberID(t, s.st, addr))
	if err != nil {
		t.Fatalf("load the subscriber of %s: %v", addr, err)
	}
	return sub
}

// confirmEmail waits for the confirmation email to addr.
func (s *site) confirmEmail(t *testing.T, addr string) smtptest.Message {
	t.Helper()
	var confirm smtptest.Message
	s.mail.WaitFor(t, 10*time.Second, "the confirmation email to "+addr, func(ms []smtptest.Message) bool {
		for _, m := range ms {
			if len(m.To) == 1 && m.To[0] == addr {
				confirm = m
				return true
			}
		}
		return false
	})
	return confirm
}

// confirmLink waits for the confirmation email to addr and returns its
// confirm link on the test server.
func (s *site) confirmLink(t *testing.T, addr string) string {
	t.Helper()
	return s.linkIn(t, s.confirmEmail(t, addr), linkRE)
}

var manageLinkRE = regexp.MustCompile(`https://nudge\.test/manage/[A-Za-z0-9._~%-]+`)

// linkIn returns the link re finds in the text of m, on the test server.
func (s *site) linkIn(t *testing.T, m smtptest.Message, re *regexp.Regexp) string {
	t.Helper()
	link := re.FindString(m.Text)
	if link == "" {
		t.Fatalf("no link matching %s in the email's text:\n%s", re, m.Text)
	}
	return pathOf(t, s.app, link)
}

// waitText waits for a text to number and returns it.
func (s *site) waitText(t *testing.T, number string) twiliotest.Message {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for {
		for _, m := range s.texts.Messages() {
			if m.To == number {
				return m
			}
		}
		if time.Now().After(deadline) {
			t.Fatalf("no text to %s after 10s; the stand-in has %d messages", number, len(s.texts.Messages()))
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// chromiumPath finds the browser: `chromium` on PATH, else Debian's path.
func chromiumPath(t *testing.T) string {
	t.Helper()
	if p, err := exec.LookPath("chromium"); err == nil {
		return p
	}
	const debian = "/usr/bin/chromium"
	if _, err := os.Stat(debian); err == nil {
		return debian
	}
	t.Fatalf("the browser tests need Chromium, found neither `chromium` on PATH nor %s: apt-get install chromium", debian)
	return ""
}

// stepTimeout bounds one browser step: a query waits for its element, so a
// missing one would otherwise wait until the test's deadline.
const stepTimeout = 10 * time.Second

// chromium is a headless Chromium shared by the subtests of TestBrowser;
// each subtest works in a tab of its own.
type chromium struct {
	ctx context.Context // the browser's first tab
	out *syncBuffer     // its output, for failures
}

// browser is one tab, for one test.
type browser struct {
	t   *testing.T
	ctx context.Context
}

// syncBuffer keeps Chromium's output, written from chromedp's goroutines.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (w *syncBuffer) Write(p []byte) (int, error) {
	w.mu.Lock()
	defer w.mu.Unlock()
	return w.b.Write(p)
}

func (w *syncBuffer) String() string {
	w.mu.Lock()
	defer w.mu.Unlock()
	return w.b.String()
}

// startChromium starts a headless Chromium with a fresh profile in a
// temporary directory (chromedp makes it and removes it). When the test
// ends the browser is closed and its process waited for.
func startChromium(t *testing.T) *chromium {
	t.Helper()
	out := &syncBuffer{}
	allocCtx, cancelAlloc := chromedp.NewExecAllocator(context.Background(),
		chromedp.ExecPath(chromiumPath(t)),
		chromedp.Headless,
		chromedp.NoSandbox,
		chromedp.NoFirstRun,
		chromedp.NoDefaultBrowserCheck,
		chromedp.Flag("disable-gpu", true),
		chromedp.Flag("disable-quic", true),
		chromedp.Flag("disable-background-networking", true),
		chromedp.Flag("disable-component-update", true),
		chromedp.Flag("disable-sync", true),
		// /dev/shm is small in containers.
		chromedp.Flag("disable-dev-shm-usage", true),
		chromedp.WindowSize(1024, 768),
		chromedp.CombinedOutput(out),
	)
	ctx, cancel := chromedp.NewContext(allocCtx)
	// The first Do starts the browser and binds it to ctx, which has no
	// deadline: steps take their own (stepTimeout).
	if err := chromedp.Do(ctx); err != nil {
		cancel()
		cancelAlloc()
		t.Fatalf("start chromium: %v\n%s", err, out)
	}
	t.Cleanup(func() {
		// Close the browser, then wait for its process to exit and its
		// profile to be removed (the allocator's cancel waits for both).
		if err := chromedp.Cancel(ctx); err != nil {
			t.Errorf("close chromium: %v", err)
		}
		cancel()
		cancelAlloc()
		if t.Failed() && testing.Verbose() {
			t.Logf("chromium's output:\n%s", out)
		}
	})
	return &chromium{ctx: ctx, out: out}
}

// tab opens a new tab for t, closed when t ends. Emulation settings (time
// zone, scripts off) belong to the tab, so tests do not see each other's.
func (c *chromium) tab(t *testing.T) *browser {
	t.Helper()
	ctx, cancel := chromedp.NewContext(c.ctx)
	if err := chromedp.Do(ctx); err != nil {
		cancel()
		t.Fatalf("open a tab: %v\n%s", err, c.out)
	}
	t.Cleanup(func() {
		if err := chromedp.Cancel(ctx); err != nil {
			t.Errorf("close the tab: %v", err)
		}
	})
	return &browser{t: t, ctx: ctx}
}

// do runs steps, failing the test with what on an error.
func (b *browser) do(what string, steps ...chromedp.Action[chromedp.Void]) {
	b.t.Helper()
	ctx, cancel := context.WithTimeout(b.ctx, stepTimeout)
	defer cancel()
	if err := chromedp.Do(ctx, steps...); err != nil {
		b.t.Fatalf("%s: %v", what, err)
	}
}

// get runs a, failing the test with what on an error.
func get[T any](b *browser, what string, a chromedp.Action[T]) T {
	b.t.Helper()
	ctx, cancel := context.WithTimeout(b.ctx, stepTimeout)
	defer cancel()
	v, err := chromedp.Run(ctx, a)
	if err != nil {
		b.t.Fatalf("%s: %v", what, err)
	}
	return v
}

// open loads url and returns the HTTP status of the page.
func (b *browser) open(url string) int64 {
	b.t.Helper()
	res := get(b, "open "+url, chromedp.NavigateResponse(url))
	return res.Status
}

// press clicks the button or link that sel finds, waits for the page it
// loads and returns its HTTP status.
func (b *browser) press(sel string) int64 {
	b.t.Helper()
	ctx, cancel := context.WithTimeout(b.ctx, stepTimeout)
	defer cancel()
	res, err := chromedp.RunResponse(ctx, chromedp.Click(chromedp.CSS(sel)))
	if err != nil {
		b.t.Fatalf("press %s: %v", sel, err)
	}
	return res.Status
}

// text is the text of the first element sel finds.
func (b *browser) text(sel string) string {
	b.t.Helper()
	return strings.TrimSpace(get(b, "read "+sel, chromedp.Text(chromedp.CSS(sel))))
}

// value is the current value of the form control with id.
func (b *browser) value(id string) string {
	b.t.Helper()
	return get(b, "read the value of #"+id, chromedp.Value(chromedp.ID(id)))
}

// attr is the attribute name of the first element sel finds ("" if none).
func (b *browser) attr(sel, name string) string {
	b.t.Helper()
	return get(b, "read "+sel+" "+name, chromedp.AttributeValue(chromedp.CSS(sel), name)).Value
}

// checked says whether the checkbox with id is ticked.
func (b *browser) checked(id string) bool {
	b.t.Helper()
	return get(b, "read #"+id, chromedp.JavascriptAttribute[bool](chromedp.ID(id), "checked"))
}

// call sends one protocol command to the tab.
func call[P any](b *browser, what string, cmd cdp.Command[P, cdp.Empty], params P) {
	b.t.Helper()
	ctx, cancel := context.WithTimeout(b.ctx, stepTimeout)
	defer cancel()
	if _, err := chromedp.Call(ctx, cmd, params); err != nil {
		b.t.Fatalf("%s: %v", what, err)
	}
}

// screenshot saves a full-page PNG of the tab as name in a temporary
// directory and, when NUDGE_SCREENSHOT_DIR is set, copies it there too.
func (b *browser) screenshot(name string) {
	b.t.Helper()
	img := get(b, "take a screenshot", chromedp.FullScreenshot(100))
	cfg, err := png.DecodeConfig(bytes.NewReader(img))
	if err != nil {
		b.t.Fatalf("the screenshot is not a PNG: %v", err)
	}
	if cfg.Width < 300 || cfg.Height < 300 {
		b.t.Errorf("the screenshot is %dx%d: the page did not render", cfg.Width, cfg.Height)
	}
	dirs := []string{b.t.TempDir()}
	if d := os.Getenv("NUDGE_SCREENSHOT_DIR"); d != "" {
		dirs = append(dirs, d)
	}
	for _, d := range dirs {
		if err := os.MkdirAll(d, 0o755); err != nil {
			b.t.Fatal(err)
		}
		if err := os.WriteFile(filepath.Join(d, name), img, 0o644); err != nil {
			b.t.Fatal(err)
		}
	}
	b.t.Logf("screenshot %s: %dx%d, in %s", name, cfg.Width, cfg.Height, strings.Join(dirs, " and "))
}

// fieldError is what the page shows about one field's error.
type fieldError struct {
	Found   bool   `json:"found"`
	Message string `json:"message"`
	Visible bool   `json:"visible"`
	// Invalid and DescribedBy are the control's aria-invalid and
	// aria-describedby.
	Invalid     string `json:"invalid"`
	DescribedBy string `json:"describedBy"`
	// SameBox is true when the message sits in the control's own container
	// (for the programs, in their fieldset); Below is true when it starts under the control; Gap is
	// the distance in pixels from the element just before the message.
	SameBox bool    `json:"sameBox"`
	Below   bool    `json:"below"`
	Gap     float64 `json:"gap"`
}

// fieldErrorJS reads a fieldError for (control id, error element id); the
// control id may be "" for a group (the programs fieldset).
const fieldErrorJS = `((controlID, errorID) => {
  const err = document.getElementById(errorID);
  if (!err) return {found: false};
  const er = err.getBoundingClientRect();
  const style = getComputedStyle(err);
  const prev = err.previousElementSibling;
  const out = {
    found: true,
    message: err.textContent.trim(),
    visible: er.width > 0 && er.height > 0 && style.visibility !== "hidden" && style.display !== "none",
    gap: prev ? er.top - prev.getBoundingClientRect().bottom : 0,
  };
  const control = controlID && document.getElementById(controlID);
  if (control) {
    out.invalid = control.getAttribute("aria-invalid") || "";
    out.describedBy = control.getAttribute("aria-describedby") || "";
    out.sameBox = err.parentElement === control.parentElement;
    out.below = er.top >= control.getBoundingClientRect().bottom - 1;
  } else {
    out.sameBox = err.parentElement.tagName === "FIELDSET" && err.parentElement.contains(document.getElementById("p-weekly-checkin"));
    out.below = true;
  }
  return out;
})(%q, %q)`

// wantError is an error a field should show.
type wantError struct {
	control string // the control marked aria-invalid; "" for the programs group
	says    string // a part of the message
}

// checkErrors checks that the page shows exactly the want errors (by error
// element id), each next to its field, and no error for the others.
func (b *browser) checkErrors(want map[string]wantError) {
	b.t.Helper()
	if got := b.text(".error-summary"); got == "" {
		b.t.Error("no error summary above the form")
	}
	all := []string{"first_name", "email", "phone", "sms_consent", "tz", "goal", "programs", "weekly-checkin", "gratitude", "monthly-review"}
	for _, field := range all {
		id := field + "-error"
		w, wanted := want[id]
		got := get(b, "read "+id, chromedp.Evaluate[fieldError](fmt.Sprintf(fieldErrorJS, w.control, id)))
		switch {
		case !wanted && got.Found:
			b.t.Errorf("#%s shows %q; want no error for %s", id, got.Message, field)
		case !wanted:
		case !got.Found:
			b.t.Errorf("no #%s; want an error saying %q", id, w.says)
		default:
			if !strings.Contains(got.Message, w.says) {
				b.t.Errorf("#%s says %q; want it to say %q", id, got.Message, w.says)
			}
			if !got.Visible {
				b.t.Errorf("#%s is not visible", id)
			}
			if !got.SameBox || !got.Below || got.Gap < -1 || got.Gap > 24 {
				b.t.Errorf("#%s is not next to its field: in the field's box %v, below the control %v, %.0fpx after the element before it", id, got.SameBox, got.Below, got.Gap)
			}
			if w.control != "" {
				if got.Invalid != "true" {
					b.t.Errorf("#%s has aria-invalid=%q; want \"true\"", w.control, got.Invalid)
				}
				if !strings.Contains(" "+got.DescribedBy+" ", " "+id+" ") {
					b.t.Errorf("#%s has aria-describedby=%q; want it to name %s", w.control, got.DescribedBy, id)
				}
			}
		}
	}
}

// TestBrowser runs the browser tests in one Chromium, a tab each. They run
// one after another: the programs they start share the package's asynq
// queues.
func TestBrowser(t *testing.T) {
	c := startChromium(t)
	for _, tc := range []struct {
		name string
		test func(*testing.T, *chromium)
	}{
		{"SignupWithEmailAndPhone", testSignupWithEmailAndPhone},
		{"FieldErrors", testFieldErrors},
		{"WithoutJavaScript", testWithoutJavaScript},
		{"TimeZoneFromTheBrowser", testTimeZoneFromTheBrowser},
		{"Spanish", testSpanish},
		{"PreferenceCentreAndErasure", testPreferenceCentreAndErasure},
	} {
		t.Run(tc.name, func(t *testing.T) { tc.test(t, c) })
	}
}

// testSignupWithEmailAndPhone signs up for both channels as a person
// would: the form asks to check the email, the confirmation email goes out
// and a text asks to reply YES.
func testSignupWithEmailAndPhone(t *testing.T, c *chromium) {
	s := startSite(t)
	b := c.tab(t)

	if status := b.open(s.base + "/"); status != 200 {
		t.Fatalf("GET / = %d", status)
	}
	b.screenshot("signup.png")
	if b.checked("sms_consent") {
		t.Error("the SMS consent box is ticked before anyone ticks it")
	}
	if got := b.text(`label[for="sms_consent"]`); !strings.Contains(got, "STOP") || !strings.Contains(got, "HELP") || !strings.Contains(got, "rates may apply") {
		t.Errorf("the SMS consent wording lacks STOP, HELP or the rates notice: %q", got)
	}

	b.do("fill in the form",
		chromedp.SendKeys(chromedp.ID("first_name"), "Ada"),
		chromedp.SendKeys(chromedp.ID("email"), "ada@example.org"),
		chromedp.SendKeys(chromedp.ID("phone"), "(201) 555-0123"),
		chromedp.Click(chromedp.ID("sms_consent")),
		chromedp.SetValue(chromedp.ID("tz"), "America/New_York"),
		chromedp.SetValue(chromedp.ID("weekly-checkin-day"), "tue"),
		chromedp.SetValue(chromedp.ID("weekly-checkin-time"), "18:30"),
		chromedp.Click(chromedp.ID("p-gratitude")),
	)
	if status := b.press(`button[type="submit"]`); status != 200 {
		t.Fatalf("POST /signup = %d; the page says %q", status, b.text("main"))
	}
	if got := b.text("h1"); got != "Check your email and your phone" {
		t.Errorf("after signing up the page says %q; want \"Check your email and your phone\"", got)
	}

	s.confirmLink(t, "ada@example.org")
	text := s.waitText(t, "+12015550123")
	if !strings.Contains(text.Body, "reply YES") {
		t.Errorf("the first text does not ask to reply YES: %q", text.Body)
	}
	if len(s.texts.Messages()) != 1 {
		t.Errorf("the stand-in got %d texts; want only the one asking for YES", len(s.texts.Messages()))
	}

	waitSettled(t, s.st, s.clk) // the worker has recorded the text
	sub := s.subscriberByEmail(t, "ada@example.org")
	want := domain.Subscriber{
		ID: sub.ID, FirstName: "Ada", Email: "ada@example.org", TimeZone: "America/New_York", Locale: "en",
		Status: domain.Pending, CreatedAt: s.clk.Now(), Phone: "+12015550123",
		Channels: []domain.Channel{domain.Email, domain.SMS}, SMSStatus: domain.SMSPending,
		SMSFooterAt: s.clk.Now(), // the YES text says how to stop
		SMSAskedAt:  s.clk.Now(), // and a YES may now confirm it
	}
	if diff := cmp.Diff(want, sub, cmpopts.EquateApproxTime(0)); diff != "" {
		t.Errorf("stored subscriber (-want +got):\n%s", diff)
	}
	scheds, err := s.st.Schedules(context.Background(), sub.ID)
	if err != nil {
		t.Fatal(err)
	}
	rules := map[domain.Program]string{}
	for _, sc := range scheds {
		rules[sc.Program] = sc.Rule
	}
	wantRules := map[domain.Program]string{domain.WeeklyCheckin: "weekly:tue@18:30", domain.Gratitude: "weekly:fri@19:00"}
	if diff := cmp.Diff(wantRules, rules); diff != "" {
		t.Errorf("stored schedules (-want +got):\n%s", diff)
	}
}

// testFieldErrors sends the form wrong twice: each message shows next to
// its field, the field is marked invalid, what was typed stays, nothing is
// stored or sent; put right, the same page signs up.
func testFieldErrors(t *testing.T, c *chromium) {
	s := startSite(t)
	b := c.tab(t)
	b.open(s.base + "/")

	// Everything wrong at once: no name, an address without a domain, a
	// number too short, no program.
	b.do("fill in the form wrongly",
		chromedp.SendKeys(chromedp.ID("email"), "ada@example"),
		chromedp.SendKeys(chromedp.ID("phone"), "555-01"),
		chromedp.SendKeys(chromedp.ID("goal"), "my sister"),
		chromedp.Click(chromedp.ID("p-weekly-checkin")),
	)
	if status := b.press(`button[type="submit"]`); status != 422 {
		t.Fatalf("POST /signup with errors = %d; want 422", status)
	}
	b.checkErrors(map[string]wantError{
		"first_name-error": {"first_name", "first name"},
		"email-error":      {"email", "name@example.com"},
		"phone-error":      {"phone", "mobile number like"},
		"programs-error":   {"", "at least one"},
	})
	b.checkValues(map[string]string{"first_name": "", "email": "ada@example", "phone": "555-01", "goal": "my sister"})
	if b.checked("p-weekly-checkin") {
		t.Error("the weekly check-in came back ticked; it was unticked")
	}

	// Put right, but texts asked for without the consent box, at a time
	// outside the hours texts go out in.
	b.do("correct some fields",
		chromedp.SendKeys(chromedp.ID("first_name"), "Ada"),
		retype("email", "ada@example.org"),
		retype("phone", "(201) 555-0123"),
		chromedp.Click(chromedp.ID("p-weekly-checkin")),
		chromedp.SetValue(chromedp.ID("weekly-checkin-time"), "21:30"),
	)
	if status := b.press(`button[type="submit"]`); status != 422 {
		t.Fatalf("POST /signup with errors = %d; want 422", status)
	}
	b.checkErrors(map[string]wantError{
		"sms_consent-error":    {"sms_consent", "Tick the box"},
		"weekly-checkin-error": {"weekly-checkin-time", "between 09:00 and 20:00"},
	})
	b.checkValues(map[string]string{"first_name": "Ada", "email": "ada@example.org", "phone": "(201) 555-0123", "goal": "my sister", "weekly-checkin-time": "21:30"})

	if _, err := s.st.Redis().HGet(context.Background(), s.st.Prefix()+"idx:email", "ada@example.org").Result(); err == nil {
		t.Error("a form with errors stored a subscriber")
	}
	if n := len(s.mail.Messages()) + len(s.texts.Messages()); n != 0 {
		t.Errorf("a form with errors sent %d messages", n)
	}

	b.do("put the rest right",
		chromedp.Click(chromedp.ID("sms_consent")),
		chromedp.SetValue(chromedp.ID("weekly-checkin-time"), "19:30"),
	)
	if status := b.press(`button[type="submit"]`); status != 200 {
		t.Fatalf("POST /signup once put right = %d; the page says %q", status, b.text("main"))
	}
	s.confirmLink(t, "ada@example.org")
	s.waitText(t, "+12015550123")
}

// retype replaces what the field with id holds, as a person would: select
// all, then type.
func retype(id, text string) chromedp.Action[chromedp.Void] {
	return chromedp.Steps(
		chromedp.Focus(chromedp.ID(id)),
		chromedp.KeyEvent("a", chromedp.KeyModifiers(chromedp.ModifierCtrl)),
		chromedp.SendKeys(chromedp.ID(id), text),
	)
}

// checkValues checks what the form's fields hold, by id.
func (b *browser) checkValues(want map[string]string) {
	b.t.Helper()
	for id, w := range want {
		if got := b.value(id); got != w {
			b.t.Errorf("#%s holds %q; want %q", id, got, w)
		}
	}
}

// testWithoutJavaScript signs up with scripts off: the time zone is a
// plain select the server filled, and the form posts.
func testWithoutJavaScript(t *testing.T, c *chromium) {
	s := startSite(t)
	b := c.tab(t)
	call(b, "turn scripts off", emulation.SetScriptExecutionDisabled, emulation.SetScriptExecutionDisabledParams{Value: true})
	// The page's script would choose this zone (see testTimeZoneFromTheBrowser).
	call(b, "set the browser's time zone", emulation.SetTimezoneOverride, emulation.SetTimezoneOverrideParams{TimezoneID: "Europe/Madrid"})
	b.open(s.base + "/")

	// The tab's scripts are off, but the test's own evaluation still runs.
	if ran := get(b, "check that page scripts are off", chromedp.Evaluate[bool](`(() => {
		const s = document.createElement("script");
		s.textContent = "window.pageScriptRan = true";
		document.head.appendChild(s);
		return window.pageScriptRan === true;
	})()`)); ran {
		t.Fatal("a page script ran in the tab with scripts off")
	}
	tz := get(b, "read the time zone select", chromedp.Evaluate[struct {
		Tag     string `json:"tag"`
		Options int    `json:"options"`
		Value   string `json:"value"`
	}](`(() => { const s = document.getElementById("tz"); return {tag: s.tagName, options: s.options.length, value: s.value}; })()`))
	if tz.Tag != "SELECT" || tz.Options < 300 || tz.Value != "UTC" {
		t.Errorf("time zone control = %+v; want a plain select of hundreds of zones on the server's UTC", tz)
	}

	b.do("fill in the form",
		chromedp.SendKeys(chromedp.ID("first_name"), "Grace"),
		chromedp.SendKeys(chromedp.ID("email"), "grace@example.org"),
		// Type-ahead in the closed select, as a keyboard user would.
		chromedp.SendKeys(chromedp.ID("tz"), "Europe/Lisbon"),
	)
	if status := b.press(`button[type="submit"]`); status != 200 {
		t.Fatalf("POST /signup = %d; the page says %q", status, b.text("main"))
	}
	if got := b.text("h1"); got != "Check your email" {
		t.Errorf("after signing up the page says %q; want \"Check your email\"", got)
	}
	s.confirmLink(t, "grace@example.org")
	sub := s.subscriberByEmail(t, "grace@example.org")
	if sub.FirstName != "Grace" || sub.TimeZone != "Europe/Lisbon" || sub.Status != domain.Pending {
		t.Errorf("stored %s, %s, %s; want Grace, Europe/Lisbon, pending", sub.FirstName, sub.TimeZone, sub.Status)
	}
}

// testTimeZoneFromTheBrowser checks the form pre-selects the browser's
// zone. Chromium names some zones by their old ICU names (Asia/Katmandu,
// Asia/Calcutta), which the list spells the IANA way.
func testTimeZoneFromTheBrowser(t *testing.T, c *chromium) {
	s := startSite(t)
	b := c.tab(t)
	for _, zone := range []string{"Europe/Madrid", "America/Argentina/Buenos_Aires", "Asia/Kathmandu", "Asia/Kolkata"} {
		call(b, "set the browser's time zone", emulation.SetTimezoneOverride, emulation.SetTimezoneOverrideParams{TimezoneID: zone})
		b.open(s.base + "/")
		if got := b.value("tz"); got != zone {
			intl := get(b, "read the browser's zone", chromedp.Evaluate[string](`Intl.DateTimeFormat().resolvedOptions().timeZone`))
			t.Errorf("in %s (the browser says %q) the time zone select holds %q; want %s", zone, intl, got, zone)
		}
	}
}

// testSpanish uses the Spanish form and confirms from the Spanish page.
func testSpanish(t *testing.T, c *chromium) {
	s := startSite(t)
	b := c.tab(t)
	b.open(s.base + "/?lang=es")
	if got := b.attr("html", "lang"); got != "es" {
		t.Errorf("the form's lang is %q; want es", got)
	}
	for sel, want := range map[string]string{
		"h1":                      "Pequeños recordatorios para acercarte a la gente que te rodea",
		`label[for="first_name"]`: "Nombre",
		`label[for="email"]`:      "Correo electrónico",
		`label[for="tz"]`:         "Zona horaria",
		`button[type="submit"]`:   "Registrarme",
	} {
		if got := b.text(sel); got != want {
			t.Errorf("%s says %q; want %q", sel, got, want)
		}
	}
	if got := b.value("locale"); got != "es" {
		t.Errorf("the language of the messages is %q on the Spanish form; want es", got)
	}
	b.do("fill in the form",
		chromedp.SendKeys(chromedp.ID("first_name"), "Lucía"),
		chromedp.SendKeys(chromedp.ID("email"), "lucia@example.org"),
	)
	if status := b.press(`button[type="submit"]`); status != 200 {
		t.Fatalf("POST /signup = %d; the page says %q", status, b.text("main"))
	}
	if got := b.text("h1"); got != "Revisa tu correo" {
		t.Errorf("after signing up the page says %q; want \"Revisa tu correo\"", got)
	}

	b.open(s.confirmLink(t, "lucia@example.org"))
	if got := b.attr("html", "lang"); got != "es" {
		t.Errorf("the confirm page's lang is %q; want es", got)
	}
	if got := b.text("h1"); got != "Un último paso" {
		t.Errorf("the confirm page says %q; want \"Un último paso\"", got)
	}
	if got := b.text(`main button[type="submit"]`); got != "Sí, quiero recibirlos" {
		t.Errorf("the confirm button says %q; want \"Sí, quiero recibirlos\"", got)
	}
	if status := b.press(`main button[type="submit"]`); status != 200 {
		t.Fatalf("POST confirm = %d", status)
	}
	if sub := s.subscriberByEmail(t, "lucia@example.org"); sub.Status != domain.Active || sub.Locale != "es" || sub.FirstName != "Lucía" {
		t.Errorf("after confirming in the browser: %s, status %s, locale %s; want Lucía, active, es", sub.FirstName, sub.Status, sub.Locale)
	}
}

// testPreferenceCentreAndErasure opens the manage link of the confirmation
// email, changes a program's day and time, then erases everything.
func testPreferenceCentreAndErasure(t *testing.T, c *chromium) {
	s := startSite(t)
	b := c.tab(t)
	b.open(s.base + "/")
	b.do("fill in the form",
		chromedp.SendKeys(chromedp.ID("first_name"), "Wilhelmina"),
		chromedp.SendKeys(chromedp.ID("email"), "ada@example.org"),
		chromedp.SendKeys(chromedp.ID("goal"), "my cousin Ottoline"),
		chromedp.SendKeys(chromedp.ID("phone"), "(201) 555-0123"),
		chromedp.Click(chromedp.ID("sms_consent")),
		chromedp.SetValue(chromedp.ID("tz"), "Europe/London"),
	)
	if status := b.press(`button[type="submit"]`); status != 200 {
		t.Fatalf("POST /signup = %d; the page says %q", status, b.text("main"))
	}
	confirm := s.confirmEmail(t, "ada@example.org")
	b.open(s.linkIn(t, confirm, linkRE))
	if status := b.press(`main button[type="submit"]`); status != 200 {
		t.Fatalf("POST confirm = %d", status)
	}
	s.waitText(t, "+12015550123")
	id := subscriberID(t, s.st, "ada@example.org")

	manage := s.linkIn(t, confirm, manageLinkRE)
	if status := b.open(manage); status != 200 {
		t.Fatalf("GET the manage link = %d", status)
	}
	if got := b.text("h1"); got != "Your messages" {
		t.Fatalf("the manage page says %q; want \"Your messages\"", got)
	}
	b.checkValues(map[string]string{"weekly-checkin-day": "sun", "weekly-checkin-time": "18:00", "tz": "Europe/London"})

	b.do("change the weekly check-in",
		chromedp.SetValue(chromedp.ID("weekly-checkin-day"), "wed"),
		chromedp.SetValue(chromedp.ID("weekly-checkin-time"), "19:15"),
	)
	if status := b.press(`form[action$="/preferences"] button[type="submit"]`); status != 200 {
		t.Fatalf("saving the preferences ends on %d; the page says %q", status, b.text("main"))
	}
	if got := b.text(".notice"); got != "Your changes are saved." {
		t.Errorf("after saving the page says %q; want \"Your changes are saved.\"", got)
	}
	if got := b.text("table.schedules tbody"); !strings.Contains(got, "19:15") {
		t.Errorf("the schedule table does not show the new time 19:15:\n%s", got)
	}
	b.checkValues(map[string]string{"weekly-checkin-day": "wed", "weekly-checkin-time": "19:15"})
	scheds, err := s.st.Schedules(context.Background(), id)
	if err != nil || len(scheds) != 1 || scheds[0].Rule != "weekly:wed@19:15" {
		t.Errorf("stored schedules %+v, %v; want only the weekly check-in on wed at 19:15", scheds, err)
	}

	if status := b.press(`a[href$="/erase"]`); status != 200 {
		t.Fatalf("the erase link = %d", status)
	}
	if got := b.text("h1"); got != "Erase everything about you?" {
		t.Errorf("the erase link leads to %q; want the question \"Erase everything about you?\"", got)
	}
	if _, err := s.st.Subscriber(context.Background(), id); err != nil {
		t.Fatalf("asking to confirm the erasure changed the store: %v", err)
	}
	if status := b.press(`main form button[type="submit"]`); status != 200 {
		t.Fatalf("POST erase = %d", status)
	}
	if got := b.text("h1"); got != "Your data is erased" {
		t.Errorf("after erasing the page says %q; want \"Your data is erased\"", got)
	}

	waitSettled(t, s.st, s.clk)
	if _, err := s.st.Subscriber(context.Background(), id); !errors.Is(err, store.ErrNotFound) {
		t.Errorf("after erasure loading the subscriber gives %v; want store.ErrNotFound", err)
	}
	traces := redistest.Traces(t, s.st.Redis(), []string{s.st.Prefix() + "*", "asynq:*"}, []string{"ada@example.org", "+12015550123", "2015550123", "Wilhelmina", "Ottoline"})
	for _, tr := range traces {
		t.Errorf("left after erasure: %s", tr)
	}
	if status := b.open(manage); status != 404 {
		t.Errorf("the manage link after erasure = %d; want 404", status)
	}
}
