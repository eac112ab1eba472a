package email

import (
	"bytes"
	"context"
	"crypto"
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/rsa"
	"crypto/sha256"
	"crypto/x509"
	"encoding/base64"
	"errors"
	"fmt"
	"log/slog"
	"math/big"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/emersion/go-msgauth/dkim"
	"github.com/nudgehq/nudge/internal/smtptest"
)

const (
	dkimDomain   = "example.org"
	dkimSelector = "nudge2026"
	unsubURL     = "https://nudge.example.org/u/eyJzIjoiMTIzIn0.c2lnbmF0dXJl"
)

// dkimKey is a signing key and the DNS TXT record that publishes it.
type dkimKey struct {
	name   string
	key    crypto.Signer
	record string
	alg    string
}

func (k dkimKey) public() crypto.PublicKey { return k.key.Public() }

func dkimKeys(t *testing.T) []dkimKey {
	t.Helper()
	rsaKey, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		t.Fatal(err)
	}
	der, err := x509.MarshalPKIXPublicKey(&rsaKey.PublicKey)
	if err != nil {
		t.Fatal(err)
	}
	edPub, edKey, err := ed25519.GenerateKey(rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	return []dkimKey{
		{"rsa", rsaKey, "v=DKIM1; k=rsa; p=" + base64.StdEncoding.EncodeToString(der), "rsa-sha256"},
		// RFC 8463: an Ed25519 record holds the bare 32-byte public key.
		{"ed25519", edKey, "v=DKIM1; k=ed25519; p=" + base64.StdEncoding.EncodeToString(edPub), "ed25519-sha256"},
	}
}

// lookupFor answers DNS TXT queries for the test's selector only, as DNS
// would for a domain that published record.
func lookupFor(record string) func(string) ([]string, error) {
	return func(name string) ([]string, error) {
		if name == dkimSelector+"._domainkey."+dkimDomain {
			return []string{record}, nil
		}
		return nil, fmt.Errorf("no TXT record for %s", name)
	}
}

// verifyDKIM checks every DKIM signature in raw against the published key
// with go-msgauth.
func verifyDKIM(t *testing.T, raw []byte, record string) []*dkim.Verification {
	t.Helper()
	vs, err := dkim.VerifyWithOptions(bytes.NewReader(raw), &dkim.VerifyOptions{LookupTXT: lookupFor(record)})
	if err != nil {
		t.Fatalf("dkim.Verify: %v", err)
	}
	return vs
}

// newSMTPTo is a sender to the smtptest relay, closed before the relay is.
func newSMTPTo(t *testing.T, relay *smtptest.Server, d *DKIMConfig, pool int) *SMTP {
	t.Helper()
	s, err := NewSMTP(SMTPConfig{
		Host: relay.Host(), Port: relay.Port(), TLS: TLSNone, PoolSize: pool, HELO: "nudge.test",
		Timeout: 10 * time.Second, DKIM: d,
	}, slog.New(slog.DiscardHandler))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = s.Close() })
	return s
}

// nudgeMessage is a message as the worker builds a nudge: text and HTML, a
// stable Message-ID and the RFC 8058 one-click unsubscribe headers.
func nudgeMessage(i int) Message {
	return Message{
		From:      "nudge <nudge@" + dkimDomain + ">",
		To:        fmt.Sprintf("sam.%d@example.net", i),
		Subject:   "Your weekly check-in: who did you talk to this week? ✉",
		Text:      "Hello Sam,\n\nWho made you smile this week?\n\nManage: https://nudge.example.org/m/x\n",
		HTML:      "<p>Hello Sam,</p>\n<p>Who made you smile this week?</p>\n",
		MessageID: fmt.Sprintf("<sub-%d:weekly:2026-03-01@nudge.example.org>", i),
		Headers: map[string]string{
			"List-Unsubscribe":      "<" + unsubURL + ">",
			"List-Unsubscribe-Post": "List-Unsubscribe=One-Click",
		},
	}
}

