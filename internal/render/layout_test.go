package render

import (
	"html/template"
	"os"
	"strings"
	"testing"

	"github.com/nudgehq/nudge/templates"
)

// layoutTemplate is the layout as an html/template: the readable reference
// writeLayout must match byte for byte.
func layoutTemplate(t testing.TB) *template.Template {
	t.Helper()
	src, err := os.ReadFile("testdata/layout.html")
	if err != nil {
		t.Fatal(err)
	}
	return template.Must(template.New("layout.html").Parse(string(src)))
}

// matchesTemplate fails t when writeLayout writes p differently from the
// reference template.
func matchesTemplate(t *testing.T, tmpl *template.Template, name string, p page) {
	t.Helper()
	var want strings.Builder
	if err := tmpl.Execute(&want, p); err != nil {
		t.Fatalf("%s: template: %v", name, err)
	}
	var got strings.Builder
	writeLayout(&got, &p)
	if got.String() != want.String() {
		g, w := got.String(), want.String()
		i := 0
		for i < len(g) && i < len(w) && g[i] == w[i] {
			i++
		}
		t.Errorf("%s: writeLayout differs from testdata/layout.html at byte %d:\n got …%q\nwant …%q", name, i, around(g, i), around(w, i))
	}
}

func around(s string, i int) string {
	return s[max(0, i-40):min(len(s), i+60)]
}

// hostile is text that exercises every escape: markup, quotes, "+", NUL,
// entities, non-ASCII and invalid UTF-8.
const hostile = "Sam <b>&amp;</b> \"quoted\" 'single' 1+1 \x00 ¿Qué tal? 💬 \xff\xfe end"

// layoutPages are pages covering every branch of the layout, with ordinary
// and hostile values.
func layoutPages() map[string]page {
	full := page{
		Lang:    "es",
		Subject: "¿Cómo estuvo tu semana?",
		Blocks: []block{
			{Items: []string{"Hola, Sam:"}},
			{List: true, Items: []string{"one", "two & three"}},
			{Items: []string{"¿A quién llamarás?"}},
		},
		Action: "https://nudge.example/confirm/abc?x=1&y=2", ActionLabel: "Confirm", ButtonHint: "Or open this link:",
		Manage: "https://nudge.example/manage/t", ManageLabel: "Manage",
		Unsubscribe: "https://nudge.example/u/t", UnsubscribeLabel: "Unsubscribe",
		SignOff: []string{"Your care team", "Clinic"},
		Address: []string{"1 Main St", "Springfield"},
		Crisis:  "Call 988.",
		Invite: &invitation{
			Question: "How connected did you feel?", Hint: "Choose one:",
			Scores: []answerLink{
				{URL: "https://nudge.example/a/1", Label: "1 – not at all"},
				{URL: "https://nudge.example/a/2", Label: "2"},
				{URL: "https://nudge.example/a/3", Label: "3"},
				{URL: "https://nudge.example/a/4", Label: "4"},
				{URL: "https://nudge.example/a/5", Label: "5 – very"},
			},
			Note: answerLink{URL: "https://nudge.example/a/n", Label: "or write a line back"},
		},
		Month: &monthView{
			Heading: "Your month", Lines: []string{"3 of 4 answered", "average 3.5"},
			Chart: &chartView{Caption: "Weeks", WeekHead: "Week", ScoreHead: "Score", Rows: []chartRow{
				{Week: "Nov 2", Width: 64, Value: "4"},
				{Week: "Nov 9", Width: 0, Value: "no answer"},
			}},
		},
	}
	minimal := page{
		Lang: "en", Subject: "Hi", Blocks: []block{{Items: []string{"Hello."}}},
		Manage: "https://n.example/m", ManageLabel: "Manage", Unsubscribe: "https://n.example/u", UnsubscribeLabel: "Unsubscribe",
	}
	lineOnly := minimal
	lineOnly.Invite = &invitation{Question: "Who are you grateful for?", Note: answerLink{URL: "https://n.example/a/n", Label: "Write a line back"}}
	monthNoChart := minimal
	monthNoChart.Month = &monthView{Heading: "Your month", Lines: []string{"No answers this month."}}
	scoresNoNote := minimal
	scoresNoNote.Invite = &invitation{Question: "Q", Hint: "H", Scores: full.Invite.Scores}

	bad := full
	bad.Lang = hostile
	bad.Subject = hostile
	bad.Blocks = []block{{Items: []string{hostile}}, {List: true, Items: []string{hostile, hostile}}}
	bad.ActionLabel, bad.ButtonHint, bad.ManageLabel, bad.UnsubscribeLabel, bad.Crisis = hostile, hostile, hostile, hostile, hostile
	bad.SignOff = []string{hostile, hostile}
	bad.Address = []string{hostile}
	bad.Action = "https://nudge.example/p a t h/ü?q=a b&c='d'+e%zz%41\"<>" + "\x00"
	bad.Manage = "javascript:alert(1)"
	bad.Unsubscribe = "JavaScript:alert(1)"
	bad.Invite = &invitation{Question: hostile, Hint: hostile, Scores: []answerLink{
		{URL: "data:text/html,<b>x</b>", Label: hostile},
		{URL: "mailto:a@b.example?subject=a b", Label: hostile},
		{URL: "/relative/path?x=<y>", Label: hostile},
		{URL: "HTTPS://EXAMPLE.COM/%7e", Label: hostile},
		{URL: "//host/x:y", Label: hostile},
	}, Note: answerLink{URL: "https://a.example/n?x=~!#$&*+,/:;=?@[]-._", Label: hostile}}
	bad.Month = &monthView{Heading: hostile, Lines: []string{hostile}, Chart: &chartView{Caption: hostile, WeekHead: hostile, ScoreHead: hostile,
		Rows: []chartRow{{Week: hostile, Width: 80, Value: hostile}, {Week: hostile, Value: hostile}}}}

	return map[string]page{"full": full, "minimal": minimal, "line-only": lineOnly, "month-no-chart": monthNoChart, "scores-no-note": scoresNoNote, "hostile": bad}
}

