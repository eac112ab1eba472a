package main

import (
	"context"
	"net/http"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/cdproto/emulation"
	"github.com/chromedp/chromedp"
	"github.com/nudgehq/nudge/internal/axetest"
	"github.com/nudgehq/nudge/internal/domain"
	"github.com/nudgehq/nudge/internal/smtptest"
	"github.com/nudgehq/nudge/internal/store"
)

var answerLinkRE = regexp.MustCompile(`https://nudge\.test/answer/[A-Za-z0-9._~%-]+`)

// checkinSent signs up an active subscriber by email in locale whose weekly
// check-in is due now, and waits for the check-in.
func (s *site) checkinSent(t *testing.T, addr, locale string) (string, smtptest.Message) {
	t.Helper()
	ctx := context.Background()
	now := s.clk.Now()
	res, err := s.st.Signup(ctx, domain.Subscriber{FirstName: "Ines", Email: addr, TimeZone: "UTC", Locale: locale, CreatedAt: now.Add(-time.Hour),
		Channels: []domain.Channel{domain.Email}}, []domain.Schedule{{Program: domain.WeeklyCheckin, Rule: "weekly:mon@10:00"}}, store.ConsentEvent{})
	if err != nil {
		t.Fatal(err)
	}
	if ok, err := s.st.Activate(ctx, res.ID, now.Add(-time.Hour), map[domain.Program]time.Time{domain.WeeklyCheckin: now}, store.ConsentEvent{}); err != nil || !ok {
		t.Fatalf("activate: %v, %v", ok, err)
	}
	var checkin smtptest.Message
	s.mail.WaitFor(t, 10*time.Second, "the weekly check-in to "+addr, func(ms []smtptest.Message) bool {
		for _, m := range ms {
			if len(m.To) == 1 && m.To[0] == addr && answerLinkRE.MatchString(m.Text) {
				checkin = m
				return true
			}
		}
		return false
	})
	return res.ID, checkin
}

// answerLinks are the answer links of a check-in, on the test server: the
// five scores in order, then the line back.
func (s *site) answerLinks(t *testing.T, m smtptest.Message) []string {
	t.Helper()
	var out []string
	for _, l := range answerLinkRE.FindAllString(m.Text, -1) {
		out = append(out, pathOf(t, s.app, l))
	}
	if len(out) != 6 {
		t.Fatalf("%d answer links in the check-in, want 6:\n%s", len(out), m.Text)
	}
	return out
}

// axeClean runs axe-core on the tab's page and fails on any violation.
func (b *browser) axeClean(src, page string) {
	b.t.Helper()
	ctx, cancel := context.WithTimeout(b.ctx, stepTimeout)
	defer cancel()
	vs, err := axetest.Run(ctx, src)
	if err != nil {
		b.t.Fatalf("axe on %s: %v", page, err)
	}
	for _, v := range vs {
		b.t.Errorf("axe on %s: %s", page, v)
	}
}

