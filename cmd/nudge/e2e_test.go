package main

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/url"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/hibiken/asynq"
	"github.com/nudgehq/nudge/internal/config"
	"github.com/nudgehq/nudge/internal/redistest"
	"github.com/nudgehq/nudge/internal/smtptest"
	"github.com/nudgehq/nudge/internal/store"
	"github.com/nudgehq/nudge/internal/task"
)

// clock is a settable time source shared by every part of the program.
type clock struct {
	mu sync.Mutex
	t  time.Time
}

func (c *clock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.t
}

func (c *clock) Set(t time.Time) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.t = t
}

// testConfig is a configuration pointing at the test Redis database and an
// SMTP sink, with a fast planner.
func testConfig(t *testing.T, sink *smtptest.Server, prefix string) config.Config {
	t.Helper()
	env := map[string]string{
		"NUDGE_REDIS_URL":      fmt.Sprintf("redis://%s/%d", redistest.Addr(), redistest.DBMain),
		"NUDGE_REDIS_PREFIX":   prefix,
		"NUDGE_SMTP_HOST":      sink.Host(),
		"NUDGE_SMTP_PORT":      strconv.Itoa(sink.Port()),
		"NUDGE_SMTP_TLS":       "none",
		"NUDGE_EMAIL_FROM":     "nudge <hello@nudge.test>",
		"NUDGE_BASE_URL":       "https://nudge.test",
		"NUDGE_HTTP_ADDR":      "127.0.0.1:0",
		"NUDGE_SECRET":         "an-end-to-end-test-secret-of-enough-length",
		"NUDGE_POSTAL_ADDRESS": "1 Test Street, Testville",
	}
	cfg, err := config.Load(func(k string) string { return env[k] })
	if err != nil {
		t.Fatalf("config: %v", err)
	}
	cfg.PlannerInterval = 20 * time.Millisecond
	cfg.PlannerHorizon = time.Second
	return cfg
}

