package main

import (
	"context"
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/nudgehq/nudge/internal/config"
)

// With no configuration at all (the README's first command) a signup's
// confirmation reaches the dev outbox: the embedded Redis runs the same
// delivery path as a real one.
func TestZeroConfigurationSendsTheConfirmationToTheDevOutbox(t *testing.T) {
	cfg, err := config.Load(func(k string) string {
		if k == "NUDGE_HTTP_ADDR" {
			return "127.0.0.1:0"
		}
		return ""
	})
	if err != nil {
		t.Fatal(err)
	}
	if !cfg.EmbeddedRedis() || !cfg.DevOutbox() {
		t.Fatalf("not a zero-configuration start: embedded %v, outbox %v", cfg.EmbeddedRedis(), cfg.DevOutbox())
	}
	app := startApp(t, cfg, RoleAll, &clock{t: time.Now()})
	res, err := http.PostForm("http://"+app.Addr().String()+"/signup", url.Values{
		"first_name": {"Noor"}, "email": {"noor@example.org"}, "tz": {"UTC"}, "locale": {"en"},
		"program": {"weekly-checkin"}, "weekly-checkin-day": {"mon"}, "weekly-checkin-time": {"09:00"},
	})
	if err != nil {
		t.Fatal(err)
	}
	res.Body.Close()
	if res.StatusCode != http.StatusOK {
		t.Fatalf("POST /signup = %d", res.StatusCode)
	}
	deadline := time.Now().Add(15 * time.Second)
	for {
		entries, err := app.box.List(context.Background())
		if err != nil {
			t.Fatal(err)
		}
		for _, e := range entries {
			if e.To == "noor@example.org" && strings.Contains(e.Text, "/confirm/") {
				return
			}
		}
		if time.Now().After(deadline) {
			t.Fatalf("no confirmation in the dev outbox after 15 s (%d entries)", len(entries))
		}
		time.Sleep(50 * time.Millisecond)
	}
}
