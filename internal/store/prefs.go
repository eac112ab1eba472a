package store

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/nudgehq/nudge/internal/domain"
	"github.com/redis/go-redis/v9"
)

// Consent actions of the preference centre.
const (
	ConsentPreferences = "preferences"
	ConsentResume      = "resume"
)

// Preferences are what a subscriber can change from the preference centre.
// The caller has checked them (programs known, rules valid, zone loadable).
type Preferences struct {
	TimeZone string
	Locale   string
	Goal     string
	Channels []domain.Channel
	// Schedules are the programs wanted, each with its rule, in the order
	// the page lists them.
	Schedules []domain.Schedule
	// Next is each wanted program's next instant under its rule in
	// TimeZone. It is used only for the schedules that change (a new
	// program, a new rule, or any rule when the zone changes) and only while
	// the subscriber is active: the store cannot compute it, as rules and
	// zones belong to the scheduler.
	Next map[domain.Program]time.Time
}

// PreferenceChange says what UpdatePreferences changed. Nothing changed when
// every list is empty.
type PreferenceChange struct {
	Added, Removed, Rescheduled []domain.Program
	// Fields are the subscriber fields that changed: "tz", "locale",
	// "goal", "channels".
	Fields []string
	// Detail says the same in a line, for the consent ledger. It names
	// rules, zones, languages and channels, never the goal's text.
	Detail string
}

// Changed reports whether anything changed.
func (c PreferenceChange) Changed() bool {
	return len(c.Added)+len(c.Removed)+len(c.Rescheduled)+len(c.Fields) > 0
}

