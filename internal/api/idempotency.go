package api

import (
	"context"
	"crypto/aes"
	"crypto/cipher"
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"time"

	"github.com/nudgehq/nudge/internal/domain"
	"github.com/redis/go-redis/v9"
)

// Idempotency settings.
const (
	// MaxIdempotencyKey is the longest Idempotency-Key taken.
	MaxIdempotencyKey = 255
	// IdempotencyTTL is how long a response is kept for replay.
	IdempotencyTTL = 24 * time.Hour
	// idempotencyClaimTTL bounds how long a request runs under its claim;
	// longer than the HTTP server's write timeout, so a crash mid-request
	// frees the key soon.
	idempotencyClaimTTL = time.Minute
	// DefaultMaxIdempotencyRecords is how many idempotency records a clinic
	// keeps at most (Config.MaxIdempotencyRecords); a new key past it drops
	// the oldest. A kept response is about a kilobyte, so a clinic holds
	// at most about 10 MB of them. At the default budget of 20 requests a
	// second, 10,000 records reach back at least eight minutes, well past
	// a client's retry of a lost answer, and far past a running request's
	// one-minute claim, which is therefore never the one dropped.
	DefaultMaxIdempotencyRecords = 10_000
)

// Why the oldest record is dropped rather than the new request refused: a
// refusal would stop a busy clinic's integration from enrolling anyone
// until records expired (up to 24 hours), to protect replays of requests
// that were answered long ago. Dropping keeps Redis bounded and the clinic
// working; what is lost is only the replay of a key older than the newest
// MaxIdempotencyRecords, which a client retrying a lost answer never uses.

// idemRecord is what an idempotency key's Redis string holds (JSON).
type idemRecord struct {
	State       string `json:"s"` // "run" while the first request runs, then "done"
	Fingerprint string `json:"f"` // SHA-256 of method, path and body
	Token       string `json:"t,omitempty"`
	Status      int    `json:"c,omitempty"`
	Sealed      []byte `json:"b,omitempty"` // the response body, sealed
}

// requestFingerprint tells requests apart under one Idempotency-Key.
func requestFingerprint(method, path string, body []byte) string {
	h := sha256.New()
	fmt.Fprintf(h, "%s\n%s\n", method, path)
	h.Write(body)
	return hex.EncodeToString(h.Sum(nil))
}

// idemKey names the record of a clinic's Idempotency-Key.
func (s *Server) idemKey(clinicID, key string) string {
	return s.idemRecordPrefix(clinicID) + idemMember(key)
}

// idemMember is a key's name in the clinic's index: the SHA-256 of the key.
func idemMember(key string) string {
	sum := sha256.Sum256([]byte(key))
	return hex.EncodeToString(sum[:])
}

func (s *Server) idemRecordPrefix(clinicID string) string {
	return s.c.Store.Prefix() + "idem:" + clinicID + ":"
}

// idemIndexKey names the sorted set of a clinic's records (member: the
// key's hash, score: when it was claimed, in Unix milliseconds).
func (s *Server) idemIndexKey(clinicID string) string {
	return s.c.Store.Prefix() + "idemidx:" + clinicID
}

// A claim is changed or dropped only by the request that made it: the
// record must still be exactly the claim.
//
// idemClaimScript claims a key and indexes it in one step, dropping index
// entries older than the records' life and, past the cap, the oldest
// records themselves. It deletes record keys it builds from ARGV[7]: fine
// on one Redis primary (Redis Cluster is not a goal).
//
// KEYS: record, index. ARGV: claim, claim TTL (ms), member, now (ms),
// record life (ms), cap, record key prefix. Returns 1 when claimed.
var (
	idemClaimScript = redis.NewScript(`
if not redis.call('SET', KEYS[1], ARGV[1], 'NX', 'PX', ARGV[2]) then return 0 end
local now, life = tonumber(ARGV[4]), tonumber(ARGV[5])
redis.call('ZADD', KEYS[2], now, ARGV[3])
redis.call('ZREMRANGEBYSCORE', KEYS[2], '-inf', '(' .. string.format('%.0f', now - life))
local over = redis.call('ZCARD', KEYS[2]) - tonumber(ARGV[6])
if over > 0 then
  local old = redis.call('ZPOPMIN', KEYS[2], over)
  for i = 1, #old, 2 do redis.call('DEL', ARGV[7] .. old[i]) end
end
redis.call('PEXPIRE', KEYS[2], ARGV[5])
return 1`)
	idemFinishScript = redis.NewScript(`
if redis.call('GET', KEYS[1]) == ARGV[1] then
  redis.call('SET', KEYS[1], ARGV[2], 'EX', ARGV[3])
  return 1
end
return 0`)
	// KEYS: record, index. ARGV: claim, member.
	idemReleaseScript = redis.NewScript(`
if redis.call('GET', KEYS[1]) == ARGV[1] then
  redis.call('ZREM', KEYS[2], ARGV[2])
  return redis.call('DEL', KEYS[1])
end
return 0`)
)

func validIdempotencyKey(k string) bool {
	if k == "" || len(k) > MaxIdempotencyKey {
		return false
	}
	for i := 0; i < len(k); i++ {
		if k[i] < 0x20 || k[i] > 0x7e {
			return false
		}
	}
	return true
}

