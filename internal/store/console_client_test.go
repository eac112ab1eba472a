package store_test

import (
	"context"
	"errors"
	"fmt"
	"testing"
	"time"

	"github.com/nudgehq/nudge/internal/domain"
	"github.com/nudgehq/nudge/internal/store"
)

// enrolClient records a pending client of clinic cid.
func enrolClient(t *testing.T, st *store.Store, cid string) string {
	t.Helper()
	ctx := context.Background()
	if err := st.CreateClinic(ctx, domain.Clinic{ID: cid, Name: cid, CreatedAt: t0}, ""); err != nil {
		t.Fatal(err)
	}
	sub := domain.Subscriber{ID: store.NewID(), Clinic: cid, FirstName: "Ana", Email: "ana-" + cid + "@example.org", TimeZone: "UTC", Locale: "en",
		Status: domain.Pending, CreatedAt: t0}
	if err := st.EnrolClient(ctx, sub, store.ConsentEvent{At: t0, Action: store.ConsentSignup}); err != nil {
		t.Fatal(err)
	}
	return sub.ID
}

func TestClientNotesAreTheClinicsAndCapped(t *testing.T) {
	st := setup(t)
	ctx := context.Background()
	id := enrolClient(t, st, "clinica")
	enrolClient(t, st, "clinicb")
	day := time.Date(2026, 12, 5, 0, 0, 0, 0, time.UTC)
	for i, text := range []string{"later day", "earlier day"} {
		n := store.ClientNote{ID: fmt.Sprintf("n%d", i), Client: id, Day: day.AddDate(0, 0, -3*i), Text: text, Staff: "s1", Written: t0}
		if err := st.AddClientNote(ctx, "clinica", n); err != nil {
			t.Fatal(err)
		}
	}
	if err := st.AddClientNote(ctx, "clinicb", store.ClientNote{ID: "nx", Client: id, Day: day, Text: "intruder"}); !errors.Is(err, store.ErrNotFound) {
		t.Errorf("a note through another clinic: %v", err)
	}
	if _, err := st.ClientNotes(ctx, "clinicb", id); !errors.Is(err, store.ErrNotFound) {
		t.Errorf("notes read through another clinic: %v", err)
	}
	if err := st.DeleteClientNote(ctx, "clinicb", id, "n0"); !errors.Is(err, store.ErrNotFound) {
		t.Errorf("a note deleted through another clinic: %v", err)
	}
	notes, err := st.ClientNotes(ctx, "clinica", id)
	if err != nil || len(notes) != 2 || notes[0].Text != "earlier day" || notes[1].Text != "later day" || !notes[1].Day.Equal(day) || notes[1].Staff != "s1" {
		t.Fatalf("notes, oldest day first: %+v %v", notes, err)
	}
	if err := st.DeleteClientNote(ctx, "clinica", id, "n9"); !errors.Is(err, store.ErrNotFound) {
		t.Errorf("a missing note: %v", err)
	}
	if err := st.DeleteClientNote(ctx, "clinica", id, "n0"); err != nil {
		t.Fatal(err)
	}
	for i := 1; i < store.MaxClientNotes; i++ {
		if err := st.AddClientNote(ctx, "clinica", store.ClientNote{ID: fmt.Sprintf("m%d", i), Client: id, Day: day, Text: "x"}); err != nil {
			t.Fatal(err)
		}
	}
	if err := st.AddClientNote(ctx, "clinica", store.ClientNote{ID: "over", Client: id, Day: day, Text: "x"}); !errors.Is(err, store.ErrTooMany) {
		t.Errorf("note %d: %v, want too many", store.MaxClientNotes+1, err)
	}
}

func TestSessionLogKeepsThePastAndMovesTheNext(t *testing.T) {
	st := setup(t)
	ctx := context.Background()
	id := enrolClient(t, st, "clinica")
	enrolClient(t, st, "clinicb")
	now := time.Date(2026, 12, 9, 12, 0, 0, 0, time.UTC)
	past, next, moved := now.AddDate(0, 0, -7), now.AddDate(0, 0, 7), now.AddDate(0, 0, 8)
	for _, at := range []time.Time{past, next, moved} {
		if err := st.LogSession(ctx, "clinica", id, at, now); err != nil {
			t.Fatal(err)
		}
	}
	if err := st.LogSession(ctx, "clinicb", id, now, now); !errors.Is(err, store.ErrNotFound) {
		t.Errorf("logged through another clinic: %v", err)
	}
	got, err := st.SessionLog(ctx, "clinica", id)
	if err != nil || len(got) != 2 || !got[0].Equal(past) || !got[1].Equal(moved) {
		t.Errorf("session log %v %v, want the past one and the moved one", got, err)
	}
}

