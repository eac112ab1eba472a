// Package twiliotest runs a stand-in for the part of Twilio's REST API that
// nudge uses (creating a message; fetching the account, its phone numbers
// and a messaging service, for nudge doctor), in the test process, on an
// httptest.Server. The real twilio-go client talks to it; tests script its
// answers (errors, 429s, dropped connections, delays, a rate limit), read
// the messages it accepted, and count the connections and requests it saw.
// It also signs webhook requests the way Twilio does, for tests of the
// handlers that receive them.
package twiliotest

import (
	"crypto/rand"
	"crypto/x509"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"net"
	"net/http"
	"net/http/httptest"
	"net/url"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"
)

// Message is one message the server accepted.
type Message struct {
	SID                 string // "SM" and 32 hex digits
	AccountSID          string
	To                  string
	From                string
	MessagingServiceSID string
	Body                string
	StatusCallback      string
	Form                url.Values // the whole form as posted
	Received            time.Time  // by the server's clock
}

// Behaviour scripts the answer to one request for a message. The zero
// Behaviour accepts it.
type Behaviour struct {
	// Status is the HTTP status to answer with; 0 means 201 Created (the
	// message is accepted). From 400 up the body is Twilio's error JSON;
	// any other status comes with an empty body.
	Status int
	// Code and Message go in the error JSON (Message defaults to the
	// status's text).
	Code    int
	Message string
	// Delay is how long to wait before answering (or dropping).
	Delay time.Duration
	// Drop closes the connection instead of answering, after reading the
	// whole request. With Keep, the message is first accepted and recorded
	// (Twilio queued it; its answer was lost).
	Drop bool
	Keep bool
}

// Accept answers 201 and records the message.
func Accept() Behaviour { return Behaviour{} }

// Fail answers status with Twilio's error JSON carrying code.
func Fail(status, code int) Behaviour { return Behaviour{Status: status, Code: code} }

// Drop reads the request and closes the connection without an answer or a
// record: as if the request never got anywhere useful.
func Drop() Behaviour { return Behaviour{Drop: true} }

// DropAfterAccept records the message, then closes the connection without
// an answer: Twilio queued it and the answer was lost.
func DropAfterAccept() Behaviour { return Behaviour{Drop: true, Keep: true} }

// After returns b with a delay before it.
func (b Behaviour) After(d time.Duration) Behaviour {
	b.Delay = d
	return b
}

// Option configures Start.
type Option func(*Server)

// WithAccount sets the account SID and auth token the server demands
// (default: random ones, in the fields of Server).
func WithAccount(sid, token string) Option {
	return func(s *Server) { s.AccountSID, s.AuthToken = sid, token }
}

// WithRateLimit makes the server accept at most perSecond requests a
// second, with bursts of up to burst, like Twilio's account limit: a token
// bucket, checked before the scripted behaviours, answering the excess 429
// with code 20429. RateLimited counts those answers.
func WithRateLimit(perSecond float64, burst int) Option {
	return func(s *Server) {
		if burst < 1 {
			burst = 1
		}
		s.limit = &bucket{rate: perSecond, burst: float64(burst), tokens: float64(burst)}
	}
}

// WithClock sets the clock used for timestamps and the rate limit (default
// time.Now).
func WithClock(now func() time.Time) Option {
	return func(s *Server) { s.now = now }
}

// WithNumbers makes the account own these phone numbers (E.164), as its
// IncomingPhoneNumbers list shows them.
func WithNumbers(numbers ...string) Option {
	return func(s *Server) { s.numbers = append(s.numbers, numbers...) }
}

// WithMessagingServices makes these messaging services (MG…) exist.
func WithMessagingServices(sids ...string) Option {
	return func(s *Server) { s.services = append(s.services, sids...) }
}

// WithAccountStatus sets the account's status ("active" by default;
// Twilio also says "suspended" and "closed").
func WithAccountStatus(status string) Option {
	return func(s *Server) { s.accountStatus = status }
}

// WithTLS serves HTTPS with httptest's certificate (see CertPool).
func WithTLS() Option {
	return func(s *Server) { s.tls = true }
}

// Server is a running Twilio stand-in. Its exported fields are read-only.
type Server struct {
	// URL is the server's base URL, for sms.Config.APIURL.
	URL string
	// AccountSID and AuthToken are the credentials it accepts.
	AccountSID, AuthToken string

	srv   *httptest.Server
	now   func() time.Time
	tls   bool
	limit *bucket // nil: no rate limit

	numbers       []string
	services      []string
	accountStatus string

	done      chan struct{} // closed when the server stops: ends delays
	closeOnce sync.Once

	mu          sync.Mutex
	script      []Behaviour
	messages    []Message
	conns       int
	requests    int
	rateLimited int
}

