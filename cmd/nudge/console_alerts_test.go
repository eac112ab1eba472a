package main

import (
	"context"
	"mime"
	"net/http"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"
	"github.com/hibiken/asynq"
	"github.com/nudgehq/nudge/internal/axetest"
	"github.com/nudgehq/nudge/internal/smtptest"
	"github.com/nudgehq/nudge/internal/store"
	"github.com/nudgehq/nudge/internal/task"
	"github.com/nudgehq/nudge/scheduler"
)

// The console's alerts beyond distress, and the emails alerts send to
// staff, through the real App: STOPs and replies by signed Twilio
// webhooks, prompts sent by the planners and the worker, emails read from
// the SMTP sink.

// enrolByPhone enrols a text-only client over the API and confirms their
// number with YES.
func enrolByPhone(t *testing.T, a *smsApp, key, name, phone, zone, sid string) string {
	t.Helper()
	c := callAPI(t, a.base, key, "POST", "/api/v1/clients", map[string]any{
		"first_name": name, "phone": phone, "time_zone": zone, "locale": "en", "channels": []string{"sms"},
		"consent": map[string]any{"obtained_by": "Dr R. Osei", "obtained_at": a.clk.Now().Add(-time.Hour).Format(time.RFC3339), "method": "written"},
	}, http.StatusCreated)
	waitTextTo(t, a.texts, phone, 1)
	textReply(t, a, phone, sid, "YES")
	return c["id"].(string)
}

// alertsOf lists a clinic's alerts of one kind.
func alertsOf(t *testing.T, a *smsApp, cid, kind string) []store.Alert {
	t.Helper()
	all, err := a.st.Alerts(context.Background(), cid)
	if err != nil {
		t.Fatal(err)
	}
	var out []store.Alert
	for _, al := range all {
		if al.KindOf() == kind {
			out = append(out, al)
		}
	}
	return out
}

func mailSubject(t *testing.T, m smtptest.Message) string {
	t.Helper()
	s, err := new(mime.WordDecoder).DecodeHeader(m.Header.Get("Subject"))
	if err != nil {
		t.Fatal(err)
	}
	return s
}

// staffMails are the staff emails of one kind ("alert.", "alert-escalation.",
// "digest.", by their Message-ID), in order.
func staffMails(a *smsApp, kind string) []smtptest.Message {
	var out []smtptest.Message
	for _, m := range a.mail.Messages() {
		if strings.HasPrefix(m.Header.Get("Message-Id"), "<"+kind) {
			out = append(out, m)
		}
	}
	return out
}

func recipients(ms []smtptest.Message) []string {
	var out []string
	for _, m := range ms {
		out = append(out, m.To...)
	}
	slices.Sort(out)
	return out
}

// TestConsoleStopRaisesOneStoppedAlert: a client's STOP raises one
// stopped alert (a second STOP none), which staff see by kind on the
// alerts page and acknowledge and resolve like a distress alert; it does
// not flag the client as in distress.
func TestConsoleStopRaisesOneStoppedAlert(t *testing.T) {
	a := startSMSApp(t, time.Date(2026, 12, 9, 15, 0, 0, 0, time.UTC), "US")
	cid, key := newClinic(t, a, "Clinic T")
	addStaff(t, a, cid, "owner@t.test", "owner")
	const phone = "+12015550141"
	client := enrolByPhone(t, a, key, "Tova", phone, "America/New_York", "SMstopyes00000000000000000000001")
	textReply(t, a, phone, "SMstopstop0000000000000000000001", "STOP")
	textReply(t, a, phone, "SMstopstop0000000000000000000002", "STOP")
	got := alertsOf(t, a, cid, store.AlertStopped)
	if len(got) != 1 || got[0].Client != client || got[0].Channel != "sms" || got[0].State != store.AlertOpen {
		t.Fatalf("stopped alerts after two STOPs: %+v", got)
	}
	if n := len(alertsOf(t, a, cid, store.AlertDistress)); n != 0 {
		t.Errorf("%d distress alerts after a STOP", n)
	}

	s := signIn(t, a, "owner@t.test", 1)
	page := consoleDo(t, a, "GET", "/console/alerts", s, nil)
	if page.status != http.StatusOK || !strings.Contains(page.body, `data-kind="stopped"`) || !strings.Contains(page.body, "texted STOP") || !strings.Contains(page.body, "Tova") {
		t.Fatalf("alerts page: %d\n%s", page.status, page.body)
	}
	if list := consoleDo(t, a, "GET", "/console/clients", s, nil); strings.Contains(list.body, "Open distress alert") {
		t.Errorf("a stopped alert flags the client as in distress")
	}
	id := got[0].ID
	for _, step := range []string{"acknowledge", "resolve"} {
		if r := consoleDo(t, a, "POST", "/console/alerts/"+id+"/"+step, s, url.Values{}); r.status != http.StatusSeeOther {
			t.Fatalf("%s: %d", step, r.status)
		}
	}
	if al, _ := a.st.Alert(context.Background(), cid, id); al.State != store.AlertResolved || al.AcknowledgedBy == "" || al.ResolvedBy == "" {
		t.Errorf("stopped alert after acknowledge and resolve: %+v", al)
	}
	log := auditActions(t, a, cid)
	for _, want := range []string{"owner@t.test alert.acknowledge " + client, "owner@t.test alert.resolve " + client} {
		if count(log, want) != 1 {
			t.Errorf("%q not once in the audit log: %q", want, log)
		}
	}
}

