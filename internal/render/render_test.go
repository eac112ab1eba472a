package render

import (
	"flag"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"testing/fstest"

	"github.com/google/go-cmp/cmp"

	"github.com/nudgehq/nudge/internal/crisis"
	"github.com/nudgehq/nudge/internal/domain"
	"github.com/nudgehq/nudge/templates"
)

var update = flag.Bool("update", false, "rewrite the golden files in testdata/")

// testLibrary builds a small valid library in en and es; files replaces or
// adds messages (the same path in both locales when it starts with "*/").
func testLibrary(t *testing.T, files map[string]string) *templates.Library {
	t.Helper()
	fsys := fstest.MapFS{}
	put := func(p, text string) {
		if rest, ok := strings.CutPrefix(p, "*/"); ok {
			fsys["en/"+rest] = &fstest.MapFile{Data: []byte(text)}
			fsys["es/"+rest] = &fstest.MapFile{Data: []byte(text)}
			return
		}
		fsys[p] = &fstest.MapFile{Data: []byte(text)}
	}
	for _, p := range []domain.Program{domain.WeeklyCheckin, domain.Gratitude, domain.MonthlyReview, domain.BetweenSession} {
		put("*/"+string(p)+"/01-first.txt", "Subject: Hi {{.FirstName}}\nSMS: nudge: Hi {{.FirstName}}.\n\nHello {{.FirstName}}.\n")
	}
	for _, name := range []string{templates.Confirm, templates.AlreadySubscribed, templates.Welcome, templates.Unsubscribed} {
		put("*/system/"+name+".txt", "Subject: "+name+"\n\nHi {{.FirstName}}.\n")
	}
	put("*/system/sms-confirm.txt", "SMS: nudge: reply YES\n")
	// Files for both locales first, so a file for one locale wins.
	for _, both := range []bool{true, false} {
		for p, text := range files {
			if strings.HasPrefix(p, "*/") == both {
				put(p, text)
			}
		}
	}
	lib, err := templates.Load(fsys)
	if err != nil {
		t.Fatalf("load test library: %v", err)
	}
	return lib
}

func testRenderer(lib *templates.Library) *Renderer {
	return New(lib, Options{
		ServiceName:   "nudge",
		PostalAddress: "nudge\n1 Main St\nSpringfield, IL 62701",
		CrisisLine:    DefaultCrisisLines(),
	})
}

var testLinks = Links{
	Manage:      "https://nudge.example/manage/tok-m",
	Unsubscribe: "https://nudge.example/unsubscribe/tok-u",
}

func pick(t *testing.T, lib *templates.Library, p domain.Program, locale string) *templates.Message {
	t.Helper()
	m, err := lib.Pick(p, locale, 0)
	if err != nil {
		t.Fatal(err)
	}
	return m
}

func TestEmailEscapesHTML(t *testing.T) {
	t.Parallel()
	lib := testLibrary(t, map[string]string{
		"*/weekly-checkin/01-first.txt": "Subject: {{.FirstName}}, a question\nSMS: nudge\n\nHi {{.FirstName}}.\n\n- {{if .Goal}}{{.Goal}}{{end}}\n",
	})
	r := testRenderer(lib)
	name := `<script>alert("x")</script>`
	e, err := r.Email(pick(t, lib, domain.WeeklyCheckin, "en"), Data{FirstName: name, Goal: `<b>"walk" & talk</b>`}, testLinks)
	if err != nil {
		t.Fatal(err)
	}
	for _, bad := range []string{"<script", "<b>"} {
		if strings.Contains(e.HTML, bad) {
			t.Errorf("HTML contains %q unescaped", bad)
		}
	}
	for _, want := range []string{
		"&lt;script&gt;alert(&#34;x&#34;)&lt;/script&gt;, a question</h1>",
		`aria-label="&lt;script&gt;alert(&#34;x&#34;)&lt;/script&gt;, a question"`,
		"<title>&lt;script&gt;",
		"&lt;b&gt;&#34;walk&#34; &amp; talk&lt;/b&gt;</li>",
	} {
		if !strings.Contains(e.HTML, want) {
			t.Errorf("HTML lacks %q", want)
		}
	}
	// The plain-text part and the subject are not HTML: the name stays as typed.
	if e.Subject != name+", a question" || !strings.Contains(e.Text, "Hi "+name+".") {
		t.Errorf("subject %q, text %q", e.Subject, e.Text)
	}
}

