package config

import (
	"bytes"
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/rsa"
	"crypto/x509"
	"encoding/hex"
	"encoding/json"
	"encoding/pem"
	"fmt"
	"log/slog"
	"math/big"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
)

func pemPKCS8(t *testing.T, key any) string {
	t.Helper()
	der, err := x509.MarshalPKCS8PrivateKey(key)
	if err != nil {
		t.Fatal(err)
	}
	return string(pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: der}))
}

func pemPKCS1(key *rsa.PrivateKey) string {
	return string(pem.EncodeToMemory(&pem.Block{Type: "RSA PRIVATE KEY", Bytes: x509.MarshalPKCS1PrivateKey(key)}))
}

func rsaKey(t *testing.T, bits int) *rsa.PrivateKey {
	t.Helper()
	k, err := rsa.GenerateKey(rand.Reader, bits)
	if err != nil {
		t.Fatal(err)
	}
	return k
}

// shortRSAKey is a 512-bit key, which crypto/rsa no longer generates.
func shortRSAKey(t *testing.T) *rsa.PrivateKey {
	t.Helper()
	for {
		p, err := rand.Prime(rand.Reader, 256)
		if err != nil {
			t.Fatal(err)
		}
		q, err := rand.Prime(rand.Reader, 256)
		if err != nil {
			t.Fatal(err)
		}
		one := big.NewInt(1)
		phi := new(big.Int).Mul(new(big.Int).Sub(p, one), new(big.Int).Sub(q, one))
		d := new(big.Int).ModInverse(big.NewInt(65537), phi)
		n := new(big.Int).Mul(p, q)
		if d == nil || n.BitLen() != 512 {
			continue
		}
		return &rsa.PrivateKey{PublicKey: rsa.PublicKey{N: n, E: 65537}, D: d, Primes: []*big.Int{p, q}}
	}
}

// pemBody is the base64 inside a PEM text, the part that must never be shown.
func pemBody(s string) []string {
	var lines []string
	for _, l := range strings.Split(s, "\n") {
		if len(l) >= 16 && !strings.HasPrefix(l, "-----") {
			lines = append(lines, l[:16])
		}
	}
	return lines
}

func TestLoadDKIM(t *testing.T) {
	t.Parallel()
	rsa2048 := rsaKey(t, 2048)
	_, ed, err := ed25519.GenerateKey(rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	keyFile := filepath.Join(t.TempDir(), "dkim.pem")
	if err := os.WriteFile(keyFile, []byte(pemPKCS1(rsa2048)), 0o600); err != nil {
		t.Fatal(err)
	}
	edPEM := pemPKCS8(t, ed)

	tests := []struct {
		name    string
		vars    map[string]string
		keyFile string
		ed      bool
	}{
		{"RSA PKCS #8 in the variable", with(production, "NUDGE_DKIM_DOMAIN", "Example.ORG.", "NUDGE_DKIM_SELECTOR", "nudge2026",
			"NUDGE_DKIM_PRIVATE_KEY", pemPKCS8(t, rsa2048)), "", false},
		{"RSA PKCS #1 in a file", with(production, "NUDGE_DKIM_DOMAIN", "example.org", "NUDGE_DKIM_SELECTOR", "nudge2026",
			"NUDGE_DKIM_PRIVATE_KEY_FILE", keyFile), keyFile, false},
		{"Ed25519 on one line with \\n", with(production, "NUDGE_DKIM_DOMAIN", "example.org", "NUDGE_DKIM_SELECTOR", "nudge2026",
			"NUDGE_DKIM_PRIVATE_KEY", strings.ReplaceAll(strings.TrimSpace(edPEM), "\n", `\n`)), "", true},
		{"a certificate before the key", with(production, "NUDGE_DKIM_DOMAIN", "example.org", "NUDGE_DKIM_SELECTOR", "nudge2026",
			"NUDGE_DKIM_PRIVATE_KEY", "-----BEGIN CERTIFICATE-----\nAAAA\n-----END CERTIFICATE-----\n"+edPEM), "", true},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			c, err := Load(env(tc.vars))
			if err != nil {
				t.Fatalf("Load = %v", err)
			}
			if !c.DKIMEnabled() || c.DKIM.Domain != "example.org" || c.DKIM.Selector != "nudge2026" || c.DKIM.KeyFile != tc.keyFile {
				t.Fatalf("DKIM = %+v, enabled %v", c.DKIM, c.DKIMEnabled())
			}
			switch k := c.DKIM.Key.Signer().(type) {
			case *rsa.PrivateKey:
				if tc.ed || !k.Equal(rsa2048) {
					t.Errorf("Key is not the RSA key given")
				}
			case ed25519.PrivateKey:
				if !tc.ed || !k.Equal(ed) {
					t.Errorf("Key is not the Ed25519 key given")
				}
			default:
				t.Errorf("Key is a %T", k)
			}
			r := c.Redacted()
			wantKey := "[redacted]"
			if tc.keyFile != "" {
				wantKey = ""
			}
			want := map[string]string{"NUDGE_DKIM_DOMAIN": "example.org", "NUDGE_DKIM_SELECTOR": "nudge2026",
				"NUDGE_DKIM_PRIVATE_KEY": wantKey, "NUDGE_DKIM_PRIVATE_KEY_FILE": tc.keyFile}
			for k, v := range want {
				if r[k] != v {
					t.Errorf("Redacted[%s] = %q, want %q", k, r[k], v)
				}
			}
			if containsPrefix(c.Warnings, "NUDGE_DKIM_DOMAIN") {
				t.Errorf("Warnings = %q: the From domain matches", c.Warnings)
			}
			if got := containsPrefix(c.Warnings, "NUDGE_DKIM_PRIVATE_KEY: an Ed25519 key"); got != tc.ed {
				t.Errorf("Warnings = %q; an Ed25519 warning: %v, want %v", c.Warnings, got, tc.ed)
			}
		})
	}

	// Unset, DKIM is off and shows as empty.
	c, err := Load(env(production))
	if err != nil || c.DKIMEnabled() || c.DKIM != (DKIM{}) {
		t.Errorf("no NUDGE_DKIM_: err %v, DKIM %+v", err, c.DKIM)
	}
}

