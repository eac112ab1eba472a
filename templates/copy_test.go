package templates_test

import (
	"fmt"
	"regexp"
	"slices"
	"strings"
	"testing"
	"text/template"
	"unicode"
	"unicode/utf8"

	"github.com/nudgehq/nudge/internal/domain"
	"github.com/nudgehq/nudge/internal/render"
	"github.com/nudgehq/nudge/templates"
)

// These tests read the copy as an editor would: a year without repeats,
// one question at the end of every weekly prompt, Spanish punctuation,
// goals that fit any sentence, a way out for people with no one in mind,
// nothing on a lock screen that gives a clinic away, and texts short enough
// for what the code adds to them.

// weekly lists the programs that go out every week.
func weekly() []domain.Program { return []domain.Program{domain.WeeklyCheckin, domain.Gratitude} }

// yearLen is how many weekly messages a person gets in a year.
const yearLen = 52

func library(t *testing.T) *templates.Library {
	t.Helper()
	lib, err := templates.Default()
	if err != nil {
		t.Fatalf("the embedded library does not load:\n%v", err)
	}
	return lib
}

// texts is a message executed with v: its subject, SMS and every body
// item, in order; the body's items are also returned on their own.
func texts(t *testing.T, m *templates.Message, v templates.Vars) (subject, sms string, body []string) {
	t.Helper()
	run := func(tp *template.Template) string {
		if tp == nil {
			return ""
		}
		s, err := templates.Execute(tp, v)
		if err != nil {
			t.Fatalf("%s: %v", m.File, err)
		}
		return s
	}
	for _, b := range m.Body {
		for _, it := range b.Items {
			body = append(body, run(it))
		}
	}
	return run(m.Subject), run(m.SMS), body
}

var sampleVars = templates.Vars{FirstName: "Sam", Goal: "my sister", Sender: "nudge"}

func TestWeeklyYearHasNoRepeats(t *testing.T) {
	t.Parallel()
	lib := library(t)
	for _, loc := range lib.Locales() {
		for _, p := range weekly() {
			s := lib.Series(p, loc)
			if len(s) != yearLen {
				t.Errorf("%s %s: %d messages, want %d (one a week for a year)", loc, p, len(s), yearLen)
			}
			// Distinct texts, not only distinct files.
			seen := map[string]string{}
			for _, m := range s {
				subject, sms, body := texts(t, m, sampleVars)
				for _, part := range append([]string{subject, sms}, body[len(body)-1]) {
					if prev, dup := seen[part]; dup {
						t.Errorf("%s repeats %q from %s", m.File, part, prev)
					}
					seen[part] = m.File
				}
			}
			// A subscriber's first year, as Pick hands it out.
			got := map[*templates.Message]int64{}
			for step := int64(0); step < yearLen; step++ {
				m, err := lib.Pick(p, loc, step)
				if err != nil {
					t.Fatal(err)
				}
				if prev, dup := got[m]; dup {
					t.Errorf("%s %s: weeks %d and %d both get %s", loc, p, prev+1, step+1, m)
				}
				got[m] = step
			}
			opener := s[0]
			for step := int64(1); step < 5*yearLen; step++ {
				if m, _ := lib.Pick(p, loc, step); m == opener {
					t.Errorf("%s %s: the opener %s comes again at step %d", loc, p, opener, step)
				}
			}
		}
	}
}

// quoted matches text in straight quotes: an example of what to say, not
// the message's own question.
var quoted = regexp.MustCompile(`"[^"]*"`)

func TestWeeklyEndsWithOneQuestion(t *testing.T) {
	t.Parallel()
	lib := library(t)
	for _, loc := range lib.Locales() {
		for _, p := range weekly() {
			for _, m := range lib.Series(p, loc) {
				for _, v := range []templates.Vars{sampleVars, {FirstName: "Sam", Sender: "nudge"}} {
					_, sms, body := texts(t, m, v)
					all := strings.Join(body, " ")
					for _, part := range []struct{ name, text string }{{"SMS", sms}, {"body", all}} {
						own := quoted.ReplaceAllString(part.text, "")
						if !strings.HasSuffix(part.text, "?") {
							t.Errorf("%s (goal %q): the %s does not end with a question: …%q", m.File, v.Goal, part.name, tail(part.text))
						}
						if n := strings.Count(own, "?"); n != 1 {
							t.Errorf("%s (goal %q): the %s asks %d questions outside quotes, want exactly one, at the end", m.File, v.Goal, part.name, n)
						}
					}
				}
			}
		}
	}
}