func TestCleanText(t *testing.T) {
	t.Parallel()
	tests := []struct{ in, want string }{
		{"  Ana  ", "Ana"},
		{"Ana\nMaría\t", "Ana María"},
		{"Ana\u0000\u0007\u202e\u200b", "Ana"},
		{"Jose\u0301", "José"}, // NFC: a combining accent becomes one letter
		{"\uE000x", "x"},       // private use, like the renderer's own name mark
		{"\xffAna", "Ana"},
		{strings.Repeat("a", 50), strings.Repeat("a", MaxNameLen)},
		{strings.Repeat("é", 39) + " b", strings.Repeat("é", 39)},
		{"   ", ""},
	}
	for _, tc := range tests {
		if got := cleanText(tc.in, MaxNameLen); got != tc.want {
			t.Errorf("cleanText(%q) = %q, want %q", tc.in, got, tc.want)
		}
	}
}

func TestNameFallback(t *testing.T) {
	t.Parallel()
	tests := []struct {
		locale, template, want string
	}{
		{"en", "Hi {{.FirstName}}, thanks for signing up.", "Hi there, thanks for signing up."},
		{"en", "nudge: Hi {{.FirstName}}. Think of one chat.", "nudge: Hi there. Think of one chat."},
		{"en", "Hello, {{.FirstName}}!", "Hello there!"},
		{"en", "{{.FirstName}}, who lit up your week?", "Who lit up your week?"},
		{"en", "nudge: {{.FirstName}}, who lit up your week?", "nudge: Who lit up your week?"},
		{"en", "Well done, {{.FirstName}}. See you soon.", "Well done. See you soon."},
		{"en", "Which {{.FirstName}} is this?", "Which is this?"},
		{"en", "Chill {{.FirstName}}.", "Chill."}, // "hi" inside a word is no greeting
		{"es", "Hola, {{.FirstName}}:", "Hola:"},
		{"es", "Hola {{.FirstName}}, gracias por unirte.", "Hola, gracias por unirte."},
		{"es", "¡Hola, {{.FirstName}}!", "¡Hola!"},
		{"es", "{{.FirstName}}, ¿quién alegró tu semana?", "¿Quién alegró tu semana?"},
		{"es", "nudge: {{.FirstName}}, imagina tu semana.", "nudge: Imagina tu semana."},
		{"es", "Gracias, {{.FirstName}}. {{.FirstName}}, vuelve pronto.", "Gracias. Vuelve pronto."},
	}
	for _, tc := range tests {
		t.Run(tc.locale+" "+tc.template, func(t *testing.T) {
			t.Parallel()
			lib := testLibrary(t, map[string]string{
				"*/gratitude/01-first.txt": "Subject: " + tc.template + "\nSMS: " + tc.template + "\n\n" + tc.template + "\n",
			})
			r := testRenderer(lib)
			m := pick(t, lib, domain.Gratitude, tc.locale)
			for _, name := range []string{"", "  \u200b ", "\u0007"} {
				e, err := r.Email(m, Data{FirstName: name}, testLinks)
				if err != nil {
					t.Fatal(err)
				}
				if e.Subject != tc.want {
					t.Errorf("name %q: subject %q, want %q", name, e.Subject, tc.want)
				}
				if !strings.HasPrefix(e.Text, tc.want+"\n") {
					t.Errorf("name %q: text starts %q, want %q", name, e.Text, tc.want)
				}
			}
			// With a name, nothing is mended.
			e, err := r.Email(m, Data{FirstName: "Sam"}, testLinks)
			if err != nil {
				t.Fatal(err)
			}
			if strings.Contains(e.Subject, "there") && !strings.Contains(tc.template, "there") {
				t.Errorf("with a name: subject %q", e.Subject)
			}
		})
	}
}

