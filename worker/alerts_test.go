package worker_test

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"mime"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/hibiken/asynq"
	"github.com/nudgehq/nudge/internal/domain"
	"github.com/nudgehq/nudge/internal/email"
	"github.com/nudgehq/nudge/internal/links"
	"github.com/nudgehq/nudge/internal/redistest"
	"github.com/nudgehq/nudge/internal/smtptest"
	"github.com/nudgehq/nudge/internal/store"
	"github.com/nudgehq/nudge/internal/task"
	"github.com/nudgehq/nudge/internal/token"
	"github.com/nudgehq/nudge/templates"
	"github.com/nudgehq/nudge/worker"
)

// alertClinic is a clinic ("Harbor Team" to its staff) with two owners,
// two clinicians and a client assigned to the first clinician.
type alertClinic struct {
	id                  string
	owner1, owner2, lee store.Staff
	kim                 store.Staff
	client, unassigned  string
	name, otherName     string
}

func newAlertClinic(t *testing.T, b *bundle) alertClinic {
	t.Helper()
	ctx := context.Background()
	c := alertClinic{id: "clinic" + store.NewID()[:6], name: "Zephyrine", otherName: "Quillon"}
	if err := b.st.CreateClinic(ctx, domain.Clinic{ID: c.id, Name: "Harbor Team", DisplayName: "nudge", CreatedAt: planned}, ""); err != nil {
		t.Fatal(err)
	}
	mk := func(addr, role string) store.Staff {
		s := store.Staff{ID: store.NewID(), Clinic: c.id, Email: addr, Role: role, CreatedAt: planned}
		if err := b.st.AddStaff(ctx, s); err != nil {
			t.Fatal(err)
		}
		return s
	}
	c.owner1, c.owner2 = mk("own1@"+c.id+".test", store.RoleOwner), mk("own2@"+c.id+".test", store.RoleOwner)
	c.lee, c.kim = mk("lee@"+c.id+".test", store.RoleClinician), mk("kim@"+c.id+".test", store.RoleClinician)
	for i, name := range []string{c.name, c.otherName} {
		id := store.NewID()
		if err := b.st.EnrolClient(ctx, domain.Subscriber{ID: id, Clinic: c.id, FirstName: name, Email: fmt.Sprintf("c%d@%s.test", i, c.id), TimeZone: "UTC", Locale: "en", CreatedAt: planned}, store.ConsentEvent{At: planned}); err != nil {
			t.Fatal(err)
		}
		if i == 0 {
			c.client = id
		} else {
			c.unassigned = id
		}
	}
	if err := b.st.Assign(ctx, c.id, c.lee.ID, c.client); err != nil {
		t.Fatal(err)
	}
	return c
}

// raise records a distress alert on client at at and returns it.
func raise(t *testing.T, b *bundle, cid, client string, at time.Time) store.Alert {
	t.Helper()
	a := store.Alert{ID: store.NewID(), Kind: store.AlertDistress, Client: client, At: at, Channel: "sms"}
	if err := b.st.RaiseAlert(context.Background(), cid, a); err != nil {
		t.Fatal(err)
	}
	return a
}

// mailTo lists the addresses the sink has had mail for, in order.
func mailTo(b *bundle) []string {
	var out []string
	for _, m := range b.sink.Messages() {
		out = append(out, m.To...)
	}
	return out
}

func subject(t *testing.T, m smtptest.Message) string {
	t.Helper()
	s, err := new(mime.WordDecoder).DecodeHeader(m.Header.Get("Subject"))
	if err != nil {
		t.Fatal(err)
	}
	return s
}

