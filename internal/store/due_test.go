package store_test

import (
	"context"
	"fmt"
	"strconv"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/nudgehq/nudge/internal/domain"
	"github.com/nudgehq/nudge/internal/store"
	"github.com/redis/go-redis/v9"
)

// allDue returns every due entry of a subscriber, whenever due.
func allDue(t *testing.T, st *store.Store, id string) map[domain.Program][]store.DueEntry {
	t.Helper()
	batch, err := st.DueBatch(context.Background(), store.ShardOf(id), time.Date(2240, 1, 1, 0, 0, 0, 0, time.UTC), 1000)
	if err != nil {
		t.Fatal(err)
	}
	out := map[domain.Program][]store.DueEntry{}
	for _, e := range batch {
		if e.SubscriberID == id {
			out[e.Program] = append(out[e.Program], e)
		}
	}
	return out
}

// checkDueMatchesRecords checks what the due index relies on: exactly one
// entry for each chosen schedule of an active subscriber (none otherwise),
// naming the schedule's version and rule and the subscriber's zone, and
// agreeing with what Schedule reports.
func checkDueMatchesRecords(t *testing.T, st *store.Store, id string) map[domain.Program]store.DueEntry {
	t.Helper()
	ctx := context.Background()
	sub, err := st.Subscriber(ctx, id)
	if err != nil {
		t.Fatal(err)
	}
	chosen, err := st.Schedules(ctx, id)
	if err != nil {
		t.Fatal(err)
	}
	due := allDue(t, st, id)
	out := map[domain.Program]store.DueEntry{}
	for _, sc := range chosen {
		es := due[sc.Program]
		delete(due, sc.Program)
		if sub.Status != domain.Active {
			if len(es) != 0 {
				t.Errorf("%s subscriber has due entries for %s: %+v", sub.Status, sc.Program, es)
			}
			continue
		}
		if len(es) != 1 {
			t.Errorf("%s has %d due entries, want 1: %+v", sc.Program, len(es), es)
			continue
		}
		e := es[0]
		if e.Version != sc.Version || e.Rule != sc.Rule || e.TimeZone != sub.TimeZone || e.Step != sc.Step || !e.At.Equal(sc.Next) {
			t.Errorf("%s: due entry %+v does not match schedule %+v in zone %s", sc.Program, e, sc, sub.TimeZone)
		}
		out[sc.Program] = e
	}
	for p, es := range due {
		t.Errorf("%s is not chosen but has due entries: %+v", p, es)
	}
	return out
}

func TestDueEntryNamesWhatThePlannerNeeds(t *testing.T) {
	st := setup(t)
	ctx := context.Background()
	// An id holding the separator is read back whole.
	res, err := st.Signup(ctx, domain.Subscriber{ID: "odd|id", Email: "odd@example.org", TimeZone: "Pacific/Chatham", Locale: "en", CreatedAt: t0},
		[]domain.Schedule{{Program: domain.MonthlyReview, Rule: "monthly:last-sun@03:45"}}, store.ConsentEvent{})
	if err != nil {
		t.Fatal(err)
	}
	// An instant far ahead, to check that the score keeps it exactly.
	at := time.Date(2199, 12, 28, 14, 45, 0, 0, time.UTC)
	if ok, err := st.Activate(ctx, res.ID, t0, map[domain.Program]time.Time{domain.MonthlyReview: at}, store.ConsentEvent{}); err != nil || !ok {
		t.Fatalf("activate = %v, %v", ok, err)
	}
	e := checkDueMatchesRecords(t, st, res.ID)[domain.MonthlyReview]
	want := store.DueEntry{Shard: store.ShardOf(res.ID), SubscriberID: "odd|id", Program: domain.MonthlyReview, At: at,
		Rule: "monthly:last-sun@03:45", Version: 1, Step: 0, TimeZone: "Pacific/Chatham"}
	if e != want {
		t.Fatalf("due entry = %+v, want %+v", e, want)
	}
	if b, _ := st.DueBatch(ctx, e.Shard, at.Add(-time.Second), 10); len(b) != 0 {
		t.Fatalf("due a second early: %+v", b)
	}
	// Steps far along stay exact too.
	for i := range 3 {
		next := at.AddDate(0, 0, 7*(i+1))
		if ok, err := st.Advance(ctx, e, next); err != nil || !ok {
			t.Fatalf("advance %d = %v, %v", i, ok, err)
		}
		e = checkDueMatchesRecords(t, st, res.ID)[domain.MonthlyReview]
		if e.Step != int64(i+1) || !e.At.Equal(next) {
			t.Fatalf("after advance %d: %+v", i, e)
		}
	}
}

