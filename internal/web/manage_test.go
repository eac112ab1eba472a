package web_test

import (
	"context"
	"encoding/json"
	"io"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/hibiken/asynq"
	"github.com/nudgehq/nudge/internal/domain"
	"github.com/nudgehq/nudge/internal/redistest"
	"github.com/nudgehq/nudge/internal/store"
	"github.com/nudgehq/nudge/internal/subscription"
	"github.com/nudgehq/nudge/internal/task"
	"github.com/nudgehq/nudge/internal/token"
)

type response struct {
	code     int
	location string
	header   http.Header
	body     string
}

// send makes a request without following redirects, so a change's answer
// (a redirect back to the page) can be checked.
func (b *bundle) send(t *testing.T, method, path string, form url.Values, header http.Header) response {
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
	c := *b.srv.Client()
	c.CheckRedirect = func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }
	res, err := c.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer res.Body.Close()
	out, _ := io.ReadAll(res.Body)
	if strings.HasPrefix(res.Header.Get("Content-Type"), "text/html") && strings.Contains(string(out), "[[") {
		t.Errorf("%s %s: a catalogue key is missing: %s", method, path, between(string(out), "[[", "]]"))
	}
	return response{code: res.StatusCode, location: res.Header.Get("Location"), header: res.Header, body: string(out)}
}

// confirmed signs up through the form (validForm with changes) and confirms,
// and returns the subscriber id and their manage path.
func (b *bundle) confirmed(t *testing.T, changes url.Values) (string, string) {
	t.Helper()
	f := validForm()
	for k, v := range changes {
		f[k] = v
	}
	if code, _ := b.do(t, "POST", "/signup", f, nil); code != 200 {
		t.Fatalf("signup = %d", code)
	}
	id := b.subscriberID(t, f.Get("email"))
	if code, _ := b.do(t, "POST", "/confirm/"+b.signer.Sign(token.Confirm, id, b.now.Add(time.Hour)), url.Values{}, nil); code != 200 {
		t.Fatalf("confirm = %d", code)
	}
	b.dropEmails(t, id)
	return id, "/manage/" + b.signer.Sign(token.Manage, id, b.now.Add(time.Hour))
}

// dropEmails deletes the confirmation and welcome emails queued for id:
// no worker runs here, and the package's tests share the critical queue,
// where other tests look for their own tasks.
func (b *bundle) dropEmails(t *testing.T, id string) {
	t.Helper()
	insp := asynq.NewInspectorFromRedisClient(b.st.Redis())
	tasks, err := insp.ListPendingTasks(task.QueueCritical, asynq.PageSize(10000))
	if err != nil {
		t.Fatal(err)
	}
	for _, tk := range tasks {
		if strings.Contains(tk.ID, ":"+id+":") {
			_ = insp.DeleteTask(task.QueueCritical, tk.ID)
		}
	}
}

// withPhone makes a confirmed subscriber with email and SMS (a weekly
// check-in on Tuesdays at 18:30 in London) and returns the id and manage path.
func (b *bundle) withPhone(t *testing.T, name, email, phone string, sms domain.SMSStatus) (string, string) {
	t.Helper()
	res, err := b.st.Signup(context.Background(), domain.Subscriber{
		FirstName: name, Email: email, Phone: phone, TimeZone: "Europe/London", Locale: "en",
		Channels: []domain.Channel{domain.Email, domain.SMS}, SMSStatus: sms, CreatedAt: b.now,
	}, []domain.Schedule{{Program: domain.WeeklyCheckin, Rule: "weekly:tue@18:30"}},
		store.ConsentEvent{At: b.now, Action: store.ConsentSignup, Channel: "email,sms", Source: "form"})
	if err != nil {
		t.Fatal(err)
	}
	if code, _ := b.do(t, "POST", "/confirm/"+b.signer.Sign(token.Confirm, res.ID, b.now.Add(time.Hour)), url.Values{}, nil); code != 200 {
		t.Fatalf("confirm = %d", code)
	}
	b.dropEmails(t, res.ID)
	return res.ID, "/manage/" + b.signer.Sign(token.Manage, res.ID, b.now.Add(time.Hour))
}

