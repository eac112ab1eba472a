package clientip

import (
	"net/http"
	"net/http/httptest"
	"testing"
)

func TestIP(t *testing.T) {
	t.Parallel()
	trusted, err := ParseCIDRs("10.0.0.0/8, 192.168.1.7 fd00::/8")
	if err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name    string
		trusted bool // resolve with the trusted list (else with none)
		peer    string
		headers map[string][]string
		want    string
	}{
		{"no proxies trusted: header ignored", false, "10.0.0.2:5555",
			map[string][]string{"X-Forwarded-For": {"203.0.113.9"}}, "10.0.0.2"},
		{"no proxies trusted: Forwarded ignored", false, "10.0.0.2:5555",
			map[string][]string{"Forwarded": {"for=203.0.113.9"}}, "10.0.0.2"},
		{"untrusted peer: its header is ignored", true, "198.51.100.4:5555",
			map[string][]string{"X-Forwarded-For": {"203.0.113.9"}}, "198.51.100.4"},
		{"trusted peer, no header", true, "10.0.0.2:5555", nil, "10.0.0.2"},
		{"trusted peer: the client it saw", true, "10.0.0.2:5555",
			map[string][]string{"X-Forwarded-For": {"203.0.113.9"}}, "203.0.113.9"},
		{"a forged left part is skipped", true, "10.0.0.2:5555",
			map[string][]string{"X-Forwarded-For": {"1.2.3.4, 203.0.113.9"}}, "203.0.113.9"},
		{"two trusted hops", true, "10.0.0.2:5555",
			map[string][]string{"X-Forwarded-For": {"1.2.3.4, 203.0.113.9, 192.168.1.7"}}, "203.0.113.9"},
		{"chain over two header lines", true, "10.0.0.2:5555",
			map[string][]string{"X-Forwarded-For": {"1.2.3.4, 203.0.113.9", "10.1.1.1"}}, "203.0.113.9"},
		{"every hop trusted: the first", true, "10.0.0.2:5555",
			map[string][]string{"X-Forwarded-For": {"10.9.9.9, 10.1.1.1"}}, "10.9.9.9"},
		{"address with a port", true, "10.0.0.2:5555",
			map[string][]string{"X-Forwarded-For": {"203.0.113.9:41000"}}, "203.0.113.9"},
		{"IPv6 client, IPv6 proxy", true, "[fd00::1]:443",
			map[string][]string{"X-Forwarded-For": {"2001:db8::17"}}, "2001:db8::17"},
		{"IPv6 client in brackets with a port", true, "[fd00::1]:443",
			map[string][]string{"X-Forwarded-For": {"[2001:db8::17]:4711"}}, "2001:db8::17"},
		{"IPv4-mapped peer is trusted as IPv4", true, "[::ffff:10.0.0.2]:443",
			map[string][]string{"X-Forwarded-For": {"203.0.113.9"}}, "203.0.113.9"},
		{"untrusted IPv6 peer", true, "[2001:db8::99]:443",
			map[string][]string{"X-Forwarded-For": {"203.0.113.9"}}, "2001:db8::99"},
		{"Forwarded", true, "10.0.0.2:5555",
			map[string][]string{"Forwarded": {`for=198.51.100.1;proto=https, for="[2001:db8:cafe::17]:4711";by=10.0.0.2`}}, "2001:db8:cafe::17"},
		{"Forwarded with a trusted last hop", true, "10.0.0.2:5555",
			map[string][]string{"Forwarded": {`For="198.51.100.1:80"`, "for=10.3.3.3"}}, "198.51.100.1"},
		{"X-Forwarded-For wins over Forwarded", true, "10.0.0.2:5555",
			map[string][]string{"X-Forwarded-For": {"203.0.113.9"}, "Forwarded": {"for=198.51.100.1"}}, "203.0.113.9"},
		{"malformed: a name", true, "10.0.0.2:5555",
			map[string][]string{"X-Forwarded-For": {"client.example.org"}}, "10.0.0.2"},
		{"malformed: an empty hop", true, "10.0.0.2:5555",
			map[string][]string{"X-Forwarded-For": {"203.0.113.9,,10.1.1.1"}}, "10.0.0.2"},
		{"malformed: garbage", true, "10.0.0.2:5555",
			map[string][]string{"X-Forwarded-For": {"<script>"}}, "10.0.0.2"},
		{"malformed: an IPv6 zone", true, "10.0.0.2:5555",
			map[string][]string{"X-Forwarded-For": {"fe80::1%eth0"}}, "10.0.0.2"},
		{"malformed Forwarded: unknown", true, "10.0.0.2:5555",
			map[string][]string{"Forwarded": {"for=unknown"}}, "10.0.0.2"},
		{"malformed Forwarded: no for", true, "10.0.0.2:5555",
			map[string][]string{"Forwarded": {"proto=https"}}, "10.0.0.2"},
		{"malformed Forwarded: bare IPv6 with port", true, "10.0.0.2:5555",
			map[string][]string{"Forwarded": {`for="[2001:db8::1"`}}, "10.0.0.2"},
		{"peer that is not an address", true, "@", nil, "@"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			r := httptest.NewRequest(http.MethodGet, "/", nil)
			r.RemoteAddr = tc.peer
			for k, vs := range tc.headers {
				for _, v := range vs {
					r.Header.Add(k, v)
				}
			}
			res := New(nil)
			if tc.trusted {
				res = New(trusted)
			}
			if got := res.IP(r); got != tc.want {
				t.Errorf("IP = %q, want %q", got, tc.want)
			}
		})
	}
}

