package worker_test

import (
	"context"
	"errors"
	"io"
	"log/slog"
	"net/mail"
	"strings"
	"testing"
	"time"

	"github.com/hibiken/asynq"
	"github.com/nudgehq/nudge/internal/domain"
	"github.com/nudgehq/nudge/internal/email"
	"github.com/nudgehq/nudge/internal/links"
	"github.com/nudgehq/nudge/internal/redistest"
	"github.com/nudgehq/nudge/internal/render"
	"github.com/nudgehq/nudge/internal/sms"
	"github.com/nudgehq/nudge/internal/smtptest"
	"github.com/nudgehq/nudge/internal/store"
	"github.com/nudgehq/nudge/internal/task"
	"github.com/nudgehq/nudge/internal/token"
	"github.com/nudgehq/nudge/internal/twiliotest"
	"github.com/nudgehq/nudge/scheduler"
	"github.com/nudgehq/nudge/templates"
	"github.com/nudgehq/nudge/worker"
)

const clientPhone = "+447700900456"

// promptBundle is a worker on real Redis, a real SMTP sink and the Twilio
// stand-in, with one clinic ("Northside", whose operator name must never
// reach a client) and one active client of it.
type promptBundle struct {
	st     *store.Store
	h      *worker.Handler
	lib    *templates.Library
	twilio *twiliotest.Server
	sink   *smtptest.Server
	now    time.Time
	clinic domain.Clinic
	id     string
	// prompts and plan are the client's prompts and planned occurrences,
	// written together by update.
	prompts []domain.Prompt
	plan    []store.PromptOccurrence
	// locale is the language of the clients enrol records ("en" if empty).
	locale string
}

func setupPrompt(t *testing.T, now time.Time, zone string, channels ...domain.Channel) *promptBundle {
	t.Helper()
	b := newPromptBundle(t, now)
	b.id = b.enrol(t, zone, channels...)
	ctx := context.Background()
	if _, err := b.st.Activate(ctx, b.id, now.Add(-48*time.Hour), nil, store.ConsentEvent{}); err != nil {
		t.Fatal(err)
	}
	if _, err := b.st.ConfirmSMS(ctx, b.id, store.ConsentEvent{}); err != nil {
		t.Fatal(err)
	}
	return b
}

// newPromptBundle builds the worker and the clinic, with no client yet.
func newPromptBundle(t *testing.T, now time.Time) *promptBundle {
	t.Helper()
	t.Parallel()
	b := &promptBundle{twilio: twiliotest.Start(t), sink: smtptest.Start(t), now: now}
	b.st = store.New(redistest.Client(t, redistest.DBWorker), redistest.Prefix(t))
	var err error
	if b.lib, err = templates.Default(); err != nil {
		t.Fatal(err)
	}
	logger := slog.New(slog.NewTextHandler(io.Discard, nil))
	tw, err := sms.NewTwilio(sms.Config{AccountSID: b.twilio.AccountSID, AuthToken: b.twilio.AuthToken, From: "+15005550006", APIURL: b.twilio.URL, Timeout: 5 * time.Second}, logger)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(tw.Close)
	smtp, err := email.NewSMTP(email.SMTPConfig{Host: b.sink.Host(), Port: b.sink.Port(), TLS: "none", PoolSize: 1, Timeout: 5 * time.Second}, logger)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { smtp.Close() })
	clock := func() time.Time { return b.now }
	b.h = worker.New(worker.Deps{
		Store: b.st, Library: b.lib, Links: links.New("https://nudge.test", token.NewSigner([]byte("a-worker-test-secret-of-enough-length")), clock),
		Renderer: render.New(b.lib, render.Options{ServiceName: "nudge", PostalAddress: "1 Test Street", CrisisLine: render.DefaultCrisisLines()}),
		Email:    smtp, SMS: tw, SMSWindow: scheduler.DefaultSMSWindow,
		From: "nudge <hello@nudge.test>", Grace: 6 * time.Hour, Now: clock, Logger: logger,
	})

	ctx := context.Background()
	b.clinic = domain.Clinic{ID: "c" + store.NewID()[:10], Name: "Northside Counselling Practice", DisplayName: "Northside",
		SignOff: "Your care team", CapDay: domain.DefaultCapDay, CapWeek: domain.DefaultCapWeek, CreatedAt: now.Add(-30 * 24 * time.Hour)}
	if err := b.st.CreateClinic(ctx, b.clinic, "whsec_test"); err != nil {
		t.Fatal(err)
	}
	return b
}

