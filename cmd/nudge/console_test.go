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

	"github.com/chromedp/chromedp"
	"github.com/nudgehq/nudge/internal/axetest"
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

// TestConsoleIsolation: staff of clinic B, on every console route with
// clinic A's ids, get the 404 of a missing id and change nothing; a
// clinician sees only the clients assigned to them; each view and action
// is in the audit log once, under the one who did it.
func TestConsoleIsolation(t *testing.T) {
	a := startSMSApp(t, time.Date(2026, 12, 1, 10, 0, 0, 0, time.UTC), "GB")
	ctx := context.Background()
	cidA, keyA := newClinic(t, a, "Clinic A")
	cidB, _ := newClinic(t, a, "Clinic B")
	addStaff(t, a, cidA, "owner@a.test", "owner")
	c1 := addStaff(t, a, cidA, "one@a.test", "clinician")
	addStaff(t, a, cidA, "two@a.test", "clinician")
	addStaff(t, a, cidB, "owner@b.test", "owner")
	ana := enrolByEmail(t, a, keyA, "Ana", "ana@client.test")
	ben := enrolByEmail(t, a, keyA, "Ben", "ben@client.test")
	staffCLI(t, a, "assign", "--clinic", cidA, "--staff", c1, "--client", ana)
	if err := a.st.RaiseAlert(ctx, cidA, store.Alert{Client: ana, At: a.clk.Now(), Channel: "sms"}); err != nil {
		t.Fatal(err)
	}
	alerts, _ := a.st.Alerts(ctx, cidA)
	alertID := alerts[0].ID

	ownerA := signIn(t, a, "owner@a.test", 1)
	one := signIn(t, a, "one@a.test", 1)
	two := signIn(t, a, "two@a.test", 1)
	ownerB := signIn(t, a, "owner@b.test", 1)
	missing := store.NewID()

	// The answer to a missing id is what every foreign id must get.
	want := consoleDo(t, a, "GET", "/console/clients/"+missing, ownerB, nil)
	if want.status != http.StatusNotFound {
		t.Fatalf("missing id: %d", want.status)
	}
	type probe struct {
		method, path string
		form         url.Values
	}
	probes := func(client, alert string) []probe {
		return []probe{
			{"GET", "/console/clients/" + client, nil},
			{"POST", "/console/clients/" + client + "/pause", url.Values{"days": {"7"}}},
			{"POST", "/console/clients/" + client + "/resume", url.Values{}},
			{"POST", "/console/clients/" + client + "/assign", url.Values{"staff": {""}}},
			{"POST", "/console/alerts/" + alert + "/acknowledge", url.Values{}},
			{"POST", "/console/alerts/" + alert + "/resolve", url.Values{}},
		}
	}
	missingAnswers := map[string]consoleAnswer{}
	for _, p := range probes(missing, missing) {
		missingAnswers[p.method+strings.Replace(p.path, missing, "X", 2)] = consoleDo(t, a, p.method, p.path, ownerB, p.form)
	}
	for _, p := range probes(ana, alertID) {
		got := consoleDo(t, a, p.method, p.path, ownerB, p.form)
		m := missingAnswers[p.method+strings.NewReplacer(ana, "X", alertID, "X").Replace(p.path)]
		// The page names its own path (in the language links): compare
		// with the ids taken out.
		if got.status != http.StatusNotFound || strings.NewReplacer(ana, "X", alertID, "X").Replace(got.body) != strings.ReplaceAll(m.body, missing, "X") {
			t.Errorf("B %s %s: %d, want the missing id's 404", p.method, p.path, got.status)
		}
	}
	// Clinician two is not assigned Ana: the same answers.
	for _, p := range probes(ana, alertID) {
		if got := consoleDo(t, a, p.method, p.path, two, p.form); got.status != http.StatusNotFound {
			t.Errorf("clinician two %s %s: %d, want 404", p.method, p.path, got.status)
		}
	}
	// Nothing changed.
	sub, _ := a.st.Subscriber(ctx, ana)
	if !sub.PausedUntil.IsZero() {
		t.Errorf("Ana was paused: %v", sub.PausedUntil)
	}
	if by, _ := a.st.AssignedTo(ctx, cidA, ana); by != c1 {
		t.Errorf("Ana's assignment changed to %q", by)
	}
	if al, _ := a.st.Alert(ctx, cidA, alertID); al.State != store.AlertOpen {
		t.Errorf("alert moved to %s", al.State)
	}
	if log := auditActions(t, a, cidA); strings.Contains(strings.Join(log, "\n"), "@b.test") || count(log, "two@a.test client.view "+ana) != 0 {
		t.Errorf("refused requests in A's audit log: %q", log)
	}

	// Lists: B sees none of A's; clinician one sees Ana only; two sees
	// nobody; the owner sees both, with Ana's open alert flagged.
	if r := consoleDo(t, a, "GET", "/console/clients", ownerB, nil); strings.Contains(r.body, ana) || strings.Contains(r.body, ben) {
		t.Errorf("B's list shows A's clients")
	}
	if r := consoleDo(t, a, "GET", "/console/alerts", ownerB, nil); strings.Contains(r.body, alertID) {
		t.Errorf("B's alerts show A's")
	}
	if r := consoleDo(t, a, "GET", "/console/clients", one, nil); !strings.Contains(r.body, ana) || strings.Contains(r.body, ben) {
		t.Errorf("clinician one's list: %s", r.body)
	}
	if r := consoleDo(t, a, "GET", "/console/clients", two, nil); strings.Contains(r.body, ana) || strings.Contains(r.body, ben) {
		t.Errorf("clinician two's list shows others' clients")
	}
	if r := consoleDo(t, a, "GET", "/console/alerts", two, nil); strings.Contains(r.body, alertID) {
		t.Errorf("clinician two sees Ana's alert")
	}
	if r := consoleDo(t, a, "GET", "/console/audit", one, nil); r.status != http.StatusNotFound {
		t.Errorf("a clinician reads the audit log: %d", r.status)
	}
	r := consoleDo(t, a, "GET", "/console/clients", ownerA, nil)
	if !strings.Contains(r.body, ana) || !strings.Contains(r.body, ben) || strings.Count(r.body, "Open distress alert") != 1 {
		t.Errorf("owner's list: %s", r.body)
	}

	// The owner pauses Ana; clinician one views her page and resumes her.
	if r := consoleDo(t, a, "POST", "/console/clients/"+ana+"/pause", ownerA, url.Values{"days": {"14"}}); r.status != http.StatusSeeOther {
		t.Fatalf("pause: %d %s", r.status, r.body)
	}
	if sub, _ := a.st.Subscriber(ctx, ana); !sub.PausedUntil.Equal(a.clk.Now().AddDate(0, 0, 14).Truncate(time.Second)) {
		t.Errorf("paused until %v", sub.PausedUntil)
	}
	if r := consoleDo(t, a, "GET", "/console/clients/"+ana, one, nil); r.status != http.StatusOK || !strings.Contains(r.body, "Resume prompts") {
		t.Fatalf("clinician one's view of Ana: %d", r.status)
	}
	if r := consoleDo(t, a, "POST", "/console/clients/"+ana+"/resume", one, url.Values{}); r.status != http.StatusSeeOther {
		t.Fatalf("resume: %d", r.status)
	}
	if sub, _ := a.st.Subscriber(ctx, ana); sub.PausedUntil.After(a.clk.Now()) {
		t.Errorf("still paused until %v", sub.PausedUntil)
	}
	if r := consoleDo(t, a, "GET", "/console/audit", ownerA, nil); r.status != http.StatusOK || !strings.Contains(r.body, "client.pause") {
		t.Errorf("owner's audit page: %d", r.status)
	}
	log := auditActions(t, a, cidA)
	for want, n := range map[string]int{
		"owner@a.test client.pause " + ana:  1,
		"one@a.test client.view " + ana:     1,
		"one@a.test client.resume " + ana:   1,
		"owner@a.test client.view " + ana:   0,
		"two@a.test client.view " + ana:     0,
		"owner@a.test client.assign " + ana: 0,
	} {
		if got := count(log, want); got != n {
			t.Errorf("%d × %q in the audit log, want %d", got, want, n)
		}
	}

	// Erased through the API: her page is gone and so is her assignment.
	callAPI(t, a.base, keyA, "DELETE", "/api/v1/clients/"+ana, nil, http.StatusNoContent)
	if r := consoleDo(t, a, "GET", "/console/clients/"+ana, ownerA, nil); r.status != http.StatusNotFound {
		t.Errorf("an erased client's page: %d", r.status)
	}
	if by, _ := a.st.AssignedTo(ctx, cidA, ana); by != "" {
		t.Errorf("an erased client is still assigned to %q", by)
	}
}

