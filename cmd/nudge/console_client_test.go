package main

import (
	"context"
	"encoding/csv"
	"errors"
	"html"
	"mime"
	"net/http"
	"net/url"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"
	"github.com/nudgehq/nudge/internal/axetest"
	"github.com/nudgehq/nudge/internal/domain"
	"github.com/nudgehq/nudge/internal/smtptest"
	"github.com/nudgehq/nudge/internal/store"
)

// The clinic console's client work: enrolment with a confirmation step,
// sessions, prompts, event notes, the timeline, the export, discharge and
// removal, and the list's search, through the real app's HTTP interface.

var clientPathRE = regexp.MustCompile(`^/console/clients/([a-z0-9]+)\?done=enrolled`)

// enrolValues is a valid enrolment form.
func enrolValues(a *smsApp, name, email, phone, zone, locale string) url.Values {
	v := url.Values{
		"first_name": {name}, "email": {email}, "phone": {phone}, "time_zone": {zone}, "locale": {locale},
		"consent_by": {"Dr R. Osei"}, "consent_on": {a.clk.Now().AddDate(0, 0, -1).Format("2006-01-02")}, "consent_method": {"written"},
	}
	if email != "" {
		v.Set("chan_email", "1")
		v.Set("consent_email", "1")
	}
	if phone != "" {
		v.Set("chan_sms", "1")
		v.Set("consent_sms", "1")
	}
	return v
}

func withStep(v url.Values, step string) url.Values {
	out := url.Values{}
	for k, vs := range v {
		out[k] = vs
	}
	out.Set("step", step)
	return out
}

// clinicClients lists a clinic's client ids.
func clinicClients(t *testing.T, a *smsApp, cid string) []string {
	t.Helper()
	ids, _, err := a.st.ClientIDs(context.Background(), cid, "", 1000)
	if err != nil {
		t.Fatal(err)
	}
	return ids
}

// previewed is the text of a confirmation step's preview: the subject
// line and the bodies, unescaped.
var (
	subjectRE = regexp.MustCompile(`<strong>(?:Subject|Asunto):</strong> <span lang="es">([^<]*)</span></p>`)
	bodyRE    = regexp.MustCompile(`(?s)<pre class="message" lang="es">(.*?)</pre>`)
)

