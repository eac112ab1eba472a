package store

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/nudgehq/nudge/internal/domain"
	"github.com/redis/go-redis/v9"
)

// Prompt keys:
//
//	sess:<client>      zset  the client's sessions (member and score: Unix seconds)
//	prompts:<client>   hash  prompt id → JSON
//	pplan:<client>     set   the client's valid prompt occurrences, "<prompt>|<session>"
//	pdue               zset  "<client>|<prompt>|<session>" by instant: occurrences still to queue
//	capped:<client>    zset  prompt occurrences let through the frequency cap, by instant
//	dlvidx:<client>    zset  the client's delivery record names, by time (for listing without SCAN)
//	phone:<number>     set   every record, public or client, that holds the number
//	route:phone        hash  number → the record that last texted it (replies go there)
//
// An occurrence is one prompt for one session (session 0 for a prompt at a
// fixed instant). pplan says which occurrences are valid now: it is rebuilt,
// with pdue, whenever a prompt or a session changes, in the same
// transaction. The worker sends an occurrence only while it is still in
// pplan, so a moved session or a removed prompt wins over a queued task.

// KeepSessions is how many past sessions a client keeps (the prompts after
// the latest session are planned from it).
const KeepSessions = 4

// PromptOccurrence is one prompt for one session.
type PromptOccurrence struct {
	ClientID string
	PromptID string
	Session  int64 // the session's Unix seconds; 0 for a prompt at a fixed instant
	At       time.Time
}

// Key names the occurrence within its client: "<prompt>|<session>".
func (o PromptOccurrence) Key() string {
	return o.PromptID + "|" + strconv.FormatInt(o.Session, 10)
}

func (o PromptOccurrence) member() string { return o.ClientID + "|" + o.Key() }

func parsePromptMember(m string) (PromptOccurrence, bool) {
	parts := strings.Split(m, "|")
	if len(parts) != 3 {
		return PromptOccurrence{}, false
	}
	n, err := strconv.ParseInt(parts[2], 10, 64)
	if err != nil {
		return PromptOccurrence{}, false
	}
	return PromptOccurrence{ClientID: parts[0], PromptID: parts[1], Session: n}, true
}

func (s *Store) sessKey(id string) string        { return s.prefix + "sess:" + id }
func (s *Store) promptsKey(id string) string     { return s.prefix + "prompts:" + id }
func (s *Store) pplanKey(id string) string       { return s.prefix + "pplan:" + id }
func (s *Store) pdueKey() string                 { return s.prefix + "pdue" }
func (s *Store) cappedKey(id string) string      { return s.prefix + "capped:" + id }
func (s *Store) dlvIndexKey(id string) string    { return s.prefix + "dlvidx:" + id }
func (s *Store) phoneOwnersKey(ph string) string { return s.prefix + "phone:" + ph }
func (s *Store) routeKey() string                { return s.prefix + "route:phone" }

// PromptState is what the prompts of one client depend on.
type PromptState struct {
	Client   domain.Subscriber
	Sessions []time.Time // oldest first
	Prompts  []domain.Prompt
}

// NextSession returns the first session after now, or the zero time.
func (st PromptState) NextSession(now time.Time) time.Time {
	for _, t := range st.Sessions {
		if t.After(now) {
			return t
		}
	}
	return time.Time{}
}

type promptJSON struct {
	Rule      string `json:"r"`
	Template  int    `json:"m,omitempty"`
	Text      string `json:"t,omitempty"`
	CreatedAt int64  `json:"ca"`
}

// PromptStateOf reads a client's prompt state (the client must belong to cid).
func (s *Store) PromptStateOf(ctx context.Context, cid, id string) (PromptState, error) {
	sub, err := s.Client(ctx, cid, id)
	if err != nil {
		return PromptState{}, err
	}
	return s.readPromptState(ctx, s.rdb, sub)
}

func (s *Store) readPromptState(ctx context.Context, c redis.Cmdable, sub domain.Subscriber) (PromptState, error) {
	st := PromptState{Client: sub}
	sess, err := c.ZRangeWithScores(ctx, s.sessKey(sub.ID), 0, -1).Result()
	if err != nil {
		return PromptState{}, fmt.Errorf("load sessions of %s: %w", sub.ID, err)
	}
	for _, z := range sess {
		st.Sessions = append(st.Sessions, time.Unix(int64(z.Score), 0).UTC())
	}
	raw, err := c.HGetAll(ctx, s.promptsKey(sub.ID)).Result()
	if err != nil {
		return PromptState{}, fmt.Errorf("load prompts of %s: %w", sub.ID, err)
	}
	for pid, v := range raw {
		var pj promptJSON
		if err := json.Unmarshal([]byte(v), &pj); err != nil {
			return PromptState{}, fmt.Errorf("decode prompt %s of %s: %w", pid, sub.ID, err)
		}
		st.Prompts = append(st.Prompts, domain.Prompt{
			ID: pid, ClientID: sub.ID, Rule: pj.Rule, Template: pj.Template, Text: pj.Text,
			CreatedAt: time.Unix(pj.CreatedAt, 0).UTC(),
		})
	}
	slices.SortFunc(st.Prompts, func(a, b domain.Prompt) int {
		if c := a.CreatedAt.Compare(b.CreatedAt); c != 0 {
			return c
		}
		return strings.Compare(a.ID, b.ID)
	})
	return st, nil
}

