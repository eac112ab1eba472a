package templates

import (
	"errors"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"testing/fstest"

	"github.com/google/go-cmp/cmp"

	"github.com/nudgehq/nudge/internal/domain"
)

// validFS returns the smallest library that loads: one message per program
// and the required system messages, in en and es.
func validFS() fstest.MapFS {
	fsys := fstest.MapFS{}
	for _, loc := range []string{"en", "es"} {
		for _, p := range programs() {
			fsys[loc+"/"+string(p)+"/01-first.txt"] = file("Subject: " + loc + " first\nSMS: nudge: Hi {{.FirstName}}.\n\nHello {{.FirstName}}.\n")
			fsys[loc+"/"+string(p)+"/02-second.txt"] = file("Subject: " + loc + " second\nSMS: nudge: from {{.Sender}}\n\nBody.\n")
		}
		for _, name := range []string{Confirm, AlreadySubscribed, Welcome, Unsubscribed} {
			fsys[loc+"/system/"+name+".txt"] = file("Subject: " + name + "\n\nHi {{.FirstName}}.\n")
		}
		fsys[loc+"/system/sms-confirm.txt"] = file("SMS: nudge: reply YES\n")
	}
	return fsys
}

func file(s string) *fstest.MapFile { return &fstest.MapFile{Data: []byte(s)} }

// errLines splits a joined error into its lines.
func errLines(err error) []string {
	if err == nil {
		return nil
	}
	return strings.Split(err.Error(), "\n")
}

func TestLoadValid(t *testing.T) {
	t.Parallel()
	lib, err := Load(validFS())
	if err != nil {
		t.Fatalf("Load: %v", err)
	}
	if diff := cmp.Diff([]string{"en", "es"}, lib.Locales()); diff != "" {
		t.Errorf("Locales (-want +got):\n%s", diff)
	}

	s := lib.Series(domain.Gratitude, "es")
	var got []string
	for _, m := range s {
		got = append(got, m.Locale+":"+m.Name)
	}
	if diff := cmp.Diff([]string{"es:01-first", "es:02-second"}, got); diff != "" {
		t.Errorf("Series (-want +got):\n%s", diff)
	}
	if s[1].Step != 1 || s[1].Program != domain.Gratitude || s[1].File != "es/gratitude/02-second.txt" {
		t.Errorf("second message = %+v", s[1])
	}

	for _, tc := range []struct {
		locale string
		step   int64
		want   string
	}{
		// A weekly series sends its opener once, then the rest (here one
		// message) over and over; see TestWeeklyIndex.
		{"en", 0, "en/weekly-checkin/01-first"},
		{"en", 1, "en/weekly-checkin/02-second"},
		{"en", 2, "en/weekly-checkin/02-second"},
		{"en", 7, "en/weekly-checkin/02-second"},
		{"en", -1, "en/weekly-checkin/01-first"},
		{"es", 4, "es/weekly-checkin/02-second"},
		{"es-MX", 1, "es/weekly-checkin/02-second"},
		{"fr", 0, "en/weekly-checkin/01-first"},
		{"", 0, "en/weekly-checkin/01-first"},
	} {
		m, err := lib.Pick(domain.WeeklyCheckin, tc.locale, tc.step)
		if err != nil {
			t.Errorf("Pick(%q, %d): %v", tc.locale, tc.step, err)
			continue
		}
		if m.String() != tc.want {
			t.Errorf("Pick(%q, %d) = %s, want %s", tc.locale, tc.step, m, tc.want)
		}
	}
	if _, err := lib.Pick("no-such-program", "en", 0); domain.ErrorCode(err) != domain.ErrNotFound {
		t.Errorf("Pick(unknown program) error = %v, want not_found", err)
	}

	m, err := lib.System(Confirm, "es")
	if err != nil || m.String() != "es/system/confirm" || m.Step != -1 || m.Program != "" {
		t.Errorf("System(confirm, es) = %v, %v", m, err)
	}
	if m, err := lib.System(SMSConfirm, "de"); err != nil || m.Locale != "en" || m.Subject != nil || m.SMS == nil || len(m.Body) != 0 {
		t.Errorf("System(sms-confirm, de) = %+v, %v", m, err)
	}
	if _, err := lib.System("nope", "en"); domain.ErrorCode(err) != domain.ErrNotFound {
		t.Errorf("System(nope) error = %v, want not_found", err)
	}
	// 2 messages × 4 programs + 5 system messages, in two locales.
	if n := len(lib.Messages()); n != 26 {
		t.Errorf("Messages: %d, want 26", n)
	}
}

