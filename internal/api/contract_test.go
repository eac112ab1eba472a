package api

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"slices"
	"strings"
	"testing"

	"github.com/getkin/kin-openapi/openapi3"
	"github.com/getkin/kin-openapi/openapi3filter"
	"github.com/getkin/kin-openapi/routers"
	"github.com/getkin/kin-openapi/routers/legacy"
	"github.com/google/go-cmp/cmp"
	"github.com/nudgehq/nudge/internal/notify"
)

// loadDoc loads and validates the served OpenAPI document.
func loadDoc(t *testing.T) (*openapi3.T, routers.Router) {
	t.Helper()
	loader := openapi3.NewLoader()
	doc, err := loader.LoadFromData(OpenAPI())
	if err != nil {
		t.Fatalf("load openapi.json: %v", err)
	}
	if err := doc.Validate(loader.Context); err != nil {
		t.Fatalf("openapi.json is not a valid OpenAPI document: %v", err)
	}
	if doc.OpenAPI != "3.1.0" || !doc.IsOpenAPI31OrLater() {
		t.Fatalf("openapi = %q, want 3.1.0 read as 3.1", doc.OpenAPI)
	}
	router, err := legacy.NewRouter(doc)
	if err != nil {
		t.Fatalf("route the document: %v", err)
	}
	return doc, router
}

// docOperations lists the document's operations as "METHOD path".
func docOperations(doc *openapi3.T) []string {
	var out []string
	for path, item := range doc.Paths.Map() {
		for method := range item.Operations() {
			out = append(out, method+" "+path)
		}
	}
	slices.Sort(out)
	return out
}

func tableOperations() []string {
	var out []string
	for _, rt := range routes {
		out = append(out, rt.method+" "+rt.path)
	}
	slices.Sort(out)
	return out
}

// TestOpenAPIDocument checks the document itself: valid OpenAPI 3.1, the
// same operations as the router's table, and the conventions every
// operation must follow.
func TestOpenAPIDocument(t *testing.T) {
	t.Parallel()
	doc, _ := loadDoc(t)
	if diff := cmp.Diff(tableOperations(), docOperations(doc)); diff != "" {
		t.Errorf("routes in the mux (-) and in openapi.json (+) differ:\n%s", diff)
	}
	if s := doc.Components.SecuritySchemes["bearerAuth"]; s == nil || s.Value.Type != "http" || s.Value.Scheme != "bearer" {
		t.Errorf("want an http bearer scheme named bearerAuth, got %+v", s)
	}
	if len(doc.Security) != 1 || doc.Security[0]["bearerAuth"] == nil {
		t.Errorf("want bearerAuth required by default, got %v", doc.Security)
	}
	for _, rt := range routes {
		item := doc.Paths.Find(rt.path)
		if item == nil || item.GetOperation(rt.method) == nil {
			continue // reported above
		}
		op := item.GetOperation(rt.method)
		public := op.Security != nil && len(*op.Security) == 0
		if public != rt.public {
			t.Errorf("%s %s: public in the document %v, in the router %v", rt.method, rt.path, public, rt.public)
		}
		if op.OperationID == "" {
			t.Errorf("%s %s: no operationId", rt.method, rt.path)
		}
		want := []string{}
		if !rt.public {
			want = append(want, "401", "429", "500")
		}
		if strings.Contains(rt.path, "{id}") {
			want = append(want, "404")
		}
		if rt.method == "POST" || rt.method == "PUT" {
			want = append(want, "400", "413")
		}
		if rt.method == "POST" {
			want = append(want, "409", "422")
			if !slices.ContainsFunc(op.Parameters, func(p *openapi3.ParameterRef) bool { return p.Value.Name == "Idempotency-Key" }) {
				t.Errorf("%s %s: no Idempotency-Key parameter", rt.method, rt.path)
			}
		}
		for _, code := range want {
			r := op.Responses.Value(code)
			if r == nil {
				t.Errorf("%s %s: response %s not documented", rt.method, rt.path, code)
				continue
			}
			if ref := r.Value.Content.Get("application/json").Schema.Ref; ref != "#/components/schemas/Error" {
				t.Errorf("%s %s: response %s has schema %q, want the Error schema", rt.method, rt.path, code, ref)
			}
		}
	}
}

