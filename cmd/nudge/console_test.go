package main

import (
	"bytes"
	"context"
	"io"
	"net/http"
	"net/url"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/nudgehq/nudge/internal/smtptest"
	"github.com/nudgehq/nudge/internal/store"
)

// The clinic console, through its public HTTP interface on a real App:
// staff made with the CLI, links from the emails the worker sends, clients
// enrolled over the API, distress raised by a signed Twilio webhook.

var (
	consoleLinkRE = regexp.MustCompile(`https://nudge\.test/console/sign-in/[A-Za-z0-9_-]+`)
	staffIDRE     = regexp.MustCompile(`staff\s+([a-z2-7]{16})`)
)

// consoleCookie is the session cookie's name outside production.
const consoleCookie = "nudge_console"

// noFollow is a client that shows redirects instead of following them.
var noFollow = &http.Client{CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}

type consoleAnswer struct {
	status   int
	body     string
	location string
	cookie   *http.Cookie
	header   http.Header
}

// consoleDo sends one request to the console, with a session cookie if one
// is given.
func consoleDo(t *testing.T, a *smsApp, method, path, session string, form url.Values) consoleAnswer {
	t.Helper()
	var body io.Reader
	if form != nil {
		body = strings.NewReader(form.Encode())
	}
	req, err := http.NewRequest(method, a.base+path, body)
	if err != nil {
		t.Fatal(err)
	}
	if form != nil {
		req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	}
	if session != "" {
		req.AddCookie(&http.Cookie{Name: consoleCookie, Value: session})
	}
	resp, err := noFollow.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	raw, _ := io.ReadAll(resp.Body)
	out := consoleAnswer{status: resp.StatusCode, body: string(raw), location: resp.Header.Get("Location"), header: resp.Header}
	for _, c := range resp.Cookies() {
		if c.Name == consoleCookie && c.Value != "" {
			out.cookie = c
		}
	}
	return out
}

// newClinic makes a clinic with the CLI and returns its id and API key.
func newClinic(t *testing.T, a *smsApp, name string) (string, string) {
	t.Helper()
	var out, errOut bytes.Buffer
	if code := clinicCommand(context.Background(), []string{"create", "--name", name}, a.getenv, a.clk.Now, &out, &errOut); code != 0 {
		t.Fatalf("nudge clinic create: %d %s", code, errOut.String())
	}
	id := regexp.MustCompile(`clinic\s+(\S+)`).FindStringSubmatch(out.String())[1]
	return id, apiKeyRE.FindStringSubmatch(out.String())[1]
}

// staffCLI runs "nudge clinic staff …" and returns its output.
func staffCLI(t *testing.T, a *smsApp, args ...string) string {
	t.Helper()
	var out, errOut bytes.Buffer
	if code := clinicCommand(context.Background(), append([]string{"staff"}, args...), a.getenv, a.clk.Now, &out, &errOut); code != 0 {
		t.Fatalf("nudge clinic staff %v: %d %s", args, code, errOut.String())
	}
	return out.String()
}

func addStaff(t *testing.T, a *smsApp, clinicID, addr, role string) string {
	t.Helper()
	out := staffCLI(t, a, "add", "--clinic", clinicID, "--email", addr, "--role", role)
	return staffIDRE.FindStringSubmatch(out)[1]
}

// enrolByEmail enrols an email-only client over the API.
func enrolByEmail(t *testing.T, a *smsApp, key, name, addr string) string {
	t.Helper()
	c := callAPI(t, a.base, key, "POST", "/api/v1/clients", map[string]any{
		"first_name": name, "email": addr, "time_zone": "Europe/London", "locale": "en",
		"consent": map[string]any{"obtained_by": "Dr R. Osei", "obtained_at": a.clk.Now().Add(-time.Hour).Format(time.RFC3339), "method": "written"},
	}, http.StatusCreated)
	return c["id"].(string)
}

// askLink asks for a sign-in link for addr and returns the page's answer.
func askLink(t *testing.T, a *smsApp, addr string) consoleAnswer {
	t.Helper()
	return consoleDo(t, a, "POST", "/console/sign-in", "", url.Values{"email": {addr}})
}

