// Package api is the clinic JSON API under /api/v1: a clinic, known by its
// API key, enrols clients, sets their sessions, plans between-session
// prompts and reads back deliveries and replies. It is a thin door onto
// clinic.Service, which holds the rules; this package reads requests,
// checks keys, makes POSTs idempotent and writes JSON.
//
// The routes are listed once, in routes below: the mux is built from that
// table and the tests compare it with the OpenAPI 3.1 document
// (openapi.json, served at /api/v1/openapi.json), so the two cannot drift.
//
// # Conventions
//
//   - Every route but the document needs "Authorization: Bearer nk_…". A
//     missing, unknown or revoked key is 401 with WWW-Authenticate: Bearer.
//   - A client or prompt of another clinic is 404, exactly like one that does
//     not exist.
//   - Errors are {"error": {"code", "message", "field"}}: invalid (400),
//     unauthorized (401), not_found (404), conflict (409, or 422 for an
//     Idempotency-Key reused with another request), rate_limited (429, with
//     Retry-After), internal (500, with a generic message; the cause is
//     logged). A body over 64 KiB is 413 and a
//     method a path does not take is 405, both with the code invalid.
//   - Each clinic has a request budget (Config.Rate a second, bursts of a
//     second's worth), kept in Redis so every process shares it; a request
//     over it is 429 with Retry-After. Requests without a working key are
//     not counted against any clinic.
//   - Request bodies are JSON objects; unknown fields are refused.
//   - Times are RFC 3339; absent values are null; names are snake_case.
//
// # Idempotency
//
// A POST may carry an Idempotency-Key (1–255 printable ASCII characters).
// The first request with a key claims it (SET NX, for a minute while it
// runs); its final response, unless a 5xx, is kept for 24 hours and replayed,
// with Idempotent-Replayed: true, to a repeat with the same key, clinic,
// method, path and body. The same key with another request is 422 (code
// conflict); a repeat while the first still runs is 409 (code conflict). A
// 5xx is not kept, so the client may retry with the same key. Records are
// named by the clinic and the SHA-256 of the key, and the kept response is
// sealed (AES-GCM) with a key derived from the service secret and the
// Idempotency-Key, so a Redis dump shows no client details from it. A
// clinic keeps at most Config.MaxIdempotencyRecords records (10,000 by
// default), indexed by when they were claimed; a new key past the cap
// drops the oldest (see DefaultMaxIdempotencyRecords for why).
package api

import (
	"bytes"
	"context"
	_ "embed"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"math"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/nudgehq/nudge/internal/clinic"
	"github.com/nudgehq/nudge/internal/domain"
	"github.com/nudgehq/nudge/internal/httproute"
	"github.com/nudgehq/nudge/internal/ratelimit"
	"github.com/nudgehq/nudge/internal/store"
)

//go:embed openapi.json
var openAPIDoc []byte

// OpenAPI returns the API's OpenAPI 3.1 document.
func OpenAPI() []byte { return openAPIDoc }

// Prefix is where the API lives.
const Prefix = "/api/v1/"

// MaxBody is the largest request body taken.
const MaxBody = 64 << 10

// Config is what the API needs.
type Config struct {
	Service *clinic.Service
	// Store's Redis and prefix keep the idempotency records.
	Store *store.Store
	// Secret seals kept responses (with the Idempotency-Key); at least 16 bytes.
	Secret []byte
	// Rate is each clinic's request budget, in requests a second, shared
	// by every process through Redis (bursts of up to a second's worth);
	// 0 means no limit.
	Rate float64
	// RateClock is the budget's clock; nil means Redis's own, one clock
	// for every process (tests pass one they can step).
	RateClock func() time.Time
	// MaxIdempotencyRecords caps the idempotency records kept per clinic
	// (0: DefaultMaxIdempotencyRecords); past it the oldest are dropped.
	MaxIdempotencyRecords int
	Now                   func() time.Time
	Logger                *slog.Logger
}

