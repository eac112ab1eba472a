package store_test

import (
	"context"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/nudgehq/nudge/internal/domain"
	"github.com/nudgehq/nudge/internal/store"
)

// sendCheckin records a weekly check-in of date as sent by email at at, the
// way the worker does.
func sendCheckin(t *testing.T, st *store.Store, id, date string, at time.Time) {
	t.Helper()
	ctx := context.Background()
	k := store.DeliveryKey{SubscriberID: id, Program: domain.WeeklyCheckin, Date: date, Channel: domain.Email}
	if err := st.ClaimDelivery(ctx, k, at); err != nil {
		t.Fatal(err)
	}
	if err := st.FinishSent(ctx, k, "<m@x>", at, store.SentMarks{LastNudge: "weekly-checkin:" + date}); err != nil {
		t.Fatal(err)
	}
}

func TestASecondAnswerReplacesTheFirstAndALateOneKeepsItsWeek(t *testing.T) {
	st := setup(t)
	ctx := context.Background()
	id := newSubscriber(t, st, domain.Subscriber{Email: "answer@example.org"}, true, "weekly:sun@18:00")
	w1, w2 := t0, t0.Add(7*24*time.Hour)
	sendCheckin(t, st, id, "2026-11-30", w1)
	sendCheckin(t, st, id, "2026-12-07", w2)

	must := func(a store.Answer) {
		t.Helper()
		if err := st.RecordAnswer(ctx, id, a); err != nil {
			t.Fatal(err)
		}
	}
	must(store.Answer{Occurrence: "weekly-checkin:2026-12-07", Score: 2, Note: "quiet", Channel: domain.Email, AnsweredAt: w2.Add(time.Hour)})
	must(store.Answer{Occurrence: "weekly-checkin:2026-12-07", Score: 4, Channel: domain.SMS, AnsweredAt: w2.Add(2 * time.Hour)})
	// A week late, for the first check-in: it stays with the first week.
	must(store.Answer{Occurrence: "weekly-checkin:2026-11-30", Score: 3, Note: "  saw my brother  ", Channel: domain.Email, AnsweredAt: w2.Add(3 * time.Hour)})

	got, err := st.Answers(ctx, id, time.Time{}, time.Time{})
	if err != nil {
		t.Fatal(err)
	}
	want := []store.Answer{
		{Occurrence: "weekly-checkin:2026-11-30", Score: 3, Note: "saw my brother", Channel: domain.Email, AnsweredAt: w2.Add(3 * time.Hour), SentAt: w1},
		{Occurrence: "weekly-checkin:2026-12-07", Score: 4, Channel: domain.SMS, AnsweredAt: w2.Add(2 * time.Hour), SentAt: w2},
	}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Fatalf("answers (-want +got):\n%s", diff)
	}
	// The window is the occurrence's, not the answer's.
	got, err = st.Answers(ctx, id, w1, w2)
	if err != nil {
		t.Fatal(err)
	}
	if len(got) != 1 || got[0].Occurrence != "weekly-checkin:2026-11-30" {
		t.Fatalf("answers of the first week = %+v", got)
	}
	one, err := st.Answer(ctx, id, "weekly-checkin:2026-12-07")
	if err != nil || one.Score != 4 || !one.SentAt.Equal(w2) {
		t.Fatalf("Answer = %+v, %v", one, err)
	}
	if _, err := st.Answer(ctx, id, "weekly-checkin:2026-12-14"); !errors.Is(err, store.ErrNotFound) {
		t.Fatalf("unanswered occurrence: %v, want ErrNotFound", err)
	}
}

func TestRecordAnswerRefusesBadInputClearly(t *testing.T) {
	st := setup(t)
	ctx := context.Background()
	id := newSubscriber(t, st, domain.Subscriber{Email: "bad-answer@example.org"}, true, "weekly:sun@18:00")
	at := t0
	for _, a := range []store.Answer{
		{Occurrence: "weekly-checkin:2026-11-30", Score: 6, AnsweredAt: at},
		{Occurrence: "weekly-checkin:2026-11-30", Score: -1, AnsweredAt: at},
		{Occurrence: "weekly-checkin:2026-11-30", AnsweredAt: at},
		{Occurrence: "weekly-checkin:2026-11-30", Note: "   ", AnsweredAt: at},
		{Occurrence: "nothing:2026-11-30", Score: 3, AnsweredAt: at},
		{Occurrence: "weekly-checkin:", Score: 3, AnsweredAt: at},
		{Occurrence: "weekly-checkin", Score: 3, AnsweredAt: at},
		{Occurrence: "weekly-checkin:2026-11-30", Score: 3},
	} {
		err := st.RecordAnswer(ctx, id, a)
		if domain.ErrorCode(err) != domain.ErrInvalid {
			t.Errorf("RecordAnswer(%+v) = %v, want an invalid-input error", a, err)
		}
	}
	err := st.RecordAnswer(ctx, "no-such-subscriber", store.Answer{Occurrence: "gratitude:2026-11-30", Note: "hi", AnsweredAt: at})
	if !errors.Is(err, store.ErrNotFound) {
		t.Fatalf("answer for nobody: %v, want ErrNotFound", err)
	}
	// A long note is cut, not refused.
	if err := st.RecordAnswer(ctx, id, store.Answer{Occurrence: "gratitude:2026-11-30", Note: strings.Repeat("é", 600), AnsweredAt: at}); err != nil {
		t.Fatal(err)
	}
	a, err := st.Answer(ctx, id, "gratitude:2026-11-30")
	if err != nil || len([]rune(a.Note)) != store.MaxNoteLen || a.Score != 0 {
		t.Fatalf("long note kept as %d characters, score %d, %v", len([]rune(a.Note)), a.Score, err)
	}
}