// TestRoutesRegistered checks that every route of the table is on the mux
// (a request reaches its handler, not the JSON 404 for unknown paths), and
// that anything else under /api/v1/ is a JSON 404 or 405.
func TestRoutesRegistered(t *testing.T) {
	t.Parallel()
	b := setup(t)
	for _, rt := range routes {
		path := strings.NewReplacer("{id}", "x1", "{prompt_id}", "p1").Replace(rt.path)
		rec := b.call(t, rt.method, path, "", "")
		want := http.StatusUnauthorized
		if rt.public {
			want = http.StatusOK
		}
		if rec.Code != want {
			t.Errorf("%s %s without a key: %d %s, want %d", rt.method, path, rec.Code, rec.Body, want)
		}
	}
	rec := b.call(t, "GET", "/api/v1/nothing-here", "", "")
	if e := apiError(t, rec); rec.Code != 404 || e.Code != "not_found" {
		t.Errorf("unknown path: %d %+v", rec.Code, e)
	}
	rec = b.call(t, "PATCH", "/api/v1/clients/x1", "", "")
	if e := apiError(t, rec); rec.Code != 405 || e.Code != "invalid" || rec.Header().Get("Allow") != "GET, DELETE" {
		t.Errorf("PATCH a client: %d %+v Allow=%q", rec.Code, e, rec.Header().Get("Allow"))
	}
}

// contractCase is one request of the contract test and what must come back.
type contractCase struct {
	name         string
	method, path string
	key          string
	body         string
	header       []string
	status       int
	// docRefuses: the document itself refuses the request (malformed or
	// unknown JSON, a missing key, a parameter out of range), so request
	// validation must fail; otherwise it must pass.
	docRefuses bool
	field      string // the error's field, for a 400
	before     func(t *testing.T)
	check      func(t *testing.T, rec *httptest.ResponseRecorder)
}

