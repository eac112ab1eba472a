package main

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/nudgehq/nudge/internal/domain"
	"github.com/nudgehq/nudge/internal/store"
	"github.com/nudgehq/nudge/internal/twiliotest"
)

// textReply posts a signed inbound text and returns the TwiML answer and how
// long it took.
func textReply(t *testing.T, a *smsApp, from, sid, body string) (string, time.Duration) {
	t.Helper()
	params := url.Values{"MessageSid": {sid}, "From": {from}, "To": {"+15005550006"}, "Body": {body}, "AccountSid": {a.texts.AccountSID}}
	req, err := twiliotest.NewSignedRequest(context.Background(), a.texts.AuthToken,
		"https://nudge.test/webhooks/twilio/sms", a.base+"/webhooks/twilio/sms", params)
	if err != nil {
		t.Fatal(err)
	}
	start := time.Now()
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	out, _ := io.ReadAll(resp.Body)
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("inbound %q: %d", body, resp.StatusCode)
	}
	return string(out), time.Since(start)
}

// confirmedTexter stores a public subscriber whose texts are confirmed, with
// a weekly check-in planned at next.
func confirmedTexter(t *testing.T, a *smsApp, phone, zone, locale string, next time.Time) string {
	t.Helper()
	ctx := context.Background()
	res, err := a.st.Signup(ctx, domain.Subscriber{FirstName: "Sam", Phone: phone, TimeZone: zone, Locale: locale,
		Channels: []domain.Channel{domain.SMS}, SMSStatus: domain.SMSPending, CreatedAt: a.clk.Now().Add(-2 * time.Hour)},
		[]domain.Schedule{{Program: domain.WeeklyCheckin, Rule: "weekly:tue@18:30"}}, store.ConsentEvent{})
	if err != nil {
		t.Fatal(err)
	}
	if ok, err := a.st.ActivateBySMS(ctx, res.ID, a.clk.Now().Add(-time.Hour), map[domain.Program]time.Time{domain.WeeklyCheckin: next}, store.ConsentEvent{}); err != nil || !ok {
		t.Fatalf("activate: %v %v", ok, err)
	}
	return res.ID
}