func TestDeleteAnswerNoteKeepsTheScore(t *testing.T) {
	st := setup(t)
	ctx := context.Background()
	id := newSubscriber(t, st, domain.Subscriber{Email: "delete-note@example.org"}, true, "weekly:sun@18:00")
	for _, a := range []store.Answer{
		{Occurrence: "weekly-checkin:2026-11-30", Score: 3, Note: "walked with Jo", AnsweredAt: t0},
		{Occurrence: "gratitude:2026-12-01", Note: "the bus driver", AnsweredAt: t0},
	} {
		if err := st.RecordAnswer(ctx, id, a); err != nil {
			t.Fatal(err)
		}
	}
	for _, occ := range []string{"weekly-checkin:2026-11-30", "gratitude:2026-12-01"} {
		if ok, err := st.DeleteAnswerNote(ctx, id, occ); err != nil || !ok {
			t.Fatalf("delete note of %s = %v, %v", occ, ok, err)
		}
	}
	if ok, err := st.DeleteAnswerNote(ctx, id, "weekly-checkin:2026-11-30"); err != nil || ok {
		t.Fatalf("second delete = %v, %v; want nothing to delete", ok, err)
	}
	got, err := st.Answers(ctx, id, time.Time{}, time.Time{})
	if err != nil {
		t.Fatal(err)
	}
	if len(got) != 1 || got[0].Score != 3 || got[0].Note != "" {
		t.Fatalf("after deleting notes: %+v", got)
	}
}

func TestAnswersOlderThanTheRetentionGo(t *testing.T) {
	st := setup(t)
	ctx := context.Background()
	id := newSubscriber(t, st, domain.Subscriber{Email: "retention@example.org"}, true, "weekly:sun@18:00")
	old := t0.Add(-store.AnswerRetention - 24*time.Hour)
	sendCheckin(t, st, id, "2025-10-20", old)
	if err := st.RecordAnswer(ctx, id, store.Answer{Occurrence: "weekly-checkin:2025-10-20", Score: 2, AnsweredAt: old}); err != nil {
		t.Fatal(err)
	}
	sendCheckin(t, st, id, "2026-11-30", t0)
	if err := st.RecordAnswer(ctx, id, store.Answer{Occurrence: "weekly-checkin:2026-11-30", Score: 5, AnsweredAt: t0}); err != nil {
		t.Fatal(err)
	}
	got, err := st.Answers(ctx, id, time.Time{}, time.Time{})
	if err != nil {
		t.Fatal(err)
	}
	if len(got) != 1 || got[0].Score != 5 {
		t.Fatalf("answers = %+v, want only the recent one", got)
	}
	sent, err := st.SentBetween(ctx, id, domain.WeeklyCheckin, time.Time{}, time.Time{})
	if err != nil {
		t.Fatal(err)
	}
	if len(sent) != 1 || sent[0].Occurrence != "weekly-checkin:2026-11-30" {
		t.Fatalf("sent = %+v, want only the recent one", sent)
	}
}

func TestSentBetweenCountsEachOccurrenceOnceByProgram(t *testing.T) {
	st := setup(t)
	ctx := context.Background()
	id := newSubscriber(t, st, domain.Subscriber{Email: "sent@example.org"}, true, "weekly:sun@18:00")
	sendCheckin(t, st, id, "2026-11-30", t0)
	// The same occurrence by SMS a minute later is not a second one.
	k := store.DeliveryKey{SubscriberID: id, Program: domain.WeeklyCheckin, Date: "2026-11-30", Channel: domain.SMS}
	if err := st.FinishSent(ctx, k, "SM1", t0.Add(time.Minute), store.SentMarks{LastNudge: "weekly-checkin:2026-11-30"}); err != nil {
		t.Fatal(err)
	}
	if err := st.MarkSent(ctx, id, "gratitude:2026-12-02", t0.Add(48*time.Hour)); err != nil {
		t.Fatal(err)
	}
	sendCheckin(t, st, id, "2026-12-07", t0.Add(7*24*time.Hour))
	got, err := st.SentBetween(ctx, id, domain.WeeklyCheckin, t0, t0.Add(7*24*time.Hour))
	if err != nil {
		t.Fatal(err)
	}
	want := []store.SentOccurrence{{Occurrence: "weekly-checkin:2026-11-30", At: t0}}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Fatalf("sent (-want +got):\n%s", diff)
	}
	all, err := st.SentBetween(ctx, id, "", time.Time{}, time.Time{})
	if err != nil || len(all) != 3 {
		t.Fatalf("every sent occurrence = %+v, %v", all, err)
	}
}