// waitLinks waits until addr has had n sign-in links and returns the
// newest, as a path on the test server.
func waitLinks(t *testing.T, a *smsApp, addr string, n int) string {
	t.Helper()
	var link string
	a.mail.WaitFor(t, 10*time.Second, "sign-in link to "+addr, func(ms []smtptest.Message) bool {
		var got []string
		for _, m := range ms {
			if len(m.To) == 1 && m.To[0] == addr {
				got = append(got, consoleLinkRE.FindAllString(m.Text, -1)...)
			}
		}
		if len(got) >= n {
			link = got[n-1]
			return true
		}
		return false
	})
	return strings.TrimPrefix(link, "https://nudge.test")
}

// signIn asks for a link, opens it and presses its button; it returns the
// session id.
func signIn(t *testing.T, a *smsApp, addr string, n int) string {
	t.Helper()
	if r := askLink(t, a, addr); r.status != http.StatusOK {
		t.Fatalf("ask for a link: %d", r.status)
	}
	link := waitLinks(t, a, addr, n)
	r := consoleDo(t, a, "POST", link, "", url.Values{})
	if r.status != http.StatusSeeOther || r.cookie == nil || r.location != "/console/clients" {
		t.Fatalf("sign in: %d to %q, cookie %v: %s", r.status, r.location, r.cookie, r.body)
	}
	return r.cookie.Value
}

// auditActions lists a clinic's audit entries as "email action client".
func auditActions(t *testing.T, a *smsApp, clinicID string) []string {
	t.Helper()
	es, err := a.st.AuditLog(context.Background(), clinicID, 1000)
	if err != nil {
		t.Fatal(err)
	}
	var out []string
	for _, e := range es {
		out = append(out, strings.TrimSpace(e.Email+" "+e.Action+" "+e.Client))
	}
	return out
}

func count(list []string, want string) int {
	n := 0
	for _, s := range list {
		if s == want {
			n++
		}
	}
	return n
}

func TestConsoleSignInLinkWorksOnceWithinFifteenMinutes(t *testing.T) {
	a := startSMSApp(t, time.Date(2026, 12, 1, 10, 0, 0, 0, time.UTC), "GB")
	cid, _ := newClinic(t, a, "Clinic S")
	addStaff(t, a, cid, "owner@clinic-s.test", "owner")

	// A known and an unknown address get the same page; only one email.
	known := askLink(t, a, "owner@clinic-s.test")
	unknown := askLink(t, a, "nobody@clinic-s.test")
	if known.status != http.StatusOK || known.body != unknown.body || known.header.Get("Cache-Control") != "no-store" {
		t.Fatalf("known %d, unknown %d; the pages differ: %v", known.status, unknown.status, known.body != unknown.body)
	}
	link := waitLinks(t, a, "owner@clinic-s.test", 1)
	time.Sleep(200 * time.Millisecond)
	for _, m := range a.mail.Messages() {
		if strings.Contains(strings.Join(m.To, ","), "nobody@") {
			t.Errorf("an unknown address was emailed")
		}
	}

	// Opening the link (a mail scanner) signs nobody in.
	if r := consoleDo(t, a, "GET", link, "", nil); r.status != http.StatusOK || r.cookie != nil || !strings.Contains(r.body, `method="post"`) {
		t.Fatalf("GET link: %d, cookie %v", r.status, r.cookie)
	}
	r := consoleDo(t, a, "POST", link, "", url.Values{})
	if r.status != http.StatusSeeOther || r.cookie == nil {
		t.Fatalf("POST link: %d %s", r.status, r.body)
	}
	if c := r.cookie; !c.HttpOnly || c.SameSite != http.SameSiteLaxMode || c.Path != "/" {
		t.Errorf("cookie attributes: %+v", c)
	}
	if p := consoleDo(t, a, "GET", "/console/clients", r.cookie.Value, nil); p.status != http.StatusOK || p.header.Get("Cache-Control") != "no-store" || p.header.Get("Content-Security-Policy") == "" {
		t.Fatalf("clients page: %d %v", p.status, p.header)
	}
	// A second use is refused.
	if again := consoleDo(t, a, "POST", link, "", url.Values{}); again.status != http.StatusNotFound || again.cookie != nil {
		t.Errorf("reused link: %d, cookie %v", again.status, again.cookie)
	}
	// A link older than 15 minutes is refused.
	askLink(t, a, "owner@clinic-s.test")
	late := waitLinks(t, a, "owner@clinic-s.test", 2)
	a.clk.Set(a.clk.Now().Add(15*time.Minute + time.Second))
	if r := consoleDo(t, a, "POST", late, "", url.Values{}); r.status != http.StatusNotFound || r.cookie != nil {
		t.Errorf("expired link: %d, cookie %v", r.status, r.cookie)
	}
	// A made-up link is refused the same way.
	if r := consoleDo(t, a, "POST", "/console/sign-in/"+store.NewSecret(), "", url.Values{}); r.status != http.StatusNotFound {
		t.Errorf("made-up link: %d", r.status)
	}
	// Signed out, the session is gone.
	if r := consoleDo(t, a, "POST", "/console/sign-out", r.cookie.Value, url.Values{}); r.status != http.StatusOK {
		t.Errorf("sign out: %d", r.status)
	}
	if p := consoleDo(t, a, "GET", "/console/clients", r.cookie.Value, nil); p.status != http.StatusSeeOther || !strings.HasPrefix(p.location, "/console/sign-in") {
		t.Errorf("after sign-out: %d %q", p.status, p.location)
	}

	log := auditActions(t, a, cid)
	for want, n := range map[string]int{"owner@clinic-s.test sign-in": 1, "owner@clinic-s.test sign-in.failed": 2, "owner@clinic-s.test sign-out": 1, "owner@clinic-s.test sign-in.link-sent": 2} {
		if got := count(log, want); got != n {
			t.Errorf("%d × %q in the audit log, want %d: %q", got, want, n, log)
		}
	}
	es, _ := a.st.AuditLog(context.Background(), cid, 10)
	for _, e := range es {
		if e.IP == "" {
			t.Errorf("audit entry without IP: %+v", e)
		}
	}
}

