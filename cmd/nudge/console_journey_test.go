package main

import (
	"context"
	"html"
	"net/http"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"
	"github.com/nudgehq/nudge/internal/axetest"
	"github.com/nudgehq/nudge/internal/domain"
	"github.com/nudgehq/nudge/internal/store"
)

// The whole clinic journey in one browser: staff made with the CLI, a
// client enrolled, confirmed by text, given a session and two prompts that
// arrive as the clock moves on, a score answered by text on the chart and
// in the timeline, a distress alert seen, acknowledged and resolved, and
// the ways a sign-in or a session ends.

// signInInBrowser asks for a link on the sign-in page, opens the nth link
// emailed to addr and presses its button; it ends on the clients list.
func signInInBrowser(t *testing.T, b *browser, a *smsApp, addr, lang string, n int) {
	t.Helper()
	b.open(a.base + "/console/sign-in?lang=" + lang)
	b.do("type the address", chromedp.SendKeys(chromedp.ID("email"), addr))
	if status := b.press(`main button[type="submit"]`); status != http.StatusOK {
		t.Fatalf("ask for a link = %d", status)
	}
	b.open(a.base + waitLinks(t, a, addr, n) + "?lang=" + lang)
	if status := b.press(`main button[type="submit"]`); status != http.StatusOK {
		t.Fatalf("sign in = %d", status)
	}
	if got := b.text("h1"); got != map[string]string{"en": "Clients", "es": "Clientes"}[lang] {
		t.Fatalf("after sign-in the page is %q", got)
	}
}

// refused checks that the tab is not signed in: the clients list sends it
// to the sign-in page and shows nothing of the clinic's.
func refused(t *testing.T, b *browser, a *smsApp, what string, secrets ...string) {
	t.Helper()
	b.open(a.base + "/console/clients?lang=en")
	loc := get(b, "read the address", chromedp.Location())
	if !strings.Contains(loc, "/console/sign-in") {
		t.Errorf("%s: the clients list went to %s, want the sign-in page", what, loc)
	}
	if got := b.text("h1"); got != "Sign in to the clinic console" {
		t.Errorf("%s: the page is %q, want the sign-in page", what, got)
	}
	page := get(b, "read the page", chromedp.OuterHTML("html"))
	for _, s := range secrets {
		if strings.Contains(page, s) {
			t.Errorf("%s: the page shows %q", what, s)
		}
	}
}

