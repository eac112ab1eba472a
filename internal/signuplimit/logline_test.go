package signuplimit

import (
	"context"
	"strings"
	"testing"

	"github.com/redis/go-redis/v9"
)

// TestIPLimitErrorCarriesNoIP checks that a failing budget check says what
// went wrong without the client's address, as its error ends up in a log line.
func TestIPLimitErrorCarriesNoIP(t *testing.T) {
	rdb := redis.NewClient(&redis.Options{Addr: "127.0.0.1:1"})
	rdb.Close() // every command now fails at once
	_, err := New(rdb, "p:", nil).AllowIP(context.Background(), "203.0.113.77")
	if err == nil {
		t.Fatal("AllowIP on a closed client succeeded")
	}
	if strings.Contains(err.Error(), "203.0.113.77") || !strings.Contains(err.Error(), "closed") {
		t.Errorf("error = %q, want the cause without the IP", err)
	}
}