func TestConsoleSessionEndsWhenIdleOrOld(t *testing.T) {
	a := startSMSApp(t, time.Date(2026, 12, 1, 10, 0, 0, 0, time.UTC), "GB")
	cid, _ := newClinic(t, a, "Clinic T")
	addStaff(t, a, cid, "idle@clinic-t.test", "owner")
	ok := func(session string) bool {
		r := consoleDo(t, a, "GET", "/console/clients", session, nil)
		return r.status == http.StatusOK
	}

	s := signIn(t, a, "idle@clinic-t.test", 1)
	a.clk.Set(a.clk.Now().Add(29 * time.Minute))
	if !ok(s) {
		t.Fatal("refused after 29 idle minutes")
	}
	a.clk.Set(a.clk.Now().Add(30 * time.Minute))
	if ok(s) {
		t.Fatal("accepted after 30 idle minutes")
	}

	s = signIn(t, a, "idle@clinic-t.test", 2)
	start := a.clk.Now()
	for a.clk.Now().Sub(start) < 12*time.Hour-20*time.Minute {
		a.clk.Set(a.clk.Now().Add(20 * time.Minute))
		if !ok(s) {
			t.Fatalf("refused %s after sign-in while in use", a.clk.Now().Sub(start))
		}
	}
	a.clk.Set(start.Add(12 * time.Hour))
	if ok(s) {
		t.Fatal("accepted 12 hours after sign-in")
	}
}

func TestConsoleRemovedStaffIsSignedOutAtOnce(t *testing.T) {
	a := startSMSApp(t, time.Date(2026, 12, 1, 10, 0, 0, 0, time.UTC), "GB")
	cid, _ := newClinic(t, a, "Clinic R")
	sid := addStaff(t, a, cid, "leaver@clinic-r.test", "clinician")
	s := signIn(t, a, "leaver@clinic-r.test", 1)
	if r := consoleDo(t, a, "GET", "/console/clients", s, nil); r.status != http.StatusOK {
		t.Fatalf("before removal: %d", r.status)
	}
	out := staffCLI(t, a, "list", "--clinic", cid)
	if !strings.Contains(out, sid) || !strings.Contains(out, "leaver@clinic-r.test") {
		t.Errorf("staff list: %s", out)
	}
	staffCLI(t, a, "remove", "--clinic", cid, "--staff", sid)
	if r := consoleDo(t, a, "GET", "/console/clients", s, nil); r.status != http.StatusSeeOther {
		t.Errorf("after removal: %d", r.status)
	}
	if out := staffCLI(t, a, "list", "--clinic", cid); strings.Contains(out, sid) {
		t.Errorf("still listed: %s", out)
	}
}