// dkimTags returns the tags of the message's DKIM-Signature field.
func dkimTags(t *testing.T, m smtptest.Message) map[string]string {
	t.Helper()
	values := m.Header["Dkim-Signature"]
	if len(values) != 1 {
		t.Fatalf("%d DKIM-Signature fields, want 1", len(values))
	}
	tags := map[string]string{}
	for _, tag := range strings.Split(values[0], ";") {
		name, value, ok := strings.Cut(tag, "=")
		if !ok {
			continue
		}
		tags[strings.TrimSpace(name)] = strings.Join(strings.Fields(value), "")
	}
	return tags
}

// onlyResult is the outcome of the one signature verified.
func onlyResult(vs []*dkim.Verification) error {
	if len(vs) != 1 {
		return fmt.Errorf("%d signatures, want 1", len(vs))
	}
	return vs[0].Err
}

func count(list []string, name string) int {
	n := 0
	for _, s := range list {
		if strings.EqualFold(s, name) {
			n++
		}
	}
	return n
}

func TestDKIMSignatureVerifies(t *testing.T) {
	for _, k := range dkimKeys(t) {
		t.Run(k.name, func(t *testing.T) {
			relay := smtptest.Start(t)
			s := newSMTPTo(t, relay, &DKIMConfig{Domain: dkimDomain, Selector: dkimSelector, Key: k.key}, 1)
			if err := s.Send(context.Background(), nudgeMessage(1)); err != nil {
				t.Fatalf("Send: %v", err)
			}
			msgs := relay.Messages()
			if len(msgs) != 1 {
				t.Fatalf("relay has %d messages, want 1", len(msgs))
			}
			got := msgs[0]
			raw := got.Raw
			if got.Header.Get("List-Unsubscribe") != "<"+unsubURL+">" || got.Header.Get("List-Unsubscribe-Post") != "List-Unsubscribe=One-Click" {
				t.Fatalf("List-Unsubscribe headers not as sent:\n%s", raw)
			}

			if err := verifyRelaxed(raw, k.public()); err != nil {
				t.Errorf("independent verifier: %v", err)
			}
			vs := verifyDKIM(t, raw, k.record)
			if len(vs) != 1 {
				t.Fatalf("%d signatures, want 1", len(vs))
			}
			v := vs[0]
			if v.Err != nil {
				t.Fatalf("signature does not verify: %v\n%s", v.Err, raw)
			}
			if v.Domain != dkimDomain {
				t.Errorf("d= %q, want %q", v.Domain, dkimDomain)
			}
			// Oversigned: listed once more than they occur, so no second
			// copy can be added.
			for _, h := range []string{"List-Unsubscribe", "List-Unsubscribe-Post", "From", "Subject", "To"} {
				if n := count(v.HeaderKeys, h); n != 2 {
					t.Errorf("h= lists %s %d times, want 2: %q", h, n, v.HeaderKeys)
				}
			}
			for _, h := range []string{"Date", "Message-ID", "MIME-Version", "Content-Type"} {
				if count(v.HeaderKeys, h) != 1 {
					t.Errorf("h= lacks %s: %q", h, v.HeaderKeys)
				}
			}
			tags := dkimTags(t, got)
			if tags["a"] != k.alg || tags["s"] != dkimSelector || tags["c"] != "relaxed/relaxed" || tags["d"] != dkimDomain {
				t.Errorf("tags a=%q s=%q c=%q d=%q", tags["a"], tags["s"], tags["c"], tags["d"])
			}
			if !strings.Contains(strings.ToLower(tags["h"]), "list-unsubscribe:") || !strings.Contains(strings.ToLower(tags["h"]), "list-unsubscribe-post") {
				t.Errorf("h=%s lacks the List-Unsubscribe fields", tags["h"])
			}

			// The tampering a receiver must catch.
			unsubLine := "List-Unsubscribe: <" + unsubURL + ">\r\n"
			postLine := "List-Unsubscribe-Post: List-Unsubscribe=One-Click\r\n"
			for _, line := range []string{unsubLine, postLine} {
				if n := bytes.Count(raw, []byte(line)); n != 1 {
					t.Fatalf("%q occurs %d times in the message, want 1:\n%s", line, n, raw)
				}
			}
			replace := func(old, new string) []byte { return bytes.Replace(raw, []byte(old), []byte(new), 1) }
			tampered := map[string][]byte{
				"List-Unsubscribe URL changed":  replace(unsubLine, "List-Unsubscribe: <https://attacker.example/u/eyJzIjoiMTIzIn0.c2lnbmF0dXJl>\r\n"),
				"List-Unsubscribe mailto added": replace(unsubLine, "List-Unsubscribe: <mailto:x@attacker.example>, <"+unsubURL+">\r\n"),
				"List-Unsubscribe-Post removed": replace(postLine, ""),
				"List-Unsubscribe-Post changed": replace(postLine, "List-Unsubscribe-Post: List-Unsubscribe=Two-Click\r\n"),
				"second List-Unsubscribe added": append([]byte("List-Unsubscribe: <https://attacker.example/u>\r\n"), raw...),
				"body changed":                  replace("smile", "frown"),
			}
			for name, b := range tampered {
				if bytes.Equal(b, raw) {
					t.Fatalf("%s: nothing replaced", name)
				}
				vs := verifyDKIM(t, b, k.record)
				if len(vs) != 1 || vs[0].Err == nil {
					t.Errorf("%s: the signature still verifies", name)
				} else if !strings.Contains(vs[0].Err.Error(), "did not verify") {
					t.Errorf("%s: %v, want a signature or body hash that does not verify", name, vs[0].Err)
				}
				if err := verifyRelaxed(b, k.public()); err == nil {
					t.Errorf("%s: the independent verifier accepts it", name)
				}
			}

			// What relays do on the way (a trace field on top, refolded
			// or recased fields under relaxed canonicalization) keeps it valid.
			kept := map[string][]byte{
				"Received added on top":     append([]byte("Received: from nudge.test by mx.example.net; Sun, 1 Mar 2026 09:00:02 +0000\r\n"), raw...),
				"List-Unsubscribe refolded": replace(unsubLine, "list-unsubscribe:\r\n\t<"+unsubURL+">   \r\n"),
			}
			for name, b := range kept {
				if err := onlyResult(verifyDKIM(t, b, k.record)); err != nil {
					t.Errorf("%s: %v, want a valid signature", name, err)
				}
				if err := verifyRelaxed(b, k.public()); err != nil {
					t.Errorf("%s: independent verifier: %v", name, err)
				}
			}
		})
	}
}

