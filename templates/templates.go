// Package templates is nudge's copy library: every message a person can
// receive, one plain-text file per message, embedded in the binary and
// checked in full when it is loaded.
//
// # Layout
//
//	<locale>/<program>/<NN>-<slug>.txt   one message of a program's series; NN orders the series
//	<locale>/system/<name>.txt           a system message (confirm, welcome, …)
//
// Every locale has the same files as "en", which is the fallback for a locale
// the library does not have. Top-level files (a README) are ignored, and so
// are names starting with a dot or an underscore (editor and VCS droppings,
// which the embed directive leaves out too).
//
// # File format
//
//	Subject: {{.FirstName}}, who lit up your week?
//	SMS: nudge: Hi {{.FirstName}}. Think of one chat this week that felt easy.
//
//	First paragraph. A paragraph may be wrapped
//	over several lines; they are joined with a space.
//
//	- a list item ("- " lines next to each other form one list)
//	  an indented line continues the item
//	- another item
//
//	Last paragraph.
//
// Header lines (Subject:, SMS:) come first and end at the first blank line;
// the body follows. Program messages need all three parts. The system
// messages confirm, already-subscribed, welcome and unsubscribed need a
// Subject and a body (SMS optional); sms-confirm has only an SMS line. Any
// other system message needs an SMS line, or a Subject and a body, or all
// three.
//
// Placeholders are text/template actions over [Vars]: {{.FirstName}},
// {{.Goal}} (optional, so use it inside {{if .Goal}}…{{end}}) and
// {{.Sender}} (who the message is from: the service name, or the display
// name of the clinic that enrolled the person).
// Anything else is reported when the library is loaded, with the file and
// line, together with every other problem found.
//
// # Writing with the goal
//
// The goal is whoever the person said they would like to be closer to, as
// they typed it: "Ana", "my sister", "the neighbors on my street", "people
// at work", "my book club". Copy puts it where its number and gender do not
// matter and where it needs no article: "Think about {{.Goal}}: …", "With
// {{.Goal}} in mind, …" ("Piensa en {{.Goal}}: …", "Con {{.Goal}} en
// mente, …"). Never a verb right after it (is/are, es/son), never a pronoun
// pointing back at it (him, them, ella), never in quotes, never first in a
// sentence (it may start with a small letter), never "a" or "de" before it
// in Spanish (a group is not a person; "de el coro"). Nothing may presume
// the relationship is strained. The templates tests check every sentence
// that uses it against twenty real goals.
//
// # The weekly series
//
// Check-ins and gratitude prompts have 52 messages each: a year of weeks.
// Every one ends with a single question, and messages that ask about other
// people leave a way out for someone with no one in mind ("If no one comes
// to mind, …"). [WeeklyIndex] says which message goes out which week.
//
// # Overrides
//
// An operator can replace any file, or add a locale, with a directory of the
// same layout ([LoadWithOverrides], NUDGE_TEMPLATES_DIR). Replacement files
// are checked exactly like the embedded ones.
package templates

import (
	"bytes"
	"embed"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path"
	"reflect"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"text/template"
	"text/template/parse"
	"unicode/utf8"

	"github.com/nudgehq/nudge/internal/domain"
)

//go:embed en es
var files embed.FS

// FS returns the embedded copy library.
func FS() fs.FS { return files }

// Fallback is the locale used when a requested locale is not in the library.
const Fallback = "en"

// The system messages every library has. Other system messages may be added;
// these are required.
const (
	Confirm           = "confirm"            // double opt-in email
	AlreadySubscribed = "already-subscribed" // someone signed up again with a subscribed address
	Welcome           = "welcome"            // sent once the subscription is confirmed
	Unsubscribed      = "unsubscribed"       // the last message after an opt-out
	SMSConfirm        = "sms-confirm"        // double opt-in text: SMS only
)

// System messages for a clinic's clients, in the clinic's neutral wording.
// They are optional (an older override directory may lack them): the
// embedded library has both.
const (
	ClinicConfirm    = "clinic-confirm"     // double opt-in email to a client a clinic enrolled
	ClinicSMSConfirm = "clinic-sms-confirm" // double opt-in text to such a client
)