// prefsForm is the preferences form as the page sends it unchanged for
// validForm's subscriber.
func prefsForm() url.Values {
	return url.Values{
		"program": {"weekly-checkin", "monthly-review"}, "weekly-checkin-day": {"tue"}, "weekly-checkin-time": {"18:30"},
		"gratitude-day": {"fri"}, "gratitude-time": {"19:00"},
		"monthly-review-day": {"last-fri"}, "monthly-review-time": {"10:00"},
		"channel": {"email"}, "tz": {"Europe/London"}, "locale": {"en"}, "goal": {""},
	}
}

func TestManagePageShowsTheChoicesInItsForms(t *testing.T) {
	b := setup(t)
	_, manage := b.confirmed(t, nil)
	code, body := b.do(t, "GET", manage, nil, nil)
	if code != 200 {
		t.Fatalf("GET manage = %d", code)
	}
	for _, want := range []string{
		`action="` + manage + `/preferences"`, `action="` + manage + `/pause"`, `href="` + manage + `/export" download`, `href="` + manage + `/erase"`,
		`value="weekly-checkin" checked`, `<option value="tue" selected>Tuesday</option>`, `id="weekly-checkin-time" name="weekly-checkin-time" step="60" value="18:30"`,
		`value="monthly-review" checked`, `<option value="last-fri" selected>The last Friday</option>`,
		`id="p-gratitude" name="program" value="gratitude">`,
		`<option value="Europe/London" selected>`, `<option value="en" lang="en" selected>`,
		`id="channel-email" name="channel" value="email" checked`, "By email (ada@example.org)",
		`min="2026-12-01" max="2027-05-30"`, "Unsubscribe from everything", "Download my data (JSON)", "Erase me",
	} {
		if !strings.Contains(body, want) {
			t.Errorf("page lacks %q", want)
		}
	}
	// No number, no SMS choice.
	if strings.Contains(body, `value="sms"`) {
		t.Error("SMS is offered to a subscriber without a number")
	}
}

func TestManagePreferencesSavesAndSaysSo(t *testing.T) {
	b := setup(t)
	ctx := context.Background()
	id, manage := b.confirmed(t, nil)
	before, _ := b.st.Schedule(ctx, id, domain.WeeklyCheckin)

	f := prefsForm()
	f["program"] = []string{"weekly-checkin", "gratitude"}
	f.Set("weekly-checkin-day", "wed")
	f.Set("weekly-checkin-time", "19:15")
	f.Set("goal", "my sister")
	res := b.send(t, "POST", manage+"/preferences", f, http.Header{"User-Agent": {"test-browser"}})
	if res.code != http.StatusSeeOther || res.location != manage+"?done=saved" {
		t.Fatalf("POST preferences = %d to %q, want 303 to the page", res.code, res.location)
	}
	scheds, _ := b.st.Schedules(ctx, id)
	if len(scheds) != 2 || scheds[0].Rule != "weekly:wed@19:15" || scheds[1].Rule != "weekly:fri@19:00" {
		t.Fatalf("schedules = %+v", scheds)
	}
	// Wednesday 2 December 19:15 in London, planned at once, under a new
	// version; the monthly review is out of the due index.
	if want := time.Date(2026, 12, 2, 19, 15, 0, 0, time.UTC); !scheds[0].Next.Equal(want) || scheds[0].Version <= before.Version {
		t.Errorf("check-in = %+v, want next %v and a version after %d", scheds[0], want, before.Version)
	}
	if n, _ := b.st.DueCount(ctx); n != 2 {
		t.Errorf("due index holds %d entries, want 2", n)
	}
	ev, _ := b.st.Consent(ctx, id)
	last := ev[len(ev)-1]
	if last.Action != store.ConsentPreferences || last.Source != "manage-page" || last.IP == "" || last.UserAgent != "test-browser" ||
		!strings.Contains(last.Detail, "removed monthly-review") || !strings.Contains(last.Detail, "added gratitude") {
		t.Errorf("ledger's last event = %+v", last)
	}

	code, body := b.do(t, "GET", res.location, nil, nil)
	for _, want := range []string{"Your changes are saved.", "Every Wednesday at 19:15", "Gratitude prompt", `value="my sister"`} {
		if code != 200 || !strings.Contains(body, want) {
			t.Errorf("page after saving lacks %q", want)
		}
	}

	// The same again: nothing to change, nothing recorded.
	if res := b.send(t, "POST", manage+"/preferences", f, nil); res.location != manage+"?done=same" {
		t.Errorf("repeat went to %q", res.location)
	}
	if ev2, _ := b.st.Consent(ctx, id); len(ev2) != len(ev) {
		t.Error("a change of nothing was recorded")
	}

	// A new language: the page follows.
	f.Set("locale", "es")
	res = b.send(t, "POST", manage+"/preferences", f, nil)
	if _, body := b.do(t, "GET", res.location, nil, nil); !strings.Contains(body, `<html lang="es">`) || !strings.Contains(body, "Guardamos tus cambios.") {
		t.Error("the page is not in the new language")
	}
}