func TestConsoleEnrolShowsTheConfirmationBeforeSending(t *testing.T) {
	a := startSMSApp(t, time.Date(2026, 12, 9, 15, 0, 0, 0, time.UTC), "US")
	ctx := context.Background()
	cid, _ := newClinic(t, a, "Clinic E")
	addStaff(t, a, cid, "owner@e.test", "owner")
	doc := addStaff(t, a, cid, "doc@e.test", "clinician")
	other := addStaff(t, a, cid, "other@e.test", "clinician")
	s := signIn(t, a, "doc@e.test", 1)

	if r := consoleDo(t, a, "GET", "/console/clients/new", s, nil); r.status != http.StatusOK || !strings.Contains(r.body, `name="consent_email"`) || r.header.Get("Cache-Control") != "no-store" {
		t.Fatalf("enrol form: %d", r.status)
	}

	// Bad input: each message next to its field, nothing recorded.
	bad := enrolValues(a, "", "not-an-address", "", "Mars/Olympus", "en")
	bad.Del("consent_email")
	r := consoleDo(t, a, "POST", "/console/clients/new", s, bad)
	if r.status != http.StatusUnprocessableEntity {
		t.Fatalf("bad form: %d", r.status)
	}
	for _, id := range []string{"first_name-error", "consent_email-error", "time_zone-error"} {
		if !strings.Contains(r.body, `id="`+id+`"`) {
			t.Errorf("no %s on the re-rendered form", id)
		}
	}
	if !strings.Contains(r.body, `value="not-an-address"`) {
		t.Errorf("the form lost what was typed")
	}
	// The service's own check, a field at a time.
	bad = enrolValues(a, "Lucía", "not-an-address", "", "America/New_York", "es")
	if r := consoleDo(t, a, "POST", "/console/clients/new", s, bad); r.status != http.StatusUnprocessableEntity || !strings.Contains(r.body, `id="email-error"`) {
		t.Errorf("bad address: %d", r.status)
	}
	bad = enrolValues(a, "Lucía", "lucia@client.test", "", "America/New_York", "es")
	bad.Set("consent_on", a.clk.Now().AddDate(0, 0, 3).Format("2006-01-02"))
	if r := consoleDo(t, a, "POST", "/console/clients/new", s, bad); r.status != http.StatusUnprocessableEntity || !strings.Contains(r.body, `id="consent_on-error"`) {
		t.Errorf("consent in the future: %d", r.status)
	}
	if ids := clinicClients(t, a, cid); len(ids) != 0 {
		t.Fatalf("bad forms enrolled %v", ids)
	}

	// A good form: the confirmation step shows the email and the text, in
	// the client's language, and still nothing is recorded or sent.
	const phone = "+12015550123"
	good := enrolValues(a, "Lucía", "lucia@client.test", phone, "America/New_York", "es")
	good.Set("clinician", other) // a clinician cannot assign to someone else
	r = consoleDo(t, a, "POST", "/console/clients/new", s, good)
	if r.status != http.StatusOK || !strings.Contains(r.body, `value="send"`) || !strings.Contains(r.body, `value="change"`) {
		t.Fatalf("confirmation step: %d", r.status)
	}
	subj := subjectRE.FindStringSubmatch(r.body)
	bodies := bodyRE.FindAllStringSubmatch(r.body, -1)
	if subj == nil || len(bodies) != 2 {
		t.Fatalf("confirmation step previews: subject %v, %d bodies", subj, len(bodies))
	}
	previewSubject, previewText := html.UnescapeString(subj[1]), html.UnescapeString(bodies[1][1])
	if !strings.Contains(html.UnescapeString(bodies[0][1]), "Lucía") || !strings.Contains(previewText, "SI") && !strings.Contains(previewText, "YES") {
		t.Errorf("previews: %q / %q", bodies[0][1], previewText)
	}
	if ids := clinicClients(t, a, cid); len(ids) != 0 {
		t.Fatalf("the confirmation step enrolled %v", ids)
	}
	if n := len(textsTo(a.texts, phone)); n != 0 {
		t.Fatalf("%d texts before Send", n)
	}

	// Change goes back to the form with everything kept.
	if r := consoleDo(t, a, "POST", "/console/clients/new", s, withStep(good, "change")); r.status != http.StatusOK || !strings.Contains(r.body, `value="Lucía"`) || !strings.Contains(r.body, `value="lucia@client.test"`) {
		t.Errorf("change: %d", r.status)
	}

	// Send: enrolled, pending, assigned to the clinician who enrolled.
	r = consoleDo(t, a, "POST", "/console/clients/new", s, withStep(good, "send"))
	m := clientPathRE.FindStringSubmatch(r.location)
	if r.status != http.StatusSeeOther || m == nil {
		t.Fatalf("send: %d to %q: %s", r.status, r.location, r.body)
	}
	id := m[1]
	sub, err := a.st.Client(ctx, cid, id)
	if err != nil || sub.Status != domain.Pending || sub.Locale != "es" || sub.Phone != phone || len(sub.Channels) != 2 {
		t.Fatalf("enrolled: %+v %v", sub, err)
	}
	if by, _ := a.st.AssignedTo(ctx, cid, id); by != doc {
		t.Errorf("assigned to %q, want the clinician who enrolled (%s)", by, doc)
	}
	// What was sent is what was shown.
	var sent smtptest.Message
	a.mail.WaitFor(t, 10*time.Second, "the confirmation email", func(ms []smtptest.Message) bool {
		for _, x := range ms {
			if len(x.To) == 1 && x.To[0] == "lucia@client.test" {
				sent = x
				return true
			}
		}
		return false
	})
	gotSubject, _ := new(mime.WordDecoder).DecodeHeader(sent.Header.Get("Subject"))
	if gotSubject != previewSubject {
		t.Errorf("emailed subject %q, previewed %q", gotSubject, previewSubject)
	}
	if text := waitTextTo(t, a.texts, phone, 1); text.Body != previewText {
		t.Errorf("texted %q, previewed %q", text.Body, previewText)
	}
	if log := auditActions(t, a, cid); count(log, "doc@e.test client.enrol "+id) != 1 {
		t.Errorf("audit log: %q", log)
	}
	page := consoleDo(t, a, "GET", r.location, s, nil)
	if page.status != http.StatusOK || !strings.Contains(page.body, "Client enrolled") {
		t.Errorf("client page after enrolling: %d", page.status)
	}

	// The same address again: refused next to the field, nothing new.
	r = consoleDo(t, a, "POST", "/console/clients/new", s, withStep(enrolValues(a, "Lu", "lucia@client.test", "", "America/New_York", "en"), "send"))
	if r.status != http.StatusUnprocessableEntity || !strings.Contains(r.body, `id="email-error"`) || strings.Contains(r.body, id) {
		t.Errorf("an address enrolled twice: %d", r.status)
	}
	if ids := clinicClients(t, a, cid); len(ids) != 1 {
		t.Errorf("clients after a refused second enrolment: %v", ids)
	}

	// An owner picks the clinician.
	o := signIn(t, a, "owner@e.test", 1)
	byOwner := enrolValues(a, "Omar", "omar@client.test", "", "Europe/London", "en")
	byOwner.Set("clinician", other)
	r = consoleDo(t, a, "POST", "/console/clients/new", o, withStep(byOwner, "send"))
	if m = clientPathRE.FindStringSubmatch(r.location); m == nil {
		t.Fatalf("owner's enrolment: %d %q", r.status, r.location)
	}
	if by, _ := a.st.AssignedTo(ctx, cid, m[1]); by != other {
		t.Errorf("owner's pick: assigned to %q, want %s", by, other)
	}
	if log := auditActions(t, a, cid); count(log, "owner@e.test client.enrol "+m[1]) != 1 {
		t.Errorf("audit log: %q", log)
	}
}

// activeSMSClient enrols a texting client over the API, confirmed by YES,
// and assigns them to staff (if given).
func activeSMSClient(t *testing.T, a *smsApp, cid, key, staff, name, phone, sid string) string {
	t.Helper()
	c := callAPI(t, a.base, key, "POST", "/api/v1/clients", map[string]any{
		"first_name": name, "phone": phone, "time_zone": "America/New_York", "locale": "en", "channels": []string{"sms"},
		"consent": map[string]any{"obtained_by": "Dr R. Osei", "obtained_at": a.clk.Now().Add(-time.Hour).Format(time.RFC3339), "method": "written"},
	}, http.StatusCreated)
	id := c["id"].(string)
	if staff != "" {
		staffCLI(t, a, "assign", "--clinic", cid, "--staff", staff, "--client", id)
	}
	waitTextTo(t, a.texts, phone, 1)
	textReply(t, a, phone, sid, "YES")
	if sub, _ := a.st.Subscriber(context.Background(), id); sub.Status != domain.Active {
		t.Fatalf("%s not active: %s", name, sub.Status)
	}
	return id
}

