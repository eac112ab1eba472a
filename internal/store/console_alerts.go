package store

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strconv"
	"time"

	"github.com/nudgehq/nudge/internal/domain"
	"github.com/redis/go-redis/v9"
)

// Alerts that reach staff, beyond distress: a client who stopped (texted
// STOP or unsubscribed) and a client who left several prompts in a row
// unanswered. Also the per-clinic alert settings, the staff members'
// locales (for their emails), the marks that keep an escalation and a
// weekly digest to one each, and the digest's counts.
//
//	clinic:<cid>:alert-settings  hash  "unanswered" → N, "escalation" → seconds
//	staff-locale                 hash  staff id → locale of their emails
//	unans:<client>               string the first occurrence of the run already alerted
//	unans-due                    zset  "<client>|<occurrence>" by when it counts as unanswered
//	alert-escalated:<alert>      string set once the owners were emailed
//	digest-sent:<staff>:<week>   string set once the week's digest went out

// Alert kinds. An alert stored without a kind is a distress alert (they
// came first).
const (
	AlertDistress   = "distress"
	AlertStopped    = "stopped"
	AlertUnanswered = "unanswered"
)

// KindOf is the alert's kind, distress for one stored without.
func (a Alert) KindOf() string {
	if a.Kind == "" {
		return AlertDistress
	}
	return a.Kind
}

// Alert settings: their defaults and bounds.
const (
	DefaultUnanswered = 3
	MinUnanswered     = 1
	MaxUnanswered     = 10
	DefaultEscalation = 4 * time.Hour
	MinEscalation     = time.Hour
	MaxEscalation     = 24 * time.Hour
)

// UnansweredAfter is how long a prompt waits for a reply before it counts
// as unanswered (sooner when the next prompt is sent).
const UnansweredAfter = 7 * 24 * time.Hour

// AlertSettings are a clinic's alert settings.
type AlertSettings struct {
	// Unanswered is how many prompts in a row left unanswered raise an alert.
	Unanswered int
	// Escalation is how long a distress alert may stay unacknowledged
	// before every owner is emailed.
	Escalation time.Duration
}

func (s *Store) alertSettingsKey(cid string) string {
	return s.prefix + "clinic:" + cid + ":alert-settings"
}
func (s *Store) staffLocaleKey() string             { return s.prefix + "staff-locale" }
func (s *Store) unansweredRunKey(id string) string  { return s.prefix + "unans:" + id }
func (s *Store) unansweredDueKey() string           { return s.prefix + "unans-due" }
func (s *Store) alertEscalatedKey(id string) string { return s.prefix + "alert-escalated:" + id }
func (s *Store) digestSentKey(sid, week string) string {
	return s.prefix + "digest-sent:" + sid + ":" + week
}

// AlertSettingsOf reads a clinic's alert settings, defaults where unset.
func (s *Store) AlertSettingsOf(ctx context.Context, cid string) (AlertSettings, error) {
	m, err := s.rdb.HGetAll(ctx, s.alertSettingsKey(cid)).Result()
	if err != nil {
		return AlertSettings{}, fmt.Errorf("read alert settings of %s: %w", cid, err)
	}
	out := AlertSettings{Unanswered: DefaultUnanswered, Escalation: DefaultEscalation}
	if n, err := strconv.Atoi(m["unanswered"]); err == nil && n >= MinUnanswered && n <= MaxUnanswered {
		out.Unanswered = n
	}
	if n, err := strconv.ParseInt(m["escalation"], 10, 64); err == nil {
		if d := time.Duration(n) * time.Second; d >= MinEscalation && d <= MaxEscalation {
			out.Escalation = d
		}
	}
	return out, nil
}

// SetAlertSettings stores a clinic's alert settings; out of bounds is a
// domain.ErrInvalid error naming the field.
func (s *Store) SetAlertSettings(ctx context.Context, cid string, a AlertSettings) error {
	switch {
	case a.Unanswered < MinUnanswered || a.Unanswered > MaxUnanswered:
		return domain.Errorf(domain.ErrInvalid, "unanswered: %d to %d, not %d", MinUnanswered, MaxUnanswered, a.Unanswered)
	case a.Escalation < MinEscalation || a.Escalation > MaxEscalation:
		return domain.Errorf(domain.ErrInvalid, "escalation: %s to %s, not %s", MinEscalation, MaxEscalation, a.Escalation)
	}
	if _, err := s.Clinic(ctx, cid); err != nil {
		return err
	}
	err := s.rdb.HSet(ctx, s.alertSettingsKey(cid), "unanswered", a.Unanswered, "escalation", int64(a.Escalation/time.Second)).Err()
	if err != nil {
		return fmt.Errorf("store alert settings of %s: %w", cid, err)
	}
	return nil
}