func TestFooter(t *testing.T) {
	t.Parallel()
	lib := testLibrary(t, nil)
	r := testRenderer(lib)
	tests := []struct {
		locale    string
		wantHTML  []string
		wantText  []string
		wantLabel string
	}{
		{
			locale: "en",
			wantHTML: []string{
				`<html lang="en"`,
				`<a href="https://nudge.example/manage/tok-m" style="color:#1d4ed8;">Manage your messages</a>`,
				`<a href="https://nudge.example/unsubscribe/tok-u" style="color:#1d4ed8;">Unsubscribe</a>`,
				"nudge<br>1 Main St<br>Springfield, IL 62701",
				"nudge is not monitored. If you are in crisis, call or text 988 (US) or your local emergency number.",
			},
			wantText: []string{
				"\n-- \nManage your messages: https://nudge.example/manage/tok-m\n",
				"\nUnsubscribe: https://nudge.example/unsubscribe/tok-u\nnudge\n1 Main St\nSpringfield, IL 62701\n",
				"\nnudge is not monitored. If you are in crisis, call or text 988 (US) or\nyour local emergency number.\n",
			},
		},
		{
			locale: "es",
			wantHTML: []string{
				`<html lang="es"`,
				`>Gestionar tus mensajes</a>`,
				`>Cancelar la suscripción</a>`,
				"nudge<br>1 Main St<br>Springfield, IL 62701",
				"Si estás en crisis",
			},
			wantText: []string{
				"\nGestionar tus mensajes: https://nudge.example/manage/tok-m\n",
				"\nCancelar la suscripción: https://nudge.example/unsubscribe/tok-u\n",
				"Si estás en crisis",
			},
		},
	}
	for _, tc := range tests {
		e, err := r.Email(pick(t, lib, domain.MonthlyReview, tc.locale), Data{FirstName: "Sam"}, testLinks)
		if err != nil {
			t.Fatal(err)
		}
		for _, want := range tc.wantHTML {
			if !strings.Contains(e.HTML, want) {
				t.Errorf("%s HTML lacks %q", tc.locale, want)
			}
		}
		for _, want := range tc.wantText {
			if !strings.Contains(e.Text, want) {
				t.Errorf("%s text lacks %q:\n%s", tc.locale, want, e.Text)
			}
		}
		for _, bad := range []string{"<img", "<style", "display:flex", "var(--"} {
			if strings.Contains(e.HTML, bad) {
				t.Errorf("%s HTML has %q", tc.locale, bad)
			}
		}
	}

	// No address, no crisis line configured: the footer still has its links.
	bare := New(lib, Options{})
	e, err := bare.Email(pick(t, lib, domain.MonthlyReview, "en"), Data{}, testLinks)
	if err != nil {
		t.Fatal(err)
	}
	want := "Hello there.\n\n-- \nManage your messages: https://nudge.example/manage/tok-m\nUnsubscribe: https://nudge.example/unsubscribe/tok-u\n"
	if diff := cmp.Diff(want, e.Text); diff != "" {
		t.Errorf("bare text (-want +got):\n%s", diff)
	}
}