func TestConsoleSessionsAndPrompts(t *testing.T) {
	a := startSMSApp(t, time.Date(2026, 12, 9, 15, 0, 0, 0, time.UTC), "US")
	ctx := context.Background()
	cid, key := newClinic(t, a, "Clinic P")
	doc := addStaff(t, a, cid, "doc@p.test", "clinician")
	id := activeSMSClient(t, a, cid, key, doc, "Pat", "+12015550131", "SMsessyes00000000000000000000001")
	s := signIn(t, a, "doc@p.test", 1)
	base := "/console/clients/" + id

	// A session in the client's zone (New York, UTC-5 in December).
	if r := consoleDo(t, a, "POST", base+"/session", s, url.Values{"at": {"next tuesday"}}); r.status != http.StatusUnprocessableEntity || !strings.Contains(r.body, `id="session-error"`) {
		t.Errorf("bad session: %d", r.status)
	}
	if r := consoleDo(t, a, "POST", base+"/session", s, url.Values{"at": {"2028-01-01T10:00"}}); r.status != http.StatusUnprocessableEntity || !strings.Contains(r.body, `id="session-error"`) {
		t.Errorf("a session two years ahead: %d", r.status)
	}
	if r := consoleDo(t, a, "POST", base+"/session", s, url.Values{"at": {"2026-12-02T09:30"}}); r.status != http.StatusSeeOther {
		t.Fatalf("past session: %d %s", r.status, r.body)
	}
	if r := consoleDo(t, a, "POST", base+"/session", s, url.Values{"at": {"2026-12-15T10:00"}}); r.status != http.StatusSeeOther {
		t.Fatalf("a session: %d", r.status)
	}
	if r := consoleDo(t, a, "POST", base+"/session", s, url.Values{"at": {"2026-12-16T11:00"}}); r.status != http.StatusSeeOther {
		t.Fatalf("the session moved: %d", r.status)
	}
	st, err := a.st.PromptStateOf(ctx, cid, id)
	if err != nil {
		t.Fatal(err)
	}
	if next := st.NextSession(a.clk.Now()); !next.Equal(time.Date(2026, 12, 16, 16, 0, 0, 0, time.UTC)) {
		t.Errorf("next session %v, want 16:00 UTC (11:00 in New York)", next)
	}
	page := consoleDo(t, a, "GET", base, s, nil)
	if !strings.Contains(page.body, "2026-12-16 11:00 EST") || !strings.Contains(page.body, "2026-12-02 09:30 EST") || strings.Contains(page.body, "2026-12-15 10:00") {
		t.Errorf("client page sessions: next 16 Dec %v, past 2 Dec %v, moved 15 Dec gone %v",
			strings.Contains(page.body, "2026-12-16 11:00 EST"), strings.Contains(page.body, "2026-12-02 09:30 EST"), !strings.Contains(page.body, "2026-12-15 10:00"))
	}

	// Past sessions beyond the few the planner keeps are still listed.
	for _, day := range []string{"2026-11-04", "2026-11-11", "2026-11-18", "2026-11-25"} {
		if r := consoleDo(t, a, "POST", base+"/session", s, url.Values{"at": {day + "T09:30"}}); r.status != http.StatusSeeOther {
			t.Fatalf("past session %s: %d", day, r.status)
		}
	}
	if st, _ := a.st.PromptStateOf(ctx, cid, id); len(st.Sessions) > store.KeepSessions+1 {
		t.Fatalf("the planner keeps %d sessions", len(st.Sessions))
	}
	page = consoleDo(t, a, "GET", base, s, nil)
	if n := strings.Count(page.body, " 09:30 EST</li>"); n != 5 {
		t.Errorf("%d past sessions listed, want 5", n)
	}

	// A library prompt: previewed in the client's language and channel.
	if r := consoleDo(t, a, "GET", base+"/prompts/new?kind=library", s, nil); r.status != http.StatusOK || !strings.Contains(r.body, `<select id="template"`) {
		t.Fatalf("library prompt form: %d", r.status)
	}
	lib := url.Values{"kind": {"library"}, "template": {"3"}, "when": {"session"}, "days": {"1"}, "time": {"18:00"}}
	r := consoleDo(t, a, "POST", base+"/prompts", s, withStep(lib, "preview"))
	if r.status != http.StatusOK || !strings.Contains(r.body, `<pre class="message" lang="en">nudge: `) || strings.Contains(r.body, "<strong>Subject:</strong>") {
		t.Errorf("library preview: %d", r.status)
	}
	if got, _ := a.st.PromptStateOf(ctx, cid, id); len(got.Prompts) != 0 {
		t.Fatalf("a preview added a prompt")
	}
	if r := consoleDo(t, a, "POST", base+"/prompts", s, withStep(lib, "add")); r.status != http.StatusSeeOther {
		t.Fatalf("add library prompt: %d %s", r.status, r.body)
	}

	// A written prompt: the count after Preview, the footer shown, too long refused.
	if r := consoleDo(t, a, "GET", base+"/prompts/new?kind=text", s, nil); r.status != http.StatusOK || !strings.Contains(r.body, `<textarea id="text"`) ||
		!strings.Contains(r.body, "Reply STOP to opt out") || !strings.Contains(r.body, `<script src="/console/static/prompt.js"`) {
		t.Fatalf("written prompt form: %d", r.status)
	}
	if js := consoleDo(t, a, "GET", "/console/static/prompt.js", "", nil); js.status != http.StatusOK || !strings.HasPrefix(js.header.Get("Content-Type"), "text/javascript") {
		t.Errorf("counter script: %d %q", js.status, js.header.Get("Content-Type"))
	}
	written := url.Values{"kind": {"text"}, "text": {"What would you like to bring on Tuesday?"}, "when": {"at"}, "at": {"2026-12-12T19:00"}}
	r = consoleDo(t, a, "POST", base+"/prompts", s, withStep(written, "preview"))
	if r.status != http.StatusOK || !strings.Contains(r.body, `<p id="count">1 of at most 2 text messages`) {
		t.Errorf("written preview: %d %s", r.status, regexp.MustCompile(`<p id="count"[^<]*`).FindString(r.body))
	}
	long := withStep(written, "preview")
	long.Set("text", strings.Repeat("Think about one small step you could take this week. ", 7))
	if r := consoleDo(t, a, "POST", base+"/prompts", s, long); !strings.Contains(r.body, `<p id="count" class="error">`) {
		t.Errorf("a long text's count is not flagged")
	}
	long.Set("step", "add")
	if r := consoleDo(t, a, "POST", base+"/prompts", s, long); r.status != http.StatusUnprocessableEntity || !strings.Contains(r.body, `id="text-error"`) {
		t.Errorf("a long text added: %d", r.status)
	}
	badTime := withStep(written, "add")
	badTime.Set("at", "")
	if r := consoleDo(t, a, "POST", base+"/prompts", s, badTime); r.status != http.StatusUnprocessableEntity || !strings.Contains(r.body, `id="at-error"`) {
		t.Errorf("a prompt without a time: %d", r.status)
	}
	if r := consoleDo(t, a, "POST", base+"/prompts", s, withStep(written, "add")); r.status != http.StatusSeeOther {
		t.Fatalf("add written prompt: %d %s", r.status, r.body)
	}
	st, _ = a.st.PromptStateOf(ctx, cid, id)
	if len(st.Prompts) == 2 && st.Prompts[0].Template == 0 {
		st.Prompts[0], st.Prompts[1] = st.Prompts[1], st.Prompts[0]
	}
	if len(st.Prompts) != 2 || st.Prompts[0].Rule != "session+1d@18:00" || st.Prompts[0].Template != 3 ||
		st.Prompts[1].Rule != "at:2026-12-13T00:00:00Z" || st.Prompts[1].Text != "What would you like to bring on Tuesday?" {
		t.Fatalf("prompts: %+v", st.Prompts)
	}
	page = consoleDo(t, a, "GET", base, s, nil)
	if !strings.Contains(page.body, "the day after the session, at 18:00") || !strings.Contains(page.body, "2026-12-17 18:00 EST") {
		t.Errorf("the client page does not list the library prompt with its next time")
	}

	// Removing one: it is gone, and so is its plan.
	if r := consoleDo(t, a, "POST", base+"/prompts/"+st.Prompts[1].ID+"/remove", s, url.Values{}); r.status != http.StatusSeeOther {
		t.Fatalf("remove prompt: %d", r.status)
	}
	if got, _ := a.st.PromptStateOf(ctx, cid, id); len(got.Prompts) != 1 {
		t.Errorf("after removal: %+v", got.Prompts)
	}
	if r := consoleDo(t, a, "POST", base+"/prompts/pnothere/remove", s, url.Values{}); r.status != http.StatusNotFound {
		t.Errorf("removing a missing prompt: %d", r.status)
	}
	log := auditActions(t, a, cid)
	for want, n := range map[string]int{"doc@p.test client.session " + id: 7, "doc@p.test client.prompt.add " + id: 2, "doc@p.test client.prompt.remove " + id: 1} {
		if got := count(log, want); got != n {
			t.Errorf("%d × %q in the audit log, want %d", got, want, n)
		}
	}
}

