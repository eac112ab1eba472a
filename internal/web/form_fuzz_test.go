package web

import (
	"net/url"
	"strings"
	"testing"
	"unicode/utf8"

	"github.com/nudgehq/nudge/internal/domain"
	"github.com/nudgehq/nudge/internal/phone"
	"github.com/nudgehq/nudge/internal/zones"
	"github.com/nudgehq/nudge/scheduler"
)

// FuzzSignupForm feeds the form decoder and validator any body a client
// could post: it never panics, and whatever it accepts is something the
// store and scheduler can use.
func FuzzSignupForm(f *testing.F) {
	f.Add("first_name=Ada&email=ada%40example.org&tz=Europe%2FLondon&program=weekly-checkin&weekly-checkin-day=tue&weekly-checkin-time=18%3A30")
	f.Add("first_name=Bo&phone=%2B12015550123&sms_consent=yes&tz=UTC&program=monthly-review&monthly-review-day=last-fri&monthly-review-time=10%3A00")
	f.Add("first_name=%00&email=a%40b&tz=Mars&program=x")
	f.Add("email=%E2%80%AEevil%40example.org&first_name=%F0%9F%98%80")
	f.Add("program=weekly-checkin&program=weekly-checkin&weekly-checkin-time=24%3A00")
	zoneSet := map[string]bool{}
	for _, z := range zones.Names() {
		zoneSet[z] = true
	}
	rules := smsRules{phones: phone.New("US", nil), window: scheduler.DefaultSMSWindow}
	f.Fuzz(func(t *testing.T, body string) {
		v, err := url.ParseQuery(body)
		if err != nil {
			return
		}
		sub, scheds, errs := parseSignupForm(v).validate(zoneSet, rules)
		if len(errs) > 0 {
			if sub.FirstName != "" || scheds != nil {
				t.Fatalf("errors %v but a subscriber came back", errs)
			}
			return
		}
		if sub.FirstName == "" || !utf8.ValidString(sub.FirstName) || utf8.RuneCountInString(sub.FirstName) > 40 {
			t.Fatalf("accepted first name %q", sub.FirstName)
		}
		if sub.Email == "" && sub.Phone == "" {
			t.Fatal("accepted a signup with neither address nor number")
		}
		if sub.Email != "" && (checkEmail(sub.Email) != "" || strings.ContainsAny(sub.Email, " <>\r\n")) {
			t.Fatalf("accepted address %q", sub.Email)
		}
		if sub.Phone != "" && (!strings.HasPrefix(sub.Phone, "+") || sub.SMSStatus != domain.SMSPending) {
			t.Fatalf("accepted number %q with sms status %q", sub.Phone, sub.SMSStatus)
		}
		if len(scheds) == 0 {
			t.Fatal("accepted a signup with no program")
		}
		for _, sc := range scheds {
			if _, err := scheduler.ParseRule(sc.Rule); err != nil || !sc.Program.Valid() {
				t.Fatalf("accepted schedule %+v: %v", sc, err)
			}
		}
		if _, err := scheduler.LoadZone(sub.TimeZone); err != nil {
			t.Fatalf("accepted zone %q", sub.TimeZone)
		}
	})
}
