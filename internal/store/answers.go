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
	"unicode/utf8"

	"github.com/nudgehq/nudge/internal/domain"
	"github.com/redis/go-redis/v9"
)

// Answers: what a subscriber said about one occurrence of a nudge.
//
//	ans:<id>     hash  occurrence ("<program>:<date>") → the answer, JSON
//	ansat:<id>   zset  occurrence scored by when it was answered (for retention)
//	sent:<id>    zset  occurrence scored by when it was first sent (any channel)
//	ack:<id>     string the index of the last acknowledgement sent
//
// An answer belongs to exactly one occurrence: a second answer to it replaces
// the first, and an answer names its occurrence itself, so one that arrives
// late never lands on a newer check-in. Answers and sent marks are kept for
// [AnswerRetention] and go with an erasure.

// AnswerRetention is how long answers and sent marks are kept.
const AnswerRetention = ReplyRetention

// MaxNoteLen is the longest note kept, in characters; a longer one is cut.
const MaxNoteLen = 500

// Answer is a subscriber's answer to one occurrence.
type Answer struct {
	// Occurrence is "<program>:<local date>", as delivery records and
	// LastNudge name it (a clinic prompt: "between-session:<prompt>|<session>").
	Occurrence string `json:"occurrence"`
	// Score is 1 (not connected) to 5 (very connected); 0 when none was given.
	Score int `json:"score,omitempty"`
	// Note is what they wrote, at most MaxNoteLen characters.
	Note string `json:"note,omitempty"`
	// Channel is how the answer came: email (the answer page) or sms.
	Channel domain.Channel `json:"channel"`
	// AnsweredAt is when the answer was given.
	AnsweredAt time.Time `json:"answered_at"`
	// SentAt is when the occurrence was first sent, when that is known.
	SentAt time.Time `json:"sent_at,omitzero"`
}

// Program is the program of the occurrence the answer is for.
func (a Answer) Program() domain.Program {
	p, _, _ := strings.Cut(a.Occurrence, ":")
	return domain.Program(p)
}

// Date is the occurrence's local date (or other name) without its program.
func (a Answer) Date() string {
	_, d, _ := strings.Cut(a.Occurrence, ":")
	return d
}

// At is the instant that places the answer in time: when its occurrence
// was sent, or, when that is not known, noon UTC of its local date, or when
// it was answered.
func (a Answer) At() time.Time {
	return occurrenceTime(a.Occurrence, a.SentAt, a.AnsweredAt)
}

func occurrenceTime(occ string, sent, fallback time.Time) time.Time {
	if !sent.IsZero() {
		return sent
	}
	_, d, _ := strings.Cut(occ, ":")
	if t, err := time.Parse(time.DateOnly, d); err == nil {
		return t.Add(12 * time.Hour)
	}
	return fallback
}

// ValidOccurrence reports whether occ names an occurrence: a known program,
// a colon, and a non-empty name without spaces.
func ValidOccurrence(occ string) bool {
	p, d, ok := strings.Cut(occ, ":")
	return ok && domain.Program(p).Valid() && d != "" && len(occ) <= 200 && !strings.ContainsAny(occ, " \t\r\n")
}

func (s *Store) answersKey(id string) string  { return s.prefix + "ans:" + id }
func (s *Store) answeredKey(id string) string { return s.prefix + "ansat:" + id }
func (s *Store) sentKey(id string) string     { return s.prefix + "sent:" + id }
func (s *Store) ackKey(id string) string      { return s.prefix + "ack:" + id }

// answerKeys are every key of a subscriber's answers, for an erasure.
func (s *Store) answerKeys(id string) []string {
	return []string{s.answersKey(id), s.answeredKey(id), s.sentKey(id), s.ackKey(id)}
}

// storedAnswer is an answer as the hash keeps it: short names, the
// occurrence is the field.
type storedAnswer struct {
	Score   int    `json:"s,omitempty"`
	Note    string `json:"n,omitempty"`
	Channel string `json:"c"`
	At      int64  `json:"t"`
}

