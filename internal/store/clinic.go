package store

import (
	"context"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/nudgehq/nudge/internal/domain"
	"github.com/redis/go-redis/v9"
)

// Clinic keys (prefix "nudge:" by default):
//
//	clinic:<cid>                hash   the clinic (name, display name, sign-off, webhook, caps)
//	clinics                     zset   clinic ids by creation time
//	apikey:<sha256 of key>      hash   c = clinic id, k = key id (the key itself is never stored)
//	clinic:<cid>:keys           hash   key id → "<sha256>|<created>|<revoked>"
//	clinic:<cid>:clients        zset   client ids (all scored 0: ordered by id, for paging)
//	clinic:<cid>:idx:email      hash   normalised address → client id, within the clinic
//	clinic:<cid>:idx:phone      hash   E.164 number → client id, within the clinic
//	clinic:<cid>:supp           set    hashed addresses that unsubscribed from the clinic's emails
//
// A client is a subscriber record (sub:<id>) whose "cl" field names its
// clinic; it is never in the public indexes. See prompt.go for sessions and
// prompts.

// Clinic hash fields.
const (
	fcName      = "n"
	fcDisplay   = "dn"
	fcSignOff   = "so"
	fcHelpText  = "hp"
	fcCrisis    = "cr"
	fcWebhook   = "wh"
	fcSecret    = "ws"
	fcCapDay    = "cd"
	fcCapWeek   = "cw"
	fcCreatedAt = "ca"
	fcZone      = "tz"
)

func (s *Store) clinicKey(cid string) string        { return s.prefix + "clinic:" + cid }
func (s *Store) clinicsKey() string                 { return s.prefix + "clinics" }
func (s *Store) apiKeyKey(hash string) string       { return s.prefix + "apikey:" + hash }
func (s *Store) clinicKeysKey(cid string) string    { return s.prefix + "clinic:" + cid + ":keys" }
func (s *Store) clinicClientsKey(cid string) string { return s.prefix + "clinic:" + cid + ":clients" }
func (s *Store) clinicEmailKey(cid string) string   { return s.prefix + "clinic:" + cid + ":idx:email" }
func (s *Store) clinicPhoneKey(cid string) string   { return s.prefix + "clinic:" + cid + ":idx:phone" }

// suppressionKeyFor is the set an email unsubscribe puts an address in: the
// public list's, or the clinic's own. SMS STOP always goes to the public
// set: the carrier blocks our number for every list alike.
func (s *Store) suppressionKeyFor(clinic string) string {
	if clinic == "" {
		return s.suppressionKey()
	}
	return s.prefix + "clinic:" + clinic + ":supp"
}

// CreateClinic stores a new clinic with the secret its webhooks are signed
// with. It fails with a conflict if the id is taken.
func (s *Store) CreateClinic(ctx context.Context, c domain.Clinic, webhookSecret string) error {
	ok, err := s.rdb.HSetNX(ctx, s.clinicKey(c.ID), fcName, c.Name).Result()
	if err != nil {
		return fmt.Errorf("create clinic: %w", err)
	}
	if !ok {
		return fmt.Errorf("create clinic: %w", domain.Errorf(domain.ErrConflict, "clinic %s exists", c.ID))
	}
	_, err = s.rdb.TxPipelined(ctx, func(p redis.Pipeliner) error {
		p.HSet(ctx, s.clinicKey(c.ID), fcDisplay, c.DisplayName, fcSignOff, c.SignOff, fcHelpText, c.HelpText, fcCrisis, c.CrisisText, fcWebhook, c.WebhookURL,
			fcSecret, webhookSecret, fcCapDay, c.CapDay, fcCapWeek, c.CapWeek, fcZone, c.TimeZone, fcCreatedAt, unix(c.CreatedAt))
		p.ZAdd(ctx, s.clinicsKey(), redis.Z{Score: float64(c.CreatedAt.Unix()), Member: c.ID})
		return nil
	})
	if err != nil {
		return fmt.Errorf("create clinic: %w", err)
	}
	return nil
}

