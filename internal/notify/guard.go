package notify

import (
	"errors"
	"fmt"
	"net"
	"net/http"
	"net/netip"
	"net/url"
	"strings"
	"syscall"
	"time"
)

// ErrReceiverRefused is what every refusal of a webhook receiver matches
// (errors.Is): a URL or address that may not be called.
var ErrReceiverRefused = errors.New("webhook receiver refused")

// RefusedError says why a webhook receiver may not be called: not https in
// production, a user name or password in the URL, or an address that is
// not on the public internet (the cloud metadata service, Redis on
// localhost, the office network).
type RefusedError struct {
	// Reason is one of a few fixed phrases, safe for any log.
	Reason string
	// Detail adds what was refused (an address, a scheme); it names the
	// receiver, so it is for the clinic and the operator, not info logs.
	Detail string
}

// Reasons a receiver is refused.
const (
	ReasonNotAbsolute = "not an absolute URL"
	ReasonScheme      = "scheme not allowed"
	ReasonCredentials = "user name or password in the URL"
	ReasonTooLong     = "URL too long"
	ReasonNotPublic   = "address not public"
)

func (e *RefusedError) Error() string {
	if e.Detail == "" {
		return ErrReceiverRefused.Error() + ": " + e.Reason
	}
	return ErrReceiverRefused.Error() + ": " + e.Reason + ": " + e.Detail
}

// Is makes errors.Is(err, ErrReceiverRefused) true.
func (e *RefusedError) Is(target error) bool { return target == ErrReceiverRefused }

func refused(reason, format string, args ...any) error {
	return &RefusedError{Reason: reason, Detail: fmt.Sprintf(format, args...)}
}

// MaxURLLen is the longest webhook URL taken.
const MaxURLLen = 2048

// Guard decides which webhook receivers may be called. The URL is checked
// when a clinic sets it and again at each send; the address is checked when
// the connection is made, after DNS, so a name that resolves (or later
// rebinds) to an inside address is refused too. The zero Guard has the
// production rules.
type Guard struct {
	// Development allows http:// and loopback receivers, so a receiver on
	// the developer's machine works.
	Development bool
	// Allow lists inside networks that may be called all the same
	// (NUDGE_WEBHOOK_ALLOW_CIDRS).
	Allow []netip.Prefix
}

// CheckURL refuses a webhook URL that is not absolute http(s), is http in
// production, carries a user name or password, or names an inside address
// (an IP literal, or localhost) that is not allowed. A host name is not
// looked up here: what it resolves to is checked at each connection.
func (g Guard) CheckURL(raw string) error {
	if len(raw) > MaxURLLen {
		return refused(ReasonTooLong, "at most %d characters", MaxURLLen)
	}
	u, err := url.Parse(raw)
	if err != nil || u.Host == "" || u.Opaque != "" || u.Hostname() == "" {
		return refused(ReasonNotAbsolute, "want https://host/path")
	}
	switch {
	case u.Scheme == "https":
	case u.Scheme == "http" && g.Development:
	case g.Development:
		return refused(ReasonScheme, "want an http or https URL, not %q", u.Scheme)
	default:
		return refused(ReasonScheme, "want an https URL, not %q", u.Scheme)
	}
	if u.User != nil {
		return refused(ReasonCredentials, "authenticate the request by its Nudge-Signature instead")
	}
	host := strings.TrimSuffix(strings.ToLower(u.Hostname()), ".")
	if a, err := netip.ParseAddr(host); err == nil {
		return g.checkAddr(a)
	}
	if (host == "localhost" || strings.HasSuffix(host, ".localhost")) && !g.Development {
		return refused(ReasonNotPublic, "%s is this machine", host)
	}
	return nil
}

// checkAddr refuses an inside address unless it is allowed.
func (g Guard) checkAddr(a netip.Addr) error {
	a = a.Unmap().WithZone("")
	for _, p := range g.Allow {
		if p.Contains(a) {
			return nil
		}
	}
	if g.Development && a.IsLoopback() {
		return nil
	}
	if !a.IsGlobalUnicast() || a.IsPrivate() || a.IsLoopback() || a.IsLinkLocalUnicast() || sharedOrReserved(a) {
		return refused(ReasonNotPublic, "%s is not a public address", a)
	}
	return nil
}

// Ranges that IsGlobalUnicast and IsPrivate let through but that are not
// on the public internet.
var notPublic = []netip.Prefix{
	netip.MustParsePrefix("0.0.0.0/8"),     // "this network"; 0.0.0.0 reaches localhost on Linux
	netip.MustParsePrefix("100.64.0.0/10"), // carrier-grade NAT, some clouds' internal ranges
	netip.MustParsePrefix("192.0.0.0/24"),  // IETF protocol assignments
	netip.MustParsePrefix("198.18.0.0/15"), // benchmarking
	netip.MustParsePrefix("240.0.0.0/4"),   // reserved
	netip.MustParsePrefix("64:ff9b::/96"),  // NAT64: may map to an inside IPv4 address
	netip.MustParsePrefix("64:ff9b:1::/48"),
	netip.MustParsePrefix("2002::/16"), // 6to4: embeds an IPv4 address
}

func sharedOrReserved(a netip.Addr) bool {
	for _, p := range notPublic {
		if p.Contains(a) {
			return true
		}
	}
	return false
}

// control is a net.Dialer Control: it sees the address actually dialled,
// after DNS, for every attempt (each address of a name, IPv4 and IPv6).
func (g Guard) control(_, address string, _ syscall.RawConn) error {
	ap, err := netip.ParseAddrPort(address)
	if err != nil {
		return refused(ReasonNotPublic, "cannot read the address %q", address)
	}
	return g.checkAddr(ap.Addr())
}

// Client returns the HTTP client webhooks are posted with: timeout per
// post, connections only to addresses the guard allows, no proxy (it would
// dial for us, unchecked), and redirects not followed (a redirected POST
// would lose its body, and could point anywhere; a 3xx counts as a failure).
func (g Guard) Client(timeout time.Duration) *http.Client {
	d := &net.Dialer{Timeout: timeout, KeepAlive: 30 * time.Second, Control: g.control}
	tr := http.DefaultTransport.(*http.Transport).Clone()
	tr.Proxy = nil
	tr.DialContext = d.DialContext
	tr.MaxIdleConnsPerHost = 4
	return &http.Client{
		Timeout:   timeout,
		Transport: tr,
		CheckRedirect: func(*http.Request, []*http.Request) error {
			return http.ErrUseLastResponse
		},
	}
}