func TestManagePreferencesRerendersWithMessages(t *testing.T) {
	tests := []struct {
		name           string
		edit           func(url.Values)
		errorID        string
		wantEn, wantEs string
	}{
		{"bad time", func(f url.Values) { f.Set("weekly-checkin-time", "25:99") }, "weekly-checkin-error", "time of day", "hora del día"},
		{"bad month day", func(f url.Values) { f.Set("monthly-review-day", "31") }, "monthly-review-error", "day of the month", "día del mes"},
		{"no program", func(f url.Values) { f.Del("program") }, "programs-error", "at least one kind", "al menos un tipo"},
		{"no channel", func(f url.Values) { f.Del("channel") }, "channels-error", "at least one way", "al menos una forma"},
		{"sms without a number", func(f url.Values) { f["channel"] = []string{"email", "sms"} }, "channels-error", "mobile number", "número de celular"},
		{"unknown zone", func(f url.Values) { f.Set("tz", "Mars/Olympus") }, "tz-error", "choose your time zone", "zona horaria de la lista"},
		{"unknown language", func(f url.Values) { f.Set("locale", "fr") }, "locale-error", "language from the list", "idioma de la lista"},
		{"long goal", func(f url.Values) { f.Set("goal", strings.Repeat("g", 61)) }, "goal-error", "60 characters", "hasta 60 caracteres"},
	}
	for _, locale := range []string{"en", "es"} {
		for _, tt := range tests {
			t.Run(locale+"/"+tt.name, func(t *testing.T) {
				b := setup(t)
				id, manage := b.confirmed(t, url.Values{"locale": {locale}})
				ledger, _ := b.st.Consent(context.Background(), id)
				f := prefsForm()
				f.Set("locale", locale)
				f.Set("goal", "kept as typed")
				tt.edit(f)
				res := b.send(t, "POST", manage+"/preferences", f, nil)
				if res.code != http.StatusUnprocessableEntity {
					t.Fatalf("status = %d, want 422", res.code)
				}
				want := map[string]string{"en": tt.wantEn, "es": tt.wantEs}[locale]
				if got := between(res.body, `id="`+tt.errorID+`">`, "</p>"); !strings.Contains(got, want) {
					t.Errorf("message next to the field = %q, want it to say %q", got, want)
				}
				if !strings.Contains(res.body, `<html lang="`+locale+`">`) {
					t.Errorf("page is not in %s", locale)
				}
				if tt.name != "long goal" && !strings.Contains(res.body, `value="kept as typed"`) {
					t.Error("what was typed is not kept")
				}
				scheds, _ := b.st.Schedules(context.Background(), id)
				after, _ := b.st.Consent(context.Background(), id)
				if len(scheds) != 2 || scheds[0].Rule != "weekly:tue@18:30" || len(after) != len(ledger) {
					t.Errorf("refused input changed something: %+v, %d ledger events", scheds, len(after))
				}
			})
		}
	}
}