// TestConsoleJourneyInTheBrowser walks a clinic's whole journey in
// Chromium, through the real app, Redis and the Twilio stand-in; axe-core
// finds no serious or critical violation on any page visited, in English,
// and on the enrol, client and alerts pages in Spanish.
func TestConsoleJourneyInTheBrowser(t *testing.T) {
	axe := axetest.Source(t)
	c := startChromium(t)
	// Wednesday 9 December 2026, 10:00 in New York.
	a := startSMSApp(t, time.Date(2026, 12, 9, 15, 0, 0, 0, time.UTC), "US")
	ctx := context.Background()
	cid, _ := newClinic(t, a, "Clinic J")
	addStaff(t, a, cid, "owner@j.test", "owner")
	dr := addStaff(t, a, cid, "dr@j.test", "clinician")
	const phone = "+12015550161"
	b := c.tab(t)

	// The owner signs in and sets the clinic's idle limit to 15 minutes.
	b.open(a.base + "/console/sign-in?lang=en")
	b.axeClean(axe, "sign-in")
	b.do("type the address", chromedp.SendKeys(chromedp.ID("email"), "owner@j.test"))
	if status := b.press(`main button[type="submit"]`); status != http.StatusOK {
		t.Fatalf("owner: ask for a link = %d", status)
	}
	b.axeClean(axe, "check your email")
	b.open(a.base + waitLinks(t, a, "owner@j.test", 1) + "?lang=en")
	b.axeClean(axe, "sign-in button")
	if status := b.press(`main button[type="submit"]`); status != http.StatusOK {
		t.Fatalf("owner: sign in = %d", status)
	}
	b.axeClean(axe, "clients, empty")
	b.press(`nav a[href^="/console/settings"]`)
	b.axeClean(axe, "settings")
	b.do("set the idle limit", chromedp.SetValue(chromedp.ID("idle_minutes"), "15"))
	if status := b.press(`form[action^="/console/settings/console"] button`); status != http.StatusOK {
		t.Fatalf("owner: save the idle limit = %d", status)
	}
	if cs, _ := a.st.ConsoleSettingsOf(ctx, cid); cs.IdleMinutes != 15 {
		t.Fatalf("idle limit %d, want 15", cs.IdleMinutes)
	}
	if status := b.press(`form[action^="/console/sign-out"] button`); status != http.StatusOK {
		t.Fatalf("owner: sign out = %d", status)
	}
	b.axeClean(axe, "signed out")

	// The clinician signs in from the emailed link.
	signInInBrowser(t, b, a, "dr@j.test", "en", 1)

	// Enrols a texting client: the form, the confirmation showing the text
	// that will be sent, Send.
	b.press(`a[href^="/console/clients/new"]`)
	b.axeClean(axe, "enrol form")
	b.do("fill the form",
		retype("first_name", "Jo"), retype("phone", phone), retype("time_zone", "America/New_York"),
		chromedp.Click(chromedp.ID("chan_email")), chromedp.Click(chromedp.ID("chan_sms")), chromedp.Click(chromedp.ID("consent_sms")))
	if status := b.press(`button[value="check"]`); status != http.StatusOK {
		t.Fatalf("continue = %d", status)
	}
	preview := b.text("pre.message")
	if !strings.Contains(preview, "YES") {
		t.Errorf("the confirmation step shows %q, want the text asking for YES", preview)
	}
	b.axeClean(axe, "enrol confirmation")
	if n := len(textsTo(a.texts, phone)); n != 0 {
		t.Fatalf("%d texts before Send", n)
	}
	if status := b.press(`button[value="send"]`); status != http.StatusOK {
		t.Fatalf("send = %d", status)
	}
	b.axeClean(axe, "client page, pending")
	ids := clinicClients(t, a, cid)
	if len(ids) != 1 {
		t.Fatalf("clients after Send: %v", ids)
	}
	id := ids[0]
	if by, _ := a.st.AssignedTo(ctx, cid, id); by != dr {
		t.Errorf("the client is assigned to %q, want the clinician who enrolled", by)
	}
	if sent := waitTextTo(t, a.texts, phone, 1); strings.TrimSpace(sent.Body) != preview {
		t.Errorf("texted %q, previewed %q", sent.Body, preview)
	}

	// The client confirms with YES.
	textReply(t, a, phone, "SMjourneyyes00000000000000000001", "YES")
	if sub, _ := a.st.Subscriber(ctx, id); sub.Status != domain.Active {
		t.Fatalf("after YES the client is %s", sub.Status)
	}

	// The next session: Thursday 10:00 in New York.
	b.open(a.base + "/console/clients/" + id + "?lang=en")
	b.do("set a session", chromedp.SetValue(chromedp.ID("session-at"), "2026-12-10T10:00"))
	if status := b.press(`form[action*="/session"] button`); status != http.StatusOK {
		t.Fatalf("set session = %d", status)
	}
	if got := b.text("dl"); !strings.Contains(got, "2026-12-10 10:00 EST") {
		t.Errorf("the client page reads %q, want the next session", got)
	}
	b.axeClean(axe, "client page, active")

	// A library prompt the day after the session at 18:00.
	b.press(`a[href*="/prompts/new?kind=library"]`)
	b.axeClean(axe, "library prompt")
	if status := b.press(`button[value="preview"]`); status != http.StatusOK {
		t.Fatalf("library preview = %d", status)
	}
	libPreview := b.text("pre.message")
	b.axeClean(axe, "library prompt preview")
	if status := b.press(`button[value="add"]`); status != http.StatusOK {
		t.Fatalf("add library prompt = %d", status)
	}
	// A written prompt two days after the session at 18:00.
	const written = "What would you like to bring next time?"
	b.press(`a[href*="/prompts/new?kind=text"]`)
	b.do("write a prompt", retype("text", written), chromedp.SetValue(chromedp.ID("days"), "2"))
	b.axeClean(axe, "written prompt")
	if status := b.press(`button[value="preview"]`); status != http.StatusOK {
		t.Fatalf("written preview = %d", status)
	}
	b.axeClean(axe, "written prompt preview")
	if status := b.press(`button[value="add"]`); status != http.StatusOK {
		t.Fatalf("add written prompt = %d", status)
	}
	if got := b.text(`table.schedules`); !strings.Contains(got, written) || !strings.Contains(got, "2026-12-11 18:00 EST") || !strings.Contains(got, "2026-12-12 18:00 EST") {
		t.Errorf("the prompts table reads %q", got)
	}
	b.axeClean(axe, "client page with prompts")
	if st, _ := a.st.PromptStateOf(ctx, cid, id); len(st.Prompts) != 2 || len(st.Sessions) != 1 {
		t.Fatalf("%d prompts, %d sessions", len(st.Prompts), len(st.Sessions))
	}

	// The clinician leaves the console open: 14 idle minutes are fine,
	// past the clinic's 15 the session is over.
	a.clk.Set(a.clk.Now().Add(14 * time.Minute))
	b.open(a.base + "/console/clients?lang=en")
	if got := b.text("h1"); got != "Clients" {
		t.Fatalf("after 14 idle minutes the page is %q", got)
	}
	a.clk.Set(a.clk.Now().Add(15*time.Minute + time.Second))
	refused(t, b, a, "a session idle 15 minutes", "Jo", id)

	// Friday 18:00 in New York: the library prompt arrives; the client
	// answers 2. Saturday 18:00: the written one; the client answers 4.
	a.clk.Set(time.Date(2026, 12, 11, 23, 0, 5, 0, time.UTC))
	// (The preview shows the STOP footer; the footer goes out only now and then.)
	if got := waitTextTo(t, a.texts, phone, 2); !strings.Contains(got.Body, "Hi Jo") || !strings.HasPrefix(libPreview, strings.TrimSpace(got.Body)) {
		t.Errorf("Friday's text %q, previewed %q", got.Body, libPreview)
	}
	textReply(t, a, phone, "SMjourneyans00000000000000000001", "2 tired all day")
	a.clk.Set(time.Date(2026, 12, 12, 23, 0, 5, 0, time.UTC))
	if got := waitTextTo(t, a.texts, phone, 3); !strings.Contains(got.Body, written) {
		t.Errorf("Saturday's text %q, want the written prompt", got.Body)
	}
	textReply(t, a, phone, "SMjourneyans00000000000000000002", "4 went for a walk")
	ratings, _ := a.st.Answers(ctx, id, time.Time{}, time.Time{})
	if len(ratings) != 2 || ratings[0].Score != 2 || ratings[1].Score != 4 || ratings[1].Note != "went for a walk" {
		t.Fatalf("answers: %+v", ratings)
	}

	// On Monday the clinician signs in again. The list shows the last
	// score and its change.
	a.clk.Set(time.Date(2026, 12, 14, 14, 0, 0, 0, time.UTC))
	signInInBrowser(t, b, a, "dr@j.test", "en", 2)
	used := waitLinks(t, a, "dr@j.test", 2)
	if got := b.text(`table.schedules tbody tr`); !strings.Contains(got, "Jo") || !strings.Contains(got, "4 (+2)") {
		t.Errorf("the clients list reads %q, want the score 4 (+2)", got)
	}
	if got := b.attr(`td span.change`, "aria-label"); got != "up 2 from the answer before" {
		t.Errorf("the change reads out as %q", got)
	}
	b.axeClean(axe, "clients with a score")

	// The chart (its bars and its table) and the timeline.
	b.press(`a[href^="/console/clients/` + id + `"]`)
	bars := get(b, "read the bars", chromedp.Evaluate[[]string](`[...document.querySelectorAll('svg[role="img"] rect.bar title')].map(e => e.textContent)`))
	if len(bars) != 2 || !strings.Contains(bars[0], "2") || !strings.Contains(bars[1], "4") {
		t.Errorf("the chart's bars: %q", bars)
	}
	if got := get(b, "read the chart's description", chromedp.Evaluate[string](`document.querySelector('svg[role="img"] desc').textContent`)); got == "" {
		t.Errorf("the chart has no description")
	}
	rows := get(b, "read the scores table", chromedp.Evaluate[[]string](`[...document.querySelectorAll('table.schedules')].filter(t => t.caption && t.caption.textContent.startsWith('Scores')).flatMap(t => [...t.tBodies[0].rows].map(r => r.innerText))`))
	if len(rows) != 2 || !strings.Contains(rows[0], "2026-12-11\t2") || !strings.Contains(rows[1], "2026-12-12\t4") {
		t.Errorf("the chart's table: %q", rows)
	}
	b.axeClean(axe, "client page with scores")
	b.press(`a[href*="/timeline"]`)
	tl := b.text("table.schedules tbody")
	walk, tired := strings.Index(tl, "went for a walk"), strings.Index(tl, "tired all day")
	if walk < 0 || tired < 0 || walk > tired {
		t.Errorf("the timeline (newest first) reads %q", tl)
	}
	if !regexp.MustCompile(`sms\s+4\s+went for a walk`).MatchString(tl) {
		t.Errorf("the timeline does not show the score 4 with the reply: %q", tl)
	}
	b.axeClean(axe, "timeline")

	// A reply in distress raises an alert the clinician sees, acknowledges
	// and resolves, who and when shown.
	const words = "i keep thinking about ending it all"
	textReply(t, a, phone, "SMjourneysad00000000000000000001", words)
	b.open(a.base + "/console/clients?lang=en")
	if got := b.text(`table.schedules tbody tr`); !strings.Contains(got, "⚠") {
		t.Errorf("no alert flag on the list: %q", got)
	}
	b.axeClean(axe, "clients with an alert")
	b.press(`nav a[href^="/console/alerts"]`)
	if got := b.text("table.schedules tbody"); !strings.Contains(got, "Jo") || !strings.Contains(got, "Distress") || strings.Contains(got, "ending") {
		t.Errorf("the alerts table reads %q", got)
	}
	b.axeClean(axe, "alerts, open")
	a.clk.Set(a.clk.Now().Add(2 * time.Minute))
	ackAt := a.clk.Now()
	if status := b.press(`form[action*="/acknowledge"] button`); status != http.StatusOK {
		t.Fatalf("acknowledge = %d", status)
	}
	if got, want := b.text("table.schedules tbody"), "Acknowledged by dr@j.test at "+ackAt.Format("2006-01-02 15:04 UTC"); !strings.Contains(got, want) {
		t.Errorf("after acknowledging the table reads %q, want %q", got, want)
	}
	b.axeClean(axe, "alerts, acknowledged")
	a.clk.Set(a.clk.Now().Add(5 * time.Minute))
	resAt := a.clk.Now()
	if status := b.press(`form[action*="/resolve"] button`); status != http.StatusOK {
		t.Fatalf("resolve = %d", status)
	}
	if got, want := b.text("table.schedules tbody"), "Resolved by dr@j.test at "+resAt.Format("2006-01-02 15:04 UTC"); !strings.Contains(got, want) {
		t.Errorf("after resolving the table reads %q, want %q", got, want)
	}
	b.axeClean(axe, "alerts, resolved")
	alerts, _ := a.st.Alerts(ctx, cid)
	if len(alerts) != 1 || alerts[0].State != store.AlertResolved || alerts[0].AcknowledgedBy != dr || alerts[0].ResolvedBy != dr ||
		!alerts[0].AcknowledgedAt.Equal(ackAt) || !alerts[0].ResolvedAt.Equal(resAt) {
		t.Errorf("alerts after the walk: %+v", alerts)
	}

	// The same pages in Spanish: the list, enrolment, the client, alerts.
	b.open(a.base + "/console/clients?lang=es")
	if got := b.text(`table.schedules tbody tr`); !strings.Contains(got, "4 (+2)") {
		t.Errorf("es: the clients list reads %q", got)
	}
	if got := b.attr(`td span.change`, "aria-label"); got != "2 más que la respuesta anterior" {
		t.Errorf("es: the change reads out as %q", got)
	}
	b.axeClean(axe, "es clients")
	b.press(`a[href^="/console/clients/new"]`)
	if got := b.attr("html", "lang"); got != "es" {
		t.Errorf("es: the enrol page's lang is %q", got)
	}
	b.axeClean(axe, "es enrol form")
	b.do("fill the form", retype("first_name", "Dani"), retype("email", "dani@client.test"), retype("time_zone", "America/New_York"),
		chromedp.Click(chromedp.ID("consent_email")))
	if status := b.press(`button[value="check"]`); status != http.StatusOK {
		t.Fatalf("es: continue = %d", status)
	}
	b.axeClean(axe, "es enrol confirmation")
	b.open(a.base + "/console/clients/" + id + "?lang=es")
	b.axeClean(axe, "es client page")
	b.press(`a[href*="/timeline"]`)
	b.axeClean(axe, "es timeline")
	b.press(`nav a[href^="/console/alerts"]`)
	if got := b.text("table.schedules tbody"); !strings.Contains(got, "Resuelta por dr@j.test") {
		t.Errorf("es: the alerts table reads %q", got)
	}
	b.axeClean(axe, "es alerts")
	if ids := clinicClients(t, a, cid); len(ids) != 1 {
		t.Errorf("the unsent Spanish enrolment added a client: %v", ids)
	}

	// Sign out: the console shows nothing more; the link used to sign in
	// does not work a second time.
	if status := b.press(`form[action^="/console/sign-out"] button`); status != http.StatusOK {
		t.Fatalf("sign out = %d", status)
	}
	refused(t, b, a, "signed out", "Jo", id)
	b.open(a.base + used + "?lang=en")
	if status := b.press(`main button[type="submit"]`); status != http.StatusNotFound {
		t.Errorf("a reused link = %d, want 404", status)
	}
	if got := b.text("h1"); got != "This link does not work" {
		t.Errorf("a reused link shows %q", got)
	}
	b.axeClean(axe, "a link that does not work")
	refused(t, b, a, "a reused link", "Jo", id)

	// A link older than 15 minutes is refused (the owner's: an address
	// gets only a few links a day).
	askLink(t, a, "owner@j.test")
	late := waitLinks(t, a, "owner@j.test", 2)
	a.clk.Set(a.clk.Now().Add(15*time.Minute + time.Second))
	b.open(a.base + late + "?lang=en")
	if status := b.press(`main button[type="submit"]`); status != http.StatusNotFound {
		t.Errorf("an expired link = %d, want 404", status)
	}
	if got := b.text("h1"); got != "This link does not work" {
		t.Errorf("an expired link shows %q", got)
	}
	refused(t, b, a, "an expired link", "Jo", id)

	// A removed staff member's session ends at once.
	signInInBrowser(t, b, a, "dr@j.test", "en", 3)
	staffCLI(t, a, "remove", "--clinic", cid, "--staff", dr)
	refused(t, b, a, "a removed staff member", "Jo", id)

	log := auditActions(t, a, cid)
	for want, n := range map[string]int{
		"owner@j.test settings.console":     1,
		"dr@j.test client.enrol " + id:      1,
		"dr@j.test client.session " + id:    1,
		"dr@j.test client.prompt.add " + id: 2,
		"dr@j.test client.timeline " + id:   2,
		"dr@j.test alert.acknowledge " + id: 1,
		"dr@j.test alert.resolve " + id:     1,
		"dr@j.test sign-in":                 3,
		"dr@j.test sign-in.failed":          1,
		"owner@j.test sign-in.failed":       1,
	} {
		if got := count(log, want); got != n {
			t.Errorf("%d × %q in the audit log, want %d", got, want, n)
		}
	}
	raw, _ := a.st.AuditLog(ctx, cid, 1000)
	for _, e := range raw {
		if strings.Contains(e.Detail, "walk") || strings.Contains(e.Detail, "ending") {
			t.Errorf("a client's words in the audit log: %+v", e)
		}
	}
}