// Clinic loads a clinic.
func (s *Store) Clinic(ctx context.Context, cid string) (domain.Clinic, error) {
	m, err := s.rdb.HGetAll(ctx, s.clinicKey(cid)).Result()
	if err != nil {
		return domain.Clinic{}, fmt.Errorf("load clinic %s: %w", cid, err)
	}
	if len(m) == 0 {
		return domain.Clinic{}, fmt.Errorf("load clinic %s: %w", cid, ErrNotFound)
	}
	capDay, _ := strconv.Atoi(m[fcCapDay])
	capWeek, _ := strconv.Atoi(m[fcCapWeek])
	return domain.Clinic{
		ID: cid, Name: m[fcName], DisplayName: m[fcDisplay], SignOff: m[fcSignOff], HelpText: m[fcHelpText], CrisisText: m[fcCrisis], WebhookURL: m[fcWebhook],
		CapDay: capDay, CapWeek: capWeek, TimeZone: m[fcZone], CreatedAt: fromUnix(m[fcCreatedAt]),
	}, nil
}

// ClinicWebhookSecret returns the secret a clinic's webhooks are signed with.
func (s *Store) ClinicWebhookSecret(ctx context.Context, cid string) (string, error) {
	v, err := s.rdb.HGet(ctx, s.clinicKey(cid), fcSecret).Result()
	if errors.Is(err, redis.Nil) {
		return "", fmt.Errorf("load webhook secret of %s: %w", cid, ErrNotFound)
	}
	if err != nil {
		return "", fmt.Errorf("load webhook secret of %s: %w", cid, err)
	}
	return v, nil
}

// setWebhookScript changes an existing clinic's webhook URL, and its secret
// when one is given; it answers 0 for a clinic that does not exist.
var setWebhookScript = redis.NewScript(`
if redis.call('EXISTS', KEYS[1]) == 0 then return 0 end
redis.call('HSET', KEYS[1], ARGV[1], ARGV[2])
if ARGV[4] ~= '' then redis.call('HSET', KEYS[1], ARGV[3], ARGV[4]) end
return 1`)

// SetClinicWebhook sets a clinic's webhook URL ("" for none) and, when
// secret is not "", the secret its webhooks are signed with.
func (s *Store) SetClinicWebhook(ctx context.Context, cid, url, secret string) error {
	n, err := setWebhookScript.Run(ctx, s.rdb, []string{s.clinicKey(cid)}, fcWebhook, url, fcSecret, secret).Int()
	if err != nil {
		return fmt.Errorf("set webhook of clinic %s: %w", cid, err)
	}
	if n == 0 {
		return fmt.Errorf("set webhook of clinic %s: %w", cid, ErrNotFound)
	}
	return nil
}

// Clinics returns every clinic, oldest first.
func (s *Store) Clinics(ctx context.Context) ([]domain.Clinic, error) {
	ids, err := s.rdb.ZRange(ctx, s.clinicsKey(), 0, -1).Result()
	if err != nil {
		return nil, fmt.Errorf("list clinics: %w", err)
	}
	out := make([]domain.Clinic, 0, len(ids))
	for _, id := range ids {
		c, err := s.Clinic(ctx, id)
		if errors.Is(err, ErrNotFound) {
			continue
		}
		if err != nil {
			return nil, err
		}
		out = append(out, c)
	}
	return out, nil
}

// APIKey describes one of a clinic's API keys (never the key itself).
type APIKey struct {
	ID        string
	CreatedAt time.Time
	RevokedAt time.Time // zero while the key works
}