// A subscriber's change between a planner's read and its move wins: the
// move finds the entry replaced and changes nothing, and the new entry
// carries the step on.
func TestWriterBetweenReadAndMoveWins(t *testing.T) {
	for _, tt := range []struct {
		name  string
		write func(t *testing.T, st *store.Store, id string)
	}{
		{"new rule", func(t *testing.T, st *store.Store, id string) {
			p := prefsOf(t, st, id)
			p.Schedules[0].Rule = "weekly:wed@07:00"
			p.Next = map[domain.Program]time.Time{domain.WeeklyCheckin: t0.Add(30 * time.Hour)}
			if _, err := st.UpdatePreferences(context.Background(), id, p, prefsEvent()); err != nil {
				t.Fatal(err)
			}
		}},
		{"new zone", func(t *testing.T, st *store.Store, id string) {
			p := prefsOf(t, st, id)
			p.TimeZone = "Asia/Kathmandu"
			p.Next = map[domain.Program]time.Time{domain.WeeklyCheckin: t0.Add(30 * time.Hour)}
			if _, err := st.UpdatePreferences(context.Background(), id, p, prefsEvent()); err != nil {
				t.Fatal(err)
			}
		}},
		{"program dropped", func(t *testing.T, st *store.Store, id string) {
			p := prefsOf(t, st, id)
			p.Schedules = nil
			if _, err := st.UpdatePreferences(context.Background(), id, p, prefsEvent()); err != nil {
				t.Fatal(err)
			}
		}},
		{"unsubscribed", func(t *testing.T, st *store.Store, id string) {
			if _, err := st.Unsubscribe(context.Background(), id, store.ConsentEvent{}); err != nil {
				t.Fatal(err)
			}
		}},
		{"erased", func(t *testing.T, st *store.Store, id string) {
			if _, err := st.Erase(context.Background(), id); err != nil {
				t.Fatal(err)
			}
		}},
	} {
		t.Run(tt.name, func(t *testing.T) {
			st := setup(t)
			ctx := context.Background()
			id := newSubscriber(t, st, domain.Subscriber{Email: "w@example.org"}, true, "weekly:tue@18:30")
			// A first move, so that there is a step to carry on.
			e := checkDueMatchesRecords(t, st, id)[domain.WeeklyCheckin]
			if ok, err := st.Advance(ctx, e, t0.Add(3*time.Hour)); err != nil || !ok {
				t.Fatalf("advance = %v, %v", ok, err)
			}
			read := checkDueMatchesRecords(t, st, id)[domain.WeeklyCheckin]
			tt.write(t, st, id)
			for _, mv := range []store.DueMove{{Entry: read, Next: t0.Add(200 * time.Hour)}, {Entry: read, Next: t0.Add(200 * time.Hour), KeepStep: true}, {Entry: read}} {
				if ok, err := st.MoveDue(ctx, []store.DueMove{mv}); err != nil || ok[0] {
					t.Fatalf("stale move %+v = %v, %v; want false", mv, ok, err)
				}
			}
			if tt.name == "erased" {
				if n, _ := st.DueCount(ctx); n != 0 {
					t.Fatalf("due index holds %d entries after erasure", n)
				}
				return
			}
			got := checkDueMatchesRecords(t, st, id)
			sc, err := st.Schedule(ctx, id, domain.WeeklyCheckin)
			if err != nil {
				t.Fatal(err)
			}
			if sc.Step != 1 || sc.Version != 2 {
				t.Fatalf("schedule after the change: %+v; want step 1 carried on, version 2", sc)
			}
			if e, ok := got[domain.WeeklyCheckin]; ok && (!e.At.Equal(t0.Add(30*time.Hour)) || e.Step != 1) {
				t.Fatalf("new entry %+v; want at %s, step 1", e, t0.Add(30*time.Hour))
			}
		})
	}
}

