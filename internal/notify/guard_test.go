package notify_test

import (
	"errors"
	"net/http"
	"net/http/httptest"
	"net/netip"
	"net/url"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/nudgehq/nudge/internal/notify"
	"go.uber.org/goleak"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

func TestCheckURL(t *testing.T) {
	t.Parallel()
	prod := notify.Guard{}
	dev := notify.Guard{Development: true}
	office := notify.Guard{Allow: []netip.Prefix{netip.MustParsePrefix("10.20.0.0/16")}}
	for _, tt := range []struct {
		name   string
		g      notify.Guard
		url    string
		reason string // "" when allowed
	}{
		{"public https", prod, "https://hooks.clinic.example/nudge?v=1", ""},
		{"public address", prod, "https://203.0.113.7:8443/hook", ""},
		{"http in production", prod, "http://hooks.clinic.example/nudge", notify.ReasonScheme},
		{"ftp", dev, "ftp://hooks.clinic.example/", notify.ReasonScheme},
		{"credentials", prod, "https://user:pass@hooks.clinic.example/", notify.ReasonCredentials},
		{"user only", dev, "http://user@127.0.0.1/", notify.ReasonCredentials},
		{"loopback", prod, "https://127.0.0.1/hook", notify.ReasonNotPublic},
		{"loopback, other form", prod, "https://127.1.2.3:9000/", notify.ReasonNotPublic},
		{"IPv6 loopback", prod, "https://[::1]/", notify.ReasonNotPublic},
		{"IPv4-mapped loopback", prod, "https://[::ffff:127.0.0.1]/", notify.ReasonNotPublic},
		{"metadata service", prod, "https://169.254.169.254/latest/meta-data/", notify.ReasonNotPublic},
		{"metadata service in development", dev, "http://169.254.169.254/latest/meta-data/", notify.ReasonNotPublic},
		{"unspecified", prod, "https://0.0.0.0/", notify.ReasonNotPublic},
		{"private", prod, "https://10.20.1.2/", notify.ReasonNotPublic},
		{"private in development", dev, "http://192.168.1.10/", notify.ReasonNotPublic},
		{"carrier-grade NAT", prod, "https://100.64.0.1/", notify.ReasonNotPublic},
		{"unique local IPv6", prod, "https://[fd00::1]/", notify.ReasonNotPublic},
		{"NAT64 of loopback", prod, "https://[64:ff9b::7f00:1]/", notify.ReasonNotPublic},
		{"localhost by name", prod, "https://localhost:8443/", notify.ReasonNotPublic},
		{"a name under localhost", prod, "https://hooks.localhost./", notify.ReasonNotPublic},
		{"allowed inside network", office, "https://10.20.1.2/hook", ""},
		{"inside network not listed", office, "https://10.21.1.2/hook", notify.ReasonNotPublic},
		{"development http loopback", dev, "http://127.0.0.1:8080/hook", ""},
		{"development localhost", dev, "http://localhost:8080/hook", ""},
		{"relative", prod, "/hook", notify.ReasonNotAbsolute},
		{"no host", prod, "https:///hook", notify.ReasonNotAbsolute},
		{"not a URL", prod, "not a url", notify.ReasonNotAbsolute},
		{"too long", prod, "https://hooks.clinic.example/" + strings.Repeat("a", notify.MaxURLLen), notify.ReasonTooLong},
	} {
		err := tt.g.CheckURL(tt.url)
		var re *notify.RefusedError
		switch {
		case tt.reason == "" && err != nil:
			t.Errorf("%s: %q refused: %v", tt.name, tt.url, err)
		case tt.reason != "" && !errors.As(err, &re):
			t.Errorf("%s: %q gave %v, want a refusal (%s)", tt.name, tt.url, err, tt.reason)
		case tt.reason != "" && (re.Reason != tt.reason || !errors.Is(err, notify.ErrReceiverRefused)):
			t.Errorf("%s: %q refused for %q (%v), want %q", tt.name, tt.url, re.Reason, err, tt.reason)
		}
	}
}

// receiver counts the requests that reach it.
func receiver(t *testing.T) (*httptest.Server, *atomic.Int32) {
	t.Helper()
	var n atomic.Int32
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		n.Add(1)
		w.WriteHeader(http.StatusNoContent)
	}))
	t.Cleanup(srv.Close)
	return srv, &n
}

func post(t *testing.T, g notify.Guard, target string) error {
	t.Helper()
	c := g.Client(5 * time.Second)
	defer c.CloseIdleConnections()
	res, err := c.Post(target, "application/json", strings.NewReader(`{}`))
	if err != nil {
		return err
	}
	res.Body.Close()
	if res.StatusCode != http.StatusNoContent {
		t.Fatalf("status %d", res.StatusCode)
	}
	return nil
}

// TestClientRefusesInsideAddressesAfterDNS: the address is checked when the
// connection is made, whatever the URL said, so a name that resolves to
// loopback is refused as a literal address is, and nothing reaches the
// receiver.
func TestClientRefusesInsideAddressesAfterDNS(t *testing.T) {
	t.Parallel()
	srv, n := receiver(t)
	u, _ := url.Parse(srv.URL)
	byName := "http://localhost:" + u.Port() + "/hook"
	for _, target := range []string{srv.URL + "/hook", byName} {
		err := post(t, notify.Guard{}, target)
		var re *notify.RefusedError
		if !errors.Is(err, notify.ErrReceiverRefused) || !errors.As(err, &re) || re.Reason != notify.ReasonNotPublic {
			t.Errorf("production post to %s: %v, want refused as not public", target, err)
		}
	}
	if got := n.Load(); got != 0 {
		t.Fatalf("%d requests reached a loopback receiver in production", got)
	}

	// Development allows a receiver on this machine, by address or name.
	for _, target := range []string{srv.URL + "/hook", byName} {
		if err := post(t, notify.Guard{Development: true}, target); err != nil {
			t.Errorf("development post to %s: %v", target, err)
		}
	}
	// So does production, for a network the operator listed.
	allowed := notify.Guard{Allow: []netip.Prefix{netip.MustParsePrefix("127.0.0.0/8"), netip.MustParsePrefix("::1/128")}}
	if err := post(t, allowed, byName); err != nil {
		t.Errorf("post to an allowed network: %v", err)
	}
	if got := n.Load(); got != 3 {
		t.Fatalf("%d requests reached the receiver, want 3", got)
	}
}

func TestClientDoesNotFollowRedirects(t *testing.T) {
	t.Parallel()
	_, n := receiver(t)
	redirect := httptest.NewServer(http.RedirectHandler("http://169.254.169.254/latest/meta-data/", http.StatusTemporaryRedirect))
	defer redirect.Close()
	c := notify.Guard{Development: true}.Client(5 * time.Second)
	defer c.CloseIdleConnections()
	res, err := c.Post(redirect.URL, "application/json", strings.NewReader(`{}`))
	if err != nil {
		t.Fatal(err)
	}
	res.Body.Close()
	if res.StatusCode != http.StatusTemporaryRedirect || n.Load() != 0 {
		t.Fatalf("status %d: the redirect was followed", res.StatusCode)
	}
}