// GentleCheckin goes once, in place of a program message, to a person whose
// reply read as distress: it asks whether they want their messages back and
// leaves the choice with them. Optional, like the clinic messages.
const GentleCheckin = "gentle-checkin"

// requiredSystem lists the system messages the library must have, in the
// order problems about them are reported.
func requiredSystem() []string {
	return []string{Confirm, AlreadySubscribed, Welcome, Unsubscribed, SMSConfirm}
}

// systemDir is the directory of system messages inside a locale.
const systemDir = "system"

// Vars is the data a message's placeholders can use. It is the contract
// between the copy and the code: a template naming any other field fails to
// load.
type Vars struct {
	FirstName string // the person's first name, already cleaned up; may be empty
	// Goal is who they said they would like to be closer to, as they typed
	// it: a name ("Ana"), a relationship ("my sister"), a group ("people at
	// work") or not a person at all ("my book club"). May be empty. Copy puts
	// it where number and gender do not matter (see the package doc).
	Goal string
	// Sender is who the message is from: the service name, or the display
	// name of the person's clinic. Never empty when a message is rendered.
	Sender string
}

// sampleVars are executed once per template at load time, to catch what
// parsing alone does not (a wrong type, an undefined template).
func sampleVars() []Vars {
	return []Vars{
		{FirstName: "Sam", Goal: "my sister", Sender: "nudge"},
		{},
	}
}

// Message is one message of the library in one locale.
type Message struct {
	Program domain.Program // "" for system messages
	Name    string         // "03-walk" or "confirm"
	Locale  string
	Step    int    // 0-based position in its series; -1 for system messages
	File    string // where it came from, for error messages: "templates/en/…" when embedded, "<dir>/en/…" when overridden

	// Subject and SMS are nil when the message has no such part.
	Subject, SMS *template.Template
	// Body is the email body; empty for an SMS-only message.
	Body []Block
}

// Block is one block of an email body: a paragraph (List false, one item) or
// a list (List true, one template per item).
type Block struct {
	List  bool
	Items []*template.Template
}

// Execute runs one of a message's templates and returns its text with runs of
// white space (line breaks of a wrapped paragraph, the gap left by an empty
// {{if .Goal}}) folded into single spaces.
func Execute(t *template.Template, v Vars) (string, error) {
	var b strings.Builder
	if err := t.Execute(&b, v); err != nil {
		return "", err
	}
	return strings.Join(strings.Fields(b.String()), " "), nil
}

// Library is a loaded, validated copy library. It is immutable and safe for
// concurrent use.
type Library struct {
	locales []string
	series  map[string]map[domain.Program][]*Message // locale → program → ordered series
	system  map[string]map[string]*Message           // locale → name → message
}

// Default loads the embedded library.
func Default() (*Library, error) { return Load(FS()) }

// Load reads and validates every message in fsys. The error, if any, lists
// every problem found (errors.Join), each naming its file and, where there is
// one, its line.
func Load(fsys fs.FS) (*Library, error) {
	var problems []error
	set := make(fileSet)
	set.add(origin{fsys: fsys, prefix: displayPrefix(fsys)}, &problems)
	return build(set, problems)
}

// LoadWithOverrides loads base with the files in the directory dir laid over
// it: a file there replaces the file at the same path in base, and new files
// (a new locale, say) are added. The result is validated as a whole. An empty
// dir means no overrides.
func LoadWithOverrides(base fs.FS, dir string) (*Library, error) {
	if dir == "" {
		return Load(base)
	}
	st, err := os.Stat(dir)
	if err != nil {
		return nil, fmt.Errorf("template overrides: %w", err)
	}
	if !st.IsDir() {
		return nil, fmt.Errorf("template overrides: %s is not a directory", dir)
	}
	var problems []error
	set := make(fileSet)
	set.add(origin{fsys: base, prefix: displayPrefix(base)}, &problems)
	set.add(origin{fsys: os.DirFS(dir), prefix: strings.TrimSuffix(dir, "/") + "/"}, &problems)
	return build(set, problems)
}

// displayPrefix names the embedded library the way a developer finds it in
// the tree.
func displayPrefix(fsys fs.FS) string {
	if e, ok := fsys.(embed.FS); ok && e == files {
		return "templates/"
	}
	return ""
}