// Start starts a server that is shut down when the test ends.
func Start(tb testing.TB, opts ...Option) *Server {
	tb.Helper()
	s := &Server{
		AccountSID:    "AC" + randomHex(16),
		AuthToken:     randomHex(16),
		now:           time.Now,
		done:          make(chan struct{}),
		accountStatus: "active",
	}
	for _, o := range opts {
		o(s)
	}
	mux := http.NewServeMux()
	mux.HandleFunc("POST /2010-04-01/Accounts/{account}/Messages.json", s.createMessage)
	mux.HandleFunc("GET /2010-04-01/Accounts/{file}", s.fetchAccount)
	mux.HandleFunc("GET /2010-04-01/Accounts/{account}/IncomingPhoneNumbers.json", s.listNumbers)
	mux.HandleFunc("GET /v1/Services/{sid}", s.fetchService)
	mux.HandleFunc("/", func(w http.ResponseWriter, r *http.Request) {
		s.count()
		writeError(w, http.StatusNotFound, 20404, "The requested resource "+r.URL.Path+" was not found")
	})
	s.srv = httptest.NewUnstartedServer(mux)
	s.srv.Config.ConnState = func(_ net.Conn, st http.ConnState) {
		if st == http.StateNew {
			s.mu.Lock()
			s.conns++
			s.mu.Unlock()
		}
	}
	if s.tls {
		s.srv.StartTLS()
	} else {
		s.srv.Start()
	}
	s.URL = s.srv.URL
	tb.Cleanup(s.Close)
	return s
}

// Close stops the server; later connections are refused. It is called when
// the test ends, and may be called earlier.
func (s *Server) Close() {
	s.closeOnce.Do(func() {
		close(s.done)
		s.srv.Close()
	})
}

// CertPool returns a pool trusting the server's certificate (WithTLS).
func (s *Server) CertPool() *x509.CertPool {
	pool := x509.NewCertPool()
	if c := s.srv.Certificate(); c != nil {
		pool.AddCert(c)
	}
	return pool
}

// Script queues behaviours: each request for a message that passes
// authentication and the rate limit takes the next one; when the queue is
// empty, requests are accepted.
func (s *Server) Script(bs ...Behaviour) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.script = append(s.script, bs...)
}

// Messages returns the messages accepted so far, in order.
func (s *Server) Messages() []Message {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]Message(nil), s.messages...)
}

// Accepted returns how many messages were accepted so far.
func (s *Server) Accepted() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return len(s.messages)
}

// Conns returns how many TCP connections clients opened to the server.
func (s *Server) Conns() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.conns
}

// Requests returns how many HTTP requests the server received.
func (s *Server) Requests() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.requests
}

// RateLimited returns how many requests the rate limit answered 429.
func (s *Server) RateLimited() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.rateLimited
}

func (s *Server) count() {
	s.mu.Lock()
	s.requests++
	s.mu.Unlock()
}

// e164 is a plausible E.164 number; Twilio answers 21211 to anything else.
var e164 = regexp.MustCompile(`^\+[1-9][0-9]{6,14}$`)