func TestActionButton(t *testing.T) {
	t.Parallel()
	lib := testLibrary(t, nil)
	r := testRenderer(lib)
	m, err := lib.System(templates.Confirm, "en")
	if err != nil {
		t.Fatal(err)
	}
	l := testLinks
	l.Action, l.ActionLabel = "https://nudge.example/confirm/tok-c?x=1&y=2", "Yes, send me these"
	e, err := r.Email(m, Data{FirstName: "Sam"}, l)
	if err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{
		`<td align="center" bgcolor="#1d4ed8" style="background-color:#1d4ed8;">` + "\n" +
			`<a href="https://nudge.example/confirm/tok-c?x=1&amp;y=2" style="display:inline-block;`,
		`>Yes, send me these</a>`,
		"If the button doesn&#39;t work, copy this link into your browser:<br>\n" +
			`<a href="https://nudge.example/confirm/tok-c?x=1&amp;y=2" style="color:#1d4ed8;word-break:break-all;">https://nudge.example/confirm/tok-c?x=1&amp;y=2</a>`,
	} {
		if !strings.Contains(e.HTML, want) {
			t.Errorf("HTML lacks %q", want)
		}
	}
	if !strings.Contains(e.Text, "\nYes, send me these:\nhttps://nudge.example/confirm/tok-c?x=1&y=2\n\n-- \n") {
		t.Errorf("text lacks the action:\n%s", e.Text)
	}

	e, err = r.Email(m, Data{FirstName: "Sam"}, testLinks)
	if err != nil {
		t.Fatal(err)
	}
	if strings.Contains(e.HTML, "display:inline-block") || strings.Contains(e.HTML, "word-break") || strings.Contains(e.Text, "send me") {
		t.Errorf("a button without an action link")
	}
}

func TestEmailErrors(t *testing.T) {
	t.Parallel()
	lib := testLibrary(t, nil)
	r := testRenderer(lib)
	m := pick(t, lib, domain.WeeklyCheckin, "en")
	smsOnly, _ := lib.System(templates.SMSConfirm, "en")
	tests := []struct {
		name  string
		m     *templates.Message
		links Links
		want  string
	}{
		{"no message", nil, testLinks, "render email: no message"},
		{"sms only", smsOnly, testLinks, "render email en/system/sms-confirm.txt: the message has no subject or no body"},
		{"no manage link", m, Links{Unsubscribe: testLinks.Unsubscribe}, "render email en/weekly-checkin/01-first.txt: no manage link"},
		{"relative link", m, Links{Manage: "/manage/x", Unsubscribe: testLinks.Unsubscribe}, `render email en/weekly-checkin/01-first.txt: manage link "/manage/x" is not an absolute http(s) URL`},
		{"script link", m, Links{Manage: testLinks.Manage, Unsubscribe: testLinks.Unsubscribe, Action: "javascript:alert(1)", ActionLabel: "Go"}, `render email en/weekly-checkin/01-first.txt: action link "javascript:alert(1)" is not an absolute http(s) URL`},
		{"action without label", m, Links{Manage: testLinks.Manage, Unsubscribe: testLinks.Unsubscribe, Action: "https://x.example/"}, "render email en/weekly-checkin/01-first.txt: action link without a label"},
	}
	for _, tc := range tests {
		_, err := r.Email(tc.m, Data{}, tc.links)
		got := ""
		if err != nil {
			got = err.Error()
		}
		if got != tc.want {
			t.Errorf("%s: error %q, want %q", tc.name, got, tc.want)
		}
	}
}

func TestGSM7Segments(t *testing.T) {
	t.Parallel()
	if n := len([]rune(gsm7Basic)); n != 127 {
		t.Fatalf("gsm7Basic has %d characters, want 127 (128 less the escape code)", n)
	}
	tests := []struct {
		name     string
		s        string
		segments int
		gsm7     bool
	}{
		{"empty", "", 0, true},
		{"plain 160", strings.Repeat("a", 160), 1, true},
		{"plain 161", strings.Repeat("a", 161), 2, true},
		{"plain 306", strings.Repeat("a", 306), 2, true},
		{"plain 307", strings.Repeat("a", 307), 3, true},
		{"GSM-7 accents and symbols", "àèéìòùÄÖÑÜäöñüÅåÆæßÉØø¿¡£¥§@$_ΔΦΓΛΩΠΨΣΘΞ¤\n\r", 1, true},
		{"extension chars count two", strings.Repeat("{}[]~^|€\\", 8) + "ab", 1, true}, // 72 chars × 2 + 2 = 146 septets
		{"extension at the limit", strings.Repeat("€", 80), 1, true},                   // 160 septets
		{"extension over the limit", strings.Repeat("€", 80) + "a", 2, true},           // 161 septets
		{"escape pair not split", strings.Repeat("a", 152) + "€" + strings.Repeat("a", 151), 2, true},
		{"escape pair pushed over", strings.Repeat("a", 152) + "€" + strings.Repeat("a", 152), 3, true},
		{"emoji makes UCS-2", "Hi 🙂", 1, false},
		{"UCS-2 70", strings.Repeat("á", 70), 1, false},
		{"UCS-2 71", strings.Repeat("á", 71), 2, false},
		{"UCS-2 134", strings.Repeat("á", 134), 2, false},
		{"UCS-2 135", strings.Repeat("á", 135), 3, false},
		{"surrogate pairs count two", strings.Repeat("🙂", 35), 1, false},
		{"UCS-2 71 units", "a" + strings.Repeat("🙂", 35), 2, false},
		{"surrogate pair not split", strings.Repeat("a", 66) + "🙂" + strings.Repeat("b", 66), 3, false}, // 134 units, but the pair would straddle 67
		{"curly quote is not GSM-7", "it’s", 1, false},
	}
	for _, tc := range tests {
		segments, gsm7 := GSM7Segments(tc.s)
		if segments != tc.segments || gsm7 != tc.gsm7 {
			t.Errorf("%s: GSM7Segments = %d, %v; want %d, %v", tc.name, segments, gsm7, tc.segments, tc.gsm7)
		}
	}
}