// Locales returns the locales the library has, sorted.
func (l *Library) Locales() []string { return slices.Clone(l.locales) }

// Match returns the library locale to use for locale: itself if the library
// has it, else its language ("es" for "es-MX"), else [Fallback].
func (l *Library) Match(locale string) string {
	locale = strings.ToLower(strings.ReplaceAll(strings.TrimSpace(locale), "_", "-"))
	if _, ok := l.system[locale]; ok {
		return locale
	}
	if lang, _, ok := strings.Cut(locale, "-"); ok {
		if _, ok := l.system[lang]; ok {
			return lang
		}
	}
	return Fallback
}

// Series returns the messages of program p in locale, in order. An unknown
// locale falls back as [Library.Match] says; an unknown program has none.
func (l *Library) Series(p domain.Program, locale string) []*Message {
	return slices.Clone(l.series[l.Match(locale)][p])
}

// Pick returns the message for a schedule's step (0 for the first message a
// person gets). Monthly reviews and between-session prompts take step modulo
// the length of the series. The weekly series (check-ins and gratitude) follow
// [WeeklyIndex], so that a weekly text never comes back a year later, in the
// same month as before.
func (l *Library) Pick(p domain.Program, locale string, step int64) (*Message, error) {
	s := l.series[l.Match(locale)][p]
	if len(s) == 0 {
		return nil, domain.Errorf(domain.ErrNotFound, "no messages for program %q", p)
	}
	n := int64(len(s))
	if p == domain.WeeklyCheckin || p == domain.Gratitude {
		return s[WeeklyIndex(step, n)], nil
	}
	return s[((step%n)+n)%n], nil
}

// WeeklyIndex is the position, in a weekly series of n messages, of the
// message sent at step (a negative step counts as 0). The rule:
//
//   - The first message is the opener: it goes out at step 0 and never again.
//   - The other m = n-1 messages come in passes of m weeks, pass after pass.
//     Odd passes (the first included) go in file order. Even passes start
//     half-way (at the message m/2 places further on, wrapping round), so a
//     text comes back either about half a year after it last came, or about
//     a year and a half after; never after a year, when it would land in the
//     same month as last time.
//
// With the library's 52 messages a week apart: steps 0–51 (the first year)
// are the 52 messages in order, none twice; the second year opens with the
// 26th of the 51 (message 27) and every text comes back 25, 26, 76 or 77
// weeks after its last time, so never in the same month of the year.
func WeeklyIndex(step, n int64) int {
	m := n - 1
	if step <= 0 || m <= 0 {
		return 0
	}
	q := (step - 1) % (2 * m)
	if q < m {
		return int(1 + q)
	}
	return int(1 + (q-m+m/2)%m)
}

// System returns the system message name in locale (falling back as
// [Library.Match] says).
func (l *Library) System(name, locale string) (*Message, error) {
	if m, ok := l.system[l.Match(locale)][name]; ok {
		return m, nil
	}
	return nil, domain.Errorf(domain.ErrNotFound, "no system message %q", name)
}

// Messages returns every message of every locale: for each locale in order,
// the series of each program, then the system messages by name. Tools that
// check or preview the whole library use it.
func (l *Library) Messages() []*Message {
	var all []*Message
	for _, loc := range l.locales {
		for _, p := range programs() {
			all = append(all, l.series[loc][p]...)
		}
		names := make([]string, 0, len(l.system[loc]))
		for n := range l.system[loc] {
			names = append(names, n)
		}
		slices.Sort(names)
		for _, n := range names {
			all = append(all, l.system[loc][n])
		}
	}
	return all
}

// programs lists every program, in a fixed order.
func programs() []domain.Program {
	return []domain.Program{domain.WeeklyCheckin, domain.Gratitude, domain.MonthlyReview, domain.BetweenSession}
}

// ---- collecting files ----

// origin is one file system the library is read from.
type origin struct {
	fsys   fs.FS
	prefix string // put before a path to name the file in messages
}

// fileSet maps a path within the library ("en/gratitude/01-x.txt") to where
// its current version comes from.
type fileSet map[string]origin

