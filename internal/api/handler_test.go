package api

import (
	"context"
	"encoding/json"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
)

// TestBadInput checks that wrong input is a 400 naming the field at fault,
// never a 500.
func TestBadInput(t *testing.T) {
	t.Parallel()
	b := setup(t)
	a := b.tenant(t, "Input")
	c := "/api/v1/clients/" + a.client
	enrol := func(replace ...string) string {
		body := `{"first_name":"Robin","email":"robin@example.org","time_zone":"Europe/London","channels":["email"],` +
			`"consent":{"obtained_by":"Dr Who","obtained_at":"2026-11-19T09:00:00Z","method":"written"}}`
		return strings.NewReplacer(replace...).Replace(body)
	}
	tests := []struct {
		name, method, path, body string
		field                    string // "" for an error of the whole body
		inMessage                string
	}{
		{"malformed JSON", "POST", "/api/v1/clients", `{"first_name": "Robin",`, "", "not well-formed JSON"},
		{"not JSON at all", "POST", "/api/v1/clients", `first_name=Robin`, "", "not well-formed JSON"},
		{"an array", "POST", "/api/v1/clients", `[]`, "", "must be a JSON object"},
		{"null", "POST", c + "/pause", `null`, "until", "say until when"},
		{"trailing data", "POST", c + "/pause", `{"until":"2026-12-01T09:00:00Z"} {}`, "", "nothing after it"},
		{"empty body", "PUT", c + "/session", ``, "", "a JSON object is needed"},
		{"unknown field", "POST", "/api/v1/clients", enrol(`"first_name"`, `"surname":"X","first_name"`), "surname", "unknown field"},
		{"unknown nested field", "POST", "/api/v1/clients", enrol(`"method"`, `"witness":"Y","method"`), "witness", "unknown field"},
		{"wrong type", "POST", "/api/v1/clients", enrol(`["email"]`, `"email"`), "channels", "want an array"},
		{"template as text", "POST", c + "/prompts", `{"rule":"session+2h","template":"three"}`, "template", "want an integer"},
		{"bad rule", "POST", c + "/prompts", `{"rule":"session+1d","template":1}`, "rule", "needs a local time"},
		{"rule instant passed", "POST", c + "/prompts", `{"rule":"at:2026-01-01T00:00:00Z","template":1}`, "rule", "passed"},
		{"no rule", "POST", c + "/prompts", `{"template":1}`, "rule", ""},
		{"no content", "POST", c + "/prompts", `{"rule":"session+2h"}`, "text", "template number or a text"},
		{"too-long custom text", "POST", c + "/prompts", `{"rule":"session+2h","text":"` + strings.Repeat("Remember to breathe. ", 14) + `"}`, "text", "too long"},
		{"bad zone", "POST", "/api/v1/clients", enrol("Europe/London", "Europe/Springfield"), "time_zone", "not known"},
		{"no zone", "POST", "/api/v1/clients", enrol(`"time_zone":"Europe/London",`, ""), "time_zone", "empty"},
		{"bad consent time", "POST", "/api/v1/clients", enrol("2026-11-19T09:00:00Z", "2026-11-19 09:00"), "consent.obtained_at", "RFC 3339"},
		{"old consent", "POST", "/api/v1/clients", enrol("2026-11-19T09:00:00Z", "2020-01-01T00:00:00Z"), "consent.obtained_at", "two years"},
		{"bad consent method", "POST", "/api/v1/clients", enrol(`"written"`, `"telepathic"`), "consent.method", "want one of"},
		{"no consent", "POST", "/api/v1/clients", `{"first_name":"Robin","email":"robin@example.org","time_zone":"Europe/London"}`, "consent.obtained_by", ""},
		{"bad email", "POST", "/api/v1/clients", enrol("robin@example.org", "robin at example"), "email", "not an email address"},
		{"bad phone", "POST", "/api/v1/clients", enrol(`"email":"robin@example.org"`, `"phone":"12"`), "phone", ""},
		{"bad channel", "POST", "/api/v1/clients", enrol(`["email"]`, `["fax"]`), "channels", "unknown"},
		{"sms without phone", "POST", "/api/v1/clients", enrol(`["email"]`, `["email","sms"]`), "channels", "mobile number"},
		{"bad locale", "POST", "/api/v1/clients", enrol(`"channels"`, `"locale":"tlh","channels"`), "locale", "not offered"},
		{"first name too long", "POST", "/api/v1/clients", enrol("Robin", strings.Repeat("R", 41)), "first_name", "at most"},
		{"goal too long", "POST", "/api/v1/clients", enrol(`"channels"`, `"goal":"`+strings.Repeat("g", 61)+`","channels"`), "goal", "at most"},
		{"bad pause time", "POST", c + "/pause", `{"until":"1 December"}`, "until", "RFC 3339"},
		{"pause too long", "POST", c + "/pause", `{"until":"2028-01-01T00:00:00Z"}`, "until", "a year"},
		{"bad session time", "PUT", c + "/session", `{"at":"2026-11-27T16:00"}`, "at", "RFC 3339"},
		{"no session time", "PUT", c + "/session", `{}`, "at", "needed"},
		{"bad limit", "GET", "/api/v1/clients?limit=ten", "", "limit", "whole number"},
		{"bad cursor", "GET", c + "/replies?cursor=-1", "", "cursor", "not a cursor"},
		{"long cursor", "GET", "/api/v1/clients?cursor=" + strings.Repeat("a", 65), "", "cursor", "not a cursor"},
	}
	for _, tt := range tests {
		rec := b.call(t, tt.method, tt.path, a.key, tt.body)
		if rec.Code != 400 {
			t.Errorf("%s: %d %s, want 400", tt.name, rec.Code, rec.Body)
			continue
		}
		e := apiError(t, rec)
		if e.Code != "invalid" || e.Field != tt.field || !strings.Contains(e.Message, tt.inMessage) {
			t.Errorf("%s: %+v, want code invalid, field %q, message with %q", tt.name, e, tt.field, tt.inMessage)
		}
	}

	// Odd bodies on every route that takes one: never a 500.
	odd := []string{`""`, `0`, `true`, `{"consent":null}`, `{"channels":[null]}`, `{"template":1e400}`, `{"template":-1}`,
		`{"until":""}`, `{"at":"0000-01-01T00:00:00Z"}`, `{"rule":"at:9999-12-31T23:59:59Z","template":1}`,
		strings.Repeat("[", 10000), `{"text":"` + strings.Repeat("\u0000", 100) + `"}`, "\xff\xfe"}
	for _, rt := range routes {
		if rt.method != "POST" && rt.method != "PUT" {
			continue
		}
		path := strings.NewReplacer("{id}", a.client, "{prompt_id}", a.prompt).Replace(rt.path)
		for _, body := range odd {
			if rec := b.call(t, rt.method, path, a.key, body); rec.Code >= 500 || rec.Code < 400 {
				t.Errorf("%s %s with %.30q: %d %s, want a 4xx", rt.method, rt.path, body, rec.Code, rec.Body)
			}
		}
	}
	if strings.Contains(b.logs.String(), "level=ERROR") {
		t.Errorf("bad input was logged as an error:\n%s", b.logs)
	}
}