func TestSMS(t *testing.T) {
	t.Parallel()
	long := strings.Repeat("word ", 48) // 240 characters
	lib := testLibrary(t, map[string]string{
		"*/weekly-checkin/01-first.txt":  "Subject: s\nSMS: nudge: Hi {{.FirstName}}. Who made you smile this week?\n\nb\n",
		"*/gratitude/01-first.txt":       "Subject: s\nSMS: Hi {{.FirstName}}. It’s “thanks” week… {{if .Goal}}Goal: {{.Goal}}.{{end}}\n\nb\n",
		"*/monthly-review/01-first.txt":  "Subject: s\nSMS: nudge: Hi {{.FirstName}}. " + long + "\n\nb\n",
		"*/between-session/01-first.txt": "Subject: s\nSMS: nudge: " + strings.Repeat("canción ", 20) + "\n\nb\n",
		"es/weekly-checkin/01-first.txt": "Subject: s\nSMS: nudge: {{.FirstName}}, ¿quién te hizo sonreír esta semana?\n\nb\n",
		"*/system/goal.txt":              "SMS: nudge: Hi {{.FirstName}}. " + long[:150] + "{{if .Goal}}Goal: {{.Goal}}.{{end}}\n",
	})
	r := testRenderer(lib)
	tests := []struct {
		name    string
		system  string // a system message instead of the program's first
		program domain.Program
		locale  string
		data    Data
		footer  SMSFooter
		want    string
		wantErr string
	}{
		{
			name: "plain", program: domain.WeeklyCheckin, locale: "en", data: Data{FirstName: "Sam"},
			want: "nudge: Hi Sam. Who made you smile this week?",
		},
		{
			name: "opt-out footer", program: domain.WeeklyCheckin, locale: "en", data: Data{FirstName: "Sam"}, footer: FooterOptOut,
			want: "nudge: Hi Sam. Who made you smile this week? Reply STOP to opt out, HELP for help.",
		},
		{
			name: "Spanish footer and no name", program: domain.WeeklyCheckin, locale: "es", footer: FooterOptOut,
			want: "nudge: ¿Quién te hizo sonreír esta semana? Responde STOP para darte de baja, HELP para ayuda.",
		},
		{
			name: "a short UCS-2 name is kept", program: domain.WeeklyCheckin, locale: "en", data: Data{FirstName: "李小龍"},
			want: "nudge: Hi 李小龍. Who made you smile this week?",
		},
		{
			name: "service name first, typography made GSM-7", program: domain.Gratitude, locale: "en", data: Data{FirstName: "Sam"},
			want: `nudge: Hi Sam. It's "thanks" week...`,
		},
		{
			name: "a UCS-2 name that would make it too long falls back", program: domain.MonthlyReview, locale: "en",
			data: Data{FirstName: "Zoë 🙂"}, footer: FooterOptOut,
			want: "nudge: Hi there. " + strings.TrimSpace(long) + " Reply STOP to opt out, HELP for help.",
		},
		{
			name: "a name whose accent GSM-7 lacks loses the accent, not the name", program: domain.MonthlyReview, locale: "en",
			data: Data{FirstName: "Zoë"}, footer: FooterOptOut,
			want: "nudge: Hi Zoe. " + strings.TrimSpace(long) + " Reply STOP to opt out, HELP for help.",
		},
		{
			name: "a goal is dropped before giving up", system: "goal", locale: "en",
			data: Data{FirstName: "Sam", Goal: strings.Repeat("x", 200)}, footer: FooterOptOut,
			want: "nudge: Hi there. " + strings.TrimSpace(long[:150]) + " Reply STOP to opt out, HELP for help.",
		},
		{
			name: "a short goal is kept", system: "goal", locale: "en",
			data: Data{FirstName: "Sam", Goal: "walk"},
			want: "nudge: Hi Sam. " + long[:150] + "Goal: walk.",
		},
		{
			name: "copy that needs UCS-2 loses accents to fit", program: domain.BetweenSession, locale: "en",
			want: "nudge: " + strings.TrimSpace(strings.Repeat("cancion ", 20)),
		},
		{
			name: "too long whatever the name", program: domain.MonthlyReview, locale: "en", data: Data{FirstName: "Sam"},
			footer:  FooterOptOut,
			wantErr: "render sms en/monthly-review/01-first.txt: 4 segments even without the name, at most 2 allowed",
		},
	}
	// The last case needs a message that cannot fit: make it so.
	tooLong := testLibrary(t, map[string]string{
		"*/monthly-review/01-first.txt": "Subject: s\nSMS: nudge: Hi {{.FirstName}}. " + long + long + "\n\nb\n",
	})
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			l, rr := lib, r
			if tc.wantErr != "" {
				l, rr = tooLong, testRenderer(tooLong)
			}
			m, err := l.System(tc.system, tc.locale)
			if tc.system == "" {
				m, err = pick(t, l, tc.program, tc.locale), nil
			}
			if err != nil {
				t.Fatal(err)
			}
			got, err := rr.SMS(m, tc.data, tc.footer)
			if tc.wantErr != "" {
				if err == nil || err.Error() != tc.wantErr {
					t.Fatalf("error %v, want %q", err, tc.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if diff := cmp.Diff(tc.want, got); diff != "" {
				t.Errorf("SMS (-want +got):\n%s", diff)
			}
			if n, _ := GSM7Segments(got); n > MaxSMSSegments {
				t.Errorf("%d segments", n)
			}
		})
	}

	if _, err := r.SMS(pick(t, lib, domain.WeeklyCheckin, "en"), Data{}, FooterNone); err != nil {
		t.Error(err)
	}
	m, _ := lib.System(templates.Welcome, "en")
	if _, err := r.SMS(m, Data{}, FooterNone); err == nil || !strings.Contains(err.Error(), "has no SMS line") {
		t.Errorf("SMS of an email-only message: %v", err)
	}
}