func TestConsoleEventNotesChartTimelineAndExport(t *testing.T) {
	a := startSMSApp(t, time.Date(2026, 12, 9, 15, 0, 0, 0, time.UTC), "US")
	ctx := context.Background()
	cid, key := newClinic(t, a, "Clinic N")
	addStaff(t, a, cid, "owner@n.test", "owner")
	doc := addStaff(t, a, cid, "doc@n.test", "clinician")
	id := enrolByEmail(t, a, key, "Noa", "noa@client.test")
	staffCLI(t, a, "assign", "--clinic", cid, "--staff", doc, "--client", id)
	for i, ans := range []store.Answer{{Score: 2, Note: "=HYPERLINK(\"http://x.test\")"}, {Score: 4, Note: "+1 felt better"}, {Score: 5, Note: "@home, -ish\tfine"}} {
		day := time.Date(2026, 12, 1+3*i, 18, 0, 0, 0, time.UTC)
		ans.Occurrence, ans.Channel, ans.AnsweredAt, ans.SentAt = "weekly-checkin:"+day.Format("2006-01-02"), "email", day, day
		if err := a.st.RecordAnswer(ctx, id, ans); err != nil {
			t.Fatal(err)
		}
	}
	if err := a.st.AddReply(ctx, id, store.Reply{At: time.Date(2026, 12, 8, 12, 0, 0, 0, time.UTC), Channel: "sms", Text: "walked with my sister"}); err != nil {
		t.Fatal(err)
	}
	s := signIn(t, a, "doc@n.test", 1)
	base := "/console/clients/" + id

	// Notes: bad input next to the field; a good one on the chart and in its table.
	if r := consoleDo(t, a, "POST", base+"/notes", s, url.Values{"day": {"yesterday"}, "note": {"x"}}); r.status != http.StatusUnprocessableEntity || !strings.Contains(r.body, `id="note-day-error"`) {
		t.Errorf("bad note day: %d", r.status)
	}
	if r := consoleDo(t, a, "POST", base+"/notes", s, url.Values{"day": {"2026-12-05"}, "note": {"  "}}); r.status != http.StatusUnprocessableEntity || !strings.Contains(r.body, `id="note-error"`) {
		t.Errorf("empty note: %d", r.status)
	}
	if r := consoleDo(t, a, "POST", base+"/notes", s, url.Values{"day": {"2026-12-05"}, "note": {"-started a new job"}}); r.status != http.StatusSeeOther {
		t.Fatalf("add note: %d %s", r.status, r.body)
	}
	notes, _ := a.st.ClientNotes(ctx, cid, id)
	if len(notes) != 1 || notes[0].Staff != doc || notes[0].Text != "-started a new job" {
		t.Fatalf("notes: %+v", notes)
	}
	page := consoleDo(t, a, "GET", base, s, nil)
	// Between the answers of 4 and 7 December: after the second bar.
	if !strings.Contains(page.body, `<g class="note-marker"><line class="note" x1="68"`) || !strings.Contains(page.body, "<title>2026-12-05: -started a new job</title>") {
		t.Errorf("no marker on the chart")
	}
	if !regexp.MustCompile(`<td>2026-12-04</td><td>4</td>.*\n<tr class="note-row"><td>2026-12-05</td><td></td><td></td><td>-started a new job</td>`).MatchString(page.body) {
		t.Errorf("the note is not in the chart's table between the scores")
	}

	// Timeline: newest first, the reply's words, the note; audited once.
	tl := consoleDo(t, a, "GET", base+"/timeline", s, nil)
	if tl.status != http.StatusOK || tl.header.Get("Cache-Control") != "no-store" {
		t.Fatalf("timeline: %d", tl.status)
	}
	reply, note, confirm := strings.Index(tl.body, "walked with my sister"), strings.Index(tl.body, "-started a new job"), strings.Index(tl.body, `class="tl-delivery"`)
	if reply < 0 || note < 0 || confirm < 0 || !(confirm < reply && reply < note) {
		t.Errorf("timeline order: confirmation %d, reply %d, note %d (want newest first)", confirm, reply, note)
	}

	// Export: an attachment, the scores and both kinds of notes, no formula.
	ex := consoleDo(t, a, "GET", base+"/export.csv", s, nil)
	if ex.status != http.StatusOK || !strings.HasPrefix(ex.header.Get("Content-Disposition"), "attachment;") || !strings.HasPrefix(ex.header.Get("Content-Type"), "text/csv") || ex.header.Get("Cache-Control") != "no-store" {
		t.Fatalf("export: %d %v", ex.status, ex.header)
	}
	rows, err := csv.NewReader(strings.NewReader(ex.body)).ReadAll()
	if err != nil {
		t.Fatal(err)
	}
	want := [][]string{
		{"date", "kind", "score", "note"},
		{"2026-12-01", "answer", "2", `'=HYPERLINK("http://x.test")`},
		{"2026-12-04", "answer", "4", "'+1 felt better"},
		{"2026-12-05", "event", "", "'-started a new job"},
		{"2026-12-07", "answer", "5", "'@home, -ish\tfine"},
	}
	if len(rows) != len(want) {
		t.Fatalf("export rows: %q", rows)
	}
	for i := range want {
		if strings.Join(rows[i], "|") != strings.Join(want[i], "|") {
			t.Errorf("export row %d: %q, want %q", i, rows[i], want[i])
		}
	}

	// Another clinician may not delete the note; its writer may.
	other := addStaff(t, a, cid, "other@n.test", "clinician")
	_ = other
	o := signIn(t, a, "other@n.test", 1)
	if r := consoleDo(t, a, "POST", base+"/notes/"+notes[0].ID+"/delete", o, url.Values{}); r.status != http.StatusNotFound {
		t.Errorf("an unassigned clinician deleted a note: %d", r.status)
	}
	if r := consoleDo(t, a, "POST", base+"/notes/"+notes[0].ID+"/delete", s, url.Values{}); r.status != http.StatusSeeOther {
		t.Errorf("delete note: %d", r.status)
	}
	if left, _ := a.st.ClientNotes(ctx, cid, id); len(left) != 0 {
		t.Errorf("notes after delete: %+v", left)
	}
	log := auditActions(t, a, cid)
	for want, n := range map[string]int{
		"doc@n.test client.note.add " + id: 1, "doc@n.test client.note.delete " + id: 1,
		"doc@n.test client.timeline " + id: 1, "doc@n.test client.export " + id: 1,
	} {
		if got := count(log, want); got != n {
			t.Errorf("%d × %q in the audit log, want %d", got, want, n)
		}
	}
	raw, _ := a.st.AuditLog(ctx, cid, 100)
	for _, e := range raw {
		if strings.Contains(e.Detail, "job") || strings.Contains(e.Detail, "sister") {
			t.Errorf("a client's or a note's words in the audit log: %+v", e)
		}
	}
}