// TestContract sends real requests, good and bad, for every route through
// the real handler, and validates every request and every response against
// the OpenAPI document.
func TestContract(t *testing.T) {
	t.Parallel()
	b := setup(t)
	_, router := loadDoc(t)
	a := b.tenant(t, "Contract")
	other := b.tenant(t, "Other")
	c := "/api/v1/clients/" + a.client
	enrolBody := func(email string) string {
		return `{"first_name":"Robin","email":"` + email + `","time_zone":"Europe/Madrid","locale":"es","channels":["email"],` +
			`"consent":{"obtained_by":"Dr Who","obtained_at":"2026-11-19T09:00:00Z","method":"verbal"}}`
	}
	tooLong := strings.Repeat("a", 300)
	big := `{"first_name":"` + strings.Repeat("x", MaxBody) + `"}`
	inflight := func(path, body string) func(t *testing.T) {
		return func(t *testing.T) {
			rec, _ := json.Marshal(idemRecord{State: "run", Fingerprint: requestFingerprint("POST", path, []byte(body)), Token: "x"})
			if err := b.rdb.Set(context.Background(), b.srv.idemKey(a.clinic.ID, "busy-"+path), rec, 0).Err(); err != nil {
				t.Fatal(err)
			}
		}
	}
	jsonField := func(name, want string) func(t *testing.T, rec *httptest.ResponseRecorder) {
		return func(t *testing.T, rec *httptest.ResponseRecorder) {
			var m map[string]any
			if err := json.Unmarshal(rec.Body.Bytes(), &m); err != nil {
				t.Fatal(err)
			}
			if got, _ := json.Marshal(m[name]); string(got) != want {
				t.Errorf("%s = %s, want %s", name, got, want)
			}
		}
	}
	replayed := func(t *testing.T, rec *httptest.ResponseRecorder) {
		if rec.Header().Get("Idempotent-Replayed") != "true" {
			t.Errorf("not marked as replayed: %v", rec.Header())
		}
	}

	cases := []contractCase{
		{name: "document", method: "GET", path: "/api/v1/openapi.json", status: 200,
			check: func(t *testing.T, rec *httptest.ResponseRecorder) {
				if !bytes.Equal(rec.Body.Bytes(), OpenAPI()) {
					t.Error("the served document is not the embedded one")
				}
			}},

		{name: "enrol", method: "POST", path: "/api/v1/clients", key: a.key, body: enrolBody("robin@example.org"), status: 201,
			header: []string{"Idempotency-Key", "enrol-robin"}, check: jsonField("locale", `"es"`)},
		{name: "enrol replayed", method: "POST", path: "/api/v1/clients", key: a.key, body: enrolBody("robin@example.org"), status: 201,
			header: []string{"Idempotency-Key", "enrol-robin"}, check: replayed},
		{name: "enrol key reused", method: "POST", path: "/api/v1/clients", key: a.key, body: enrolBody("robyn@example.org"), status: 422,
			header: []string{"Idempotency-Key", "enrol-robin"}, field: "Idempotency-Key"},
		{name: "enrol in flight", method: "POST", path: "/api/v1/clients", key: a.key, body: enrolBody("kim@example.org"), status: 409,
			header: []string{"Idempotency-Key", "busy-/api/v1/clients"}, before: inflight("/api/v1/clients", enrolBody("kim@example.org"))},
		{name: "enrol by text only", method: "POST", path: "/api/v1/clients", key: a.key, status: 201,
			body: `{"first_name":"Jo","phone":"+1 201 555 0123","time_zone":"America/New_York",` +
				`"consent":{"obtained_by":"Nurse","obtained_at":"2026-11-19T09:00:00Z","method":"electronic"}}`,
			check: jsonField("sms_status", `"pending"`)},
		{name: "enrol twice", method: "POST", path: "/api/v1/clients", key: a.key, body: enrolBody(a.email), status: 409},
		{name: "enrol no key", method: "POST", path: "/api/v1/clients", body: enrolBody("x@example.org"), status: 401, docRefuses: true},
		{name: "enrol revoked key", method: "POST", path: "/api/v1/clients", key: a.revokedKey, body: enrolBody("x@example.org"), status: 401},
		{name: "enrol malformed", method: "POST", path: "/api/v1/clients", key: a.key, body: `{"first_name": `, status: 400, docRefuses: true},
		{name: "enrol unknown field", method: "POST", path: "/api/v1/clients", key: a.key, status: 400, docRefuses: true, field: "nickname",
			body: strings.Replace(enrolBody("x@example.org"), `"first_name"`, `"nickname":"R","first_name"`, 1)},
		{name: "enrol bad zone", method: "POST", path: "/api/v1/clients", key: a.key, status: 400, field: "time_zone",
			body: strings.Replace(enrolBody("x@example.org"), "Europe/Madrid", "Mars/Olympus_Mons", 1)},
		{name: "enrol consent in the future", method: "POST", path: "/api/v1/clients", key: a.key, status: 400, field: "consent.obtained_at",
			body: strings.Replace(enrolBody("x@example.org"), "2026-11-19T09:00:00Z", "2027-01-01T00:00:00Z", 1)},
		{name: "enrol too large", method: "POST", path: "/api/v1/clients", key: a.key, body: big, status: 413, docRefuses: true},

		{name: "list", method: "GET", path: "/api/v1/clients", key: a.key, status: 200},
		{name: "list a page", method: "GET", path: "/api/v1/clients?limit=1", key: a.key, status: 200,
			check: func(t *testing.T, rec *httptest.ResponseRecorder) {
				var p struct {
					Data       []clientJSON
					NextCursor *string `json:"next_cursor"`
				}
				json.Unmarshal(rec.Body.Bytes(), &p)
				if len(p.Data) != 1 || p.NextCursor == nil || *p.NextCursor != p.Data[0].ID {
					t.Errorf("want one client and a cursor, got %s", rec.Body)
				}
			}},
		{name: "list limit 0", method: "GET", path: "/api/v1/clients?limit=0", key: a.key, status: 400, docRefuses: true, field: "limit"},
		{name: "list no key", method: "GET", path: "/api/v1/clients", status: 401, docRefuses: true},

		{name: "get", method: "GET", path: c, key: a.key, status: 200, check: jsonField("next_session", `"2026-11-25T10:00:00Z"`)},
		{name: "get unknown", method: "GET", path: "/api/v1/clients/nosuchclient0000", key: a.key, status: 404},
		{name: "get other clinic's", method: "GET", path: "/api/v1/clients/" + other.client, key: a.key, status: 404},
		{name: "get revoked key", method: "GET", path: c, key: a.revokedKey, status: 401},

		{name: "pause", method: "POST", path: c + "/pause", key: a.key, body: `{"until":"2026-12-01T09:00:00Z"}`, status: 200,
			check: jsonField("paused_until", `"2026-12-01T09:00:00Z"`)},
		{name: "pause not a time", method: "POST", path: c + "/pause", key: a.key, body: `{"until":"next week"}`, status: 400, field: "until",
			docRefuses: true},
		{name: "pause in the past", method: "POST", path: c + "/pause", key: a.key, body: `{"until":"2026-11-01T09:00:00Z"}`, status: 400, field: "until"},
		{name: "pause unknown", method: "POST", path: "/api/v1/clients/nosuchclient0000/pause", key: a.key, body: `{"until":"2026-12-01T09:00:00Z"}`, status: 404},
		{name: "pause no key", method: "POST", path: c + "/pause", body: `{"until":"2026-12-01T09:00:00Z"}`, status: 401, docRefuses: true},
		{name: "pause in flight", method: "POST", path: c + "/pause", key: a.key, body: `{"until":"2026-12-02T09:00:00Z"}`, status: 409,
			header: []string{"Idempotency-Key", "busy-" + c + "/pause"}, before: inflight(c+"/pause", `{"until":"2026-12-02T09:00:00Z"}`)},
		{name: "pause body too large", method: "POST", path: c + "/pause", key: a.key, body: big, status: 413, docRefuses: true},
		{name: "pause key reused", method: "POST", path: c + "/pause", key: a.key, body: `{"until":"2026-12-01T09:00:00Z"}`, status: 422,
			header: []string{"Idempotency-Key", "enrol-robin"}, field: "Idempotency-Key"},

		{name: "resume", method: "POST", path: c + "/resume", key: a.key, status: 200, check: jsonField("paused_until", "null")},
		{name: "resume with {}", method: "POST", path: c + "/resume", key: a.key, body: `{}`, status: 200},
		{name: "resume with a field", method: "POST", path: c + "/resume", key: a.key, body: `{"now":true}`, status: 400, field: "now", docRefuses: true},
		{name: "resume unknown", method: "POST", path: "/api/v1/clients/nosuchclient0000/resume", key: a.key, status: 404},
		{name: "resume no key", method: "POST", path: c + "/resume", status: 401, docRefuses: true},
		{name: "resume key reused", method: "POST", path: c + "/resume", key: a.key, status: 422,
			header: []string{"Idempotency-Key", "enrol-robin"}, field: "Idempotency-Key"},
		{name: "resume in flight", method: "POST", path: c + "/resume", key: a.key, status: 409,
			header: []string{"Idempotency-Key", "busy-" + c + "/resume"}, before: inflight(c+"/resume", "")},
		{name: "resume too large", method: "POST", path: c + "/resume", key: a.key, body: big, status: 413, docRefuses: true},

		{name: "session", method: "PUT", path: c + "/session", key: a.key, body: `{"at":"2026-11-27T16:00:00Z"}`, status: 200,
			check: jsonField("next_session", `"2026-11-27T16:00:00Z"`)},
		{name: "session not a time", method: "PUT", path: c + "/session", key: a.key, body: `{"at":"27/11/2026"}`, status: 400, field: "at", docRefuses: true},
		{name: "session too far", method: "PUT", path: c + "/session", key: a.key, body: `{"at":"2030-01-01T00:00:00Z"}`, status: 400, field: "at"},
		{name: "session wrong type", method: "PUT", path: c + "/session", key: a.key, body: `{"at":17}`, status: 400, field: "at", docRefuses: true},
		{name: "session malformed", method: "PUT", path: c + "/session", key: a.key, body: `{"at":`, status: 400, docRefuses: true},
		{name: "session unknown", method: "PUT", path: "/api/v1/clients/nosuchclient0000/session", key: a.key, body: `{"at":"2026-11-27T16:00:00Z"}`, status: 404},
		{name: "session no key", method: "PUT", path: c + "/session", body: `{"at":"2026-11-27T16:00:00Z"}`, status: 401, docRefuses: true},
		{name: "session too large", method: "PUT", path: c + "/session", key: a.key, body: big, status: 413, docRefuses: true},

		{name: "add prompt", method: "POST", path: c + "/prompts", key: a.key, body: `{"rule":"session+2d@18:00","template":3}`, status: 201,
			check: jsonField("next_at", `"2026-11-29T18:00:00Z"`)},
		{name: "add own text", method: "POST", path: c + "/prompts", key: a.key, body: `{"rule":"at:2026-11-21T12:00:00Z","text":"Call a friend today."}`, status: 201,
			check: jsonField("text", `"Call a friend today."`)},
		{name: "add bad rule", method: "POST", path: c + "/prompts", key: a.key, body: `{"rule":"every tuesday","template":1}`, status: 400, field: "rule"},
		{name: "add text too long", method: "POST", path: c + "/prompts", key: a.key, body: `{"rule":"session+2h","text":"` + tooLong + `"}`, status: 400, field: "text"},
		{name: "add both", method: "POST", path: c + "/prompts", key: a.key, body: `{"rule":"session+2h","template":1,"text":"hi"}`, status: 400, field: "text", docRefuses: true},
		{name: "add no template", method: "POST", path: c + "/prompts", key: a.key, body: `{"rule":"session+2h","template":999}`, status: 400, field: "template"},
		{name: "add to unknown", method: "POST", path: "/api/v1/clients/nosuchclient0000/prompts", key: a.key, body: `{"rule":"session+2h","template":1}`, status: 404},
		{name: "add no key", method: "POST", path: c + "/prompts", body: `{"rule":"session+2h","template":1}`, status: 401, docRefuses: true},
		{name: "add in flight", method: "POST", path: c + "/prompts", key: a.key, body: `{"rule":"session+3h","template":1}`, status: 409,
			header: []string{"Idempotency-Key", "busy-" + c + "/prompts"}, before: inflight(c+"/prompts", `{"rule":"session+3h","template":1}`)},
		{name: "add key reused", method: "POST", path: c + "/prompts", key: a.key, body: `{"rule":"session+3h","template":1}`, status: 422,
			header: []string{"Idempotency-Key", "enrol-robin"}, field: "Idempotency-Key"},
		{name: "add too large", method: "POST", path: c + "/prompts", key: a.key, body: big, status: 413, docRefuses: true},

		{name: "prompts", method: "GET", path: c + "/prompts", key: a.key, status: 200,
			check: func(t *testing.T, rec *httptest.ResponseRecorder) {
				var l listJSON[promptJSON]
				json.Unmarshal(rec.Body.Bytes(), &l)
				if len(l.Data) != 4 {
					t.Errorf("want 4 prompts, got %s", rec.Body)
				}
			}},
		{name: "prompts unknown", method: "GET", path: "/api/v1/clients/nosuchclient0000/prompts", key: a.key, status: 404},
		{name: "prompts no key", method: "GET", path: c + "/prompts", status: 401, docRefuses: true},

		{name: "remove prompt", method: "DELETE", path: c + "/prompts/" + a.secondPrompt, key: a.key, status: 204},
		{name: "remove prompt again", method: "DELETE", path: c + "/prompts/" + a.secondPrompt, key: a.key, status: 404},
		{name: "remove other clinic's prompt", method: "DELETE", path: c + "/prompts/" + other.prompt, key: a.key, status: 404},
		{name: "remove prompt no key", method: "DELETE", path: c + "/prompts/" + a.prompt, status: 401, docRefuses: true},

		{name: "deliveries", method: "GET", path: c + "/deliveries", key: a.key, status: 200,
			check: func(t *testing.T, rec *httptest.ResponseRecorder) {
				var p pageJSON[deliveryJSON]
				json.Unmarshal(rec.Body.Bytes(), &p)
				if len(p.Data) != 1 || p.Data[0].Occurrence != a.deliveryDate || p.Data[0].State != "sent" || p.NextCursor != nil {
					t.Errorf("want the one delivery, got %s", rec.Body)
				}
				if d := p.Data[0]; d.ErrorCode == nil || *d.ErrorCode != "30003" || d.ProviderStatus == nil || *d.ProviderStatus != "undelivered" {
					t.Errorf("want provider status undelivered with error code 30003, got %s", rec.Body)
				}
				if strings.Contains(rec.Body.String(), "SMContract") {
					t.Error("the provider's message id is shown")
				}
			}},
		{name: "deliveries bad cursor", method: "GET", path: c + "/deliveries?cursor=abc", key: a.key, status: 400, field: "cursor", docRefuses: true},
		{name: "deliveries unknown", method: "GET", path: "/api/v1/clients/nosuchclient0000/deliveries", key: a.key, status: 404},
		{name: "deliveries no key", method: "GET", path: c + "/deliveries", status: 401, docRefuses: true},

		{name: "replies", method: "GET", path: c + "/replies?limit=10", key: a.key, status: 200,
			check: func(t *testing.T, rec *httptest.ResponseRecorder) {
				var p pageJSON[replyJSON]
				json.Unmarshal(rec.Body.Bytes(), &p)
				if len(p.Data) != 1 || p.Data[0].Text == nil || *p.Data[0].Text != a.replyText || p.Data[0].Rating == nil || *p.Data[0].Rating != 4 {
					t.Errorf("want the one reply, got %s", rec.Body)
				}
			}},
		{name: "replies limit too big", method: "GET", path: c + "/replies?limit=101", key: a.key, status: 400, field: "limit", docRefuses: true},
		{name: "replies unknown", method: "GET", path: "/api/v1/clients/nosuchclient0000/replies", key: a.key, status: 404},
		{name: "replies no key", method: "GET", path: c + "/replies", status: 401, docRefuses: true},

		{name: "ratings", method: "GET", path: c + "/ratings?from=2026-11-01T00:00:00Z", key: a.key, status: 200,
			check: func(t *testing.T, rec *httptest.ResponseRecorder) {
				var l listJSON[ratingJSON]
				json.Unmarshal(rec.Body.Bytes(), &l)
				if len(l.Data) != 1 || l.Data[0].Score != 3 || l.Data[0].Program != "between-session" || l.Data[0].SentAt == nil || l.Data[0].Channel != "sms" ||
					!strings.HasPrefix(l.Data[0].Occurrence, a.prompt+"|") {
					t.Errorf("want the one rating of the prompt, got %s", rec.Body)
				}
				if strings.Contains(rec.Body.String(), `"ok"`) {
					t.Error("the note is in the score series")
				}
			}},
		{name: "ratings none in range", method: "GET", path: c + "/ratings?to=2020-01-01T00:00:00Z", key: a.key, status: 200, check: jsonField("data", `[]`)},
		{name: "ratings bad from", method: "GET", path: c + "/ratings?from=yesterday", key: a.key, status: 400, field: "from", docRefuses: true},
		{name: "ratings from after to", method: "GET", path: c + "/ratings?from=2026-12-01T00:00:00Z&to=2026-11-01T00:00:00Z", key: a.key, status: 400, field: "from"},
		{name: "ratings other clinic's", method: "GET", path: "/api/v1/clients/" + other.client + "/ratings", key: a.key, status: 404},
		{name: "ratings no key", method: "GET", path: c + "/ratings", status: 401, docRefuses: true},

		{name: "webhook none", method: "GET", path: "/api/v1/webhook", key: a.key, status: 200, check: jsonField("url", "null")},
		{name: "webhook no key", method: "GET", path: "/api/v1/webhook", status: 401, docRefuses: true},
		{name: "webhook set", method: "PUT", path: "/api/v1/webhook", key: a.key, body: `{"url":"https://hooks.clinic.example/nudge"}`, status: 200,
			check: func(t *testing.T, rec *httptest.ResponseRecorder) {
				var w struct{ URL, Secret *string }
				json.Unmarshal(rec.Body.Bytes(), &w)
				if w.URL == nil || *w.URL != "https://hooks.clinic.example/nudge" || w.Secret == nil || !strings.HasPrefix(*w.Secret, "whsec_") {
					t.Errorf("want the URL and a new secret, got %s", rec.Body)
				}
			}},
		{name: "webhook moved", method: "PUT", path: "/api/v1/webhook", key: a.key, body: `{"url":"https://hooks2.clinic.example/nudge"}`, status: 200,
			check: jsonField("secret", "null")},
		{name: "webhook shown", method: "GET", path: "/api/v1/webhook", key: a.key, status: 200, check: jsonField("url", `"https://hooks2.clinic.example/nudge"`)},
		{name: "webhook other clinic's unchanged", method: "GET", path: "/api/v1/webhook", key: other.key, status: 200, check: jsonField("url", "null")},
		{name: "webhook loopback", method: "PUT", path: "/api/v1/webhook", key: a.key, body: `{"url":"https://127.0.0.1:6379/"}`, status: 400, field: "url"},
		{name: "webhook metadata service", method: "PUT", path: "/api/v1/webhook", key: a.key, body: `{"url":"https://169.254.169.254/latest/meta-data/"}`, status: 400, field: "url"},
		{name: "webhook localhost", method: "PUT", path: "/api/v1/webhook", key: a.key, body: `{"url":"https://localhost/hook"}`, status: 400, field: "url"},
		{name: "webhook http", method: "PUT", path: "/api/v1/webhook", key: a.key, body: `{"url":"http://hooks.clinic.example/nudge"}`, status: 400, field: "url"},
		{name: "webhook credentials", method: "PUT", path: "/api/v1/webhook", key: a.key, body: `{"url":"https://ops:pw@hooks.clinic.example/"}`, status: 400, field: "url"},
		{name: "webhook empty", method: "PUT", path: "/api/v1/webhook", key: a.key, body: `{"url":""}`, status: 400, field: "url", docRefuses: true},
		{name: "webhook malformed", method: "PUT", path: "/api/v1/webhook", key: a.key, body: `{"url":`, status: 400, docRefuses: true},
		{name: "webhook too large", method: "PUT", path: "/api/v1/webhook", key: a.key, body: big, status: 413, docRefuses: true},
		{name: "webhook set no key", method: "PUT", path: "/api/v1/webhook", body: `{"url":"https://hooks.clinic.example/"}`, status: 401, docRefuses: true},
		{name: "webhook kept after refusals", method: "GET", path: "/api/v1/webhook", key: a.key, status: 200, check: jsonField("url", `"https://hooks2.clinic.example/nudge"`)},
		{name: "webhook off", method: "DELETE", path: "/api/v1/webhook", key: a.key, status: 204},
		{name: "webhook off no key", method: "DELETE", path: "/api/v1/webhook", status: 401, docRefuses: true},
		{name: "webhook gone", method: "GET", path: "/api/v1/webhook", key: a.key, status: 200, check: jsonField("url", "null")},

		{name: "remove", method: "DELETE", path: "/api/v1/clients/" + a.secondClient, key: a.key, status: 204},
		{name: "remove again", method: "DELETE", path: "/api/v1/clients/" + a.secondClient, key: a.key, status: 404},
		{name: "enrol a removed client again", method: "POST", path: "/api/v1/clients", key: a.key, body: enrolBody("second-" + a.email), status: 201},
		{name: "remove other clinic's", method: "DELETE", path: "/api/v1/clients/" + other.secondClient, key: a.key, status: 404},
		{name: "remove no key", method: "DELETE", path: c, status: 401, docRefuses: true},
	}

	auth := func(_ context.Context, in *openapi3filter.AuthenticationInput) error {
		h := in.RequestValidationInput.Request.Header.Get("Authorization")
		if !strings.HasPrefix(h, "Bearer ") {
			return errors.New("no bearer token")
		}
		return nil
	}
	type outcome struct{ ok, fail bool }
	covered := map[string]*outcome{}
	for _, rt := range routes {
		covered[rt.method+" "+rt.path] = &outcome{}
	}
	for _, tc := range cases {
		if tc.before != nil {
			tc.before(t)
		}
		// Request validation consumes its own copy of the request.
		vreq := newRequest(tc.method, tc.path, tc.key, tc.body, tc.header...)
		route, params, err := router.FindRoute(vreq)
		if err != nil {
			t.Errorf("%s: %s %s is not in the document: %v", tc.name, tc.method, tc.path, err)
			continue
		}
		in := &openapi3filter.RequestValidationInput{Request: vreq, PathParams: params, Route: route,
			Options: &openapi3filter.Options{AuthenticationFunc: auth, MultiError: true}}
		reqErr := openapi3filter.ValidateRequest(context.Background(), in)
		switch {
		case tc.docRefuses && reqErr == nil:
			t.Errorf("%s: the document accepts a request the API must refuse", tc.name)
		case !tc.docRefuses && reqErr != nil:
			t.Errorf("%s: the document refuses the request: %v", tc.name, reqErr)
		}

		rec := b.call(t, tc.method, tc.path, tc.key, tc.body, tc.header...)
		if rec.Code != tc.status {
			t.Errorf("%s: status %d, want %d: %s", tc.name, rec.Code, tc.status, rec.Body)
		}
		if rec.Code >= 400 {
			e := apiError(t, rec)
			if tc.field != "" && e.Field != tc.field {
				t.Errorf("%s: error field %q, want %q (%s)", tc.name, e.Field, tc.field, e.Message)
			}
			if rec.Code == 401 && !strings.HasPrefix(rec.Header().Get("WWW-Authenticate"), "Bearer") {
				t.Errorf("%s: 401 without WWW-Authenticate: Bearer", tc.name)
			}
		}
		in.Options = &openapi3filter.Options{IncludeResponseStatus: true, MultiError: true}
		if err := openapi3filter.ValidateResponse(context.Background(), &openapi3filter.ResponseValidationInput{
			RequestValidationInput: in, Status: rec.Code, Header: rec.Header(),
			Body: io.NopCloser(bytes.NewReader(rec.Body.Bytes())), Options: in.Options,
		}); err != nil {
			t.Errorf("%s: the response %d does not match the document: %v\n%s", tc.name, rec.Code, err, rec.Body)
		}
		if tc.check != nil {
			tc.check(t, rec)
		}
		o := covered[route.Method+" "+route.Path]
		o.ok = o.ok || rec.Code < 300
		o.fail = o.fail || rec.Code >= 400
	}
	for _, rt := range routes {
		o := covered[rt.method+" "+rt.path]
		if !o.ok || (!rt.public && !o.fail) {
			t.Errorf("%s %s: not exercised with both a success and an error (%+v)", rt.method, rt.path, *o)
		}
	}
}

