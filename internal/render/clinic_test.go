package render

import (
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/nudgehq/nudge/internal/domain"
	"github.com/nudgehq/nudge/templates"
)

func TestSMSFromASender(t *testing.T) {
	t.Parallel()
	lib := testLibrary(t, map[string]string{
		"*/weekly-checkin/01-first.txt": "Subject: s\nSMS: nudge: Hi {{.FirstName}}. Who made you smile?\n\nb\n",
		"*/gratitude/01-first.txt":      "Subject: s\nSMS: Hi {{.FirstName}}, it's {{.Sender}} here.\n\nb\n",
		"*/monthly-review/01-first.txt": "Subject: s\nSMS: Nudge:Hi {{.FirstName}}.\n\nb\n",
	})
	r := testRenderer(lib)
	tests := []struct {
		name   string
		prog   domain.Program
		data   Data
		footer SMSFooter
		want   string
	}{
		{"the sender replaces the service name", domain.WeeklyCheckin, Data{FirstName: "Sam", Sender: "Northside"}, FooterNone,
			"Northside: Hi Sam. Who made you smile?"},
		{"with the footer", domain.WeeklyCheckin, Data{FirstName: "Sam", Sender: "Northside"}, FooterOptOut,
			"Northside: Hi Sam. Who made you smile? Reply STOP to opt out, HELP for help."},
		{"a welcome back after the sender", domain.WeeklyCheckin, Data{FirstName: "Sam", Sender: "Northside", WelcomeBack: true}, FooterNone,
			"Northside: Welcome back! Hi Sam. Who made you smile?"},
		{"copy without a lead gets the sender", domain.Gratitude, Data{FirstName: "Sam", Sender: "Northside"}, FooterNone,
			"Northside: Hi Sam, it's Northside here."},
		{"{{.Sender}} is the service without a sender", domain.Gratitude, Data{FirstName: "Sam"}, FooterNone,
			"nudge: Hi Sam, it's nudge here."},
		{"a sender is cleaned", domain.WeeklyCheckin, Data{FirstName: "Sam", Sender: "  North\u202eside\n"}, FooterNone,
			"Northside: Hi Sam. Who made you smile?"},
		{"the lead is replaced whatever its case and spacing", domain.MonthlyReview, Data{FirstName: "Sam", Sender: "Northside"}, FooterNone,
			"Northside: Hi Sam."},
		{"the service keeps its own lead", domain.MonthlyReview, Data{FirstName: "Sam"}, FooterNone,
			"Nudge:Hi Sam."},
	}
	for _, tc := range tests {
		got, err := r.SMS(pick(t, lib, tc.prog, "en"), tc.data, tc.footer)
		if err != nil {
			t.Errorf("%s: %v", tc.name, err)
			continue
		}
		if got != tc.want {
			t.Errorf("%s:\n got %q\nwant %q", tc.name, got, tc.want)
		}
	}
}

func TestTextSMS(t *testing.T) {
	t.Parallel()
	r := testRenderer(testLibrary(t, nil))
	literal := `How did it go? {{.FirstName}} {{template "x"}} {{range .}}x{{end}}`
	tests := []struct {
		name    string
		text    string
		data    Data
		footer  SMSFooter
		want    string
		wantErr string
	}{
		{name: "sent as written, never executed", text: literal, data: Data{FirstName: "Sam", Sender: "Northside"},
			want: "Northside: " + literal},
		{name: "opt-out footer in the person's language", text: "¿Cómo te fue?", data: Data{Sender: "Northside", Locale: "es"}, footer: FooterOptOut,
			want: "Northside: ¿Cómo te fue? Responde STOP para darte de baja, HELP para ayuda."},
		{name: "typography made GSM-7, white space folded", text: "It’s  “fine”\t…", data: Data{Sender: "Northside"},
			want: `Northside: It's "fine" ...`},
		{name: "the service without a sender", text: "Hello", want: "nudge: Hello"},
		{name: "accents GSM-7 lacks go to fit", text: strings.Repeat("canción ", 36), data: Data{Sender: "Northside"},
			want: "Northside: " + strings.TrimSpace(strings.Repeat("cancion ", 36))},
		{name: "never cut", text: strings.Repeat("word ", 70), data: Data{Sender: "Northside"}, footer: FooterOptOut,
			wantErr: "render sms: the text takes 3 segments with the sender and footer, at most 2 allowed"},
		{name: "empty", text: " \u0007 ", wantErr: "render sms: no text"},
	}
	for _, tc := range tests {
		got, err := r.TextSMS(tc.text, tc.data, tc.footer)
		if tc.wantErr != "" {
			if err == nil || err.Error() != tc.wantErr {
				t.Errorf("%s: error %v, want %q", tc.name, err, tc.wantErr)
			}
			continue
		}
		if err != nil {
			t.Errorf("%s: %v", tc.name, err)
			continue
		}
		if got != tc.want {
			t.Errorf("%s:\n got %q\nwant %q", tc.name, got, tc.want)
		}
		if n, _ := GSM7Segments(got); n > MaxSMSSegments {
			t.Errorf("%s: %d segments", tc.name, n)
		}
	}
}