// TestConsoleUnansweredPromptsRaiseOneAlert: three prompts sent by the
// planners and left unanswered raise one unanswered alert, once the third
// has waited seven days; a second check raises nothing more, and a reply
// ends the run.
func TestConsoleUnansweredPromptsRaiseOneAlert(t *testing.T) {
	// Tuesday 1 December 2026, 16:00 in London.
	a := startSMSApp(t, time.Date(2026, 12, 1, 16, 0, 0, 0, time.UTC), "GB")
	ctx := context.Background()
	cid, key := newClinic(t, a, "Clinic U")
	addStaff(t, a, cid, "owner@u.test", "owner")
	const phone = "+447400123401"
	client := enrolByPhone(t, a, key, "Umi", phone, "Europe/London", "SMunansyes0000000000000000000001")
	callAPI(t, a.base, key, "PUT", "/api/v1/clients/"+client+"/session", map[string]any{"at": "2026-12-01T15:00:00Z"}, http.StatusOK)
	callAPI(t, a.base, key, "PUT", "/api/v1/clients/"+client+"/session", map[string]any{"at": "2026-12-22T15:00:00Z"}, http.StatusOK)
	for i, rule := range []string{"session+1d@18:00", "session+2d@18:00", "session+3d@18:00"} {
		callAPI(t, a.base, key, "POST", "/api/v1/clients/"+client+"/prompts", map[string]any{"rule": rule, "template": 3 + 2*i}, http.StatusCreated)
	}
	for day := 2; day <= 4; day++ {
		a.clk.Set(time.Date(2026, 12, day, 18, 0, 5, 0, time.UTC))
		waitTextTo(t, a.texts, phone, day) // the confirmation, then one prompt a day
	}
	waitSettled(t, a.st, a.clk)
	if got := alertsOf(t, a, cid, store.AlertUnanswered); len(got) != 0 {
		t.Fatalf("an alert while the third prompt may still be answered: %+v", got)
	}

	// Seven days after the third, the periodic check raises one alert,
	// whichever scheduler runs it and however often.
	a.clk.Set(time.Date(2026, 12, 11, 18, 1, 0, 0, time.UTC))
	planner := scheduler.NewAlertPlanner(scheduler.AlertPlannerConfig{Store: a.st, Enqueuer: asynq.NewClientFromRedisClient(a.st.Redis()), Now: a.clk.Now})
	for range 2 {
		if _, err := planner.Tick(ctx); err != nil {
			t.Fatal(err)
		}
	}
	got := alertsOf(t, a, cid, store.AlertUnanswered)
	if len(got) != 1 || got[0].Client != client || got[0].Count != 3 {
		t.Fatalf("unanswered alerts: %+v, want one for a run of 3", got)
	}
	s := signIn(t, a, "owner@u.test", 1)
	page := consoleDo(t, a, "GET", "/console/alerts", s, nil)
	if !strings.Contains(page.body, `data-kind="unanswered"`) || !strings.Contains(page.body, "3 prompts in a row without a reply") {
		t.Errorf("alerts page:\n%s", page.body)
	}

	// A reply ends the run: nothing is counted, nothing more raised.
	textReply(t, a, phone, "SMunansreply00000000000000000001", "sorry, busy week")
	if n, _, err := a.st.UnansweredRun(ctx, client, a.clk.Now()); err != nil || n != 0 {
		t.Errorf("run after the reply: %d %v", n, err)
	}
	if _, err := planner.Tick(ctx); err != nil {
		t.Fatal(err)
	}
	if got := alertsOf(t, a, cid, store.AlertUnanswered); len(got) != 1 {
		t.Errorf("%d unanswered alerts after the reply, want still 1", len(got))
	}
}