func tail(s string) string {
	if r := []rune(s); len(r) > 60 {
		return string(r[len(r)-60:])
	}
	return s
}

// TestSpanishOpeningMarks checks that every Spanish question and
// exclamation opens with ¿ or ¡ in the same sentence, and that English
// has none.
func TestSpanishOpeningMarks(t *testing.T) {
	t.Parallel()
	lib := library(t)
	for _, m := range lib.Messages() {
		subject, sms, body := texts(t, m, sampleVars)
		for _, s := range append([]string{subject, sms}, body...) {
			if m.Locale == "es" {
				if err := pairedMarks(s); err != nil {
					t.Errorf("%s: %v in %q", m.File, err, s)
				}
			} else if strings.ContainsAny(s, "¿¡") {
				t.Errorf("%s: Spanish marks in English: %q", m.File, s)
			}
		}
	}
}

// pairedMarks reports a ? without a ¿ before it in the same sentence (or an
// ! without ¡), or an opening mark that is never closed.
func pairedMarks(s string) error {
	open := map[rune]int{'?': 0, '!': 0}
	opener := map[rune]rune{'¿': '?', '¡': '!'}
	for _, r := range s {
		switch r {
		case '¿', '¡':
			open[opener[r]]++
		case '?', '!':
			if open[r] == 0 {
				return fmt.Errorf("%q with no opening mark before it", r)
			}
			open[r]--
		case '.':
			if open['?'] > 0 || open['!'] > 0 {
				return fmt.Errorf("a sentence ends with a question or exclamation still open")
			}
		}
	}
	if open['?'] > 0 || open['!'] > 0 {
		return fmt.Errorf("an opening mark is never closed")
	}
	return nil
}

func TestPairedMarksDetects(t *testing.T) {
	t.Parallel()
	for s, ok := range map[string]bool{
		"¿Cómo estás? ¡Qué bien!":            true,
		"Hola, Sam: ¿qué tal?":               true,
		"Cómo estás?":                        false,
		"¿Cómo estás. Bien?":                 false,
		"¡Hola":                              false,
		"Dijiste: ¿vienes? y luego ¿cuándo?": true,
	} {
		if err := pairedMarks(s); (err == nil) != ok {
			t.Errorf("pairedMarks(%q) = %v, want ok %v", s, err, ok)
		}
	}
}

func TestGratitudeOpeningsDiffer(t *testing.T) {
	t.Parallel()
	lib := library(t)
	v := templates.Vars{FirstName: "Sam", Sender: "nudge"}
	for _, loc := range lib.Locales() {
		seen := map[string]string{}
		for _, m := range lib.Series(domain.Gratitude, loc) {
			_, sms, body := texts(t, m, v)
			for _, part := range []struct{ name, text string }{{"SMS", sms}, {"email", strings.Join(body, " ")}} {
				first := firstWords(part.text, 3)
				key := part.name + ": " + first
				if prev, dup := seen[key]; dup {
					t.Errorf("%s and %s: the %s opens with the same three words %q", prev, m.File, part.name, first)
				}
				seen[key] = m.File
			}
		}
	}
}

// greeting matches how a message opens before its own first words:
// "nudge: Hi Sam.", "Hi Sam,", "nudge: Hola, Sam.", "Hola, Sam:".
var greeting = regexp.MustCompile(`^(nudge: )?(Hi|Hola,) Sam[.,:] *`)

// firstWords returns the first n words of s after its greeting, lower case,
// without punctuation.
func firstWords(s string, n int) string {
	s = greeting.ReplaceAllString(s, "")
	words := strings.Fields(strings.Map(func(r rune) rune {
		if strings.ContainsRune(`.,:;!?¿¡"'`, r) {
			return -1
		}
		return r
	}, strings.ToLower(s)))
	return strings.Join(words[:min(n, len(words))], " ")
}