// idempotent runs handle once per Idempotency-Key: see the package doc.
func (s *Server) idempotent(r *request, values []string, handle func(*Server, *request) response) response {
	if len(values) != 1 || !validIdempotencyKey(values[0]) {
		return invalid("Idempotency-Key", "want one key of 1 to %d printable ASCII characters", MaxIdempotencyKey)
	}
	key := values[0]
	rdb, rkey, ikey, member := s.c.Store.Redis(), s.idemKey(r.clinic.ID, key), s.idemIndexKey(r.clinic.ID), idemMember(key)
	fingerprint := requestFingerprint(r.Method, r.URL.Path, r.body)

	claim, _ := json.Marshal(idemRecord{State: "run", Fingerprint: fingerprint, Token: randomHex(16)})
	claimed := false
	for range 3 {
		n, err := idemClaimScript.Run(r.ctx(), rdb, []string{rkey, ikey}, claim, idempotencyClaimTTL.Milliseconds(), member,
			s.c.Now().UnixMilli(), IdempotencyTTL.Milliseconds(), s.c.MaxIdempotencyRecords, s.idemRecordPrefix(r.clinic.ID)).Int()
		if err != nil {
			return s.fail(r, fmt.Errorf("claim idempotency key: %w", err))
		}
		if n == 1 {
			claimed = true
			break
		}
		raw, err := rdb.Get(r.ctx(), rkey).Bytes()
		if errors.Is(err, redis.Nil) {
			continue // gone since (a released claim, an expiry): claim again
		}
		if err != nil {
			return s.fail(r, fmt.Errorf("read idempotency key: %w", err))
		}
		var rec idemRecord
		if err := json.Unmarshal(raw, &rec); err != nil {
			return s.fail(r, fmt.Errorf("decode idempotency record: %w", err))
		}
		switch {
		case rec.Fingerprint != fingerprint:
			return errorResponse(http.StatusUnprocessableEntity, domain.ErrConflict, "Idempotency-Key",
				"this Idempotency-Key was used with another request (method, path or body) in the last 24 hours: use a new key for a new request")
		case rec.State != "done":
			return errorResponse(http.StatusConflict, domain.ErrConflict, "Idempotency-Key",
				"a request with this Idempotency-Key is still running: retry in a moment")
		}
		body, err := s.open(r.clinic.ID, key, rkey, rec.Sealed)
		if err != nil {
			return s.fail(r, fmt.Errorf("replay idempotent response: %w", err))
		}
		return response{status: rec.Status, body: json.RawMessage(body), header: http.Header{"Idempotent-Replayed": {"true"}}}
	}
	if !claimed {
		return errorResponse(http.StatusConflict, domain.ErrConflict, "Idempotency-Key",
			"a request with this Idempotency-Key is still running: retry in a moment")
	}

	resp := handle(s, r)
	body := encode(resp)
	// Detached from the request: the outcome must be recorded even if the
	// client has gone.
	ctx := context.WithoutCancel(r.ctx())
	if resp.status >= 500 {
		// Not kept: the client may retry with the same key.
		if err := idemReleaseScript.Run(ctx, rdb, []string{rkey, ikey}, claim, member).Err(); err != nil {
			s.c.Logger.Warn("idempotency key not released", "clinic_id", r.clinic.ID, "err", err)
		}
	} else {
		done, _ := json.Marshal(idemRecord{State: "done", Fingerprint: fingerprint, Status: resp.status,
			Sealed: s.seal(r.clinic.ID, key, rkey, body)})
		n, err := idemFinishScript.Run(ctx, rdb, []string{rkey}, claim, done, int(IdempotencyTTL.Seconds())).Int()
		if err != nil || n == 0 {
			s.c.Logger.Warn("idempotent response not kept", "clinic_id", r.clinic.ID, "route", r.Pattern, "err", err)
		}
	}
	if body == nil {
		return resp
	}
	return response{status: resp.status, body: json.RawMessage(body), header: resp.header}
}

// sealKey derives the key a kept response is sealed with: from the service
// secret and the Idempotency-Key, which is never stored.
func (s *Server) sealKey(clinicID, key string) cipher.AEAD {
	m := hmac.New(sha256.New, s.c.Secret)
	m.Write([]byte("nudge api idempotency\x00" + clinicID + "\x00" + key))
	block, err := aes.NewCipher(m.Sum(nil))
	if err != nil {
		panic(fmt.Sprintf("api: aes: %v", err)) // a 32-byte key never fails
	}
	aead, err := cipher.NewGCM(block)
	if err != nil {
		panic(fmt.Sprintf("api: gcm: %v", err))
	}
	return aead
}

func (s *Server) seal(clinicID, key, rkey string, body []byte) []byte {
	if body == nil {
		return nil
	}
	aead := s.sealKey(clinicID, key)
	nonce := make([]byte, aead.NonceSize())
	if _, err := rand.Read(nonce); err != nil {
		panic(fmt.Sprintf("crypto/rand failed: %v", err))
	}
	return aead.Seal(nonce, nonce, body, []byte(rkey))
}

func (s *Server) open(clinicID, key, rkey string, sealed []byte) ([]byte, error) {
	if sealed == nil {
		return nil, nil
	}
	aead := s.sealKey(clinicID, key)
	if len(sealed) < aead.NonceSize() {
		return nil, errors.New("sealed response too short")
	}
	body, err := aead.Open(nil, sealed[:aead.NonceSize()], sealed[aead.NonceSize():], []byte(rkey))
	if err != nil {
		return nil, fmt.Errorf("open sealed response (was the secret changed?): %w", err)
	}
	return body, nil
}

func randomHex(n int) string {
	b := make([]byte, n)
	if _, err := rand.Read(b); err != nil {
		panic(fmt.Sprintf("crypto/rand failed: %v", err))
	}
	return hex.EncodeToString(b)
}