// TestConsoleDistressEmailsTheAssignedClinicianAndEscalates: a distress
// alert emails the assigned clinician only, at once, without the client's
// words or name; its escalation task waits the clinic's escalation time
// and then emails every owner, and nobody for an alert acknowledged by
// then.
func TestConsoleDistressEmailsTheAssignedClinicianAndEscalates(t *testing.T) {
	a := startSMSApp(t, time.Date(2026, 12, 9, 15, 0, 0, 0, time.UTC), "US")
	cid, key := newClinic(t, a, "Clinic E")
	addStaff(t, a, cid, "own1@e.test", "owner")
	addStaff(t, a, cid, "own2@e.test", "owner")
	dr := addStaff(t, a, cid, "dr@e.test", "clinician")
	addStaff(t, a, cid, "other@e.test", "clinician")
	const cleoPhone, benPhone = "+12015550151", "+12015550152"
	cleo := enrolByPhone(t, a, key, "Cleopatra", cleoPhone, "America/New_York", "SMescyes000000000000000000000001")
	ben := enrolByPhone(t, a, key, "Benedikt", benPhone, "America/New_York", "SMescyes000000000000000000000002")
	for _, c := range []string{cleo, ben} {
		staffCLI(t, a, "assign", "--clinic", cid, "--staff", dr, "--client", c)
	}
	const words = "i keep thinking about ending it all"
	textReply(t, a, cleoPhone, "SMescsad000000000000000000000001", words)
	textReply(t, a, benPhone, "SMescsad000000000000000000000002", words)
	a.mail.WaitFor(t, 10*time.Second, "two alert emails", func([]smtptest.Message) bool { return len(staffMails(a, "alert.")) >= 2 })
	waitSettled(t, a.st, a.clk)
	sent := staffMails(a, "alert.")
	if got := recipients(sent); !slices.Equal(got, []string{"dr@e.test", "dr@e.test"}) {
		t.Fatalf("alert emails to %v, want the assigned clinician for each alert", got)
	}
	for _, m := range sent {
		subj := mailSubject(t, m)
		if subj != "A client of Clinic E needs attention" {
			t.Errorf("subject %q", subj)
		}
		for _, part := range []string{subj, m.Text, m.HTML} {
			for _, secret := range []string{"ending it all", "Cleopatra", "Benedikt", cleo, ben, cleoPhone, benPhone} {
				if strings.Contains(part, secret) {
					t.Errorf("an alert email holds %q", secret)
				}
			}
		}
		if !strings.Contains(m.Text, "https://nudge.test/console/alerts") {
			t.Errorf("no link to the alerts page:\n%s", m.Text)
		}
	}

	var cleoAlert, benAlert string
	for _, al := range alertsOf(t, a, cid, store.AlertDistress) {
		if al.Client == cleo {
			cleoAlert = al.ID
		} else {
			benAlert = al.ID
		}
	}
	// Each alert's escalation waits four hours (the default).
	insp := asynq.NewInspectorFromRedisClient(a.st.Redis())
	for _, id := range []string{cleoAlert, benAlert} {
		info, err := insp.GetTaskInfo(task.QueueCritical, "alert-escalate:"+cid+":"+id)
		if err != nil {
			t.Fatalf("escalation task of %s: %v", id, err)
		}
		if wait := time.Until(info.NextProcessAt); info.State != asynq.TaskStateScheduled || wait < 4*time.Hour-time.Minute || wait > 4*time.Hour {
			t.Errorf("escalation task %s in %s", info.State, wait)
		}
	}
	// Ben's is acknowledged in time; Cleo's is not.
	s := signIn(t, a, "dr@e.test", 1)
	if r := consoleDo(t, a, "POST", "/console/alerts/"+benAlert+"/acknowledge", s, url.Values{}); r.status != http.StatusSeeOther {
		t.Fatalf("acknowledge: %d", r.status)
	}
	a.clk.Set(a.clk.Now().Add(4*time.Hour + time.Minute))
	for _, id := range []string{cleoAlert, benAlert} {
		if err := insp.RunTask(task.QueueCritical, "alert-escalate:"+cid+":"+id); err != nil {
			t.Fatal(err)
		}
	}
	a.mail.WaitFor(t, 10*time.Second, "escalation emails", func([]smtptest.Message) bool { return len(staffMails(a, "alert-escalation.")) >= 2 })
	waitSettled(t, a.st, a.clk)
	esc := staffMails(a, "alert-escalation.")
	if got := recipients(esc); !slices.Equal(got, []string{"own1@e.test", "own2@e.test"}) {
		t.Fatalf("escalation emails to %v, want each owner once", got)
	}
	for _, m := range esc {
		if !strings.Contains(m.Header.Get("Message-Id"), cleoAlert) {
			t.Errorf("an escalation for the acknowledged alert: %s", m.Header.Get("Message-Id"))
		}
		if strings.Contains(m.Text, "Cleopatra") || strings.Contains(m.Text, "ending") {
			t.Errorf("the escalation email names the client or their words")
		}
	}
	if n := len(staffMails(a, "alert.")); n != 2 {
		t.Errorf("%d alert emails in all, want 2", n)
	}
}

