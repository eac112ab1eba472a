package email

import (
	"bytes"
	"crypto"
	"crypto/ed25519"
	"crypto/rsa"
	"errors"
	"fmt"
	"strings"

	"github.com/emersion/go-msgauth/dkim"
	"github.com/wneessen/go-mail"
)

// DKIMConfig makes SMTP sign every message it sends with DKIM (RFC 6376):
// relaxed/relaxed canonicalization, rsa-sha256, or ed25519-sha256 (RFC 8463).
//
// A signature covers From, Reply-To, To, Cc, Subject, Date, Message-ID,
// MIME-Version, Content-Type, Content-Transfer-Encoding, List-Unsubscribe and
// List-Unsubscribe-Post (RFC 8058 asks that both of the last be signed for
// one-click unsubscribe to be honoured). A field the message lacks is signed
// as absent, so it cannot be added on the way; From, To, Subject and the two
// List-Unsubscribe fields are listed twice (oversigned), so a second copy of
// any of them breaks the signature too. Other fields of Message.Headers are
// not signed.
type DKIMConfig struct {
	// Domain is the signing domain (d=). DMARC counts the signature only
	// when it is the From address's domain or shares its organizational
	// domain.
	Domain string
	// Selector (s=) names the DNS TXT record holding the public key:
	// <Selector>._domainkey.<Domain>.
	Selector string
	// Key is an *rsa.PrivateKey of at least 1024 bits (2048 recommended) or
	// an ed25519.PrivateKey.
	Key crypto.Signer
}

// The signature field's name, as go-msgauth writes it.
const dkimField = "DKIM-Signature"

// dkimHeaderKeys is the h= list: each field once, then the oversigned ones
// again. Verifiers take a field's instances from the bottom up, and one
// listed more often than it occurs stands for its absence.
func dkimHeaderKeys() []string {
	return []string{
		"From", "Reply-To", "To", "Cc", "Subject", "Date", "Message-ID",
		"MIME-Version", "Content-Type", "Content-Transfer-Encoding",
		"List-Unsubscribe", "List-Unsubscribe-Post",
		"From", "To", "Subject", "List-Unsubscribe", "List-Unsubscribe-Post",
	}
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

// checkDKIM checks d and signs a sample message with it, so that a key the
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
	if _, err := dkimSignature(d, []byte("From: check@"+d.Domain+"\r\n\r\ncheck\r\n")); err != nil {
		return "", fmt.Errorf("trial signature: %w", err)
	}
	return alg, nil
}

// isDNSName reports whether s is dot-separated labels of letters, digits
// and inner hyphens (underscores allowed too, as some selectors have them).
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

// sign adds a DKIM-Signature field to msg.
//
// go-mail's own DKIM signer is not used: with more header fields than its
// default seven, it folds the h= tag inside a field name, and a relaxed
// verifier then reads a space that was not signed (every signature fails).
// Instead the message is written once and signed with go-msgauth, and the
// signature is added as a field. The first write fixes the Date, Message-ID
// and multipart boundary, so the write to the relay repeats the same bytes
// (header fields in another order, which DKIM does not mind) plus the
// signature.
func (s *SMTP) sign(msg *mail.Msg) error {
	var buf bytes.Buffer
	if _, err := msg.WriteTo(&buf); err != nil {
		return fmt.Errorf("write the message: %w", err)
	}
	sig, err := dkimSignature(*s.cfg.DKIM, buf.Bytes())
	if err != nil {
		return err
	}
	msg.SetGenHeaderPreformatted(dkimField, sig)
	return nil
}

// dkimSignature signs a whole message and returns the DKIM-Signature field's
// value, folded, without the name and the final line break.
func dkimSignature(d DKIMConfig, raw []byte) (string, error) {
	signer, err := dkim.NewSigner(&dkim.SignOptions{
		Domain:                 d.Domain,
		Selector:               d.Selector,
		Signer:                 d.Key,
		Hash:                   crypto.SHA256,
		HeaderCanonicalization: dkim.CanonicalizationRelaxed,
		BodyCanonicalization:   dkim.CanonicalizationRelaxed,
		HeaderKeys:             dkimHeaderKeys(),
	})
	if err != nil {
		return "", fmt.Errorf("DKIM signer: %w", err)
	}
	if _, err := signer.Write(raw); err != nil {
		if cerr := signer.Close(); cerr != nil {
			err = cerr // the reason the signer stopped reading
		}
		return "", fmt.Errorf("DKIM signature: %w", err)
	}
	if err := signer.Close(); err != nil {
		return "", fmt.Errorf("DKIM signature: %w", err)
	}
	field := strings.TrimSuffix(signer.Signature(), "\r\n")
	value, ok := strings.CutPrefix(field, dkimField+":")
	if !ok {
		return "", fmt.Errorf("DKIM signature: unexpected field %.20q", field)
	}
	return strings.TrimLeft(value, " "), nil
}