func TestLoadDKIMAllOrNothing(t *testing.T) {
	t.Parallel()
	_, ed, err := ed25519.GenerateKey(rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	key := pemPKCS8(t, ed)
	keyFile := filepath.Join(t.TempDir(), "dkim.pem")
	if err := os.WriteFile(keyFile, []byte(key), 0o600); err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name string
		kv   []string
		want []string // the variables named, in order
	}{
		{"domain only", []string{"NUDGE_DKIM_DOMAIN", "example.org"},
			[]string{"NUDGE_DKIM_SELECTOR", "NUDGE_DKIM_PRIVATE_KEY"}},
		{"selector only", []string{"NUDGE_DKIM_SELECTOR", "s1"},
			[]string{"NUDGE_DKIM_DOMAIN", "NUDGE_DKIM_PRIVATE_KEY"}},
		{"key only", []string{"NUDGE_DKIM_PRIVATE_KEY", key},
			[]string{"NUDGE_DKIM_DOMAIN", "NUDGE_DKIM_SELECTOR"}},
		{"key file only", []string{"NUDGE_DKIM_PRIVATE_KEY_FILE", keyFile},
			[]string{"NUDGE_DKIM_DOMAIN", "NUDGE_DKIM_SELECTOR"}},
		{"no key", []string{"NUDGE_DKIM_DOMAIN", "example.org", "NUDGE_DKIM_SELECTOR", "s1"},
			[]string{"NUDGE_DKIM_PRIVATE_KEY"}},
		{"key and key file", []string{"NUDGE_DKIM_DOMAIN", "example.org", "NUDGE_DKIM_SELECTOR", "s1",
			"NUDGE_DKIM_PRIVATE_KEY", key, "NUDGE_DKIM_PRIVATE_KEY_FILE", keyFile},
			[]string{"NUDGE_DKIM_PRIVATE_KEY"}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			c, err := Load(env(with(production, tc.kv...)))
			var got []string
			for _, line := range problems(err) {
				name, _, _ := strings.Cut(line, ": ")
				got = append(got, name)
			}
			if diff := cmp.Diff(tc.want, got); diff != "" {
				t.Errorf("variables named (-want +got):\n%s\nproblems: %v", diff, err)
			}
			if c.DKIMEnabled() {
				t.Error("DKIM enabled by partial settings")
			}
		})
	}
	_, err = Load(env(with(production, "NUDGE_DKIM_DOMAIN", "example.org")))
	if want := "NUDGE_DKIM_PRIVATE_KEY: required (or NUDGE_DKIM_PRIVATE_KEY_FILE) when other NUDGE_DKIM_ settings are set"; !strings.Contains(fmt.Sprint(err), want) {
		t.Errorf("Load = %v, want a problem %q", err, want)
	}
}