// enrol records a pending client of the bundle's clinic, in zone, with an
// address and a number.
func (b *promptBundle) enrol(t *testing.T, zone string, channels ...domain.Channel) string {
	t.Helper()
	locale := b.locale
	if locale == "" {
		locale = "en"
	}
	sub := domain.Subscriber{ID: store.NewID(), Clinic: b.clinic.ID, FirstName: "Ana", Email: "ana@example.org", Phone: clientPhone,
		TimeZone: zone, Locale: locale, Channels: channels, SMSStatus: domain.SMSPending, Status: domain.Pending, CreatedAt: b.now.Add(-72 * time.Hour)}
	if err := b.st.EnrolClient(context.Background(), sub, store.ConsentEvent{}); err != nil {
		t.Fatal(err)
	}
	return sub.ID
}

// update changes the client's prompts and plan as edit says, and writes
// them the way the clinic service does.
func (b *promptBundle) update(t *testing.T, edit func()) {
	t.Helper()
	edit()
	_, err := b.st.UpdatePrompts(context.Background(), b.clinic.ID, b.id, b.now, func(st *store.PromptState) error {
		st.Prompts = append([]domain.Prompt(nil), b.prompts...)
		return nil
	}, func(store.PromptState) ([]store.PromptOccurrence, error) {
		return append([]store.PromptOccurrence(nil), b.plan...), nil
	})
	if err != nil {
		t.Fatal(err)
	}
}

// add adds a prompt with one occurrence at at (for session, 0 for a fixed
// instant) and returns the occurrence.
func (b *promptBundle) add(t *testing.T, p domain.Prompt, session int64, at time.Time) store.PromptOccurrence {
	t.Helper()
	p.ID, p.ClientID, p.CreatedAt = "p"+store.NewID()[:8], b.id, b.now
	if p.Rule == "" {
		p.Rule = "at:" + at.UTC().Format(time.RFC3339)
	}
	o := store.PromptOccurrence{ClientID: b.id, PromptID: p.ID, Session: session, At: at.UTC()}
	b.update(t, func() {
		b.prompts = append(b.prompts, p)
		b.plan = append(b.plan, o)
	})
	return o
}

func (b *promptBundle) deliver(t *testing.T, o store.PromptOccurrence) error {
	t.Helper()
	tk, err := task.NewDeliverPrompt(task.DeliverPrompt{ClientID: o.ClientID, PromptID: o.PromptID, Session: o.Session, At: o.At.Unix()}, 0)
	if err != nil {
		t.Fatal(err)
	}
	return b.h.DeliverPrompt(context.Background(), tk)
}

func (b *promptBundle) record(t *testing.T, o store.PromptOccurrence, c domain.Channel) store.Delivery {
	t.Helper()
	d, err := b.st.Delivery(context.Background(), store.DeliveryKey{SubscriberID: o.ClientID, Program: domain.BetweenSession, Date: o.Key(), Channel: c})
	if err != nil {
		t.Fatalf("delivery record %s/%s: %v", o.Key(), c, err)
	}
	return d
}

// listed returns the client's delivery records as the clinic API lists them.
func (b *promptBundle) listed(t *testing.T, id string) map[string]store.DeliveryState {
	t.Helper()
	recs, _, err := b.st.ClientDeliveries(context.Background(), id, "", 100)
	if err != nil {
		t.Fatal(err)
	}
	out := map[string]store.DeliveryState{}
	for _, r := range recs {
		out[string(r.Key.Program)+"/"+r.Key.Date+"/"+string(r.Key.Channel)] = r.State
	}
	return out
}

// plain is an email's text part above its footer, line breaks as LF and the
// paragraphs' wrapping undone.
func plain(m smtptest.Message) string {
	text := strings.ReplaceAll(m.Text, "\r\n", "\n")
	body, _, _ := strings.Cut(text, "\n-- \n")
	var paras []string
	for p := range strings.SplitSeq(body, "\n\n") {
		paras = append(paras, strings.Join(strings.Fields(p), " "))
	}
	return strings.Join(paras, "\n\n")
}