func TestCheck(t *testing.T) {
	t.Parallel()
	long := strings.Repeat("word ", 70)
	lib := testLibrary(t, map[string]string{
		"es/gratitude/01-first.txt": "Subject: s\nSMS: nudge: " + long + "\n\nb\n",
	})
	want := "render sms es/gratitude/01-first.txt: 3 segments even without the name, at most 2 allowed"
	if err := testRenderer(lib).Check(); err == nil || err.Error() != want {
		t.Errorf("Check() = %v, want %q", err, want)
	}
	if err := testRenderer(testLibrary(t, nil)).Check(); err != nil {
		t.Errorf("Check() of a good library: %v", err)
	}
}

func TestEmbeddedLibraryRenders(t *testing.T) {
	t.Parallel()
	lib, err := templates.Default()
	if err != nil {
		t.Fatalf("the embedded library does not load: %v", err)
	}
	if err := testRenderer(lib).Check(); err != nil {
		t.Errorf("Check:\n%v", err)
	}
}

func TestDefaultCrisisLines(t *testing.T) {
	t.Parallel()
	lines := DefaultCrisisLines()
	for _, loc := range []string{"en", "es"} {
		if !strings.Contains(lines[loc], "988") {
			t.Errorf("%s crisis line %q", loc, lines[loc])
		}
	}
	lines["en"] = "changed"
	if DefaultCrisisLines()["en"] == "changed" {
		t.Error("DefaultCrisisLines shares its map")
	}
}