// SetStaffLocale records the locale a staff member's emails are written in.
func (s *Store) SetStaffLocale(ctx context.Context, sid, locale string) error {
	if locale != "en" && locale != "es" {
		return nil
	}
	if err := s.rdb.HSet(ctx, s.staffLocaleKey(), sid, locale).Err(); err != nil {
		return fmt.Errorf("store locale of %s: %w", sid, err)
	}
	return nil
}

// StaffLocale is the locale of a staff member's emails, English when none
// was recorded.
func (s *Store) StaffLocale(ctx context.Context, sid string) (string, error) {
	l, err := s.rdb.HGet(ctx, s.staffLocaleKey(), sid).Result()
	if errors.Is(err, redis.Nil) {
		return "en", nil
	}
	if err != nil {
		return "", fmt.Errorf("read locale of %s: %w", sid, err)
	}
	return l, nil
}

// addAlert queues an alert's writes on p: the caller's transaction raises
// it together with what caused it.
func (s *Store) addAlert(ctx context.Context, p redis.Pipeliner, cid string, a Alert) error {
	b, err := json.Marshal(a)
	if err != nil {
		return fmt.Errorf("encode alert: %w", err)
	}
	p.HSet(ctx, s.clinicAlertsKey(cid), a.ID, b)
	p.ZAdd(ctx, s.clinicAlertOrderKey(cid), redis.Z{Score: float64(a.At.UnixMilli()), Member: a.ID})
	return nil
}

// stoppedAlert queues, in the caller's transaction, the stopped alert of a
// clinic's client whose texts (channel "sms") or everything ("all") just
// stopped. A record of no clinic raises nothing.
func (s *Store) stoppedAlert(ctx context.Context, p redis.Pipeliner, cid, client, channel string, at time.Time) {
	if cid == "" {
		return
	}
	// Encoding a fixed struct cannot fail.
	_ = s.addAlert(ctx, p, cid, Alert{ID: NewID(), Kind: AlertStopped, Client: client, At: at, Channel: channel, State: AlertOpen})
}

// NotePromptSent is told that a prompt occurrence ("between-session:…")
// went out to a client: the run of unanswered prompts is checked at once
// (the one before now counts), and again once this one has waited
// UnansweredAfter (CheckUnansweredDue).
func (s *Store) NotePromptSent(ctx context.Context, client, occurrence string, now time.Time) (Alert, bool, error) {
	member := client + "|" + occurrence
	if err := s.rdb.ZAddNX(ctx, s.unansweredDueKey(), redis.Z{Score: float64(now.Add(UnansweredAfter).Unix()), Member: member}).Err(); err != nil {
		return Alert{}, false, fmt.Errorf("note prompt sent to %s: %w", client, err)
	}
	return s.CheckUnanswered(ctx, client, now)
}

// CheckUnansweredDue checks the clients with a prompt that has waited
// UnansweredAfter by now, up to limit of them, and returns the alerts it
// raised and how many entries it took.
func (s *Store) CheckUnansweredDue(ctx context.Context, now time.Time, limit int) ([]Alert, int, error) {
	due, err := s.rdb.ZRangeArgs(ctx, redis.ZRangeArgs{
		Key: s.unansweredDueKey(), Start: "-inf", Stop: strconv.FormatInt(now.Unix(), 10), ByScore: true, Count: int64(limit),
	}).Result()
	if err != nil {
		return nil, 0, fmt.Errorf("read unanswered prompts due: %w", err)
	}
	var raised []Alert
	for _, m := range due {
		client, _, _ := cutBar(m)
		a, ok, err := s.CheckUnanswered(ctx, client, now)
		if err != nil {
			return raised, 0, err
		}
		if ok {
			raised = append(raised, a)
		}
		if err := s.rdb.ZRem(ctx, s.unansweredDueKey(), m).Err(); err != nil {
			return raised, 0, fmt.Errorf("take unanswered prompt off: %w", err)
		}
	}
	return raised, len(due), nil
}

