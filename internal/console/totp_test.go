package console

import (
	"bytes"
	"net/url"
	"strings"
	"testing"
	"time"
)

var rfcSecret = []byte("12345678901234567890")

// RFC 4226, appendix D: HOTP of the counters 0 to 9.
func TestHOTPMatchesRFC4226(t *testing.T) {
	want := []string{"755224", "287082", "359152", "969429", "338314", "254676", "287922", "162583", "399871", "520489"}
	for i, w := range want {
		if got := hotp(rfcSecret, uint64(i), 6); got != w {
			t.Errorf("HOTP(%d) = %s, want %s", i, got, w)
		}
	}
}

// RFC 6238, appendix B, the SHA-1 rows: eight digits there; the six-digit
// code is the same value modulo 10^6.
func TestTOTPMatchesRFC6238(t *testing.T) {
	for _, v := range []struct {
		unix int64
		code string
	}{
		{59, "94287082"}, {1111111109, "07081804"}, {1111111111, "14050471"},
		{1234567890, "89005924"}, {2000000000, "69279037"}, {20000000000, "65353130"},
	} {
		at := time.Unix(v.unix, 0)
		if got := hotp(rfcSecret, uint64(totpStep(at)), 8); got != v.code {
			t.Errorf("TOTP at %d = %s, want %s", v.unix, got, v.code)
		}
		six := v.code[2:]
		if got := totpCode(rfcSecret, totpStep(at)); got != six {
			t.Errorf("six-digit TOTP at %d = %s, want %s", v.unix, got, six)
		}
		step, ok := totpMatch(rfcSecret, six, at)
		if !ok || step != totpStep(at) {
			t.Errorf("the code of %d is not accepted at its own time", v.unix)
		}
	}
}

func TestTOTPAcceptsOneStepEitherSideOnly(t *testing.T) {
	at := time.Unix(1234567890, 0)
	code := totpCode(rfcSecret, totpStep(at))
	for d, want := range map[time.Duration]bool{
		-30 * time.Second: true, 30 * time.Second: true, 0: true,
		-60 * time.Second: false, 60 * time.Second: false, 10 * time.Minute: false,
	} {
		if _, ok := totpMatch(rfcSecret, code, at.Add(d)); ok != want {
			t.Errorf("code checked %s later: accepted %v, want %v", d, ok, want)
		}
	}
	if _, ok := totpMatch(rfcSecret, code[:3]+" "+code[3:], at); !ok {
		t.Errorf("a code typed with a space is refused")
	}
	for _, bad := range []string{"", "12345", "1234567", "abcdef", strings.Repeat("9", 6)} {
		if _, ok := totpMatch(rfcSecret, bad, at); ok && bad != code {
			t.Errorf("%q accepted", bad)
		}
	}
}

func TestSealedSecretsOpenOnlyForTheirStaffMember(t *testing.T) {
	s := &Server{c: Config{SealKey: bytes.Repeat([]byte{7}, 32)}}
	secret := newTOTPSecret()
	sealed, err := s.seal("staff-a", secret)
	if err != nil {
		t.Fatal(err)
	}
	if strings.Contains(sealed, b32.EncodeToString(secret)) {
		t.Fatal("the secret is stored in the clear")
	}
	got, err := s.unseal("staff-a", sealed)
	if err != nil || !bytes.Equal(got, secret) {
		t.Fatalf("unseal: %v", err)
	}
	if _, err := s.unseal("staff-b", sealed); err == nil {
		t.Error("another staff member's sealed secret opened")
	}
	other := &Server{c: Config{SealKey: bytes.Repeat([]byte{8}, 32)}}
	if _, err := other.unseal("staff-a", sealed); err == nil {
		t.Error("opened under another key")
	}
}

func TestOTPAuthURI(t *testing.T) {
	u, err := url.Parse(otpauthURI("dr@clinic.test", rfcSecret))
	if err != nil {
		t.Fatal(err)
	}
	q := u.Query()
	if u.Scheme != "otpauth" || u.Host != "totp" || q.Get("secret") != "GEZDGNBVGY3TQOJQGEZDGNBVGY3TQOJQ" || q.Get("digits") != "6" || q.Get("period") != "30" || q.Get("algorithm") != "SHA1" {
		t.Errorf("uri %s", u)
	}
	if label, _ := url.PathUnescape(strings.TrimPrefix(u.EscapedPath(), "/")); label != "nudge:dr@clinic.test" {
		t.Errorf("label %q", label)
	}
}

func TestCSVCellsAreNotFormulas(t *testing.T) {
	for in, want := range map[string]string{
		"=HYPERLINK(\"x\")": "'=HYPERLINK(\"x\")", "+1": "'+1", "-2+3": "'-2+3", "@SUM(A1)": "'@SUM(A1)",
		"\tx": "'\tx", "\rx": "'\rx", "client.view": "client.view", "": "", "192.0.2.1": "192.0.2.1", "::1": "::1",
	} {
		if got := csvSafe(in); got != want {
			t.Errorf("csvSafe(%q) = %q, want %q", in, got, want)
		}
	}
}

func TestOwnerTextsInBothLocales(t *testing.T) {
	for k := range ownerTexts["en"] {
		if _, ok := ownerTexts["es"][k]; !ok {
			t.Errorf("%s has no Spanish", k)
		}
	}
	for k := range ownerTexts["es"] {
		if _, ok := ownerTexts["en"][k]; !ok {
			t.Errorf("%s has no English", k)
		}
	}
	for d := range ownerNotices {
		if _, ok := ownerTexts["en"]["owner.done."+d]; !ok {
			t.Errorf("notice %s has no text", d)
		}
	}
}