// Golden files: the whole rendered email, for review of layout changes. Run
// go test ./internal/render/ -update to rewrite them.

func TestGolden(t *testing.T) {
	t.Parallel()
	lib := testLibrary(t, map[string]string{
		"en/weekly-checkin/01-first.txt": `Subject: {{.FirstName}}, who lit up your week?
SMS: nudge: Hi {{.FirstName}}. Think of one chat this week that felt easy. What made it work?

Hi {{.FirstName}}, this week is about the easy moments: the chats that
needed no effort at all. {{if .Goal}}You said you want to {{.Goal}}; this
helps.{{end}}

Three places to look:

- a queue, a bus stop, a shop counter
- a message thread that came back to life, even if only for a day or two
  before it went quiet again
- a neighbour's wave

What made one of them work? Reply with a word or two.
`,
		"es/weekly-checkin/01-first.txt": `Subject: {{.FirstName}}, ¿quién alegró tu semana?
SMS: nudge: Hola, {{.FirstName}}. Piensa en una charla fácil de esta semana. ¿Qué la hizo fácil?

Hola, {{.FirstName}}: esta semana miramos los momentos fáciles.

- una fila, una parada de autobús
- un vecino que saluda

¿Qué hizo que uno de ellos funcionara?
`,
	})
	r := testRenderer(lib)
	confirm := testLinks
	confirm.Action, confirm.ActionLabel = "https://nudge.example/confirm/tok-c", "Yes, send me these"

	cases := []struct {
		name  string
		m     *templates.Message
		data  Data
		links Links
	}{
		{"weekly-en", pick(t, lib, domain.WeeklyCheckin, "en"), Data{FirstName: "Sam", Goal: "call my sister more", Week: 3}, testLinks},
		{"weekly-es-no-name", pick(t, lib, domain.WeeklyCheckin, "es"), Data{Week: 3}, testLinks},
		{"weekly-en-action", pick(t, lib, domain.WeeklyCheckin, "en"), Data{FirstName: "<Sam & Co>"}, confirm},
	}
	if real := embeddedEnglish(t); real != nil {
		m, err := real.System(templates.Confirm, "en")
		if err != nil {
			t.Fatal(err)
		}
		cases = append(cases, struct {
			name  string
			m     *templates.Message
			data  Data
			links Links
		}{"embedded-confirm-en", m, Data{FirstName: "Sam"}, confirm})
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			e, err := r.Email(tc.m, tc.data, tc.links)
			if err != nil {
				t.Fatal(err)
			}
			golden(t, tc.name+".txt", "Subject: "+e.Subject+"\n\n"+e.Text)
			golden(t, tc.name+".html", e.HTML)
			if tc.m.SMS != nil {
				s, err := r.SMS(tc.m, tc.data, FooterOptOut)
				if err != nil {
					t.Fatal(err)
				}
				golden(t, tc.name+".sms", s+"\n")
			}
		})
	}
}

