package doctor_test

import (
	"context"
	"crypto/ed25519"
	"crypto/rand"
	"crypto/rsa"
	"crypto/x509"
	"encoding/base64"
	"errors"
	"strings"
	"testing"

	"github.com/nudgehq/nudge/internal/doctor"
	"go.uber.org/goleak"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

func lookup(records ...string) doctor.LookupTXT {
	return func(_ context.Context, name string) ([]string, error) {
		if name != "sel._domainkey.example.org" {
			return nil, errors.New("no such host")
		}
		return records, nil
	}
}

func TestDKIM(t *testing.T) {
	t.Parallel()
	key, err := rsa.GenerateKey(rand.Reader, 1024)
	if err != nil {
		t.Fatal(err)
	}
	other, err := rsa.GenerateKey(rand.Reader, 1024)
	if err != nil {
		t.Fatal(err)
	}
	spki, _ := x509.MarshalPKIXPublicKey(&key.PublicKey)
	otherSPKI, _ := x509.MarshalPKIXPublicKey(&other.PublicKey)
	pkcs1 := x509.MarshalPKCS1PublicKey(&key.PublicKey)
	p := base64.StdEncoding.EncodeToString(spki)
	edPub, _, _ := ed25519.GenerateKey(rand.Reader)

	for _, tc := range []struct {
		name    string
		records []string
		pub     any
		fail    string // "" for a match
	}{
		{"SubjectPublicKeyInfo", []string{"v=DKIM1; k=rsa; p=" + p}, &key.PublicKey, ""},
		{"PKCS #1, no k=", []string{"v=DKIM1; p=" + base64.StdEncoding.EncodeToString(pkcs1)}, &key.PublicKey, ""},
		{"p= split with spaces, beside other TXT", []string{"spf-ish text", "v=DKIM1; k=rsa; p=" + p[:40] + " " + p[40:] + ";"}, &key.PublicKey, ""},
		{"Ed25519", []string{"v=DKIM1; k=ed25519; p=" + base64.StdEncoding.EncodeToString(edPub)}, edPub, ""},
		{"another key", []string{"v=DKIM1; k=rsa; p=" + base64.StdEncoding.EncodeToString(otherSPKI)}, &key.PublicKey, "not the public half"},
		{"RSA published, Ed25519 held", []string{"v=DKIM1; k=rsa; p=" + p}, edPub, "not the public half"},
		{"two keys", []string{"v=DKIM1; p=" + p, "v=DKIM1; p=" + p}, &key.PublicKey, "2 DKIM keys"},
		{"no key", []string{"v=spf1 -all"}, &key.PublicKey, "holds no DKIM key"},
		{"revoked", []string{"v=DKIM1; p="}, &key.PublicKey, "revoked"},
		{"not base64", []string{"v=DKIM1; p=@@@"}, &key.PublicKey, "not base64"},
		{"not a key", []string{"v=DKIM1; p=" + base64.StdEncoding.EncodeToString([]byte("nonsense"))}, &key.PublicKey, "not an RSA public key"},
		{"short Ed25519", []string{"v=DKIM1; k=ed25519; p=AAAA"}, edPub, "not an Ed25519 public key"},
		{"unknown type", []string{"v=DKIM1; k=dsa; p=" + p}, &key.PublicKey, "k=dsa"},
	} {
		got, err := doctor.DKIM(context.Background(), lookup(tc.records...), "example.org", "sel", tc.pub)
		switch {
		case tc.fail == "" && err != nil:
			t.Errorf("%s: %v", tc.name, err)
		case tc.fail == "" && !strings.Contains(got, "matches"):
			t.Errorf("%s: %q", tc.name, got)
		case tc.fail != "" && (err == nil || !strings.Contains(err.Error(), tc.fail)):
			t.Errorf("%s: %v, want an error with %q", tc.name, err, tc.fail)
		}
	}
	if _, err := doctor.DKIM(context.Background(), lookup(), "example.org", "other", &key.PublicKey); err == nil || !strings.Contains(err.Error(), "no TXT record at other._domainkey.example.org") {
		t.Errorf("missing record: %v", err)
	}
}