// Server serves the clinic API.
type Server struct{ c Config }

// New returns a Server.
func New(c Config) (*Server, error) {
	switch {
	case c.Service == nil || c.Store == nil:
		return nil, errors.New("api: a clinic service and a store are needed")
	case len(c.Secret) < 16:
		return nil, errors.New("api: a secret of at least 16 bytes is needed")
	case c.Now == nil || c.Logger == nil:
		return nil, errors.New("api: a clock and a logger are needed")
	case c.Rate < 0 || math.IsNaN(c.Rate) || math.IsInf(c.Rate, 0):
		return nil, fmt.Errorf("api: request rate %v is not a number of requests a second", c.Rate)
	case c.MaxIdempotencyRecords < 0:
		return nil, fmt.Errorf("api: idempotency record cap %d is negative", c.MaxIdempotencyRecords)
	}
	if c.MaxIdempotencyRecords == 0 {
		c.MaxIdempotencyRecords = DefaultMaxIdempotencyRecords
	}
	return &Server{c: c}, nil
}

// route is one operation of the API. The path is written as in the OpenAPI
// document, which is also a net/http ServeMux pattern.
type route struct {
	method, path string
	public       bool // no API key needed
	handle       func(*Server, *request) response
}

// routes is the one list of the API's operations.
var routes = []route{
	{method: "GET", path: "/api/v1/openapi.json", public: true, handle: (*Server).openAPI},
	{method: "POST", path: "/api/v1/clients", handle: (*Server).enrol},
	{method: "GET", path: "/api/v1/clients", handle: (*Server).listClients},
	{method: "GET", path: "/api/v1/clients/{id}", handle: (*Server).getClient},
	{method: "DELETE", path: "/api/v1/clients/{id}", handle: (*Server).removeClient},
	{method: "POST", path: "/api/v1/clients/{id}/pause", handle: (*Server).pause},
	{method: "POST", path: "/api/v1/clients/{id}/resume", handle: (*Server).resume},
	{method: "PUT", path: "/api/v1/clients/{id}/session", handle: (*Server).setSession},
	{method: "POST", path: "/api/v1/clients/{id}/prompts", handle: (*Server).addPrompt},
	{method: "GET", path: "/api/v1/clients/{id}/prompts", handle: (*Server).listPrompts},
	{method: "DELETE", path: "/api/v1/clients/{id}/prompts/{prompt_id}", handle: (*Server).removePrompt},
	{method: "GET", path: "/api/v1/clients/{id}/deliveries", handle: (*Server).listDeliveries},
	{method: "GET", path: "/api/v1/clients/{id}/replies", handle: (*Server).listReplies},
	{method: "GET", path: "/api/v1/clients/{id}/ratings", handle: (*Server).listRatings},
	{method: "GET", path: "/api/v1/webhook", handle: (*Server).getWebhook},
	{method: "PUT", path: "/api/v1/webhook", handle: (*Server).setWebhook},
	{method: "DELETE", path: "/api/v1/webhook", handle: (*Server).removeWebhook},
}

// Handler returns the API's routes. Paths under /api/v1/ that name no
// route answer a JSON 404, and a method a path does not take a JSON 405.
func (s *Server) Handler() http.Handler {
	mux := http.NewServeMux()
	allowed := map[string][]string{}
	var paths []string
	for _, rt := range routes {
		mux.Handle(rt.method+" "+rt.path, s.serve(rt))
		if allowed[rt.path] == nil {
			paths = append(paths, rt.path)
		}
		allowed[rt.path] = append(allowed[rt.path], rt.method)
	}
	for _, p := range paths {
		allow := strings.Join(allowed[p], ", ")
		mux.HandleFunc(p, func(w http.ResponseWriter, r *http.Request) {
			w.Header().Set("Allow", allow)
			s.write(w, errorResponse(http.StatusMethodNotAllowed, domain.ErrInvalid, "",
				fmt.Sprintf("%s is not taken here: this path takes %s", r.Method, allow)))
		})
	}
	mux.HandleFunc(Prefix, func(w http.ResponseWriter, r *http.Request) {
		s.write(w, errorResponse(http.StatusNotFound, domain.ErrNotFound, "", "no such route: see /api/v1/openapi.json"))
	})
	return httproute.Record(mux)
}

