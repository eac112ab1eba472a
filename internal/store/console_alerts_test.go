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

// alertClinic makes clinic cid with one client holding phone (active SMS)
// and returns the client's id.
func alertClinic(t *testing.T, st *store.Store, cid, phone string) string {
	t.Helper()
	ctx := context.Background()
	if err := st.CreateClinic(ctx, domain.Clinic{ID: cid, Name: cid, CreatedAt: t0}, ""); err != nil {
		t.Fatal(err)
	}
	id := store.NewID()
	sub := domain.Subscriber{ID: id, Clinic: cid, FirstName: "Noa", Phone: phone, TimeZone: "UTC", Locale: "en",
		Channels: []domain.Channel{domain.SMS}, SMSStatus: domain.SMSActive, CreatedAt: t0}
	if err := st.EnrolClient(ctx, sub, store.ConsentEvent{At: t0, Action: store.ConsentSignup, Channel: "sms", Source: "api"}); err != nil {
		t.Fatal(err)
	}
	return id
}

func kinds(t *testing.T, st *store.Store, cid, kind string) []store.Alert {
	t.Helper()
	all, err := st.Alerts(context.Background(), cid)
	if err != nil {
		t.Fatal(err)
	}
	var out []store.Alert
	for _, a := range all {
		if a.KindOf() == kind {
			out = append(out, a)
		}
	}
	return out
}

func TestStopRaisesOneStoppedAlertPerStop(t *testing.T) {
	st := setup(t)
	ctx := context.Background()
	id := alertClinic(t, st, "clinics", "+447700900111")
	ev := store.ConsentEvent{At: t0, Action: store.ConsentSMSStop, Channel: "sms", Source: "sms"}
	if _, err := st.StopNumber(ctx, "+447700900111", "SM1", ev); err != nil {
		t.Fatal(err)
	}
	// The same number's second STOP (a new message) stops nothing new.
	if _, err := st.StopNumber(ctx, "+447700900111", "SM2", ev); err != nil {
		t.Fatal(err)
	}
	got := kinds(t, st, "clinics", store.AlertStopped)
	if len(got) != 1 || got[0].Client != id || got[0].Channel != "sms" || got[0].State != store.AlertOpen || !got[0].At.Equal(t0) {
		t.Fatalf("stopped alerts after two STOPs: %+v", got)
	}
	// Unsubscribing from everything is a stop of its own, once.
	for range 2 {
		if _, err := st.Unsubscribe(ctx, id, store.ConsentEvent{At: t0.Add(time.Hour), Action: store.ConsentUnsubscribe, Channel: "email", Source: "link"}); err != nil {
			t.Fatal(err)
		}
	}
	if got := kinds(t, st, "clinics", store.AlertStopped); len(got) != 2 || got[0].Channel != "all" {
		t.Fatalf("stopped alerts after the unsubscribe: %+v", got)
	}
	if got := kinds(t, st, "clinics", store.AlertDistress); len(got) != 0 {
		t.Errorf("a stop raised distress: %+v", got)
	}
}