// UpdatePrompts changes a client's prompts or sessions and replans them, in
// one optimistic transaction: it reads the state, lets edit change it (edit
// may return an error to change nothing), keeps the newest KeepSessions past
// sessions, computes the plan with plan, and writes state and plan together.
// Occurrences in the plan at or before now stay valid (a queued task for one
// is still sent) but are not queued again. It returns the state written.
func (s *Store) UpdatePrompts(ctx context.Context, cid, id string, now time.Time,
	edit func(*PromptState) error, plan func(PromptState) ([]PromptOccurrence, error)) (PromptState, error) {
	var out PromptState
	keys := []string{s.subKey(id), s.sessKey(id), s.promptsKey(id), s.pplanKey(id)}
	txf := func(tx *redis.Tx) error {
		sub, err := s.Subscriber(ctx, id)
		if err != nil {
			return err
		}
		if cid == "" || sub.Clinic != cid {
			return ErrNotFound
		}
		st, err := s.readPromptState(ctx, tx, sub)
		if err != nil {
			return err
		}
		if err := edit(&st); err != nil {
			return err
		}
		st.Sessions = keepRecentSessions(st.Sessions, now)
		occs, err := plan(st)
		if err != nil {
			return err
		}
		old, err := tx.SMembers(ctx, s.pplanKey(id)).Result()
		if err != nil {
			return err
		}
		_, err = tx.TxPipelined(ctx, func(p redis.Pipeliner) error {
			p.Del(ctx, s.sessKey(id), s.promptsKey(id), s.pplanKey(id))
			for _, t := range st.Sessions {
				p.ZAdd(ctx, s.sessKey(id), redis.Z{Score: float64(t.Unix()), Member: strconv.FormatInt(t.Unix(), 10)})
			}
			for _, pr := range st.Prompts {
				b, _ := json.Marshal(promptJSON{Rule: pr.Rule, Template: pr.Template, Text: pr.Text, CreatedAt: pr.CreatedAt.Unix()})
				p.HSet(ctx, s.promptsKey(id), pr.ID, b)
			}
			if len(old) > 0 {
				members := make([]any, len(old))
				for i, k := range old {
					members[i] = id + "|" + k
				}
				p.ZRem(ctx, s.pdueKey(), members...)
			}
			for _, o := range occs {
				o.ClientID = id
				p.SAdd(ctx, s.pplanKey(id), o.Key())
				if o.At.After(now) {
					p.ZAdd(ctx, s.pdueKey(), redis.Z{Score: float64(o.At.Unix()), Member: o.member()})
				}
			}
			return nil
		})
		out = st
		return err
	}
	if err := s.watch(ctx, txf, keys...); err != nil {
		return PromptState{}, fmt.Errorf("update prompts of %s: %w", id, err)
	}
	return out, nil
}

// keepRecentSessions drops all but the newest KeepSessions sessions at or
// before now; later sessions all stay.
func keepRecentSessions(sessions []time.Time, now time.Time) []time.Time {
	slices.SortFunc(sessions, time.Time.Compare)
	sessions = slices.Compact(sessions)
	past := 0
	for _, t := range sessions {
		if !t.After(now) {
			past++
		}
	}
	if drop := past - KeepSessions; drop > 0 {
		sessions = sessions[drop:]
	}
	return sessions
}

// PlannedPrompts returns a client's valid occurrences' keys.
func (s *Store) PlannedPrompts(ctx context.Context, id string) ([]string, error) {
	keys, err := s.rdb.SMembers(ctx, s.pplanKey(id)).Result()
	if err != nil {
		return nil, fmt.Errorf("load planned prompts of %s: %w", id, err)
	}
	return keys, nil
}

// PromptPlanned reports whether an occurrence is still valid: its prompt and
// session are unchanged since it was planned.
func (s *Store) PromptPlanned(ctx context.Context, o PromptOccurrence) (bool, error) {
	ok, err := s.rdb.SIsMember(ctx, s.pplanKey(o.ClientID), o.Key()).Result()
	if err != nil {
		return false, fmt.Errorf("check planned prompt: %w", err)
	}
	return ok, nil
}