func (s *Server) createMessage(w http.ResponseWriter, r *http.Request) {
	s.count()
	account := r.PathValue("account")
	user, pass, ok := r.BasicAuth()
	if !ok || user != s.AccountSID || pass != s.AuthToken {
		writeError(w, http.StatusUnauthorized, 20003, "Authenticate")
		return
	}
	if account != s.AccountSID {
		writeError(w, http.StatusNotFound, 20404, "The requested resource "+r.URL.Path+" was not found")
		return
	}
	if ct := r.Header.Get("Content-Type"); !strings.HasPrefix(ct, "application/x-www-form-urlencoded") {
		writeError(w, http.StatusBadRequest, 20001, "Content-Type must be application/x-www-form-urlencoded")
		return
	}
	if err := r.ParseForm(); err != nil {
		writeError(w, http.StatusBadRequest, 20001, "The form could not be read")
		return
	}

	s.mu.Lock()
	if s.limit != nil && !s.limit.take(s.now()) {
		s.rateLimited++
		s.mu.Unlock()
		writeError(w, http.StatusTooManyRequests, 20429, "Too Many Requests")
		return
	}
	var b Behaviour
	if len(s.script) > 0 {
		b = s.script[0]
		s.script = s.script[1:]
	}
	s.mu.Unlock()

	if b.Delay > 0 {
		t := time.NewTimer(b.Delay)
		select {
		case <-t.C:
		case <-r.Context().Done():
			t.Stop()
			return
		case <-s.done:
			t.Stop()
			return
		}
	}

	if b.Status >= 400 {
		msg := b.Message
		if msg == "" {
			msg = http.StatusText(b.Status)
		}
		writeError(w, b.Status, b.Code, msg)
		return
	}
	if b.Status != 0 && b.Status != http.StatusCreated {
		w.WriteHeader(b.Status)
		return
	}

	f := r.PostForm
	m := Message{
		AccountSID:          account,
		To:                  f.Get("To"),
		From:                f.Get("From"),
		MessagingServiceSID: f.Get("MessagingServiceSid"),
		Body:                f.Get("Body"),
		StatusCallback:      f.Get("StatusCallback"),
		Form:                f,
	}
	if !b.Drop || b.Keep {
		switch {
		case m.To == "":
			writeError(w, http.StatusBadRequest, 21604, "A 'To' phone number is required.")
			return
		case !e164.MatchString(m.To):
			// Like Twilio's, this message quotes the number.
			writeError(w, http.StatusBadRequest, 21211, fmt.Sprintf("Invalid 'To' Phone Number: %s", m.To))
			return
		case m.Body == "":
			writeError(w, http.StatusBadRequest, 21602, "Message body is required.")
			return
		case m.From == "" && m.MessagingServiceSID == "":
			writeError(w, http.StatusBadRequest, 21603, "A 'From' phone number is required.")
			return
		}
		m.SID = "SM" + randomHex(16)
		m.Received = s.now()
		s.mu.Lock()
		s.messages = append(s.messages, m)
		s.mu.Unlock()
	}
	if b.Drop {
		drop(w)
		return
	}
	writeMessage(w, m)
}

// authorized answers 401 unless the request carries the account's
// credentials, and 404 unless it names the account.
func (s *Server) authorized(w http.ResponseWriter, r *http.Request, account string) bool {
	user, pass, ok := r.BasicAuth()
	if !ok || user != s.AccountSID || pass != s.AuthToken {
		writeError(w, http.StatusUnauthorized, 20003, "Authenticate")
		return false
	}
	if account != s.AccountSID {
		writeError(w, http.StatusNotFound, 20404, "The requested resource "+r.URL.Path+" was not found")
		return false
	}
	return true
}

// fetchAccount answers GET /2010-04-01/Accounts/{sid}.json.
func (s *Server) fetchAccount(w http.ResponseWriter, r *http.Request) {
	s.count()
	account, ok := strings.CutSuffix(r.PathValue("file"), ".json")
	if !ok {
		writeError(w, http.StatusNotFound, 20404, "The requested resource "+r.URL.Path+" was not found")
		return
	}
	if !s.authorized(w, r, account) {
		return
	}
	writeJSON(w, http.StatusOK, map[string]any{
		"sid": s.AccountSID, "owner_account_sid": s.AccountSID, "friendly_name": "twiliotest",
		"status": s.accountStatus, "type": "Full", "uri": "/2010-04-01/Accounts/" + s.AccountSID + ".json",
	})
}

// listNumbers answers the account's IncomingPhoneNumbers list, filtered by
// ?PhoneNumber= as Twilio does, on one page.
func (s *Server) listNumbers(w http.ResponseWriter, r *http.Request) {
	s.count()
	if !s.authorized(w, r, r.PathValue("account")) {
		return
	}
	want := r.URL.Query().Get("PhoneNumber")
	list := []map[string]any{}
	for i, n := range s.numbers {
		if want == "" || want == n {
			list = append(list, map[string]any{
				"sid": fmt.Sprintf("PN%032x", i+1), "account_sid": s.AccountSID, "phone_number": n,
				"capabilities": map[string]bool{"sms": true, "voice": true, "mms": false, "fax": false},
			})
		}
	}
	writeJSON(w, http.StatusOK, map[string]any{
		"incoming_phone_numbers": list, "page": 0, "page_size": 50, "start": 0, "end": len(list),
		"next_page_uri": nil, "previous_page_uri": nil,
		"uri": "/2010-04-01/Accounts/" + s.AccountSID + "/IncomingPhoneNumbers.json",
	})
}