// AddAPIKey records a new API key of a clinic by the SHA-256 of the key.
func (s *Store) AddAPIKey(ctx context.Context, cid, keyID, keyHash string, at time.Time) error {
	n, err := s.rdb.Exists(ctx, s.clinicKey(cid)).Result()
	if err != nil {
		return fmt.Errorf("add api key: %w", err)
	}
	if n == 0 {
		return fmt.Errorf("add api key: %w", ErrNotFound)
	}
	_, err = s.rdb.TxPipelined(ctx, func(p redis.Pipeliner) error {
		p.HSet(ctx, s.apiKeyKey(keyHash), "c", cid, "k", keyID)
		p.HSet(ctx, s.clinicKeysKey(cid), keyID, keyHash+"|"+unix(at)+"|0")
		return nil
	})
	if err != nil {
		return fmt.Errorf("add api key: %w", err)
	}
	return nil
}

// RevokeAPIKey stops a key from working at once. Revoking twice is harmless.
func (s *Store) RevokeAPIKey(ctx context.Context, cid, keyID string, at time.Time) error {
	v, err := s.rdb.HGet(ctx, s.clinicKeysKey(cid), keyID).Result()
	if errors.Is(err, redis.Nil) {
		return fmt.Errorf("revoke api key %s: %w", keyID, ErrNotFound)
	}
	if err != nil {
		return fmt.Errorf("revoke api key %s: %w", keyID, err)
	}
	k := parseAPIKey(keyID, v)
	if !k.RevokedAt.IsZero() {
		return nil
	}
	hash, _, _ := cut3(v)
	_, err = s.rdb.TxPipelined(ctx, func(p redis.Pipeliner) error {
		p.Del(ctx, s.apiKeyKey(hash))
		p.HSet(ctx, s.clinicKeysKey(cid), keyID, hash+"|"+unix(k.CreatedAt)+"|"+unix(at))
		return nil
	})
	if err != nil {
		return fmt.Errorf("revoke api key %s: %w", keyID, err)
	}
	return nil
}

// APIKeys lists a clinic's keys, revoked ones included.
func (s *Store) APIKeys(ctx context.Context, cid string) ([]APIKey, error) {
	m, err := s.rdb.HGetAll(ctx, s.clinicKeysKey(cid)).Result()
	if err != nil {
		return nil, fmt.Errorf("list api keys of %s: %w", cid, err)
	}
	out := make([]APIKey, 0, len(m))
	for id, v := range m {
		out = append(out, parseAPIKey(id, v))
	}
	return out, nil
}

// cut3 splits a key record "<sha256>|<created>|<revoked>".
func cut3(v string) (a, b, c string) {
	a, rest, _ := strings.Cut(v, "|")
	b, c, _ = strings.Cut(rest, "|")
	return a, b, c
}

func parseAPIKey(id, v string) APIKey {
	_, created, revoked := cut3(v)
	return APIKey{ID: id, CreatedAt: fromUnix(created), RevokedAt: fromUnix(revoked)}
}

// ClinicByKeyHash finds the clinic (and key id) an API key belongs to, by
// the key's SHA-256. A revoked or unknown key is ErrNotFound.
func (s *Store) ClinicByKeyHash(ctx context.Context, keyHash string) (cid, keyID string, err error) {
	m, err := s.rdb.HMGet(ctx, s.apiKeyKey(keyHash), "c", "k").Result()
	if err != nil {
		return "", "", fmt.Errorf("find api key: %w", err)
	}
	cid, keyID = str(m[0]), str(m[1])
	if cid == "" {
		return "", "", fmt.Errorf("find api key: %w", ErrNotFound)
	}
	return cid, keyID, nil
}