func TestLoadProblems(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name  string
		edit  func(fstest.MapFS)
		want  []string // the error's lines, in order
		wantN int      // or just their number, when 0 lines are listed
	}{
		{
			name: "missing blank line before the body",
			edit: func(f fstest.MapFS) {
				f["en/gratitude/01-first.txt"] = file("Subject: s\nSMS: nudge: hi\nBody right away.\n")
				f["es/gratitude/01-first.txt"] = f["en/gratitude/01-first.txt"]
			},
			want: []string{
				"en/gratitude/01-first.txt:3: expected a header line (Subject: or SMS:) or a blank line before the body",
				"en/gratitude/01-first.txt: no body (a blank line after the headers, then the text)",
				"es/gratitude/01-first.txt:3: expected a header line (Subject: or SMS:) or a blank line before the body",
				"es/gratitude/01-first.txt: no body (a blank line after the headers, then the text)",
			},
		},
		{
			name: "unknown header",
			edit: func(f fstest.MapFS) {
				f["en/gratitude/01-first.txt"] = file("Subject: s\nPreheader: p\nSMS: nudge: hi\n\nBody.\n")
			},
			want: []string{`en/gratitude/01-first.txt:2: unknown header "Preheader" (want Subject or SMS; is the blank line before the body missing?)`},
		},
		{
			name: "duplicate and empty headers",
			edit: func(f fstest.MapFS) {
				f["en/gratitude/01-first.txt"] = file("Subject: s\nSubject: t\nSMS:\n\nBody.\n")
			},
			want: []string{
				"en/gratitude/01-first.txt:2: second Subject line (the first is on line 1)",
				"en/gratitude/01-first.txt:3: empty SMS",
			},
		},
		{
			name: "unknown field in a header",
			edit: func(f fstest.MapFS) {
				f["en/gratitude/01-first.txt"] = file("Subject: s\nSMS: nudge: Hi {{.Nmae}}\n\nBody.\n")
			},
			want: []string{"en/gratitude/01-first.txt:2: unknown field .Nmae (want .FirstName, .Goal, .Sender)"},
		},
		{
			name: "unknown field deep in the body, inside an if",
			edit: func(f fstest.MapFS) {
				f["en/gratitude/01-first.txt"] = file("Subject: s\nSMS: nudge\n\nOne.\n\nTwo, wrapped\nover {{if .Goal}}{{.Gaol}}{{end}} lines.\n")
			},
			want: []string{"en/gratitude/01-first.txt:7: unknown field .Gaol (want .FirstName, .Goal, .Sender)"},
		},
		{
			name: "fields that do not exist on a field, or inside with",
			edit: func(f fstest.MapFS) {
				f["en/gratitude/01-first.txt"] = file("Subject: {{.Sender.Name}}\nSMS: nudge {{with .Goal}}{{.Goal}}{{end}}\n\n{{with .Goal}}{{.}} {{$.Sender}}{{end}}\n")
			},
			want: []string{
				"en/gratitude/01-first.txt:1: field .Sender has no field .Name (it is a string)",
				"en/gratitude/01-first.txt:2: field .Goal inside with or range, where dot is not the message data (use $.Goal)",
			},
		},
		{
			name: "template syntax error carries the file's line",
			edit: func(f fstest.MapFS) {
				f["en/gratitude/01-first.txt"] = file("Subject: s\nSMS: nudge\n\nOne.\n\n- a\n- b {{if .Goal}}\n")
			},
			want: []string{`en/gratitude/01-first.txt:7: unexpected EOF`},
		},
		{
			name: "execution error",
			edit: func(f fstest.MapFS) {
				f["en/gratitude/01-first.txt"] = file("Subject: s\nSMS: nudge {{template \"x\"}}\n\nOne.\n")
			},
			want: []string{`en/gratitude/01-first.txt:2: executing "en/gratitude/01-first.txt" at <{{template "x"}}>: template "x" not defined`},
		},
		{
			name: "program message without SMS or body",
			edit: func(f fstest.MapFS) {
				f["en/monthly-review/01-first.txt"] = file("Subject: s\n")
			},
			want: []string{
				"en/monthly-review/01-first.txt: no SMS line",
				"en/monthly-review/01-first.txt: no body (a blank line after the headers, then the text)",
			},
		},
		{
			name: "system message parts",
			edit: func(f fstest.MapFS) {
				f["en/system/sms-confirm.txt"] = file("Subject: s\nSMS: nudge\n\nBody.\n")
				f["en/system/welcome.txt"] = file("SMS: nudge: welcome\n")
				f["en/system/help.txt"] = file("Subject: help\n")
				f["es/system/help.txt"] = file("SMS: nudge: ayuda\n")
			},
			want: []string{
				"en/system/help.txt: no body (a blank line after the headers, then the text)",
				"en/system/sms-confirm.txt:1: sms-confirm is a text message only: remove the Subject",
				"en/system/sms-confirm.txt: sms-confirm is a text message only: remove the body",
				"en/system/welcome.txt: no Subject line",
				"en/system/welcome.txt: no body (a blank line after the headers, then the text)",
			},
		},
		{
			name: "text right after a list",
			edit: func(f fstest.MapFS) {
				f["en/gratitude/01-first.txt"] = file("Subject: s\nSMS: nudge\n\n- one\n  continued\n- two\nNot a paragraph.\n-\n")
			},
			want: []string{
				"en/gratitude/01-first.txt:7: text right after a list item: indent it to continue the item, or leave a blank line before a new paragraph",
				"en/gratitude/01-first.txt:8: empty list item",
			},
		},
		{
			name: "layout problems",
			edit: func(f fstest.MapFS) {
				f["en/gratitude/1st.txt"] = file("x")
				f["en/gratitude/01-Capital.txt"] = file("x")
				f["en/podcast/01-x.txt"] = file("x")
				f["en/stray.txt"] = file("x")
				f["en/gratitude/deep/01-x.txt"] = file("x")
				f["English/gratitude/01-x.txt"] = file("x")
				f["README.md"] = file("ignored")
				f["en/gratitude/.01-first.txt.swp"] = file("ignored")
			},
			want: []string{
				"English: not a locale directory (want a name like en, es or pt-br)",
				"en/gratitude/01-Capital.txt: unexpected file name (want NN-slug.txt, lower case)",
				"en/gratitude/1st.txt: unexpected file name (want NN-slug.txt, lower case)",
				"en/gratitude/deep: unexpected directory (want <locale>/<program>/NN-slug.txt or <locale>/system/name.txt)",
				`en/podcast: unknown program "podcast" (want weekly-checkin, gratitude, monthly-review, between-session or system)`,
				"en/stray.txt: unexpected file (want <locale>/<program>/NN-slug.txt or <locale>/system/name.txt)",
			},
		},
		{
			name: "two messages with one number",
			edit: func(f fstest.MapFS) {
				f["en/gratitude/02-again.txt"] = f["en/gratitude/02-second.txt"]
				f["es/gratitude/02-again.txt"] = f["es/gratitude/02-second.txt"]
			},
			want: []string{
				"en/gratitude/02-second.txt: has the same number as en/gratitude/02-again.txt; each message of a series needs its own",
				"es/gratitude/02-second.txt: has the same number as es/gratitude/02-again.txt; each message of a series needs its own",
			},
		},
		{
			name: "a locale missing files, and with an extra one",
			edit: func(f fstest.MapFS) {
				delete(f, "es/gratitude/02-second.txt")
				delete(f, "es/system/welcome.txt")
				f["es/gratitude/03-extra.txt"] = f["es/gratitude/01-first.txt"]
			},
			want: []string{
				"es/gratitude/02-second.txt: missing (en has en/gratitude/02-second.txt)",
				"es/system/welcome.txt: missing (en has en/system/welcome.txt)",
				"es/gratitude/03-extra.txt: not in en (every locale has the same files as en)",
			},
		},
		{
			name: "en missing a system message and a program",
			edit: func(f fstest.MapFS) {
				for p := range f {
					if strings.HasPrefix(p, "es/") || strings.HasPrefix(p, "en/monthly-review/") || p == "en/system/unsubscribed.txt" {
						delete(f, p)
					}
				}
			},
			want: []string{
				"en/monthly-review: the program has no messages",
				"en/system/unsubscribed.txt: missing; every library needs it",
			},
		},
		{
			name: "no en at all",
			edit: func(f fstest.MapFS) {
				for p := range f {
					if strings.HasPrefix(p, "en/") {
						delete(f, p)
					}
				}
			},
			want: []string{`no "en" locale: it is the fallback every library needs`},
		},
		{
			name: "every problem is reported, not just the first",
			edit: func(f fstest.MapFS) {
				for _, loc := range []string{"en", "es"} {
					for _, p := range programs() {
						f[loc+"/"+string(p)+"/01-first.txt"] = file("Subject: {{.Bad}}\nSMS: {{.Worse}}\n\n{{.Worst}}\n")
					}
				}
			},
			wantN: 2 * 4 * 3,
		},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			fsys := validFS()
			tc.edit(fsys)
			lib, err := Load(fsys)
			if err == nil {
				t.Fatalf("Load succeeded, want an error")
			}
			if lib != nil {
				t.Errorf("Load returned a library with its error")
			}
			got := errLines(err)
			if tc.wantN > 0 {
				if len(got) != tc.wantN {
					t.Errorf("got %d problems, want %d:\n%v", len(got), tc.wantN, err)
				}
				return
			}
			if diff := cmp.Diff(tc.want, got); diff != "" {
				t.Errorf("problems (-want +got):\n%s", diff)
			}
		})
	}
}

