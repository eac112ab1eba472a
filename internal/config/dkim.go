package config

import (
	"crypto"
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/rsa"
	"crypto/x509"
	"encoding/pem"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"log/slog"
	"os"
	"strings"
)

// DKIMKey is a parsed DKIM private key: an RSA key of at least 1024 bits or
// an Ed25519 key. Like Secret it never shows itself: every fmt verb, slog and
// encoding/json print "[redacted]". Signer hands the key to its user.
type DKIMKey struct {
	signer crypto.Signer
}

// maxKeyFile bounds what is read from NUDGE_DKIM_PRIVATE_KEY_FILE: a PEM
// RSA key of 16384 bits is about 13 KiB.
const maxKeyFile = 64 << 10

// Signer returns the key, an *rsa.PrivateKey or an ed25519.PrivateKey.
func (k *DKIMKey) Signer() crypto.Signer { return k.signer }

// RSABits returns the size of an RSA key's modulus, or 0 for an Ed25519 key.
func (k *DKIMKey) RSABits() int {
	if r, ok := k.signer.(*rsa.PrivateKey); ok {
		return r.N.BitLen()
	}
	return 0
}

// Format prints "[redacted]" whatever the verb, so that neither %v nor %d
// nor %x of a struct holding the key reaches its numbers.
func (DKIMKey) Format(f fmt.State, _ rune) { _, _ = io.WriteString(f, "[redacted]") }

// String returns "[redacted]".
func (DKIMKey) String() string { return "[redacted]" }

// LogValue keeps slog from printing the key.
func (DKIMKey) LogValue() slog.Value { return slog.StringValue("[redacted]") }

// MarshalText keeps encoding/json from printing the key.
func (DKIMKey) MarshalText() ([]byte, error) { return []byte("[redacted]"), nil }

// dkim reads the NUDGE_DKIM_* variables: all unset, or a domain, a selector
// and exactly one of the key (PEM text) and the key file.
func (l *loader) dkim() DKIM {
	d := DKIM{
		Domain:   strings.ToLower(strings.TrimSuffix(l.get(varDKIMDomain), ".")),
		Selector: l.get(varDKIMSelector),
		KeyFile:  l.get(varDKIMKeyFile),
	}
	// Never echo this one, not even in part.
	pemText := strings.TrimSpace(l.getenv(varDKIMKey))
	if d.Domain == "" && d.Selector == "" && d.KeyFile == "" && pemText == "" {
		return DKIM{}
	}

	ok := true
	switch {
	case d.Domain == "":
		l.fail(varDKIMDomain, "required when other NUDGE_DKIM_ settings are set (the signing domain, e.g. example.org)")
		ok = false
	case !dnsName(d.Domain) || !strings.Contains(d.Domain, "."):
		l.fail(varDKIMDomain, "%q is not a domain name", d.Domain)
		ok = false
	}
	switch {
	case d.Selector == "":
		l.fail(varDKIMSelector, "required when other NUDGE_DKIM_ settings are set (the name before ._domainkey. in the DNS record)")
		ok = false
	case !dnsName(d.Selector):
		l.fail(varDKIMSelector, "%q is not a selector (letters, digits and hyphens, with dots between labels)", d.Selector)
		ok = false
	}

	var key *DKIMKey
	var err error
	switch {
	case pemText == "" && d.KeyFile == "":
		l.fail(varDKIMKey, "required (or %s) when other NUDGE_DKIM_ settings are set", varDKIMKeyFile)
	case pemText != "" && d.KeyFile != "":
		l.fail(varDKIMKey, "set either it or %s, not both", varDKIMKeyFile)
	case pemText != "":
		if key, err = parseDKIMKey([]byte(unescapeNewlines(pemText))); err != nil {
			l.fail(varDKIMKey, "%v", err)
		}
	default:
		var b []byte
		if b, err = readKeyFile(d.KeyFile); err != nil {
			l.fail(varDKIMKeyFile, "%q %v", d.KeyFile, err)
		} else if key, err = parseDKIMKey(b); err != nil {
			l.fail(varDKIMKeyFile, "%q: %v", d.KeyFile, err)
		}
	}
	if !ok || key == nil {
		return DKIM{}
	}
	d.Key = key
	return d
}

// unescapeNewlines turns a one-line PEM with literal \n sequences (what an
// env file or a secret store often holds) back into lines.
func unescapeNewlines(s string) string {
	if strings.Contains(s, "\n") {
		return s
	}
	return strings.ReplaceAll(s, `\n`, "\n")
}

// readKeyFile reads a key file; its error completes a sentence that starts
// with the file's name.
func readKeyFile(path string) ([]byte, error) {
	f, err := os.Open(path)
	if err != nil {
		if errors.Is(err, fs.ErrNotExist) {
			return nil, errors.New("does not exist")
		}
		var pe *fs.PathError
		if errors.As(err, &pe) {
			err = pe.Err
		}
		return nil, fmt.Errorf("cannot be read: %w", err)
	}
	defer f.Close()
	b, err := io.ReadAll(io.LimitReader(f, maxKeyFile+1))
	if err != nil {
		var pe *fs.PathError
		if errors.As(err, &pe) {
			err = pe.Err
		}
		return nil, fmt.Errorf("cannot be read: %w", err)
	}
	if len(b) > maxKeyFile {
		return nil, fmt.Errorf("is larger than %d KiB: not a private key", maxKeyFile>>10)
	}
	return b, nil
}