func TestPromptsArriveOnceFromTheClinic(t *testing.T) {
	day1 := time.Date(2026, 12, 1, 18, 0, 0, 0, time.UTC)
	b := setupPrompt(t, day1, "UTC", domain.Email, domain.SMS)
	own := `Before we meet, {{.FirstName}}: note one {{template "x"}} moment that felt easy.`
	lib := b.add(t, domain.Prompt{Template: 1}, 0, day1)
	text := b.add(t, domain.Prompt{Text: own}, 0, day1.Add(24*time.Hour))

	for range 3 { // at least once: the second and third runs send nothing
		if err := b.deliver(t, lib); err != nil {
			t.Fatalf("deliver the library prompt: %v", err)
		}
	}
	b.now = text.At.Add(time.Minute)
	for range 2 {
		if err := b.deliver(t, text); err != nil {
			t.Fatalf("deliver the clinic's own text: %v", err)
		}
	}

	texts := b.twilio.Messages()
	if len(texts) != 2 {
		t.Fatalf("twilio got %d texts, want 2", len(texts))
	}
	libMsg, _ := b.lib.Pick(domain.BetweenSession, "en", 0)
	wantLib, err := render.New(b.lib, render.Options{ServiceName: "nudge"}).SMS(libMsg, render.Data{FirstName: "Ana", Locale: "en", Sender: "Northside"}, render.FooterOptOut)
	if err != nil {
		t.Fatal(err)
	}
	if texts[0].Body != wantLib {
		t.Errorf("library prompt text:\n got %q\nwant %q", texts[0].Body, wantLib)
	}
	if want := "Northside: " + own; texts[1].Body != want {
		t.Errorf("own text:\n got %q\nwant %q (as written, never run as a template)", texts[1].Body, want)
	}
	for _, m := range texts {
		if m.To != clientPhone || !strings.HasPrefix(m.Body, "Northside: ") || strings.Contains(strings.ToLower(m.Body), "nudge") || strings.Contains(m.Body, "Counselling") {
			t.Errorf("text to %s: %q; want it to open with the display name alone", m.To, m.Body)
		}
	}

	emails := b.sink.Messages()
	if len(emails) != 2 {
		t.Fatalf("SMTP server got %d emails, want 2", len(emails))
	}
	for i, o := range []store.PromptOccurrence{lib, text} {
		m := emails[i]
		from, err := mail.ParseAddress(m.Header.Get("From"))
		if err != nil || from.Name != "Northside" || from.Address != "hello@nudge.test" {
			t.Errorf("email %d From %q (%v): want Northside <hello@nudge.test>", i, m.Header.Get("From"), err)
		}
		if got, want := m.Header.Get("Message-Id"), "<prompt:"+b.id+":"+o.PromptID+":0@nudge.test>"; got != want {
			t.Errorf("email %d Message-ID %q, want %q", i, got, want)
		}
		body := plain(m)
		if !strings.HasSuffix(body, "\n\nYour care team Northside") || !strings.Contains(m.HTML, "Your care team<br>Northside") {
			t.Errorf("email %d is not signed by the clinic:\n%s", i, body)
		}
		if strings.Contains(m.Text+m.HTML+m.Header.Get("Subject"), "Counselling") {
			t.Errorf("email %d names the clinic's private name", i)
		}
	}
	if got := emails[1].Header.Get("Subject"); got != "A note from Northside" {
		t.Errorf("own text's subject %q, want a neutral one", got)
	}
	if !strings.HasPrefix(plain(emails[1]), "Hi Ana,\n\n"+own+"\n\n") {
		t.Errorf("own text's email does not carry it as written:\n%s", emails[1].Text)
	}
	if emails[0].Header.Get("Subject") == "" || !strings.Contains(emails[0].Text, "Ana") {
		t.Errorf("library email: subject %q, text %q", emails[0].Header.Get("Subject"), emails[0].Text)
	}

	ctx := context.Background()
	for _, o := range []store.PromptOccurrence{lib, text} {
		for _, c := range []domain.Channel{domain.Email, domain.SMS} {
			if d := b.record(t, o, c); d.State != store.Sent {
				t.Errorf("%s over %s: %+v, want sent", o.Key(), c, d)
			}
		}
	}
	if got := b.listed(t, b.id); len(got) != 4 {
		t.Errorf("the clinic lists %v, want the four records", got)
	}
	if who, err := b.st.ReplyTarget(ctx, clientPhone); err != nil || who != b.id {
		t.Errorf("replies from the number go to %q (%v), want the client", who, err)
	}
	sub, _ := b.st.Subscriber(ctx, b.id)
	if want := "between-session:" + text.Key(); sub.LastNudge != want {
		t.Errorf("latest nudge %q, want %q", sub.LastNudge, want)
	}
}