// UpdatePreferences changes a subscriber's preferences in one transaction
// (WATCH of the record, then MULTI): the subscriber's fields, the rule of
// each schedule, and the due index. A schedule whose rule or zone changed,
// and a program taken up again, gets a new version, so a task already queued
// for its old rule is not sent, and, while the subscriber is active, is
// planned at once at p.Next; a dropped program leaves the due index and its
// version moves on too. Steps carry on, so no message is repeated. When
// something changed, ev (with Detail filled in) joins the consent ledger;
// when nothing did, nothing is written.
func (s *Store) UpdatePreferences(ctx context.Context, id string, p Preferences, ev ConsentEvent) (PreferenceChange, error) {
	key := s.subKey(id)
	var change PreferenceChange
	txf := func(tx *redis.Tx) error {
		change = PreferenceChange{}
		m, err := tx.HGetAll(ctx, key).Result()
		if err != nil {
			return err
		}
		if len(m) == 0 {
			return ErrNotFound
		}
		old := parsePrograms(m[fPrograms])
		oldRules := make(map[domain.Program]string, len(old))
		for _, prog := range old {
			r, err := tx.HGet(ctx, s.schedKey(id, prog), fRule).Result()
			if err != nil && !errors.Is(err, redis.Nil) {
				return err
			}
			oldRules[prog] = r
		}
		zoneChanged := m[fTimeZone] != p.TimeZone
		active := domain.Status(m[fStatus]) == domain.Active
		var detail []string
		wanted := map[domain.Program]bool{}
		for _, sc := range p.Schedules {
			wanted[sc.Program] = true
			r, had := oldRules[sc.Program]
			switch {
			case !had:
				change.Added = append(change.Added, sc.Program)
				detail = append(detail, fmt.Sprintf("added %s %s", sc.Program, sc.Rule))
			case r != sc.Rule:
				change.Rescheduled = append(change.Rescheduled, sc.Program)
				detail = append(detail, fmt.Sprintf("%s %s -> %s", sc.Program, r, sc.Rule))
			case zoneChanged:
				change.Rescheduled = append(change.Rescheduled, sc.Program)
			}
		}
		for _, prog := range old {
			if !wanted[prog] {
				change.Removed = append(change.Removed, prog)
				detail = append(detail, "removed "+string(prog))
			}
		}
		if zoneChanged {
			change.Fields = append(change.Fields, "tz")
			detail = append(detail, fmt.Sprintf("time zone %s -> %s", m[fTimeZone], p.TimeZone))
		}
		if m[fLocale] != p.Locale {
			change.Fields = append(change.Fields, "locale")
			detail = append(detail, fmt.Sprintf("language %s -> %s", m[fLocale], p.Locale))
		}
		if m[fGoal] != p.Goal {
			change.Fields = append(change.Fields, "goal")
			detail = append(detail, "goal changed")
		}
		if oldCh, newCh := effectiveChannels(m[fChannels]), effectiveChannels(channelsField(p.Channels)); oldCh != newCh {
			change.Fields = append(change.Fields, "channels")
			detail = append(detail, fmt.Sprintf("channels %s -> %s", orNone(oldCh), orNone(newCh)))
		}
		// A reordering alone changes nothing worth a transaction.
		if !change.Changed() {
			return nil
		}
		change.Detail = strings.Join(detail, "; ")
		plan := append(slices.Clone(change.Added), change.Rescheduled...)
		if active {
			for _, prog := range plan {
				if p.Next[prog].IsZero() {
					return fmt.Errorf("no next instant for %s", prog)
				}
			}
		}
		rules := map[domain.Program]string{}
		for _, sc := range p.Schedules {
			rules[sc.Program] = sc.Rule
		}
		oldZone := m[fTimeZone]
		ev.Detail = change.Detail
		_, err = tx.TxPipelined(ctx, func(pp redis.Pipeliner) error {
			pp.HSet(ctx, key, fTimeZone, p.TimeZone, fLocale, p.Locale, fGoal, p.Goal,
				fChannels, channelsField(p.Channels), fPrograms, programsField(p.Schedules))
			for _, prog := range change.Removed {
				s.retireDue(ctx, pp, id, prog, oldZone)
				pp.HIncrBy(ctx, s.schedKey(id, prog), fVersion, 1)
				pp.HSet(ctx, s.schedKey(id, prog), fNext, "0")
			}
			for _, prog := range plan {
				k := s.schedKey(id, prog)
				// The entry under the old version, rule and zone goes first,
				// its step written back to the hash to carry on.
				s.retireDue(ctx, pp, id, prog, oldZone)
				// Versions only ever grow (a dropped program's hash is kept
				// for this), so a task queued for an earlier rule never
				// matches the new one.
				pp.HIncrBy(ctx, k, fVersion, 1)
				pp.HSetNX(ctx, k, fStep, "0")
				if !active {
					// Planned when the subscriber confirms.
					pp.HSet(ctx, k, fRule, rules[prog], fNext, "0")
					continue
				}
				pp.HSet(ctx, k, fRule, rules[prog])
				s.planDue(ctx, pp, id, prog, p.TimeZone, p.Next[prog])
			}
			s.appendConsent(ctx, pp, id, ev)
			return nil
		})
		return err
	}
	if err := s.watch(ctx, txf, key); err != nil {
		return PreferenceChange{}, fmt.Errorf("update preferences of %s: %w", id, err)
	}
	return change, nil
}

// effectiveChannels is a stored channel list as it is meant: none recorded
// means email only.
func effectiveChannels(field string) string {
	if field == "" {
		return string(domain.Email)
	}
	return field
}

func orNone(s string) string {
	if s == "" {
		return "none"
	}
	return s
}

// SetPause holds back every nudge until the instant given, or, with a zero
// instant, resumes them at once: the same field as Pause, but only for a
// subscriber who exists, so a pause racing an erasure cannot leave a stray
// record behind. ev joins the consent ledger.
func (s *Store) SetPause(ctx context.Context, id string, until time.Time, ev ConsentEvent) error {
	key := s.subKey(id)
	txf := func(tx *redis.Tx) error {
		n, err := tx.Exists(ctx, key).Result()
		if err != nil {
			return err
		}
		if n == 0 {
			return ErrNotFound
		}
		_, err = tx.TxPipelined(ctx, func(p redis.Pipeliner) error {
			p.HSet(ctx, key, fPausedUntil, unix(until))
			if until.IsZero() {
				// Resuming ends a hold after distress too: the person chose.
				p.HDel(ctx, key, fDistressAt, fGentleAt)
			}
			s.appendConsent(ctx, p, id, ev)
			return nil
		})
		return err
	}
	if err := s.watch(ctx, txf, key); err != nil {
		return fmt.Errorf("set pause of %s: %w", id, err)
	}
	return nil
}