// goals are what people type in the goal field: names, relationships,
// groups and things that are not people, in both languages.
var goals = map[string][]string{
	"en": {
		"Ana", "José", "Grandma", "my sister", "my dad", "my best friend", "my son", "my partner",
		"the neighbors on my street", "my neighbors", "people at work", "my coworkers",
		"my kids", "friends from college", "my book club", "my running group", "the choir",
		"church friends", "my old roommate", "new people in town",
	},
	"es": {
		"Ana", "José", "la abuela", "mi hermana", "mi papá", "mi mejor amiga", "mi hijo", "mi pareja",
		"los vecinos de mi calle", "mis vecinos", "la gente del trabajo", "mis compañeras de trabajo",
		"mis hijos", "amistades de la universidad", "mi club de lectura", "mi grupo de running",
		"el coro", "la gente de la iglesia", "mi excompañero de piso", "gente nueva en la ciudad",
	},
}

// goalRules are the words that cannot stand next to the goal, because they
// assume its number or gender, or because the goal is not a noun there.
type goalRules struct {
	before   []string // a determiner or a preposition that contracts ("de el")
	after    []string // a verb that agrees with the goal
	pronouns []string // words in the rest of the sentence that point back at the goal
}

var rules = map[string]goalRules{
	"en": {
		before:   []string{"the", "a", "an", "your", "my", "this", "that", "these", "those", "our"},
		after:    []string{"is", "are", "was", "were", "has", "have", "does", "do", "seems", "seem", "feels", "feel", "comes", "come", "needs", "need", "wants", "want", "likes", "like", "knows", "know", "lives", "live"},
		pronouns: []string{"he", "she", "him", "her", "his", "hers", "they", "them", "their", "it", "its"},
	},
	"es": {
		before:   []string{"el", "la", "los", "las", "un", "una", "unos", "unas", "tu", "tus", "mi", "mis", "su", "sus", "este", "esta", "a", "de", "al", "del"},
		after:    []string{"es", "son", "está", "están", "fue", "fueron", "era", "eran", "ha", "han", "tiene", "tienen", "parece", "parecen", "quiere", "quieren", "necesita", "necesitan", "vive", "viven"},
		pronouns: []string{"él", "ella", "ellos", "ellas"},
	},
}

// goalProblem checks every place goal appears in s against the locale's
// rules and returns the first problem, or "".
func goalProblem(s, goal, locale string) string {
	r := rules[locale]
	found := false
	for i := 0; ; {
		j := strings.Index(s[i:], goal)
		if j < 0 {
			break
		}
		found = true
		start, end := i+j, i+j+len(goal)
		i = end
		before, after := s[:start], s[end:]
		if strings.HasSuffix(before, `"`) || strings.HasPrefix(after, `"`) {
			return "the goal is in quotes instead of in the sentence"
		}
		last, _ := utf8.DecodeLastRuneInString(strings.TrimRight(before, " "))
		if strings.TrimSpace(before) == "" || strings.ContainsRune(".!?¿¡", last) {
			return "the goal opens a sentence (it may start with a small letter)"
		}
		if w := lastWord(before); slices.Contains(r.before, w) {
			return fmt.Sprintf("%q right before the goal", w)
		}
		if w := firstWord(after); slices.Contains(r.after, w) {
			return fmt.Sprintf("%q right after the goal agrees with one number", w)
		}
		sentence := after
		if k := strings.IndexAny(sentence, ".!?"); k >= 0 {
			sentence = sentence[:k]
		}
		for _, w := range words(sentence) {
			if slices.Contains(r.pronouns, w) {
				return fmt.Sprintf("%q later in the sentence points back at the goal", w)
			}
		}
	}
	if !found {
		return "the goal is not in the text"
	}
	return ""
}

func words(s string) []string {
	return strings.FieldsFunc(strings.ToLower(s), func(r rune) bool {
		return !unicode.IsLetter(r) && r != '\''
	})
}

// lastWord is the word right before the end of s, or "" when punctuation
// comes between them.
func lastWord(s string) string {
	s = strings.TrimRight(s, " ")
	if r, _ := utf8.DecodeLastRuneInString(s); !unicode.IsLetter(r) {
		return ""
	}
	w := words(s)
	return w[len(w)-1]
}

// firstWord is the word right after the start of s, or "" when punctuation
// comes first.
func firstWord(s string) string {
	s = strings.TrimLeft(s, " ")
	if r, _ := utf8.DecodeRuneInString(s); !unicode.IsLetter(r) {
		return ""
	}
	return words(s)[0]
}