func TestDischargeStopsPlanningAndKeepsTheRecord(t *testing.T) {
	st := setup(t)
	ctx := context.Background()
	id := enrolClient(t, st, "clinica")
	enrolClient(t, st, "clinicb")
	if _, err := st.Discharge(ctx, "clinicb", id, store.ConsentEvent{At: t0, Action: store.ConsentDischarge}); !errors.Is(err, store.ErrNotFound) {
		t.Fatalf("discharged through another clinic: %v", err)
	}
	if sub, _ := st.Subscriber(ctx, id); sub.Status != domain.Pending {
		t.Fatalf("status %s after a refused discharge", sub.Status)
	}
	changed, err := st.Discharge(ctx, "clinica", id, store.ConsentEvent{At: t0, Action: store.ConsentDischarge, Source: "clinic"})
	if err != nil || !changed {
		t.Fatalf("discharge: %v %v", changed, err)
	}
	if again, err := st.Discharge(ctx, "clinica", id, store.ConsentEvent{At: t0, Action: store.ConsentDischarge}); err != nil || again {
		t.Errorf("a second discharge: %v %v, want no change", again, err)
	}
	sub, err := st.Client(ctx, "clinica", id)
	if err != nil || sub.Status != domain.Discharged {
		t.Fatalf("after discharge: %+v %v", sub, err)
	}
	// A late confirmation starts nothing.
	if ok, err := st.Activate(ctx, id, t0.Add(time.Hour), nil, store.ConsentEvent{At: t0}); err != nil || ok {
		t.Errorf("a discharged client was activated: %v %v", ok, err)
	}
	// Not suppressed: the client did not opt out.
	if sup, _ := st.Suppressed(ctx, sub.Email); sup {
		t.Errorf("a discharge suppressed the address")
	}
}

// A client who opted out and was then discharged stays opted out: a
// readmission does not turn their messages back on, and an erasure after the
// discharge still suppresses their number.
func TestADischargeKeepsAnOptOut(t *testing.T) {
	st := setup(t)
	ctx := context.Background()
	phone := "+15555550177"
	sub := domain.Subscriber{ID: store.NewID(), Clinic: "clinicout", FirstName: "Ana", Email: "ana-out@example.org", Phone: phone,
		TimeZone: "UTC", Locale: "en", Status: domain.Pending, CreatedAt: t0}
	if err := st.CreateClinic(ctx, domain.Clinic{ID: "clinicout", Name: "c", CreatedAt: t0}, ""); err != nil {
		t.Fatal(err)
	}
	if err := st.EnrolClient(ctx, sub, store.ConsentEvent{At: t0, Action: store.ConsentSignup}); err != nil {
		t.Fatal(err)
	}
	id := sub.ID
	if ok, err := st.Activate(ctx, id, t0, nil, store.ConsentEvent{At: t0, Action: "confirm"}); err != nil || !ok {
		t.Fatalf("activate: %v %v", ok, err)
	}
	if _, err := st.Unsubscribe(ctx, id, store.ConsentEvent{At: t0, Action: "unsubscribe"}); err != nil {
		t.Fatal(err)
	}
	discharge := func() {
		t.Helper()
		if changed, err := st.Discharge(ctx, "clinicout", id, store.ConsentEvent{At: t0, Action: store.ConsentDischarge}); err != nil || !changed {
			t.Fatalf("discharge: %v %v", changed, err)
		}
	}
	discharge()
	if changed, err := st.Readmit(ctx, "clinicout", id, store.ConsentEvent{At: t0, Action: "readmit"}); err != nil || !changed {
		t.Fatalf("readmit: %v %v", changed, err)
	}
	if got, _ := st.Client(ctx, "clinicout", id); got.Status != domain.Unsubscribed {
		t.Errorf("readmitted an opted-out client as %s, want %s", got.Status, domain.Unsubscribed)
	}
	discharge()
	if _, err := st.Erase(ctx, id); err != nil {
		t.Fatal(err)
	}
	if sup, err := st.Suppressed(ctx, phone); err != nil || !sup {
		t.Errorf("erased after an opt-out and a discharge, the number is not suppressed (%v)", err)
	}
}