// TestConsoleDischargedClientGetsNothing: a discharged client's prompts are
// not sent while another client's, planned alike, are; the record stays.
func TestConsoleDischargedClientGetsNothing(t *testing.T) {
	a := startSMSApp(t, time.Date(2026, 12, 9, 15, 0, 0, 0, time.UTC), "US")
	ctx := context.Background()
	cid, key := newClinic(t, a, "Clinic G")
	addStaff(t, a, cid, "owner@g.test", "owner")
	const gonePhone, stayPhone = "+12015550141", "+12015550142"
	gone := activeSMSClient(t, a, cid, key, "", "Gil", gonePhone, "SMgoneyes00000000000000000000001")
	stay := activeSMSClient(t, a, cid, key, "", "Sol", stayPhone, "SMstayyes00000000000000000000001")
	s := signIn(t, a, "owner@g.test", 1)
	for _, id := range []string{gone, stay} {
		if r := consoleDo(t, a, "POST", "/console/clients/"+id+"/session", s, url.Values{"at": {"2026-12-10T10:00"}}); r.status != http.StatusSeeOther {
			t.Fatalf("session: %d", r.status)
		}
		add := url.Values{"kind": {"text"}, "text": {"One small thing for this week?"}, "when": {"session"}, "days": {"1"}, "time": {"18:00"}, "step": {"add"}}
		if r := consoleDo(t, a, "POST", "/console/clients/"+id+"/prompts", s, add); r.status != http.StatusSeeOther {
			t.Fatalf("prompt: %d %s", r.status, r.body)
		}
	}

	// Discharge asks first; the GET changes nothing.
	if r := consoleDo(t, a, "GET", "/console/clients/"+gone+"/discharge", s, nil); r.status != http.StatusOK || !strings.Contains(r.body, `action="/console/clients/`+gone+`/discharge`) {
		t.Fatalf("discharge page: %d", r.status)
	}
	if sub, _ := a.st.Subscriber(ctx, gone); sub.Status != domain.Active {
		t.Fatalf("the GET discharged: %s", sub.Status)
	}
	if r := consoleDo(t, a, "POST", "/console/clients/"+gone+"/discharge", s, url.Values{}); r.status != http.StatusSeeOther {
		t.Fatalf("discharge: %d", r.status)
	}
	if sub, _ := a.st.Subscriber(ctx, gone); sub.Status != domain.Discharged {
		t.Fatalf("status %s, want discharged", sub.Status)
	}
	if planned, _ := a.st.PlannedPrompts(ctx, gone); len(planned) != 0 {
		t.Errorf("a discharged client still has prompts planned: %v", planned)
	}
	// Shown as discharged; filtered; no more sessions or prompts for them.
	list := consoleDo(t, a, "GET", "/console/clients?status=discharged", s, nil)
	if !strings.Contains(list.body, gone) || strings.Contains(list.body, stay) || !strings.Contains(list.body, "<td>discharged") {
		t.Errorf("discharged filter: %s", list.body)
	}
	if r := consoleDo(t, a, "POST", "/console/clients/"+gone+"/session", s, url.Values{"at": {"2026-12-11T10:00"}}); r.status != http.StatusUnprocessableEntity {
		t.Errorf("a session for a discharged client: %d", r.status)
	}

	// The day after the session, 18:00 in New York: only Sol hears.
	a.clk.Set(time.Date(2026, 12, 11, 23, 0, 5, 0, time.UTC))
	if got := waitTextTo(t, a.texts, stayPhone, 2); !strings.Contains(got.Body, "One small thing") {
		t.Errorf("Sol's prompt: %q", got.Body)
	}
	waitSettled(t, a.st, a.clk)
	if n := len(textsTo(a.texts, gonePhone)); n != 1 {
		t.Errorf("a discharged client got %d texts, want only the confirmation", n)
	}
	// The record stays, readable (two days on, after a new sign-in).
	s = signIn(t, a, "owner@g.test", 2)
	if r := consoleDo(t, a, "GET", "/console/clients/"+gone, s, nil); r.status != http.StatusOK || !strings.Contains(r.body, "Discharged: nothing more is sent") {
		t.Errorf("a discharged client's page: %d", r.status)
	}
	if log := auditActions(t, a, cid); count(log, "owner@g.test client.discharge "+gone) != 1 {
		t.Errorf("audit log: %q", log)
	}

	// Undone: active again, off the retention list, and prompts are planned
	// from the next session set.
	if r := consoleDo(t, a, "POST", "/console/clients/"+gone+"/readmit", s, url.Values{}); r.status != http.StatusSeeOther {
		t.Fatalf("readmit: %d", r.status)
	}
	if sub, _ := a.st.Subscriber(ctx, gone); sub.Status != domain.Active {
		t.Fatalf("status after the discharge was undone: %s, want active", sub.Status)
	}
	if left, _ := a.st.DischargedBefore(ctx, a.clk.Now().AddDate(2, 0, 0), 10); len(left) != 0 {
		t.Errorf("a readmitted client is still due for erasure: %v", left)
	}
	if r := consoleDo(t, a, "POST", "/console/clients/"+gone+"/session", s, url.Values{"at": {"2026-12-16T10:00"}}); r.status != http.StatusSeeOther {
		t.Fatalf("a session after readmission: %d", r.status)
	}
	if planned, _ := a.st.PlannedPrompts(ctx, gone); len(planned) == 0 {
		t.Errorf("no prompt planned after readmission and a new session")
	}
	if log := auditActions(t, a, cid); count(log, "owner@g.test client.readmit "+gone) != 1 {
		t.Errorf("audit log: %q", log)
	}
}