func TestUnansweredPromptsRaiseOneAlertPerRun(t *testing.T) {
	st := setup(t)
	ctx := context.Background()
	id := alertClinic(t, st, "clinicu", "+447700900222")
	day := func(n int) time.Time { return t0.Add(time.Duration(n) * 24 * time.Hour) }
	occ := func(n int) string { return fmt.Sprintf("between-session:p%d|0", n) }
	send := func(n int) (store.Alert, bool) {
		t.Helper()
		if err := st.MarkSent(ctx, id, occ(n), day(n)); err != nil {
			t.Fatal(err)
		}
		a, ok, err := st.NotePromptSent(ctx, id, occ(n), day(n))
		if err != nil {
			t.Fatal(err)
		}
		return a, ok
	}
	// Three prompts: the newest may still be answered, so two count.
	for n := 1; n <= 3; n++ {
		if _, ok := send(n); ok {
			t.Fatalf("alert after prompt %d", n)
		}
	}
	if n, _, _ := st.UnansweredRun(ctx, id, day(3)); n != 2 {
		t.Errorf("run after three prompts: %d, want 2", n)
	}
	// Seven days on, the third counts too: one alert, and only one however
	// often it is checked.
	a, raised, err := st.CheckUnanswered(ctx, id, day(10))
	if err != nil || !raised || a.Count != 3 || a.Kind != store.AlertUnanswered {
		t.Fatalf("after seven days: %+v %v %v", a, raised, err)
	}
	due, n, err := st.CheckUnansweredDue(ctx, day(11), 100)
	if err != nil || len(due) != 0 || n != 3 {
		t.Errorf("the periodic check: %d alerts from %d entries, %v; want none from 3", len(due), n, err)
	}
	if got := kinds(t, st, "clinicu", store.AlertUnanswered); len(got) != 1 {
		t.Fatalf("unanswered alerts: %d, want 1", len(got))
	}
	// A fourth unanswered prompt is the same run: no second alert.
	if _, ok := send(11); ok {
		t.Errorf("a second alert in the same run")
	}
	// A reply to the newest ends the run.
	if err := st.AddReply(ctx, id, store.Reply{At: day(12), Channel: "sms", Nudge: occ(11), Text: "ok"}); err != nil {
		t.Fatal(err)
	}
	if n, _, _ := st.UnansweredRun(ctx, id, day(30)); n != 0 {
		t.Errorf("run after a reply: %d", n)
	}
	// An answer on the answer page ends a run too; then three more in a
	// row are a new run with an alert of its own.
	send(13)
	if err := st.RecordAnswer(ctx, id, store.Answer{Occurrence: occ(13), Score: 4, Channel: domain.Email, AnsweredAt: day(13)}); err != nil {
		t.Fatal(err)
	}
	for _, n := range []int{14, 15, 16} {
		send(n)
	}
	a, raised, err = st.CheckUnanswered(ctx, id, day(16))
	if raised || err != nil {
		t.Errorf("two of the new run counted raised an alert: %+v %v", a, err)
	}
	if _, ok := send(17); !ok {
		t.Errorf("no alert for the new run of three")
	}
	if got := kinds(t, st, "clinicu", store.AlertUnanswered); len(got) != 2 {
		t.Errorf("unanswered alerts: %d, want 2", len(got))
	}
}

func TestUnansweredFollowsTheClinicsSetting(t *testing.T) {
	st := setup(t)
	ctx := context.Background()
	id := alertClinic(t, st, "clinicn", "+447700900333")
	def, err := st.AlertSettingsOf(ctx, "clinicn")
	if err != nil || def.Unanswered != 3 || def.Escalation != 4*time.Hour {
		t.Fatalf("defaults: %+v %v", def, err)
	}
	for _, bad := range []store.AlertSettings{{Unanswered: 0, Escalation: time.Hour}, {Unanswered: 11, Escalation: time.Hour}, {Unanswered: 2, Escalation: 25 * time.Hour}, {Unanswered: 2, Escalation: 30 * time.Minute}} {
		if err := st.SetAlertSettings(ctx, "clinicn", bad); domain.ErrorCode(err) != domain.ErrInvalid {
			t.Errorf("%+v: %v, want invalid", bad, err)
		}
	}
	if err := st.SetAlertSettings(ctx, "nosuchclinic", store.AlertSettings{Unanswered: 2, Escalation: time.Hour}); !errors.Is(err, store.ErrNotFound) {
		t.Errorf("a missing clinic's settings: %v", err)
	}
	if err := st.SetAlertSettings(ctx, "clinicn", store.AlertSettings{Unanswered: 1, Escalation: 2 * time.Hour}); err != nil {
		t.Fatal(err)
	}
	if got, _ := st.AlertSettingsOf(ctx, "clinicn"); got.Unanswered != 1 || got.Escalation != 2*time.Hour {
		t.Errorf("stored: %+v", got)
	}
	for n := 1; n <= 2; n++ {
		o := fmt.Sprintf("between-session:p%d|0", n)
		if err := st.MarkSent(ctx, id, o, t0.Add(time.Duration(n)*time.Hour)); err != nil {
			t.Fatal(err)
		}
	}
	if _, raised, _ := st.CheckUnanswered(ctx, id, t0.Add(3*time.Hour)); !raised {
		t.Errorf("one unanswered prompt with the setting at 1 raised nothing")
	}
}