func TestTextEmail(t *testing.T) {
	t.Parallel()
	r := testRenderer(testLibrary(t, nil))
	text := `Try one <b>small</b> thing {{.FirstName}} {{template "x"}}`
	d := Data{FirstName: "Sam", Sender: "Northside", SignOff: "Your care team", Locale: "en"}
	e, err := r.TextEmail(text, d, testLinks)
	if err != nil {
		t.Fatal(err)
	}
	if e.Subject != "A note from Northside" {
		t.Errorf("subject %q", e.Subject)
	}
	wantText := "Hi Sam,\n\n" + text + "\n\nYour care team\nNorthside\n\n-- \n"
	if !strings.HasPrefix(e.Text, wantText) {
		t.Errorf("text (-want +got):\n%s", cmp.Diff(wantText, e.Text[:min(len(e.Text), len(wantText))]))
	}
	for _, want := range []string{
		"&lt;b&gt;small&lt;/b&gt; thing {{.FirstName}} {{template &#34;x&#34;}}</p>",
		">Your care team<br>Northside</p>",
		"<h1 style=\"font-family:Arial,Helvetica,sans-serif;font-size:22px;line-height:30px;color:#1f2937;\">A note from Northside</h1>",
		`href="` + testLinks.Unsubscribe + `"`,
	} {
		if !strings.Contains(e.HTML, want) {
			t.Errorf("HTML lacks %q", want)
		}
	}
	if strings.Contains(e.HTML, "<b>") {
		t.Error("HTML carries the text's markup")
	}

	// No name: the greeting mends; Spanish frames the text in Spanish; a
	// sign-off that names the sender does not repeat it.
	es, err := r.TextEmail("¿Qué tal?", Data{Sender: "Northside", SignOff: "El equipo de Northside", Locale: "es"}, testLinks)
	if err != nil {
		t.Fatal(err)
	}
	if es.Subject != "Un mensaje de Northside" || !strings.HasPrefix(es.Text, "Hola:\n\n¿Qué tal?\n\nEl equipo de Northside\n\n-- \n") {
		t.Errorf("Spanish: subject %q, text %q", es.Subject, es.Text)
	}
	if !strings.Contains(es.HTML, `<html lang="es"`) || !strings.Contains(es.Text, "Cancelar la suscripción: ") {
		t.Error("Spanish email has English framing")
	}
	noName, _ := r.TextEmail("x", Data{Sender: "Northside"}, testLinks)
	if !strings.HasPrefix(noName.Text, "Hi there,\n\nx\n\n-- ") {
		t.Errorf("without a name or sign-off: %q", noName.Text)
	}

	if _, err := r.TextEmail("", d, testLinks); err == nil {
		t.Error("an empty text renders")
	}
	if _, err := r.TextEmail("x", d, Links{Manage: testLinks.Manage}); err == nil {
		t.Error("an email without an unsubscribe link renders")
	}
}

func TestEmailFromAClinicIsSigned(t *testing.T) {
	t.Parallel()
	lib := testLibrary(t, nil)
	r := testRenderer(lib)
	m := pick(t, lib, domain.BetweenSession, "en")
	signed, err := r.Email(m, Data{FirstName: "Sam", Sender: "Northside", SignOff: "Your care team"}, testLinks)
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(signed.Text, "Hello Sam.\n\nYour care team\nNorthside\n\n-- \n") || !strings.Contains(signed.HTML, ">Your care team<br>Northside</p>") {
		t.Errorf("no sign-off:\n%s", signed.Text)
	}
	plain, _ := r.Email(m, Data{FirstName: "Sam"}, testLinks)
	if strings.Contains(plain.Text, "Your care team") || strings.Contains(plain.HTML, "<br>Northside") {
		t.Error("an email without a sign-off has one")
	}
}

