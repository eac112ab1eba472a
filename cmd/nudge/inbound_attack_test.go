package main

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"maps"
	"net/http"
	"net/url"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/nudgehq/nudge/internal/config"
	"github.com/nudgehq/nudge/internal/domain"
	"github.com/nudgehq/nudge/internal/redistest"
	"github.com/nudgehq/nudge/internal/smtptest"
	"github.com/nudgehq/nudge/internal/store"
	"github.com/nudgehq/nudge/internal/twiliotest"
)

// The attacks on the inbound SMS path, performed through the public
// interfaces only: the signup form, the signed Twilio webhook, the links in
// the attacker's own emails and the clinic API.

// smsApp runs the whole service with email and SMS on test servers.
type smsApp struct {
	base  string
	mail  *smtptest.Server
	texts *twiliotest.Server
	st    *store.Store
	clk   *clock
	env   map[string]string
	app   *App
}

func startSMSApp(t *testing.T, at time.Time, countries string) *smsApp {
	t.Helper()
	return startSMSAppWith(t, at, countries, nil)
}

// startSMSAppWith is startSMSApp with more variables set (or replaced).
func startSMSAppWith(t *testing.T, at time.Time, countries string, extra map[string]string) *smsApp {
	t.Helper()
	a := &smsApp{mail: smtptest.Start(t), texts: twiliotest.Start(t), clk: &clock{t: at}}
	prefix := redistest.Prefix(t)
	a.env = map[string]string{
		"NUDGE_REDIS_URL":          fmt.Sprintf("redis://%s/%d", redistest.Addr(), redistest.DBMain),
		"NUDGE_REDIS_PREFIX":       prefix,
		"NUDGE_SMTP_HOST":          a.mail.Host(),
		"NUDGE_SMTP_PORT":          fmt.Sprint(a.mail.Port()),
		"NUDGE_SMTP_TLS":           "none",
		"NUDGE_EMAIL_FROM":         "nudge <hello@nudge.test>",
		"NUDGE_BASE_URL":           "https://nudge.test",
		"NUDGE_HTTP_ADDR":          "127.0.0.1:0",
		"NUDGE_SECRET":             "an-inbound-attack-test-secret-of-enough-length",
		"NUDGE_POSTAL_ADDRESS":     "1 Test Street, Testville",
		"NUDGE_TWILIO_ACCOUNT_SID": a.texts.AccountSID,
		"NUDGE_TWILIO_AUTH_TOKEN":  a.texts.AuthToken,
		"NUDGE_TWILIO_FROM":        "+15005550006",
		"NUDGE_TWILIO_API_URL":     a.texts.URL,
		"NUDGE_SMS_COUNTRIES":      countries,
	}
	maps.Copy(a.env, extra)
	cfg, err := config.Load(a.getenv)
	if err != nil {
		t.Fatal(err)
	}
	cfg.PlannerInterval = 20 * time.Millisecond
	cfg.PlannerHorizon = time.Second
	app := startApp(t, cfg, RoleAll, a.clk)
	a.app = app
	a.st = store.New(redistest.Client(t, redistest.DBMain), prefix)
	t.Cleanup(func() { waitSettled(t, a.st, a.clk) })
	a.base = "http://" + app.Addr().String()
	return a
}

func (a *smsApp) getenv(k string) string { return a.env[k] }

// signup posts the public form as a browserless client would.
func (a *smsApp) signup(t *testing.T, name, email, phone string) string {
	t.Helper()
	f := url.Values{
		"first_name": {name}, "tz": {"Europe/London"}, "locale": {"en"},
		"program": {"weekly-checkin"}, "weekly-checkin-day": {"tue"}, "weekly-checkin-time": {"18:30"},
	}
	if email != "" {
		f.Set("email", email)
	}
	if phone != "" {
		f.Set("phone", phone)
		f.Set("sms_consent", "yes")
	}
	resp, err := http.PostForm(a.base+"/signup", f)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(resp.Body)
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("signup = %d\n%s", resp.StatusCode, body)
	}
	return string(body)
}

func (a *smsApp) get(t *testing.T, link string) (int, string) {
	t.Helper()
	u, err := url.Parse(link)
	if err != nil {
		t.Fatal(err)
	}
	resp, err := http.Get(a.base + u.Path)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, string(body)
}

// createClinic makes a clinic with the operator's command and returns its API key.
func (a *smsApp) createClinic(t *testing.T, name, display string) string {
	t.Helper()
	var out, errOut bytes.Buffer
	if code := clinicCommand(context.Background(), []string{"create", "--name", name, "--display-name", display}, a.getenv, a.clk.Now, &out, &errOut); code != 0 {
		t.Fatalf("nudge clinic create: exit %d: %s", code, errOut.String())
	}
	key := apiKeyRE.FindStringSubmatch(out.String())
	if key == nil {
		t.Fatalf("no key in:\n%s", out.String())
	}
	return key[1]
}