// rendered is a body block run with sample data, for comparing.
type rendered struct {
	List  bool
	Items []string
}

func renderBody(t *testing.T, m *Message, v Vars) []rendered {
	t.Helper()
	var out []rendered
	for _, b := range m.Body {
		r := rendered{List: b.List}
		for _, it := range b.Items {
			s, err := Execute(it, v)
			if err != nil {
				t.Fatalf("Execute: %v", err)
			}
			r.Items = append(r.Items, s)
		}
		out = append(out, r)
	}
	return out
}

func TestBodyParsing(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name string
		body string
		vars Vars
		want []rendered
	}{
		{
			name: "paragraphs, wrapped lines joined",
			body: "First paragraph\nwrapped here.\n\n\nSecond.   \n",
			want: []rendered{{Items: []string{"First paragraph wrapped here."}}, {Items: []string{"Second."}}},
		},
		{
			name: "list items, continuation, list interrupting a paragraph",
			body: "Try one:\n- a walk\n- a call,\n  or a letter\n- a meal\n\nEnd.",
			want: []rendered{
				{Items: []string{"Try one:"}},
				{List: true, Items: []string{"a walk", "a call, or a letter", "a meal"}},
				{Items: []string{"End."}},
			},
		},
		{
			name: "two lists apart are two lists",
			body: "- a\n\n- b\n",
			want: []rendered{{List: true, Items: []string{"a"}}, {List: true, Items: []string{"b"}}},
		},
		{
			name: "optional goal folds away cleanly",
			body: "Hi {{.FirstName}}. {{if .Goal}}You said: {{.Goal}}.{{end}} From {{.Sender}}.",
			vars: Vars{FirstName: "Ana", Sender: "nudge"},
			want: []rendered{{Items: []string{"Hi Ana. From nudge."}}},
		},
		{
			name: "windows line endings and a byte order mark",
			body: "One\r\ntwo.\r\n\r\n- x\r\n",
			want: []rendered{{Items: []string{"One two."}}, {List: true, Items: []string{"x"}}},
		},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			fsys := validFS()
			fsys["en/gratitude/01-first.txt"] = file("\uFEFFSubject: s\r\nSMS: nudge\r\n\r\n" + tc.body)
			fsys["es/gratitude/01-first.txt"] = fsys["en/gratitude/01-first.txt"]
			lib, err := Load(fsys)
			if err != nil {
				t.Fatalf("Load: %v", err)
			}
			m, _ := lib.Pick(domain.Gratitude, "en", 0)
			if diff := cmp.Diff(tc.want, renderBody(t, m, tc.vars)); diff != "" {
				t.Errorf("body (-want +got):\n%s", diff)
			}
		})
	}
}

