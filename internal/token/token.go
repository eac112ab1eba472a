// Package token makes and checks the signed, expiring tokens carried by the
// links in messages (confirm, manage, unsubscribe, rate).
//
// A token names a subject (an opaque id, such as a subscriber or delivery id)
// for one purpose until an expiry. Nobody without the secret can make one,
// change one, or use one made for another purpose: a manage link is never an
// unsubscribe link.
//
// # Format
//
//	base64url(payload) "." base64url(tag)
//
// without padding, where
//
//	payload = 0x01 (format version) ‖ varint(expiry, Unix seconds) ‖ subject
//	tag     = HMAC-SHA256(key, "nudge/token/v1" ‖ 0x00 ‖ uvarint(len(purpose)) ‖ purpose ‖ payload)[:16]
//	key     = HMAC-SHA256(secret, "nudge/token/v1 key")
//
// The purpose is not in the token, only in the MAC, so tokens stay short (a
// 26-byte id gives a 66-character token). The tag is truncated to 16 bytes
// (128 bits): forging one still takes about 2^128 tries. The key is derived
// from the secret so that the same NUDGE_SECRET can key other things without
// one signature standing in for another. Expiry has one-second resolution
// (rounded down). Each token has exactly one spelling: Verify accepts only the
// URL-safe alphabet and canonical base64, so a token cannot be altered into a
// second valid form. Tokens are not encrypted: the subject is readable by
// whoever has the link, so it must be an id, never an address.
package token

import (
	"crypto/hmac"
	"crypto/sha256"
	"encoding/base64"
	"encoding/binary"
	"errors"
	"fmt"
	"hash"
	"strings"
	"sync"
	"time"
)

// Purpose says what a token may be used for.
type Purpose string

// The purposes of the links nudge sends.
const (
	Confirm     Purpose = "confirm"
	Manage      Purpose = "manage"
	Unsubscribe Purpose = "unsub"
	Rate        Purpose = "rate"
	// TextLink opens the manage page once, from a text (LINK).
	TextLink Purpose = "textlink"
)

// Errors Verify returns.
var (
	// ErrInvalid means the token was not made by this signer for this
	// purpose: it is malformed, altered, or signed with another key.
	ErrInvalid = errors.New("token: invalid")
	// ErrExpired means the token is genuine but its time has passed.
	ErrExpired = errors.New("token: expired")
)

const (
	version = 0x01
	// tagLen is how many bytes of the HMAC-SHA256 a token carries.
	tagLen = 16
	// MaxSubjectLen is the longest subject Sign accepts.
	MaxSubjectLen = 512
	// maxTokenLen bounds the work Verify does on hostile input: the longest
	// token Sign can make.
	maxTokenLen = (1+binary.MaxVarintLen64+MaxSubjectLen+2)/3*4 + 1 + (tagLen+2)/3*4

	macLabel = "nudge/token/v1"
	keyLabel = "nudge/token/v1 key"
)

// encoding is base64url without padding, rejecting non-zero trailing bits.
var encoding = base64.RawURLEncoding.Strict()

// Signer makes and checks tokens with one secret. It is safe for concurrent use.
type Signer struct {
	macs sync.Pool // of hash.Hash, HMAC-SHA256 keyed with the derived key
}

// NewSigner returns a Signer keyed by secret, which should be at least 32
// random bytes (config enforces this). It panics on an empty secret, which
// would make every token forgeable.
func NewSigner(secret []byte) *Signer {
	if len(secret) == 0 {
		panic("token: NewSigner with an empty secret")
	}
	derive := hmac.New(sha256.New, secret)
	derive.Write([]byte(keyLabel))
	key := derive.Sum(nil)
	return &Signer{macs: sync.Pool{New: func() any { return hmac.New(sha256.New, key) }}}
}

// Sign returns a token for subject, good for purpose p until expires. It
// panics if subject is longer than MaxSubjectLen bytes, a programming error.
func (s *Signer) Sign(p Purpose, subject string, expires time.Time) string {
	if len(subject) > MaxSubjectLen {
		panic(fmt.Sprintf("token: subject of %d bytes is longer than %d", len(subject), MaxSubjectLen))
	}
	payload := make([]byte, 0, 1+binary.MaxVarintLen64+len(subject))
	payload = append(payload, version)
	payload = binary.AppendVarint(payload, expires.Unix())
	payload = append(payload, subject...)

	var tag [sha256.Size]byte
	s.tag(tag[:0], p, payload)

	out := make([]byte, 0, encoding.EncodedLen(len(payload))+1+encoding.EncodedLen(tagLen))
	out = encoding.AppendEncode(out, payload)
	out = append(out, '.')
	out = encoding.AppendEncode(out, tag[:tagLen])
	return string(out)
}

// Verify checks that tok was signed by this signer for purpose p and has not
// expired at now, and returns its subject. It returns ErrInvalid for anything
// not genuinely signed, and ErrExpired (with the subject, which is genuine)
// for a token whose expiry is at or before now: a page may use that subject
// to offer a fresh link, but must not act on it. Verify never panics.
func (s *Signer) Verify(p Purpose, tok string, now time.Time) (subject string, err error) {
	if len(tok) > maxTokenLen || !wellFormed(tok) {
		return "", ErrInvalid
	}
	encPayload, encTag, _ := strings.Cut(tok, ".")
	payload, err := encoding.DecodeString(encPayload)
	if err != nil || len(payload) < 2 {
		return "", ErrInvalid
	}
	got, err := encoding.DecodeString(encTag)
	if err != nil || len(got) != tagLen {
		return "", ErrInvalid
	}
	var want [sha256.Size]byte
	s.tag(want[:0], p, payload)
	if !hmac.Equal(got, want[:tagLen]) {
		return "", ErrInvalid
	}

	// Authentic from here on; parse defensively all the same.
	if payload[0] != version {
		return "", ErrInvalid
	}
	expires, n := binary.Varint(payload[1:])
	if n <= 0 {
		return "", ErrInvalid
	}
	subject = string(payload[1+n:])
	if now.Unix() >= expires {
		return subject, ErrExpired
	}
	return subject, nil
}

// tag appends the full HMAC of purpose and payload to dst.
func (s *Signer) tag(dst []byte, p Purpose, payload []byte) []byte {
	mac := s.macs.Get().(hash.Hash)
	defer s.macs.Put(mac)
	mac.Reset()
	var head [len(macLabel) + 1 + binary.MaxVarintLen64]byte
	h := append(head[:0], macLabel...)
	h = append(h, 0)
	h = binary.AppendUvarint(h, uint64(len(p)))
	mac.Write(h)
	mac.Write([]byte(p))
	mac.Write(payload)
	return mac.Sum(dst)
}

// wellFormed reports whether tok is two non-empty runs of the base64url
// alphabet joined by one dot. base64's decoder skips CR and LF, so checking
// the alphabet first is what keeps each token to one spelling.
func wellFormed(tok string) bool {
	dot := -1
	for i := 0; i < len(tok); i++ {
		c := tok[i]
		switch {
		case 'A' <= c && c <= 'Z', 'a' <= c && c <= 'z', '0' <= c && c <= '9', c == '-', c == '_':
		case c == '.' && dot < 0:
			dot = i
		default:
			return false
		}
	}
	return dot > 0 && dot < len(tok)-1
}