func TestPromptFrequencyCapOverAWeek(t *testing.T) {
	day := time.Date(2026, 12, 7, 12, 0, 0, 0, time.UTC)
	b := setupPrompt(t, day, "UTC", domain.Email)
	var occs []store.PromptOccurrence
	for i := range 5 {
		occs = append(occs, b.add(t, domain.Prompt{Template: i + 1}, 0, day.AddDate(0, 0, i)))
	}
	for _, o := range occs {
		b.now = o.At
		if err := b.deliver(t, o); err != nil {
			t.Fatal(err)
		}
	}
	// A retry of a prompt that went out is let through the cap again, and
	// still sends nothing twice.
	if err := b.deliver(t, occs[0]); err != nil {
		t.Fatal(err)
	}
	for i, o := range occs {
		d := b.record(t, o, domain.Email)
		if i < 3 && d.State != store.Sent {
			t.Errorf("day %d: %+v, want sent", i+1, d)
		}
		if i >= 3 && (d.State != store.Skipped || d.Reason != "frequency cap") {
			t.Errorf("day %d: %+v, want skipped for the frequency cap", i+1, d)
		}
	}
	if n := len(b.sink.Messages()); n != 3 {
		t.Errorf("%d emails, want 3 (at most three prompts in seven days)", n)
	}
}

func TestPromptFrequencyCapCountsTheClientsLocalDay(t *testing.T) {
	// 03:00 and 15:00 UTC on 2 December are two days in New York (22:00 on
	// the 1st, 10:00 on the 2nd); 22:00 UTC is 17:00 on the 2nd again.
	first := time.Date(2026, 12, 2, 3, 0, 0, 0, time.UTC)
	b := setupPrompt(t, first, "America/New_York", domain.Email)
	occs := []store.PromptOccurrence{
		b.add(t, domain.Prompt{Template: 1}, 0, first),
		b.add(t, domain.Prompt{Template: 2}, 0, first.Add(12*time.Hour)),
		b.add(t, domain.Prompt{Text: "One more thing today."}, 0, first.Add(19*time.Hour)),
	}
	for _, o := range occs {
		b.now = o.At
		if err := b.deliver(t, o); err != nil {
			t.Fatal(err)
		}
	}
	for i, want := range []store.DeliveryState{store.Sent, store.Sent, store.Skipped} {
		if d := b.record(t, occs[i], domain.Email); d.State != want || (want == store.Skipped && d.Reason != "frequency cap") {
			t.Errorf("prompt %d: %+v, want %s", i+1, d, want)
		}
	}
	if n := len(b.sink.Messages()); n != 2 {
		t.Errorf("%d emails, want 2", n)
	}
}

func TestPromptSkips(t *testing.T) {
	at := time.Date(2026, 12, 1, 15, 0, 0, 0, time.UTC)
	tests := []struct {
		name   string
		now    time.Time
		before func(t *testing.T, b *promptBundle, o store.PromptOccurrence)
		want   string // reason prefix
	}{
		{"paused", at, func(t *testing.T, b *promptBundle, _ store.PromptOccurrence) {
			if err := b.st.Pause(context.Background(), b.id, at.Add(48*time.Hour), store.ConsentEvent{}); err != nil {
				t.Fatal(err)
			}
		}, "paused"},
		{"session moved", at, func(t *testing.T, b *promptBundle, o store.PromptOccurrence) {
			// The session the occurrence was planned for moved a day later.
			b.update(t, func() {
				b.plan[0].Session += 86400
				b.plan[0].At = b.plan[0].At.Add(24 * time.Hour)
			})
		}, worker.ReasonNotPlanned},
		{"prompt removed", at, func(t *testing.T, b *promptBundle, o store.PromptOccurrence) {
			b.update(t, func() { b.prompts, b.plan = nil, nil })
		}, worker.ReasonNotPlanned},
		{"too late", at.Add(6*time.Hour + time.Minute), nil, "too late"},
		{"unsubscribed", at, func(t *testing.T, b *promptBundle, o store.PromptOccurrence) {
			if _, err := b.st.Unsubscribe(context.Background(), b.id, store.ConsentEvent{}); err != nil {
				t.Fatal(err)
			}
		}, "client unsubscribed"},
		{"discharged", at, func(t *testing.T, b *promptBundle, o store.PromptOccurrence) {
			// Discharged with the task already queued and the plan not yet cleared.
			if _, err := b.st.Discharge(context.Background(), b.clinic.ID, b.id, store.ConsentEvent{}); err != nil {
				t.Fatal(err)
			}
		}, "client discharged"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			b := setupPrompt(t, at.Add(-time.Hour), "UTC", domain.Email, domain.SMS)
			session := at.Add(-24 * time.Hour).Unix()
			o := b.add(t, domain.Prompt{Rule: "session+24h", Template: 3}, session, at)
			if tt.before != nil {
				tt.before(t, b, o)
			}
			b.now = tt.now
			if err := b.deliver(t, o); err != nil {
				t.Fatalf("deliver: %v", err)
			}
			if n, m := b.twilio.Requests(), len(b.sink.Messages()); n != 0 || m != 0 {
				t.Fatalf("%d texts and %d emails went out, want none", n, m)
			}
			for _, c := range []domain.Channel{domain.Email, domain.SMS} {
				if d := b.record(t, o, c); d.State != store.Skipped || !strings.HasPrefix(d.Reason, tt.want) {
					t.Errorf("%s: %+v, want skipped %q…", c, d, tt.want)
				}
			}
			if got := b.listed(t, b.id); len(got) != 2 {
				t.Errorf("the clinic lists %v, want both skipped records", got)
			}
		})
	}
}