func cutBar(m string) (string, string, bool) {
	for i := 0; i < len(m); i++ {
		if m[i] == '|' {
			return m[:i], m[i+1:], true
		}
	}
	return m, "", false
}

// UnansweredRun counts a client's prompts left unanswered in a row, newest
// first, as of now: a prompt counts once the next one was sent or it has
// waited UnansweredAfter, without a reply or an answer attached to it. It
// returns the count and the run's first occurrence ("" when none).
func (s *Store) UnansweredRun(ctx context.Context, client string, now time.Time) (int, string, error) {
	sent, err := s.SentBetween(ctx, client, domain.BetweenSession, time.Time{}, time.Time{})
	if err != nil {
		return 0, "", err
	}
	if len(sent) == 0 {
		return 0, "", nil
	}
	answered, err := s.rdb.HKeys(ctx, s.answersKey(client)).Result()
	if err != nil {
		return 0, "", fmt.Errorf("load answers of %s: %w", client, err)
	}
	replied := map[string]bool{}
	for _, o := range answered {
		replied[o] = true
	}
	replies, err := s.Replies(ctx, client)
	if err != nil {
		return 0, "", err
	}
	for _, r := range replies {
		replied[r.Nudge] = true
	}
	n, first := 0, ""
	for i := len(sent) - 1; i >= 0; i-- {
		o := sent[i]
		if replied[o.Occurrence] {
			break
		}
		if i == len(sent)-1 && now.Sub(o.At) < UnansweredAfter {
			continue // the newest may still be answered
		}
		n++
		first = o.Occurrence
	}
	return n, first, nil
}

// CheckUnanswered raises an unanswered alert for a clinic's client whose
// run of unanswered prompts reached the clinic's setting, once per run: a
// reply ends the run, and the next run is a new one. It returns the alert
// and whether this call raised it.
func (s *Store) CheckUnanswered(ctx context.Context, client string, now time.Time) (Alert, bool, error) {
	sub, err := s.Subscriber(ctx, client)
	if errors.Is(err, ErrNotFound) {
		return Alert{}, false, nil
	}
	if err != nil {
		return Alert{}, false, err
	}
	if sub.Clinic == "" || sub.Status == domain.Discharged || sub.Status == domain.Unsubscribed {
		// A client who stopped or was discharged is not leaving prompts
		// unanswered.
		return Alert{}, false, nil
	}
	set, err := s.AlertSettingsOf(ctx, sub.Clinic)
	if err != nil {
		return Alert{}, false, err
	}
	n, first, err := s.UnansweredRun(ctx, client, now)
	if err != nil || n < set.Unanswered {
		return Alert{}, false, err
	}
	key := s.unansweredRunKey(client)
	var out Alert
	raised := false
	txf := func(tx *redis.Tx) error {
		raised = false
		had, err := tx.Get(ctx, key).Result()
		if err != nil && !errors.Is(err, redis.Nil) {
			return err
		}
		if had == first {
			return nil // this run has its alert
		}
		out = Alert{ID: NewID(), Kind: AlertUnanswered, Client: client, At: now, Count: n, State: AlertOpen}
		_, err = tx.TxPipelined(ctx, func(p redis.Pipeliner) error {
			p.Set(ctx, key, first, AnswerRetention)
			return s.addAlert(ctx, p, sub.Clinic, out)
		})
		raised = err == nil
		return err
	}
	if err := s.watch(ctx, txf, key); err != nil {
		return Alert{}, false, fmt.Errorf("raise unanswered alert for %s: %w", client, err)
	}
	return out, raised, nil
}

// MarkAlertEscalated records that an alert's owners were emailed; false
// when they had been already.
func (s *Store) MarkAlertEscalated(ctx context.Context, id string, now time.Time) (bool, error) {
	ok, err := s.rdb.SetNX(ctx, s.alertEscalatedKey(id), unix(now), AuditRetention).Result()
	if err != nil {
		return false, fmt.Errorf("mark alert %s escalated: %w", id, err)
	}
	return ok, nil
}

// AlertEscalated reports whether an alert's owners were emailed.
func (s *Store) AlertEscalated(ctx context.Context, id string) (bool, error) {
	n, err := s.rdb.Exists(ctx, s.alertEscalatedKey(id)).Result()
	if err != nil {
		return false, fmt.Errorf("read alert %s escalation: %w", id, err)
	}
	return n == 1, nil
}