func TestConsoleRemoveAsksFirstThenErases(t *testing.T) {
	a := startSMSApp(t, time.Date(2026, 12, 9, 15, 0, 0, 0, time.UTC), "US")
	ctx := context.Background()
	cid, key := newClinic(t, a, "Clinic X")
	doc := addStaff(t, a, cid, "doc@x.test", "clinician")
	id := enrolByEmail(t, a, key, "Rui", "rui@client.test")
	staffCLI(t, a, "assign", "--clinic", cid, "--staff", doc, "--client", id)
	s := signIn(t, a, "doc@x.test", 1)
	consoleDo(t, a, "POST", "/console/clients/"+id+"/notes", s, url.Values{"day": {"2026-12-05"}, "note": {"moved house"}})
	consoleDo(t, a, "POST", "/console/clients/"+id+"/session", s, url.Values{"at": {"2026-12-01T10:00"}})

	if r := consoleDo(t, a, "GET", "/console/clients/"+id+"/remove", s, nil); r.status != http.StatusOK || !strings.Contains(r.body, "cannot be undone") {
		t.Fatalf("remove page: %d", r.status)
	}
	if _, err := a.st.Client(ctx, cid, id); err != nil {
		t.Fatalf("the GET removed: %v", err)
	}
	r := consoleDo(t, a, "POST", "/console/clients/"+id+"/remove", s, url.Values{})
	if r.status != http.StatusSeeOther || r.location != "/console/clients?done=removed" {
		t.Fatalf("remove: %d %q", r.status, r.location)
	}
	if _, err := a.st.Client(ctx, cid, id); !errors.Is(err, store.ErrNotFound) {
		t.Errorf("after removal: %v", err)
	}
	for _, k := range []string{"cnotes:", "sesslog:"} {
		if n, _ := a.st.Redis().Exists(ctx, a.st.Prefix()+k+id).Result(); n != 0 {
			t.Errorf("%s%s outlives the removal", k, id)
		}
	}
	if list := consoleDo(t, a, "GET", r.location, s, nil); !strings.Contains(list.body, "Client removed.") {
		t.Errorf("no notice on the list")
	}
	if log := auditActions(t, a, cid); count(log, "doc@x.test client.remove "+id) != 1 {
		t.Errorf("audit log: %q", log)
	}
}

