package token

import (
	"errors"
	"strings"
	"testing"
	"time"
)

var (
	testSecret  = []byte("test-secret-0123456789abcdef-0123456789")
	otherSecret = []byte("other-secret-0123456789abcdef-012345678")
	// t0 is a fixed instant; tests never read the wall clock.
	t0 = time.Date(2026, 3, 8, 9, 30, 0, 0, time.UTC)
)

var purposes = []Purpose{Confirm, Manage, Unsubscribe, Rate}

func TestRoundTrip(t *testing.T) {
	t.Parallel()
	s := NewSigner(testSecret)
	subjects := []string{
		"01J9ZQ3K7M8N2P4R6T8V0X2Z4B",
		"sub:weekly-checkin:2026-03-08",
		"a",
		"",
		"ünïcödé:id",
		strings.Repeat("x", MaxSubjectLen),
	}
	for _, p := range purposes {
		for _, subject := range subjects {
			tok := s.Sign(p, subject, t0.Add(time.Hour))
			if strings.ContainsAny(tok, "=+/ \n") {
				t.Errorf("token %q is not URL-safe without padding", tok)
			}
			got, err := s.Verify(p, tok, t0)
			if err != nil || got != subject {
				t.Errorf("Verify(%s, Sign(%q)) = %q, %v", p, subject, got, err)
			}
			// A second signer with the same secret agrees (no hidden state).
			if got, err := NewSigner(testSecret).Verify(p, tok, t0); err != nil || got != subject {
				t.Errorf("fresh signer: Verify = %q, %v", got, err)
			}
		}
	}
}

func TestTokenIsShort(t *testing.T) {
	t.Parallel()
	tok := NewSigner(testSecret).Sign(Unsubscribe, "01J9ZQ3K7M8N2P4R6T8V0X2Z4B", t0)
	if len(tok) > 70 {
		t.Errorf("token for a 26-byte id is %d characters: %s", len(tok), tok)
	}
}

func TestTamper(t *testing.T) {
	t.Parallel()
	s := NewSigner(testSecret)
	tok := s.Sign(Manage, "sub-123:abc", t0.Add(time.Hour))
	// Flip every bit of every byte; none of the results may verify.
	for i := 0; i < len(tok); i++ {
		for bit := 0; bit < 8; bit++ {
			b := []byte(tok)
			b[i] ^= 1 << bit
			if _, err := s.Verify(Manage, string(b), t0); !errors.Is(err, ErrInvalid) {
				t.Fatalf("byte %d bit %d flipped: %q verified (err %v)", i, bit, b, err)
			}
		}
	}
	// Cutting, adding or re-spelling characters fails as well.
	for _, bad := range []string{
		tok[:len(tok)-1],
		tok[1:],
		tok + "A",
		"A" + tok,
		tok + "=",
		strings.Replace(tok, ".", "..", 1),
		strings.Replace(tok, ".", ".\n", 1),
		tok[:5] + "\r\n" + tok[5:],
		strings.Replace(tok, ".", "", 1),
	} {
		if _, err := s.Verify(Manage, bad, t0); !errors.Is(err, ErrInvalid) {
			t.Errorf("altered token %q verified (err %v)", bad, err)
		}
	}
}

func TestNonCanonicalBase64(t *testing.T) {
	t.Parallel()
	s := NewSigner(testSecret)
	tok := s.Sign(Rate, "x", t0.Add(time.Hour))
	payload, tag, _ := strings.Cut(tok, ".")
	// The last character of an unpadded base64 string carries spare bits;
	// setting them spells the same bytes differently, which must not verify.
	for _, part := range []struct {
		name    string
		payload string
		tag     string
	}{
		{"payload", respell(payload), tag},
		{"tag", payload, respell(tag)},
	} {
		if part.payload == payload && part.tag == tag {
			continue // that part has no spare bits
		}
		if _, err := s.Verify(Rate, part.payload+"."+part.tag, t0); !errors.Is(err, ErrInvalid) {
			t.Errorf("%s re-spelled: err %v, want ErrInvalid", part.name, err)
		}
	}
}

// respell sets the low bit of the last base64 character where that bit is spare.
func respell(s string) string {
	const alphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_"
	if len(s)%4 == 0 {
		return s
	}
	i := strings.IndexByte(alphabet, s[len(s)-1])
	return s[:len(s)-1] + string(alphabet[i|1])
}