// Prompt returns one prompt of a client.
func (s *Store) Prompt(ctx context.Context, clientID, promptID string) (domain.Prompt, error) {
	v, err := s.rdb.HGet(ctx, s.promptsKey(clientID), promptID).Result()
	if errors.Is(err, redis.Nil) {
		return domain.Prompt{}, fmt.Errorf("load prompt %s: %w", promptID, ErrNotFound)
	}
	if err != nil {
		return domain.Prompt{}, fmt.Errorf("load prompt %s: %w", promptID, err)
	}
	var pj promptJSON
	if err := json.Unmarshal([]byte(v), &pj); err != nil {
		return domain.Prompt{}, fmt.Errorf("decode prompt %s: %w", promptID, err)
	}
	return domain.Prompt{ID: promptID, ClientID: clientID, Rule: pj.Rule, Template: pj.Template, Text: pj.Text,
		CreatedAt: time.Unix(pj.CreatedAt, 0).UTC()}, nil
}

// DuePrompts returns up to limit occurrences due at or before until,
// earliest first. Reading claims nothing: DonePrompts takes them out once
// their tasks are queued, and task ids make a second queueing harmless.
func (s *Store) DuePrompts(ctx context.Context, until time.Time, limit int) ([]PromptOccurrence, error) {
	zs, err := s.rdb.ZRangeArgsWithScores(ctx, redis.ZRangeArgs{
		Key: s.pdueKey(), Start: "-inf", Stop: strconv.FormatInt(until.Unix(), 10), ByScore: true, Count: int64(limit),
	}).Result()
	if err != nil {
		return nil, fmt.Errorf("read due prompts: %w", err)
	}
	out := make([]PromptOccurrence, 0, len(zs))
	for _, z := range zs {
		m, _ := z.Member.(string)
		o, ok := parsePromptMember(m)
		if !ok {
			continue
		}
		o.At = time.Unix(int64(z.Score), 0).UTC()
		out = append(out, o)
	}
	return out, nil
}

// An occurrence leaves pdue only if its instant is still the one read: a
// replan in between (which may have moved it) wins.
var donePromptScript = redis.NewScript(`
local n = 0
for i = 1, #ARGV, 2 do
  local sc = redis.call('ZSCORE', KEYS[1], ARGV[i])
  if sc and tonumber(sc) == tonumber(ARGV[i+1]) then n = n + redis.call('ZREM', KEYS[1], ARGV[i]) end
end
return n
`)

// DonePrompts takes queued occurrences out of pdue.
func (s *Store) DonePrompts(ctx context.Context, occs []PromptOccurrence) error {
	if len(occs) == 0 {
		return nil
	}
	args := make([]any, 0, 2*len(occs))
	for _, o := range occs {
		args = append(args, o.member(), o.At.Unix())
	}
	if err := donePromptScript.Run(ctx, s.rdb, []string{s.pdueKey()}, args...).Err(); err != nil {
		return fmt.Errorf("mark prompts queued: %w", err)
	}
	return nil
}

// capScript lets an occurrence through the frequency cap, or not. KEYS[1]
// is the client's capped zset; ARGV: member, instant, local day start, local
// day end, cap a day, cap in seven days, expiry (s). An occurrence already
// let through is let through again (a retry).
var capScript = redis.NewScript(`
if redis.call('ZSCORE', KEYS[1], ARGV[1]) then return 1 end
local at = tonumber(ARGV[2])
redis.call('ZREMRANGEBYSCORE', KEYS[1], '-inf', at - 8 * 86400)
if redis.call('ZCOUNT', KEYS[1], ARGV[3], '(' .. ARGV[4]) >= tonumber(ARGV[5]) then return 0 end
if redis.call('ZCOUNT', KEYS[1], '(' .. (at - 7 * 86400), at + 7 * 86400) >= tonumber(ARGV[6]) then return 0 end
redis.call('ZADD', KEYS[1], at, ARGV[1])
redis.call('EXPIRE', KEYS[1], ARGV[7])
return 1
`)