var (
	localeRE  = regexp.MustCompile(`^[a-z]{2,3}(-[a-z0-9]{2,8})*$`)
	stepRE    = regexp.MustCompile(`^([0-9]+)-[a-z0-9]+(-[a-z0-9]+)*\.txt$`)
	systemRE  = regexp.MustCompile(`^[a-z0-9]+(-[a-z0-9]+)*\.txt$`)
	headerRE  = regexp.MustCompile(`^([A-Za-z][A-Za-z0-9-]*):(.*)$`)
	columnRE  = regexp.MustCompile(`^([0-9]+):[0-9]+`)
	trimSpace = " \t"
)

// add walks o's locale directories and records every message file, reporting
// anything that does not fit the layout.
func (s fileSet) add(o origin, problems *[]error) {
	top, err := fs.ReadDir(o.fsys, ".")
	if err != nil {
		*problems = append(*problems, fmt.Errorf("%s: %w", strings.TrimSuffix(o.prefix, "/"), err))
		return
	}
	for _, e := range top {
		if hidden(e.Name()) || !e.IsDir() {
			continue
		}
		if !localeRE.MatchString(e.Name()) {
			*problems = append(*problems, fmt.Errorf("%s%s: not a locale directory (want a name like en, es or pt-br)", o.prefix, e.Name()))
			continue
		}
		err := fs.WalkDir(o.fsys, e.Name(), func(p string, d fs.DirEntry, err error) error {
			if err != nil {
				*problems = append(*problems, fmt.Errorf("%s%s: %w", o.prefix, p, err))
				return nil
			}
			if hidden(d.Name()) {
				if d.IsDir() {
					return fs.SkipDir
				}
				return nil
			}
			parts := strings.Split(p, "/")
			switch {
			case len(parts) == 1:
				return nil // the locale directory itself
			case len(parts) == 2 && d.IsDir():
				if parts[1] != systemDir && !domain.Program(parts[1]).Valid() {
					*problems = append(*problems, fmt.Errorf("%s%s: unknown program %q (want %s or %s)", o.prefix, p, parts[1], programList(), systemDir))
					return fs.SkipDir
				}
				return nil
			case len(parts) == 3 && !d.IsDir():
				re := stepRE
				if parts[1] == systemDir {
					re = systemRE
				}
				if !re.MatchString(parts[2]) {
					want := "NN-slug.txt, lower case"
					if parts[1] == systemDir {
						want = "name.txt, lower case"
					}
					*problems = append(*problems, fmt.Errorf("%s%s: unexpected file name (want %s)", o.prefix, p, want))
					return nil
				}
				s[p] = o
				return nil
			default:
				*problems = append(*problems, fmt.Errorf("%s%s: unexpected %s (want <locale>/<program>/NN-slug.txt or <locale>/system/name.txt)", o.prefix, p, kind(d)))
				if d.IsDir() {
					return fs.SkipDir
				}
				return nil
			}
		})
		if err != nil {
			*problems = append(*problems, fmt.Errorf("%s%s: %w", o.prefix, e.Name(), err))
		}
	}
}

func hidden(name string) bool { return strings.HasPrefix(name, ".") || strings.HasPrefix(name, "_") }

func kind(d fs.DirEntry) string {
	if d.IsDir() {
		return "directory"
	}
	return "file"
}

func programList() string {
	var names []string
	for _, p := range programs() {
		names = append(names, string(p))
	}
	return strings.Join(names, ", ")
}

// ---- building the library ----

