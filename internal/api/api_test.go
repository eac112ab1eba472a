package api

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/hibiken/asynq"
	"github.com/nudgehq/nudge/internal/clinic"
	"github.com/nudgehq/nudge/internal/domain"
	"github.com/nudgehq/nudge/internal/phone"
	"github.com/nudgehq/nudge/internal/redistest"
	"github.com/nudgehq/nudge/internal/store"
	"github.com/nudgehq/nudge/internal/subscription"
	"github.com/nudgehq/nudge/scheduler"
	"github.com/nudgehq/nudge/templates"
	"github.com/redis/go-redis/v9"
)

func TestMain(m *testing.M) { redistest.Main(m, redistest.DBAPI) }

// testNow is the tests' clock. The examples in openapi.json are valid at
// this instant (the isolation test sends them).
var testNow = time.Date(2026, 11, 20, 10, 0, 0, 0, time.UTC)

// bundle is one test's real service on a real Redis, under its own prefix.
type bundle struct {
	rdb   *redis.Client
	store *store.Store
	svc   *clinic.Service
	srv   *Server
	h     http.Handler
	logs  *syncBuffer
}

// syncBuffer collects log lines from concurrent requests.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

func setup(t *testing.T) *bundle {
	t.Helper()
	return setupWith(t, nil)
}

// setupWith is setup with the API's Config changed by change first.
func setupWith(t *testing.T, change func(*Config)) *bundle {
	t.Helper()
	rdb := redistest.Client(t, redistest.DBAPI)
	st := store.New(rdb, redistest.Prefix(t))
	lib, err := templates.Default()
	if err != nil {
		t.Fatal(err)
	}
	logs := &syncBuffer{}
	logger := slog.New(slog.NewTextHandler(logs, nil))
	now := func() time.Time { return testNow }
	mgr := subscription.NewManager(subscription.ManagerConfig{
		Store: st, Tasks: asynq.NewInspectorFromRedisClient(rdb), SMSWindow: scheduler.DefaultSMSWindow,
		Now: now, Logger: logger,
	})
	svc := clinic.New(clinic.Config{
		Store: st, Enqueue: asynq.NewClientFromRedisClient(rdb), Erase: eraser{mgr}, Library: lib,
		Phones: phone.New("GB", []string{"GB", "US"}), SMSWindow: scheduler.DefaultSMSWindow,
		ServiceName: "nudge", Now: now, Logger: logger,
	})
	cfg := Config{Service: svc, Store: st, Secret: []byte("test-secret-of-at-least-32-bytes!"), Now: now, Logger: logger}
	if change != nil {
		change(&cfg)
	}
	srv, err := New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	return &bundle{rdb: rdb, store: st, svc: svc, srv: srv, h: srv.Handler(), logs: logs}
}

type eraser struct{ m *subscription.Manager }

func (e eraser) EraseSubscriber(ctx context.Context, id string) error {
	_, err := e.m.Erase(ctx, id)
	return err
}

// tenant is a clinic with a client that has a session, a prompt, a reply
// and a delivery record.
type tenant struct {
	clinic       domain.Clinic
	key          string
	client       string
	email        string
	prompt       string
	deliveryDate string
	replyText    string
	revokedKey   string
	secondClient string // a client without data, to remove
	secondPrompt string // another prompt of client, to remove
	sessionAt    time.Time
}