// TestConsoleClientsListShowsTheChange: the clients list shows each
// client's last score with its change from the answer before, as a sign
// and in words, in English and Spanish; a first answer has no change; the
// scores show only to those who may see the client.
func TestConsoleClientsListShowsTheChange(t *testing.T) {
	a := startSMSApp(t, time.Date(2026, 12, 9, 15, 0, 0, 0, time.UTC), "US")
	ctx := context.Background()
	cid, key := newClinic(t, a, "Clinic C")
	otherCID, _ := newClinic(t, a, "Clinic O")
	addStaff(t, a, cid, "owner@c.test", "owner")
	doc := addStaff(t, a, cid, "doc@c.test", "clinician")
	addStaff(t, a, cid, "two@c.test", "clinician")
	addStaff(t, a, otherCID, "owner@o.test", "owner")
	clients := map[string][]int{"Ana": {2, 4}, "Ben": {3, 5, 4}, "Cai": {3, 3}, "Dee": {5}, "Eli": nil}
	ids := map[string]string{}
	for name, scores := range clients {
		id := enrolByEmail(t, a, key, name, strings.ToLower(name)+"@client.test")
		ids[name] = id
		staffCLI(t, a, "assign", "--clinic", cid, "--staff", doc, "--client", id)
		for i, score := range scores {
			day := a.clk.Now().AddDate(0, 0, i-7)
			if err := a.st.RecordAnswer(ctx, id, store.Answer{Occurrence: "weekly-checkin:" + day.Format("2006-01-02"), Score: score,
				Channel: "email", AnsweredAt: day, SentAt: day}); err != nil {
				t.Fatal(err)
			}
		}
	}
	cell := func(body, id string) string {
		m := regexp.MustCompile(`(?s)<a href="/console/clients/` + id + `\?lang=\w+">.*?</tr>`).FindString(body)
		cells := regexp.MustCompile(`<td>(.*?)</td>`).FindAllStringSubmatch(m, -1)
		if len(cells) < 5 {
			t.Fatalf("no row for %s", id)
		}
		return html.UnescapeString(cells[4][1])
	}
	want := map[string]map[string]string{
		"en": {
			"Ana": `4 <span class="change" role="img" aria-label="up 2 from the answer before" title="up 2 from the answer before">(+2)</span>`,
			"Ben": `4 <span class="change" role="img" aria-label="down 1 from the answer before" title="down 1 from the answer before">(−1)</span>`,
			"Cai": `3 <span class="change" role="img" aria-label="the same as the answer before" title="the same as the answer before">(=)</span>`,
			"Dee": `5`, "Eli": ``,
		},
		"es": {
			"Ana": `4 <span class="change" role="img" aria-label="2 más que la respuesta anterior" title="2 más que la respuesta anterior">(+2)</span>`,
			"Ben": `4 <span class="change" role="img" aria-label="1 menos que la respuesta anterior" title="1 menos que la respuesta anterior">(−1)</span>`,
			"Cai": `3 <span class="change" role="img" aria-label="igual que la respuesta anterior" title="igual que la respuesta anterior">(=)</span>`,
			"Dee": `5`, "Eli": ``,
		},
	}
	owner := signIn(t, a, "owner@c.test", 1)
	s := signIn(t, a, "doc@c.test", 1)
	for _, session := range []string{owner, s} {
		for lang, cells := range want {
			r := consoleDo(t, a, "GET", "/console/clients?lang="+lang, session, nil)
			if r.status != http.StatusOK {
				t.Fatalf("%s list: %d", lang, r.status)
			}
			for name, w := range cells {
				if got := cell(r.body, ids[name]); got != w {
					t.Errorf("%s: %s's last score reads %q, want %q", lang, name, got, w)
				}
			}
		}
	}
	// Neither an unassigned clinician nor another clinic sees them.
	for _, who := range []string{"two@c.test", "owner@o.test"} {
		r := consoleDo(t, a, "GET", "/console/clients", signIn(t, a, who, 1), nil)
		if r.status != http.StatusOK || strings.Contains(r.body, `class="change"`) || strings.Contains(r.body, ids["Ana"]) {
			t.Errorf("%s's list shows the others' scores: %d", who, r.status)
		}
	}
}
