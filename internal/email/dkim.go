package email

import (
	"crypto"
	"crypto/ed25519"
	"crypto/rsa"
	"errors"
	"fmt"
	"slices"
	"strings"

	"github.com/wneessen/go-mail"
)

// DKIMConfig makes SMTP sign every message it sends with DKIM (RFC 6376):
// relaxed/relaxed canonicalization, rsa-sha256 or ed25519-sha256 (RFC 8463).
//
// A signature covers From, To, Cc, Reply-To, Subject, Date, Message-ID, the
// MIME fields, List-Unsubscribe and List-Unsubscribe-Post (RFC 8058 asks
// that both be signed for one-click unsubscribe to be honoured), and every
// other field of Message.Headers. From, To, Subject and the two
// List-Unsubscribe fields are oversigned (listed once more than they occur),
// so a second copy of any of them added on the way breaks the signature.
type DKIMConfig struct {
	// Domain is the signing domain (d=). DMARC counts the signature only
	// when it is the From address's domain or a parent of it.
	Domain string
	// Selector (s=) names the DNS TXT record holding the public key:
	// <Selector>._domainkey.<Domain>.
	Selector string
	// Key is an *rsa.PrivateKey of at least 1024 bits (2048 recommended) or
	// an ed25519.PrivateKey.
	Key crypto.Signer
}

// dkimSigned are the header fields every signature lists, present or not:
// one that is absent is signed as absent, so it cannot be added later.
func dkimSigned() []string {
	return []string{
		"From", "Reply-To", "To", "Cc", "Subject", "Date", "Message-ID",
		"MIME-Version", "Content-Type", "Content-Transfer-Encoding",
		"List-Unsubscribe", "List-Unsubscribe-Post",
	}
}

// dkimOversigned are the fields listed once more than they occur.
func dkimOversigned() []string {
	return []string{"From", "To", "Subject", "List-Unsubscribe", "List-Unsubscribe-Post"}
}

// dkimAlgorithm names the signature algorithm for key, or fails for a key
// DKIM cannot use.
func dkimAlgorithm(key crypto.Signer) (string, error) {
	switch k := key.(type) {
	case *rsa.PrivateKey:
		if bits := k.N.BitLen(); bits < 1024 {
			return "", fmt.Errorf("the RSA key has %d bits; DKIM needs at least 1024 (2048 recommended)", bits)
		}
		return "rsa-sha256", nil
	case ed25519.PrivateKey:
		if len(k) != ed25519.PrivateKeySize {
			return "", fmt.Errorf("the Ed25519 key has %d bytes, not %d", len(k), ed25519.PrivateKeySize)
		}
		return "ed25519-sha256", nil
	case nil:
		return "", errors.New("no key")
	}
	return "", fmt.Errorf("a %T cannot sign DKIM; use an RSA or Ed25519 key", key)
}

// checkDKIM checks d and signs a sample header with it, so that a key the
// crypto library refuses fails at start rather than at the first send. It
// returns the signature algorithm.
func checkDKIM(d DKIMConfig) (string, error) {
	if !isDNSName(d.Domain) {
		return "", fmt.Errorf("domain %q is not a domain name", d.Domain)
	}
	if !isDNSName(d.Selector) {
		return "", fmt.Errorf("selector %q is not a DNS name", d.Selector)
	}
	alg, err := dkimAlgorithm(d.Key)
	if err != nil {
		return "", err
	}
	signer := mail.NewDKIMSigner(d.Domain, d.Selector, d.Key)
	if _, err := signer.Sign([]byte("From: check@"+d.Domain+"\r\n"), []byte("check\r\n")); err != nil {
		return "", fmt.Errorf("trial signature: %w", err)
	}
	return alg, nil
}

// isDNSName reports whether s is dot-separated labels of letters, digits
// and inner hyphens (underscores allowed too, as in some selectors).
func isDNSName(s string) bool {
	if s == "" || len(s) > 253 {
		return false
	}
	for label := range strings.SplitSeq(s, ".") {
		if label == "" || len(label) > 63 || label[0] == '-' || label[len(label)-1] == '-' {
			return false
		}
		for i := 0; i < len(label); i++ {
			if c := label[i]; !('a' <= c && c <= 'z' || 'A' <= c && c <= 'Z' || '0' <= c && c <= '9' || c == '-' || c == '_') {
				return false
			}
		}
	}
	return true
}

// dkimSigner returns a signer for one message whose extra header fields are
// named extra. Each message gets its own: go-mail's signer records its
// algorithm on first use, so one shared by concurrent sends would race.
func (s *SMTP) dkimSigner(extra []string) *mail.DKIMSigner {
	d := s.cfg.DKIM
	headers := dkimSigned()
	for _, name := range extra {
		// A field name is any printable ASCII but ":"; only a token of
		// letters, digits and hyphens can go in the colon-separated h= tag
		// of a semicolon-separated tag list.
		if isToken(name) && !slices.ContainsFunc(headers, func(h string) bool { return strings.EqualFold(h, name) }) {
			headers = append(headers, name)
		}
	}
	signer := mail.NewDKIMSigner(d.Domain, d.Selector, d.Key)
	signer.SignHeaders(headers...)
	signer.OversignHeaders(dkimOversigned()...)
	signer.NowFunc = s.now
	return signer
}

func isToken(s string) bool {
	if s == "" {
		return false
	}
	for i := 0; i < len(s); i++ {
		if c := s[i]; !('a' <= c && c <= 'z' || 'A' <= c && c <= 'Z' || '0' <= c && c <= '9' || c == '-') {
			return false
		}
	}
	return true
}