func TestExpiryBoundary(t *testing.T) {
	t.Parallel()
	s := NewSigner(testSecret)
	expires := t0.Add(24 * time.Hour)
	tok := s.Sign(Confirm, "sub-1", expires)
	tests := []struct {
		now  time.Time
		want error
	}{
		{t0, nil},
		{expires.Add(-time.Second), nil},
		{expires.Add(-time.Nanosecond), nil},
		{expires, ErrExpired},
		{expires.Add(time.Nanosecond), ErrExpired},
		{expires.Add(365 * 24 * time.Hour), ErrExpired},
	}
	for _, tc := range tests {
		subject, err := s.Verify(Confirm, tok, tc.now)
		if !errors.Is(err, tc.want) || (tc.want == nil && err != nil) {
			t.Errorf("at expiry%+v: err %v, want %v", tc.now.Sub(expires), err, tc.want)
		}
		// An expired token is still genuine: its subject comes back.
		if subject != "sub-1" {
			t.Errorf("at expiry%+v: subject %q", tc.now.Sub(expires), subject)
		}
	}
	// Sub-second expiries round down.
	tok = s.Sign(Confirm, "sub-1", expires.Add(900*time.Millisecond))
	if _, err := s.Verify(Confirm, tok, expires.Add(100*time.Millisecond)); !errors.Is(err, ErrExpired) {
		t.Errorf("sub-second expiry: err %v, want ErrExpired", err)
	}
	// Far past and far future expiries survive the round trip.
	for _, e := range []time.Time{time.Unix(-1<<40, 0), time.Unix(0, 0), time.Unix(1<<40, 0)} {
		tok := s.Sign(Confirm, "s", e)
		_, err := s.Verify(Confirm, tok, e.Add(-time.Second))
		if err != nil {
			t.Errorf("expiry %v: %v", e, err)
		}
	}
}

func TestWrongPurpose(t *testing.T) {
	t.Parallel()
	s := NewSigner(testSecret)
	for _, signed := range purposes {
		tok := s.Sign(signed, "sub-1", t0.Add(time.Hour))
		for _, used := range append(purposes, Purpose(""), Purpose("unsubscribe"), signed+"x") {
			if used == signed {
				continue
			}
			if subject, err := s.Verify(used, tok, t0); !errors.Is(err, ErrInvalid) || subject != "" {
				t.Errorf("%s token used for %q: %q, %v; want ErrInvalid", signed, used, subject, err)
			}
		}
	}
}

func TestWrongSecret(t *testing.T) {
	t.Parallel()
	tok := NewSigner(testSecret).Sign(Unsubscribe, "sub-1", t0.Add(time.Hour))
	// (Not testSecret plus a zero byte: HMAC pads short keys with zeros, so
	// that is the same key by design.)
	for _, secret := range [][]byte{otherSecret, testSecret[:len(testSecret)-1], append([]byte("x"), testSecret...)} {
		if _, err := NewSigner(secret).Verify(Unsubscribe, tok, t0); !errors.Is(err, ErrInvalid) {
			t.Errorf("secret %q: err %v, want ErrInvalid", secret, err)
		}
	}
}

func TestGarbage(t *testing.T) {
	t.Parallel()
	s := NewSigner(testSecret)
	valid := s.Sign(Rate, "sub", t0.Add(time.Hour))
	_, validTag, _ := strings.Cut(valid, ".")
	inputs := []string{
		"", ".", "..", "a.", ".a", "a.b", "a.b.c", "abc", "====.====",
		"AA.AAAAAAAAAAAAAAAAAAAAAA",
		"AQ." + validTag, // a one-byte payload
		"\x00.\x00", "é.é", "%41.%41", "a b.c d",
		strings.Repeat("A", 10000) + "." + validTag,
		strings.Repeat("A", maxTokenLen+1),
		strings.Repeat(".", 100),
	}
	for _, in := range inputs {
		if subject, err := s.Verify(Rate, in, t0); !errors.Is(err, ErrInvalid) || subject != "" {
			t.Errorf("Verify(%.40q) = %q, %v; want ErrInvalid", in, subject, err)
		}
	}
}

func TestSignPanics(t *testing.T) {
	t.Parallel()
	for name, f := range map[string]func(){
		"empty secret": func() { NewSigner(nil) },
		"long subject": func() { NewSigner(testSecret).Sign(Rate, strings.Repeat("x", MaxSubjectLen+1), t0) },
	} {
		func() {
			defer func() {
				if recover() == nil {
					t.Errorf("%s: no panic", name)
				}
			}()
			f()
		}()
	}
}

func TestConcurrentUse(t *testing.T) {
	t.Parallel()
	s := NewSigner(testSecret)
	done := make(chan error)
	for g := 0; g < 8; g++ {
		go func() {
			for i := 0; i < 200; i++ {
				tok := s.Sign(Manage, "sub", t0.Add(time.Hour))
				if _, err := s.Verify(Manage, tok, t0); err != nil {
					done <- err
					return
				}
			}
			done <- nil
		}()
	}
	for g := 0; g < 8; g++ {
		if err := <-done; err != nil {
			t.Error(err)
		}
	}
}