func TestManageSMSNeedsTimesInsideTheWindow(t *testing.T) {
	b := setup(t)
	id, manage := b.withPhone(t, "Ada", "ada@example.org", "+447700900123", domain.SMSActive)
	code, body := b.do(t, "GET", manage, nil, nil)
	for _, want := range []string{`value="sms" checked`, "By text message (&#43;447700900123)", "between 09:00 and 20:00 your time"} {
		if code != 200 || !strings.Contains(body, want) {
			t.Errorf("page lacks %q", want)
		}
	}
	f := prefsForm()
	f["program"] = []string{"weekly-checkin"}
	f["channel"] = []string{"email", "sms"}
	f.Set("weekly-checkin-time", "21:30")
	res := b.send(t, "POST", manage+"/preferences", f, nil)
	if res.code != http.StatusUnprocessableEntity {
		t.Fatalf("status = %d, want 422", res.code)
	}
	if got := between(res.body, `id="weekly-checkin-error">`, "</p>"); !strings.Contains(got, "between 09:00 and 20:00") || !strings.Contains(got, "from 09:00 to 19:59") {
		t.Errorf("message = %q", got)
	}
	// Email alone may go at night.
	f["channel"] = []string{"email"}
	if res := b.send(t, "POST", manage+"/preferences", f, nil); res.code != http.StatusSeeOther {
		t.Fatalf("email-only at 21:30 = %d", res.code)
	}
	sub, _ := b.st.Subscriber(context.Background(), id)
	if !slices.Equal(sub.Channels, []domain.Channel{domain.Email}) {
		t.Errorf("channels = %v", sub.Channels)
	}
	// And someone who said STOP is told how texts come back.
	_, stopped := b.withPhone(t, "Bea", "bea@example.org", "+447700900456", domain.SMSStopped)
	if _, body := b.do(t, "GET", stopped, nil, nil); !strings.Contains(body, "You replied STOP") {
		t.Error("the page does not say how to have texts again after STOP")
	}
}

func TestManagePauseAndResume(t *testing.T) {
	b := setup(t)
	ctx := context.Background()
	id, manage := b.confirmed(t, nil)
	for date, want := range map[string]string{
		"2026-11-30": "a date after today", "2027-06-01": "within the next 6 months", "soon": "choose a date, like",
	} {
		res := b.send(t, "POST", manage+"/pause", url.Values{"until": {date}}, nil)
		if res.code != http.StatusUnprocessableEntity || !strings.Contains(between(res.body, `id="until-error">`, "</p>"), want) {
			t.Errorf("pause until %q = %d, message %q", date, res.code, between(res.body, `id="until-error">`, "</p>"))
		}
	}
	res := b.send(t, "POST", manage+"/pause", url.Values{"until": {"2026-12-15"}}, nil)
	if res.code != http.StatusSeeOther || res.location != manage+"?done=paused" {
		t.Fatalf("pause = %d to %q", res.code, res.location)
	}
	sub, _ := b.st.Subscriber(ctx, id)
	if want := time.Date(2026, 12, 15, 0, 0, 0, 0, time.UTC); !sub.PausedUntil.Equal(want) {
		t.Errorf("paused until %v, want %v", sub.PausedUntil, want)
	}
	_, body := b.do(t, "GET", res.location, nil, nil)
	for _, want := range []string{"Your messages are paused.", "They start again on 15 December 2026.", `action="` + manage + `/resume"`, `value="2026-12-15"`} {
		if !strings.Contains(body, want) {
			t.Errorf("paused page lacks %q", want)
		}
	}
	res = b.send(t, "POST", manage+"/resume", url.Values{}, nil)
	if res.code != http.StatusSeeOther || res.location != manage+"?done=resumed" {
		t.Fatalf("resume = %d to %q", res.code, res.location)
	}
	if sub, _ := b.st.Subscriber(ctx, id); !sub.PausedUntil.IsZero() {
		t.Errorf("still paused until %v", sub.PausedUntil)
	}
	if _, body := b.do(t, "GET", res.location, nil, nil); strings.Contains(body, "are paused. They start again") || !strings.Contains(body, "Your messages are back on.") {
		t.Error("the page still shows a pause")
	}
	ev, _ := b.st.Consent(ctx, id)
	if got := []string{ev[len(ev)-2].Action, ev[len(ev)-1].Action}; !slices.Equal(got, []string{"pause", "resume"}) {
		t.Errorf("ledger ends with %v", got)
	}
}