// TestConsoleAlertSettingsAndIsolation: owners set the alert settings on
// the alerts page, bad input comes back beside its field; a clinician
// cannot (404), another clinic's owner changes only their own clinic; on
// stopped and unanswered alerts, another clinic's staff and a clinician
// not assigned get the 404 of a missing id and change nothing.
func TestConsoleAlertSettingsAndIsolation(t *testing.T) {
	a := startSMSApp(t, time.Date(2026, 12, 1, 10, 0, 0, 0, time.UTC), "GB")
	ctx := context.Background()
	cidA, keyA := newClinic(t, a, "Clinic A")
	cidB, _ := newClinic(t, a, "Clinic B")
	addStaff(t, a, cidA, "owner@a.test", "owner")
	c1 := addStaff(t, a, cidA, "one@a.test", "clinician")
	addStaff(t, a, cidA, "two@a.test", "clinician")
	addStaff(t, a, cidB, "owner@b.test", "owner")
	ana := enrolByEmail(t, a, keyA, "Ana", "ana@client.test")
	staffCLI(t, a, "assign", "--clinic", cidA, "--staff", c1, "--client", ana)
	if _, err := a.st.Unsubscribe(ctx, ana, store.ConsentEvent{At: a.clk.Now(), Action: store.ConsentUnsubscribe, Channel: "email", Source: "link"}); err != nil {
		t.Fatal(err)
	}
	if err := a.st.RaiseAlert(ctx, cidA, store.Alert{Kind: store.AlertUnanswered, Client: ana, At: a.clk.Now(), Count: 3}); err != nil {
		t.Fatal(err)
	}
	stopped, unanswered := alertsOf(t, a, cidA, store.AlertStopped), alertsOf(t, a, cidA, store.AlertUnanswered)
	if len(stopped) != 1 || len(unanswered) != 1 {
		t.Fatalf("alerts: %d stopped, %d unanswered", len(stopped), len(unanswered))
	}
	ownerA := signIn(t, a, "owner@a.test", 1)
	one := signIn(t, a, "one@a.test", 1)
	two := signIn(t, a, "two@a.test", 1)
	ownerB := signIn(t, a, "owner@b.test", 1)
	missing := store.NewID()

	for _, id := range []string{stopped[0].ID, unanswered[0].ID} {
		for _, step := range []string{"acknowledge", "resolve"} {
			want := consoleDo(t, a, "POST", "/console/alerts/"+missing+"/"+step, ownerB, url.Values{})
			got := consoleDo(t, a, "POST", "/console/alerts/"+id+"/"+step, ownerB, url.Values{})
			if got.status != http.StatusNotFound || strings.ReplaceAll(got.body, id, "X") != strings.ReplaceAll(want.body, missing, "X") {
				t.Errorf("B %s %s: %d, want the missing id's 404", step, id, got.status)
			}
			if got := consoleDo(t, a, "POST", "/console/alerts/"+id+"/"+step, two, url.Values{}); got.status != http.StatusNotFound {
				t.Errorf("clinician two %s: %d, want 404", step, got.status)
			}
		}
		if al, _ := a.st.Alert(ctx, cidA, id); al.State != store.AlertOpen {
			t.Errorf("alert %s moved to %s", id, al.State)
		}
	}
	for who, s := range map[string]string{"B": ownerB, "two": two} {
		if r := consoleDo(t, a, "GET", "/console/alerts", s, nil); strings.Contains(r.body, stopped[0].ID) || strings.Contains(r.body, unanswered[0].ID) || strings.Contains(r.body, "Ana") {
			t.Errorf("%s sees Ana's alerts", who)
		}
	}
	if r := consoleDo(t, a, "GET", "/console/alerts", one, nil); !strings.Contains(r.body, stopped[0].ID) || !strings.Contains(r.body, unanswered[0].ID) || strings.Contains(r.body, `action="/console/alerts/settings`) {
		t.Errorf("clinician one's alerts page: Ana's alerts and no settings form expected")
	}

	// Every text is there, in both languages.
	for _, lang := range []string{"en", "es"} {
		for who, sess := range map[string]string{"owner": ownerA, "clinician": one} {
			if r := consoleDo(t, a, "GET", "/console/alerts?lang="+lang, sess, nil); strings.Contains(r.body, "[[") {
				t.Errorf("%s alerts page for the %s lacks a text: %s", lang, who, r.body[strings.Index(r.body, "[["):][:40])
			}
		}
	}
	// Settings: defaults shown to the owner.
	page := consoleDo(t, a, "GET", "/console/alerts", ownerA, nil)
	if !strings.Contains(page.body, `id="unanswered" name="unanswered" min="1" max="10" step="1" required value="3"`) || !strings.Contains(page.body, `value="4"`) {
		t.Errorf("the owner's settings form:\n%s", page.body)
	}
	def := store.AlertSettings{Unanswered: 3, Escalation: 4 * time.Hour}
	for _, bad := range []url.Values{
		{"unanswered": {"0"}, "escalation": {"4"}},
		{"unanswered": {"3"}, "escalation": {"25"}},
		{"unanswered": {"three"}, "escalation": {""}},
	} {
		r := consoleDo(t, a, "POST", "/console/alerts/settings", ownerA, bad)
		if r.status != http.StatusUnprocessableEntity || !strings.Contains(r.body, `aria-invalid="true"`) || !strings.Contains(r.body, `class="error" id="`) {
			t.Errorf("bad settings %v: %d\n%s", bad, r.status, r.body)
		}
	}
	r := consoleDo(t, a, "POST", "/console/alerts/settings", ownerA, url.Values{"unanswered": {"three"}, "escalation": {"4"}})
	if !strings.Contains(r.body, "Enter a whole number from 1 to 10.") || strings.Contains(r.body, "escalation-error") || !strings.Contains(r.body, `value="three"`) {
		t.Errorf("the message is not beside the field, or the typed value is lost:\n%s", r.body)
	}
	// A clinician cannot, another clinic's owner changes their own.
	if r := consoleDo(t, a, "POST", "/console/alerts/settings", one, url.Values{"unanswered": {"1"}, "escalation": {"1"}}); r.status != http.StatusNotFound {
		t.Errorf("a clinician's settings: %d, want 404", r.status)
	}
	if r := consoleDo(t, a, "POST", "/console/alerts/settings", ownerB, url.Values{"unanswered": {"9"}, "escalation": {"12"}}); r.status != http.StatusSeeOther {
		t.Errorf("B's owner's settings: %d", r.status)
	}
	if got, _ := a.st.AlertSettingsOf(ctx, cidA); got != def {
		t.Fatalf("A's settings changed to %+v", got)
	}
	if got, _ := a.st.AlertSettingsOf(ctx, cidB); got != (store.AlertSettings{Unanswered: 9, Escalation: 12 * time.Hour}) {
		t.Errorf("B's settings: %+v", got)
	}
	r = consoleDo(t, a, "POST", "/console/alerts/settings?lang=es", ownerA, url.Values{"unanswered": {"2"}, "escalation": {"6"}})
	if r.status != http.StatusSeeOther || r.location != "/console/alerts?done=settings&lang=es" {
		t.Fatalf("save: %d to %q", r.status, r.location)
	}
	if got, _ := a.st.AlertSettingsOf(ctx, cidA); got != (store.AlertSettings{Unanswered: 2, Escalation: 6 * time.Hour}) {
		t.Errorf("A's settings: %+v", got)
	}
	if r := consoleDo(t, a, "GET", r.location, ownerA, nil); !strings.Contains(r.body, "Ajustes de las alertas guardados.") {
		t.Errorf("no notice after saving")
	}
	log := auditActions(t, a, cidA)
	if count(log, "owner@a.test alert.settings") != 1 || strings.Contains(strings.Join(log, "\n"), "@b.test") || strings.Contains(strings.Join(log, "\n"), "one@a.test alert.settings") {
		t.Errorf("audit log: %q", log)
	}
}

