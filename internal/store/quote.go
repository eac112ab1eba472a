package store

import (
	"context"
	"errors"
	"fmt"

	"github.com/redis/go-redis/v9"
)

// ConsentQuoteNotes is the consent action of turning "quote my notes back
// to me" on or off; Detail says which.
const ConsentQuoteNotes = "quote-notes"

// fQuoteNotes marks a subscriber who wants their own notes quoted in their
// monthly review: "1", or absent (the default, off).
const fQuoteNotes = "qn"

// setQuoteScript sets or clears the mark on a record that exists and adds
// the consent line, in one step. KEYS: subscriber, consent ledger. ARGV:
// "1" or "", the consent line (or "" for none). It returns 1 when the
// setting changed, 0 when it was already so, -1 when there is no record.
var setQuoteScript = redis.NewScript(`
if redis.call('EXISTS', KEYS[1]) == 0 then return -1 end
local cur = redis.call('HGET', KEYS[1], 'qn') or ''
if cur == ARGV[1] then return 0 end
if ARGV[1] == '' then redis.call('HDEL', KEYS[1], 'qn') else redis.call('HSET', KEYS[1], 'qn', ARGV[1]) end
if ARGV[2] ~= '' then redis.call('RPUSH', KEYS[2], ARGV[2]) end
return 1
`)

// SetQuoteNotes turns "quote my notes back to me" on or off and, when that
// changes anything, records ev (its Detail set to "on" or "off") in the
// consent ledger. It reports whether the setting changed.
func (s *Store) SetQuoteNotes(ctx context.Context, id string, on bool, ev ConsentEvent) (bool, error) {
	v, detail := "", "off"
	if on {
		v, detail = "1", "on"
	}
	line := ""
	if ev.Action != "" {
		ev.Detail = detail
		b, err := encodeConsent(ev)
		if err != nil {
			return false, fmt.Errorf("encode consent: %w", err)
		}
		line = string(b)
	}
	n, err := setQuoteScript.Run(ctx, s.rdb, []string{s.subKey(id), s.consentKey(id)}, v, line).Int()
	if err != nil {
		return false, fmt.Errorf("set note quoting of %s: %w", id, err)
	}
	if n < 0 {
		return false, fmt.Errorf("set note quoting of %s: %w", id, ErrNotFound)
	}
	return n == 1, nil
}

// QuoteNotes reports whether a subscriber wants their notes quoted back.
func (s *Store) QuoteNotes(ctx context.Context, id string) (bool, error) {
	v, err := s.rdb.HGet(ctx, s.subKey(id), fQuoteNotes).Result()
	if errors.Is(err, redis.Nil) {
		return false, nil
	}
	if err != nil {
		return false, fmt.Errorf("load note quoting of %s: %w", id, err)
	}
	return v == "1", nil
}