// EnrolClient records a pending client of sub.Clinic. The address and the
// number are each unique within the clinic (claimed with HSETNX, so two
// enrolments of one person never make two records); the public list and
// other clinics are not consulted. An address or number the clinic already
// has is a conflict whose message names the existing client.
func (s *Store) EnrolClient(ctx context.Context, sub domain.Subscriber, ev ConsentEvent) error {
	if sub.Clinic == "" || sub.ID == "" {
		return fmt.Errorf("enrol client: %w", domain.Errorf(domain.ErrInvalid, "a clinic and an id are needed"))
	}
	addr := NormaliseEmail(sub.Email)
	type claim struct{ index, handle, what string }
	var claims []claim
	if addr != "" {
		claims = append(claims, claim{s.clinicEmailKey(sub.Clinic), addr, "email"})
	}
	if sub.Phone != "" {
		claims = append(claims, claim{s.clinicPhoneKey(sub.Clinic), sub.Phone, "mobile"})
	}
	if len(claims) == 0 {
		return fmt.Errorf("enrol client: %w", domain.Errorf(domain.ErrInvalid, "an email address or a mobile number is needed"))
	}
	for i, c := range claims {
		ok, err := s.rdb.HSetNX(ctx, c.index, c.handle, sub.ID).Result()
		if err != nil {
			return fmt.Errorf("enrol client: %w", err)
		}
		if ok {
			continue
		}
		// Give back what this enrolment claimed before the clash.
		for _, u := range claims[:i] {
			s.rdb.Eval(ctx, hdelIfScript, []string{u.index}, u.handle, sub.ID)
		}
		other, _ := s.rdb.HGet(ctx, c.index, c.handle).Result()
		return fmt.Errorf("enrol client: %w", domain.Errorf(domain.ErrConflict, "the clinic already has a client with this %s: %s", c.what, other))
	}
	key := s.subKey(sub.ID)
	_, err := s.rdb.TxPipelined(ctx, func(p redis.Pipeliner) error {
		p.HSet(ctx, key,
			fClinic, sub.Clinic, fFirstName, sub.FirstName, fEmail, addr, fTimeZone, sub.TimeZone,
			fLocale, sub.Locale, fGoal, sub.Goal, fStatus, string(domain.Pending),
			fPhone, sub.Phone, fChannels, channelsField(sub.Channels), fSMSStatus, string(sub.SMSStatus),
			fCreatedAt, unix(sub.CreatedAt), fConfirmedAt, "0", fPrograms, "")
		p.ZAdd(ctx, s.clinicClientsKey(sub.Clinic), redis.Z{Score: 0, Member: sub.ID})
		if sub.Phone != "" {
			p.SAdd(ctx, s.phoneOwnersKey(sub.Phone), sub.ID)
		}
		s.appendConsent(ctx, p, sub.ID, ev)
		return nil
	})
	if err != nil {
		return fmt.Errorf("enrol client: %w", err)
	}
	return nil
}

// Client loads a client of clinic cid. A subscriber of the public list or of
// another clinic is ErrNotFound, exactly as an id that does not exist.
func (s *Store) Client(ctx context.Context, cid, id string) (domain.Subscriber, error) {
	sub, err := s.Subscriber(ctx, id)
	if err != nil {
		return domain.Subscriber{}, err
	}
	if cid == "" || sub.Clinic != cid {
		return domain.Subscriber{}, fmt.Errorf("load client %s: %w", id, ErrNotFound)
	}
	return sub, nil
}

// ClientIDs returns up to limit of a clinic's client ids after the id
// `after` ("" for the first page), in id order, and whether more follow.
func (s *Store) ClientIDs(ctx context.Context, cid, after string, limit int) ([]string, bool, error) {
	min := "-"
	if after != "" {
		min = "(" + after
	}
	ids, err := s.rdb.ZRangeArgs(ctx, redis.ZRangeArgs{
		Key: s.clinicClientsKey(cid), Start: min, Stop: "+", ByLex: true, Count: int64(limit + 1),
	}).Result()
	if err != nil {
		return nil, false, fmt.Errorf("list clients of %s: %w", cid, err)
	}
	more := len(ids) > limit
	if more {
		ids = ids[:limit]
	}
	return ids, more, nil
}