func TestLastAckIsKeptPerSubscriber(t *testing.T) {
	st := setup(t)
	ctx := context.Background()
	id := newSubscriber(t, st, domain.Subscriber{Email: "ack@example.org"}, true, "weekly:sun@18:00")
	if n, err := st.LastAck(ctx, id); err != nil || n != -1 {
		t.Fatalf("LastAck before any = %d, %v; want -1", n, err)
	}
	if err := st.SetLastAck(ctx, id, 3); err != nil {
		t.Fatal(err)
	}
	if n, err := st.LastAck(ctx, id); err != nil || n != 3 {
		t.Fatalf("LastAck = %d, %v; want 3", n, err)
	}
}

func TestEraseTakesTheAnswers(t *testing.T) {
	st := setup(t)
	ctx := context.Background()
	id := newSubscriber(t, st, domain.Subscriber{Email: "erase-answers@example.org"}, true, "weekly:sun@18:00")
	sendCheckin(t, st, id, "2026-11-30", t0)
	if err := st.RecordAnswer(ctx, id, store.Answer{Occurrence: "weekly-checkin:2026-11-30", Score: 4, Note: "x", AnsweredAt: t0}); err != nil {
		t.Fatal(err)
	}
	if err := st.SetLastAck(ctx, id, 1); err != nil {
		t.Fatal(err)
	}
	if _, err := st.Erase(ctx, id); err != nil {
		t.Fatal(err)
	}
	keys, err := st.Redis().Keys(ctx, st.Prefix()+"*"+id+"*").Result()
	if err != nil {
		t.Fatal(err)
	}
	if len(keys) != 0 {
		t.Fatalf("left after erasure: %v", keys)
	}
	// A late answer or a late "sent" does not bring anything back.
	if err := st.RecordAnswer(ctx, id, store.Answer{Occurrence: "weekly-checkin:2026-11-30", Score: 4, AnsweredAt: t0}); !errors.Is(err, store.ErrNotFound) {
		t.Fatalf("answer after erasure: %v, want ErrNotFound", err)
	}
	k := store.DeliveryKey{SubscriberID: id, Program: domain.WeeklyCheckin, Date: "2026-12-07", Channel: domain.Email}
	if err := st.FinishSent(ctx, k, "<m@x>", t0, store.SentMarks{LastNudge: "weekly-checkin:2026-12-07"}); err != nil {
		t.Fatal(err)
	}
	if n, _ := st.Redis().Exists(ctx, st.Prefix()+"sent:"+id).Result(); n != 0 {
		t.Fatal("a send after erasure brought back the sent index")
	}
}

func TestQuoteNotesIsOffByDefaultAndEveryChangeIsInTheLedger(t *testing.T) {
	st := setup(t)
	ctx := context.Background()
	id := newSubscriber(t, st, domain.Subscriber{Email: "quote@example.org"}, true, "weekly:sun@18:00")
	if on, err := st.QuoteNotes(ctx, id); err != nil || on {
		t.Fatalf("default = %v, %v; want off", on, err)
	}
	ev := store.ConsentEvent{At: t0, Action: store.ConsentQuoteNotes, Channel: "email", Source: "form"}
	for i, tc := range []struct{ on, changed bool }{{true, true}, {true, false}, {false, true}} {
		changed, err := st.SetQuoteNotes(ctx, id, tc.on, ev)
		if err != nil || changed != tc.changed {
			t.Fatalf("step %d: SetQuoteNotes(%v) = %v, %v; want changed %v", i, tc.on, changed, err, tc.changed)
		}
		if on, _ := st.QuoteNotes(ctx, id); on != tc.on {
			t.Fatalf("step %d: QuoteNotes = %v, want %v", i, on, tc.on)
		}
	}
	ledger, err := st.Consent(ctx, id)
	if err != nil {
		t.Fatal(err)
	}
	var got []string
	for _, e := range ledger {
		if e.Action == store.ConsentQuoteNotes {
			got = append(got, e.Detail)
		}
	}
	if diff := cmp.Diff([]string{"on", "off"}, got); diff != "" {
		t.Fatalf("ledger (-want +got):\n%s", diff)
	}
	if _, err := st.SetQuoteNotes(ctx, "nobody-here", true, ev); !errors.Is(err, store.ErrNotFound) {
		t.Fatalf("for nobody: %v, want ErrNotFound", err)
	}
}
