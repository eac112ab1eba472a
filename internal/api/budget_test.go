package api

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/getkin/kin-openapi/openapi3filter"
)

// stepClock is a clock a test moves by hand.
type stepClock struct {
	mu  sync.Mutex
	now time.Time
}

func (c *stepClock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.now
}

func (c *stepClock) Add(d time.Duration) {
	c.mu.Lock()
	c.now = c.now.Add(d)
	c.mu.Unlock()
}

// answer is a response read off the wire.
type answer struct {
	status int
	header http.Header
	body   []byte
}

// send makes one real HTTP request to base.
func send(t *testing.T, base, method, path, key, body string, header ...string) answer {
	t.Helper()
	var r io.Reader
	if body != "" {
		r = strings.NewReader(body)
	}
	req, err := http.NewRequest(method, base+path, r)
	if err != nil {
		t.Fatal(err)
	}
	if body != "" {
		req.Header.Set("Content-Type", "application/json")
	}
	if key != "" {
		req.Header.Set("Authorization", "Bearer "+key)
	}
	for i := 0; i+1 < len(header); i += 2 {
		req.Header.Set(header[i], header[i+1])
	}
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer res.Body.Close()
	b, err := io.ReadAll(res.Body)
	if err != nil {
		t.Fatal(err)
	}
	return answer{status: res.StatusCode, header: res.Header, body: b}
}

func (a answer) errorCode(t *testing.T) string {
	t.Helper()
	var e errorBody
	if err := json.Unmarshal(a.body, &e); err != nil {
		t.Fatalf("not an error body: %s", a.body)
	}
	return e.Error.Code
}

// TestClinicRequestBudget: each clinic has a budget of requests a second,
// shared by every process (two servers on one Redis here); past it a
// request is 429 with Retry-After and a JSON error, as the document says.
// Another clinic, and a request without a working key, are not held back.
func TestClinicRequestBudget(t *testing.T) {
	t.Parallel()
	clock := &stepClock{now: time.Date(2026, 11, 20, 10, 0, 0, 0, time.UTC)}
	b := setupWith(t, func(c *Config) { c.Rate, c.RateClock = 2, clock.Now })
	a, other := b.tenant(t, "Budget"), b.tenant(t, "Elsewhere")
	second, err := New(b.srv.c) // another process: same Redis, same budget
	if err != nil {
		t.Fatal(err)
	}
	one, two := httptest.NewServer(b.h), httptest.NewServer(second.Handler())
	defer one.Close()
	defer two.Close()
	defer http.DefaultClient.CloseIdleConnections()

	get := func(base, key string) answer { return send(t, base, "GET", "/api/v1/clients", key, "") }
	for i, base := range []string{one.URL, two.URL} {
		if r := get(base, a.key); r.status != http.StatusOK {
			t.Fatalf("request %d within the budget: %d %s", i+1, r.status, r.body)
		}
	}
	over := get(one.URL, a.key)
	if over.status != http.StatusTooManyRequests || over.header.Get("Retry-After") != "1" || over.errorCode(t) != "rate_limited" ||
		over.header.Get("Content-Type") != "application/json" {
		t.Fatalf("over the budget: %d Retry-After=%q %s", over.status, over.header.Get("Retry-After"), over.body)
	}
	if !strings.Contains(string(over.body), "2 requests a second") {
		t.Errorf("the message does not say the budget: %s", over.body)
	}
	checkAgainstDocument(t, "GET", "/api/v1/clients", a.key, over)
	if r := send(t, two.URL, "POST", "/api/v1/clients/"+a.client+"/resume", a.key, ""); r.status != http.StatusTooManyRequests {
		t.Errorf("the second process let a request over the budget through: %d", r.status)
	}
	if r := get(two.URL, other.key); r.status != http.StatusOK {
		t.Errorf("another clinic was held back: %d %s", r.status, r.body)
	}
	if r := get(one.URL, "nk_nosuchkey_x"); r.status != http.StatusUnauthorized {
		t.Errorf("an unknown key: %d, want 401", r.status)
	}

	// Half a second gives one request back; a long pause gives back a
	// second's worth, not more.
	clock.Add(500 * time.Millisecond)
	if r := get(two.URL, a.key); r.status != http.StatusOK {
		t.Errorf("after half a second: %d", r.status)
	}
	if r := get(one.URL, a.key); r.status != http.StatusTooManyRequests {
		t.Errorf("second request after half a second: %d", r.status)
	}
	clock.Add(time.Hour)
	var codes []int
	for range 3 {
		codes = append(codes, get(one.URL, a.key).status)
	}
	if fmt.Sprint(codes) != "[200 200 429]" {
		t.Errorf("after an hour: %v, want a burst of 2", codes)
	}
}