// TestConsoleDistressAlertIsAcknowledgedThenResolved: a client's text in
// distress, through the signed Twilio webhook, raises an alert the clinic's
// staff see (without the words), acknowledge and resolve, who and when
// recorded.
func TestConsoleDistressAlertIsAcknowledgedThenResolved(t *testing.T) {
	a := startSMSApp(t, time.Date(2026, 12, 9, 15, 0, 0, 0, time.UTC), "US")
	cid, key := newClinic(t, a, "Clinic D")
	sid := addStaff(t, a, cid, "dr@d.test", "clinician")
	const phone = "+12015550177"
	c := callAPI(t, a.base, key, "POST", "/api/v1/clients", map[string]any{
		"first_name": "Cleo", "phone": phone, "time_zone": "America/New_York", "locale": "en", "channels": []string{"sms"},
		"consent": map[string]any{"obtained_by": "Dr R. Osei", "obtained_at": "2026-12-09T14:00:00Z", "method": "written"},
	}, http.StatusCreated)
	client := c["id"].(string)
	staffCLI(t, a, "assign", "--clinic", cid, "--staff", sid, "--client", client)
	waitTextTo(t, a.texts, phone, 1)
	textReply(t, a, phone, "SMconsoleyes000000000000000000001", "YES")
	const words = "i keep thinking about ending it all"
	textReply(t, a, phone, "SMconsolesad000000000000000000001", words)

	s := signIn(t, a, "dr@d.test", 1)
	list := consoleDo(t, a, "GET", "/console/clients", s, nil)
	if !strings.Contains(list.body, "Open distress alert") {
		t.Errorf("no flag on the clients list")
	}
	page := consoleDo(t, a, "GET", "/console/alerts", s, nil)
	if page.status != http.StatusOK || !strings.Contains(page.body, "Cleo") || strings.Contains(page.body, words) {
		t.Fatalf("alerts page: %d, has Cleo %v, has the words %v", page.status, strings.Contains(page.body, "Cleo"), strings.Contains(page.body, words))
	}
	alerts, _ := a.st.Alerts(context.Background(), cid)
	if len(alerts) != 1 || alerts[0].Client != client || alerts[0].State != store.AlertOpen {
		t.Fatalf("alerts: %+v", alerts)
	}
	id := alerts[0].ID
	// Resolving before acknowledging changes nothing.
	consoleDo(t, a, "POST", "/console/alerts/"+id+"/resolve", s, url.Values{})
	if al, _ := a.st.Alert(context.Background(), cid, id); al.State != store.AlertOpen {
		t.Errorf("resolved before acknowledged: %+v", al)
	}
	a.clk.Set(a.clk.Now().Add(time.Minute))
	if r := consoleDo(t, a, "POST", "/console/alerts/"+id+"/acknowledge", s, url.Values{}); r.status != http.StatusSeeOther {
		t.Fatalf("acknowledge: %d", r.status)
	}
	ackAt := a.clk.Now()
	a.clk.Set(a.clk.Now().Add(20 * time.Minute))
	if r := consoleDo(t, a, "POST", "/console/alerts/"+id+"/resolve", s, url.Values{}); r.status != http.StatusSeeOther {
		t.Fatalf("resolve: %d", r.status)
	}
	al, _ := a.st.Alert(context.Background(), cid, id)
	if al.State != store.AlertResolved || al.AcknowledgedBy != sid || !al.AcknowledgedAt.Equal(ackAt) || al.ResolvedBy != sid || !al.ResolvedAt.Equal(a.clk.Now()) {
		t.Errorf("alert: %+v", al)
	}
	if list := consoleDo(t, a, "GET", "/console/clients", s, nil); strings.Contains(list.body, "Open distress alert") {
		t.Errorf("the flag stays after the alert is resolved")
	}
	log := auditActions(t, a, cid)
	for _, want := range []string{"dr@d.test alert.acknowledge " + client, "dr@d.test alert.resolve " + client} {
		if count(log, want) != 1 {
			t.Errorf("%q not once in the audit log: %q", want, log)
		}
	}
	raw, _ := a.st.AuditLog(context.Background(), cid, 100)
	for _, e := range raw {
		if strings.Contains(e.Detail, "ending") {
			t.Errorf("the words in the audit log: %+v", e)
		}
	}
}

