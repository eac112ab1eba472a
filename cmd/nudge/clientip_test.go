package main

import (
	"fmt"
	"net/http"
	"net/netip"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/nudgehq/nudge/internal/redistest"
	"github.com/nudgehq/nudge/internal/smtptest"
	"github.com/nudgehq/nudge/internal/store"
)

// postSignup posts the signup form for addr with an X-Forwarded-For header
// (none when xff is empty) and returns the status.
func postSignup(t *testing.T, base, addr, xff string) int {
	t.Helper()
	form := url.Values{
		"first_name": {"Ada"}, "email": {addr}, "tz": {"Europe/London"}, "locale": {"en"},
		"program": {"weekly-checkin"}, "weekly-checkin-day": {"tue"}, "weekly-checkin-time": {"18:30"},
	}
	req, err := http.NewRequest(http.MethodPost, base+"/signup", strings.NewReader(form.Encode()))
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	if xff != "" {
		req.Header.Set("X-Forwarded-For", xff)
	}
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	res.Body.Close()
	return res.StatusCode
}

// TestBehindAProxyTheClientIPCounts runs the HTTP tier behind a trusted
// proxy (the test itself, on loopback): each visitor gets a signup budget of
// their own and the consent ledger records the visitor's address; without
// NUDGE_TRUSTED_PROXIES the header is ignored.
func TestBehindAProxyTheClientIPCounts(t *testing.T) {
	sink := smtptest.Start(t)
	clk := &clock{t: time.Date(2026, 11, 30, 9, 0, 0, 0, time.UTC)}

	t.Run("trusted proxy", func(t *testing.T) {
		prefix := redistest.Prefix(t)
		cfg := testConfig(t, sink, prefix)
		cfg.TrustedProxies = []netip.Prefix{netip.MustParsePrefix("127.0.0.0/8")}
		base := "http://" + startApp(t, cfg, RoleServe, clk).Addr().String()

		// Ten visitors through one proxy: none is refused.
		for i := range 10 {
			if code := postSignup(t, base, fmt.Sprintf("v%d@example.org", i), fmt.Sprintf("198.51.100.%d", i+1)); code != http.StatusOK {
				t.Fatalf("visitor %d: POST /signup = %d, want 200", i, code)
			}
		}
		// One visitor still has a budget of five.
		for i := range 6 {
			code := postSignup(t, base, fmt.Sprintf("same%d@example.org", i), "1.2.3.4, 203.0.113.50")
			if want := http.StatusOK; i == 5 {
				if code != http.StatusTooManyRequests {
					t.Errorf("sixth signup from one visitor = %d, want 429", code)
				}
			} else if code != want {
				t.Fatalf("signup %d from one visitor = %d, want 200", i, code)
			}
		}
		st := store.New(redistest.Client(t, redistest.DBMain), prefix)
		if ip := consentIP(t, st, "v3@example.org"); ip != "198.51.100.4" {
			t.Errorf("consent ledger IP = %q, want the visitor's 198.51.100.4", ip)
		}
	})

	t.Run("no trusted proxy", func(t *testing.T) {
		prefix := redistest.Prefix(t)
		base := "http://" + startApp(t, testConfig(t, sink, prefix), RoleServe, clk).Addr().String()
		if code := postSignup(t, base, "forger@example.org", "198.51.100.9"); code != http.StatusOK {
			t.Fatalf("POST /signup = %d", code)
		}
		st := store.New(redistest.Client(t, redistest.DBMain), prefix)
		if ip := consentIP(t, st, "forger@example.org"); ip != "127.0.0.1" {
			t.Errorf("consent ledger IP = %q, want the peer 127.0.0.1 (the header is not trusted)", ip)
		}
	})
}

func consentIP(t *testing.T, st *store.Store, addr string) string {
	t.Helper()
	events, err := st.Consent(t.Context(), subscriberID(t, st, addr))
	if err != nil || len(events) == 0 {
		t.Fatalf("consent of %s: %v, %d events", addr, err, len(events))
	}
	return events[0].IP
}
