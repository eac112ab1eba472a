package main

import (
	"bufio"
	"context"
	"io"
	"net/http"
	"net/url"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/nudgehq/nudge/internal/domain"
	"github.com/nudgehq/nudge/internal/redistest"
	"github.com/nudgehq/nudge/internal/smtptest"
	"github.com/nudgehq/nudge/internal/store"
)

// sample is one line of the Prometheus text format.
type sample struct {
	name   string
	labels map[string]string
	value  float64
}

var sampleRE = regexp.MustCompile(`^([a-zA-Z_:][a-zA-Z0-9_:]*)(?:\{(.*)\})? (\S+)$`)
var labelRE = regexp.MustCompile(`([a-zA-Z_][a-zA-Z0-9_]*)="((?:[^"\\]|\\.)*)"`)

// scrape reads /metrics.
func scrape(t *testing.T, addr string) []sample {
	t.Helper()
	res, err := http.Get("http://" + addr + "/metrics")
	if err != nil {
		t.Fatal(err)
	}
	defer res.Body.Close()
	if res.StatusCode != 200 {
		t.Fatalf("GET /metrics = %d", res.StatusCode)
	}
	var out []sample
	sc := bufio.NewScanner(res.Body)
	sc.Buffer(make([]byte, 1<<20), 1<<20)
	for sc.Scan() {
		line := sc.Text()
		if line == "" || strings.HasPrefix(line, "#") {
			continue
		}
		m := sampleRE.FindStringSubmatch(line)
		if m == nil {
			t.Fatalf("not a sample: %q", line)
		}
		v, err := strconv.ParseFloat(m[3], 64)
		if err != nil {
			t.Fatalf("value of %q: %v", line, err)
		}
		s := sample{name: m[1], labels: map[string]string{}, value: v}
		for _, l := range labelRE.FindAllStringSubmatch(m[2], -1) {
			s.labels[l[1]] = l[2]
		}
		out = append(out, s)
	}
	return out
}

// value finds the sample with name and exactly these labels.
func value(samples []sample, name string, labels map[string]string) (float64, bool) {
	for _, s := range samples {
		if s.name != name || len(s.labels) != len(labels) {
			continue
		}
		match := true
		for k, v := range labels {
			if s.labels[k] != v {
				match = false
			}
		}
		if match {
			return s.value, true
		}
	}
	return 0, false
}