// build parses every file of the set and checks the library as a whole.
func build(set fileSet, problems []error) (*Library, error) {
	lib := &Library{
		series: make(map[string]map[domain.Program][]*Message),
		system: make(map[string]map[string]*Message),
	}
	paths := make([]string, 0, len(set))
	for p := range set {
		paths = append(paths, p)
	}
	slices.Sort(paths)

	byLocale := make(map[string]map[string]bool) // locale → set of paths below it, without the locale
	for _, p := range paths {
		o := set[p]
		locale, rest, _ := strings.Cut(p, "/")
		group, file, _ := strings.Cut(rest, "/")
		if byLocale[locale] == nil {
			byLocale[locale] = make(map[string]bool)
			lib.locales = append(lib.locales, locale)
			lib.series[locale] = make(map[domain.Program][]*Message)
			lib.system[locale] = make(map[string]*Message)
		}
		byLocale[locale][rest] = true

		m := &Message{Locale: locale, Name: strings.TrimSuffix(file, ".txt"), Step: -1, File: o.prefix + p}
		if group != systemDir {
			m.Program = domain.Program(group)
		}
		data, err := fs.ReadFile(o.fsys, p)
		if err != nil {
			problems = append(problems, fmt.Errorf("%s: %w", m.File, err))
			continue
		}
		problems = append(problems, parseMessage(m, data)...)
		if m.Program == "" {
			lib.system[locale][m.Name] = m
		} else {
			lib.series[locale][m.Program] = append(lib.series[locale][m.Program], m)
		}
	}
	slices.Sort(lib.locales)

	// Series are ordered by their number; two files with one number would
	// make the order depend on the slug, so that is a problem.
	for _, loc := range lib.locales {
		for _, p := range programs() {
			s := lib.series[loc][p]
			for i, m := range s {
				m.Step = i
				if i > 0 && stepNumber(s[i-1].Name) == stepNumber(m.Name) {
					problems = append(problems, fmt.Errorf("%s: has the same number as %s; each message of a series needs its own", m.File, s[i-1].File))
				}
			}
		}
	}

	en, ok := byLocale[Fallback]
	if !ok {
		problems = append(problems, fmt.Errorf("no %q locale: it is the fallback every library needs", Fallback))
	} else {
		for _, p := range programs() {
			if len(lib.series[Fallback][p]) == 0 {
				problems = append(problems, fmt.Errorf("%s/%s: the program has no messages", Fallback, p))
			}
		}
		for _, name := range requiredSystem() {
			if !en[systemDir+"/"+name+".txt"] {
				problems = append(problems, fmt.Errorf("%s/%s/%s.txt: missing; every library needs it", Fallback, systemDir, name))
			}
		}
		// Every locale has the same files as the fallback, so a fallback
		// never silently switches language half-way through a series.
		for _, loc := range lib.locales {
			if loc == Fallback {
				continue
			}
			for _, rest := range sortedKeys(en) {
				if !byLocale[loc][rest] {
					prefix := set[Fallback+"/"+rest].prefix
					problems = append(problems, fmt.Errorf("%s%s/%s: missing (%s has %s%s/%s)", prefix, loc, rest, Fallback, prefix, Fallback, rest))
				}
			}
			for _, rest := range sortedKeys(byLocale[loc]) {
				if !en[rest] {
					problems = append(problems, fmt.Errorf("%s: not in %s (every locale has the same files as %s)", set[loc+"/"+rest].prefix+loc+"/"+rest, Fallback, Fallback))
				}
			}
		}
	}
	if err := errors.Join(problems...); err != nil {
		return nil, err
	}
	return lib, nil
}

func stepNumber(name string) int {
	n, _ := strconv.Atoi(name[:strings.IndexByte(name, '-')])
	return n
}

func sortedKeys(m map[string]bool) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	return keys
}

// ---- parsing one file ----

