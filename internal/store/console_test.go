package store_test

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/nudgehq/nudge/internal/domain"
	"github.com/nudgehq/nudge/internal/store"
)

func TestStaffAddressIsOneClinicsAndRemovalEndsSessionsAndAssignments(t *testing.T) {
	st := setup(t)
	ctx := context.Background()
	for _, id := range []string{"clinica", "clinicb"} {
		if err := st.CreateClinic(ctx, domain.Clinic{ID: id, Name: id, CreatedAt: t0}, ""); err != nil {
			t.Fatal(err)
		}
	}
	lee := store.Staff{ID: store.NewID(), Clinic: "clinica", Email: "Lee@Clinic.test", Role: store.RoleClinician, CreatedAt: t0}
	if err := st.AddStaff(ctx, lee); err != nil {
		t.Fatal(err)
	}
	again := store.Staff{ID: store.NewID(), Clinic: "clinicb", Email: "lee@clinic.test ", Role: store.RoleOwner, CreatedAt: t0}
	if err := st.AddStaff(ctx, again); !errors.Is(err, store.ErrStaffTaken) {
		t.Fatalf("the same address at another clinic: %v", err)
	}
	if _, err := st.ClinicStaff(ctx, "clinicb", lee.ID); !errors.Is(err, store.ErrNotFound) {
		t.Errorf("another clinic's staff member: %v", err)
	}
	sess, err := st.CreateConsoleSession(ctx, lee, t0, time.Hour)
	if err != nil {
		t.Fatal(err)
	}
	if err := st.RemoveStaff(ctx, "clinicb", lee.ID); !errors.Is(err, store.ErrNotFound) {
		t.Errorf("removed through another clinic: %v", err)
	}
	if err := st.RemoveStaff(ctx, "clinica", lee.ID); err != nil {
		t.Fatal(err)
	}
	if _, err := st.ConsoleSessionOf(ctx, sess); !errors.Is(err, store.ErrNotFound) {
		t.Errorf("the session outlived the removal: %v", err)
	}
	if _, err := st.StaffByEmail(ctx, "lee@clinic.test"); !errors.Is(err, store.ErrNotFound) {
		t.Errorf("the address still finds someone: %v", err)
	}
	if _, err := st.CreateConsoleSession(ctx, lee, t0, time.Hour); !errors.Is(err, store.ErrNotFound) {
		t.Errorf("a session for a removed staff member: %v", err)
	}
}

func TestAlertMovesOpenAcknowledgedResolvedOnly(t *testing.T) {
	st := setup(t)
	ctx := context.Background()
	if err := st.RaiseAlert(ctx, "clinica", store.Alert{Client: "c1", At: t0, Channel: "sms"}); err != nil {
		t.Fatal(err)
	}
	as, _ := st.Alerts(ctx, "clinica")
	id := as[0].ID
	if _, err := st.AdvanceAlert(ctx, "clinicb", id, store.AlertAcknowledged, "s1", t0); !errors.Is(err, store.ErrNotFound) {
		t.Errorf("another clinic acknowledged: %v", err)
	}
	if _, err := st.AdvanceAlert(ctx, "clinica", id, store.AlertResolved, "s1", t0); !errors.Is(err, store.ErrAlertState) {
		t.Errorf("resolved while open: %v", err)
	}
	if _, err := st.AdvanceAlert(ctx, "clinica", id, store.AlertAcknowledged, "s1", t0.Add(time.Minute)); err != nil {
		t.Fatal(err)
	}
	if _, err := st.AdvanceAlert(ctx, "clinica", id, store.AlertAcknowledged, "s2", t0.Add(2*time.Minute)); !errors.Is(err, store.ErrAlertState) {
		t.Errorf("acknowledged twice: %v", err)
	}
	a, err := st.AdvanceAlert(ctx, "clinica", id, store.AlertResolved, "s2", t0.Add(3*time.Minute))
	if err != nil || a.AcknowledgedBy != "s1" || a.ResolvedBy != "s2" || !a.ResolvedAt.Equal(t0.Add(3*time.Minute)) {
		t.Errorf("resolved: %+v, %v", a, err)
	}
}

func TestAuditLogKeepsFourHundredDays(t *testing.T) {
	st := setup(t)
	ctx := context.Background()
	old := store.AuditEntry{At: t0, Staff: "s1", Action: "sign-in"}
	if err := st.Audit(ctx, "clinica", old); err != nil {
		t.Fatal(err)
	}
	if err := st.Audit(ctx, "clinica", store.AuditEntry{At: t0.Add(store.AuditRetention - time.Hour), Action: "client.view"}); err != nil {
		t.Fatal(err)
	}
	if es, _ := st.AuditLog(ctx, "clinica", 10); len(es) != 2 {
		t.Fatalf("%d entries within 400 days, want 2", len(es))
	}
	if err := st.Audit(ctx, "clinica", store.AuditEntry{At: t0.Add(store.AuditRetention + time.Hour), Action: "client.view"}); err != nil {
		t.Fatal(err)
	}
	es, _ := st.AuditLog(ctx, "clinica", 10)
	if len(es) != 2 || es[len(es)-1].Action != "client.view" {
		t.Errorf("after 400 days: %+v", es)
	}
}