func TestConsoleClientsSearchAndFilter(t *testing.T) {
	a := startSMSApp(t, time.Date(2026, 12, 9, 15, 0, 0, 0, time.UTC), "US")
	cid, key := newClinic(t, a, "Clinic L")
	addStaff(t, a, cid, "owner@l.test", "owner")
	jose := enrolByEmail(t, a, key, "José", "jose@client.test")
	josefina := enrolByEmail(t, a, key, "JOSEFINA", "josefina@client.test")
	ana := enrolByEmail(t, a, key, "Ana", "ana@client.test")
	s := signIn(t, a, "owner@l.test", 1)
	shows := func(query string) map[string]bool {
		r := consoleDo(t, a, "GET", "/console/clients?"+query, s, nil)
		if r.status != http.StatusOK {
			t.Fatalf("list %s: %d", query, r.status)
		}
		return map[string]bool{"jose": strings.Contains(r.body, jose), "josefina": strings.Contains(r.body, josefina), "ana": strings.Contains(r.body, ana)}
	}
	for q, want := range map[string]map[string]bool{
		"q=jose":                   {"jose": true, "josefina": true},
		"q=JOS%C3%89":              {"jose": true, "josefina": true},
		"q=Jos%C3%A9fina":          {"josefina": true},
		"q=an":                     {"ana": true},
		"status=pending":           {"jose": true, "josefina": true, "ana": true},
		"status=active":            {},
		"q=jose&status=discharged": {},
		"status=anything&q=nobody": {},
		"status=not-a-status":      {"jose": true, "josefina": true, "ana": true},
		"q=%3Cscript%3E&status=":   {},
	} {
		got := shows(q)
		for _, who := range []string{"jose", "josefina", "ana"} {
			if got[who] != want[who] {
				t.Errorf("%s: %s listed %v, want %v", q, who, got[who], want[who])
			}
		}
	}
	// The search is kept in the form; the next-session column is filled.
	r := consoleDo(t, a, "GET", "/console/clients?q=jos%C3%A9", s, nil)
	if !strings.Contains(r.body, `value="josé"`) {
		t.Errorf("the query is not kept in the form")
	}
	consoleDo(t, a, "POST", "/console/clients/"+ana+"/session", s, url.Values{"at": {"2026-12-15T10:00"}})
	if r := consoleDo(t, a, "GET", "/console/clients?q=ana", s, nil); !strings.Contains(r.body, "<td>2026-12-15 10:00 GMT</td>") {
		t.Errorf("no next session in the list")
	}
}

// TestConsoleClientRoutesIsolation: on every route of this file, staff of
// another clinic and a clinician the client is not assigned to get the
// missing id's 404, and nothing changes.
func TestConsoleClientRoutesIsolation(t *testing.T) {
	a := startSMSApp(t, time.Date(2026, 12, 9, 15, 0, 0, 0, time.UTC), "US")
	ctx := context.Background()
	cidA, keyA := newClinic(t, a, "Clinic A")
	cidB, _ := newClinic(t, a, "Clinic B")
	one := addStaff(t, a, cidA, "one@a.test", "clinician")
	addStaff(t, a, cidA, "two@a.test", "clinician")
	addStaff(t, a, cidB, "owner@b.test", "owner")
	ana := enrolByEmail(t, a, keyA, "Ana", "ana@client.test")
	staffCLI(t, a, "assign", "--clinic", cidA, "--staff", one, "--client", ana)
	s1 := signIn(t, a, "one@a.test", 1)
	consoleDo(t, a, "POST", "/console/clients/"+ana+"/notes", s1, url.Values{"day": {"2026-12-05"}, "note": {"moved house"}})
	consoleDo(t, a, "POST", "/console/clients/"+ana+"/prompts", s1, url.Values{"kind": {"library"}, "template": {"2"}, "when": {"session"}, "days": {"1"}, "time": {"18:00"}, "step": {"add"}})
	notes, _ := a.st.ClientNotes(ctx, cidA, ana)
	st, _ := a.st.PromptStateOf(ctx, cidA, ana)
	if len(notes) != 1 || len(st.Prompts) != 1 {
		t.Fatalf("setup: %d notes, %d prompts", len(notes), len(st.Prompts))
	}
	noteID, promptID := notes[0].ID, st.Prompts[0].ID

	two := signIn(t, a, "two@a.test", 1)
	ownerB := signIn(t, a, "owner@b.test", 1)
	missing := store.NewID()
	type probe struct {
		method, path string
		form         url.Values
	}
	probes := func(client string) []probe {
		c := "/console/clients/" + client
		return []probe{
			{"POST", c + "/session", url.Values{"at": {"2026-12-15T10:00"}}},
			{"GET", c + "/prompts/new?kind=library", nil},
			{"GET", c + "/prompts/new?kind=text", nil},
			{"POST", c + "/prompts", url.Values{"kind": {"library"}, "template": {"1"}, "when": {"session"}, "days": {"1"}, "time": {"18:00"}, "step": {"preview"}}},
			{"POST", c + "/prompts", url.Values{"kind": {"text"}, "text": {"hello"}, "when": {"session"}, "days": {"1"}, "time": {"18:00"}, "step": {"add"}}},
			{"POST", c + "/prompts/" + promptID + "/remove", url.Values{}},
			{"POST", c + "/notes", url.Values{"day": {"2026-12-06"}, "note": {"intruder"}}},
			{"POST", c + "/notes/" + noteID + "/delete", url.Values{}},
			{"GET", c + "/timeline", nil},
			{"GET", c + "/export.csv", nil},
			{"GET", c + "/discharge", nil},
			{"POST", c + "/discharge", url.Values{}},
			{"POST", c + "/readmit", url.Values{}},
			{"GET", c + "/remove", nil},
			{"POST", c + "/remove", url.Values{}},
		}
	}
	for who, session := range map[string]string{"clinic B's owner": ownerB, "unassigned clinician": two} {
		for i, p := range probes(ana) {
			m := probes(missing)[i]
			want := consoleDo(t, a, m.method, m.path, session, m.form)
			got := consoleDo(t, a, p.method, p.path, session, p.form)
			if want.status != http.StatusNotFound || got.status != http.StatusNotFound ||
				strings.ReplaceAll(got.body, ana, "X") != strings.ReplaceAll(want.body, missing, "X") {
				t.Errorf("%s %s %s: %d (missing id: %d), want the same 404", who, p.method, p.path, got.status, want.status)
			}
		}
	}
	// Nothing changed, nothing was audited.
	sub, err := a.st.Client(ctx, cidA, ana)
	if err != nil || sub.Status != domain.Pending {
		t.Fatalf("Ana after the attacks: %+v %v", sub, err)
	}
	if n, _ := a.st.ClientNotes(ctx, cidA, ana); len(n) != 1 || n[0].ID != noteID {
		t.Errorf("notes changed: %+v", n)
	}
	if st, _ := a.st.PromptStateOf(ctx, cidA, ana); len(st.Prompts) != 1 || len(st.Sessions) != 0 {
		t.Errorf("prompts or sessions changed: %+v", st)
	}
	for _, e := range auditActions(t, a, cidA) {
		if strings.Contains(e, "@b.test") || strings.HasPrefix(e, "two@a.test client.") {
			t.Errorf("a refused request was audited: %q", e)
		}
	}
	// The enrolment form is B's own: enrolling there adds nothing to A.
	if r := consoleDo(t, a, "POST", "/console/clients/new", ownerB, withStep(enrolValues(a, "Bea", "bea@client.test", "", "Europe/London", "en"), "send")); r.status != http.StatusSeeOther {
		t.Fatalf("B's enrolment: %d", r.status)
	}
	if ids := clinicClients(t, a, cidA); len(ids) != 1 {
		t.Errorf("A's clients: %v", ids)
	}
	if ids := clinicClients(t, a, cidB); len(ids) != 1 {
		t.Errorf("B's clients: %v", ids)
	}
}