func TestLoadDKIMBadValue(t *testing.T) {
	t.Parallel()
	_, ed, err := ed25519.GenerateKey(rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	ec, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	good := pemPKCS8(t, ed)
	// A key whose DER is cut short: armour and base64 that look right.
	block, _ := pem.Decode([]byte(pemPKCS8(t, rsaKey(t, 1024))))
	truncated := string(pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: block.Bytes[:len(block.Bytes)/2]}))
	pubDER, err := x509.MarshalPKIXPublicKey(ed.Public())
	if err != nil {
		t.Fatal(err)
	}
	public := string(pem.EncodeToMemory(&pem.Block{Type: "PUBLIC KEY", Bytes: pubDER}))
	encrypted := strings.Replace(strings.Replace(good, "BEGIN PRIVATE KEY", "BEGIN ENCRYPTED PRIVATE KEY", 1), "END PRIVATE KEY", "END ENCRYPTED PRIVATE KEY", 1)

	dir := t.TempDir()
	big := filepath.Join(dir, "big.pem")
	if err := os.WriteFile(big, bytes.Repeat([]byte("A"), maxKeyFile+1), 0o600); err != nil {
		t.Fatal(err)
	}

	tests := []struct {
		name, variable, value, want string
	}{
		{"not PEM", "NUDGE_DKIM_PRIVATE_KEY", "MIIEvQIBADANBgkqhkiG9w0BAQEFAASC", "not a PEM private key"},
		{"truncated key", "NUDGE_DKIM_PRIVATE_KEY", truncated, "the PRIVATE KEY block does not parse"},
		{"512-bit RSA", "NUDGE_DKIM_PRIVATE_KEY", pemPKCS1(shortRSAKey(t)), "the RSA key has 512 bits; DKIM needs at least 1024"},
		{"EC PKCS #8", "NUDGE_DKIM_PRIVATE_KEY", pemPKCS8(t, ec), "an EC key cannot sign DKIM"},
		{"public key", "NUDGE_DKIM_PRIVATE_KEY", public, `no private key among the PEM blocks (found "PUBLIC KEY")`},
		{"encrypted", "NUDGE_DKIM_PRIVATE_KEY", encrypted, "encrypted; give it unencrypted"},
		{"missing file", "NUDGE_DKIM_PRIVATE_KEY_FILE", filepath.Join(dir, "nope.pem"), "does not exist"},
		{"directory", "NUDGE_DKIM_PRIVATE_KEY_FILE", dir, "cannot be read"},
		{"huge file", "NUDGE_DKIM_PRIVATE_KEY_FILE", big, "larger than 64 KiB"},
		{"domain without a dot", "NUDGE_DKIM_DOMAIN", "localhost", `"localhost" is not a domain name`},
		{"domain with a space", "NUDGE_DKIM_DOMAIN", "example .org", "is not a domain name"},
		{"selector with a semicolon", "NUDGE_DKIM_SELECTOR", "s1;x=y", "is not a selector"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			vars := with(production, "NUDGE_DKIM_DOMAIN", "example.org", "NUDGE_DKIM_SELECTOR", "s1", "NUDGE_DKIM_PRIVATE_KEY", good)
			if tc.variable == "NUDGE_DKIM_PRIVATE_KEY_FILE" {
				vars = with(vars, "NUDGE_DKIM_PRIVATE_KEY", "")
			}
			vars = with(vars, tc.variable, tc.value)
			c, err := Load(env(vars))
			lines := problems(err)
			if len(lines) != 1 || !strings.HasPrefix(lines[0], tc.variable+": ") || !strings.Contains(lines[0], tc.want) {
				t.Fatalf("Load = %q, want one problem %s: …%s", lines, tc.variable, tc.want)
			}
			if c.DKIMEnabled() {
				t.Error("DKIM enabled despite the problem")
			}
			// The problem never quotes the key.
			if tc.variable == "NUDGE_DKIM_PRIVATE_KEY" {
				for _, part := range pemBody(tc.value) {
					if strings.Contains(lines[0], part) {
						t.Errorf("the problem quotes the key: %s", lines[0])
					}
				}
			}
		})
	}
}