func TestParseCIDRs(t *testing.T) {
	t.Parallel()
	got, err := ParseCIDRs(" 10.1.2.3/8,2001:db8::1 ")
	if err != nil {
		t.Fatal(err)
	}
	if len(got) != 2 || got[0].String() != "10.0.0.0/8" || got[1].String() != "2001:db8::1/128" {
		t.Errorf("ParseCIDRs = %v", got)
	}
	if got, err := ParseCIDRs(""); err != nil || len(got) != 0 {
		t.Errorf("ParseCIDRs(\"\") = %v, %v; want none", got, err)
	}
	for _, bad := range []string{"10.0.0.0/33", "proxy.internal", "10.0.0.0/8;"} {
		if _, err := ParseCIDRs(bad); err == nil {
			t.Errorf("ParseCIDRs(%q) took it", bad)
		}
	}
}

func TestHandlerGivesHandlersTheClient(t *testing.T) {
	t.Parallel()
	trusted, err := ParseCIDRs("10.0.0.0/8")
	if err != nil {
		t.Fatal(err)
	}
	var seen string
	h := New(trusted).Handler(http.HandlerFunc(func(_ http.ResponseWriter, r *http.Request) { seen = r.RemoteAddr }))
	for _, tc := range []struct{ peer, xff, want string }{
		{"10.0.0.2:5555", "2001:db8::17", "[2001:db8::17]:0"},
		{"10.0.0.2:5555", "", "10.0.0.2:5555"},
		{"198.51.100.4:5555", "203.0.113.9", "198.51.100.4:5555"},
	} {
		r := httptest.NewRequest(http.MethodGet, "/", nil)
		r.RemoteAddr = tc.peer
		if tc.xff != "" {
			r.Header.Set("X-Forwarded-For", tc.xff)
		}
		h.ServeHTTP(httptest.NewRecorder(), r)
		if seen != tc.want {
			t.Errorf("peer %s, X-Forwarded-For %q: handler saw %q, want %q", tc.peer, tc.xff, seen, tc.want)
		}
		if r.RemoteAddr != tc.peer {
			t.Errorf("the caller's request was changed to %q", r.RemoteAddr)
		}
	}
}