// request is what a handler gets: the HTTP request, the clinic it acts for
// (zero on a public route) and the body, already read.
type request struct {
	*http.Request
	clinic domain.Clinic
	// who is the key's principal: the same kind the console resolves a
	// staff session to, checked by the same clinic.Service.Reach.
	who  clinic.Principal
	body []byte
}

// response is what a handler returns: a status, and a value to encode as
// JSON (nil for none).
type response struct {
	status int
	body   any
	header http.Header
}

// errorBody is every error's shape.
type errorBody struct {
	Error errorDetail `json:"error"`
}

type errorDetail struct {
	Code    string `json:"code"`
	Message string `json:"message"`
	Field   string `json:"field,omitempty"`
}

func errorResponse(status int, code, field, message string) response {
	return response{status: status, body: errorBody{errorDetail{Code: code, Message: message, Field: field}}}
}

func invalid(field, format string, args ...any) response {
	return errorResponse(http.StatusBadRequest, domain.ErrInvalid, field, fmt.Sprintf(format, args...))
}

// fail turns an error from the service into a response: its code decides
// the status, and an internal error is logged and shown as a generic one.
func (s *Server) fail(r *request, err error) response {
	var fe *clinic.FieldError
	if errors.As(err, &fe) {
		return invalid(fe.Field, "%s", fe.Message)
	}
	var de *domain.Error
	code := domain.ErrorCode(err)
	if errors.As(err, &de) {
		switch code {
		case domain.ErrInvalid, domain.ErrExpired:
			return errorResponse(http.StatusBadRequest, code, "", de.Message)
		case domain.ErrNotFound:
			// One message for every miss: another clinic's id must read
			// exactly like an id that does not exist.
			return errorResponse(http.StatusNotFound, code, "", "not found")
		case domain.ErrConflict:
			return errorResponse(http.StatusConflict, code, "", de.Message)
		case domain.ErrUnauthorized:
			return s.unauthorized(true)
		case domain.ErrForbidden:
			return errorResponse(http.StatusForbidden, code, "", de.Message)
		}
	}
	s.c.Logger.Error("clinic api request failed", "method", r.Method, "route", r.Pattern,
		"clinic_id", r.clinic.ID, "err", err)
	return errorResponse(http.StatusInternalServerError, domain.ErrInternal, "", "something went wrong on our side; try again later")
}

// unauthorized is the answer to a request without a working key.
func (s *Server) unauthorized(keyGiven bool) response {
	resp := errorResponse(http.StatusUnauthorized, domain.ErrUnauthorized, "", clinic.ErrUnauthorized.Message)
	challenge := `Bearer realm="nudge"`
	if keyGiven {
		challenge += `, error="invalid_token"`
	}
	resp.header = http.Header{"Www-Authenticate": {challenge}}
	return resp
}