func TestLayoutMatchesTheReferenceTemplate(t *testing.T) {
	tmpl := layoutTemplate(t)
	for name, p := range layoutPages() {
		matchesTemplate(t, tmpl, name, p)
	}
}

// FuzzLayoutMatchesTheReferenceTemplate puts arbitrary text and links in
// every field of a full page.
func FuzzLayoutMatchesTheReferenceTemplate(f *testing.F) {
	f.Add("Sam", "https://nudge.example/a?b=c")
	f.Add(hostile, "javascript:x")
	f.Add("\x00+&", "%41%zz é")
	tmpl := layoutTemplate(f)
	f.Fuzz(func(t *testing.T, text, link string) {
		p := layoutPages()["full"]
		p.Subject, p.Lang, p.Crisis, p.ActionLabel = text, text, text, text
		p.Blocks = []block{{Items: []string{text}}, {List: true, Items: []string{text}}}
		p.Action, p.Manage, p.Unsubscribe = link, link, link
		p.Invite.Scores[2] = answerLink{URL: link, Label: text}
		p.Invite.Note = answerLink{URL: link, Label: text}
		p.Month.Chart.Rows[0].Value = text
		matchesTemplate(t, tmpl, "fuzz", p)
	})
}

// TestLibraryEmailsMatchTheReferenceTemplate renders every message of the
// library, in both locales, with an invitation and a month where they take
// one, and holds each HTML part to the reference template's output for the
// same page.
func TestLibraryEmailsMatchTheReferenceTemplate(t *testing.T) {
	tmpl := layoutTemplate(t)
	lib, err := templates.Default()
	if err != nil {
		t.Fatal(err)
	}
	r := testRenderer(lib)
	var captured []page
	r.onPage = func(p page) { captured = append(captured, p) }
	people := []Data{
		{FirstName: "Alexandra", Goal: "the neighbors on my street", InviteAnswer: true, Month: monthOf(4, []int{2, 4, 5}, true)},
		{FirstName: hostile, Goal: hostile, InviteAnswer: true, Sender: hostile, SignOff: hostile, ClinicCrisis: hostile, WelcomeBack: true},
		{},
	}
	links := answerTestLinks
	for _, m := range lib.Messages() {
		if m.Subject == nil || len(m.Body) == 0 {
			continue
		}
		for _, d := range people {
			if _, err := r.Email(m, d, links); err != nil {
				t.Fatalf("%s: %v", m.File, err)
			}
		}
		if _, err := r.TextEmail(hostile, people[1], links); err != nil {
			t.Fatal(err)
		}
	}
	if len(captured) < 100 {
		t.Fatalf("only %d pages rendered", len(captured))
	}
	for i, p := range captured {
		matchesTemplate(t, tmpl, p.Subject, p)
		if t.Failed() && i > 5 {
			return
		}
	}
}