// checkAgainstDocument validates a response against the OpenAPI document.
func checkAgainstDocument(t *testing.T, method, path, key string, a answer) {
	t.Helper()
	_, router := loadDoc(t)
	req := newRequest(method, path, key, "")
	route, params, err := router.FindRoute(req)
	if err != nil {
		t.Fatal(err)
	}
	opts := &openapi3filter.Options{IncludeResponseStatus: true, MultiError: true}
	in := &openapi3filter.RequestValidationInput{Request: req, PathParams: params, Route: route, Options: opts}
	if err := openapi3filter.ValidateResponse(context.Background(), &openapi3filter.ResponseValidationInput{
		RequestValidationInput: in, Status: a.status, Header: a.header, Body: io.NopCloser(bytes.NewReader(a.body)), Options: opts,
	}); err != nil {
		t.Errorf("the %d response does not match the document: %v\n%s", a.status, err, a.body)
	}
}

// TestIdempotencyRecordsAreCapped: past the cap a clinic's oldest records
// are dropped, so Redis holds at most the cap and the clinic's requests all
// go on working; the newest keys still replay, and another clinic's records
// are untouched.
func TestIdempotencyRecordsAreCapped(t *testing.T) {
	t.Parallel()
	clock := &stepClock{now: testNow}
	b := setupWith(t, func(c *Config) { c.MaxIdempotencyRecords, c.Now = 3, clock.Now })
	a, other := b.tenant(t, "Capped"), b.tenant(t, "Untouched")
	srv := httptest.NewServer(b.h)
	defer srv.Close()
	defer http.DefaultClient.CloseIdleConnections()

	pause := func(tn tenant, key string, day int) answer {
		clock.Add(time.Second) // each claim a little later than the last
		body := fmt.Sprintf(`{"until":"2026-12-%02dT09:00:00Z"}`, day)
		return send(t, srv.URL, "POST", "/api/v1/clients/"+tn.client+"/pause", tn.key, body, "Idempotency-Key", key)
	}
	if r := pause(other, "other-1", 1); r.status != http.StatusOK {
		t.Fatalf("other clinic: %d %s", r.status, r.body)
	}
	for i := 1; i <= 6; i++ {
		if r := pause(a, fmt.Sprintf("k%d", i), i); r.status != http.StatusOK || r.header.Get("Idempotent-Replayed") != "" {
			t.Fatalf("request %d: %d %s", i, r.status, r.body)
		}
	}
	ctx := context.Background()
	records, err := b.rdb.Keys(ctx, b.srv.idemRecordPrefix(a.clinic.ID)+"*").Result()
	if err != nil {
		t.Fatal(err)
	}
	if n, _ := b.rdb.ZCard(ctx, b.srv.idemIndexKey(a.clinic.ID)).Result(); len(records) != 3 || n != 3 {
		t.Fatalf("%d records and %d index entries kept, want 3", len(records), n)
	}
	if ttl := b.rdb.PTTL(ctx, b.srv.idemIndexKey(a.clinic.ID)).Val(); ttl <= 0 || ttl > IdempotencyTTL {
		t.Errorf("the index expires in %s, want within %s", ttl, IdempotencyTTL)
	}
	// The newest three replay; the oldest runs again.
	for i := 4; i <= 6; i++ {
		if r := pause(a, fmt.Sprintf("k%d", i), i); r.status != http.StatusOK || r.header.Get("Idempotent-Replayed") != "true" {
			t.Errorf("k%d: %d, replayed %q; want the kept response", i, r.status, r.header.Get("Idempotent-Replayed"))
		}
	}
	if r := pause(a, "k1", 1); r.status != http.StatusOK || r.header.Get("Idempotent-Replayed") != "" {
		t.Errorf("k1 (dropped): %d, replayed %q; want it run again", r.status, r.header.Get("Idempotent-Replayed"))
	}
	if r := pause(other, "other-1", 1); r.header.Get("Idempotent-Replayed") != "true" {
		t.Errorf("the other clinic's record was dropped: %d %s", r.status, r.body)
	}
}
