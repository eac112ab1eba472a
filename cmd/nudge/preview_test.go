package main

import (
	"bytes"
	"os"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"testing"

	"github.com/nudgehq/nudge/internal/domain"
	"github.com/nudgehq/nudge/internal/render"
	"github.com/nudgehq/nudge/templates"
)

func TestPreview(t *testing.T) {
	t.Parallel()
	lib, err := templates.Default()
	if err != nil {
		t.Fatalf("the embedded library does not load: %v", err)
	}
	third, err := lib.Pick(domain.WeeklyCheckin, "en", 2)
	if err != nil {
		t.Fatal(err)
	}
	// An operator's override of the third weekly check-in.
	overrides := t.TempDir()
	override := filepath.Join(overrides, "en", "weekly-checkin", third.Name+".txt")
	if err := os.MkdirAll(filepath.Dir(override), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(override, []byte("Subject: Our clinic's own words\nSMS: nudge: our own text\n\nOur own body.\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	broken := t.TempDir()
	if err := os.MkdirAll(filepath.Join(broken, "en", "gratitude"), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(broken, "en", "gratitude", "01-x.txt"), []byte("Subject: s\nSMS: {{.Nmae}}\n\nb\n"), 0o644); err != nil {
		t.Fatal(err)
	}

	configured := map[string]string{
		"NUDGE_BASE_URL":       "https://nudge.example/",
		"NUDGE_POSTAL_ADDRESS": "Nudge Ltd, 1 High Street, Bristol",
	}
	listLine := regexp.MustCompile(`^ ?([0-9]+)  [a-z0-9]+(-[a-z0-9]+)*\s+\S.*$`)

	tests := []struct {
		name  string
		args  []string
		env   map[string]string
		check func(t *testing.T, out string)
		// For bad input: the exit code is 2, nothing goes to stdout, and
		// stderr holds this.
		wantErr string
	}{
		{
			name: "list a program",
			args: []string{"weekly-checkin"},
			check: func(t *testing.T, out string) {
				lines := strings.Split(strings.TrimSuffix(out, "\n"), "\n")
				if len(lines) != 52 {
					t.Fatalf("%d lines, want 52:\n%s", len(lines), out)
				}
				for i, line := range lines {
					m := listLine.FindStringSubmatch(line)
					if m == nil || m[1] != strconv.Itoa(i+1) {
						t.Errorf("line %d = %q, want step %d, slug, subject", i+1, line, i+1)
					}
				}
				if !strings.Contains(lines[2], " "+strings.SplitN(third.Name, "-", 2)[1]+" ") {
					t.Errorf("line 3 = %q, want the slug of %s", lines[2], third.Name)
				}
				if strings.Contains(out, "{{") || strings.Contains(out, "<no value>") {
					t.Errorf("subjects are not rendered:\n%s", out)
				}
			},
		},
		{
			name: "list in Spanish",
			args: []string{"monthly-review", "--locale", "es"},
			check: func(t *testing.T, out string) {
				if n := strings.Count(out, "\n"); n != len(lib.Series(domain.MonthlyReview, "es")) {
					t.Errorf("%d lines, want one per message", n)
				}
				en, _ := runPreview(t, []string{"monthly-review"}, nil)
				if en.String() == out {
					t.Errorf("Spanish list is the English one:\n%s", out)
				}
			},
		},
		{
			name: "an email: subject, blank line, text with the footer",
			args: []string{"weekly-checkin", "3"},
			env:  configured,
			check: func(t *testing.T, out string) {
				subject, text, ok := strings.Cut(out, "\n\n")
				if !ok || !strings.HasPrefix(subject, "Subject: ") || strings.Contains(subject, "\n") || len(subject) < len("Subject: x") {
					t.Fatalf("want a Subject: line, then a blank line:\n%s", out)
				}
				for _, want := range []string{
					"Sam", // the sample subscriber
					"Manage your messages: https://nudge.example/manage/",
					"Unsubscribe: https://nudge.example/unsubscribe/",
					"\n-- \n",
					"Nudge Ltd, 1 High Street, Bristol",
					"988",
				} {
					if !strings.Contains(text, want) {
						t.Errorf("text lacks %q:\n%s", want, out)
					}
				}
				if strings.Contains(out, "<") {
					t.Errorf("the text part has markup:\n%s", out)
				}
			},
		},
		{
			name: "no configuration at all",
			args: []string{"gratitude", "1"},
			check: func(t *testing.T, out string) {
				for _, want := range []string{"http://localhost:8080/manage/", "http://localhost:8080/unsubscribe/", previewPostalAddress} {
					if !strings.Contains(out, want) {
						t.Errorf("lacks %q:\n%s", want, out)
					}
				}
			},
		},
		{
			name: "the HTML part",
			args: []string{"weekly-checkin", "3", "--html"},
			env:  configured,
			check: func(t *testing.T, out string) {
				if !strings.HasPrefix(strings.ToLower(out), "<!doctype html") {
					t.Errorf("does not start with <!doctype html:\n%.200s", out)
				}
				for _, want := range []string{`<html lang="en"`, `href="https://nudge.example/manage/`, `href="https://nudge.example/unsubscribe/`, "</html>"} {
					if !strings.Contains(out, want) {
						t.Errorf("HTML lacks %q", want)
					}
				}
			},
		},
		{
			name: "an SMS with its opt-out footer, in two segments at most",
			args: []string{"--channel", "sms", "between-session", "16"},
			check: func(t *testing.T, out string) {
				s := strings.TrimSuffix(out, "\n")
				if n, gsm := render.GSM7Segments(s); n < 1 || n > 2 || !gsm {
					t.Errorf("%d segments (GSM-7 %v), want GSM-7 in 1 or 2: %q", n, gsm, s)
				}
				if !strings.HasPrefix(s, "nudge: ") || !strings.HasSuffix(s, "Reply STOP to opt out, HELP for help.") || strings.Contains(s, "\n") {
					t.Errorf("want one line from the service name to the opt-out footer: %q", s)
				}
			},
		},
		{
			name: "Spanish email",
			args: []string{"weekly-checkin", "3", "--locale", "es"},
			check: func(t *testing.T, out string) {
				for _, want := range []string{"Gestionar tus mensajes: ", "Cancelar la suscripción: ", "Si estás en crisis"} {
					if !strings.Contains(out, want) {
						t.Errorf("lacks %q:\n%s", want, out)
					}
				}
				en, _ := runPreview(t, []string{"weekly-checkin", "3"}, nil)
				enSubject, _, _ := strings.Cut(en.String(), "\n")
				if subject, _, _ := strings.Cut(out, "\n"); subject == enSubject {
					t.Errorf("Spanish subject is the English one: %q", subject)
				}
			},
		},
		{
			name: "Spanish SMS",
			args: []string{"gratitude", "2", "--locale", "es-MX", "--channel", "sms"},
			check: func(t *testing.T, out string) {
				if !strings.HasSuffix(out, "Responde STOP para darte de baja, HELP para ayuda.\n") {
					t.Errorf("want the Spanish opt-out footer: %q", out)
				}
			},
		},
		{
			name: "an operator's override",
			args: []string{"weekly-checkin"},
			env:  map[string]string{"NUDGE_TEMPLATES_DIR": overrides},
			check: func(t *testing.T, out string) {
				lines := strings.Split(out, "\n")
				if len(lines) < 3 || !strings.HasSuffix(lines[2], "  Our clinic's own words") {
					t.Errorf("line 3 is not the override:\n%s", out)
				}
			},
		},

		{
			name: "a given name and goal",
			args: []string{"weekly-checkin", "4", "--name", "Ana", "--goal", "people at work"},
			check: func(t *testing.T, out string) {
				for _, want := range []string{"Hi Ana,", "With people at work in mind,"} {
					if !strings.Contains(out, want) {
						t.Errorf("lacks %q:\n%s", want, out)
					}
				}
				if strings.Contains(out, "Sam") || strings.Contains(out, previewGoal) {
					t.Errorf("the sample subscriber shows through:\n%s", out)
				}
			},
		},
		{
			name: "no name and no goal",
			args: []string{"weekly-checkin", "4", "--name", "", "--goal", ""},
			check: func(t *testing.T, out string) {
				if !strings.Contains(out, "Hi there,") || strings.Contains(out, "in mind") {
					t.Errorf("want the text of a person who gave no name and no goal:\n%s", out)
				}
			},
		},
		{
			name: "the sample goal is what the form asks for",
			args: []string{"weekly-checkin", "4"},
			check: func(t *testing.T, out string) {
				if !strings.Contains(out, "With my sister in mind,") {
					t.Errorf("want the sample goal %q in its sentence:\n%s", previewGoal, out)
				}
			},
		},
		{name: "goal too long", args: []string{"gratitude", "1", "--goal", strings.Repeat("x", domain.GoalMaxLen+1)}, wantErr: "--goal is 61 characters; the sign-up form takes at most 60"},
		{name: "name too long", args: []string{"gratitude", "1", "--name", strings.Repeat("x", render.MaxNameLen+1)}, wantErr: "--name is 41 characters; the sign-up form takes at most 40"},
		{name: "no program", args: nil, wantErr: "which program? one of weekly-checkin, gratitude, monthly-review, between-session"},
		{name: "unknown program", args: []string{"podcast"}, wantErr: `unknown program "podcast"`},
		{name: "step 0", args: []string{"gratitude", "0"}, wantErr: `step "0": want a number from 1 to 52`},
		{name: "step past the end", args: []string{"monthly-review", "13"}, wantErr: `step "13": want a number from 1 to 12`},
		{name: "step not a number", args: []string{"gratitude", "three"}, wantErr: `step "three": want a number`},
		{name: "too many arguments", args: []string{"gratitude", "1", "2"}, wantErr: `unexpected argument "2"`},
		{name: "unknown channel", args: []string{"gratitude", "1", "--channel", "fax"}, wantErr: `--channel must be email or sms, not "fax"`},
		{name: "html with sms", args: []string{"gratitude", "1", "--channel", "sms", "--html"}, wantErr: "--html shows an email's HTML part"},
		{name: "unknown locale", args: []string{"gratitude", "1", "--locale", "fr"}, wantErr: `no messages in locale "fr": the library has en, es`},
		{name: "unknown flag", args: []string{"gratitude", "--colour"}, wantErr: "flag provided but not defined: -colour"},
		{name: "bad base URL", args: []string{"gratitude", "1"}, env: map[string]string{"NUDGE_BASE_URL": "nudge.example"}, wantErr: `NUDGE_BASE_URL: "nudge.example" is not an absolute`},
		{name: "missing templates dir", args: []string{"gratitude"}, env: map[string]string{"NUDGE_TEMPLATES_DIR": filepath.Join(overrides, "nope")}, wantErr: "NUDGE_TEMPLATES_DIR=" + filepath.Join(overrides, "nope")},
		{name: "broken override", args: []string{"gratitude"}, env: map[string]string{"NUDGE_TEMPLATES_DIR": broken}, wantErr: broken + "/en/gratitude/01-x.txt:2: unknown field .Nmae"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			stdout, stderr := runPreview(t, tc.args, tc.env)
			if tc.wantErr != "" {
				if code := stdout.code; code != 2 {
					t.Errorf("exit code %d, want 2", code)
				}
				if stdout.Len() != 0 {
					t.Errorf("stdout = %q, want nothing", stdout.String())
				}
				if !strings.Contains(stderr, tc.wantErr) {
					t.Errorf("stderr = %q, want it to say %q", stderr, tc.wantErr)
				}
				return
			}
			if stdout.code != 0 || stderr != "" {
				t.Fatalf("exit code %d, stderr %q", stdout.code, stderr)
			}
			tc.check(t, stdout.String())
		})
	}
}

// previewOut is what previewCommand wrote to stdout, and its exit code.
type previewOut struct {
	bytes.Buffer
	code int
}

func runPreview(t *testing.T, args []string, env map[string]string) (*previewOut, string) {
	t.Helper()
	var out previewOut
	var errOut bytes.Buffer
	out.code = previewCommand(args, &out, &errOut, func(k string) string { return env[k] })
	return &out, errOut.String()
}