// TestEventsAreDocumented: every event a clinic's webhook receives is in the
// document's webhooks, and an event as nudge builds it matches its schema
// (client.crisis_flag without any of the client's words).
func TestEventsAreDocumented(t *testing.T) {
	doc, _ := loadDoc(t)
	for _, typ := range []string{notify.ClientConfirmed, notify.ClientReplied, notify.ClientOptedOut, notify.DeliveryFailed, notify.ClientCrisisFlag} {
		item := doc.Webhooks[typ]
		if item == nil || item.Post == nil || item.Post.RequestBody == nil {
			t.Errorf("event %s is not documented", typ)
		}
	}
	schema := doc.Webhooks[notify.ClientCrisisFlag].Post.RequestBody.Value.Content.Get("application/json").Schema.Value
	flag := notify.CrisisFlag{ClientID: "zqmmlobmdybdufuk", At: "2026-12-01T08:00:00Z", Channel: "sms"}
	b, err := json.Marshal(map[string]any{"id": "evt_1", "type": notify.ClientCrisisFlag, "created_at": "2026-12-01T08:00:00Z", "clinic_id": "c1", "data": flag})
	if err != nil {
		t.Fatal(err)
	}
	var v any
	if err := json.Unmarshal(b, &v); err != nil {
		t.Fatal(err)
	}
	if err := schema.VisitJSON(v); err != nil {
		t.Errorf("a crisis flag does not match its schema: %v", err)
	}
	var withWords map[string]any
	_ = json.Unmarshal(b, &withWords)
	withWords["data"].(map[string]any)["text"] = "the client's words"
	if err := schema.VisitJSON(withWords); err == nil {
		t.Error("the crisis flag's schema allows the client's words")
	}
}