func (b *bundle) tenant(t *testing.T, name string) tenant {
	t.Helper()
	ctx := context.Background()
	c, err := b.svc.CreateClinic(ctx, clinic.NewClinic{Name: name, DisplayName: "Care Team"})
	if err != nil {
		t.Fatal(err)
	}
	tn := tenant{clinic: c.Clinic, key: c.APIKey, email: strings.ToLower(name) + "-client@example.org"}
	consent := clinic.Attestation{By: "Dr Who", At: testNow.Add(-time.Hour), Method: "written"}
	sub, err := b.svc.Enrol(ctx, c.Clinic.ID, clinic.Enrolment{
		FirstName: "Sam", Email: tn.email, Phone: "+447400123456", TimeZone: "Europe/London",
		Channels: []domain.Channel{domain.Email, domain.SMS}, Consent: consent,
	})
	if err != nil {
		t.Fatal(err)
	}
	tn.client = sub.ID
	tn.sessionAt = testNow.Add(5 * 24 * time.Hour)
	if _, err := b.svc.SetSession(ctx, c.Clinic.ID, sub.ID, tn.sessionAt); err != nil {
		t.Fatal(err)
	}
	p, err := b.svc.AddPrompt(ctx, c.Clinic.ID, sub.ID, clinic.NewPrompt{Rule: "session+1d@18:00", Template: 2})
	if err != nil {
		t.Fatal(err)
	}
	tn.prompt = p.ID
	p2, err := b.svc.AddPrompt(ctx, c.Clinic.ID, sub.ID, clinic.NewPrompt{Rule: "session-1d@19:00", Text: "Jot down one thing to bring."})
	if err != nil {
		t.Fatal(err)
	}
	tn.secondPrompt = p2.ID
	tn.replyText = "felt better after the walk " + name
	if err := b.store.AddReply(ctx, sub.ID, store.Reply{At: testNow.Add(-2 * time.Hour), Channel: "sms", Nudge: "between-session:x", Rating: 4, Text: tn.replyText}); err != nil {
		t.Fatal(err)
	}
	// An answer to the prompt, by text, scored 3.
	occurrence := "between-session:" + p.ID + "|1764000000"
	if err := b.store.MarkSent(ctx, sub.ID, occurrence, testNow.Add(-time.Hour)); err != nil {
		t.Fatal(err)
	}
	if err := b.store.RecordAnswer(ctx, sub.ID, store.Answer{Occurrence: occurrence, Score: 3, Note: "ok", Channel: domain.SMS, AnsweredAt: testNow.Add(-30 * time.Minute)}); err != nil {
		t.Fatal(err)
	}
	tn.deliveryDate = p.ID + ":" + "1764000000"
	dk := store.DeliveryKey{SubscriberID: sub.ID, Program: domain.BetweenSession, Date: tn.deliveryDate, Channel: domain.SMS}
	if err := b.store.ClaimDelivery(ctx, dk, testNow.Add(-time.Hour)); err != nil {
		t.Fatal(err)
	}
	if err := b.store.FinishDelivery(ctx, dk, store.Sent, "SM"+name, "", testNow.Add(-time.Hour)); err != nil {
		t.Fatal(err)
	}
	if err := b.store.IndexDelivery(ctx, dk, testNow.Add(-time.Hour)); err != nil {
		t.Fatal(err)
	}
	if _, err := b.store.RecordProviderReport(ctx, "SM"+name, "undelivered", "30003", testNow.Add(-time.Hour)); err != nil {
		t.Fatal(err)
	}
	second, err := b.svc.Enrol(ctx, c.Clinic.ID, clinic.Enrolment{
		FirstName: "Alex", Email: "second-" + tn.email, TimeZone: "America/New_York", Consent: consent,
	})
	if err != nil {
		t.Fatal(err)
	}
	tn.secondClient = second.ID
	revokedID, revoked, err := b.svc.AddKey(ctx, c.Clinic.ID)
	if err != nil {
		t.Fatal(err)
	}
	tn.revokedKey = revoked
	if err := b.svc.RevokeKey(ctx, c.Clinic.ID, revokedID); err != nil {
		t.Fatal(err)
	}
	return tn
}

// call sends one request through the handler.
func (b *bundle) call(t *testing.T, method, path, key, body string, header ...string) *httptest.ResponseRecorder {
	t.Helper()
	req := newRequest(method, path, key, body, header...)
	rec := httptest.NewRecorder()
	b.h.ServeHTTP(rec, req)
	return rec
}

func newRequest(method, path, key, body string, header ...string) *http.Request {
	var r io.Reader
	if body != "" {
		r = strings.NewReader(body)
	}
	req := httptest.NewRequest(method, path, r)
	if body != "" {
		req.Header.Set("Content-Type", "application/json")
	}
	if key != "" {
		req.Header.Set("Authorization", "Bearer "+key)
	}
	for i := 0; i+1 < len(header); i += 2 {
		req.Header.Set(header[i], header[i+1])
	}
	return req
}

// apiError decodes an error body, failing the test if it is not one.
func apiError(t *testing.T, rec *httptest.ResponseRecorder) errorDetail {
	t.Helper()
	var e struct {
		Error *errorDetail `json:"error"`
	}
	if err := json.Unmarshal(rec.Body.Bytes(), &e); err != nil || e.Error == nil {
		t.Fatalf("want an error body, got %d %q (%v)", rec.Code, rec.Body.String(), err)
	}
	return *e.Error
}