func TestIdempotency(t *testing.T) {
	t.Parallel()
	b := setup(t)
	a := b.tenant(t, "Idem")
	other := b.tenant(t, "Other")
	body := `{"first_name":"Robin","email":"robin@example.org","time_zone":"Europe/London",` +
		`"consent":{"obtained_by":"Dr Who","obtained_at":"2026-11-19T09:00:00Z","method":"written"}}`
	const key = "3f9c8e4e-enrol-robin"

	first := b.call(t, "POST", "/api/v1/clients", a.key, body, "Idempotency-Key", key)
	if first.Code != 201 || first.Header().Get("Idempotent-Replayed") != "" {
		t.Fatalf("first: %d %v %s", first.Code, first.Header(), first.Body)
	}
	again := b.call(t, "POST", "/api/v1/clients", a.key, body, "Idempotency-Key", key)
	if again.Code != 201 || again.Body.String() != first.Body.String() || again.Header().Get("Idempotent-Replayed") != "true" {
		t.Errorf("replay: %d %v %s, want the first response replayed", again.Code, again.Header(), again.Body)
	}
	// Without the key, the same request is a new enrolment: a conflict.
	if rec := b.call(t, "POST", "/api/v1/clients", a.key, body); rec.Code != 409 {
		t.Errorf("same enrolment without a key: %d %s, want 409", rec.Code, rec.Body)
	}
	// The same key with another body is refused, and nothing is enrolled.
	changed := strings.Replace(body, "robin@", "robyn@", 1)
	rec := b.call(t, "POST", "/api/v1/clients", a.key, changed, "Idempotency-Key", key)
	if e := apiError(t, rec); rec.Code != 422 || e.Code != "conflict" || e.Field != "Idempotency-Key" {
		t.Errorf("same key, other body: %d %+v, want 422 conflict", rec.Code, e)
	}
	// Keys are per clinic: another clinic's same key is its own.
	if rec := b.call(t, "POST", "/api/v1/clients", other.key, changed, "Idempotency-Key", key); rec.Code != 201 || rec.Header().Get("Idempotent-Replayed") != "" {
		t.Errorf("another clinic's same key: %d %s, want a fresh 201", rec.Code, rec.Body)
	}
	ids, _, err := b.store.ClientIDs(context.Background(), a.clinic.ID, "", 100)
	if err != nil {
		t.Fatal(err)
	}
	if len(ids) != 3 { // the tenant's two, and Robin once
		t.Errorf("clinic has %d clients, want 3", len(ids))
	}

	// A 4xx is kept too: the retry gets the same answer without running again.
	bad := `{"rule":"every day","template":1}`
	path := "/api/v1/clients/" + a.client + "/prompts"
	r1 := b.call(t, "POST", path, a.key, bad, "Idempotency-Key", "bad-rule")
	r2 := b.call(t, "POST", path, a.key, bad, "Idempotency-Key", "bad-rule")
	if r1.Code != 400 || r2.Code != 400 || r2.Body.String() != r1.Body.String() || r2.Header().Get("Idempotent-Replayed") != "true" {
		t.Errorf("a kept 400: %d %s then %d %v %s", r1.Code, r1.Body, r2.Code, r2.Header(), r2.Body)
	}

	// Badly formed keys.
	for _, k := range []string{"", strings.Repeat("k", MaxIdempotencyKey+1), "tab\there", "é"} {
		rec := b.call(t, "POST", "/api/v1/clients", a.key, body, "Idempotency-Key", k)
		if e := apiError(t, rec); rec.Code != 400 || e.Field != "Idempotency-Key" {
			t.Errorf("key %.10q: %d %+v, want 400 on Idempotency-Key", k, rec.Code, e)
		}
	}

	// The record names the key by its hash and keeps no client detail in clear.
	dump := b.dumpRedis(t, b.store.Prefix()+"idem:*")
	if len(dump) == 0 {
		t.Fatal("no idempotency record found")
	}
	for k, v := range dump {
		for _, secret := range []string{key, "robin@example.org", "Robin"} {
			if strings.Contains(k, secret) || strings.Contains(v, secret) {
				t.Errorf("idempotency record %s shows %q in clear: %s", k, secret, v)
			}
		}
		if ttl := b.rdb.TTL(context.Background(), k).Val(); ttl <= 23*3600e9 || ttl > IdempotencyTTL {
			t.Errorf("record %s expires in %v, want 24 h", k, ttl)
		}
	}
}