func TestManageGetsChangeNothingAndPostsNeedTheSameOrigin(t *testing.T) {
	b := setup(t)
	ctx := context.Background()
	id, manage := b.confirmed(t, nil)
	code, body := b.do(t, "GET", manage+"/erase", nil, nil)
	if code != 200 || !strings.Contains(body, "Erase everything about you?") || !strings.Contains(body, `<form method="post" action="`+manage+`/erase"`) {
		t.Fatalf("GET erase = %d", code)
	}
	for _, path := range []string{"/preferences", "/pause", "/resume"} {
		if code, _ := b.do(t, "GET", manage+path, nil, nil); code != http.StatusMethodNotAllowed {
			t.Errorf("GET %s = %d, want 405", path, code)
		}
	}
	crossSite := http.Header{"Sec-Fetch-Site": {"cross-site"}}
	for _, path := range []string{"/erase", "/preferences", "/pause", "/resume"} {
		if res := b.send(t, "POST", manage+path, url.Values{"until": {"2026-12-15"}}, crossSite); res.code != http.StatusForbidden {
			t.Errorf("cross-site POST %s = %d, want 403", path, res.code)
		}
	}
	sub, err := b.st.Subscriber(ctx, id)
	if err != nil || !sub.PausedUntil.IsZero() {
		t.Fatalf("after GETs and cross-site POSTs: %+v, %v", sub, err)
	}
	// Another purpose's token is no manage link.
	other := "/manage/" + b.signer.Sign(token.Unsubscribe, id, b.now.Add(time.Hour))
	if res := b.send(t, "POST", other+"/erase", url.Values{}, nil); res.code != http.StatusNotFound {
		t.Errorf("erase with an unsubscribe token = %d, want 404", res.code)
	}
	if _, err := b.st.Subscriber(ctx, id); err != nil {
		t.Fatalf("subscriber gone after a bad erase: %v", err)
	}
}

// leaveTraces gives a subscriber replies and delivery records (with the
// SMS provider ids status callbacks use).
func (b *bundle) leaveTraces(t *testing.T, id, reply string) {
	t.Helper()
	ctx := context.Background()
	for _, ch := range []domain.Channel{domain.Email, domain.SMS} {
		k := store.DeliveryKey{SubscriberID: id, Program: domain.WeeklyCheckin, Date: "2026-12-01", Channel: ch}
		if err := b.st.ClaimDelivery(ctx, k, b.now); err != nil {
			t.Fatal(err)
		}
		if err := b.st.FinishDelivery(ctx, k, store.Sent, "SM"+id+string(ch), "", b.now); err != nil {
			t.Fatal(err)
		}
	}
	if err := b.st.AddReply(ctx, id, store.Reply{At: b.now, Channel: "sms", Nudge: "weekly-checkin:2026-12-01", Text: reply}); err != nil {
		t.Fatal(err)
	}
	if err := b.st.MarkLastNudge(ctx, id, domain.WeeklyCheckin, "2026-12-01"); err != nil {
		t.Fatal(err)
	}
}