// TestMetricsAfterARealSend runs the whole program with metrics on, sends a
// confirmation (after a signup over HTTP) and a check-in planned half a
// minute ago, and reads the counters back, checking that no label holds an
// address, a name or an id.
func TestMetricsAfterARealSend(t *testing.T) {
	sink := smtptest.Start(t)
	prefix := redistest.Prefix(t)
	cfg := testConfig(t, sink, prefix)
	cfg.MetricsAddr = "127.0.0.1:0"
	// Monday 30 November 2026, half a minute after the check-in's time.
	due := time.Date(2026, 11, 30, 9, 0, 0, 0, time.UTC)
	clk := &clock{t: due.Add(30 * time.Second)}

	st := store.New(redistest.Client(t, redistest.DBMain), prefix)
	ctx := context.Background()
	res, err := st.Signup(ctx, domain.Subscriber{FirstName: "Rowan", Email: "rowan.metrics@example.org", TimeZone: "UTC", Locale: "en"},
		[]domain.Schedule{{Program: domain.WeeklyCheckin, Rule: "weekly:mon@09:00"}}, store.ConsentEvent{})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := st.Activate(ctx, res.ID, due, map[domain.Program]time.Time{domain.WeeklyCheckin: due}, store.ConsentEvent{}); err != nil {
		t.Fatal(err)
	}

	app := startApp(t, cfg, RoleAll, clk)
	if app.MetricsAddr() == nil || app.MetricsAddr().String() == app.Addr().String() {
		t.Fatalf("metrics listen on %v, the site on %v: want a listener of their own", app.MetricsAddr(), app.Addr())
	}
	base := "http://" + app.Addr().String()
	form := url.Values{
		"first_name": {"Ada"}, "email": {"ada.metrics@example.org"}, "tz": {"Europe/London"}, "locale": {"en"},
		"program": {"weekly-checkin"}, "weekly-checkin-day": {"tue"}, "weekly-checkin-time": {"18:30"},
	}
	post, err := http.PostForm(base+"/signup", form)
	if err != nil {
		t.Fatal(err)
	}
	io.Copy(io.Discard, post.Body)
	post.Body.Close()
	if post.StatusCode != 200 {
		t.Fatalf("POST /signup = %d", post.StatusCode)
	}
	// The public server has no /metrics.
	if res, err := http.Get(base + "/metrics"); err != nil || res.StatusCode != http.StatusNotFound {
		t.Fatalf("GET /metrics on the public server = %v, %v; want 404", res, err)
	} else {
		res.Body.Close()
	}
	sink.WaitFor(t, 10*time.Second, "the check-in and the confirmation", func(m []smtptest.Message) bool { return len(m) >= 2 })
	waitSettled(t, st, clk)
	signupID := subscriberID(t, st, "ada.metrics@example.org")

	var samples []sample
	want := []struct {
		name   string
		labels map[string]string
		value  float64
	}{
		{"nudge_messages_total", map[string]string{"channel": "email", "program": "weekly-checkin", "state": "sent"}, 1},
		{"nudge_messages_total", map[string]string{"channel": "email", "program": "system-confirm", "state": "sent"}, 1},
		{"nudge_delivery_lateness_seconds_count", map[string]string{"channel": "email"}, 1},
		{"nudge_delivery_lateness_seconds_sum", map[string]string{"channel": "email"}, 30},
		{"nudge_signups_total", map[string]string{"channel": "email", "outcome": "accepted"}, 1},
		{"nudge_http_requests_total", map[string]string{"route": "POST /signup", "code": "200"}, 1},
		{"nudge_http_requests_total", map[string]string{"route": "none", "code": "404"}, 1},
		{"nudge_planner_due_backlog", map[string]string{}, 0},
	}
	// The planner's gauge and tick land after its pass: poll briefly.
	deadline := time.Now().Add(10 * time.Second)
	for {
		samples = scrape(t, app.MetricsAddr().String())
		missing := ""
		for _, w := range want {
			if got, ok := value(samples, w.name, w.labels); !ok || got != w.value {
				missing = w.name + " " + strconv.FormatFloat(got, 'g', -1, 64)
			}
		}
		if n, _ := value(samples, "nudge_planner_tick_seconds_count", map[string]string{}); n < 1 {
			missing = "nudge_planner_tick_seconds_count"
		}
		if missing == "" {
			break
		}
		if time.Now().After(deadline) {
			for _, w := range want {
				got, ok := value(samples, w.name, w.labels)
				t.Errorf("%s%v = %v (present %v), want %v", w.name, w.labels, got, ok, w.value)
			}
			t.Fatalf("metrics not as expected (%s)", missing)
		}
		time.Sleep(50 * time.Millisecond)
	}
	if _, ok := value(samples, "asynq_queue_size", map[string]string{"queue": "critical"}); !ok {
		t.Error("asynq's queue sizes are missing")
	}
	for _, name := range []string{"nudge_rate_limit_wait_seconds_total", "nudge_inbound_total", "nudge_webhooks_total"} {
		if !strings.Contains(scrapeText(t, app.MetricsAddr().String()), "# TYPE "+name+" counter") {
			t.Errorf("%s is not described", name)
		}
	}

	// No label value holds anything about a person or a record.
	private := []string{"rowan", "ada", "example.org", "@", res.ID, signupID, prefix, "+1", "Europe/London"}
	for _, s := range samples {
		for k, v := range s.labels {
			for _, p := range private {
				if strings.Contains(strings.ToLower(v), strings.ToLower(p)) {
					t.Errorf("%s has label %s=%q, which holds %q", s.name, k, v, p)
				}
			}
		}
	}
}