// A text in distress at 03:00 local time is answered at once, whatever the
// hour, with the crisis lines of the person's country in their language;
// the next check-in is held and a gentle check-in goes instead; a clinic
// hears of its client's distress once, without the words.
func TestDistressIsAnsweredAtOnceWithTheRightLinesAndHoldsTheNudges(t *testing.T) {
	// Tuesday 1 December 2026, 08:00 UTC: 03:00 in New York.
	a := startSMSApp(t, time.Date(2026, 12, 1, 8, 0, 0, 0, time.UTC), "US,ES,MX,GB")
	ctx := context.Background()
	checkin := time.Date(2026, 12, 1, 23, 30, 0, 0, time.UTC) // Tuesday 18:30 in New York

	for _, tc := range []struct {
		name, phone, zone, locale, body string
		want                            []string
	}{
		{"US English", "+12015550101", "America/New_York", "en", "honestly I don't want to be here anymore", []string{"988", "911"}},
		{"US Spanish", "+12015550102", "America/New_York", "es", "me quiero morir", []string{"988 y marca 2", "AYUDA"}},
		{"Spain", "+34612345678", "Europe/Madrid", "es", "ya no aguanto más, no quiero seguir", []string{"024", "112"}},
		{"Mexico", "+525512345678", "America/Mexico_City", "es", "nadie me extrañaría si me fuera", []string{"800 911 2000", "911"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			id := confirmedTexter(t, a, tc.phone, tc.zone, tc.locale, checkin)
			answer, took := textReply(t, a, tc.phone, "SMdistress"+strings.TrimPrefix(tc.phone, "+")+"00000000000", tc.body)
			if took > 5*time.Second {
				t.Errorf("answered after %s", took)
			}
			for _, w := range tc.want {
				if !strings.Contains(answer, w) {
					t.Errorf("the answer lacks %q: %s", w, answer)
				}
			}
			if tc.locale == "es" && !strings.Contains(answer, "START") || tc.locale == "es" && strings.Contains(answer, "thank you") {
				t.Errorf("not answered in Spanish: %s", answer)
			}
			sub, _ := a.st.Subscriber(ctx, id)
			if sub.DistressAt.IsZero() || !sub.PausedUntil.After(a.clk.Now()) {
				t.Errorf("nudges not held: %+v", sub)
			}
		})
	}

	// The US English subscriber's check-in time comes: no check-in, a gentle
	// check-in of its own instead, and only one.
	us := "+12015550101"
	a.clk.Set(checkin.Add(time.Second))
	gentle := waitTextTo(t, a.texts, us, 1)
	if !strings.Contains(gentle.Body, "paused your messages") || !strings.Contains(gentle.Body, "Would you like them back?") || strings.Contains(strings.ToLower(gentle.Body), "welcome back") {
		t.Errorf("the message after distress: %q", gentle.Body)
	}
	a.clk.Set(checkin.Add(7 * 24 * time.Hour).Add(time.Second))
	time.Sleep(300 * time.Millisecond)
	waitSettled(t, a.st, a.clk)
	if n := len(textsTo(a.texts, us)); n != 1 {
		t.Errorf("%d texts after the distress, want the gentle check-in only until the person resumes", n)
	}

	// A clinic's client: one flag, no words.
	hooks := startHookReceiver(t, a.clk)
	var out, errOut bytes.Buffer
	if code := clinicCommand(ctx, []string{"create", "--name", "Clinic D", "--display-name", "Team D", "--webhook-url", hooks.srv.URL,
		"--crisis-text", "Out of hours: call 555 0199."}, a.getenv, a.clk.Now, &out, &errOut); code != 0 {
		t.Fatalf("nudge clinic create: %d %s", code, errOut.String())
	}
	hooks.mu.Lock()
	hooks.secret = secretRE.FindStringSubmatch(out.String())[1]
	hooks.mu.Unlock()
	key := apiKeyRE.FindStringSubmatch(out.String())[1]
	a.clk.Set(time.Date(2026, 12, 9, 15, 0, 0, 0, time.UTC)) // 10:00 in New York
	const client = "+12015550199"
	c := callAPI(t, a.base, key, "POST", "/api/v1/clients", map[string]any{
		"first_name": "Ana", "phone": client, "time_zone": "America/New_York", "locale": "en", "channels": []string{"sms"},
		"consent": map[string]any{"obtained_by": "Dr R. Osei", "obtained_at": "2026-12-09T14:00:00Z", "method": "written"},
	}, http.StatusCreated)
	waitTextTo(t, a.texts, client, 1)
	textReply(t, a, client, "SMclientyes0000000000000000000001", "YES")
	hooks.waitEvent(t, "client.confirmed")
	answer, _ := textReply(t, a, client, "SMclientsad0000000000000000000001", "i keep thinking about ending it all")
	if !strings.HasPrefix(strings.SplitN(answer, "<Message>", 2)[1], "Team D: ") || !strings.Contains(answer, "Out of hours: call 555 0199.") || !strings.Contains(answer, "988") {
		t.Errorf("the client's answer: %s", answer)
	}
	flag := hooks.waitEvent(t, "client.crisis_flag")
	if data, _ := flag["data"].(map[string]any); data["client_id"] != c["id"] || data["channel"] != "sms" {
		t.Errorf("the flag: %v", flag)
	}
	time.Sleep(300 * time.Millisecond)
	hooks.mu.Lock()
	defer hooks.mu.Unlock()
	flags := 0
	for _, ev := range hooks.events {
		if s := fmt.Sprint(ev); strings.Contains(s, "ending it all") {
			t.Errorf("an event carries the client's words: %s", s)
		}
		if ev["type"] == "client.crisis_flag" {
			flags++
		}
		if ev["type"] == "client.replied" {
			t.Errorf("the distress reply was sent as client.replied: %v", ev)
		}
	}
	if flags != 1 {
		t.Errorf("%d crisis flags, want exactly one", flags)
	}
}