func TestDKIMWarnings(t *testing.T) {
	t.Parallel()
	weak := pemPKCS1(rsaKey(t, 1024))
	base := with(production, "NUDGE_DKIM_SELECTOR", "s1", "NUDGE_DKIM_PRIVATE_KEY", weak)
	tests := []struct {
		name     string
		vars     map[string]string
		mismatch bool
	}{
		{"same domain", with(base, "NUDGE_DKIM_DOMAIN", "example.org"), false},
		{"From under the signing domain", with(base, "NUDGE_DKIM_DOMAIN", "example.org", "NUDGE_EMAIL_FROM", "n@news.example.org"), false},
		{"signing domain under From", with(base, "NUDGE_DKIM_DOMAIN", "mail.example.org"), false},
		{"another domain", with(base, "NUDGE_DKIM_DOMAIN", "mailer.example.net"), true},
		{"a look-alike domain", with(base, "NUDGE_DKIM_DOMAIN", "ample.org"), true},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			c, err := Load(env(tc.vars))
			if err != nil {
				t.Fatal(err)
			}
			if !containsPrefix(c.Warnings, "NUDGE_DKIM_PRIVATE_KEY: a 1024-bit RSA key; 2048 bits is recommended") {
				t.Errorf("Warnings = %q, want one about the 1024-bit key", c.Warnings)
			}
			got := containsPrefix(c.Warnings, "NUDGE_DKIM_DOMAIN "+c.DKIM.Domain+" does not match the domain of NUDGE_EMAIL_FROM")
			if got != tc.mismatch {
				t.Errorf("Warnings = %q; a domain mismatch warning: %v, want %v", c.Warnings, got, tc.mismatch)
			}
			for _, w := range c.Warnings {
				if strings.Contains(w, "@") {
					t.Errorf("a warning shows an address: %q", w)
				}
			}
		})
	}

	// Development without a relay: nothing would be signed.
	c, err := Load(env(map[string]string{"NUDGE_DKIM_DOMAIN": "example.org", "NUDGE_DKIM_SELECTOR": "s1", "NUDGE_DKIM_PRIVATE_KEY": weak}))
	if err != nil || !containsPrefix(c.Warnings, "NUDGE_DKIM_ settings are set, but email goes to the dev outbox") {
		t.Errorf("dev outbox with DKIM: err %v, warnings %q", err, c.Warnings)
	}
}

func TestDKIMKeyNeverShown(t *testing.T) {
	t.Parallel()
	rsaPriv := rsaKey(t, 2048)
	_, ed, err := ed25519.GenerateKey(rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	for name, key := range map[string]any{"rsa": rsaPriv, "ed25519": ed} {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			text := pemPKCS8(t, key)
			c, err := Load(env(with(production, "NUDGE_DKIM_DOMAIN", "example.org", "NUDGE_DKIM_SELECTOR", "s1", "NUDGE_DKIM_PRIVATE_KEY", text)))
			if err != nil {
				t.Fatal(err)
			}
			var logged bytes.Buffer
			slog.New(slog.NewJSONHandler(&logged, nil)).Info("x", "config", c, "dkim", c.DKIM, "key", c.DKIM.Key)
			slog.New(slog.NewTextHandler(&logged, nil)).Info("x", "config", c, "dkim", c.DKIM, "key", c.DKIM.Key)
			js, err := json.Marshal(c.DKIM)
			if err != nil {
				t.Fatal(err)
			}
			out := logged.String() + string(js)
			for _, verb := range []string{"%v", "%+v", "%#v", "%s", "%d", "%x", "%q"} {
				out += fmt.Sprintf(verb, c) + fmt.Sprintf(verb, c.DKIM) + fmt.Sprintf(verb, c.DKIM.Key) + fmt.Sprintf(verb, *c.DKIM.Key)
			}
			// What would give the key away: its PEM text, and its numbers
			// or bytes as fmt prints them.
			secrets := pemBody(text)
			switch k := key.(type) {
			case *rsa.PrivateKey:
				secrets = append(secrets, k.D.String()[:24], k.Primes[0].String()[:24], fmt.Sprintf("%x", k.D.Bytes())[:24])
			case ed25519.PrivateKey:
				secrets = append(secrets, hex.EncodeToString(k.Seed())[:24], fmt.Sprint([]byte(k.Seed()))[:24])
			}
			for _, s := range secrets {
				if strings.Contains(out, s) {
					t.Fatalf("the key shows (%q) in:\n%s", s, out)
				}
			}
			if !strings.Contains(out, "[redacted]") {
				t.Errorf("no [redacted] in:\n%s", out)
			}
		})
	}
}