// TestMetricsAfterATextAndItsRepliesHoldNoNumber sends a check-in by text,
// receives a rating and a note back over the signed webhook, and reads the
// counters, checking that neither a label nor any line of the scrape holds
// the number (in any of its forms), an id, a message SID or a word of the
// note.
func TestMetricsAfterATextAndItsRepliesHoldNoNumber(t *testing.T) {
	// Tuesday 1 December 2026, 15:00 UTC: 10:00 in New York, inside the texting hours.
	at := time.Date(2026, 12, 1, 15, 0, 0, 0, time.UTC)
	a := startSMSAppWith(t, at, "US", map[string]string{"NUDGE_METRICS_ADDR": "127.0.0.1:0"})
	const number = "+12015550177"
	id := confirmedTexter(t, a, number, "America/New_York", "en", at.Add(-30*time.Second))
	sent := waitTextTo(t, a.texts, number, 1)
	const ratingSID, noteSID = "SMmetricsrating000000000000000001", "SMmetricsnote00000000000000000001"
	textReply(t, a, number, ratingSID, "4")
	textReply(t, a, number, noteSID, "Rang my sister Marisol after work")
	textReply(t, a, number, ratingSID, "4") // Twilio's retry of a text already handled counts once
	textReply(t, a, number, "SMmetricshelp00000000000000000001", "HELP")
	waitSettled(t, a.st, a.clk)

	addr := a.app.MetricsAddr().String()
	want := []struct {
		name   string
		labels map[string]string
		value  float64
	}{
		{"nudge_messages_total", map[string]string{"channel": "sms", "program": "weekly-checkin", "state": "sent"}, 1},
		{"nudge_delivery_lateness_seconds_count", map[string]string{"channel": "sms"}, 1},
		{"nudge_delivery_lateness_seconds_sum", map[string]string{"channel": "sms"}, 30},
		{"nudge_inbound_total", map[string]string{"kind": "rating"}, 1},
		{"nudge_inbound_total", map[string]string{"kind": "note"}, 1},
		{"nudge_inbound_total", map[string]string{"kind": "keyword"}, 1},
		{"nudge_inbound_total", map[string]string{"kind": "crisis"}, 0},
		{"nudge_http_requests_total", map[string]string{"route": "POST /webhooks/twilio/sms", "code": "200"}, 4},
	}
	var samples []sample
	deadline := time.Now().Add(10 * time.Second)
	for {
		samples = scrape(t, addr)
		ok := true
		for _, w := range want {
			if got, found := value(samples, w.name, w.labels); !found || got != w.value {
				ok = false
			}
		}
		if ok {
			break
		}
		if time.Now().After(deadline) {
			for _, w := range want {
				got, found := value(samples, w.name, w.labels)
				t.Errorf("%s%v = %v (present %v), want %v", w.name, w.labels, got, found, w.value)
			}
			t.FailNow()
		}
		time.Sleep(50 * time.Millisecond)
	}

	private := []string{number, strings.TrimPrefix(number, "+"), "2015550177", "555-0177", "5550177",
		id, ratingSID, noteSID, "SMmetricshelp", sent.SID, a.texts.AccountSID, "Marisol", "sister", a.env["NUDGE_REDIS_PREFIX"], "America/New_York"}
	for _, s := range samples {
		for k, v := range s.labels {
			for _, p := range private {
				if strings.Contains(strings.ToLower(v), strings.ToLower(p)) {
					t.Errorf("%s has label %s=%q, which holds %q", s.name, k, v, p)
				}
			}
		}
	}
	text := scrapeText(t, addr)
	for _, p := range private {
		if strings.Contains(strings.ToLower(text), strings.ToLower(p)) {
			t.Errorf("the scrape holds %q", p)
		}
	}
}

func scrapeText(t *testing.T, addr string) string {
	t.Helper()
	res, err := http.Get("http://" + addr + "/metrics")
	if err != nil {
		t.Fatal(err)
	}
	defer res.Body.Close()
	b, _ := io.ReadAll(res.Body)
	return string(b)
}