// healthWords name a health topic; a clinic's neutral messages must not.
var healthWords = []string{"therap", "terapia", "mental", "health", "salud", "counsel", "psych", "psic", "depress", "anxi", "ansiedad", "clinic", "clínica", "treatment", "tratamiento"}

// TestEmbeddedClinicMessages renders what a clinic's client gets, from the
// embedded library, with the longest display name a clinic may have: every
// between-session text fits and starts with it, the confirmations name it
// and stay neutral.
func TestEmbeddedClinicMessages(t *testing.T) {
	t.Parallel()
	lib, err := templates.Default()
	if err != nil {
		t.Fatalf("the embedded library does not load: %v", err)
	}
	r := testRenderer(lib)
	sender := strings.Repeat("N", MaxSenderLen)
	for _, loc := range lib.Locales() {
		for _, d := range []Data{{FirstName: "Maximiliana-Alejandra", Goal: "call my sister every Sunday", Sender: sender, SignOff: "Your care team"}, {Sender: sender}} {
			for _, m := range lib.Series(domain.BetweenSession, loc) {
				s, err := r.SMS(m, d, FooterOptOut)
				if err != nil {
					t.Errorf("%s: %v", m, err)
					continue
				}
				if !strings.HasPrefix(s, sender+": ") || strings.Contains(strings.ToLower(s), "nudge") {
					t.Errorf("%s: %q does not start with the sender alone", m, s)
				}
				e, err := r.Email(m, d, testLinks)
				if err != nil {
					t.Errorf("%s: %v", m, err)
					continue
				}
				if n := len([]rune(e.Subject)); n > maxSubjectLen {
					t.Errorf("%s: subject of %d characters", m, n)
				}
			}
			confirm, err := lib.System(templates.ClinicConfirm, loc)
			if err != nil || confirm.Locale != loc {
				t.Fatalf("%s: %v", templates.ClinicConfirm, err)
			}
			l := testLinks
			l.Action, l.ActionLabel = "https://nudge.example/confirm/tok-c", "Yes"
			e, err := r.Email(confirm, d, l)
			if err != nil {
				t.Fatalf("%s: %v", confirm, err)
			}
			if !strings.Contains(e.Subject, sender) || !strings.Contains(e.Text, sender) || len([]rune(e.Subject)) > maxSubjectLen {
				t.Errorf("%s: subject %q, text %q: want the sender named, a subject of at most %d characters", confirm, e.Subject, e.Text, maxSubjectLen)
			}
			sms, err := lib.System(templates.ClinicSMSConfirm, loc)
			if err != nil || sms.Locale != loc {
				t.Fatalf("%s: %v", templates.ClinicSMSConfirm, err)
			}
			s, err := r.SMS(sms, d, FooterOptOut)
			if err != nil {
				t.Fatalf("%s: %v", sms, err)
			}
			if !strings.HasPrefix(s, sender+": ") || strings.Count(s, sender) != 1 || !strings.Contains(s, "YES") || !strings.HasSuffix(s, labelsFor(loc).optOut) {
				t.Errorf("%s: %q", sms, s)
			}
			copy := strings.ToLower(e.Subject + " " + strings.Split(e.Text, "\n-- \n")[0] + " " + s)
			for _, w := range healthWords {
				if strings.Contains(copy, w) {
					t.Errorf("%s: names %q", loc, w)
				}
			}
		}
	}
}

func TestCheckRendersFromTheLongestSender(t *testing.T) {
	t.Parallel()
	// 5 + 2 + 260 + 38 = 305 characters from nudge; 340 from a 40-character name.
	lib := testLibrary(t, map[string]string{
		"*/between-session/01-first.txt": "Subject: s\nSMS: nudge: " + strings.Repeat("x", 260) + "\n\nb\n",
	})
	err := testRenderer(lib).Check()
	if err == nil || !strings.Contains(err.Error(), "from a clinic: render sms en/between-session/01-first.txt: 3 segments") {
		t.Errorf("Check() = %v, want the clinic's text reported", err)
	}
}
