package redistest

import (
	"context"
	"fmt"
	"strings"
	"testing"

	"github.com/redis/go-redis/v9"
)

// Traces scans every key matching each of patterns (SCAN MATCH globs, such
// as a test's prefix + "*" and "asynq:*") and returns a line for each place
// one of needles occurs, case-insensitively: in a key's name, a string's
// value, a hash's fields and values, a list's items, a set's members, or a
// sorted set's members. It is how erasure tests check that nothing of a
// person is left behind.
func Traces(tb testing.TB, rdb redis.UniversalClient, patterns, needles []string) []string {
	tb.Helper()
	ctx := context.Background()
	var found []string
	look := func(key, where, text string) {
		low := strings.ToLower(text)
		for _, n := range needles {
			if n != "" && strings.Contains(low, strings.ToLower(n)) {
				found = append(found, fmt.Sprintf("%q in %s of %s", n, where, key))
			}
		}
	}
	for _, pattern := range patterns {
		iter := rdb.Scan(ctx, 0, pattern, 1000).Iterator()
		for iter.Next(ctx) {
			key := iter.Val()
			look(key, "the name", key)
			typ, err := rdb.Type(ctx, key).Result()
			if err != nil {
				tb.Fatalf("type of %s: %v", key, err)
			}
			var values []string
			switch typ {
			case "string":
				values = []string{rdb.Get(ctx, key).Val()}
			case "hash":
				for f, v := range rdb.HGetAll(ctx, key).Val() {
					values = append(values, f, v)
				}
			case "list":
				values = rdb.LRange(ctx, key, 0, -1).Val()
			case "set":
				values = rdb.SMembers(ctx, key).Val()
			case "zset":
				values = rdb.ZRange(ctx, key, 0, -1).Val()
			case "none":
				continue // gone since the scan saw it
			default:
				tb.Fatalf("key %s has type %s, which Traces cannot read", key, typ)
			}
			for _, v := range values {
				look(key, "a "+typ+" value", v)
			}
		}
		if err := iter.Err(); err != nil {
			tb.Fatalf("scan %s: %v", pattern, err)
		}
	}
	return found
}
