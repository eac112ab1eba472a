package webhook_test

import (
	"context"
	"encoding/xml"
	"flag"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/nudgehq/nudge/internal/domain"
	"github.com/nudgehq/nudge/internal/store"
)

var update = flag.Bool("update", false, "rewrite the golden files in testdata/")

// The answers to HELP and to distress, for a confirmed record of each
// country with built-in lines (and one without) in each language, are the
// texts in testdata/answers: a change to any of them shows in review.
func TestCrisisAnswersPerCountryAndLanguage(t *testing.T) {
	b := setup(t, "en")
	ctx := context.Background()
	for _, c := range []struct{ country, phone, zone string }{
		{"US", "+12015550140", "America/New_York"},
		{"CA", "+14165550140", "America/Toronto"},
		{"ES", "+34612345640", "Europe/Madrid"},
		{"MX", "+525512345640", "America/Mexico_City"},
		{"GB", "+447400123440", "Europe/London"},
		{"FR", "+33612345640", "Europe/Paris"},
	} {
		for _, locale := range []string{"en", "es"} {
			phone := c.phone[:len(c.phone)-1] + map[string]string{"en": "1", "es": "2"}[locale]
			if _, err := b.st.Signup(ctx, domain.Subscriber{FirstName: "Sam", Phone: phone, TimeZone: c.zone, Locale: locale,
				Channels: []domain.Channel{domain.SMS}, SMSStatus: domain.SMSActive}, nil, store.ConsentEvent{}); err != nil {
				t.Fatal(err)
			}
			distress := map[string]string{"en": "I want to end my life", "es": "me quiero morir"}[locale]
			for _, tt := range []struct{ kind, body string }{{"help", "HELP"}, {"crisis", distress}} {
				_, twiml := b.text(t, phone, tt.body)
				golden(t, filepath.Join("answers", c.country+"-"+locale+"-"+tt.kind), message(t, twiml))
			}
		}
	}
}

// message is the text of the one message in a TwiML answer.
func message(t *testing.T, twiml string) string {
	t.Helper()
	var r struct {
		Message []string `xml:"Message"`
	}
	if err := xml.Unmarshal([]byte(twiml), &r); err != nil || len(r.Message) != 1 {
		t.Fatalf("want one message in %s (%v)", twiml, err)
	}
	return r.Message[0]
}

func golden(t *testing.T, name, got string) {
	t.Helper()
	path := filepath.Join("testdata", name+".golden")
	if *update {
		if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(path, []byte(got+"\n"), 0o644); err != nil {
			t.Fatal(err)
		}
		return
	}
	want, err := os.ReadFile(path)
	if err != nil {
		t.Fatalf("%v (run go test ./internal/webhook/ -update to write it)", err)
	}
	if got != strings.TrimSuffix(string(want), "\n") {
		t.Errorf("%s:\n got %s\nwant %s", name, got, want)
	}
}