func TestAlertEmailGoesToTheAssignedClinicianWithoutTheClient(t *testing.T) {
	b := setup(t, planned)
	c := newAlertClinic(t, b)
	ctx := context.Background()
	a := raise(t, b, c.id, c.client, planned)
	tk, _ := task.NewSendAlertEmail(task.SendAlertEmail{ClinicID: c.id, AlertID: a.ID})
	if err := b.h.SendAlertEmail(ctx, tk); err != nil {
		t.Fatal(err)
	}
	if got := mailTo(b); !slices.Equal(got, []string{c.lee.Email}) {
		t.Fatalf("alert email to %v, want only the assigned clinician %s", got, c.lee.Email)
	}
	m := b.sink.Messages()[0]
	if s := subject(t, m); s != "A client of Harbor Team needs attention" {
		t.Errorf("subject %q", s)
	}
	for _, part := range []string{m.Text, m.HTML, subject(t, m)} {
		if strings.Contains(part, c.name) || strings.Contains(part, c.client) {
			t.Errorf("the email names the client:\n%s", part)
		}
	}
	if !strings.Contains(m.Text, "https://nudge.test/console/alerts") || !strings.Contains(m.HTML, `href="https://nudge.test/console/alerts"`) {
		t.Errorf("no link to the alerts page:\n%s", m.Text)
	}
	if m.Header.Get("List-Unsubscribe") != "" {
		t.Errorf("a staff email with an unsubscribe header")
	}

	// A client assigned to nobody: every owner, in their own language.
	if err := b.st.SetStaffLocale(ctx, c.owner2.ID, "es"); err != nil {
		t.Fatal(err)
	}
	a2 := raise(t, b, c.id, c.unassigned, planned)
	tk, _ = task.NewSendAlertEmail(task.SendAlertEmail{ClinicID: c.id, AlertID: a2.ID})
	if err := b.h.SendAlertEmail(ctx, tk); err != nil {
		t.Fatal(err)
	}
	got := mailTo(b)[1:]
	slices.Sort(got)
	if want := []string{c.owner1.Email, c.owner2.Email}; !slices.Equal(got, want) {
		t.Fatalf("unassigned client's alert to %v, want the owners %v", got, want)
	}
	for _, m := range b.sink.Messages()[1:] {
		want := "A client of Harbor Team needs attention"
		if m.To[0] == c.owner2.Email {
			want = "Una persona atendida en Harbor Team necesita atención"
		}
		if s := subject(t, m); s != want {
			t.Errorf("to %s: subject %q, want %q", m.To[0], s, want)
		}
		if strings.Contains(m.Text, c.otherName) {
			t.Errorf("the email names the client")
		}
	}
}

func TestEscalationEmailsEveryOwnerOnceUnlessAcknowledged(t *testing.T) {
	b := setup(t, planned)
	c := newAlertClinic(t, b)
	ctx := context.Background()
	if err := b.st.SetAlertSettings(ctx, c.id, store.AlertSettings{Unanswered: 3, Escalation: 2 * time.Hour}); err != nil {
		t.Fatal(err)
	}
	open := raise(t, b, c.id, c.client, planned)
	acked := raise(t, b, c.id, c.client, planned)
	if _, err := b.st.AdvanceAlert(ctx, c.id, acked.ID, store.AlertAcknowledged, c.lee.ID, planned.Add(time.Hour)); err != nil {
		t.Fatal(err)
	}
	escalate := func(a store.Alert) error {
		tk, _ := task.NewEscalateAlert(task.EscalateAlert{ClinicID: c.id, AlertID: a.ID}, 0)
		return b.h.EscalateAlert(ctx, tk)
	}

	// Before the escalation time: nothing yet, and the task tries again.
	b.now = planned.Add(2*time.Hour - time.Second)
	if err := escalate(open); err == nil {
		t.Errorf("an early run succeeded: the task would not come back")
	}
	if n := len(b.sink.Messages()); n != 0 {
		t.Fatalf("%d emails before the escalation time", n)
	}
	// At the escalation time: every owner, once, and no clinician.
	b.now = planned.Add(2 * time.Hour)
	for range 2 {
		if err := escalate(open); err != nil {
			t.Fatal(err)
		}
	}
	got := mailTo(b)
	slices.Sort(got)
	if want := []string{c.owner1.Email, c.owner2.Email}; !slices.Equal(got, want) {
		t.Fatalf("escalation emailed %v, want each owner once: %v", got, want)
	}
	for _, m := range b.sink.Messages() {
		if s := subject(t, m); s != "An alert at Harbor Team is still waiting" || strings.Contains(m.Text, c.name) {
			t.Errorf("escalation email: %q\n%s", s, m.Text)
		}
	}
	// The acknowledged alert escalates to nobody.
	b.now = planned.Add(5 * time.Hour)
	if err := escalate(acked); err != nil {
		t.Fatal(err)
	}
	if n := len(b.sink.Messages()); n != 2 {
		t.Errorf("%d emails after the acknowledged alert's escalation ran, want still 2", n)
	}
}

func TestDigestGoesOncePerWeekWithCounts(t *testing.T) {
	b := setup(t, planned)
	c := newAlertClinic(t, b)
	ctx := context.Background()
	from, to := planned.Add(-7*24*time.Hour), planned
	for i, sc := range []int{2, 3, 5} {
		a := store.Answer{Occurrence: fmt.Sprintf("between-session:p%d|0", i), Score: sc, Channel: domain.Email, AnsweredAt: from.Add(time.Duration(i+1) * time.Hour)}
		if err := b.st.RecordAnswer(ctx, c.client, a); err != nil {
			t.Fatal(err)
		}
	}
	raise(t, b, c.id, c.client, from)
	raise(t, b, c.id, c.unassigned, from) // not lee's
	if err := b.st.SetStaffLocale(ctx, c.lee.ID, "es"); err != nil {
		t.Fatal(err)
	}
	p := task.SendDigest{ClinicID: c.id, StaffID: c.lee.ID, Week: "2026-W49", From: from.Unix(), To: to.Unix()}
	for range 2 {
		tk, _ := task.NewSendDigest(p)
		if err := b.h.SendDigest(ctx, tk); err != nil {
			t.Fatal(err)
		}
	}
	ms := b.sink.Messages()
	if len(ms) != 1 || ms[0].To[0] != c.lee.Email {
		t.Fatalf("digests: %d (%v), want one to %s", len(ms), mailTo(b), c.lee.Email)
	}
	m := ms[0]
	for _, want := range []string{"Personas asignadas a ti: 1", "Respuestas esta semana: 3", "Puntuación media (de 1 a 5): 3,3", "Alertas abiertas: 1"} {
		if !strings.Contains(m.Text, want) || !strings.Contains(m.HTML, want) {
			t.Errorf("the digest lacks %q:\n%s", want, m.Text)
		}
	}
	if s := subject(t, m); s != "Tu semana en Harbor Team, en cifras" || strings.Contains(m.Text, c.name) {
		t.Errorf("digest %q:\n%s", s, m.Text)
	}
}

