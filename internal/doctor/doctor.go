// Package doctor checks that the services nudge depends on are set up the
// way it needs them: Redis (version, eviction policy, persistence, round
// trip) and the published DKIM key. The SMTP relay and Twilio are checked
// by their own channels (email.SMTP.Check, sms.Twilio.Check), so the
// doctor connects exactly as the senders do. Nothing here writes to Redis
// or sends a message.
package doctor

import (
	"bufio"
	"context"
	"crypto"
	"crypto/ed25519"
	"crypto/x509"
	"encoding/base64"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/redis/go-redis/v9"
)

// Limits the Redis check holds to.
const (
	// MinRedisMajor is the oldest Redis nudge runs on: the idempotency
	// records use ZPOPMIN (5.0).
	MinRedisMajor = 5
	// MaxPing is the slowest PING (the best of three) that passes: every
	// message costs several round trips, so a Redis further away than this
	// is a misplacement, not a network blip.
	MaxPing = 200 * time.Millisecond
)

// Redis checks the Redis rdb talks to: it answers PING quickly, is at
// least MinRedisMajor, evicts nothing (maxmemory-policy noeviction, which
// asynq needs too: an evicted key is a lost subscriber or task), and keeps
// its data on disk (AOF or RDB snapshots). It returns a one-line summary,
// or an error listing every problem found.
func Redis(ctx context.Context, rdb redis.UniversalClient) (string, error) {
	ping := time.Duration(-1)
	for range 3 {
		start := time.Now()
		if err := rdb.Ping(ctx).Err(); err != nil {
			return "", fmt.Errorf("no answer to PING: %w", err)
		}
		if d := time.Since(start); ping < 0 || d < ping {
			ping = d
		}
	}
	raw, err := rdb.Info(ctx, "server", "memory", "persistence").Result()
	if err != nil {
		return "", fmt.Errorf("INFO: %w", err)
	}
	info := parseInfo(raw)
	var problems []string

	version := info["redis_version"]
	major, _ := strconv.Atoi(strings.SplitN(version, ".", 2)[0])
	if major < MinRedisMajor {
		problems = append(problems, fmt.Sprintf("Redis %s is older than %d.0", version, MinRedisMajor))
	}
	policy := info["maxmemory_policy"]
	if policy != "noeviction" {
		problems = append(problems, fmt.Sprintf("maxmemory-policy is %s, want noeviction (under memory pressure Redis would drop subscribers and queued messages)", policy))
	}
	aof := info["aof_enabled"] == "1"
	persistence := "AOF on"
	if !aof {
		save, err := rdb.ConfigGet(ctx, "save").Result()
		switch {
		case err != nil && info["rdb_last_bgsave_status"] == "ok" && info["rdb_saves"] != "" && info["rdb_saves"] != "0":
			persistence = "RDB snapshots"
		case err != nil:
			problems = append(problems, "AOF is off and CONFIG GET save was refused, so RDB snapshots cannot be seen: turn AOF on (appendonly yes)")
		case strings.TrimSpace(save["save"]) == "":
			problems = append(problems, "no persistence: AOF is off and RDB snapshots are off (set appendonly yes, or a save schedule), so a restart loses everything")
		default:
			persistence = "RDB snapshots (" + save["save"] + ")"
		}
	}
	if ping > MaxPing {
		problems = append(problems, fmt.Sprintf("PING took %s (want under %s: is Redis far from nudge?)", ping.Round(time.Millisecond), MaxPing))
	}
	if len(problems) > 0 {
		return "", errors.New(strings.Join(problems, "; "))
	}
	return fmt.Sprintf("Redis %s, maxmemory-policy %s, %s, PING %s", version, policy, persistence, roundPing(ping)), nil
}

func roundPing(d time.Duration) string {
	if d < time.Millisecond {
		return d.Round(10 * time.Microsecond).String()
	}
	return d.Round(100 * time.Microsecond).String()
}

// parseInfo reads INFO's "key:value" lines.
func parseInfo(raw string) map[string]string {
	out := map[string]string{}
	sc := bufio.NewScanner(strings.NewReader(raw))
	for sc.Scan() {
		line := strings.TrimSpace(sc.Text())
		if line == "" || line[0] == '#' {
			continue
		}
		if k, v, ok := strings.Cut(line, ":"); ok {
			out[k] = v
		}
	}
	return out
}

// LookupTXT returns the TXT records at a name (net.Resolver.LookupTXT
// satisfies it; tests pass their own).
type LookupTXT func(ctx context.Context, name string) ([]string, error)

// DKIM checks that the key published at <selector>._domainkey.<domain> is
// the public half of the key nudge signs with, so receivers can verify its
// signatures.
func DKIM(ctx context.Context, lookup LookupTXT, domain, selector string, pub crypto.PublicKey) (string, error) {
	name := selector + "._domainkey." + domain
	txts, err := lookup(ctx, name)
	if err != nil {
		return "", fmt.Errorf("no TXT record at %s: %w", name, err)
	}
	var keys []map[string]string
	for _, t := range txts {
		tags := dkimTags(t)
		if _, ok := tags["p"]; ok {
			keys = append(keys, tags)
		}
	}
	switch len(keys) {
	case 0:
		return "", fmt.Errorf("the TXT record at %s holds no DKIM key (want v=DKIM1; k=rsa; p=…)", name)
	case 1:
	default:
		return "", fmt.Errorf("%d DKIM keys at %s: receivers may pick any, publish one", len(keys), name)
	}
	tags := keys[0]
	if tags["p"] == "" {
		return "", fmt.Errorf("the key at %s is revoked (empty p=)", name)
	}
	der, err := base64.StdEncoding.DecodeString(tags["p"])
	if err != nil {
		return "", fmt.Errorf("the p= value at %s is not base64: %w", name, err)
	}
	var published crypto.PublicKey
	switch k := strings.ToLower(tags["k"]); k {
	case "", "rsa":
		if published, err = x509.ParsePKIXPublicKey(der); err != nil {
			if published, err = x509.ParsePKCS1PublicKey(der); err != nil {
				return "", fmt.Errorf("the p= value at %s is not an RSA public key", name)
			}
		}
	case "ed25519":
		if len(der) != ed25519.PublicKeySize {
			return "", fmt.Errorf("the p= value at %s is not an Ed25519 public key (%d bytes, want %d)", name, len(der), ed25519.PublicKeySize)
		}
		published = ed25519.PublicKey(der)
	default:
		return "", fmt.Errorf("the key at %s is of type k=%s, which nudge does not sign with", name, k)
	}
	own, ok := pub.(interface{ Equal(crypto.PublicKey) bool })
	if !ok || !own.Equal(published) {
		return "", fmt.Errorf("the key published at %s is not the public half of the DKIM private key nudge signs with", name)
	}
	return "the key at " + name + " matches", nil
}

// dkimTags reads a DKIM key record's "tag=value" list; white space inside
// values (a long p= split over strings) is dropped.
func dkimTags(record string) map[string]string {
	out := map[string]string{}
	for part := range strings.SplitSeq(record, ";") {
		k, v, ok := strings.Cut(part, "=")
		if !ok {
			continue
		}
		out[strings.TrimSpace(k)] = strings.Join(strings.Fields(v), "")
	}
	return out
}