func TestOverrides(t *testing.T) {
	t.Parallel()
	write := func(t *testing.T, dir, name, text string) {
		t.Helper()
		p := filepath.Join(dir, filepath.FromSlash(name))
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(p, []byte(text), 0o644); err != nil {
			t.Fatal(err)
		}
	}

	t.Run("replaces a file", func(t *testing.T) {
		t.Parallel()
		dir := t.TempDir()
		write(t, dir, "en/gratitude/01-first.txt", "Subject: Our own words\nSMS: clinic: hi\n\nOurs.\n")
		write(t, dir, "README.md", "ignored")
		lib, err := LoadWithOverrides(validFS(), dir)
		if err != nil {
			t.Fatalf("LoadWithOverrides: %v", err)
		}
		m, _ := lib.Pick(domain.Gratitude, "en", 0)
		subject, _ := Execute(m.Subject, Vars{})
		if subject != "Our own words" || m.File != dir+"/en/gratitude/01-first.txt" {
			t.Errorf("overridden message: subject %q, file %q", subject, m.File)
		}
		m, _ = lib.Pick(domain.Gratitude, "es", 0)
		if subject, _ := Execute(m.Subject, Vars{}); subject != "es first" {
			t.Errorf("es subject = %q, want the base file's", subject)
		}
	})

	t.Run("adds a locale, which must be complete", func(t *testing.T) {
		t.Parallel()
		dir := t.TempDir()
		base := validFS()
		for p, f := range base {
			if after, ok := strings.CutPrefix(p, "es/"); ok && p != "es/system/welcome.txt" {
				write(t, dir, "pt-br/"+after, string(f.Data))
			}
		}
		_, err := LoadWithOverrides(base, dir)
		want := []string{"pt-br/system/welcome.txt: missing (en has en/system/welcome.txt)"}
		if diff := cmp.Diff(want, errLines(err)); diff != "" {
			t.Errorf("problems (-want +got):\n%s", diff)
		}
		write(t, dir, "pt-br/system/welcome.txt", "Subject: Bem-vindo\n\nOlá.\n")
		lib, err := LoadWithOverrides(base, dir)
		if err != nil {
			t.Fatalf("LoadWithOverrides: %v", err)
		}
		if m, _ := lib.System(Welcome, "pt-BR"); m.Locale != "pt-br" {
			t.Errorf("System(welcome, pt-BR) locale = %q", m.Locale)
		}
	})

	t.Run("validated like the rest, named by its path", func(t *testing.T) {
		t.Parallel()
		dir := t.TempDir()
		write(t, dir, "es/gratitude/01-first.txt", "Subject: s\nSMS: {{.Nombre}}\n\nCuerpo.\n")
		_, err := LoadWithOverrides(validFS(), dir)
		want := []string{dir + "/es/gratitude/01-first.txt:2: unknown field .Nombre (want .FirstName, .Goal, .Sender)"}
		if diff := cmp.Diff(want, errLines(err)); diff != "" {
			t.Errorf("problems (-want +got):\n%s", diff)
		}
	})

	t.Run("no directory", func(t *testing.T) {
		t.Parallel()
		if _, err := LoadWithOverrides(validFS(), filepath.Join(t.TempDir(), "nope")); !errors.Is(err, os.ErrNotExist) {
			t.Errorf("error = %v, want not exist", err)
		}
		if _, err := LoadWithOverrides(validFS(), ""); err != nil {
			t.Errorf("no overrides: %v", err)
		}
	})
}