func (a *smsApp) enrol(t *testing.T, key, name, phone string) string {
	t.Helper()
	c := callAPI(t, a.base, key, "POST", "/api/v1/clients", map[string]any{
		"first_name": name, "phone": phone, "time_zone": "Europe/London", "locale": "en", "channels": []string{"sms"},
		"consent": map[string]any{"obtained_by": "Dr R. Osei", "obtained_at": a.clk.Now().Add(-time.Hour).Format(time.RFC3339), "method": "written"},
	}, http.StatusCreated)
	id, _ := c["id"].(string)
	if id == "" {
		t.Fatalf("enrolled: %v", c)
	}
	return id
}

var exportLinkRE = regexp.MustCompile(`https://nudge\.test/manage/[A-Za-z0-9._~%-]+`)

const (
	victimPhone = "+447400123456"
	divorceNote = "I have been feeling very lonely since my divorce"
)

// An attacker signs up on the form with a victim's confirmed number and an
// email of their own, then reads their own record through the export link
// of their own confirmation email. The victim's texts must reach only the
// victim: the note is kept on the victim's record, PAUSE pauses the victim,
// and the attacker's export holds none of it.
func TestAttackerSigningUpWithAConfirmedNumberReadsNothing(t *testing.T) {
	a := startSMSApp(t, time.Date(2026, 12, 1, 16, 0, 0, 0, time.UTC), "GB")
	ctx := context.Background()

	// The victim signs up for texts and confirms with YES.
	a.signup(t, "Vic", "", "07400 123456")
	waitTextTo(t, a.texts, victimPhone, 1)
	inbound(t, a.base, a.texts, victimPhone, "SMvictimyes000000000000000000001", "YES")
	victimID, err := a.st.SubscriberByPhone(ctx, victimPhone)
	if err != nil {
		t.Fatal(err)
	}
	if v, _ := a.st.Subscriber(ctx, victimID); v.SMSStatus != domain.SMSActive {
		t.Fatalf("victim not confirmed: %+v", v)
	}

	// The attacker signs up with the victim's number; a confirmation text
	// goes to the victim's phone, which must move nothing.
	a.signup(t, "Mal", "mal@example.org", "+44 7400 123456")
	waitTextTo(t, a.texts, victimPhone, 2)
	confirmEmail := a.mail.WaitFor(t, 10*time.Second, "the attacker's confirmation", func(ms []smtptest.Message) bool {
		for _, m := range ms {
			if len(m.To) == 1 && m.To[0] == "mal@example.org" {
				return true
			}
		}
		return false
	})
	attackerID := subscriberID(t, a.st, "mal@example.org")
	if id, _ := a.st.SubscriberByPhone(ctx, victimPhone); id != victimID {
		t.Errorf("the phone index now names %q, want the victim %q", id, victimID)
	}

	// The victim writes, then pauses.
	inbound(t, a.base, a.texts, victimPhone, "SMvictimnote00000000000000000001", divorceNote)
	inbound(t, a.base, a.texts, victimPhone, "SMvictimpause0000000000000000001", "PAUSE")

	var link string
	for _, m := range confirmEmail {
		if m.To[0] == "mal@example.org" {
			link = exportLinkRE.FindString(m.Text)
		}
	}
	if link == "" {
		t.Fatal("no manage link in the attacker's confirmation email")
	}
	code, export := a.get(t, link+"/export")
	if code != http.StatusOK {
		t.Fatalf("the attacker's export = %d", code)
	}
	if strings.Contains(export, "divorce") || strings.Contains(export, "lonely") {
		t.Errorf("the attacker's export holds the victim's words:\n%s", export)
	}
	if r, _ := a.st.Replies(ctx, attackerID); len(r) != 0 {
		t.Errorf("the attacker's record keeps replies %v", r)
	}
	if m, _ := a.st.Subscriber(ctx, attackerID); !m.PausedUntil.IsZero() || m.SMSStatus != domain.SMSPending {
		t.Errorf("the attacker's record was changed by the victim's texts: %+v", m)
	}
	r, _ := a.st.Replies(ctx, victimID)
	if len(r) != 1 || r[0].Text != divorceNote {
		t.Errorf("the victim's replies = %+v, want the note", r)
	}
	if v, _ := a.st.Subscriber(ctx, victimID); !v.PausedUntil.After(a.clk.Now()) {
		t.Errorf("the victim is not paused: %+v", v)
	}
}