// TestConsoleClientPagesInTheBrowser walks enrolment, a session, a
// library prompt and a written prompt in Chromium, in English and Spanish;
// axe-core finds no violation on any page.
func TestConsoleClientPagesInTheBrowser(t *testing.T) {
	axe := axetest.Source(t)
	c := startChromium(t)
	a := startSMSApp(t, time.Date(2026, 12, 9, 15, 0, 0, 0, time.UTC), "US")
	cid, _ := newClinic(t, a, "Clinic W")
	addStaff(t, a, cid, "doc@w.test", "clinician")
	for i, lang := range []string{"en", "es"} {
		b := c.tab(t)
		askLink(t, a, "doc@w.test")
		b.open(a.base + waitLinks(t, a, "doc@w.test", i+1) + "?lang=" + lang)
		if status := b.press(`main button[type="submit"]`); status != http.StatusOK {
			t.Fatalf("%s: sign in = %d", lang, status)
		}
		b.press(`a[href^="/console/clients/new"]`)
		b.axeClean(axe, lang+" enrol form")
		// Continue with nothing filled: the errors, still clean.
		if status := b.press(`button[value="check"]`); status != http.StatusUnprocessableEntity {
			t.Errorf("%s: empty form = %d", lang, status)
		}
		b.axeClean(axe, lang+" enrol form with errors")
		name := map[string]string{"en": "Dana", "es": "Dani"}[lang]
		b.do("fill the form",
			retype("first_name", name), retype("email", strings.ToLower(name)+"@client.test"), retype("time_zone", "America/New_York"),
			chromedp.Click(chromedp.ID("consent_email")))
		if status := b.press(`button[value="check"]`); status != http.StatusOK {
			t.Fatalf("%s: continue = %d", lang, status)
		}
		if got := b.text("pre.message"); !strings.Contains(got, name) {
			t.Errorf("%s: the preview reads %q", lang, got)
		}
		b.axeClean(axe, lang+" enrol confirmation")
		if status := b.press(`button[value="send"]`); status != http.StatusOK {
			t.Fatalf("%s: send = %d", lang, status)
		}
		b.axeClean(axe, lang+" client page")
		b.do("set a session", chromedp.SetValue(chromedp.ID("session-at"), "2026-12-15T10:00"))
		if status := b.press(`form[action*="/session"] button`); status != http.StatusOK {
			t.Fatalf("%s: set session = %d", lang, status)
		}
		b.press(`a[href*="/prompts/new?kind=library"]`)
		b.axeClean(axe, lang+" library prompt")
		if status := b.press(`button[value="preview"]`); status != http.StatusOK {
			t.Fatalf("%s: library preview = %d", lang, status)
		}
		b.axeClean(axe, lang+" library prompt preview")
		if status := b.press(`button[value="add"]`); status != http.StatusOK {
			t.Fatalf("%s: add library prompt = %d", lang, status)
		}
		b.press(`a[href*="/prompts/new?kind=text"]`)
		b.do("write a prompt", retype("text", "What would you like to bring next time?"))
		if got := b.text("#live-count"); !strings.Contains(got, "1") {
			t.Errorf("%s: the live counter reads %q", lang, got)
		}
		b.axeClean(axe, lang+" written prompt")
		if status := b.press(`button[value="preview"]`); status != http.StatusOK {
			t.Fatalf("%s: written preview = %d", lang, status)
		}
		b.axeClean(axe, lang+" written prompt preview")
		if status := b.press(`button[value="add"]`); status != http.StatusOK {
			t.Fatalf("%s: add written prompt = %d", lang, status)
		}
		b.axeClean(axe, lang+" client page with prompts")
		b.press(`a[href*="/timeline"]`)
		b.axeClean(axe, lang+" timeline")
		b.press(`main a[href^="/console/clients/"]`)
		b.press(`main a[href*="/discharge"]`)
		b.axeClean(axe, lang+" discharge confirmation")
	}
	ids := clinicClients(t, a, cid)
	if len(ids) != 2 {
		t.Fatalf("clients after the walk: %v", ids)
	}
	for _, id := range ids {
		st, _ := a.st.PromptStateOf(context.Background(), cid, id)
		if len(st.Prompts) != 2 || len(st.Sessions) != 1 {
			t.Errorf("client %s: %d prompts, %d sessions", id, len(st.Prompts), len(st.Sessions))
		}
	}
}