// recordAnswerScript keeps one answer. KEYS: subscriber, answers, answered
// index, sent index. ARGV: occurrence, answer JSON, answered-at, cutoff,
// retention (s). It returns the sent time of the occurrence (0 when not
// known), or -1 when the subscriber is gone (an erasure never comes back).
var recordAnswerScript = redis.NewScript(`
if redis.call('EXISTS', KEYS[1]) == 0 then return -1 end
redis.call('HSET', KEYS[2], ARGV[1], ARGV[2])
redis.call('ZADD', KEYS[3], ARGV[3], ARGV[1])
local old = redis.call('ZRANGEBYSCORE', KEYS[3], '-inf', '(' .. ARGV[4])
if #old > 0 then
  redis.call('HDEL', KEYS[2], unpack(old))
  redis.call('ZREM', KEYS[3], unpack(old))
end
redis.call('EXPIRE', KEYS[2], ARGV[5])
redis.call('EXPIRE', KEYS[3], ARGV[5])
local sent = redis.call('ZSCORE', KEYS[4], ARGV[1])
if sent then return tonumber(sent) end
return 0
`)

// RecordAnswer keeps a subscriber's answer to the occurrence a names,
// replacing an earlier answer to the same occurrence. a.Score is 0 (none)
// or 1–5 and a gratitude answer needs none; an answer without a score must
// have a note. A note is cleaned of surrounding space and cut to
// MaxNoteLen characters. a.AnsweredAt must be set; a.SentAt is ignored (it
// is looked up). Bad input is a domain.ErrInvalid error; a subscriber who
// is not there (erased) is ErrNotFound.
func (s *Store) RecordAnswer(ctx context.Context, subscriberID string, a Answer) error {
	a.Note = CleanNote(a.Note)
	switch {
	case subscriberID == "":
		return domain.Errorf(domain.ErrInvalid, "no subscriber")
	case !ValidOccurrence(a.Occurrence):
		return domain.Errorf(domain.ErrInvalid, "%q does not name an occurrence", a.Occurrence)
	case a.Score < 0 || a.Score > 5:
		return domain.Errorf(domain.ErrInvalid, "a score is 1 to 5, not %d", a.Score)
	case a.Score == 0 && a.Note == "":
		return domain.Errorf(domain.ErrInvalid, "an answer needs a score or a note")
	case a.AnsweredAt.IsZero():
		return domain.Errorf(domain.ErrInvalid, "an answer needs its time")
	}
	b, err := json.Marshal(storedAnswer{Score: a.Score, Note: a.Note, Channel: string(a.Channel), At: a.AnsweredAt.Unix()})
	if err != nil {
		return fmt.Errorf("encode answer: %w", err)
	}
	cutoff := a.AnsweredAt.Add(-AnswerRetention).Unix()
	n, err := recordAnswerScript.Run(ctx, s.rdb,
		[]string{s.subKey(subscriberID), s.answersKey(subscriberID), s.answeredKey(subscriberID), s.sentKey(subscriberID)},
		a.Occurrence, b, a.AnsweredAt.Unix(), cutoff, int(AnswerRetention.Seconds())).Int64()
	if err != nil {
		return fmt.Errorf("record answer of %s: %w", subscriberID, err)
	}
	if n < 0 {
		return fmt.Errorf("record answer of %s: %w", subscriberID, ErrNotFound)
	}
	return nil
}

// CleanNote is a note as it is kept: valid UTF-8, trimmed, at most
// MaxNoteLen characters.
func CleanNote(note string) string {
	note = strings.TrimSpace(strings.ToValidUTF8(note, ""))
	if utf8.RuneCountInString(note) > MaxNoteLen {
		note = strings.TrimSpace(string([]rune(note)[:MaxNoteLen]))
	}
	return note
}