// parseMessage fills m from the file's contents and returns every problem
// found in it.
func parseMessage(m *Message, data []byte) []error {
	var problems []error
	fail := func(line int, format string, args ...any) {
		if line > 0 {
			problems = append(problems, fmt.Errorf("%s:%d: %s", m.File, line, fmt.Sprintf(format, args...)))
		} else {
			problems = append(problems, fmt.Errorf("%s: %s", m.File, fmt.Sprintf(format, args...)))
		}
	}
	if !utf8.Valid(data) {
		fail(0, "not valid UTF-8")
		return problems
	}
	text := strings.ReplaceAll(string(bytes.TrimPrefix(data, []byte("\uFEFF"))), "\r\n", "\n")
	lines := strings.Split(text, "\n")

	// Header lines, up to the first blank line.
	i := 0
	headerLine := map[string]int{}
	for ; i < len(lines); i++ {
		line := strings.TrimRight(lines[i], trimSpace)
		n := i + 1
		if line == "" {
			i++
			break
		}
		match := headerRE.FindStringSubmatch(line)
		if match == nil {
			fail(n, "expected a header line (Subject: or SMS:) or a blank line before the body")
			continue
		}
		key, value := match[1], strings.Trim(match[2], trimSpace)
		if key != "Subject" && key != "SMS" {
			fail(n, "unknown header %q (want Subject or SMS; is the blank line before the body missing?)", key)
			continue
		}
		if prev, dup := headerLine[key]; dup {
			fail(n, "second %s line (the first is on line %d)", key, prev)
			continue
		}
		headerLine[key] = n
		if value == "" {
			fail(n, "empty %s", key)
			continue
		}
		t, errs := parseTemplate(m.File, n, value)
		problems = append(problems, errs...)
		if key == "Subject" {
			m.Subject = t
		} else {
			m.SMS = t
		}
	}

	// Body: paragraphs and lists.
	var cur *Block
	bodySeen := false // there is body text, even if its templates failed
	var item []string // lines of the item being read
	itemStart := 0
	flush := func() {
		if item == nil {
			return
		}
		t, errs := parseTemplate(m.File, itemStart, strings.Join(item, "\n"))
		problems = append(problems, errs...)
		if t != nil {
			cur.Items = append(cur.Items, t)
		}
		item = nil
	}
	endBlock := func() {
		flush()
		if cur != nil && len(cur.Items) > 0 {
			m.Body = append(m.Body, *cur)
		}
		cur = nil
	}
	for ; i < len(lines); i++ {
		raw := strings.TrimRight(lines[i], trimSpace)
		n := i + 1
		line := strings.TrimLeft(raw, trimSpace)
		indented := len(line) < len(raw)
		if line != "" {
			bodySeen = true
		}
		switch {
		case line == "":
			endBlock()
		case !indented && (line == "-" || strings.HasPrefix(line, "- ")):
			if cur != nil && !cur.List {
				endBlock()
			}
			if cur == nil {
				cur = &Block{List: true}
			}
			flush()
			content := strings.TrimLeft(strings.TrimPrefix(line, "-"), trimSpace)
			if content == "" {
				fail(n, "empty list item")
				continue
			}
			item, itemStart = []string{content}, n
		case cur != nil && cur.List:
			if !indented || item == nil {
				fail(n, "text right after a list item: indent it to continue the item, or leave a blank line before a new paragraph")
				continue
			}
			item = append(item, line)
		case cur == nil:
			cur = &Block{}
			item, itemStart = []string{line}, n
		default:
			item = append(item, line)
		}
	}
	endBlock()

	// Which parts the message must (or must not) have.
	has := func(part string) bool {
		switch part {
		case "Subject":
			return headerLine["Subject"] > 0
		case "SMS":
			return headerLine["SMS"] > 0
		}
		return bodySeen
	}
	need := func(parts ...string) {
		for _, p := range parts {
			if !has(p) {
				if p == "body" {
					fail(0, "no body (a blank line after the headers, then the text)")
				} else {
					fail(0, "no %s line", p)
				}
			}
		}
	}
	switch {
	case m.Program != "":
		need("Subject", "SMS", "body")
	case m.Name == SMSConfirm:
		need("SMS")
		if has("Subject") {
			fail(headerLine["Subject"], "%s is a text message only: remove the Subject", SMSConfirm)
		}
		if has("body") {
			fail(0, "%s is a text message only: remove the body", SMSConfirm)
		}
	case slices.Contains(requiredSystem(), m.Name):
		need("Subject", "body")
	default:
		switch {
		case has("Subject") && !has("body"):
			need("body")
		case has("body") && !has("Subject"):
			need("Subject")
		case !has("Subject") && !has("SMS"):
			need("SMS")
		}
	}
	return problems
}

// parseTemplate parses one part of a message that starts on line first of
// file, and checks it against [Vars].
func parseTemplate(file string, first int, text string) (*template.Template, []error) {
	// A comment holding first-1 line breaks makes text/template count lines
	// as the file does, so its own messages carry the right line too.
	src := text
	if first > 1 {
		src = "{{/*" + strings.Repeat("\n", first-1) + "*/}}" + text
	}
	t, err := template.New(file).Option("missingkey=error").Parse(src)
	if err != nil {
		return nil, []error{errors.New(strings.TrimPrefix(err.Error(), "template: "))}
	}
	var problems []error
	checkFields(t.Tree, t.Root, true, func(n parse.Node, format string, args ...any) {
		problems = append(problems, fmt.Errorf("%s:%d: %s", file, lineOf(t.Tree, n), fmt.Sprintf(format, args...)))
	})
	if len(problems) > 0 {
		return nil, problems
	}
	for _, v := range sampleVars() {
		if err := t.Execute(discard{}, v); err != nil {
			// "template: file:line:col: executing …": the column counts from
			// the line-keeping comment, not the file, so drop it.
			msg := strings.TrimPrefix(strings.TrimPrefix(err.Error(), "template: "), file+":")
			return nil, []error{fmt.Errorf("%s:%s", file, columnRE.ReplaceAllString(msg, "$1"))}
		}
	}
	return t, nil
}

