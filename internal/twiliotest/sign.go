package twiliotest

import (
	"bytes"
	"context"
	"crypto/hmac"
	"crypto/sha1"
	"encoding/base64"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"testing"
	"time"
)

// Sign returns the X-Twilio-Signature Twilio sends with a webhook request
// of params (a form-encoded POST, or none for a GET) to url, signed with
// authToken: the HMAC-SHA1, in base64, of url followed by each parameter
// name immediately followed by its value, names in byte order (repeated
// names once per value, values in byte order).
func Sign(authToken, url string, params url.Values) string {
	var b strings.Builder
	b.WriteString(url)
	keys := make([]string, 0, len(params))
	for k := range params {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	for _, k := range keys {
		values := slices.Clone(params[k])
		slices.Sort(values)
		for _, v := range slices.Compact(values) {
			b.WriteString(k)
			b.WriteString(v)
		}
	}
	mac := hmac.New(sha1.New, []byte(authToken))
	mac.Write([]byte(b.String()))
	return base64.StdEncoding.EncodeToString(mac.Sum(nil))
}

// NewSignedRequest builds the POST Twilio would send to a webhook: params
// form-encoded, signed for signURL (the public URL Twilio was given), and
// addressed to target (where the handler under test listens; often
// signURL itself).
func NewSignedRequest(ctx context.Context, authToken, signURL, target string, params url.Values) (*http.Request, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, target, strings.NewReader(params.Encode()))
	if err != nil {
		return nil, fmt.Errorf("twiliotest: webhook request: %w", err)
	}
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	req.Header.Set("User-Agent", "TwilioProxy/1.1")
	req.Header.Set("X-Twilio-Signature", Sign(authToken, signURL, params))
	return req, nil
}

// PostSigned posts params to url as a Twilio webhook signed with authToken
// for that same url, and returns the handler's response with its body
// already read (and the connection closed). It fails the test if the
// request cannot be made.
func PostSigned(tb testing.TB, authToken, url string, params url.Values) *http.Response {
	tb.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	req, err := NewSignedRequest(ctx, authToken, url, url, params)
	if err != nil {
		tb.Fatal(err)
	}
	// A transport of its own without keep-alives, so that no idle
	// connection outlives the call (goleak).
	tr := &http.Transport{DisableKeepAlives: true}
	defer tr.CloseIdleConnections()
	resp, err := (&http.Client{Transport: tr}).Do(req)
	if err != nil {
		tb.Fatalf("twiliotest: post webhook: %v", err)
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	if err != nil {
		tb.Fatalf("twiliotest: read webhook answer: %v", err)
	}
	resp.Body = io.NopCloser(bytes.NewReader(body))
	return resp
}
