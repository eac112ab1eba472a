package main

import (
	"io"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/nudgehq/nudge/internal/redistest"
	"github.com/nudgehq/nudge/internal/smtptest"
)

// getAdmin requests path with an Authorization header (none when auth is
// empty) and returns the status and body.
func getAdmin(t *testing.T, base, path, auth string) (int, string) {
	t.Helper()
	req, err := http.NewRequest(http.MethodGet, base+path, nil)
	if err != nil {
		t.Fatal(err)
	}
	if auth != "" {
		req.Header.Set("Authorization", auth)
	}
	client := &http.Client{CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
	res, err := client.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer res.Body.Close()
	b, _ := io.ReadAll(res.Body)
	return res.StatusCode, string(b)
}

// The queue monitor answers 404 unless NUDGE_ADMIN_TOKEN is set, and then
// opens to that token only.
func TestAdminQueuesOnlyWithTheAdminToken(t *testing.T) {
	sink := smtptest.Start(t)
	clk := &clock{t: time.Date(2026, 12, 1, 9, 0, 0, 0, time.UTC)}
	paths := []string{"/admin/queues/", "/admin/queues/api/queues", "/admin/login", "/admin/"}

	t.Run("unset", func(t *testing.T) {
		cfg := testConfig(t, sink, redistest.Prefix(t))
		base := "http://" + startApp(t, cfg, RoleServe, clk).Addr().String()
		for _, p := range paths {
			if code, _ := getAdmin(t, base, p, "Bearer "+strings.Repeat("a", 40)); code != http.StatusNotFound {
				t.Errorf("GET %s without NUDGE_ADMIN_TOKEN = %d, want 404", p, code)
			}
		}
	})

	t.Run("set", func(t *testing.T) {
		const token = "an-end-to-end-admin-token-0123456789abcdef"
		cfg := testConfig(t, sink, redistest.Prefix(t))
		cfg.AdminToken = token
		base := "http://" + startApp(t, cfg, RoleServe, clk).Addr().String()
		for _, auth := range []string{"", "Bearer " + strings.Repeat("a", len(token)), "Bearer " + token[1:]} {
			for _, p := range paths[:2] {
				if code, _ := getAdmin(t, base, p, auth); code != http.StatusUnauthorized {
					t.Errorf("GET %s with %q = %d, want 401", p, auth, code)
				}
			}
		}
		code, body := getAdmin(t, base, "/admin/queues/", "Bearer "+token)
		if code != http.StatusOK || !strings.Contains(body, "/admin/queues/static/js/") {
			t.Errorf("GET /admin/queues/ with the token = %d:\n%.300s", code, body)
		}
		code, body = getAdmin(t, base, "/admin/queues/api/queues", "Bearer "+token)
		if code != http.StatusOK || !strings.HasPrefix(body, `{"queues":`) {
			t.Errorf("GET /admin/queues/api/queues with the token = %d:\n%.300s", code, body)
		}
		if code, body := getAdmin(t, base, "/admin/login", ""); code != http.StatusOK || !strings.Contains(body, `action="/admin/login"`) {
			t.Errorf("GET /admin/login = %d", code)
		}
	})
}