func (s *Store) staffMailKey(msgID string) string { return s.prefix + "staffmail:" + msgID }

// staffMailKeep is how long a staff email is remembered as sent: past
// every retry of the task that sent it.
const staffMailKeep = 7 * 24 * time.Hour

// StaffMailSent reports whether the staff email msgID (one message to one
// staff member) went out already.
func (s *Store) StaffMailSent(ctx context.Context, msgID string) (bool, error) {
	n, err := s.rdb.Exists(ctx, s.staffMailKey(msgID)).Result()
	if err != nil {
		return false, fmt.Errorf("read staff email %s: %w", msgID, err)
	}
	return n == 1, nil
}

// MarkStaffMailSent remembers that the staff email msgID went out, so a
// retry of a task that emails several people sends only to those it missed.
func (s *Store) MarkStaffMailSent(ctx context.Context, msgID string, now time.Time) error {
	if err := s.rdb.Set(ctx, s.staffMailKey(msgID), unix(now), staffMailKeep).Err(); err != nil {
		return fmt.Errorf("mark staff email %s: %w", msgID, err)
	}
	return nil
}

// digestKeep is how long a sent digest is remembered: past its week.
const digestKeep = 21 * 24 * time.Hour

// DigestSent reports whether a staff member's digest of a week went out.
func (s *Store) DigestSent(ctx context.Context, sid, week string) (bool, error) {
	n, err := s.rdb.Exists(ctx, s.digestSentKey(sid, week)).Result()
	if err != nil {
		return false, fmt.Errorf("read digest mark of %s: %w", sid, err)
	}
	return n == 1, nil
}

// MarkDigestSent records that a staff member's digest of a week went out;
// false when it had already.
func (s *Store) MarkDigestSent(ctx context.Context, sid, week string, now time.Time) (bool, error) {
	ok, err := s.rdb.SetNX(ctx, s.digestSentKey(sid, week), unix(now), digestKeep).Result()
	if err != nil {
		return false, fmt.Errorf("mark digest of %s: %w", sid, err)
	}
	return ok, nil
}

// DigestCounts are a clinician's week in numbers, never words.
type DigestCounts struct {
	Clients    int     // clients assigned to them
	Answers    int     // answers those clients gave in the week
	Scored     int     // of which with a score
	Average    float64 // the scores' mean; 0 when none
	OpenAlerts int     // alerts on those clients not yet resolved
}

// DigestCountsOf counts a clinic's staff member's assigned clients, their
// answers given in [from, to) and the average score, and the open alerts
// on them.
func (s *Store) DigestCountsOf(ctx context.Context, cid, sid string, from, to time.Time) (DigestCounts, error) {
	assigned, err := s.Assignments(ctx, cid)
	if err != nil {
		return DigestCounts{}, err
	}
	var d DigestCounts
	mine := map[string]bool{}
	sum := 0
	for client, by := range assigned {
		if by != sid {
			continue
		}
		mine[client] = true
		d.Clients++
		occs, err := s.rdb.ZRangeByScore(ctx, s.answeredKey(client), &redis.ZRangeBy{
			Min: strconv.FormatInt(from.Unix(), 10), Max: "(" + strconv.FormatInt(to.Unix(), 10),
		}).Result()
		if err != nil {
			return DigestCounts{}, fmt.Errorf("count answers of %s: %w", client, err)
		}
		if len(occs) == 0 {
			continue
		}
		raw, err := s.rdb.HMGet(ctx, s.answersKey(client), occs...).Result()
		if err != nil {
			return DigestCounts{}, fmt.Errorf("load answers of %s: %w", client, err)
		}
		for _, r := range raw {
			str, ok := r.(string)
			if !ok {
				continue
			}
			var a storedAnswer
			if err := json.Unmarshal([]byte(str), &a); err != nil {
				return DigestCounts{}, fmt.Errorf("decode answer of %s: %w", client, err)
			}
			d.Answers++
			if a.Score > 0 {
				d.Scored++
				sum += a.Score
			}
		}
	}
	if d.Scored > 0 {
		d.Average = float64(sum) / float64(d.Scored)
	}
	alerts, err := s.Alerts(ctx, cid)
	if err != nil {
		return DigestCounts{}, err
	}
	for _, a := range alerts {
		if mine[a.Client] && a.State != AlertResolved {
			d.OpenAlerts++
		}
	}
	return d, nil
}