// embeddedEnglish loads the English messages of the embedded library (the
// other locales may be mid-translation), or returns nil if they do not load:
// the templates tests report why.
func embeddedEnglish(t *testing.T) *templates.Library {
	t.Helper()
	fsys := fstest.MapFS{}
	err := fs.WalkDir(templates.FS(), "en", func(p string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		b, err := fs.ReadFile(templates.FS(), p)
		fsys[p] = &fstest.MapFile{Data: b}
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
	lib, err := templates.Load(fsys)
	if err != nil {
		t.Logf("embedded English messages do not load; skipping their golden file: %v", err)
		return nil
	}
	return lib
}

func golden(t *testing.T, name, got string) {
	t.Helper()
	path := filepath.Join("testdata", name)
	if *update {
		if err := os.MkdirAll("testdata", 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(path, []byte(got), 0o644); err != nil {
			t.Fatal(err)
		}
		return
	}
	want, err := os.ReadFile(path)
	if err != nil {
		t.Fatalf("%v (run go test ./internal/render/ -update to create it)", err)
	}
	if diff := cmp.Diff(string(want), got); diff != "" {
		t.Errorf("%s (-want +got):\n%s", path, diff)
	}
}

func TestWelcomeBackAfterAPause(t *testing.T) {
	t.Parallel()
	lib := testLibrary(t, nil)
	r := testRenderer(lib)
	for _, tt := range []struct{ locale, email, sms string }{
		{"en", "Welcome back.", "nudge: Welcome back! Hi Ana."},
		{"es", "Qué bueno tenerte de vuelta.", "nudge: De vuelta! Hi Ana."},
	} {
		m := pick(t, lib, domain.WeeklyCheckin, tt.locale)
		back, err := r.Email(m, Data{FirstName: "Ana", WelcomeBack: true}, testLinks)
		if err != nil {
			t.Fatal(err)
		}
		plain, _ := r.Email(m, Data{FirstName: "Ana"}, testLinks)
		if !strings.Contains(back.Text, tt.email) || !strings.Contains(back.HTML, tt.email[:10]) {
			t.Errorf("%s: welcome-back email lacks %q:\n%s", tt.locale, tt.email, back.Text)
		}
		if strings.Contains(plain.Text, tt.email) {
			t.Errorf("%s: an ordinary email says welcome back", tt.locale)
		}
		sms, err := r.SMS(m, Data{FirstName: "Ana", WelcomeBack: true}, FooterNone)
		if err != nil || sms != tt.sms {
			t.Errorf("%s: sms = %q, %v; want %q", tt.locale, sms, err, tt.sms)
		}
	}
}

// With a crisis directory, every email's footer names the resources of the
// person's country in the message's language, and a clinic's own line.
func TestFooterNamesTheCountrysCrisisLines(t *testing.T) {
	lib := testLibrary(t, nil)
	r := New(lib, Options{ServiceName: "nudge", PostalAddress: "1 Main St", Crisis: crisis.Default()})
	for _, tt := range []struct {
		locale, country, clinic string
		want, not               []string
	}{
		{"en", "US", "", []string{"nudge is not monitored.", "988"}, []string{"024", "116 123"}},
		{"en", "GB", "", []string{"116 123", "999"}, []string{"988"}},
		{"es", "ES", "", []string{"Nadie supervisa nudge", "024", "112"}, []string{"988"}},
		{"es", "MX", "", []string{"800 911 2000"}, []string{"988", "024"}},
		{"es", "US", "", []string{"988", "marca 2"}, []string{"024"}},
		{"en", "", "", []string{"local emergency number"}, []string{"988"}},
		{"en", "US", "Riverside after hours: 555 0199.", []string{"988", "Riverside after hours: 555 0199."}, nil},
	} {
		e, err := r.Email(pick(t, lib, domain.WeeklyCheckin, tt.locale), Data{FirstName: "Sam", Locale: tt.locale, Country: tt.country, ClinicCrisis: tt.clinic}, testLinks)
		if err != nil {
			t.Fatal(err)
		}
		for _, part := range []string{e.Text, e.HTML} {
			part = strings.Join(strings.Fields(part), " ") // the text part wraps lines
			for _, w := range tt.want {
				if !strings.Contains(part, w) {
					t.Errorf("%s/%s: footer lacks %q", tt.locale, tt.country, w)
				}
			}
			for _, w := range tt.not {
				if strings.Contains(part, w) {
					t.Errorf("%s/%s: footer names %q", tt.locale, tt.country, w)
				}
			}
		}
	}
}