// TestIdempotencyConcurrent sends one request many times at once under one
// key: it runs once, and every other copy is a 409 or the kept response.
func TestIdempotencyConcurrent(t *testing.T) {
	t.Parallel()
	b := setup(t)
	a := b.tenant(t, "Race")
	body := `{"rule":"session+3h","template":2}`
	path := "/api/v1/clients/" + a.client + "/prompts"
	const n = 12
	recs := make([]*httptest.ResponseRecorder, n)
	var wg sync.WaitGroup
	for i := range n {
		wg.Go(func() { recs[i] = b.call(t, "POST", path, a.key, body, "Idempotency-Key", "race") })
	}
	wg.Wait()
	fresh, replays := 0, 0
	var created string
	for _, rec := range recs {
		switch {
		case rec.Code == 201 && rec.Header().Get("Idempotent-Replayed") == "":
			fresh++
			created = rec.Body.String()
		case rec.Code == 201:
			replays++
		case rec.Code == 409:
		default:
			t.Errorf("%d %s", rec.Code, rec.Body)
		}
	}
	if fresh != 1 {
		t.Fatalf("%d requests ran, want 1", fresh)
	}
	for _, rec := range recs {
		if rec.Code == 201 && rec.Body.String() != created {
			t.Errorf("a replay differs: %s vs %s", rec.Body, created)
		}
	}
	ps, err := b.svc.Prompts(context.Background(), a.clinic.ID, a.client)
	if err != nil {
		t.Fatal(err)
	}
	if len(ps) != 3 { // the tenant's two and this one, once
		t.Errorf("client has %d prompts, want 3 (%d replays)", len(ps), replays)
	}
}

// TestInternalError checks that a failure of ours is a 500 with a generic
// message, the cause is logged, and an idempotency key is given back so
// the retry runs.
func TestInternalError(t *testing.T) {
	t.Parallel()
	b := setup(t)
	a := b.tenant(t, "Broken")
	ctx := context.Background()
	promptsKey := b.store.Prefix() + "prompts:" + a.client
	if err := b.rdb.HSet(ctx, promptsKey, "pbroken", "{not json").Err(); err != nil {
		t.Fatal(err)
	}
	path := "/api/v1/clients/" + a.client + "/prompts"
	body := `{"rule":"session+2h","template":1}`
	rec := b.call(t, "POST", path, a.key, body, "Idempotency-Key", "retry-me")
	e := apiError(t, rec)
	if rec.Code != 500 || e.Code != "internal" || strings.Contains(e.Message, "pbroken") || strings.Contains(e.Message, "decode") {
		t.Errorf("broken store: %d %+v, want a generic 500", rec.Code, e)
	}
	if logs := b.logs.String(); !strings.Contains(logs, "pbroken") || !strings.Contains(logs, a.clinic.ID) {
		t.Errorf("the cause was not logged:\n%s", logs)
	}
	if err := b.rdb.HDel(ctx, promptsKey, "pbroken").Err(); err != nil {
		t.Fatal(err)
	}
	rec = b.call(t, "POST", path, a.key, body, "Idempotency-Key", "retry-me")
	if rec.Code != 201 || rec.Header().Get("Idempotent-Replayed") != "" {
		t.Errorf("retry after a 500: %d %v %s, want a fresh 201", rec.Code, rec.Header(), rec.Body)
	}
	var p promptJSON
	if err := json.Unmarshal(rec.Body.Bytes(), &p); err != nil || p.Rule != "session+2h" {
		t.Errorf("retry made %+v (%v)", p, err)
	}
	if logs := b.logs.String(); strings.Contains(logs, a.email) || strings.Contains(logs, "+447400123456") {
		t.Errorf("an address or number was logged:\n%s", logs)
	}
}