// TestConsoleInTheBrowser walks the console in Chromium, in English and
// in Spanish: sign-in from the emailed link, the clients list, a client's
// page, the alerts (acknowledged in one language, resolved in the other)
// and the audit log; axe-core finds no serious or critical violation on
// any page.
func TestConsoleInTheBrowser(t *testing.T) {
	axe := axetest.Source(t)
	c := startChromium(t)
	a := startSMSApp(t, time.Date(2026, 12, 9, 15, 0, 0, 0, time.UTC), "US")
	ctx := context.Background()
	cid, key := newClinic(t, a, "Clinic W")
	addStaff(t, a, cid, "owner@w.test", "owner")
	const phone = "+12015550188"
	cl := callAPI(t, a.base, key, "POST", "/api/v1/clients", map[string]any{
		"first_name": "Dana", "phone": phone, "time_zone": "America/New_York", "locale": "en", "channels": []string{"sms"},
		"consent": map[string]any{"obtained_by": "Dr R. Osei", "obtained_at": "2026-12-09T14:00:00Z", "method": "written"},
	}, http.StatusCreated)
	client := cl["id"].(string)
	waitTextTo(t, a.texts, phone, 1)
	textReply(t, a, phone, "SMbrowseryes000000000000000000001", "YES")
	for i, score := range []int{2, 4} {
		day := a.clk.Now().AddDate(0, 0, i-7)
		if err := a.st.RecordAnswer(ctx, client, store.Answer{Occurrence: "weekly-checkin:" + day.Format("2006-01-02"), Score: score,
			Channel: "sms", AnsweredAt: day, SentAt: day}); err != nil {
			t.Fatal(err)
		}
	}
	textReply(t, a, phone, "SMbrowsersad000000000000000000001", "i keep thinking about ending it all")

	for i, lang := range []string{"en", "es"} {
		b := c.tab(t)
		b.open(a.base + "/console/sign-in?lang=" + lang)
		if got := b.attr("html", "lang"); got != lang {
			t.Errorf("sign-in page lang %q, want %q", got, lang)
		}
		b.axeClean(axe, lang+" sign-in")
		b.do("type the address", chromedp.SendKeys(chromedp.ID("email"), "owner@w.test"))
		if status := b.press(`main button[type="submit"]`); status != http.StatusOK {
			t.Fatalf("%s: ask for a link = %d", lang, status)
		}
		b.axeClean(axe, lang+" check your email")
		link := a.base + waitLinks(t, a, "owner@w.test", i+1) + "?lang=" + lang
		b.open(link)
		b.axeClean(axe, lang+" sign-in button")
		if status := b.press(`main button[type="submit"]`); status != http.StatusOK {
			t.Fatalf("%s: sign in = %d", lang, status)
		}
		if got := b.text("h1"); got != map[string]string{"en": "Clients", "es": "Clientes"}[lang] {
			t.Fatalf("%s: after sign-in the page is %q", lang, got)
		}
		if got := b.text("table.schedules tbody"); !strings.Contains(got, "Dana") || !strings.Contains(got, "⚠") {
			t.Errorf("%s: the clients list reads %q", lang, got)
		}
		b.axeClean(axe, lang+" clients")
		b.press(`a[href^="/console/clients/` + client + `"]`)
		if got := b.attr(`svg[role="img"]`, "aria-labelledby"); got != "chart-title chart-desc" {
			t.Errorf("%s: the chart is labelled by %q", lang, got)
		}
		b.axeClean(axe, lang+" client page")
		b.press(`nav a[href^="/console/alerts"]`)
		b.axeClean(axe, lang+" alerts")
		action := map[string]string{"en": "acknowledge", "es": "resolve"}[lang]
		if status := b.press(`form[action*="/` + action + `"] button`); status != http.StatusOK {
			t.Fatalf("%s: %s = %d", lang, action, status)
		}
		b.axeClean(axe, lang+" alerts after "+action)
		b.press(`nav a[href^="/console/audit"]`)
		b.axeClean(axe, lang+" audit log")
	}
	alerts, _ := a.st.Alerts(ctx, cid)
	if len(alerts) != 1 || alerts[0].State != store.AlertResolved {
		t.Errorf("alerts after the walk: %+v", alerts)
	}
}