// Answer returns the answer to one occurrence, or ErrNotFound.
func (s *Store) Answer(ctx context.Context, subscriberID, occurrence string) (Answer, error) {
	var raw *redis.StringCmd
	var sent *redis.FloatCmd
	_, err := s.rdb.Pipelined(ctx, func(p redis.Pipeliner) error {
		raw = p.HGet(ctx, s.answersKey(subscriberID), occurrence)
		sent = p.ZScore(ctx, s.sentKey(subscriberID), occurrence)
		return nil
	})
	if err != nil && !errors.Is(err, redis.Nil) {
		return Answer{}, fmt.Errorf("load answer of %s: %w", subscriberID, err)
	}
	if errors.Is(raw.Err(), redis.Nil) {
		return Answer{}, fmt.Errorf("load answer of %s: %w", subscriberID, ErrNotFound)
	}
	a, err := decodeAnswer(occurrence, raw.Val())
	if err != nil {
		return Answer{}, fmt.Errorf("load answer of %s: %w", subscriberID, err)
	}
	if sent.Err() == nil {
		a.SentAt = time.Unix(int64(sent.Val()), 0).UTC()
	}
	return a, nil
}

func decodeAnswer(occ, raw string) (Answer, error) {
	var sa storedAnswer
	if err := json.Unmarshal([]byte(raw), &sa); err != nil {
		return Answer{}, fmt.Errorf("decode answer: %w", err)
	}
	return Answer{Occurrence: occ, Score: sa.Score, Note: sa.Note, Channel: domain.Channel(sa.Channel), AnsweredAt: time.Unix(sa.At, 0).UTC()}, nil
}