// TestDKIMConcurrentSends signs messages of each shape on several pooled
// connections at once (under -race, this would catch shared signing state).
func TestDKIMConcurrentSends(t *testing.T) {
	edPub, edKey, err := ed25519.GenerateKey(rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	record := "v=DKIM1; k=ed25519; p=" + base64.StdEncoding.EncodeToString(edPub)
	relay := smtptest.Start(t)
	s := newSMTPTo(t, relay, &DKIMConfig{Domain: dkimDomain, Selector: dkimSelector, Key: edKey}, 3)

	const n = 12
	var wg sync.WaitGroup
	errs := make(chan error, n)
	for i := range n {
		m := nudgeMessage(i)
		switch i % 3 {
		case 1:
			m.HTML = "" // a single text/plain part, not multipart
		case 2:
			m.MessageID = "" // go-mail makes one up when the message is first written
		}
		wg.Go(func() { errs <- s.Send(context.Background(), m) })
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		if err != nil {
			t.Fatalf("Send: %v", err)
		}
	}
	msgs := relay.Messages()
	if len(msgs) != n {
		t.Fatalf("relay has %d messages, want %d", len(msgs), n)
	}
	for i, m := range msgs {
		if err := onlyResult(verifyDKIM(t, m.Raw, record)); err != nil {
			t.Errorf("message %d: %v\n%s", i, err, m.Raw)
		}
		if err := verifyRelaxed(m.Raw, edPub); err != nil {
			t.Errorf("message %d: independent verifier: %v", i, err)
		}
	}
}

func TestNoDKIMWithoutConfig(t *testing.T) {
	relay := smtptest.Start(t)
	s := newSMTPTo(t, relay, nil, 1)
	if err := s.Send(context.Background(), nudgeMessage(1)); err != nil {
		t.Fatal(err)
	}
	if m := relay.Messages(); len(m) != 1 || m[0].Header.Get("DKIM-Signature") != "" {
		t.Errorf("unsigned sender: %d messages, DKIM-Signature %q", len(m), m[0].Header.Get("DKIM-Signature"))
	}
}

func TestNewSMTPRefusesBadDKIM(t *testing.T) {
	ecKey, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	_, edKey, err := ed25519.GenerateKey(rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	short := &rsa.PrivateKey{PublicKey: rsa.PublicKey{N: new(big.Int).Lsh(big.NewInt(1), 511), E: 65537}}
	for _, tc := range []struct {
		name string
		d    DKIMConfig
		want string
	}{
		{"no domain", DKIMConfig{Selector: dkimSelector, Key: edKey}, "domain"},
		{"bad domain", DKIMConfig{Domain: "example.org;x=1", Selector: dkimSelector, Key: edKey}, "domain"},
		{"no selector", DKIMConfig{Domain: dkimDomain, Key: edKey}, "selector"},
		{"bad selector", DKIMConfig{Domain: dkimDomain, Selector: "a b", Key: edKey}, "selector"},
		{"no key", DKIMConfig{Domain: dkimDomain, Selector: dkimSelector}, "no key"},
		{"ECDSA key", DKIMConfig{Domain: dkimDomain, Selector: dkimSelector, Key: ecKey}, "cannot sign DKIM"},
		{"512-bit RSA key", DKIMConfig{Domain: dkimDomain, Selector: dkimSelector, Key: short}, "512 bits"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			d := tc.d
			_, err := NewSMTP(SMTPConfig{Host: "127.0.0.1", TLS: TLSNone, DKIM: &d}, nil)
			if err == nil || !strings.Contains(err.Error(), "DKIM") || !strings.Contains(err.Error(), tc.want) {
				t.Errorf("NewSMTP = %v, want a DKIM error about %q", err, tc.want)
			}
		})
	}
	s, err := NewSMTP(SMTPConfig{Host: "127.0.0.1", TLS: TLSNone, DKIM: &DKIMConfig{Domain: dkimDomain, Selector: dkimSelector, Key: edKey}}, nil)
	if err != nil {
		t.Fatalf("NewSMTP with a good key: %v", err)
	}
	_ = s.Close()
}

// --- an independent relaxed/relaxed verifier ----------------------------------

// verifyRelaxed checks the one DKIM-Signature in raw against pub by RFC 6376
// alone (relaxed/relaxed, sha256), sharing no code with the signer: the body
// hash, then the signed fields picked bottom-up (one listed more often than
// it occurs counts as absent) and the signature field with b= emptied.
func verifyRelaxed(raw []byte, pub crypto.PublicKey) error {
	head, body, ok := bytes.Cut(raw, []byte("\r\n\r\n"))
	if !ok {
		return errors.New("no end of header")
	}
	var fields []string // each with its folding, without the final CRLF
	for _, line := range strings.Split(string(head), "\r\n") {
		if (strings.HasPrefix(line, " ") || strings.HasPrefix(line, "\t")) && len(fields) > 0 {
			fields[len(fields)-1] += "\r\n" + line
			continue
		}
		fields = append(fields, line)
	}
	fieldName := func(f string) string {
		name, _, _ := strings.Cut(f, ":")
		return strings.ToLower(strings.TrimRight(name, " \t"))
	}
	var sig string
	for _, f := range fields {
		if fieldName(f) == "dkim-signature" {
			if sig != "" {
				return errors.New("more than one signature")
			}
			sig = f
		}
	}
	if sig == "" {
		return errors.New("no signature")
	}
	tags := map[string]string{}
	_, value, _ := strings.Cut(sig, ":")
	for _, tag := range strings.Split(value, ";") {
		if name, v, ok := strings.Cut(tag, "="); ok {
			tags[strings.TrimSpace(name)] = strings.Join(strings.Fields(v), "")
		}
	}
	if tags["c"] != "relaxed/relaxed" {
		return fmt.Errorf("c=%s", tags["c"])
	}

	// Body: white space runs to one space, none at line ends, no empty
	// lines at the end.
	lines := strings.Split(string(body), "\r\n")
	for i, l := range lines {
		lines[i] = strings.TrimRight(collapseWSP(l), " ")
	}
	for len(lines) > 0 && lines[len(lines)-1] == "" {
		lines = lines[:len(lines)-1]
	}
	canonBody := ""
	if len(lines) > 0 {
		canonBody = strings.Join(lines, "\r\n") + "\r\n"
	}
	bh := sha256.Sum256([]byte(canonBody))
	if got := base64.StdEncoding.EncodeToString(bh[:]); got != tags["bh"] {
		return fmt.Errorf("body hash %s, signed %s", got, tags["bh"])
	}

	// Header: name in lower case, value unfolded, white space runs to one
	// space, none around the value.
	canonField := func(f string) string {
		name, v, _ := strings.Cut(f, ":")
		v = strings.NewReplacer("\r\n", "").Replace(v)
		return strings.ToLower(strings.TrimRight(name, " \t")) + ":" + strings.TrimSpace(collapseWSP(v))
	}
	h := sha256.New()
	used := map[string]int{}
	for _, name := range strings.Split(tags["h"], ":") {
		name = strings.ToLower(name)
		skip := used[name]
		used[name]++
		for i := len(fields) - 1; i >= 0; i-- {
			if fieldName(fields[i]) != name {
				continue
			}
			if skip > 0 {
				skip--
				continue
			}
			h.Write([]byte(canonField(fields[i]) + "\r\n"))
			break
		}
	}
	// The signature field itself, the b= value (and the white space around
	// it) removed, without the final CRLF.
	parts := strings.Split(sig, ";")
	for i, p := range parts {
		if name, _, ok := strings.Cut(p, "="); ok && strings.TrimSpace(name) == "b" {
			parts[i] = name + "="
		}
	}
	h.Write([]byte(canonField(strings.Join(parts, ";"))))
	digest := h.Sum(nil)

	b, err := base64.StdEncoding.DecodeString(tags["b"])
	if err != nil {
		return fmt.Errorf("b=: %w", err)
	}
	switch pub := pub.(type) {
	case *rsa.PublicKey:
		if tags["a"] != "rsa-sha256" {
			return fmt.Errorf("a=%s for an RSA key", tags["a"])
		}
		return rsa.VerifyPKCS1v15(pub, crypto.SHA256, digest, b)
	case ed25519.PublicKey:
		if tags["a"] != "ed25519-sha256" {
			return fmt.Errorf("a=%s for an Ed25519 key", tags["a"])
		}
		if !ed25519.Verify(pub, digest, b) {
			return errors.New("ed25519: bad signature")
		}
		return nil
	}
	return fmt.Errorf("key type %T", pub)
}

// collapseWSP turns every run of spaces and tabs into one space.
func collapseWSP(s string) string {
	var b strings.Builder
	space := false
	for i := 0; i < len(s); i++ {
		if c := s[i]; c == ' ' || c == '\t' {
			space = true
			continue
		}
		if space {
			b.WriteByte(' ')
			space = false
		}
		b.WriteByte(s[i])
	}
	if space {
		b.WriteByte(' ')
	}
	return b.String()
}