// Clinic B enrols clinic A's confirmed client's number. The client's texts
// reach clinic A's record only: nothing clinic B can call returns them, and
// B's record stays unconfirmed.
func TestClinicEnrollingAnotherClinicsNumberReadsNothing(t *testing.T) {
	a := startSMSApp(t, time.Date(2026, 12, 1, 16, 0, 0, 0, time.UTC), "GB")
	keyA := a.createClinic(t, "Clinic A", "Team A")
	keyB := a.createClinic(t, "Clinic B", "Team B")

	idA := a.enrol(t, keyA, "Sam", victimPhone)
	waitTextTo(t, a.texts, victimPhone, 1)
	inbound(t, a.base, a.texts, victimPhone, "SMclientyes000000000000000000001", "YES")

	idB := a.enrol(t, keyB, "Sam", victimPhone)
	if ask := waitTextTo(t, a.texts, victimPhone, 2); !strings.HasPrefix(ask.Body, "Team B: ") {
		t.Errorf("clinic B's request %q", ask.Body)
	}
	inbound(t, a.base, a.texts, victimPhone, "SMclientnote00000000000000000001", "I relapsed last night")
	inbound(t, a.base, a.texts, victimPhone, "SMclientrate00000000000000000001", "2")

	for _, path := range []string{"/api/v1/clients/" + idB, "/api/v1/clients/" + idB + "/replies", "/api/v1/clients/" + idB + "/deliveries", "/api/v1/clients"} {
		got := callAPI(t, a.base, keyB, "GET", path, nil, http.StatusOK)
		if s := fmt.Sprint(got); strings.Contains(s, "relapsed") || strings.Contains(s, `rating:2`) {
			t.Errorf("clinic B reads the client's words at %s: %s", path, s)
		}
	}
	if got := callAPI(t, a.base, keyB, "GET", "/api/v1/clients/"+idB, nil, http.StatusOK); got["status"] != "pending" {
		t.Errorf("clinic B's record = %v, want still pending", got)
	}
	callAPI(t, a.base, keyB, "GET", "/api/v1/clients/"+idA+"/replies", nil, http.StatusNotFound)
	replies := callAPI(t, a.base, keyA, "GET", "/api/v1/clients/"+idA+"/replies", nil, http.StatusOK)
	if !strings.Contains(fmt.Sprint(replies["data"]), "I relapsed last night") {
		t.Errorf("clinic A does not get its client's reply: %v", replies)
	}
}

// Five signups on the form with five addresses and one number, then a
// clinic's enrolment of the same number: the number gets three texts a day
// at most, and no text repeats what the attacker typed or carries a link.
func TestConfirmationTextsToOneNumberAreBudgeted(t *testing.T) {
	a := startSMSApp(t, time.Date(2026, 12, 1, 16, 0, 0, 0, time.UTC), "GB")
	const spam = "win $500 at bit.ly/x9 now"
	var ids []string
	for i := range 5 {
		email := fmt.Sprintf("flood%d@example.org", i)
		a.signup(t, spam, email, victimPhone)
		ids = append(ids, subscriberID(t, a.st, email))
	}
	key := a.createClinic(t, "Clinic C", "Team C")
	ids = append(ids, a.enrol(t, key, "Sam", victimPhone))

	// Every request ends: sent, or skipped for the budget.
	ctx := context.Background()
	deadline := time.Now().Add(15 * time.Second)
	sent, skipped := 0, 0
	for {
		sent, skipped = 0, 0
		for _, id := range ids {
			nonce := fmt.Sprint(a.clk.Now().Unix() / 60)
			if i := len(ids) - 1; id == ids[i] {
				nonce = "enrol"
			}
			d, err := a.st.Delivery(ctx, store.DeliveryKey{SubscriberID: id, Program: "system-sms-confirm", Date: nonce, Channel: domain.SMS})
			if err != nil {
				continue
			}
			switch d.State {
			case store.Sent:
				sent++
			case store.Skipped:
				skipped++
			}
		}
		if sent+skipped == len(ids) || time.Now().After(deadline) {
			break
		}
		time.Sleep(20 * time.Millisecond)
	}
	if sent != signupLimitPerDay || skipped != len(ids)-signupLimitPerDay {
		t.Errorf("%d confirmation texts sent and %d skipped, want %d and %d", sent, skipped, signupLimitPerDay, len(ids)-signupLimitPerDay)
	}
	got := textsTo(a.texts, victimPhone)
	if len(got) != signupLimitPerDay {
		t.Errorf("the number got %d texts, want %d", len(got), signupLimitPerDay)
	}
	for _, m := range got {
		if strings.Contains(m.Body, "$500") || strings.Contains(m.Body, "bit.ly") || strings.Contains(m.Body, "http") || strings.Contains(m.Body, "win") {
			t.Errorf("a confirmation text carries typed text or a link: %q", m.Body)
		}
	}
}

// signupLimitPerDay mirrors signuplimit.NumberPerDay, written out so that a
// change of the budget is a change of this test too.
const signupLimitPerDay = 3