// TestAnswerInTheBrowser answers a check-in from its email's links in
// Chromium: opening links records nothing, Save records, a second Save
// replaces; without JavaScript; in English and Spanish; axe-core finds
// nothing on the pages.
func TestAnswerInTheBrowser(t *testing.T) {
	axe := axetest.Source(t)
	c := startChromium(t)
	s := startSite(t)
	ctx := context.Background()
	id, checkin := s.checkinSent(t, "ines@example.org", "en")
	links := s.answerLinks(t, checkin)
	occurrence := "weekly-checkin:2026-11-30"

	// What a mail scanner does: HEAD and GET every link, and a browser's
	// prefetch of all five.
	for _, l := range links {
		for _, method := range []string{"HEAD", "GET"} {
			req, _ := http.NewRequest(method, l, nil)
			req.Header.Set("Sec-Purpose", "prefetch")
			res, err := http.DefaultClient.Do(req)
			if err != nil {
				t.Fatal(err)
			}
			res.Body.Close()
			if res.StatusCode != 200 {
				t.Fatalf("%s %s = %d", method, l, res.StatusCode)
			}
		}
	}
	b := c.tab(t)
	for _, l := range links {
		if status := b.open(l); status != 200 {
			t.Fatalf("open %s = %d", l, status)
		}
	}
	if got, _ := s.st.Answers(ctx, id, time.Time{}, time.Time{}); len(got) != 0 {
		t.Fatalf("opening the links recorded %+v", got)
	}

	// Tap 4, add a note, Save: with scripts off, as the page must work so.
	noJS := c.tab(t)
	call(noJS, "turn scripts off", emulation.SetScriptExecutionDisabled, emulation.SetScriptExecutionDisabledParams{Value: true})
	noJS.open(links[3])
	if !noJS.checked("score-4") || noJS.checked("score-3") {
		t.Fatal("the page from link 4 does not have 4 chosen")
	}
	noJS.do("write a note", chromedp.SendKeys(chromedp.ID("note"), "walked with my neighbour"))
	if status := noJS.press(`main button[type="submit"]`); status != 200 {
		t.Fatalf("Save = %d; the page says %q", status, noJS.text("main"))
	}
	if got := noJS.text(".notice"); got != "Your answer is saved." {
		t.Errorf("after Save the page says %q", got)
	}
	a, err := s.st.Answer(ctx, id, occurrence)
	if err != nil || a.Score != 4 || a.Note != "walked with my neighbour" || a.Channel != domain.Email || a.SentAt.IsZero() {
		t.Fatalf("stored answer %+v, %v", a, err)
	}

	// The same email's link 2, later: it replaces the first answer.
	s.clk.Set(s.clk.Now().Add(9 * 24 * time.Hour))
	b.open(links[1])
	b.axeClean(axe, "the answer page")
	if !strings.Contains(b.text("main"), "You answered this one already") {
		t.Errorf("the page does not say it was answered: %q", b.text("main"))
	}
	if got := b.value("note"); got != "walked with my neighbour" {
		t.Errorf("the note field holds %q, want the earlier note", got)
	}
	if status := b.press(`main button[type="submit"]`); status != 200 {
		t.Fatalf("second Save = %d", status)
	}
	b.axeClean(axe, "the saved page")
	all, err := s.st.Answers(ctx, id, time.Time{}, time.Time{})
	if err != nil || len(all) != 1 || all[0].Score != 2 || all[0].Occurrence != occurrence {
		t.Fatalf("after the second Save: %+v, %v; want one answer, score 2, for %s", all, err, occurrence)
	}

	// A form with an error is accessible too: an empty gratitude-like save.
	b.open(links[5])
	get(b, "clear the choice and the note", chromedp.Evaluate[bool](`document.querySelectorAll("input[name=score]").forEach(r => r.checked = false); document.getElementById("note").value = ""; true`))
	if status := b.press(`main button[type="submit"]`); status != 422 {
		t.Fatalf("empty Save = %d, want 422", status)
	}
	b.axeClean(axe, "the answer page with an error")

	// "Your month", behind the manage link: a chart and a table, a note
	// deleted with its button, the quoting choice, all without scripts.
	month := s.linkIn(t, checkin, manageLinkRE) + "/month"
	b.open(month)
	b.axeClean(axe, "Your month")
	if got := b.attr(`svg[role="img"]`, "aria-labelledby"); got != "chart-title chart-desc" {
		t.Errorf("the chart is labelled by %q", got)
	}
	if got := b.text("table.schedules tbody"); !strings.Contains(got, "2 of 5") || !strings.Contains(got, "walked with my neighbour") {
		t.Errorf("the table reads %q", got)
	}
	noJS.open(month)
	if status := noJS.press(`form[action$="/month/notes"] button`); status != 200 {
		t.Fatalf("Delete note = %d", status)
	}
	if got := noJS.text(".notice"); got != "The note is deleted." {
		t.Errorf("after deleting the page says %q", got)
	}
	noJS.do("tick quoting", chromedp.Click(chromedp.ID("quote")))
	if status := noJS.press(`form[action$="/month/quote"] button`); status != 200 {
		t.Fatalf("saving the quoting choice = %d", status)
	}
	if on, err := s.st.QuoteNotes(ctx, id); err != nil || !on {
		t.Errorf("quoting = %v, %v; want on", on, err)
	}
	a, err = s.st.Answer(ctx, id, occurrence)
	if err != nil || a.Note != "" || a.Score != 2 {
		t.Errorf("after deleting the note: %+v, %v", a, err)
	}
	b.open(month)
	b.axeClean(axe, "Your month after a change")

	// Spanish.
	_, spanish := s.checkinSent(t, "lucia@example.org", "es")
	es := c.tab(t)
	es.open(s.answerLinks(t, spanish)[2])
	if got := es.attr("html", "lang"); got != "es" {
		t.Errorf("the Spanish page's lang is %q", got)
	}
	if got := es.text("legend"); !strings.Contains(got, "personas") {
		t.Errorf("the Spanish question reads %q", got)
	}
	es.axeClean(axe, "the Spanish answer page")
	if status := es.press(`main button[type="submit"]`); status != 200 || es.text(".notice") != "Tu respuesta está guardada." {
		t.Fatalf("Spanish Save = %d, %q", status, es.text("main"))
	}
	es.axeClean(axe, "the Spanish saved page")
	es.open(s.linkIn(t, spanish, manageLinkRE) + "/month")
	if got := es.text("h1"); got != "Tu mes" {
		t.Errorf("the Spanish month page is titled %q", got)
	}
	es.axeClean(axe, "Tu mes")
}