func TestManageExportHasAllAndOnlyTheSubscribersData(t *testing.T) {
	b := setup(t)
	id, manage := b.withPhone(t, "Zephyrine", "zephyrine@example.org", "+447700900123", domain.SMSActive)
	other, _ := b.withPhone(t, "Bartholomew", "bartholomew@example.org", "+447700900456", domain.SMSActive)
	b.leaveTraces(t, id, "walked with Oksana")
	b.leaveTraces(t, other, "phoned Ignatius")
	if code, _ := b.do(t, "POST", manage+"/pause", url.Values{"until": {"2026-12-15"}}, nil); code != 200 {
		t.Fatalf("pause = %d", code)
	}

	res := b.send(t, "GET", manage+"/export", nil, nil)
	if res.code != 200 {
		t.Fatalf("export = %d", res.code)
	}
	if ct := res.header.Get("Content-Type"); !strings.HasPrefix(ct, "application/json") {
		t.Errorf("Content-Type = %q", ct)
	}
	if cd := res.header.Get("Content-Disposition"); !strings.HasPrefix(cd, "attachment;") || !strings.Contains(cd, ".json") {
		t.Errorf("Content-Disposition = %q", cd)
	}
	var ex subscription.Export
	if err := json.Unmarshal([]byte(res.body), &ex); err != nil {
		t.Fatalf("export is not JSON: %v", err)
	}
	s := ex.Subscriber
	if s.ID != id || s.FirstName != "Zephyrine" || s.Email != "zephyrine@example.org" || s.Phone != "+447700900123" || s.TimeZone != "Europe/London" ||
		s.Locale != "en" || s.Status != "active" || !slices.Equal(s.Channels, []string{"email", "sms"}) || s.SMSStatus != "active" ||
		s.PausedUntil.IsZero() || s.LastNudge != "weekly-checkin:2026-12-01" || s.CreatedAt.IsZero() || s.ConfirmedAt.IsZero() {
		t.Errorf("subscriber = %+v", s)
	}
	if len(ex.Schedules) != 1 || ex.Schedules[0].Rule != "weekly:tue@18:30" || ex.Schedules[0].Next.IsZero() {
		t.Errorf("schedules = %+v", ex.Schedules)
	}
	var actions []string
	for _, ev := range ex.Consent {
		actions = append(actions, ev.Action)
	}
	if !slices.Equal(actions, []string{"signup", "confirm", "pause"}) {
		t.Errorf("consent actions = %v", actions)
	}
	if len(ex.Replies) != 1 || ex.Replies[0].Text != "walked with Oksana" {
		t.Errorf("replies = %+v", ex.Replies)
	}
	if len(ex.Deliveries) != 2 || ex.Deliveries[1].Channel != "sms" || ex.Deliveries[1].ProviderID != "SM"+id+"sms" || ex.Deliveries[0].State != "sent" {
		t.Errorf("deliveries = %+v", ex.Deliveries)
	}
	for _, theirs := range []string{other, "Bartholomew", "bartholomew@example.org", "+447700900456", "Ignatius"} {
		if strings.Contains(res.body, theirs) {
			t.Errorf("the export holds %q, another subscriber's", theirs)
		}
	}
}

