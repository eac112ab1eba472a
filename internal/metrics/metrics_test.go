package metrics

import (
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/nudgehq/nudge/internal/httproute"
	"github.com/prometheus/client_golang/prometheus"
)

func scrape(t *testing.T, m *Metrics) string {
	t.Helper()
	rec := httptest.NewRecorder()
	m.Handler().ServeHTTP(rec, httptest.NewRequest(http.MethodGet, "/metrics", nil))
	return rec.Body.String()
}

func TestLabelsTakeOnlyKnownValues(t *testing.T) {
	t.Parallel()
	m := New(prometheus.NewRegistry())
	m.Message("email", "weekly-checkin", "sent")
	m.Message("pigeon", "ada@example.org", "lost")
	m.Message("sms", "system-sms-confirm", "failed")
	m.Inbound("+15005550006")
	m.Signup("sms", "accepted")
	m.Webhook("https://clinic.example/hook")
	m.Lateness("email", -time.Second) // early counts as on time
	out := scrape(t, m)
	for _, want := range []string{
		`nudge_messages_total{channel="email",program="weekly-checkin",state="sent"} 1`,
		`nudge_messages_total{channel="other",program="other",state="other"} 1`,
		`nudge_messages_total{channel="sms",program="system-sms-confirm",state="failed"} 1`,
		`nudge_inbound_total{kind="other"} 1`,
		`nudge_inbound_total{kind="crisis"} 0`,
		`nudge_signups_total{channel="sms",outcome="accepted"} 1`,
		`nudge_webhooks_total{result="other"} 1`,
		`nudge_delivery_lateness_seconds_sum{channel="email"} 0`,
	} {
		if !strings.Contains(out, want) {
			t.Errorf("scrape has no %s", want)
		}
	}
	for _, leak := range []string{"example", "+1500", "pigeon", "lost"} {
		if strings.Contains(out, leak) {
			t.Errorf("a label holds %q", leak)
		}
	}
}

func TestNilMetricsCountNothing(t *testing.T) {
	t.Parallel()
	var m *Metrics
	m.Message("email", "gratitude", "sent")
	m.Lateness("email", time.Second)
	m.PlannerBacklog(3)
	m.PlannerTick(time.Second)
	m.RateLimitWait("sms", time.Second)
	m.Inbound("rating")
	m.Webhook("delivered")
	m.Signup("email", "bot")
	h := http.NotFoundHandler()
	if got := m.HTTP(h); got == nil {
		t.Fatal("HTTP on nil metrics returned nil")
	}
}

func TestHTTPCountsThePatternNeverThePath(t *testing.T) {
	t.Parallel()
	m := New(prometheus.NewRegistry())
	inner := http.NewServeMux()
	inner.HandleFunc("GET /confirm/{token}", func(w http.ResponseWriter, _ *http.Request) { w.WriteHeader(http.StatusTeapot) })
	outer := http.NewServeMux()
	// Middleware between the muxes hands on a copy of the request.
	outer.Handle("/", http.StripPrefix("", httproute.Record(inner)))
	h := m.HTTP(httproute.Record(outer))
	for _, path := range []string{"/confirm/secret-token-1", "/confirm/secret-token-2", "/nowhere"} {
		h.ServeHTTP(httptest.NewRecorder(), httptest.NewRequest(http.MethodGet, path, nil))
	}
	out := scrape(t, m)
	for _, want := range []string{
		`nudge_http_requests_total{code="418",route="GET /confirm/{token}"} 2`,
		`nudge_http_requests_total{code="404",route="none"} 1`,
	} {
		if !strings.Contains(out, want) {
			t.Errorf("scrape has no %s:\n%s", want, out)
		}
	}
	if strings.Contains(out, "secret-token") {
		t.Error("a path reached a label")
	}
}