// PassCap applies a client's frequency cap to an occurrence at its instant:
// at most capDay occurrences in the local day [dayStart, dayEnd) and capWeek
// in the seven days either side. It reports whether the occurrence may go
// out; one that may is counted at once, so two at the same moment cannot
// both squeeze through. A slot counted for a message that then fails stays
// counted: the cap errs on the side of fewer messages.
func (s *Store) PassCap(ctx context.Context, o PromptOccurrence, dayStart, dayEnd time.Time, capDay, capWeek int) (bool, error) {
	n, err := capScript.Run(ctx, s.rdb, []string{s.cappedKey(o.ClientID)},
		o.Key(), o.At.Unix(), dayStart.Unix(), dayEnd.Unix(), capDay, capWeek, int((15 * 24 * time.Hour).Seconds())).Int()
	if err != nil {
		return false, fmt.Errorf("check frequency cap of %s: %w", o.ClientID, err)
	}
	return n == 1, nil
}

// IndexDelivery notes a client's delivery record so it can be listed without
// a scan (kept as long as the records are).
func (s *Store) IndexDelivery(ctx context.Context, k DeliveryKey, at time.Time) error {
	key := s.dlvIndexKey(k.SubscriberID)
	_, err := s.rdb.TxPipelined(ctx, func(p redis.Pipeliner) error {
		p.ZAdd(ctx, key, redis.Z{Score: float64(at.Unix()), Member: k.String()})
		p.ZRemRangeByScore(ctx, key, "-inf", strconv.FormatInt(at.Add(-DeliveryRetention).Unix(), 10))
		p.Expire(ctx, key, DeliveryRetention)
		return nil
	})
	if err != nil {
		return fmt.Errorf("index delivery of %s: %w", k.SubscriberID, err)
	}
	return nil
}

// PhoneOwners returns every record, public or client of any clinic, that
// holds a number.
func (s *Store) PhoneOwners(ctx context.Context, phone string) ([]string, error) {
	ids, err := s.rdb.SMembers(ctx, s.phoneOwnersKey(phone)).Result()
	if err != nil {
		return nil, fmt.Errorf("find owners of a number: %w", err)
	}
	return ids, nil
}

// RouteReplies makes id the record that replies from phone are taken to
// answer: the one that last texted it.
func (s *Store) RouteReplies(ctx context.Context, phone, id string) error {
	if err := s.rdb.HSet(ctx, s.routeKey(), phone, id).Err(); err != nil {
		return fmt.Errorf("route replies: %w", err)
	}
	return nil
}

// ReplyTarget returns the record a reply from phone reaches now (see
// ReplyRecipient), or ErrNotFound when no record's texts to the number are
// confirmed.
func (s *Store) ReplyTarget(ctx context.Context, phone string) (string, error) {
	holders, routed, err := s.NumberHolders(ctx, phone)
	if err != nil {
		return "", err
	}
	sub, ok := ReplyRecipient(holders, routed)
	if !ok {
		return "", fmt.Errorf("find reply target: %w", ErrNotFound)
	}
	return sub.ID, nil
}

// ClientDeliveries returns a page of a client's delivery records, newest
// first: limit records from the cursor ("" for the first page), and the
// cursor of the next page ("" when there is none).
func (s *Store) ClientDeliveries(ctx context.Context, id, cursor string, limit int) ([]DeliveryRecord, string, error) {
	start := int64(0)
	if cursor != "" {
		n, err := strconv.ParseInt(cursor, 10, 64)
		if err != nil || n < 0 {
			return nil, "", fmt.Errorf("list deliveries: %w", domain.Errorf(domain.ErrInvalid, "cursor: not a cursor this list gave"))
		}
		start = n
	}
	names, err := s.rdb.ZRevRange(ctx, s.dlvIndexKey(id), start, start+int64(limit)).Result()
	if err != nil {
		return nil, "", fmt.Errorf("list deliveries of %s: %w", id, err)
	}
	next := ""
	if len(names) > limit {
		names, next = names[:limit], strconv.FormatInt(start+int64(limit), 10)
	}
	cmds := make([]*redis.MapStringStringCmd, len(names))
	_, err = s.rdb.Pipelined(ctx, func(p redis.Pipeliner) error {
		for i, n := range names {
			cmds[i] = p.HGetAll(ctx, s.prefix+"dlv:"+n)
		}
		return nil
	})
	if err != nil {
		return nil, "", fmt.Errorf("list deliveries of %s: %w", id, err)
	}
	out := make([]DeliveryRecord, 0, len(names))
	for i, n := range names {
		m := cmds[i].Val()
		dk, ok := s.parseDeliveryKey(s.prefix+"dlv:"+n, id)
		if len(m) == 0 || !ok {
			continue // expired since
		}
		out = append(out, DeliveryRecord{Key: dk, Delivery: Delivery{
			State: DeliveryState(m["s"]), ProviderID: m["p"], Reason: m["w"], At: fromUnix(m["t"]), ProviderStatus: m["ps"], ErrorCode: m["ec"],
		}})
	}
	return out, next, nil
}