type discard struct{}

func (discard) Write(p []byte) (int, error) { return len(p), nil }

// lineOf returns the line of n, counted as in the file.
func lineOf(t *parse.Tree, n parse.Node) int {
	loc, _ := t.ErrorContext(n)
	// loc is "name:line:col"; the name may hold colons, so read from the end.
	parts := strings.Split(loc, ":")
	if len(parts) >= 3 {
		if line, err := strconv.Atoi(parts[len(parts)-2]); err == nil {
			return line
		}
	}
	return 0
}

// checkFields reports every field reference in the tree that [Vars] does not
// have. dotIsVars is false inside {{with}} and {{range}}, where dot is
// something else.
func checkFields(tree *parse.Tree, n parse.Node, dotIsVars bool, report func(parse.Node, string, ...any)) {
	if n == nil || reflect.ValueOf(n).IsNil() {
		return
	}
	switch n := n.(type) {
	case *parse.ListNode:
		for _, c := range n.Nodes {
			checkFields(tree, c, dotIsVars, report)
		}
	case *parse.ActionNode:
		checkFields(tree, n.Pipe, dotIsVars, report)
	case *parse.PipeNode:
		for _, c := range n.Cmds {
			checkFields(tree, c, dotIsVars, report)
		}
	case *parse.CommandNode:
		for _, a := range n.Args {
			checkFields(tree, a, dotIsVars, report)
		}
	case *parse.FieldNode:
		if !dotIsVars {
			report(n, "field .%s inside with or range, where dot is not the message data (use $.%s)", strings.Join(n.Ident, "."), n.Ident[0])
			return
		}
		checkIdent(n, n.Ident, report)
	case *parse.VariableNode:
		if len(n.Ident) > 1 && n.Ident[0] == "$" {
			checkIdent(n, n.Ident[1:], report)
		}
	case *parse.ChainNode:
		checkFields(tree, n.Node, dotIsVars, report)
		report(n, "field chains like (…).%s are not supported", strings.Join(n.Field, "."))
	case *parse.IfNode:
		checkFields(tree, n.Pipe, dotIsVars, report)
		checkFields(tree, n.List, dotIsVars, report)
		checkFields(tree, n.ElseList, dotIsVars, report)
	case *parse.WithNode:
		checkFields(tree, n.Pipe, dotIsVars, report)
		checkFields(tree, n.List, false, report)
		checkFields(tree, n.ElseList, dotIsVars, report)
	case *parse.RangeNode:
		checkFields(tree, n.Pipe, dotIsVars, report)
		checkFields(tree, n.List, false, report)
		checkFields(tree, n.ElseList, dotIsVars, report)
	case *parse.TemplateNode:
		checkFields(tree, n.Pipe, dotIsVars, report)
	}
}

func checkIdent(n parse.Node, ident []string, report func(parse.Node, string, ...any)) {
	f, ok := reflect.TypeFor[Vars]().FieldByName(ident[0])
	if !ok {
		report(n, "unknown field .%s (want %s)", ident[0], fieldList())
		return
	}
	if len(ident) > 1 {
		report(n, "field .%s has no field .%s (it is a %s)", ident[0], ident[1], f.Type)
	}
}

func fieldList() string {
	t := reflect.TypeFor[Vars]()
	names := make([]string, t.NumField())
	for i := range names {
		names[i] = "." + t.Field(i).Name
	}
	return strings.Join(names, ", ")
}

// String names the message by its place in the library, as
// "en/gratitude/03-x" or "es/system/confirm".
func (m *Message) String() string {
	if m.Program == "" {
		return path.Join(m.Locale, systemDir, m.Name)
	}
	return path.Join(m.Locale, string(m.Program), m.Name)
}
