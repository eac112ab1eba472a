package notify_test

import (
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/nudgehq/nudge/internal/notify"
)

const secret = "whsec_test-secret-test-secret"

var sent = time.Date(2026, 12, 1, 18, 31, 0, 0, time.UTC)

func TestSignFormat(t *testing.T) {
	got := notify.Sign(secret, sent, []byte(`{"id":"evt_1"}`))
	// "t=<unix>,v1=<64 hex digits>"
	ts, sig, ok := strings.Cut(got, ",")
	if !ok || ts != "t=1796149860" || !strings.HasPrefix(sig, "v1=") || len(sig) != 3+64 {
		t.Fatalf("signature = %q", got)
	}
	if got != notify.Sign(secret, sent, []byte(`{"id":"evt_1"}`)) {
		t.Fatal("signing is not deterministic")
	}
}

func TestVerify(t *testing.T) {
	body := []byte(`{"id":"evt_1","type":"client.replied","data":{"rating":4}}`)
	header := notify.Sign(secret, sent, body)
	other := notify.Sign("whsec_another-secret", sent, body)
	tests := []struct {
		name   string
		secret string
		header string
		body   []byte
		now    time.Time
		want   error
	}{
		{"valid", secret, header, body, sent.Add(time.Minute), nil},
		{"valid, receiver clock a little behind", secret, header, body, sent.Add(-4 * time.Minute), nil},
		{"rotated secret: any v1 may match", secret, other + "," + strings.Split(header, ",")[1], body, sent, nil},
		{"tampered body", secret, header, []byte(strings.Replace(string(body), "4", "1", 1)), sent, notify.ErrBadSignature},
		{"wrong secret", "whsec_wrong", header, body, sent, notify.ErrBadSignature},
		{"old timestamp", secret, header, body, sent.Add(notify.DefaultTolerance + time.Second), notify.ErrTooOld},
		{"timestamp from the future", secret, header, body, sent.Add(-notify.DefaultTolerance - time.Second), notify.ErrTooOld},
		{"time changed, signature kept", secret, strings.Replace(header, "t=1796149860", "t=1796149900", 1), body, sent, notify.ErrBadSignature},
		{"no header", secret, "", body, sent, notify.ErrNoSignature},
		{"no v1", secret, "t=1796149860", body, sent, notify.ErrNoSignature},
		{"no time", secret, strings.Split(header, ",")[1], body, sent, notify.ErrNoSignature},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := notify.Verify(tt.secret, tt.header, tt.body, tt.now, notify.DefaultTolerance)
			if !errors.Is(err, tt.want) || (tt.want == nil && err != nil) {
				t.Fatalf("Verify = %v, want %v", err, tt.want)
			}
		})
	}
}

func TestNilNotifierEmitsNothing(t *testing.T) {
	var n *notify.Notifier
	if err := n.Emit(t.Context(), "c1", notify.ClientConfirmed, notify.Confirmed{ClientID: "x"}); err != nil {
		t.Fatalf("nil notifier: %v", err)
	}
}
