package scheduler

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"time"

	"github.com/hibiken/asynq"
	"github.com/nudgehq/nudge/internal/store"
	"github.com/nudgehq/nudge/internal/task"
)

// DigestFrom is when, on a Monday in the clinic's zone, the week's digests
// are queued.
const DigestFrom = 7 * time.Hour

// AlertPlannerConfig sets up an AlertPlanner.
type AlertPlannerConfig struct {
	Store    *store.Store
	Enqueuer Enqueuer
	Now      func() time.Time
	Logger   *slog.Logger
	// Batch is how many unanswered prompts are checked at once.
	Batch int
}

// AlertPlanner does the periodic work of the console's alerts: it checks
// the prompts that have waited store.UnansweredAfter for a reply (their
// clients may now have a run of unanswered prompts), and from Monday
// DigestFrom in each clinic's zone it queues each clinician's digest of
// the week before.
//
// A digest's task id ("digest:<staff>:<ISO week>") makes a second enqueue,
// by another scheduler or after a restart, an asynq.ErrTaskIDConflict that
// counts as success; once the digest went out the worker's mark keeps it
// from being queued again after the task itself is gone. The unanswered
// check raises at most one alert per run whoever runs it.
type AlertPlanner struct{ c AlertPlannerConfig }

// NewAlertPlanner returns an AlertPlanner with defaults filled in.
func NewAlertPlanner(c AlertPlannerConfig) *AlertPlanner {
	if c.Now == nil {
		c.Now = time.Now
	}
	if c.Logger == nil {
		c.Logger = slog.New(slog.DiscardHandler)
	}
	if c.Batch <= 0 {
		c.Batch = 500
	}
	return &AlertPlanner{c: c}
}

// Run does a pass every interval until ctx is cancelled. A failed pass is
// logged and tried again at the next interval.
func (p *AlertPlanner) Run(ctx context.Context, interval time.Duration) error {
	if interval <= 0 {
		interval = time.Minute
	}
	t := time.NewTicker(interval)
	defer t.Stop()
	for {
		if _, err := p.Tick(ctx); err != nil && ctx.Err() == nil {
			p.c.Logger.Error("alert planner pass failed", "err", err)
		}
		select {
		case <-ctx.Done():
			return nil
		case <-t.C:
		}
	}
}

// AlertPass is what one pass did.
type AlertPass struct {
	Unanswered int // unanswered alerts raised
	Digests    int // digest tasks queued (ones queued already do not count)
}

// Tick does one pass.
func (p *AlertPlanner) Tick(ctx context.Context) (AlertPass, error) {
	var out AlertPass
	now := p.c.Now()
	for range 100 {
		raised, n, err := p.c.Store.CheckUnansweredDue(ctx, now, p.c.Batch)
		out.Unanswered += len(raised)
		for _, a := range raised {
			p.c.Logger.Info("unanswered alert raised", "client_id", a.Client, "alert_id", a.ID, "prompts", a.Count)
		}
		if err != nil {
			return out, err
		}
		if n < p.c.Batch {
			break
		}
	}
	n, err := p.digests(ctx, now)
	out.Digests = n
	return out, err
}

// DigestWeek returns, for an instant in a zone, the ISO week whose Monday
// started last ("2026-W50"), that Monday's start, and whether the digests
// of that week are due (DigestFrom has passed on Monday).
func DigestWeek(now time.Time, loc *time.Location) (string, time.Time, bool) {
	local := now.In(loc)
	back := (int(local.Weekday()) + 6) % 7 // days since Monday
	y, m, d := local.Date()
	monday := ResolveLocal(loc, y, m, d-back, 0, 0)
	wy, wn := monday.In(loc).ISOWeek()
	return fmt.Sprintf("%04d-W%02d", wy, wn), monday, !now.Before(monday.Add(DigestFrom))
}

// digests queues the digest of every clinician whose clinic's Monday
// DigestFrom has passed, for the week that ended at that Monday.
func (p *AlertPlanner) digests(ctx context.Context, now time.Time) (int, error) {
	clinics, err := p.c.Store.Clinics(ctx)
	if err != nil {
		return 0, err
	}
	queued := 0
	var errs []error
	for _, c := range clinics {
		// The digest goes on Monday morning in the clinic's zone (UTC when
		// it has none).
		loc, err := LoadZone(c.TimeZone)
		if err != nil || c.TimeZone == "" {
			loc = time.UTC
		}
		week, monday, due := DigestWeek(now, loc)
		if !due {
			continue
		}
		staff, err := p.c.Store.StaffList(ctx, c.ID)
		if err != nil {
			errs = append(errs, err)
			continue
		}
		for _, st := range staff {
			if st.Role != store.RoleClinician {
				continue
			}
			sent, err := p.c.Store.DigestSent(ctx, st.ID, week)
			if err != nil {
				errs = append(errs, err)
				continue
			}
			if sent {
				continue
			}
			// The week before that Monday, in local days.
			y, m, d := monday.In(loc).Date()
			from := ResolveLocal(loc, y, m, d-7, 0, 0)
			t, err := task.NewSendDigest(task.SendDigest{ClinicID: c.ID, StaffID: st.ID, Week: week, From: from.Unix(), To: monday.Unix()})
			if err != nil {
				errs = append(errs, err)
				continue
			}
			_, err = p.c.Enqueuer.EnqueueContext(ctx, t)
			switch {
			case errors.Is(err, asynq.ErrTaskIDConflict):
			case err != nil:
				errs = append(errs, fmt.Errorf("enqueue digest of %s: %w", st.ID, err))
			default:
				queued++
				p.c.Logger.Info("digest queued", "clinic_id", c.ID, "staff_id", st.ID, "week", week)
			}
		}
	}
	return queued, errors.Join(errs...)
}