// serve runs one route: it checks the key, reads the body, applies the
// Idempotency-Key of a POST, runs the handler and writes the response.
func (s *Server) serve(rt route) http.Handler {
	if strings.Contains(rt.path, "{id}") {
		rt.handle = reaching(rt.handle)
	}
	return http.HandlerFunc(func(w http.ResponseWriter, hr *http.Request) {
		req := &request{Request: hr}
		if !rt.public {
			c, who, resp, ok := s.authenticate(req)
			if !ok {
				s.write(w, resp)
				return
			}
			req.clinic, req.who = c, who
			if resp, ok := s.withinBudget(req); !ok {
				s.write(w, resp)
				return
			}
		}
		if hr.Method == http.MethodPost || hr.Method == http.MethodPut {
			body, err := io.ReadAll(http.MaxBytesReader(w, hr.Body, MaxBody))
			var tooBig *http.MaxBytesError
			switch {
			case errors.As(err, &tooBig):
				s.write(w, errorResponse(http.StatusRequestEntityTooLarge, domain.ErrInvalid, "",
					fmt.Sprintf("the body is larger than %d KiB", MaxBody>>10)))
				return
			case err != nil:
				s.write(w, invalid("", "the body could not be read"))
				return
			}
			req.body = body
		}
		if hr.Method == http.MethodPost {
			if key, ok := hr.Header["Idempotency-Key"]; ok {
				s.write(w, s.idempotent(req, key, rt.handle))
				return
			}
		}
		s.write(w, rt.handle(s, req))
	})
}

// authenticate finds the clinic of the request's bearer key and the key's
// principal.
func (s *Server) authenticate(r *request) (domain.Clinic, clinic.Principal, response, bool) {
	h := r.Header.Get("Authorization")
	scheme, key, _ := strings.Cut(strings.TrimSpace(h), " ")
	key = strings.TrimSpace(key)
	if h == "" || !strings.EqualFold(scheme, "Bearer") || key == "" {
		return domain.Clinic{}, clinic.Principal{}, s.unauthorized(h != ""), false
	}
	c, keyID, err := s.c.Service.Authenticate(r.Context(), key)
	if domain.ErrorCode(err) == domain.ErrUnauthorized {
		return domain.Clinic{}, clinic.Principal{}, s.unauthorized(true), false
	}
	if err != nil {
		return domain.Clinic{}, clinic.Principal{}, s.fail(r, err), false
	}
	return c, clinic.Principal{Clinic: c.ID, Key: keyID}, response{}, true
}

// reaching runs handle only when the request's principal may reach the
// client its path names ({id}), through the rule the console uses too;
// anything else is the one not-found answer.
func reaching(handle func(*Server, *request) response) func(*Server, *request) response {
	return func(s *Server, r *request) response {
		if _, err := s.c.Service.Reach(r.ctx(), r.who, r.PathValue("id")); err != nil {
			return s.fail(r, err)
		}
		return handle(s, r)
	}
}

// withinBudget takes one request from the clinic's budget, or answers 429
// with Retry-After (whole seconds, at least 1).
func (s *Server) withinBudget(r *request) (response, bool) {
	if s.c.Rate <= 0 {
		return response{}, true
	}
	lim := ratelimit.New(s.c.Store.Redis(), s.c.Store.Prefix()+"rate:api:"+r.clinic.ID, s.c.Rate, int(math.Ceil(s.c.Rate)), s.c.RateClock)
	wait, err := lim.Reserve(r.ctx())
	if err != nil {
		return s.fail(r, fmt.Errorf("clinic request budget: %w", err)), false
	}
	if wait == 0 {
		return response{}, true
	}
	secs := max(1, int(math.Ceil(wait.Seconds())))
	resp := errorResponse(http.StatusTooManyRequests, domain.ErrRateLimited, "",
		fmt.Sprintf("more than %s requests a second from this clinic: retry after %d s", strconv.FormatFloat(s.c.Rate, 'f', -1, 64), secs))
	resp.header = http.Header{"Retry-After": {strconv.Itoa(secs)}}
	return resp, false
}

// encode returns a response's JSON text (none for no body).
func encode(resp response) []byte {
	if resp.body == nil {
		return nil
	}
	if raw, ok := resp.body.(json.RawMessage); ok {
		return raw
	}
	b, err := json.Marshal(resp.body)
	if err != nil {
		// Only our own view types are encoded: this is a programming error.
		panic(fmt.Sprintf("api: encode response: %v", err))
	}
	return append(b, '\n')
}

func (s *Server) write(w http.ResponseWriter, resp response) {
	s.writeRaw(w, resp.status, resp.header, encode(resp))
}