// TestConsoleAlertsInTheBrowser shows the alerts page with each kind of
// alert in Chromium, in English and in Spanish, saves the owners' settings
// there, and finds no serious or critical axe-core violation.
func TestConsoleAlertsInTheBrowser(t *testing.T) {
	axe := axetest.Source(t)
	c := startChromium(t)
	a := startSMSApp(t, time.Date(2026, 12, 9, 15, 0, 0, 0, time.UTC), "US")
	ctx := context.Background()
	cid, key := newClinic(t, a, "Clinic K")
	addStaff(t, a, cid, "owner@k.test", "owner")
	dana := enrolByPhone(t, a, key, "Dana", "+12015550191", "America/New_York", "SMkindsyes0000000000000000000001")
	enrolByPhone(t, a, key, "Eli", "+12015550192", "America/New_York", "SMkindsyes0000000000000000000002")
	textReply(t, a, "+12015550191", "SMkindssad0000000000000000000001", "i keep thinking about ending it all")
	textReply(t, a, "+12015550192", "SMkindsstop000000000000000000001", "STOP")
	if err := a.st.RaiseAlert(ctx, cid, store.Alert{Kind: store.AlertUnanswered, Client: dana, At: a.clk.Now(), Count: 3}); err != nil {
		t.Fatal(err)
	}
	kindsText := map[string][]string{
		"en": {"Distress", "Stopped", "Unanswered", "texted STOP", "3 prompts in a row without a reply"},
		"es": {"Angustia", "Baja", "Sin respuesta", "envió STOP", "3 mensajes seguidos sin respuesta"},
	}
	for i, lang := range []string{"en", "es"} {
		b := c.tab(t)
		b.open(a.base + "/console/sign-in?lang=" + lang)
		b.do("type the address", chromedp.SendKeys(chromedp.ID("email"), "owner@k.test"))
		if status := b.press(`main button[type="submit"]`); status != http.StatusOK {
			t.Fatalf("%s: ask for a link = %d", lang, status)
		}
		b.open(a.base + waitLinks(t, a, "owner@k.test", i+1) + "?lang=" + lang)
		if status := b.press(`main button[type="submit"]`); status != http.StatusOK {
			t.Fatalf("%s: sign in = %d", lang, status)
		}
		b.press(`nav a[href^="/console/alerts"]`)
		if got := b.text("h1"); got != map[string]string{"en": "Alerts", "es": "Alertas"}[lang] {
			t.Errorf("%s: the alerts page is titled %q", lang, got)
		}
		table := b.text("table.schedules tbody")
		for _, want := range kindsText[lang] {
			if !strings.Contains(table, want) {
				t.Errorf("%s: the alerts table lacks %q: %q", lang, want, table)
			}
		}
		b.axeClean(axe, lang+" alerts with every kind")
		n := map[string]string{"en": "5", "es": "7"}[lang]
		b.do("set the unanswered prompts", retype("unanswered", n))
		if status := b.press(`form[action^="/console/alerts/settings"] button`); status != http.StatusOK {
			t.Fatalf("%s: save settings = %d", lang, status)
		}
		if got := b.value("unanswered"); got != n {
			t.Errorf("%s: after saving the form shows %q, want %s", lang, got, n)
		}
		b.axeClean(axe, lang+" alerts after saving the settings")
	}
	if got, _ := a.st.AlertSettingsOf(ctx, cid); got.Unanswered != 7 || got.Escalation != 4*time.Hour {
		t.Errorf("settings after the walk: %+v", got)
	}
}