// parseDKIMKey reads the first private key in PEM data: PKCS #1 ("RSA
// PRIVATE KEY") or PKCS #8 ("PRIVATE KEY") RSA, or PKCS #8 Ed25519. Its
// errors never quote the data.
func parseDKIMKey(data []byte) (*DKIMKey, error) {
	var first string
	for {
		var block *pem.Block
		block, data = pem.Decode(data)
		if block == nil {
			break
		}
		if first == "" {
			first = block.Type
		}
		if !strings.HasSuffix(block.Type, "PRIVATE KEY") {
			continue // a certificate or public key next to the private key
		}
		if strings.Contains(block.Headers["Proc-Type"], "ENCRYPTED") || block.Type == "ENCRYPTED PRIVATE KEY" {
			return nil, errors.New("the private key is encrypted; give it unencrypted (openssl pkey -in key.pem -out plain.pem)")
		}
		var key any
		var err error
		switch block.Type {
		case "RSA PRIVATE KEY":
			key, err = x509.ParsePKCS1PrivateKey(block.Bytes)
		case "PRIVATE KEY":
			key, err = x509.ParsePKCS8PrivateKey(block.Bytes)
		case "EC PRIVATE KEY":
			return nil, errors.New("an EC key cannot sign DKIM; use an RSA key (2048 bits) or an Ed25519 key")
		default:
			return nil, fmt.Errorf("a %q block is not a key DKIM can use (want PRIVATE KEY or RSA PRIVATE KEY)", block.Type)
		}
		if err != nil {
			return nil, fmt.Errorf("the %s block does not parse: %w", block.Type, err)
		}
		switch k := key.(type) {
		case *rsa.PrivateKey:
			if bits := k.N.BitLen(); bits < 1024 {
				return nil, fmt.Errorf("the RSA key has %d bits; DKIM needs at least 1024 (2048 recommended)", bits)
			}
			return &DKIMKey{signer: k}, nil
		case ed25519.PrivateKey:
			return &DKIMKey{signer: k}, nil
		case *ecdsa.PrivateKey:
			return nil, errors.New("an EC key cannot sign DKIM; use an RSA key (2048 bits) or an Ed25519 key")
		default:
			return nil, fmt.Errorf("a %T cannot sign DKIM; use an RSA key (2048 bits) or an Ed25519 key", key)
		}
	}
	if first != "" {
		return nil, fmt.Errorf("no private key among the PEM blocks (found %q)", first)
	}
	return nil, errors.New("not a PEM private key (-----BEGIN PRIVATE KEY----- …)")
}

// dnsName reports whether s is dot-separated labels of letters, digits and
// inner hyphens (and underscores, which some selectors use).
func dnsName(s string) bool {
	if s == "" || len(s) > 253 {
		return false
	}
	for _, label := range strings.Split(s, ".") {
		if label == "" || len(label) > 63 || label[0] == '-' || label[len(label)-1] == '-' {
			return false
		}
		for _, r := range label {
			if !('a' <= r && r <= 'z' || 'A' <= r && r <= 'Z' || '0' <= r && r <= '9' || r == '-' || r == '_') {
				return false
			}
		}
	}
	return true
}

// dkimWarnings lists what an operator should know about working DKIM
// settings: a weak or not widely verified key, a signing domain that DMARC
// will not count for the From address, no relay to sign for.
func dkimWarnings(c Config) []string {
	var w []string
	keyVar := varDKIMKey
	if c.DKIM.KeyFile != "" {
		keyVar = varDKIMKeyFile
	}
	switch bits := c.DKIM.Key.RSABits(); {
	case bits == 0:
		w = append(w, keyVar+": an Ed25519 key; many receivers do not verify ed25519-sha256 signatures yet (RFC 8463), an RSA key of 2048 bits is verified everywhere")
	case bits < 2048:
		w = append(w, fmt.Sprintf("%s: a %d-bit RSA key; 2048 bits is recommended", keyVar, bits))
	case bits > 4096:
		w = append(w, fmt.Sprintf("%s: a %d-bit RSA key; receivers need not verify keys over 4096 bits (RFC 8301)", keyVar, bits))
	}
	if _, from, ok := strings.Cut(c.EmailFrom.Address, "@"); ok {
		from = strings.ToLower(strings.TrimSuffix(from, "."))
		if !aligned(from, c.DKIM.Domain) {
			w = append(w, fmt.Sprintf("%s %s does not match the domain of %s (%s): receivers checking DMARC will not count the signature",
				varDKIMDomain, c.DKIM.Domain, varEmailFrom, from))
		}
	}
	if c.DevOutbox() {
		w = append(w, "NUDGE_DKIM_ settings are set, but email goes to the dev outbox: nothing is signed")
	}
	return w
}

// aligned reports whether a signature by domain d can pass DMARC's relaxed
// alignment with a From address at domain from: the same domain, or one
// under the other. (The exact rule compares organizational domains, which
// needs the public suffix list; this is its common case.)
func aligned(from, d string) bool {
	return from == d || strings.HasSuffix(from, "."+d) || strings.HasSuffix(d, "."+from)
}