func TestExecute(t *testing.T) {
	t.Parallel()
	fsys := validFS()
	fsys["en/gratitude/01-first.txt"] = file("Subject: {{.FirstName}},   {{if .Goal}}{{.Goal}}{{end}} from {{.Sender}}\nSMS: nudge\n\nx\n")
	lib, err := Load(fsys)
	if err != nil {
		t.Fatal(err)
	}
	m, _ := lib.Pick(domain.Gratitude, "en", 0)
	for _, tc := range []struct {
		v    Vars
		want string
	}{
		{Vars{FirstName: "Ana", Goal: "walk", Sender: "nudge"}, "Ana, walk from nudge"},
		{Vars{FirstName: "Ana", Sender: "nudge"}, "Ana, from nudge"},
	} {
		got, err := Execute(m.Subject, tc.v)
		if err != nil || got != tc.want {
			t.Errorf("Execute(%+v) = %q, %v; want %q", tc.v, got, err, tc.want)
		}
	}
}

// The real library: these pass once the copy is complete.

func TestEmbeddedLibraryLoads(t *testing.T) {
	t.Parallel()
	lib, err := Default()
	if err != nil {
		t.Fatalf("Default:\n%v", err)
	}
	if diff := cmp.Diff([]string{"en", "es"}, lib.Locales()); diff != "" {
		t.Errorf("Locales (-want +got):\n%s", diff)
	}
}