// TestConsoleWeeklyDigestOncePerClinician: from Monday 07:00 the planners
// queue one digest per clinician (two planners, two passes each), the
// worker sends it with the week's counts and no names, owners get none.
func TestConsoleWeeklyDigestOncePerClinician(t *testing.T) {
	a := startSMSApp(t, time.Date(2026, 12, 14, 6, 0, 0, 0, time.UTC), "GB")
	ctx := context.Background()
	cid, key := newClinic(t, a, "Clinic W")
	addStaff(t, a, cid, "owner@w.test", "owner")
	lee := addStaff(t, a, cid, "lee@w.test", "clinician")
	addStaff(t, a, cid, "kim@w.test", "clinician")
	wren := enrolByEmail(t, a, key, "Wren", "wren@client.test")
	staffCLI(t, a, "assign", "--clinic", cid, "--staff", lee, "--client", wren)
	for i, at := range []time.Time{time.Date(2026, 12, 8, 9, 0, 0, 0, time.UTC), time.Date(2026, 12, 10, 9, 0, 0, 0, time.UTC), time.Date(2026, 12, 1, 9, 0, 0, 0, time.UTC)} {
		if err := a.st.RecordAnswer(ctx, wren, store.Answer{Occurrence: "between-session:p" + string(rune('a'+i)) + "|0", Score: []int{2, 4, 5}[i], Channel: "email", AnsweredAt: at}); err != nil {
			t.Fatal(err)
		}
	}
	if err := a.st.RaiseAlert(ctx, cid, store.Alert{Client: wren, At: time.Date(2026, 12, 10, 9, 0, 0, 0, time.UTC), Channel: "email"}); err != nil {
		t.Fatal(err)
	}
	q := asynq.NewClientFromRedisClient(a.st.Redis())
	planners := []*scheduler.AlertPlanner{
		scheduler.NewAlertPlanner(scheduler.AlertPlannerConfig{Store: a.st, Enqueuer: q, Now: a.clk.Now}),
		scheduler.NewAlertPlanner(scheduler.AlertPlannerConfig{Store: a.st, Enqueuer: q, Now: a.clk.Now}),
	}
	tick := func() {
		t.Helper()
		for _, p := range planners {
			if _, err := p.Tick(ctx); err != nil {
				t.Fatal(err)
			}
		}
	}
	tick() // 06:00: not yet
	waitSettled(t, a.st, a.clk)
	if n := len(staffMails(a, "digest.")); n != 0 {
		t.Fatalf("%d digests before Monday 07:00", n)
	}
	a.clk.Set(time.Date(2026, 12, 14, 7, 0, 0, 0, time.UTC))
	tick()
	tick()
	a.mail.WaitFor(t, 10*time.Second, "two digests", func([]smtptest.Message) bool { return len(staffMails(a, "digest.")) >= 2 })
	waitSettled(t, a.st, a.clk)
	a.clk.Set(time.Date(2026, 12, 16, 7, 0, 0, 0, time.UTC))
	tick()
	waitSettled(t, a.st, a.clk)
	ds := staffMails(a, "digest.")
	if got := recipients(ds); !slices.Equal(got, []string{"kim@w.test", "lee@w.test"}) {
		t.Fatalf("digests to %v, want one to each clinician", got)
	}
	for _, m := range ds {
		want := []string{"Clients assigned to you: 0", "Answers this week: 0", "Average score (1 to 5): no scores", "Open alerts: 0"}
		if m.To[0] == "lee@w.test" {
			want = []string{"Clients assigned to you: 1", "Answers this week: 2", "Average score (1 to 5): 3.0", "Open alerts: 1"}
		}
		for _, w := range want {
			if !strings.Contains(m.Text, w) {
				t.Errorf("%s's digest lacks %q:\n%s", m.To[0], w, m.Text)
			}
		}
		if strings.Contains(m.Text, "Wren") || mailSubject(t, m) != "Your week at Clinic W, in numbers" {
			t.Errorf("%s's digest: %q\n%s", m.To[0], mailSubject(t, m), m.Text)
		}
	}
}