func (s *Server) writeRaw(w http.ResponseWriter, status int, header http.Header, body []byte) {
	h := w.Header()
	for k, v := range header {
		h[k] = v
	}
	h.Set("Cache-Control", "no-store")
	h.Set("X-Content-Type-Options", "nosniff")
	if body != nil {
		h.Set("Content-Type", "application/json")
		h.Set("Content-Length", strconv.Itoa(len(body)))
	}
	w.WriteHeader(status)
	if body != nil {
		w.Write(body)
	}
}

// decode reads a JSON object body into v: unknown fields, trailing data and
// a value of the wrong type are refused with a message that names the field.
func decode(r *request, v any) (response, bool) {
	if len(bytes.TrimSpace(r.body)) == 0 {
		return invalid("", "a JSON object is needed as the body"), false
	}
	dec := json.NewDecoder(bytes.NewReader(r.body))
	dec.DisallowUnknownFields()
	err := dec.Decode(v)
	if err == nil {
		if _, extra := dec.Token(); extra != io.EOF {
			return invalid("", "the body must be one JSON object, with nothing after it"), false
		}
		return response{}, true
	}
	var typeErr *json.UnmarshalTypeError
	var syntaxErr *json.SyntaxError
	switch {
	case errors.As(err, &typeErr) && typeErr.Field != "":
		return invalid(typeErr.Field, "want %s, not a JSON %s", jsonKind(typeErr.Type.Kind().String()), typeErr.Value), false
	case errors.As(err, &typeErr):
		return invalid("", "the body must be a JSON object, not a JSON %s", typeErr.Value), false
	case errors.As(err, &syntaxErr), errors.Is(err, io.ErrUnexpectedEOF):
		return invalid("", "the body is not well-formed JSON: %v", err), false
	}
	if name, ok := strings.CutPrefix(err.Error(), "json: unknown field "); ok {
		name = strings.Trim(name, `"`)
		return invalid(name, "unknown field %q: see /api/v1/openapi.json for the fields this request takes", name), false
	}
	return invalid("", "the body could not be read as JSON: %v", err), false
}

func jsonKind(goKind string) string {
	switch {
	case strings.HasPrefix(goKind, "int"), strings.HasPrefix(goKind, "uint"):
		return "an integer"
	case goKind == "string":
		return "a string"
	case goKind == "slice":
		return "an array"
	case goKind == "struct", goKind == "map":
		return "an object"
	case goKind == "bool":
		return "true or false"
	}
	return "another type"
}

// parseTime reads an RFC 3339 instant from field; "" is the zero time.
func parseTime(field, v string) (time.Time, *response) {
	if v == "" {
		return time.Time{}, nil
	}
	t, err := time.Parse(time.RFC3339, v)
	if err != nil {
		resp := invalid(field, "not an RFC 3339 time (want e.g. 2026-12-03T18:00:00Z)")
		return time.Time{}, &resp
	}
	return t, nil
}

// pageParams reads ?cursor= and ?limit=. numeric cursors are offsets.
func pageParams(r *request, numericCursor bool) (cursor string, limit int, resp *response) {
	q := r.URL.Query()
	cursor = q.Get("cursor")
	if len(cursor) > 64 || (numericCursor && cursor != "" && !allDigits(cursor)) {
		e := invalid("cursor", "not a cursor this list gave")
		return "", 0, &e
	}
	if v := q.Get("limit"); v != "" {
		n, err := strconv.Atoi(v)
		if err != nil || n < 1 || n > clinic.MaxPage {
			e := invalid("limit", "want a whole number from 1 to %d", clinic.MaxPage)
			return "", 0, &e
		}
		limit = n
	}
	return cursor, limit, nil
}

func allDigits(s string) bool {
	for _, c := range s {
		if c < '0' || c > '9' {
			return false
		}
	}
	return s != ""
}

// ctx is the request's context.
func (r *request) ctx() context.Context { return r.Context() }