// fetchService answers GET /v1/Services/{sid} (Messaging API).
func (s *Server) fetchService(w http.ResponseWriter, r *http.Request) {
	s.count()
	user, pass, ok := r.BasicAuth()
	if !ok || user != s.AccountSID || pass != s.AuthToken {
		writeError(w, http.StatusUnauthorized, 20003, "Authenticate")
		return
	}
	sid := r.PathValue("sid")
	for _, known := range s.services {
		if known == sid {
			writeJSON(w, http.StatusOK, map[string]any{"sid": sid, "account_sid": s.AccountSID, "friendly_name": "twiliotest service"})
			return
		}
	}
	writeError(w, http.StatusNotFound, 20404, "The requested resource "+r.URL.Path+" was not found")
}

// drop closes the request's connection without an answer.
func drop(w http.ResponseWriter) {
	hj, ok := w.(http.Hijacker)
	if !ok {
		panic("twiliotest: the connection cannot be hijacked")
	}
	conn, _, err := hj.Hijack()
	if err != nil {
		return
	}
	conn.Close()
}

// messageResource is Twilio's message resource, as the API returns it. A
// struct, not a map: the stand-in answers thousands a second in benchmarks.
type messageResource struct {
	AccountSID          string            `json:"account_sid"`
	APIVersion          string            `json:"api_version"`
	Body                string            `json:"body"`
	DateCreated         string            `json:"date_created"`
	DateSent            *string           `json:"date_sent"`
	DateUpdated         string            `json:"date_updated"`
	Direction           string            `json:"direction"`
	ErrorCode           *int              `json:"error_code"`
	ErrorMessage        *string           `json:"error_message"`
	From                *string           `json:"from"`
	MessagingServiceSID *string           `json:"messaging_service_sid"`
	NumMedia            string            `json:"num_media"`
	NumSegments         string            `json:"num_segments"`
	Price               *string           `json:"price"`
	PriceUnit           string            `json:"price_unit"`
	SID                 string            `json:"sid"`
	Status              string            `json:"status"`
	SubresourceURIs     map[string]string `json:"subresource_uris"`
	To                  string            `json:"to"`
	URI                 string            `json:"uri"`
}

// writeMessage answers 201 with a message resource shaped like Twilio's.
func writeMessage(w http.ResponseWriter, m Message) {
	date := m.Received.UTC().Format(time.RFC1123Z)
	uri := "/2010-04-01/Accounts/" + m.AccountSID + "/Messages/" + m.SID
	res := messageResource{
		AccountSID:      m.AccountSID,
		APIVersion:      "2010-04-01",
		Body:            m.Body,
		DateCreated:     date,
		DateUpdated:     date,
		Direction:       "outbound-api",
		NumMedia:        "0",
		NumSegments:     "1",
		PriceUnit:       "USD",
		SID:             m.SID,
		Status:          "queued",
		SubresourceURIs: map[string]string{"media": uri + "/Media.json"},
		To:              m.To,
		URI:             uri + ".json",
	}
	if m.MessagingServiceSID != "" {
		// Twilio picks a sender later.
		res.Status, res.NumSegments, res.MessagingServiceSID = "accepted", "0", &m.MessagingServiceSID
	} else {
		res.From = &m.From
	}
	writeJSON(w, http.StatusCreated, res)
}

// writeError answers with Twilio's error JSON.
func writeError(w http.ResponseWriter, status, code int, message string) {
	body := map[string]any{
		"code":    code,
		"message": message,
		"status":  status,
	}
	if code != 0 {
		body["more_info"] = fmt.Sprintf("https://www.twilio.com/docs/errors/%d", code)
	}
	writeJSON(w, status, body)
}

func writeJSON(w http.ResponseWriter, status int, v any) {
	b, err := json.Marshal(v)
	if err != nil {
		panic(err)
	}
	w.Header().Set("Content-Type", "application/json; charset=utf-8")
	w.WriteHeader(status)
	_, _ = w.Write(b)
}

// bucket is a token bucket: rate tokens a second, at most burst.
type bucket struct {
	rate, burst, tokens float64
	last                time.Time
}

// take takes a token if there is one at now.
func (b *bucket) take(now time.Time) bool {
	if !b.last.IsZero() && now.After(b.last) {
		b.tokens = min(b.burst, b.tokens+now.Sub(b.last).Seconds()*b.rate)
	}
	if b.last.IsZero() || now.After(b.last) {
		b.last = now
	}
	if b.tokens < 1 {
		return false
	}
	b.tokens--
	return true
}

func randomHex(n int) string {
	b := make([]byte, n)
	_, _ = rand.Read(b) // never fails (crypto/rand)
	return hex.EncodeToString(b)
}