func TestGoalFitsEverySentence(t *testing.T) {
	t.Parallel()
	lib := library(t)
	using := 0
	for _, m := range lib.Messages() {
		goalFree := templates.Vars{FirstName: "Sam", Sender: "nudge"}
		subject0, sms0, body0 := texts(t, m, goalFree)
		without := strings.Join(append([]string{subject0, sms0}, body0...), "\n")
		usesGoal := false
		for _, g := range goals[m.Locale] {
			v := templates.Vars{FirstName: "Sam", Goal: g, Sender: "nudge"}
			subject, sms, body := texts(t, m, v)
			for _, s := range append([]string{subject, sms}, body...) {
				if !strings.Contains(s, g) {
					continue
				}
				usesGoal = true
				// Judge only the sentence the goal adds.
				if p := goalProblem(s, g, m.Locale); p != "" {
					t.Errorf("%s, goal %q: %s: %q", m.File, g, p, s)
				}
			}
		}
		if usesGoal {
			using++
			if strings.Contains(without, "  ") || strings.Contains(without, " .") {
				t.Errorf("%s: without a goal the text has a hole: %q", m.File, without)
			}
		}
	}
	if using < 8 {
		t.Errorf("%d messages use the goal; the library should use it in a good handful", using)
	}
}

// TestGoalCheckDetects makes sure the grammar check can fail.
func TestGoalCheckDetects(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		locale, text, goal string
		ok                 bool
	}{
		{"en", "Think about my neighbors: a small plan could suit you all.", "my neighbors", true},
		{"en", "With people at work in mind, send a note.", "people at work", true},
		{"en", "Maybe my sister is the right person.", "my sister", false},
		{"en", "Ask the my book club to help.", "my book club", false},
		{"en", `If "Ana" comes to mind, start there.`, "Ana", false},
		{"en", "Think about my dad and call him.", "my dad", false},
		{"en", "Hi Sam. my sister could help.", "my sister", false},
		{"es", "Piensa en mis vecinos: un plan pequeño puede servir.", "mis vecinos", true},
		{"es", "Si mi hermana es la persona indicada, empieza ahí.", "mi hermana", false},
		{"es", "Pregúntale a el coro.", "el coro", false},
		{"es", "Con mi club de lectura en mente, escríbele a ella.", "mi club de lectura", false},
	} {
		if p := goalProblem(tc.text, tc.goal, tc.locale); (p == "") != tc.ok {
			t.Errorf("goalProblem(%q, %q) = %q, want ok %v", tc.text, tc.goal, p, tc.ok)
		}
	}
}

// asksAboutPeople matches a closing question about a person.
var asksAboutPeople = map[string]*regexp.Regexp{
	"en": regexp.MustCompile(`(?i)\b(who|whom|someone|anyone|somebody|person|people|friend|neighbor|coworker)\b`),
	"es": regexp.MustCompile(`(?i)(quién|quiénes|alguien|persona|gente|amistad|vecin|compañer)`),
}

// wayOut matches the line that lets someone with no one in mind answer too.
var wayOut = map[string]*regexp.Regexp{
	"en": regexp.MustCompile(`(?i)\b(no one|nobody|if nothing|if none)\b`),
	"es": regexp.MustCompile(`(?i)\b(nadie|si no se te ocurre)\b`),
}

func TestWayOutForTheIsolated(t *testing.T) {
	t.Parallel()
	lib := library(t)
	for _, m := range lib.Messages() {
		if m.Program != domain.WeeklyCheckin && m.Program != domain.Gratitude {
			continue
		}
		_, _, body := texts(t, m, templates.Vars{FirstName: "Sam", Sender: "nudge"})
		question := body[len(body)-1]
		if asksAboutPeople[m.Locale].MatchString(question) && !wayOut[m.Locale].MatchString(strings.Join(body, " ")) {
			t.Errorf("%s asks about other people (%q) with no way out for someone who has no one in mind", m.File, question)
		}
	}
}

// lockScreen matches words that give away care on a lock screen.
var lockScreen = regexp.MustCompile(`(?i)(therap|session|clinic|counsel|terap|sesi[oó]n|cl[ií]nica|psic[oó]log|psycholog)`)