// Planners moving entries while the subscriber keeps changing rules, zone
// and programs: at the end there is still exactly one entry per chosen
// schedule, matching the records, and every successful move shows in the
// step exactly once (no move lost to a change, none applied twice).
func TestDueIndexUnderRacingWritersAndMoves(t *testing.T) {
	st := setup(t)
	ctx := context.Background()
	id := newSubscriber(t, st, domain.Subscriber{Email: "race@example.org"}, true, "weekly:tue@18:30", "weekly:fri@19:00")
	var moved [2]atomic.Int64 // successful moves of the weekly check-in and of gratitude
	progIndex := map[domain.Program]int{domain.WeeklyCheckin: 0, domain.Gratitude: 1}
	stop := make(chan struct{})
	var planners sync.WaitGroup
	for range 3 {
		planners.Go(func() {
			for {
				select {
				case <-stop:
					return
				default:
				}
				var moves []store.DueMove
				for _, es := range allDue(t, st, id) {
					for _, e := range es {
						// KeepStep moves, as for a skipped occurrence,
						// change the instant alone.
						moves = append(moves, store.DueMove{Entry: e, Next: e.At.Add(time.Minute), KeepStep: e.At.Unix()%7 == 0})
					}
				}
				ok, err := st.MoveDue(ctx, moves)
				if err != nil {
					t.Error(err)
					return
				}
				for i, mv := range moves {
					if ok[i] && !mv.KeepStep {
						moved[progIndex[mv.Entry.Program]].Add(1)
					}
				}
			}
		})
	}
	zones := []string{"Europe/London", "Europe/Berlin", "America/Santiago"}
	for i := range 60 {
		p := prefsOf(t, st, id)
		p.TimeZone = zones[i%len(zones)]
		p.Schedules = []domain.Schedule{{Program: domain.WeeklyCheckin, Rule: fmt.Sprintf("weekly:mon@%02d:00", i%24)}}
		if i%3 != 0 { // gratitude dropped every third change, taken up again after
			p.Schedules = append(p.Schedules, domain.Schedule{Program: domain.Gratitude, Rule: "weekly:fri@19:00"})
		}
		p.Next = map[domain.Program]time.Time{
			domain.WeeklyCheckin: t0.Add(time.Duration(i) * time.Hour),
			domain.Gratitude:     t0.Add(time.Duration(i)*time.Hour + 30*time.Minute),
		}
		if _, err := st.UpdatePreferences(ctx, id, p, prefsEvent()); err != nil {
			t.Fatal(err)
		}
	}
	close(stop)
	planners.Wait()
	checkDueMatchesRecords(t, st, id)
	all, err := st.AllSchedules(ctx, id)
	if err != nil {
		t.Fatal(err)
	}
	for _, sc := range all {
		if want := moved[progIndex[sc.Program]].Load(); sc.Step != want {
			t.Errorf("%s: step %d after %d successful moves", sc.Program, sc.Step, want)
		}
	}
	if moved[0].Load() == 0 || moved[1].Load() == 0 {
		t.Errorf("moves that applied: %d and %d; want some of each", moved[0].Load(), moved[1].Load())
	}
	t.Logf("moves applied: weekly check-in %d, gratitude %d", moved[0].Load(), moved[1].Load())
}

// Entries of the first format (member "<id>|<program>", score in Unix
// seconds, rule, version and step in the hashes) are rewritten when read:
// an active subscriber's in the present format with the hash's step and its
// own instant (due or not), an inactive one's taken out.
func TestDueEntriesOfTheFirstFormatAreUpgraded(t *testing.T) {
	st := setup(t)
	ctx := context.Background()
	rdb := st.Redis()
	active := newSubscriber(t, st, domain.Subscriber{Email: "old@example.org"}, true, "weekly:tue@18:30")
	ahead := newSubscriber(t, st, domain.Subscriber{Email: "ahead@example.org"}, true, "weekly:thu@18:30")
	gone := newSubscriber(t, st, domain.Subscriber{Email: "left@example.org"}, true, "weekly:wed@18:30")
	if _, err := st.Unsubscribe(ctx, gone, store.ConsentEvent{}); err != nil {
		t.Fatal(err)
	}
	at, later := t0.Add(time.Hour), t0.Add(100*time.Hour)
	shardKey := func(id string) string { return st.Prefix() + "due:" + strconv.Itoa(store.ShardOf(id)) }
	for _, id := range []string{active, ahead, gone} {
		if err := rdb.Del(ctx, shardKey(id)).Err(); err != nil {
			t.Fatal(err)
		}
	}
	for id, when := range map[string]time.Time{active: at, ahead: later, gone: at} {
		if err := rdb.ZAdd(ctx, shardKey(id), redis.Z{Score: float64(when.Unix()), Member: id + "|" + string(domain.WeeklyCheckin)}).Err(); err != nil {
			t.Fatal(err)
		}
	}
	if err := rdb.HSet(ctx, st.Prefix()+"sched:"+active+":"+string(domain.WeeklyCheckin), "n", "3").Err(); err != nil {
		t.Fatal(err)
	}
	read := map[string][]store.DueEntry{}
	for shard := range map[int]bool{store.ShardOf(active): true, store.ShardOf(ahead): true, store.ShardOf(gone): true} {
		batch, err := st.DueBatch(ctx, shard, at, 10)
		if err != nil {
			t.Fatal(err)
		}
		for _, e := range batch {
			read[e.SubscriberID] = append(read[e.SubscriberID], e)
		}
	}
	want := map[string][]store.DueEntry{active: {{Shard: store.ShardOf(active), SubscriberID: active, Program: domain.WeeklyCheckin, At: at,
		Rule: "weekly:tue@18:30", Version: 1, Step: 3, TimeZone: "Europe/London"}}}
	if diff := cmp.Diff(want, read); diff != "" {
		t.Fatalf("due batches (-want +got):\n%s", diff)
	}
	for _, id := range []string{active, ahead, gone} {
		checkDueMatchesRecords(t, st, id)
	}
	if got := allDue(t, st, ahead)[domain.WeeklyCheckin]; len(got) != 1 || !got[0].At.Equal(later) {
		t.Fatalf("entry not yet due after the upgrade: %+v, want one at %s", got, later)
	}
	if n, _ := st.DueCount(ctx); n != 2 {
		t.Fatalf("due index holds %d entries, want 2", n)
	}
}