// TestEscalationLengthenedSinceWaitsForTheNewTime: an escalation task that
// runs before the clinic's (since lengthened) escalation time emails
// nobody and queues itself again for then, on the worker's clock.
func TestEscalationLengthenedSinceWaitsForTheNewTime(t *testing.T) {
	b := setup(t, planned)
	c := newAlertClinic(t, b)
	ctx := context.Background()
	rdb := redistest.Client(t, redistest.DBWorker)
	lib, err := templates.Default()
	if err != nil {
		t.Fatal(err)
	}
	smtp, err := email.NewSMTP(email.SMTPConfig{Host: b.sink.Host(), Port: b.sink.Port(), TLS: "none", PoolSize: 1, Timeout: 5 * time.Second}, slog.New(slog.DiscardHandler))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { smtp.Close() })
	clock := func() time.Time { return b.now }
	h := worker.New(worker.Deps{
		Store: b.st, Library: lib, Links: links.New("https://nudge.test", token.NewSigner([]byte("a-worker-test-secret-of-enough-length")), clock),
		Email: smtp, From: "nudge <hello@nudge.test>", Now: clock, Logger: slog.New(slog.NewTextHandler(io.Discard, nil)),
		Enqueue: asynq.NewClientFromRedisClient(rdb),
	})
	a := raise(t, b, c.id, c.client, planned)
	if err := b.st.SetAlertSettings(ctx, c.id, store.AlertSettings{Unanswered: 3, Escalation: 10 * time.Hour}); err != nil {
		t.Fatal(err)
	}
	b.now = planned.Add(4 * time.Hour) // when the default would have been due
	tk, _ := task.NewEscalateAlert(task.EscalateAlert{ClinicID: c.id, AlertID: a.ID}, 0)
	if err := h.EscalateAlert(ctx, tk); err != nil {
		t.Fatal(err)
	}
	if n := len(b.sink.Messages()); n != 0 {
		t.Errorf("%d emails before the lengthened escalation time", n)
	}
	insp := asynq.NewInspectorFromRedisClient(rdb)
	id := "alert-escalate:" + c.id + ":" + a.ID + ":" + strconv.FormatInt(planned.Add(10*time.Hour).Unix(), 10)
	t.Cleanup(func() { _ = insp.DeleteTask(task.QueueCritical, id) })
	info, err := insp.GetTaskInfo(task.QueueCritical, id)
	if err != nil {
		t.Fatalf("no escalation queued for the new time: %v", err)
	}
	if wait := time.Until(info.NextProcessAt); info.State != asynq.TaskStateScheduled || wait < 6*time.Hour-time.Minute || wait > 6*time.Hour {
		t.Errorf("queued again %s, in %s; want scheduled in 6h", info.State, wait)
	}
}

// When one owner's email fails for a moment, the retry emails that owner
// and not, a second time, the one who already has it.
func TestEscalationRetryEmailsOnlyThoseMissed(t *testing.T) {
	b := setupWith(t, planned, smtptest.Options{Script: []smtptest.Fault{{Stage: "accept"}, {Stage: "rcpt", Code: 451}}})
	c := newAlertClinic(t, b)
	ctx := context.Background()
	a := raise(t, b, c.id, c.client, planned)
	b.now = planned.Add(5 * time.Hour)
	tk, _ := task.NewEscalateAlert(task.EscalateAlert{ClinicID: c.id, AlertID: a.ID}, 0)
	if err := b.h.EscalateAlert(ctx, tk); err == nil {
		t.Fatal("a temporary failure for one owner did not make the task retry")
	}
	if n := len(b.sink.Messages()); n != 1 {
		t.Fatalf("%d emails after the first run, want the one that went through", n)
	}
	if err := b.h.EscalateAlert(ctx, tk); err != nil {
		t.Fatal(err)
	}
	got := mailTo(b)
	slices.Sort(got)
	if want := []string{c.owner1.Email, c.owner2.Email}; !slices.Equal(got, want) {
		t.Fatalf("after the retry: %v, want each owner exactly once: %v", got, want)
	}
}