func TestPromptInSpanishAndATextTooLongForIt(t *testing.T) {
	at := time.Date(2026, 12, 1, 15, 0, 0, 0, time.UTC)
	b := newPromptBundle(t, at)
	b.locale = "es"
	b.id = b.enrol(t, "UTC", domain.SMS)
	ctx := context.Background()
	if _, err := b.st.ConfirmSMS(ctx, b.id, store.ConsentEvent{}); err != nil {
		t.Fatal(err)
	}
	if _, err := b.st.ActivateBySMS(ctx, b.id, at.Add(-time.Hour), nil, store.ConsentEvent{}); err != nil {
		t.Fatal(err)
	}
	// The first text carries the opt-out words: 11 + 251 characters and
	// the Spanish ones are more than two segments (the English would fit).
	long := b.add(t, domain.Prompt{Text: strings.Repeat("palabra ", 31) + "fin"}, 0, at)
	lib := b.add(t, domain.Prompt{Template: 1}, 0, at.Add(24*time.Hour))
	if err := b.deliver(t, long); err == nil || !errors.Is(err, asynq.SkipRetry) {
		t.Fatalf("a text that cannot fit: %v, want SkipRetry", err)
	}
	b.now = lib.At
	if err := b.deliver(t, lib); err != nil {
		t.Fatal(err)
	}
	texts := b.twilio.Messages()
	if len(texts) != 1 || !strings.HasPrefix(texts[0].Body, "Northside: ") || !strings.HasSuffix(texts[0].Body, "Responde STOP para darte de baja, HELP para ayuda.") {
		t.Fatalf("texts %+v, want the library prompt in Spanish from Northside", texts)
	}
	if d := b.record(t, long, domain.SMS); d.State != store.Skipped || d.Reason != "the message does not fit in a text" {
		t.Fatalf("record %+v, want skipped as too long", d)
	}
}

func TestPromptTextNeverOutsideTheWindow(t *testing.T) {
	night := time.Date(2026, 12, 1, 3, 0, 0, 0, time.UTC)
	b := setupPrompt(t, night, "UTC", domain.Email, domain.SMS)
	o := b.add(t, domain.Prompt{Template: 2}, 0, night)
	if err := b.deliver(t, o); err != nil {
		t.Fatal(err)
	}
	if n := b.twilio.Requests(); n != 0 {
		t.Fatalf("twilio got %d requests at 03:00 local", n)
	}
	if d := b.record(t, o, domain.SMS); d.State != store.Skipped || !strings.HasPrefix(d.Reason, "outside the SMS window") {
		t.Fatalf("sms record = %+v, want skipped outside the window", d)
	}
	if d := b.record(t, o, domain.Email); d.State != store.Sent || len(b.sink.Messages()) != 1 {
		t.Fatalf("email record = %+v with %d emails, want sent once", d, len(b.sink.Messages()))
	}
}

