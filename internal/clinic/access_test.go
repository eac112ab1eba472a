package clinic_test

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/nudgehq/nudge/internal/clinic"
	"github.com/nudgehq/nudge/internal/domain"
	"github.com/nudgehq/nudge/internal/store"
)

// One rule decides, for the API's keys and the console's staff alike, who
// may reach which client.
func TestReachIsOneRuleForKeysOwnersAndClinicians(t *testing.T) {
	f := setup(t)
	ctx := context.Background()
	a, b := f.clinic(t, "A"), f.clinic(t, "B")
	mine := f.enrol(t, a.Clinic.ID, clinic.Enrolment{Email: "mine@example.org"})
	theirs := f.enrol(t, a.Clinic.ID, clinic.Enrolment{Email: "theirs@example.org"})
	other := f.enrol(t, b.Clinic.ID, clinic.Enrolment{Email: "other@example.org"})
	for _, st := range []store.Staff{
		{ID: "owner-a", Clinic: a.Clinic.ID, Email: "owner@a.example", Role: store.RoleOwner},
		{ID: "clin-a", Clinic: a.Clinic.ID, Email: "clin@a.example", Role: store.RoleClinician},
		{ID: "clin-a2", Clinic: a.Clinic.ID, Email: "clin2@a.example", Role: store.RoleClinician},
	} {
		if err := f.st.AddStaff(ctx, st); err != nil {
			t.Fatal(err)
		}
	}
	if err := f.st.Assign(ctx, a.Clinic.ID, "clin-a", mine.ID); err != nil {
		t.Fatal(err)
	}
	if err := f.st.Assign(ctx, a.Clinic.ID, "clin-a2", theirs.ID); err != nil {
		t.Fatal(err)
	}
	key := clinic.Principal{Clinic: a.Clinic.ID, Key: a.KeyID}
	owner := clinic.Principal{Clinic: a.Clinic.ID, Staff: "owner-a", Role: store.RoleOwner}
	clinician := clinic.Principal{Clinic: a.Clinic.ID, Staff: "clin-a", Role: store.RoleClinician}
	roleless := clinic.Principal{Clinic: a.Clinic.ID, Staff: "clin-a"}
	tests := []struct {
		name   string
		who    clinic.Principal
		client string
		ok     bool
	}{
		{"a key, its clinic's client", key, theirs.ID, true},
		{"a key, another clinic's client", key, other.ID, false},
		{"an owner, any client of theirs", owner, theirs.ID, true},
		{"an owner, another clinic's client", owner, other.ID, false},
		{"a clinician, their client", clinician, mine.ID, true},
		{"a clinician, a colleague's client", clinician, theirs.ID, false},
		{"a clinician, another clinic's client", clinician, other.ID, false},
		{"staff without a role", roleless, theirs.ID, false},
		{"no clinic", clinic.Principal{Key: a.KeyID}, theirs.ID, false},
		{"a missing id", owner, "nosuchclient0000", false},
	}
	for _, tt := range tests {
		sub, err := f.svc.Reach(ctx, tt.who, tt.client)
		switch {
		case tt.ok && (err != nil || sub.ID != tt.client):
			t.Errorf("%s: %+v, %v; want the client", tt.name, sub.ID, err)
		case !tt.ok && !errors.Is(err, store.ErrNotFound):
			t.Errorf("%s: %q, %v; want the not-found of a missing id", tt.name, sub.ID, err)
		}
	}
	assigned := map[string]string{mine.ID: "clin-a", theirs.ID: "clin-a2"}
	if !clinician.MayView(mine.ID, assigned) || clinician.MayView(theirs.ID, assigned) || !owner.MayView(theirs.ID, assigned) || !key.MayView(theirs.ID, assigned) {
		t.Error("MayView disagrees with Reach")
	}
}

// A discharged client is kept for the retention, then erased like a
// removal; a client removed meanwhile only leaves the list.
func TestDischargedClientsAreErasedAfterTheRetention(t *testing.T) {
	f := setup(t)
	ctx := context.Background()
	a := f.clinic(t, "A")
	kept := f.enrol(t, a.Clinic.ID, clinic.Enrolment{Email: "kept@example.org"})
	gone := f.enrol(t, a.Clinic.ID, clinic.Enrolment{Email: "gone@example.org"})
	active := f.enrol(t, a.Clinic.ID, clinic.Enrolment{Email: "active@example.org"})
	for _, id := range []string{kept.ID, gone.ID} {
		if _, err := f.svc.Discharge(ctx, a.Clinic.ID, id, "staff-1"); err != nil {
			t.Fatal(err)
		}
	}
	if err := f.svc.Remove(ctx, a.Clinic.ID, gone.ID); err != nil {
		t.Fatal(err)
	}
	f.now = t0.Add(clinic.DischargeRetention - time.Hour)
	if n, err := f.svc.EraseDischarged(ctx); err != nil || n != 0 {
		t.Fatalf("before the retention ran out: %d erased, %v", n, err)
	}
	if sub, err := f.svc.Client(ctx, a.Clinic.ID, kept.ID); err != nil || sub.Status != domain.Discharged {
		t.Fatalf("a discharged client within the retention: %+v, %v", sub.Status, err)
	}
	f.now = t0.Add(clinic.DischargeRetention + time.Hour)
	if n, err := f.svc.EraseDischarged(ctx); err != nil || n != 1 {
		t.Fatalf("after the retention ran out: %d erased, %v; want the one still on file", n, err)
	}
	if _, err := f.svc.Client(ctx, a.Clinic.ID, kept.ID); !errors.Is(err, store.ErrNotFound) {
		t.Fatalf("the discharged client is still on file: %v", err)
	}
	if sub, err := f.svc.Client(ctx, a.Clinic.ID, active.ID); err != nil || sub.Status == domain.Discharged {
		t.Fatalf("a client never discharged was touched: %+v, %v", sub.Status, err)
	}
	if left, err := f.st.DischargedBefore(ctx, f.now.Add(time.Hour), 10); err != nil || len(left) != 0 {
		t.Fatalf("the discharged list still holds %v (%v)", left, err)
	}
}
