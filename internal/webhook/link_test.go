package webhook_test

import (
	"context"
	"regexp"
	"strings"
	"testing"

	"github.com/nudgehq/nudge/internal/domain"
	"github.com/nudgehq/nudge/internal/links"
	"github.com/nudgehq/nudge/internal/store"
	"github.com/nudgehq/nudge/internal/token"
)

var linkPattern = regexp.MustCompile(`https://nudge\.test/link/([^\s<]+)`)

// LINK from a confirmed number answers with a link to that person's own
// page, short-lived and single-use (the web tier enforces both), taken
// from the number's budget; from a number no confirmed record holds it
// gets the HELP answer and no link.
func TestLinkSendsTheOwnersPageOnly(t *testing.T) {
	b := setup(t, "en")
	var got []string
	for i := range 4 {
		_, reply := b.text(t, phone, []string{"LINK", "manage", "link please", "LINK"}[i])
		got = append(got, reply)
	}
	for i, reply := range got[:3] {
		m := linkPattern.FindStringSubmatch(reply)
		if m == nil || !strings.Contains(reply, "30 minutes") {
			t.Fatalf("LINK %d answered %s, want a link", i+1, reply)
		}
		subject, err := b.signer.Verify(token.TextLink, m[1], now.Add(links.TextLinkTTL-1))
		if err != nil {
			t.Fatalf("link %d: %v", i+1, err)
		}
		if id, _, ok := links.ParseTextLinkSubject(subject); !ok || id != b.id {
			t.Fatalf("link %d names %q, want %s", i+1, subject, b.id)
		}
		if _, err := b.signer.Verify(token.TextLink, m[1], now.Add(links.TextLinkTTL+1)); err == nil {
			t.Fatalf("link %d still works after 30 minutes", i+1)
		}
	}
	if linkPattern.MatchString(got[3]) || !strings.Contains(got[3], "tomorrow") {
		t.Fatalf("a fourth link in a day: %s", got[3])
	}
	if _, a := b.text(t, "+447400999888", "LINK"); linkPattern.MatchString(a) || !strings.Contains(a, "HELP") && !strings.Contains(a, "STOP") {
		t.Fatalf("an unknown number got %s", a)
	}
}

// A stranger's pending signup with the number never gets the owner's
// texts, so a LINK from the number reaches only the confirmed record.
func TestLinkNeverNamesAPendingRecord(t *testing.T) {
	b := setup(t, "en")
	ctx := context.Background()
	res, err := b.st.Signup(ctx, domain.Subscriber{FirstName: "Mallory", Email: "mallory@example.org", Phone: phone, TimeZone: "Europe/London", Locale: "en",
		Channels: []domain.Channel{domain.SMS}, SMSStatus: domain.SMSPending}, nil, store.ConsentEvent{})
	if err != nil {
		t.Fatal(err)
	}
	_, reply := b.text(t, phone, "LINK")
	m := linkPattern.FindStringSubmatch(reply)
	if m == nil {
		t.Fatalf("LINK answered %s", reply)
	}
	subject, _ := b.signer.Verify(token.TextLink, m[1], now)
	if id, _, _ := links.ParseTextLinkSubject(subject); id != b.id || id == res.ID {
		t.Fatalf("the link names %q (owner %s, stranger %s)", id, b.id, res.ID)
	}
}