func TestPromptRetriesOnlyTheChannelThatFailed(t *testing.T) {
	at := time.Date(2026, 12, 1, 15, 0, 0, 0, time.UTC)
	b := setupPrompt(t, at, "UTC", domain.Email, domain.SMS)
	b.twilio.Script(twiliotest.Fail(503, 0))
	o := b.add(t, domain.Prompt{Template: 4}, 0, at)
	err := b.deliver(t, o)
	if err == nil || errors.Is(err, asynq.SkipRetry) {
		t.Fatalf("err = %v, want a retry for the text", err)
	}
	if err := b.deliver(t, o); err != nil {
		t.Fatalf("retry: %v", err)
	}
	if n, m := b.twilio.Accepted(), len(b.sink.Messages()); n != 1 || m != 1 {
		t.Fatalf("%d texts and %d emails accepted, want one each", n, m)
	}
}

func TestPromptPayloadAndGoneClient(t *testing.T) {
	at := time.Date(2026, 12, 1, 15, 0, 0, 0, time.UTC)
	b := setupPrompt(t, at, "UTC", domain.Email)
	for _, raw := range []string{`{`, `{"c":"","p":"x"}`, `{"c":"x","p":""}`} {
		err := b.h.DeliverPrompt(context.Background(), asynq.NewTask(task.TypeDeliverPrompt, []byte(raw)))
		if err == nil || !errors.Is(err, asynq.SkipRetry) {
			t.Errorf("payload %s: err = %v, want SkipRetry", raw, err)
		}
	}
	o := b.add(t, domain.Prompt{Template: 1}, 0, at)
	if _, err := b.st.Erase(context.Background(), b.id); err != nil {
		t.Fatal(err)
	}
	if err := b.deliver(t, o); err != nil {
		t.Fatalf("a prompt for an erased client: %v, want nil", err)
	}
	if n := len(b.sink.Messages()); n != 0 {
		t.Fatalf("%d emails to an erased client", n)
	}
}

func TestClinicConfirmationsUseTheClinicsWords(t *testing.T) {
	at := time.Date(2026, 12, 1, 15, 0, 0, 0, time.UTC)
	b := newPromptBundle(t, at)
	b.id = b.enrol(t, "UTC", domain.Email, domain.SMS)
	ctx := context.Background()
	conf := task.SendConfirmation{SubscriberID: b.id, Nonce: "enrol"}
	tk, err := task.NewSendConfirmation(conf)
	if err != nil {
		t.Fatal(err)
	}
	if err := b.h.SendConfirmation(ctx, tk); err != nil {
		t.Fatalf("send confirmation: %v", err)
	}
	tk, err = task.NewSendSMSConfirm(conf)
	if err != nil {
		t.Fatal(err)
	}
	if err := b.h.SendSMSConfirm(ctx, tk); err != nil {
		t.Fatalf("send sms confirmation: %v", err)
	}

	emails := b.sink.Messages()
	if len(emails) != 1 {
		t.Fatalf("%d emails, want the confirmation", len(emails))
	}
	m := emails[0]
	from, err := mail.ParseAddress(m.Header.Get("From"))
	if err != nil || from.Name != "Northside" || from.Address != "hello@nudge.test" {
		t.Errorf("From %q (%v), want Northside <hello@nudge.test>", m.Header.Get("From"), err)
	}
	body := plain(m)
	if got := m.Header.Get("Subject"); got != "Confirm your messages from Northside" {
		t.Errorf("subject %q", got)
	}
	for _, want := range []string{"Hi Ana, Northside invited you to receive short messages", "Nothing is sent to you until you confirm", "unsubscribe link", "https://nudge.test/confirm/", "\n\nYour care team Northside"} {
		if !strings.Contains(body, want) {
			t.Errorf("confirmation lacks %q:\n%s", want, body)
		}
	}
	if strings.Contains(strings.ToLower(body+m.Header.Get("Subject")), "nudge:") || strings.Contains(body, "Counselling") {
		t.Errorf("confirmation speaks for the service or names the practice:\n%s", body)
	}

	texts := b.twilio.Messages()
	if len(texts) != 1 {
		t.Fatalf("%d texts, want the confirmation", len(texts))
	}
	// The display name once, nothing the clinic typed about the client, no
	// link, and nothing a lock screen could give away.
	want := "Northside: reply YES to start getting short texts from us now and then. Nothing is sent until you do. Reply STOP to opt out, HELP for help."
	if texts[0].Body != want {
		t.Errorf("text confirmation:\n got %q\nwant %q", texts[0].Body, want)
	}
	if got := b.listed(t, b.id); got["system-confirm/enrol/email"] != store.Sent || got["system-sms-confirm/enrol/sms"] != store.Sent {
		t.Errorf("the clinic lists %v, want both confirmations sent", got)
	}
	// Asking moves no route: the client asked, so a YES may confirm it, but
	// no reply reaches it before then.
	if who, err := b.st.ReplyTarget(ctx, clientPhone); err == nil {
		t.Errorf("before a YES, replies from the number reach %q", who)
	}
	if c, _ := b.st.Subscriber(ctx, b.id); !store.Asked(c, b.now) {
		t.Errorf("the client's request is not recorded as asked: %+v", c)
	}

	// Confirmed, the client gets no welcome: it speaks of the public programs.
	if _, err := b.st.Activate(ctx, b.id, at, nil, store.ConsentEvent{}); err != nil {
		t.Fatal(err)
	}
	tk, err = task.NewSendNotice(task.SendNotice{SubscriberID: b.id, Kind: task.NoticeWelcome, Nonce: "1"})
	if err != nil {
		t.Fatal(err)
	}
	if err := b.h.SendNotice(ctx, tk); err != nil {
		t.Fatal(err)
	}
	if n := len(b.sink.Messages()); n != 1 {
		t.Errorf("%d emails after the welcome notice, want only the confirmation", n)
	}
}

