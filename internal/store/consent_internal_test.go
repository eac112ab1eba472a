package store

import (
	"testing"
	"time"
)

func TestConsentLinesOfBothFormatsAreRead(t *testing.T) {
	at := time.Date(2026, 11, 30, 9, 15, 0, 0, time.UTC)
	ev := ConsentEvent{At: at, Action: ConsentSignup, Channel: "email", Source: "form", Wording: "w1",
		IP: "192.0.2.1", UserAgent: `Mozilla/5.0 "at":x`, Detail: "d"}
	b, err := encodeConsent(ev)
	if err != nil {
		t.Fatal(err)
	}
	got, err := decodeConsent(b)
	if err != nil || got != ev {
		t.Errorf("round trip: %+v %v, want %+v (stored %s)", got, err, ev, b)
	}
	// The first format, still in older ledgers.
	old := []byte(`{"at":"2026-11-30T09:15:00Z","action":"signup","channel":"email","source":"form","wording":"w1","ip":"192.0.2.1","user_agent":"Mozilla/5.0 \"at\":x","detail":"d"}`)
	if got, err := decodeConsent(old); err != nil || got != ev {
		t.Errorf("first format: %+v %v, want %+v", got, err, ev)
	}
	if len(b) >= len(old) {
		t.Errorf("stored line is %d bytes, the first format's %d: want it shorter", len(b), len(old))
	}
}