// startApp runs an App with role on the shared clock and stops it (checking
// a clean exit) when the test ends.
func startApp(t *testing.T, cfg config.Config, role Role, clk *clock) *App {
	t.Helper()
	logger := slog.New(slog.NewTextHandler(io.Discard, nil))
	if testing.Verbose() {
		logger = slog.New(slog.NewTextHandler(testWriter{t}, &slog.HandlerOptions{Level: slog.LevelDebug}))
	}
	app, err := NewApp(cfg, clk.Now, logger)
	if err != nil {
		t.Fatalf("new app: %v", err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	ready := make(chan struct{})
	done := make(chan error, 1)
	go func() { done <- app.Run(ctx, role, func() { close(ready) }) }()
	select {
	case <-ready:
	case err := <-done:
		t.Fatalf("app stopped before ready: %v", err)
	}
	t.Cleanup(func() {
		cancel()
		if err := <-done; err != nil {
			t.Errorf("app %s stopped with: %v", role, err)
		}
		app.Close()
	})
	return app
}

type testWriter struct{ t *testing.T }

func (w testWriter) Write(p []byte) (int, error) {
	w.t.Log(strings.TrimRight(string(p), "\n"))
	return len(p), nil
}

// pathOf turns an absolute link from an email into a URL on the test server.
func pathOf(t *testing.T, app *App, link string) string {
	t.Helper()
	u, err := url.Parse(link)
	if err != nil {
		t.Fatalf("link %q: %v", link, err)
	}
	if u.Host != "nudge.test" || u.Scheme != "https" {
		t.Fatalf("link %q does not start with NUDGE_BASE_URL", link)
	}
	return "http://" + app.Addr().String() + u.Path
}

var linkRE = regexp.MustCompile(`https://nudge\.test/confirm/[A-Za-z0-9._~%-]+`)

func TestSignupConfirmAndReceiveWeeklyCheckin(t *testing.T) {
	sink := smtptest.Start(t)
	prefix := redistest.Prefix(t)
	cfg := testConfig(t, sink, prefix)
	// Monday 30 November 2026, 09:00 in London (UTC+0 in winter).
	clk := &clock{t: time.Date(2026, 11, 30, 9, 0, 0, 0, time.UTC)}

	web := startApp(t, cfg, RoleAll, clk)
	// A second full process against the same Redis: two planners, two
	// workers, and still exactly one message per occurrence.
	startApp(t, cfg, RoleAll, clk)
	base := "http://" + web.Addr().String()

	// The form is there, with a label for every field.
	res, err := http.Get(base + "/")
	if err != nil {
		t.Fatal(err)
	}
	page, _ := io.ReadAll(res.Body)
	res.Body.Close()
	if res.StatusCode != 200 {
		t.Fatalf("GET / = %d", res.StatusCode)
	}
	for _, id := range []string{"first_name", "email", "tz", "weekly-checkin-day", "weekly-checkin-time"} {
		if !strings.Contains(string(page), `for="`+id+`"`) || !strings.Contains(string(page), `id="`+id+`"`) {
			t.Errorf("form has no labelled field %q", id)
		}
	}

	form := url.Values{
		"first_name": {"Ada"}, "email": {"ada@example.org"}, "tz": {"Europe/London"}, "locale": {"en"},
		"program": {"weekly-checkin"}, "weekly-checkin-day": {"tue"}, "weekly-checkin-time": {"18:30"},
	}
	res, err = http.PostForm(base+"/signup", form)
	if err != nil {
		t.Fatal(err)
	}
	res.Body.Close()
	if res.StatusCode != 200 {
		t.Fatalf("POST /signup = %d", res.StatusCode)
	}

	msgs := sink.WaitFor(t, 10*time.Second, "the confirmation email", func(m []smtptest.Message) bool { return len(m) >= 1 })
	confirm := msgs[0]
	if got := confirm.To; len(got) != 1 || got[0] != "ada@example.org" {
		t.Fatalf("confirmation went to %v", got)
	}
	link := linkRE.FindString(confirm.Text)
	if link == "" {
		t.Fatalf("no confirm link in the confirmation email's text:\n%s", confirm.Text)
	}

	st := store.New(redistest.Client(t, redistest.DBMain), prefix)
	id := subscriberID(t, st, "ada@example.org")

	// A GET (a mail scanner following the link) changes nothing.
	res, err = http.Get(pathOf(t, web, link))
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(res.Body)
	res.Body.Close()
	if res.StatusCode != 200 || !strings.Contains(string(body), "<form method=\"post\"") {
		t.Fatalf("GET confirm link = %d, want a page with a button:\n%s", res.StatusCode, body)
	}
	if sub, _ := st.Subscriber(context.Background(), id); sub.Status != "pending" {
		t.Fatalf("after GET the subscriber is %s, want pending", sub.Status)
	}
	res, err = http.Post(pathOf(t, web, link), "application/x-www-form-urlencoded", nil)
	if err != nil {
		t.Fatal(err)
	}
	res.Body.Close()
	if res.StatusCode != 200 {
		t.Fatalf("POST confirm = %d", res.StatusCode)
	}
	if sub, _ := st.Subscriber(context.Background(), id); sub.Status != "active" {
		t.Fatalf("after confirming the subscriber is %s, want active", sub.Status)
	}
	// The welcome note follows the confirmation.
	sink.WaitFor(t, 10*time.Second, "the welcome email", func(m []smtptest.Message) bool { return len(m) >= 2 })

	// Tuesday 1 December, 18:30:02 London: the check-in is due.
	clk.Set(time.Date(2026, 12, 1, 18, 30, 2, 0, time.UTC))
	msgs = sink.WaitFor(t, 10*time.Second, "the weekly check-in", func(m []smtptest.Message) bool { return len(m) >= 3 })
	checkin := msgs[2]

	// Once both planners and workers have nothing left to do: nothing more.
	waitSettled(t, st, clk)
	if n := len(sink.Messages()); n != 3 {
		t.Fatalf("have %d messages after the check-in, want exactly 3 (confirm, welcome, one check-in)", n)
	}
	d, err := st.Delivery(context.Background(), store.DeliveryKey{SubscriberID: id, Program: "weekly-checkin", Date: "2026-12-01", Channel: "email"})
	if err != nil || d.State != store.Sent {
		t.Fatalf("delivery record = %+v, %v; want sent", d, err)
	}

	if !strings.Contains(checkin.Text, "Ada") || !strings.Contains(checkin.HTML, "Ada") {
		t.Errorf("check-in is not personalised with the first name:\ntext: %s", checkin.Text)
	}
	if checkin.Text == "" || checkin.HTML == "" {
		t.Errorf("check-in lacks a part: text %d bytes, html %d bytes", len(checkin.Text), len(checkin.HTML))
	}
	if got := checkin.Header.Get("List-Unsubscribe-Post"); got != "List-Unsubscribe=One-Click" {
		t.Errorf("List-Unsubscribe-Post = %q", got)
	}
	lu := strings.Trim(checkin.Header.Get("List-Unsubscribe"), "<>")
	if !strings.HasPrefix(lu, "https://nudge.test/unsubscribe/") {
		t.Fatalf("List-Unsubscribe = %q, want an https one-click URL", checkin.Header.Get("List-Unsubscribe"))
	}
	if !strings.Contains(checkin.Text, "1 Test Street, Testville") {
		t.Errorf("check-in footer lacks the postal address")
	}
	if !strings.Contains(checkin.Text, "https://nudge.test/manage/") {
		t.Errorf("check-in footer lacks the manage link")
	}

	// The one-click POST a mail provider makes (RFC 8058).
	res, err = http.Post(pathOf(t, web, lu), "application/x-www-form-urlencoded", strings.NewReader("List-Unsubscribe=One-Click"))
	if err != nil {
		t.Fatal(err)
	}
	res.Body.Close()
	if res.StatusCode != 200 {
		t.Fatalf("one-click POST = %d", res.StatusCode)
	}
	if sub, _ := st.Subscriber(context.Background(), id); sub.Status != "unsubscribed" {
		t.Fatalf("after one-click the subscriber is %s", sub.Status)
	}

	// A week on, and a week after that: nothing more is sent.
	for _, day := range []int{8, 15} {
		clk.Set(time.Date(2026, 12, day, 18, 30, 2, 0, time.UTC))
		waitSettled(t, st, clk)
	}
	if n := len(sink.Messages()); n != 3 {
		t.Fatalf("have %d messages after unsubscribing, want still 3", n)
	}
	if n, _ := st.DueCount(context.Background()); n != 0 {
		t.Fatalf("due index holds %d entries after unsubscribing", n)
	}
}

// waitSettled waits until nothing is left to do at the clock's time: no due
// entry at or before it (the planners have moved every one on) and no task
// pending, running, scheduled or waiting to retry in any queue.
func waitSettled(t *testing.T, st *store.Store, clk *clock) {
	t.Helper()
	insp := asynq.NewInspectorFromRedisClient(st.Redis())
	deadline := time.Now().Add(15 * time.Second)
	for {
		busy := ""
		for shard := range store.Shards {
			due, err := st.DueBatch(context.Background(), shard, clk.Now(), 1)
			if err != nil {
				t.Fatal(err)
			}
			if len(due) > 0 {
				busy = "due entries not yet planned"
			}
		}
		queues, err := insp.Queues()
		if err != nil {
			t.Fatal(err)
		}
		for _, q := range queues {
			info, err := insp.GetQueueInfo(q)
			if err != nil {
				t.Fatal(err)
			}
			if n := info.Pending + info.Active + info.Scheduled + info.Retry - waitingEscalations(t, insp, q, info.Scheduled); n > 0 {
				busy = fmt.Sprintf("%d tasks left in queue %s", n, q)
			}
		}
		if busy == "" {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("not settled after 15s: %s", busy)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// waitingEscalations counts a queue's scheduled alert escalations: they
// wait hours by design (the clinic's escalation time), so a test is settled
// without them.
func waitingEscalations(t *testing.T, insp *asynq.Inspector, q string, scheduled int) int {
	t.Helper()
	if scheduled == 0 {
		return 0
	}
	ts, err := insp.ListScheduledTasks(q, asynq.PageSize(1000))
	if err != nil {
		t.Fatal(err)
	}
	n := 0
	for _, ti := range ts {
		if ti.Type == task.TypeEscalateAlert {
			n++
		}
	}
	return n
}

func subscriberID(t *testing.T, st *store.Store, addr string) string {
	t.Helper()
	id, err := st.Redis().HGet(context.Background(), st.Prefix()+"idx:email", addr).Result()
	if err != nil {
		t.Fatalf("no subscriber for the address: %v", err)
	}
	return id
}
