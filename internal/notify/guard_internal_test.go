package notify

import (
	"errors"
	"testing"
)

// TestControlSeesTheDialledAddress: the dialler's hook refuses inside
// addresses as the DNS answer gave them, before any packet is sent.
func TestControlSeesTheDialledAddress(t *testing.T) {
	t.Parallel()
	for _, addr := range []string{"169.254.169.254:80", "127.0.0.1:6379", "[::1]:443", "10.0.0.8:443", "[fe80::1%eth0]:443", "nonsense"} {
		if err := (Guard{}).control("tcp", addr, nil); !errors.Is(err, ErrReceiverRefused) {
			t.Errorf("control(%s) = %v, want refused", addr, err)
		}
	}
	if err := (Guard{}).control("tcp4", "203.0.113.7:443", nil); err != nil {
		t.Errorf("a public address was refused: %v", err)
	}
	if err := (Guard{Development: true}).control("tcp6", "[::1]:8080", nil); err != nil {
		t.Errorf("development refused loopback: %v", err)
	}
}