func TestDigestCountsOnlyTheClinicians(t *testing.T) {
	st := setup(t)
	ctx := context.Background()
	mine := alertClinic(t, st, "clinicd", "+447700900444")
	other := store.NewID()
	if err := st.EnrolClient(ctx, domain.Subscriber{ID: other, Clinic: "clinicd", FirstName: "Ola", Email: "ola@example.org", TimeZone: "UTC", Locale: "en", CreatedAt: t0}, store.ConsentEvent{At: t0}); err != nil {
		t.Fatal(err)
	}
	lee := store.Staff{ID: store.NewID(), Clinic: "clinicd", Email: "lee@d.test", Role: store.RoleClinician, CreatedAt: t0}
	kim := store.Staff{ID: store.NewID(), Clinic: "clinicd", Email: "kim@d.test", Role: store.RoleClinician, CreatedAt: t0}
	for _, s := range []store.Staff{lee, kim} {
		if err := st.AddStaff(ctx, s); err != nil {
			t.Fatal(err)
		}
	}
	if err := st.Assign(ctx, "clinicd", lee.ID, mine); err != nil {
		t.Fatal(err)
	}
	if err := st.Assign(ctx, "clinicd", kim.ID, other); err != nil {
		t.Fatal(err)
	}
	from, to := t0, t0.Add(7*24*time.Hour)
	answers := []struct {
		client string
		at     time.Time
		score  int
	}{
		{mine, from.Add(time.Hour), 2}, {mine, from.Add(48 * time.Hour), 5}, {mine, from.Add(72 * time.Hour), 0},
		{mine, from.Add(-time.Hour), 1}, {mine, to, 1}, // outside the week
		{other, from.Add(time.Hour), 1},
	}
	for i, a := range answers {
		an := store.Answer{Occurrence: fmt.Sprintf("between-session:p%d|0", i), Score: a.score, Channel: domain.SMS, AnsweredAt: a.at}
		if a.score == 0 {
			an.Note = "a note"
		}
		if err := st.RecordAnswer(ctx, a.client, an); err != nil {
			t.Fatal(err)
		}
	}
	for _, c := range []string{mine, mine, other} {
		if err := st.RaiseAlert(ctx, "clinicd", store.Alert{Client: c, At: from}); err != nil {
			t.Fatal(err)
		}
	}
	all, _ := st.Alerts(ctx, "clinicd")
	for _, a := range all {
		if a.Client == mine {
			if _, err := st.AdvanceAlert(ctx, "clinicd", a.ID, store.AlertAcknowledged, lee.ID, from); err != nil {
				t.Fatal(err)
			}
			if _, err := st.AdvanceAlert(ctx, "clinicd", a.ID, store.AlertResolved, lee.ID, from); err != nil {
				t.Fatal(err)
			}
			break
		}
	}
	d, err := st.DigestCountsOf(ctx, "clinicd", lee.ID, from, to)
	if err != nil {
		t.Fatal(err)
	}
	if d.Clients != 1 || d.Answers != 3 || d.Scored != 2 || d.Average != 3.5 || d.OpenAlerts != 1 {
		t.Errorf("lee's week: %+v, want 1 client, 3 answers, 2 scored averaging 3.5, 1 open alert", d)
	}
	if first, _ := st.MarkDigestSent(ctx, lee.ID, "2026-W49", to); !first {
		t.Errorf("first mark")
	}
	if again, _ := st.MarkDigestSent(ctx, lee.ID, "2026-W49", to); again {
		t.Errorf("marked twice")
	}
}

// A discharged client's last prompts raise no unanswered alert.
func TestUnansweredRaisesNothingForADischargedClient(t *testing.T) {
	st := setup(t)
	ctx := context.Background()
	id := alertClinic(t, st, "clinicd", "+447700900233")
	day := func(n int) time.Time { return t0.Add(time.Duration(n) * 24 * time.Hour) }
	for n := 1; n <= 3; n++ {
		occ := fmt.Sprintf("between-session:p%d|0", n)
		if err := st.MarkSent(ctx, id, occ, day(n)); err != nil {
			t.Fatal(err)
		}
		if _, _, err := st.NotePromptSent(ctx, id, occ, day(n)); err != nil {
			t.Fatal(err)
		}
	}
	if _, err := st.Discharge(ctx, "clinicd", id, store.ConsentEvent{At: day(3), Action: store.ConsentDischarge}); err != nil {
		t.Fatal(err)
	}
	if a, raised, err := st.CheckUnanswered(ctx, id, day(10)); err != nil || raised {
		t.Errorf("a discharged client raised an unanswered alert: %+v %v %v", a, raised, err)
	}
}