func TestEmbeddedSystemMessages(t *testing.T) {
	t.Parallel()
	lib, err := Default()
	if err != nil {
		t.Fatalf("the library does not load: %v", err)
	}
	for _, loc := range lib.Locales() {
		for _, name := range requiredSystem() {
			m, err := lib.System(name, loc)
			if err != nil || m.Locale != loc {
				t.Errorf("System(%s, %s) = %v, %v", name, loc, m, err)
				continue
			}
			if name == SMSConfirm {
				if m.SMS == nil {
					t.Errorf("%s: no SMS", m.File)
				}
			} else if m.Subject == nil || len(m.Body) == 0 {
				t.Errorf("%s: needs a subject and a body", m.File)
			}
		}
	}
}

func TestEmbeddedSeriesLengths(t *testing.T) {
	t.Parallel()
	lib, err := Default()
	if err != nil {
		t.Fatalf("the library does not load: %v", err)
	}
	least := map[domain.Program]int{
		domain.WeeklyCheckin:  52,
		domain.Gratitude:      52,
		domain.MonthlyReview:  12,
		domain.BetweenSession: 16,
	}
	for _, loc := range lib.Locales() {
		for p, n := range least {
			if got := len(lib.Series(p, loc)); got < n {
				t.Errorf("%s %s: %d messages, want at least %d", loc, p, got, n)
			}
		}
	}
}

func TestEmbeddedLocalesMatch(t *testing.T) {
	t.Parallel()
	names := func(loc string) []string {
		var out []string
		err := fsWalk(FS(), loc, func(rel string) { out = append(out, rel) })
		if err != nil {
			t.Fatal(err)
		}
		return out
	}
	if diff := cmp.Diff(names("en"), names("es")); diff != "" {
		t.Errorf("files in en and es differ (-en +es):\n%s", diff)
	}
}

// fsWalk calls fn with the path of every file below dir, relative to it.
func fsWalk(fsys fs.FS, dir string, fn func(rel string)) error {
	return fs.WalkDir(fsys, dir, func(p string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		fn(strings.TrimPrefix(p, dir+"/"))
		return nil
	})
}