func TestManageEraseLeavesNoTrace(t *testing.T) {
	for _, tt := range []struct {
		name       string
		optOut     string // "", "unsubscribe", "stop"
		suppressed []string
	}{
		{"active", "", nil},
		{"unsubscribed", "unsubscribe", []string{"email", "phone"}},
		{"sms stopped", "stop", []string{"phone"}},
	} {
		t.Run(tt.name, func(t *testing.T) {
			b := setup(t)
			ctx := context.Background()
			const (
				name, email, phone, reply = "Zephyrine", "zephyrine.erase@example.org", "+447700900123", "walked to the market with Oksana"
			)
			id, manage := b.withPhone(t, name, email, phone, domain.SMSActive)
			other, otherManage := b.withPhone(t, "Bartholomew", "bartholomew@example.org", "+447700900456", domain.SMSActive)
			b.leaveTraces(t, id, reply)
			b.leaveTraces(t, other, "phoned Ignatius")
			// Nudges queued for both (one waiting for its time, one due), and
			// an email for the one to be erased.
			client := asynq.NewClientFromRedisClient(b.st.Redis())
			notice, err := task.NewSendNotice(task.SendNotice{SubscriberID: id, Kind: task.NoticeWelcome, Nonce: "2"})
			if err != nil {
				t.Fatal(err)
			}
			if _, err := client.EnqueueContext(ctx, notice); err != nil {
				t.Fatal(err)
			}
			for _, who := range []string{id, other} {
				for i, date := range []string{"2026-12-01", "2026-12-08"} {
					tk, err := task.NewDeliverNudge(task.DeliverNudge{SubscriberID: who, Program: domain.WeeklyCheckin, Date: date, At: b.now.Unix(), Version: 1}, time.Duration(i)*time.Hour)
					if err != nil {
						t.Fatal(err)
					}
					if _, err := client.EnqueueContext(ctx, tk); err != nil {
						t.Fatal(err)
					}
				}
			}
			switch tt.optOut {
			case "unsubscribe":
				if code, _ := b.do(t, "POST", "/unsubscribe/"+b.signer.Sign(token.Unsubscribe, id, b.now.Add(time.Hour)), url.Values{}, nil); code != 200 {
					t.Fatalf("unsubscribe = %d", code)
				}
			case "stop":
				if err := b.st.StopSMS(ctx, id, store.ConsentEvent{At: b.now, Action: store.ConsentSMSStop, Channel: "sms", Source: "sms-keyword"}); err != nil {
					t.Fatal(err)
				}
			}

			code, body := b.do(t, "POST", manage+"/erase", url.Values{}, nil)
			if code != 200 || !strings.Contains(body, "Your data is erased") {
				t.Fatalf("POST erase = %d:\n%s", code, body)
			}
			needles := []string{email, phone, name, reply, id}
			if found := redistest.Traces(t, b.st.Redis(), []string{b.st.Prefix() + "*", "asynq:*"}, needles); len(found) > 0 {
				t.Errorf("left behind after erasure:\n%s", strings.Join(found, "\n"))
			}
			for what, addr := range map[string]string{"email": email, "phone": phone} {
				sup, err := b.st.Suppressed(ctx, addr)
				if err != nil {
					t.Fatal(err)
				}
				if want := slices.Contains(tt.suppressed, what); sup != want {
					t.Errorf("%s suppressed = %v, want %v", what, sup, want)
				}
			}
			// The link now leads nowhere; erasing again says the same.
			if code, _ := b.do(t, "GET", manage, nil, nil); code != http.StatusNotFound {
				t.Errorf("manage page after erasure = %d, want 404", code)
			}
			if code, body := b.do(t, "POST", manage+"/erase", url.Values{}, nil); code != 200 || !strings.Contains(body, "Your data is erased") {
				t.Errorf("second erase = %d", code)
			}

			// The other subscriber keeps everything, queued nudges included.
			if code, body := b.do(t, "GET", otherManage, nil, nil); code != 200 || !strings.Contains(body, "Bartholomew") {
				t.Errorf("the other subscriber's page = %d", code)
			}
			rep, _ := b.st.Replies(ctx, other)
			dl, _ := b.st.Deliveries(ctx, other)
			if len(rep) != 1 || len(dl) != 2 {
				t.Errorf("the other subscriber has %d replies and %d deliveries", len(rep), len(dl))
			}
			inspector := asynq.NewInspectorFromRedisClient(b.st.Redis())
			for _, date := range []string{"2026-12-01", "2026-12-08"} {
				tid := other + ":weekly-checkin:" + date
				if _, err := inspector.GetTaskInfo(task.QueueDefault, tid); err != nil {
					t.Errorf("the other subscriber's task %s: %v", tid, err)
				}
				_ = inspector.DeleteTask(task.QueueDefault, tid)
			}
		})
	}
}

func TestManagePagesInSpanish(t *testing.T) {
	b := setup(t)
	_, manage := b.confirmed(t, url.Values{"locale": {"es"}})
	english := http.Header{"Accept-Language": {"en"}}
	steps := []struct {
		method, path string
		want         []string
	}{
		{"GET", manage, []string{"Cambia lo que recibes", "Tómate un descanso", "Pausar mis mensajes", "Descargar mis datos (JSON)", "Borrar mis datos", "Por correo electrónico (ada@example.org)"}},
		{"GET", manage + "/erase", []string{"¿Borrar todo lo que tenemos sobre ti?", "Sí, borrar todo", "No, volver"}},
		{"POST", manage + "/erase", []string{"Borramos tus datos"}},
	}
	for _, st := range steps {
		var form url.Values
		if st.method == "POST" {
			form = url.Values{}
		}
		code, body := b.do(t, st.method, st.path, form, english)
		if code != 200 || !strings.Contains(body, `<html lang="es">`) {
			t.Fatalf("%s %s = %d, not Spanish", st.method, st.path, code)
		}
		for _, want := range st.want {
			if !strings.Contains(body, want) {
				t.Errorf("%s %s lacks %q", st.method, st.path, want)
			}
		}
	}
}