// An owner who shortens the escalation time brings forward the escalation
// of every open distress alert: it does not wait for the time that held
// when the alert was raised.
func TestConsoleShorterEscalationTimeAppliesToOpenAlerts(t *testing.T) {
	a := startSMSApp(t, time.Date(2026, 12, 9, 15, 0, 0, 0, time.UTC), "US")
	cid, key := newClinic(t, a, "Clinic S")
	addStaff(t, a, cid, "own@s.test", "owner")
	const phone = "+12015550161"
	client := enrolByPhone(t, a, key, "Soraya", phone, "America/New_York", "SMshortyes00000000000000000000001")
	textReply(t, a, phone, "SMshortsad00000000000000000000001", "i keep thinking about ending it all")
	a.mail.WaitFor(t, 10*time.Second, "the alert email", func([]smtptest.Message) bool { return len(staffMails(a, "alert.")) >= 1 })
	waitSettled(t, a.st, a.clk)
	var alert store.Alert
	for _, al := range alertsOf(t, a, cid, store.AlertDistress) {
		if al.Client == client {
			alert = al
		}
	}
	if alert.ID == "" {
		t.Fatal("no distress alert")
	}

	s := signIn(t, a, "own@s.test", 1)
	if r := consoleDo(t, a, "POST", "/console/alerts/settings", s, url.Values{"unanswered": {"3"}, "escalation": {"1"}}); r.status != http.StatusSeeOther {
		t.Fatalf("save settings: %d %s", r.status, r.body)
	}
	due := alert.At.Add(time.Hour)
	id := "alert-escalate:" + cid + ":" + alert.ID + ":" + strconv.FormatInt(due.Unix(), 10)
	insp := asynq.NewInspectorFromRedisClient(a.st.Redis())
	info, err := insp.GetTaskInfo(task.QueueCritical, id)
	if err != nil {
		t.Fatalf("no escalation at the new time: %v", err)
	}
	if wait := time.Until(info.NextProcessAt); info.State != asynq.TaskStateScheduled || wait > time.Hour {
		t.Fatalf("escalation %s in %s, want within the hour now set", info.State, wait)
	}
	a.clk.Set(due.Add(time.Minute))
	if err := insp.RunTask(task.QueueCritical, id); err != nil {
		t.Fatal(err)
	}
	a.mail.WaitFor(t, 10*time.Second, "the escalation email", func([]smtptest.Message) bool { return len(staffMails(a, "alert-escalation.")) >= 1 })
	waitSettled(t, a.st, a.clk)
	// The task queued for the old four hours, when it runs, emails no one again.
	if err := insp.RunTask(task.QueueCritical, "alert-escalate:"+cid+":"+alert.ID); err != nil {
		t.Fatal(err)
	}
	a.clk.Set(alert.At.Add(4*time.Hour + time.Minute))
	waitSettled(t, a.st, a.clk)
	if got := recipients(staffMails(a, "alert-escalation.")); !slices.Equal(got, []string{"own@s.test"}) {
		t.Fatalf("escalation emails to %v, want the owner once", got)
	}
}
