package sms

import (
	"context"
	"errors"
	"io"
	"net"
	"net/http"
	"net/http/httptrace"
	"strings"
	"testing"
)

// roundTripFunc adapts a function to http.RoundTripper.
type roundTripFunc func(*http.Request) (*http.Response, error)

func (f roundTripFunc) RoundTrip(r *http.Request) (*http.Response, error) { return f(r) }

// WroteRequest fires before net/http flushes its buffer: a Write that then
// fails on the connection means the request did not leave whole.
func TestWrittenNeedsTheFlush(t *testing.T) {
	t.Parallel()
	ours, peer := net.Pipe()
	tc := &trackedConn{Conn: ours}
	peer.Close()
	if _, err := tc.Write([]byte("POST / HTTP/1.1\r\n")); err == nil {
		t.Fatal("a write to a closed pipe succeeded")
	}
	tc.Close()

	tests := []struct {
		name  string
		conn  net.Conn
		wrote bool
		want  bool
	}{
		{"not written", &trackedConn{}, false, false},
		{"written and flushed", &trackedConn{}, true, true},
		{"written, flush failed", tc, true, false},
		// A connection not dialled here (a proxy tunnel): trust
		// WroteRequest, which errs towards Unknown.
		{"foreign connection", ours, true, true},
	}
	for _, tt := range tests {
		a := &attempt{}
		tr := a.trace()
		tr.GotConn(httptrace.GotConnInfo{Conn: tt.conn})
		if tt.wrote {
			tr.WroteRequest(httptrace.WroteRequestInfo{})
		}
		if _, got := a.outcome(); got != tt.want {
			t.Errorf("%s: written = %v, want %v", tt.name, got, tt.want)
		}
	}

	// A request moved to a new connection starts over.
	a := &attempt{}
	tr := a.trace()
	tr.GotConn(httptrace.GotConnInfo{Conn: &trackedConn{}})
	tr.WroteRequest(httptrace.WroteRequestInfo{Err: io.ErrClosedPipe})
	tr.GotConn(httptrace.GotConnInfo{Conn: &trackedConn{}})
	if _, w := a.outcome(); w {
		t.Error("written before anything was written on the new connection")
	}
	tr.WroteRequest(httptrace.WroteRequestInfo{})
	if _, w := a.outcome(); !w {
		t.Error("not written after WroteRequest on the new connection")
	}
}

// twilio-go resends a request in one case (an error answer not in the
// format it asked for); a Send never lets a second request through.
func TestOneRequestPerSend(t *testing.T) {
	t.Parallel()
	calls := 0
	a := &attempt{
		ctx: context.Background(),
		base: roundTripFunc(func(*http.Request) (*http.Response, error) {
			calls++
			return &http.Response{StatusCode: 400, Body: io.NopCloser(strings.NewReader(`{}`))}, nil
		}),
	}
	req := func() *http.Request {
		r, _ := http.NewRequest(http.MethodPost, "https://api.twilio.com/x", strings.NewReader("To=1"))
		return r
	}
	resp, err := a.RoundTrip(req())
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if _, err := a.RoundTrip(req()); !errors.Is(err, errSecondRequest) {
		t.Errorf("second RoundTrip: %v, want errSecondRequest", err)
	}
	if calls != 1 {
		t.Errorf("%d requests reached the transport, want 1", calls)
	}
}

// abandon cancels a request only while it is not written.
func TestAbandon(t *testing.T) {
	t.Parallel()
	for _, wrote := range []bool{false, true} {
		ctx, cancel := context.WithCancel(context.Background())
		a := &attempt{cancel: cancel}
		tr := a.trace()
		tr.GotConn(httptrace.GotConnInfo{Conn: &trackedConn{}})
		if wrote {
			tr.WroteRequest(httptrace.WroteRequestInfo{})
		}
		a.abandon()
		if cancelled := ctx.Err() != nil; cancelled == wrote {
			t.Errorf("wrote=%v: cancelled=%v", wrote, cancelled)
		}
		cancel()
	}
}