func TestRepliesGoToWhoeverTextedTheNumberLast(t *testing.T) {
	at := time.Date(2026, 12, 1, 15, 0, 0, 0, time.UTC)
	b := setupPrompt(t, at, "UTC", domain.SMS)
	ctx := context.Background()
	// The same person is also on the public list, with the same number.
	res, err := b.st.Signup(ctx, domain.Subscriber{FirstName: "Ana", Email: "ana@example.org", Phone: clientPhone, TimeZone: "UTC", Locale: "en",
		Channels: []domain.Channel{domain.SMS}, SMSStatus: domain.SMSActive}, []domain.Schedule{{Program: domain.WeeklyCheckin, Rule: "weekly:tue@15:00"}}, store.ConsentEvent{})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := b.st.Activate(ctx, res.ID, at.Add(-48*time.Hour), map[domain.Program]time.Time{domain.WeeklyCheckin: at}, store.ConsentEvent{}); err != nil {
		t.Fatal(err)
	}
	nudge, err := task.NewDeliverNudge(task.DeliverNudge{SubscriberID: res.ID, Program: domain.WeeklyCheckin, Date: "2026-12-01", At: at.Unix(), Version: 1}, 0)
	if err != nil {
		t.Fatal(err)
	}
	if err := b.h.DeliverNudge(ctx, nudge); err != nil {
		t.Fatal(err)
	}
	if who, _ := b.st.ReplyTarget(ctx, clientPhone); who != res.ID {
		t.Fatalf("after the check-in, replies go to %q, want the public subscriber %q", who, res.ID)
	}
	b.now = at.Add(time.Hour)
	o := b.add(t, domain.Prompt{Template: 5}, 0, b.now)
	if err := b.deliver(t, o); err != nil {
		t.Fatal(err)
	}
	if who, _ := b.st.ReplyTarget(ctx, clientPhone); who != b.id {
		t.Fatalf("after the prompt, replies go to %q, want the client %q", who, b.id)
	}
	if n := b.twilio.Accepted(); n != 2 {
		t.Fatalf("twilio accepted %d texts, want 2", n)
	}
}

// A library prompt uses the goal the clinic gave for the client.
func TestALibraryPromptUsesTheClientsGoal(t *testing.T) {
	at := time.Date(2026, 12, 1, 18, 0, 0, 0, time.UTC)
	b := setupPrompt(t, at, "UTC", domain.Email)
	if err := b.st.Redis().HSet(context.Background(), b.st.Prefix()+"sub:"+b.id, "gl", "my brother").Err(); err != nil {
		t.Fatal(err)
	}
	o := b.add(t, domain.Prompt{Template: 3}, 0, at)
	if err := b.deliver(t, o); err != nil {
		t.Fatal(err)
	}
	emails := b.sink.Messages()
	if len(emails) != 1 || !strings.Contains(strings.Join(strings.Fields(emails[0].Text), " "), "With my brother in mind") {
		t.Fatalf("the prompt does not use the goal: %d emails %+v", len(emails), emails)
	}
}