func TestLockScreensSayNothingOfCare(t *testing.T) {
	t.Parallel()
	lib := library(t)
	// Two system texts are worded elsewhere, by the clinic onboarding.
	notOurs := []string{templates.SMSConfirm, templates.ClinicSMSConfirm}
	checked := 0
	for _, m := range lib.Messages() {
		if m.Program != domain.BetweenSession && (m.Program != "" || slices.Contains(notOurs, m.Name)) {
			continue
		}
		checked++
		for _, v := range []templates.Vars{sampleVars, {Sender: "Dr. Lee"}} {
			subject, sms, body := texts(t, m, v)
			for _, s := range append([]string{subject, sms}, body...) {
				if w := lockScreen.FindString(s); w != "" {
					t.Errorf("%s: %q gives away care on a lock screen: %q", m.File, w, s)
				}
			}
		}
	}
	if checked < 2*(16+5) {
		t.Errorf("checked %d messages; want every between-session and system message in both locales", checked)
	}
}

// british lists spellings and words that are not US English.
var british = regexp.MustCompile(`(?i)\b(neighbour\w*|colour\w*|favour\w*|centre\w*|(practis|organis|realis|recognis|apologis|energis)(e|ed|es|ing)|bins|biscuits?|mum|queue\w*|fortnight|whilst|afterwards|towards|full on|match)\b`)

func TestUSEnglish(t *testing.T) {
	t.Parallel()
	lib := library(t)
	for _, m := range lib.Messages() {
		if m.Locale != "en" {
			continue
		}
		subject, sms, body := texts(t, m, sampleVars)
		for _, s := range append([]string{subject, sms}, body...) {
			if w := british.FindString(s); w != "" {
				t.Errorf("%s: %q is not US English: %q", m.File, w, s)
			}
		}
	}
}

// smsHeadroom is room left in every text for what code adds after the copy:
// the invitation to rate the week (about 55 characters) and a little more.
const smsHeadroom = 60

// TestSMSFitsWithLongestNameAndGoal renders every text with the longest
// first name and goal the sign-up form takes and the opt-out footer, and
// checks that the name and goal were kept and that smsHeadroom more
// characters still fit in the renderer's segment limit.
func TestSMSFitsWithLongestNameAndGoal(t *testing.T) {
	t.Parallel()
	lib := library(t)
	r := render.New(lib, render.Options{ServiceName: "nudge", PostalAddress: "nudge, 1 Main St, Springfield", CrisisLine: render.DefaultCrisisLines()})
	name := pad("Maximiliana-Alejandra", render.MaxNameLen)
	goal := pad("the neighbors on my street and friends from my book club", domain.GoalMaxLen)
	headroom := strings.Repeat("x", smsHeadroom)
	checked := 0
	for _, m := range lib.Messages() {
		if m.SMS == nil {
			continue
		}
		s, err := r.SMS(m, render.Data{FirstName: name, Goal: goal}, render.FooterOptOut)
		if err != nil {
			t.Errorf("%s: %v", m.File, err)
			continue
		}
		checked++
		if strings.Contains(m.SMS.Root.String(), ".FirstName") && !strings.Contains(s, name) {
			t.Errorf("%s: the name was dropped to make the text fit: %q", m.File, s)
		}
		if strings.Contains(m.SMS.Root.String(), ".Goal") && !strings.Contains(s, goal) {
			t.Errorf("%s: the goal was dropped to make the text fit: %q", m.File, s)
		}
		if n, _ := render.GSM7Segments(s + headroom); n > render.MaxSMSSegments {
			t.Errorf("%s: %d segments with %d characters of headroom, at most %d: %d characters now: %q",
				m.File, n, smsHeadroom, render.MaxSMSSegments, len([]rune(s)), s)
		}
		// A clinic's texts get no rating invitation, but come from a
		// display name of up to MaxSenderLen characters: they still fit,
		// name and all.
		if m.Program == domain.BetweenSession {
			s, err := r.SMS(m, render.Data{FirstName: name, Goal: goal, Sender: strings.Repeat("N", render.MaxSenderLen)}, render.FooterOptOut)
			if err != nil || !strings.Contains(s, name) {
				t.Errorf("%s from the longest sender: %q, %v; want it to fit with the name", m.File, s, err)
			}
		}
	}
	if checked < 200 {
		t.Errorf("checked %d texts; the loop missed some", checked)
	}
}

// pad lengthens s with letters to exactly n characters.
func pad(s string, n int) string {
	for len([]rune(s)) < n {
		s += "a"
	}
	return string([]rune(s)[:n])
}