// Answers returns a subscriber's answers whose occurrence falls in [from,
// to) (see Answer.At), oldest first. A zero from or to leaves that end open.
func (s *Store) Answers(ctx context.Context, id string, from, to time.Time) ([]Answer, error) {
	var raw *redis.MapStringStringCmd
	var sent *redis.ZSliceCmd
	_, err := s.rdb.Pipelined(ctx, func(p redis.Pipeliner) error {
		raw = p.HGetAll(ctx, s.answersKey(id))
		sent = p.ZRangeWithScores(ctx, s.sentKey(id), 0, -1)
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("load answers of %s: %w", id, err)
	}
	sentAt := make(map[string]time.Time, len(sent.Val()))
	for _, z := range sent.Val() {
		sentAt[z.Member.(string)] = time.Unix(int64(z.Score), 0).UTC()
	}
	out := make([]Answer, 0, len(raw.Val()))
	for occ, v := range raw.Val() {
		a, err := decodeAnswer(occ, v)
		if err != nil {
			return nil, fmt.Errorf("load answers of %s: %w", id, err)
		}
		a.SentAt = sentAt[occ]
		at := a.At()
		if (!from.IsZero() && at.Before(from)) || (!to.IsZero() && !at.Before(to)) {
			continue
		}
		out = append(out, a)
	}
	slices.SortFunc(out, func(a, b Answer) int {
		if c := a.At().Compare(b.At()); c != 0 {
			return c
		}
		return strings.Compare(a.Occurrence, b.Occurrence)
	})
	return out, nil
}

// DeleteAnswerNote removes the note of one answer and keeps its score; an
// answer that had only a note goes altogether. It reports whether there
// was a note to delete.
func (s *Store) DeleteAnswerNote(ctx context.Context, subscriberID, occurrence string) (bool, error) {
	n, err := deleteNoteScript.Run(ctx, s.rdb, []string{s.answersKey(subscriberID), s.answeredKey(subscriberID)}, occurrence).Int()
	if err != nil {
		return false, fmt.Errorf("delete note of %s: %w", subscriberID, err)
	}
	return n == 1, nil
}

var deleteNoteScript = redis.NewScript(`
local raw = redis.call('HGET', KEYS[1], ARGV[1])
if not raw then return 0 end
local a = cjson.decode(raw)
if not a.n or a.n == '' then return 0 end
a.n = nil
if not a.s or a.s == 0 then
  redis.call('HDEL', KEYS[1], ARGV[1])
  redis.call('ZREM', KEYS[2], ARGV[1])
else
  redis.call('HSET', KEYS[1], ARGV[1], cjson.encode(a))
end
return 1
`)

// SentOccurrence is one occurrence that went out.
type SentOccurrence struct {
	Occurrence string
	At         time.Time
}

// markSentScript adds an occurrence to a subscriber's sent index (the first
// channel's time stays) and drops marks older than the retention, unless the
// subscriber is gone: an erasure never comes back. KEYS: subscriber, sent
// index. ARGV: occurrence, at, cutoff, retention (s).
const markSentScript = `if redis.call('EXISTS', KEYS[1]) == 0 then return 0 end
redis.call('ZADD', KEYS[2], 'NX', ARGV[2], ARGV[1])
redis.call('ZREMRANGEBYSCORE', KEYS[2], '-inf', '(' .. ARGV[3])
redis.call('EXPIRE', KEYS[2], ARGV[4])
return 1`

// markSent queues, in a "sent" transaction, the occurrence's sent mark.
func (s *Store) markSent(ctx context.Context, p redis.Pipeliner, id, occurrence string, at time.Time) {
	p.Eval(ctx, markSentScript, []string{s.subKey(id), s.sentKey(id)},
		occurrence, at.Unix(), at.Add(-AnswerRetention).Unix(), int(AnswerRetention.Seconds()))
}

// MarkSent records that an occurrence went out at at. The worker's "sent"
// record does this itself (FinishSent with SentMarks.LastNudge); this is for
// callers that send outside it.
func (s *Store) MarkSent(ctx context.Context, id, occurrence string, at time.Time) error {
	if !ValidOccurrence(occurrence) {
		return domain.Errorf(domain.ErrInvalid, "%q does not name an occurrence", occurrence)
	}
	_, err := s.rdb.TxPipelined(ctx, func(p redis.Pipeliner) error {
		s.markSent(ctx, p, id, occurrence, at)
		return nil
	})
	if err != nil {
		return fmt.Errorf("mark %s sent to %s: %w", occurrence, id, err)
	}
	return nil
}

// SentBetween returns the occurrences of program sent to a subscriber in
// [from, to), oldest first; an empty program means every program. A zero
// from or to leaves that end open.
func (s *Store) SentBetween(ctx context.Context, id string, program domain.Program, from, to time.Time) ([]SentOccurrence, error) {
	min, max := "-inf", "+inf"
	if !from.IsZero() {
		min = strconv.FormatInt(from.Unix(), 10)
	}
	if !to.IsZero() {
		max = "(" + strconv.FormatInt(to.Unix(), 10)
	}
	zs, err := s.rdb.ZRangeByScoreWithScores(ctx, s.sentKey(id), &redis.ZRangeBy{Min: min, Max: max}).Result()
	if err != nil {
		return nil, fmt.Errorf("load sent occurrences of %s: %w", id, err)
	}
	out := make([]SentOccurrence, 0, len(zs))
	for _, z := range zs {
		occ := z.Member.(string)
		if program != "" && !strings.HasPrefix(occ, string(program)+":") {
			continue
		}
		out = append(out, SentOccurrence{Occurrence: occ, At: time.Unix(int64(z.Score), 0).UTC()})
	}
	return out, nil
}

// LastAck returns the index of the last acknowledgement sent to a
// subscriber, or -1 when none was.
func (s *Store) LastAck(ctx context.Context, id string) (int, error) {
	v, err := s.rdb.Get(ctx, s.ackKey(id)).Result()
	if errors.Is(err, redis.Nil) {
		return -1, nil
	}
	if err != nil {
		return -1, fmt.Errorf("load last acknowledgement of %s: %w", id, err)
	}
	n, err := strconv.Atoi(v)
	if err != nil {
		return -1, nil // unreadable: as if none, the next pick is still valid
	}
	return n, nil
}

// SetLastAck records the index of the acknowledgement just sent.
func (s *Store) SetLastAck(ctx context.Context, id string, index int) error {
	if err := s.rdb.Set(ctx, s.ackKey(id), index, AnswerRetention).Err(); err != nil {
		return fmt.Errorf("keep last acknowledgement of %s: %w", id, err)
	}
	return nil
}
