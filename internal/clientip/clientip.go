// Package clientip finds the address of the client behind a request that
// may have come through reverse proxies.
//
// A request's peer is whoever opened the connection: behind a load balancer,
// that is the balancer. Proxies append the address they took the request
// from to X-Forwarded-For (or to Forwarded, RFC 7239), and anyone can send
// those headers with whatever they like in them, so only what trusted
// proxies wrote counts: when the peer is trusted, the client is the
// right-most address of the chain that is not itself a trusted proxy. With no
// trusted proxies (the default) the headers are ignored and the client is the
// peer. A header that cannot be read falls back to the peer too: guessing
// would hand the choice to whoever wrote the header.
//
// X-Forwarded-For is read when a request has it, Forwarded otherwise; a proxy
// that writes only Forwarded must drop an X-Forwarded-For it receives.
package clientip

import (
	"fmt"
	"net"
	"net/http"
	"net/netip"
	"strings"
)

// Resolver finds a request's client address.
type Resolver struct {
	trusted []netip.Prefix
}

// New returns a Resolver that believes the forwarding headers written by
// proxies inside trusted. With none, it always answers the peer.
func New(trusted []netip.Prefix) *Resolver {
	return &Resolver{trusted: trusted}
}

// ParseCIDRs reads a list of networks separated by commas or spaces
// ("10.0.0.0/8, 192.168.1.7, fd00::/8"); a lone address is a network of one.
func ParseCIDRs(s string) ([]netip.Prefix, error) {
	var out []netip.Prefix
	for _, f := range strings.FieldsFunc(s, func(r rune) bool { return r == ',' || r == ' ' || r == '\t' || r == '\n' }) {
		if strings.Contains(f, "/") {
			p, err := netip.ParsePrefix(f)
			if err != nil {
				return nil, fmt.Errorf("%q is not a network (CIDR like 10.0.0.0/8 or fd00::/8)", f)
			}
			out = append(out, p.Masked())
			continue
		}
		a, err := netip.ParseAddr(f)
		if err != nil {
			return nil, fmt.Errorf("%q is not an address or a network (CIDR like 10.0.0.0/8)", f)
		}
		a = a.Unmap()
		out = append(out, netip.PrefixFrom(a, a.BitLen()))
	}
	return out, nil
}

// IP returns the client's address as text: an IPv4 or IPv6 address, or the
// peer as the connection gave it when even that is not an address (a Unix
// socket, a test).
func (r *Resolver) IP(req *http.Request) string {
	peer, ok := parseHostPort(req.RemoteAddr)
	if !ok {
		host, _, err := net.SplitHostPort(req.RemoteAddr)
		if err != nil {
			return req.RemoteAddr
		}
		return host
	}
	if r == nil || !r.isTrusted(peer) {
		return peer.String()
	}
	chain, ok := forwardedChain(req.Header)
	if !ok || len(chain) == 0 {
		return peer.String()
	}
	for i := len(chain) - 1; i >= 0; i-- {
		if !r.isTrusted(chain[i]) {
			return chain[i].String()
		}
	}
	// Every hop is one of ours: the request started inside.
	return chain[0].String()
}

func (r *Resolver) isTrusted(a netip.Addr) bool {
	for _, p := range r.trusted {
		if p.Contains(a) {
			return true
		}
	}
	return false
}

// forwardedChain reads the addresses the proxies recorded, nearest last. It
// reports false when the header is there but cannot be read.
func forwardedChain(h http.Header) ([]netip.Addr, bool) {
	if xff := h.Values("X-Forwarded-For"); len(xff) > 0 {
		return xForwardedFor(xff)
	}
	if fwd := h.Values("Forwarded"); len(fwd) > 0 {
		return forwarded(fwd)
	}
	return nil, true
}

// xForwardedFor reads "client, proxy1, proxy2" (possibly over several
// header lines).
func xForwardedFor(values []string) ([]netip.Addr, bool) {
	var chain []netip.Addr
	for _, v := range values {
		for part := range strings.SplitSeq(v, ",") {
			a, ok := parseNode(strings.TrimSpace(part))
			if !ok {
				return nil, false
			}
			chain = append(chain, a)
		}
	}
	return chain, true
}

// forwarded reads RFC 7239's for= parameters: `for=192.0.2.60;proto=https,
// for="[2001:db8::17]:4711"`. An element without for= or with an obfuscated
// or "unknown" node cannot be placed, so the header is not read.
func forwarded(values []string) ([]netip.Addr, bool) {
	var chain []netip.Addr
	for _, v := range values {
		for elem := range strings.SplitSeq(v, ",") {
			found := false
			for pair := range strings.SplitSeq(elem, ";") {
				key, val, ok := strings.Cut(strings.TrimSpace(pair), "=")
				if !ok {
					return nil, false
				}
				if !strings.EqualFold(key, "for") {
					continue
				}
				if found {
					return nil, false // two for= in one element
				}
				found = true
				if len(val) >= 2 && val[0] == '"' && val[len(val)-1] == '"' {
					val = val[1 : len(val)-1]
				}
				a, ok := parseNode(val)
				if !ok {
					return nil, false
				}
				chain = append(chain, a)
			}
			if !found {
				return nil, false
			}
		}
	}
	return chain, true
}

// parseNode reads one hop: "192.0.2.1", "192.0.2.1:80", "2001:db8::1",
// "[2001:db8::1]" or "[2001:db8::1]:443".
func parseNode(s string) (netip.Addr, bool) {
	if s == "" {
		return netip.Addr{}, false
	}
	if a, err := netip.ParseAddr(s); err == nil && a.Zone() == "" {
		return a.Unmap(), true
	}
	if strings.HasPrefix(s, "[") && strings.HasSuffix(s, "]") {
		a, err := netip.ParseAddr(s[1 : len(s)-1])
		if err != nil || a.Zone() != "" || !a.Is6() {
			return netip.Addr{}, false
		}
		return a.Unmap(), true
	}
	return parseHostPort(s)
}

// parseHostPort reads "host:port" whose host is an address.
func parseHostPort(s string) (netip.Addr, bool) {
	ap, err := netip.ParseAddrPort(s)
	if err != nil || ap.Addr().Zone() != "" {
		return netip.Addr{}, false
	}
	return ap.Addr().Unmap(), true
}

// Handler passes each request on with its RemoteAddr set to the client's
// address (IP returns it), so every handler behind it, the signup budget and
// the consent ledger among them, sees the client and not the proxy. The port
// of a forwarded client is not known and reads 0.
func (r *Resolver) Handler(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, req *http.Request) {
		ip := r.IP(req)
		if host, _, err := net.SplitHostPort(req.RemoteAddr); err == nil && host != ip {
			req = req.WithContext(req.Context()) // a shallow copy: the caller's request stays as it was
			req.RemoteAddr = net.JoinHostPort(ip, "0")
		}
		next.ServeHTTP(w, req)
	})
}
