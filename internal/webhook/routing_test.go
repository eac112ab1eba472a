package webhook_test

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/nudgehq/nudge/internal/domain"
	"github.com/nudgehq/nudge/internal/store"
)

// pending stores a public subscriber who named phone and, if askedAt is not
// zero, was texted a confirmation request then.
func (b *bundle) pending(t *testing.T, email string, askedAt time.Time) string {
	t.Helper()
	ctx := context.Background()
	res, err := b.st.Signup(ctx, domain.Subscriber{FirstName: "Mal", Email: email, Phone: phone, TimeZone: "Europe/London", Locale: "en",
		Channels: []domain.Channel{domain.SMS}, SMSStatus: domain.SMSPending}, nil, store.ConsentEvent{})
	if err != nil {
		t.Fatal(err)
	}
	if !askedAt.IsZero() {
		k := store.DeliveryKey{SubscriberID: res.ID, Program: "system-sms-confirm", Date: "n", Channel: domain.SMS}
		if err := b.st.ClaimDelivery(ctx, k, askedAt); err != nil {
			t.Fatal(err)
		}
		if err := b.st.FinishSent(ctx, k, "SMask", askedAt, store.SentMarks{SMSAskedAt: askedAt}); err != nil {
			t.Fatal(err)
		}
	}
	return res.ID
}

func TestYesConfirmsOnlyARecentRequest(t *testing.T) {
	b := setup(t, "en")
	ctx := context.Background()
	never := b.pending(t, "never@example.org", time.Time{})
	stale := b.pending(t, "stale@example.org", now.Add(-store.SMSConfirmTTL-time.Minute))
	fresh := b.pending(t, "fresh@example.org", now.Add(-time.Hour))
	if _, reply := b.text(t, phone, "YES"); !strings.Contains(reply, "texts are on") {
		t.Errorf("YES answered %s", reply)
	}
	for id, want := range map[string]domain.SMSStatus{never: domain.SMSPending, stale: domain.SMSPending, fresh: domain.SMSActive, b.id: domain.SMSActive} {
		if s, _ := b.st.Subscriber(ctx, id); s.SMSStatus != want {
			t.Errorf("record %s: sms %q, want %q", id, s.SMSStatus, want)
		}
	}
}

func TestNothingReachesAPendingRecord(t *testing.T) {
	b := setup(t, "en")
	ctx := context.Background()
	// The confirmed subscriber is the only one whose texts are on; the newer
	// pending record asked, but a reply is not a YES.
	mal := b.pending(t, "mal@example.org", now.Add(-time.Minute))
	b.text(t, phone, "3 saw my brother")
	b.text(t, phone, "PAUSE")
	if r, _ := b.st.Replies(ctx, mal); len(r) != 0 {
		t.Errorf("the pending record keeps %v", r)
	}
	r, _ := b.st.Replies(ctx, b.id)
	if len(r) != 1 || r[0].Rating != 3 || r[0].Text != "saw my brother" {
		t.Errorf("the confirmed record's replies %+v, want a 3 with its note", r)
	}
	if s, _ := b.st.Subscriber(ctx, mal); !s.PausedUntil.IsZero() {
		t.Error("PAUSE paused the pending record")
	}
	if s := b.sub(t); s.PausedUntil.IsZero() {
		t.Error("PAUSE did not pause the confirmed record")
	}
}

func TestAnUnknownNumberIsAnsweredButNothingIsKept(t *testing.T) {
	b := setup(t, "en")
	const stranger = "+447400999888"
	for body, want := range map[string]string{
		"HELP":               "Reply STOP to stop",
		"AYUDA":              "Responde BAJA",
		"PAUSE":              "we do not have this number",
		"hello is this sam?": "",
	} {
		_, reply := b.text(t, stranger, body)
		if want == "" && strings.Contains(reply, "<Message>") || want != "" && !strings.Contains(reply, want) {
			t.Errorf("%q from an unknown number answered %s, want %q", body, reply, want)
		}
	}
	keys, _ := b.st.Redis().Keys(context.Background(), b.st.Prefix()+"replies:*").Result()
	if len(keys) != 0 {
		t.Errorf("replies kept for an unknown number: %v", keys)
	}
}

func TestSpanishKeywordsAreAnsweredInTheRecordsLanguage(t *testing.T) {
	for body, want := range map[string]string{
		"AYUDA":              "Responde BAJA para dejarlos",
		"pausa":              "en pausa hasta el",
		"BAJA":               "no te enviaremos mas mensajes",
		"no más mensajes":    "no te enviaremos mas mensajes",
		"no me escribas más": "no te enviaremos mas mensajes",
	} {
		t.Run(body, func(t *testing.T) {
			b := setup(t, "es")
			_, reply := b.text(t, phone, body)
			if !strings.Contains(reply, want) {
				t.Errorf("%q answered %s, want %q", body, reply, want)
			}
		})
	}
}

func TestAClinicsClientIsAnsweredInTheClinicsName(t *testing.T) {
	b := setup(t, "en")
	ctx := context.Background()
	cid, client := b.withClient(t)
	if err := b.st.RouteReplies(ctx, phone, client); err != nil {
		t.Fatal(err)
	}
	// The operator set the clinic's contact line (nudge clinic create --help-text).
	if err := b.st.Redis().HSet(ctx, b.st.Prefix()+"clinic:"+cid, "hp", "Questions? Call 555 0100.").Err(); err != nil {
		t.Fatal(err)
	}
	for _, tt := range []struct{ body, want string }{
		{"HELP", "Riverside: short weekly prompts"},
		{"PAUSE", "Riverside: paused until"},
		{"a note", "<Message>Riverside: "},
		{"STOP NOW!", "Riverside: you will get no more texts"},
	} {
		body, want := tt.body, tt.want
		_, reply := b.text(t, phone, body)
		if !strings.Contains(reply, want) || strings.Contains(reply, "nudge:") {
			t.Errorf("%q answered %s, want %q and not the service's name", body, reply, want)
		}
		if body == "HELP" && !strings.Contains(reply, "Questions? Call 555 0100.") {
			t.Errorf("HELP lacks the clinic's contact line: %s", reply)
		}
	}
}
