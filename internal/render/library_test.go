package render

import (
	"html"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"unicode/utf8"

	"github.com/nudgehq/nudge/internal/domain"
	"github.com/nudgehq/nudge/templates"
)

// libraryBase is the base URL every link of TestEveryMessage must start with.
const libraryBase = "https://nudge.example"

// maxSubjectLen is the longest subject, in characters, that still shows
// whole in most inbox lists.
const maxSubjectLen = 69

var (
	// anyURL finds things that look like links in text, HTML or an SMS.
	anyURL = regexp.MustCompile(`(?i)\b[a-z][a-z0-9+.-]*://[^\s"'<>]*|\bwww\.[^\s"'<>]+|\bmailto:[^\s"'<>]+`)
	// linkAttr finds the attributes of the HTML part that hold a URL.
	linkAttr = regexp.MustCompile(`(?i)\s(href|src|action|background|poster|cite)\s*=\s*("[^"]*"|'[^']*'|[^\s>]+)`)
)

// TestEveryMessage renders every message of the embedded library, in every
// locale, on every channel it has, for a person with a name and a goal and
// for one with neither, and checks what a subscriber would see.
func TestEveryMessage(t *testing.T) {
	t.Parallel()
	lib, err := templates.Default()
	if err != nil {
		t.Fatalf("the embedded library does not parse:\n%v", err)
	}
	r := testRenderer(lib)
	addressLines := addressLines(r.opts.PostalAddress)
	if len(addressLines) < 2 {
		t.Fatalf("test renderer's postal address %q: want several lines to check", r.opts.PostalAddress)
	}
	people := []struct {
		name string
		data Data
	}{
		{"with name and goal", Data{FirstName: "Alexandra", Goal: "call my sister more often", Week: 12}},
		{"without name or goal", Data{Week: 1}},
	}
	confirmLinks := Links{
		Manage:      libraryBase + "/manage/tok-m",
		Unsubscribe: libraryBase + "/unsubscribe/tok-u",
		Action:      libraryBase + "/confirm/tok-c",
		ActionLabel: "Yes, send me these",
	}

	emails, texts := 0, 0
	for _, m := range lib.Messages() {
		t.Run(m.String(), func(t *testing.T) {
			l := Links{Manage: confirmLinks.Manage, Unsubscribe: confirmLinks.Unsubscribe}
			if m.Program == "" && m.Name == templates.Confirm {
				l = confirmLinks
			}
			lb := labelsFor(m.Locale)
			crisis := DefaultCrisisLines()[m.Locale]
			if crisis == "" {
				t.Fatalf("no crisis line for locale %q", m.Locale)
			}
			if m.Program != "" && (m.Subject == nil || m.SMS == nil || len(m.Body) == 0) {
				t.Errorf("%s: a program message needs a subject, an email body and an SMS", m.File)
			}
			for _, p := range people {
				if m.Subject != nil {
					emails++
					e, err := r.Email(m, p.data, l)
					if err != nil {
						t.Fatalf("%s: email: %v", p.name, err)
					}
					where := p.name

					// Nothing left of a placeholder.
					noHoles(t, where+": subject", e.Subject)
					for i, line := range strings.Split(e.Text, "\n") {
						// The signature line is "-- " and list items wrap
						// with an indent; neither is a hole.
						if line != "-- " {
							noHoles(t, where+": text line "+strconv.Itoa(i+1), strings.TrimLeft(line, " "))
						}
					}
					for _, bad := range []string{"<no value>", "&lt;no value&gt;", "{{", "}}", nameMark} {
						if strings.Contains(e.HTML, bad) {
							t.Errorf("%s: HTML contains %q", where, bad)
						}
					}

					if n := utf8.RuneCountInString(e.Subject); n > maxSubjectLen {
						t.Errorf("%s: subject is %d characters, want under %d: %q", where, n, maxSubjectLen+1, e.Subject)
					}

					// The footer, in both parts.
					flat := strings.Join(strings.Fields(e.Text), " ")
					wantText := []string{
						lb.manage + ": " + l.Manage,
						lb.unsubscribe + ": " + l.Unsubscribe,
						crisis,
					}
					wantHTML := []string{
						`href="` + html.EscapeString(l.Manage) + `"`,
						">" + html.EscapeString(lb.manage) + "</a>",
						`href="` + html.EscapeString(l.Unsubscribe) + `"`,
						">" + html.EscapeString(lb.unsubscribe) + "</a>",
						html.EscapeString(crisis),
					}
					for _, line := range addressLines {
						wantText = append(wantText, line)
						wantHTML = append(wantHTML, html.EscapeString(line))
					}
					for _, want := range wantText {
						if !strings.Contains(flat, want) {
							t.Errorf("%s: text lacks %q", where, want)
						}
					}
					if !strings.Contains(e.Text, "\n-- \n") {
						t.Errorf("%s: text has no \"-- \" line before its footer", where)
					}
					for _, want := range wantHTML {
						if !strings.Contains(e.HTML, want) {
							t.Errorf("%s: HTML lacks %q", where, want)
						}
					}
					if !strings.Contains(e.HTML, `<html lang="`+m.Locale+`"`) {
						t.Errorf("%s: HTML does not say it is in %q", where, m.Locale)
					}

					// Every link is absolute and starts at the base URL.
					checkLinks(t, where+": subject", e.Subject)
					checkLinks(t, where+": text", e.Text)
					checkLinks(t, where+": HTML", e.HTML)
					attrs := linkAttr.FindAllStringSubmatch(e.HTML, -1)
					if len(attrs) < 2 {
						t.Errorf("%s: HTML has %d links, want at least manage and unsubscribe", where, len(attrs))
					}
					for _, a := range attrs {
						v := html.UnescapeString(strings.Trim(a[2], `"'`))
						if !strings.HasPrefix(v, libraryBase+"/") {
							t.Errorf("%s: HTML %s=%q does not start with %s/", where, a[1], v, libraryBase)
						}
					}
				}
				if m.SMS != nil {
					texts++
					s, err := r.SMS(m, p.data, FooterOptOut)
					if err != nil {
						t.Fatalf("%s: SMS: %v", p.name, err)
					}
					where := p.name + ": SMS"
					noHoles(t, where, s)
					checkLinks(t, where, s)
					n, gsm7 := GSM7Segments(s)
					if n > MaxSMSSegments || !gsm7 {
						t.Errorf("%s: %d segments, GSM-7 %v; want GSM-7 in at most %d: %q", where, n, gsm7, MaxSMSSegments, s)
					}
					if !strings.HasPrefix(s, r.opts.ServiceName+":") {
						t.Errorf("%s: does not start with %q: %q", where, r.opts.ServiceName+":", s)
					}
					if !strings.HasSuffix(s, " "+lb.optOut) {
						t.Errorf("%s: does not end with the opt-out footer %q: %q", where, lb.optOut, s)
					}
				}
			}
		})
	}

	// The loop above saw the whole library: both locales, every program.
	if locs := lib.Locales(); len(locs) < 2 {
		t.Errorf("locales %v, want at least en and es", locs)
	}
	least := 0
	for _, p := range []domain.Program{domain.WeeklyCheckin, domain.Gratitude, domain.MonthlyReview, domain.BetweenSession} {
		least += len(lib.Series(p, templates.Fallback))
	}
	least *= len(lib.Locales()) * len(people)
	if emails < least || texts < least {
		t.Errorf("rendered %d emails and %d texts, want at least %d of each", emails, texts, least)
	}
}

// noHoles reports what an empty or failed placeholder leaves behind.
func noHoles(t *testing.T, where, s string) {
	t.Helper()
	for _, bad := range []string{"<no value>", "{{", "}}", nameMark, "  ", " ,", " .", " ;", " :", " ?", " !", "()", "( )"} {
		if strings.Contains(s, bad) {
			t.Errorf("%s: contains %q: %q", where, bad, s)
		}
	}
	if s != strings.TrimSpace(s) {
		t.Errorf("%s: starts or ends with white space: %q", where, s)
	}
}

// checkLinks reports any link in s that does not start at libraryBase.
func checkLinks(t *testing.T, where, s string) {
	t.Helper()
	for _, u := range anyURL.FindAllString(s, -1) {
		if !strings.HasPrefix(u, libraryBase+"/") {
			t.Errorf("%s: link %q does not start with %s/", where, u, libraryBase)
		}
	}
}
