package store_test

import (
	"context"
	"errors"
	"sync"
	"testing"
	"time"

	"github.com/nudgehq/nudge/internal/domain"
	"github.com/nudgehq/nudge/internal/store"
)

func TestAClinicKeepsAnOwner(t *testing.T) {
	st := setup(t)
	ctx := context.Background()
	for _, id := range []string{"clinica", "clinicb"} {
		if err := st.CreateClinic(ctx, domain.Clinic{ID: id, Name: id, CreatedAt: t0}, ""); err != nil {
			t.Fatal(err)
		}
	}
	add := func(clinic, addr, role string) store.Staff {
		s := store.Staff{ID: store.NewID(), Clinic: clinic, Email: addr, Role: role, CreatedAt: t0}
		if err := st.AddStaff(ctx, s); err != nil {
			t.Fatal(err)
		}
		return s
	}
	one := add("clinica", "one@a.test", store.RoleOwner)
	two := add("clinica", "two@a.test", store.RoleOwner)
	clin := add("clinica", "clin@a.test", store.RoleClinician)

	if err := st.SetStaffRole(ctx, "clinicb", one.ID, store.RoleClinician); !errors.Is(err, store.ErrNotFound) {
		t.Errorf("a role changed through another clinic: %v", err)
	}
	if err := st.RemoveStaffMember(ctx, "clinicb", one.ID); !errors.Is(err, store.ErrNotFound) {
		t.Errorf("removed through another clinic: %v", err)
	}
	// Two owners demote each other at once: one of them stays an owner.
	var wg sync.WaitGroup
	errs := make([]error, 2)
	for i, s := range []store.Staff{one, two} {
		wg.Add(1)
		go func() {
			defer wg.Done()
			errs[i] = st.SetStaffRole(ctx, "clinica", s.ID, store.RoleClinician)
		}()
	}
	wg.Wait()
	owners := 0
	for _, s := range []store.Staff{one, two} {
		got, _ := st.StaffMember(ctx, s.ID)
		if got.Role == store.RoleOwner {
			owners++
		}
	}
	if owners != 1 || (!errors.Is(errs[0], store.ErrLastOwner) && !errors.Is(errs[1], store.ErrLastOwner)) {
		t.Fatalf("%d owners after both stepped down: %v", owners, errs)
	}
	last := one
	if got, _ := st.StaffMember(ctx, two.ID); got.Role == store.RoleOwner {
		last = two
	}
	if err := st.RemoveStaffMember(ctx, "clinica", last.ID); !errors.Is(err, store.ErrLastOwner) {
		t.Errorf("the last owner removed: %v", err)
	}
	// A clinician goes, even from a clinic with one owner; their second
	// factor and sessions with them.
	if err := st.SetStaffTOTPPending(ctx, clin.ID, "sealed"); err != nil {
		t.Fatal(err)
	}
	if err := st.ConfirmStaffTOTP(ctx, clin.ID, "sealed", 100); err != nil {
		t.Fatal(err)
	}
	sess, _ := st.CreateConsoleSession(ctx, clin, t0, time.Hour)
	if err := st.RemoveStaffMember(ctx, "clinica", clin.ID); err != nil {
		t.Fatal(err)
	}
	if _, err := st.ConsoleSessionOf(ctx, sess); !errors.Is(err, store.ErrNotFound) {
		t.Errorf("the session outlived the removal: %v", err)
	}
	if tf, _ := st.StaffTOTPOf(ctx, clin.ID); tf.On || tf.Secret != "" {
		t.Errorf("the second factor outlived the removal: %+v", tf)
	}
}

func TestTOTPStepIsUsedOnce(t *testing.T) {
	st := setup(t)
	ctx := context.Background()
	if err := st.CreateClinic(ctx, domain.Clinic{ID: "clinica", Name: "a", CreatedAt: t0}, ""); err != nil {
		t.Fatal(err)
	}
	s := store.Staff{ID: store.NewID(), Clinic: "clinica", Email: "s@a.test", Role: store.RoleOwner, CreatedAt: t0}
	if err := st.AddStaff(ctx, s); err != nil {
		t.Fatal(err)
	}
	if err := st.ConfirmStaffTOTP(ctx, s.ID, "sealed", 10); !errors.Is(err, store.ErrNotFound) {
		t.Errorf("confirmed without a pending secret: %v", err)
	}
	if err := st.SetStaffTOTPPending(ctx, s.ID, "sealed"); err != nil {
		t.Fatal(err)
	}
	if err := st.ConfirmStaffTOTP(ctx, s.ID, "another", 10); !errors.Is(err, store.ErrNotFound) {
		t.Errorf("confirmed a secret not the pending one: %v", err)
	}
	if err := st.ConfirmStaffTOTP(ctx, s.ID, "sealed", 10); err != nil {
		t.Fatal(err)
	}
	for _, c := range []struct {
		step int64
		ok   bool
	}{{10, false}, {9, false}, {11, true}, {11, false}, {13, true}, {12, false}} {
		if ok, err := st.UseTOTPStep(ctx, s.ID, c.step); err != nil || ok != c.ok {
			t.Errorf("step %d: %v %v, want %v", c.step, ok, err, c.ok)
		}
	}
	if err := st.SetStaffTOTPPending(ctx, store.NewID(), "x"); !errors.Is(err, store.ErrNotFound) {
		t.Errorf("enrolment for nobody: %v", err)
	}
}

func TestConsoleSettingsDefaultAndBounds(t *testing.T) {
	st := setup(t)
	ctx := context.Background()
	cs, err := st.ConsoleSettingsOf(ctx, "clinica")
	if err != nil || cs.IdleMinutes != 30 || cs.RequireTOTP {
		t.Fatalf("defaults: %+v %v", cs, err)
	}
	for _, bad := range []int{0, 9, 61} {
		if err := st.SetConsoleSettings(ctx, "clinica", store.ConsoleSettings{IdleMinutes: bad}); err == nil {
			t.Errorf("idle %d stored", bad)
		}
	}
	if err := st.SetConsoleSettings(ctx, "clinica", store.ConsoleSettings{IdleMinutes: 10, RequireTOTP: true}); err != nil {
		t.Fatal(err)
	}
	if cs, _ := st.ConsoleSettingsOf(ctx, "clinica"); cs.IdleFor() != 10*time.Minute || !cs.RequireTOTP {
		t.Errorf("stored: %+v", cs)
	}
}
