package token

import (
	"errors"
	"testing"
	"time"
)

// fuzzSubjects are the subjects of the tokens FuzzVerify signs (for every
// purpose); the committed corpus in testdata/fuzz/FuzzVerify uses them too.
var fuzzSubjects = []string{"sub-1", "01J9ZQ3K7M8N2P4R6T8V0X2Z4B:weekly-checkin:2026-03-08", ""}

// FuzzVerify feeds Verify arbitrary strings: it must never panic, and nothing
// but a token this signer made for that purpose may verify, not even a
// re-spelling of one.
func FuzzVerify(f *testing.F) {
	s := NewSigner(testSecret)
	expires := t0.Add(time.Hour)
	genuine := make(map[Purpose]map[string]string) // purpose → token → subject
	for _, p := range purposes {
		genuine[p] = make(map[string]string)
		for _, subject := range fuzzSubjects {
			tok := s.Sign(p, subject, expires)
			genuine[p][tok] = subject
			f.Add(tok)
		}
	}
	for _, seed := range []string{"", ".", "a.b", "AQ.AAAAAAAAAAAAAAAAAAAAAA", "AYCAgICAgICAgIAB.AAAAAAAAAAAAAAAAAAAAAA", "\xff.\xff"} {
		f.Add(seed)
	}

	f.Fuzz(func(t *testing.T, tok string) {
		for _, p := range append(purposes, "") {
			for _, now := range []time.Time{t0, expires} {
				subject, err := s.Verify(p, tok, now)
				switch {
				case err == nil, errors.Is(err, ErrExpired):
					want, ok := genuine[p][tok]
					if !ok {
						t.Fatalf("Verify(%s, %q) = %q, %v: a token this signer never made verified", p, tok, subject, err)
					}
					if subject != want {
						t.Fatalf("Verify(%s, %q) subject = %q, want %q", p, tok, subject, want)
					}
					if (err == nil) != now.Before(expires) {
						t.Fatalf("Verify(%s, %q) at %v: err %v", p, tok, now, err)
					}
				case errors.Is(err, ErrInvalid):
					if subject != "" {
						t.Fatalf("Verify(%s, %q) returned subject %q with ErrInvalid", p, tok, subject)
					}
				default:
					t.Fatalf("Verify(%s, %q) = unexpected error %v", p, tok, err)
				}
			}
		}
	})
}
