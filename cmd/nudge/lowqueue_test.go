package main

import (
	"context"
	"net/http"
	"net/http/httptest"
	"net/url"
	"sync"
	"testing"
	"time"

	"github.com/nudgehq/nudge/internal/clinic"
	"github.com/nudgehq/nudge/internal/notify"
	"github.com/nudgehq/nudge/internal/redistest"
	"github.com/nudgehq/nudge/internal/smtptest"
)

// TestAHangingClinicEndpointDoesNotHoldConfirmations: webhooks run on a
// server of their own, so an endpoint that never answers holds only that
// server's goroutines. With a main worker of two goroutines, eight hanging
// webhooks on the same server would hold both for the webhook timeout.
func TestAHangingClinicEndpointDoesNotHoldConfirmations(t *testing.T) {
	sink := smtptest.Start(t)
	prefix := redistest.Prefix(t)
	cfg := testConfig(t, sink, prefix)
	cfg.WorkerConcurrency = 2
	clk := &clock{t: time.Date(2026, 11, 30, 9, 0, 0, 0, time.UTC)}

	release := make(chan struct{})
	var mu sync.Mutex
	inFlight := 0
	hook := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		mu.Lock()
		inFlight++
		mu.Unlock()
		select {
		case <-release:
		case <-r.Context().Done():
		}
	}))
	t.Cleanup(hook.Close)
	// Last in, first out: the endpoint answers before the app stops.
	app := startApp(t, cfg, RoleAll, clk)
	t.Cleanup(func() { close(release) })

	ctx := context.Background()
	c, err := app.clinicService().CreateClinic(ctx, clinic.NewClinic{Name: "Riverside", WebhookURL: hook.URL})
	if err != nil {
		t.Fatal(err)
	}
	client, err := app.clinicService().Enrol(ctx, c.Clinic.ID, clinic.Enrolment{FirstName: "Sam", Email: "sam@example.org", TimeZone: "Europe/London",
		Consent: clinic.Attestation{By: "Dr R. Osei", At: clk.Now().Add(-time.Hour), Method: "written"}})
	if err != nil {
		t.Fatal(err)
	}
	for range 8 {
		if err := app.events().Emit(ctx, c.Clinic.ID, notify.ClientReplied, notify.Replied{ClientID: client.ID, Text: "hello"}); err != nil {
			t.Fatal(err)
		}
	}
	deadline := time.Now().Add(10 * time.Second)
	for {
		mu.Lock()
		n := inFlight
		mu.Unlock()
		if n >= 2 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("only %d webhooks reached the endpoint", n)
		}
		time.Sleep(10 * time.Millisecond)
	}

	// Someone signs up meanwhile: their confirmation goes out at once.
	res, err := http.PostForm("http://"+app.Addr().String()+"/signup", url.Values{
		"first_name": {"Ada"}, "email": {"ada@example.org"}, "tz": {"Europe/London"}, "locale": {"en"},
		"program": {"weekly-checkin"}, "weekly-checkin-day": {"tue"}, "weekly-checkin-time": {"18:30"},
	})
	if err != nil {
		t.Fatal(err)
	}
	res.Body.Close()
	sink.WaitFor(t, 5*time.Second, "the confirmation email while webhooks hang", func(ms []smtptest.Message) bool {
		for _, m := range ms {
			if len(m.To) == 1 && m.To[0] == "ada@example.org" {
				return true
			}
		}
		return false
	})
	mu.Lock()
	defer mu.Unlock()
	if inFlight > 4 {
		t.Errorf("%d webhooks in flight at once, want at most the low server's 4", inFlight)
	}
}
