package main

import (
	"context"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/nudgehq/nudge/internal/domain"
	"github.com/nudgehq/nudge/internal/smtptest"
	"github.com/nudgehq/nudge/internal/store"
)

// The reply loop with the real service: check-ins go out by text and by
// email, one person answers by text and another through the email's answer
// links, and each one's monthly review, on its day, opens with the count
// and the average of their own answers.
func TestTheReplyLoopEndToEnd(t *testing.T) {
	start := time.Date(2026, 12, 1, 14, 0, 0, 0, time.UTC) // Tuesday, 09:00 in New York
	a := startSMSApp(t, start, "US")
	ctx := context.Background()
	week1 := time.Date(2026, 12, 1, 23, 30, 0, 0, time.UTC) // Tuesday 18:30 in New York
	week2 := week1.Add(7 * 24 * time.Hour)
	reviewDay := time.Date(2026, 12, 10, 15, 0, 0, 0, time.UTC) // the 10th, 10:00 in New York
	schedules := []domain.Schedule{{Program: domain.WeeklyCheckin, Rule: "weekly:tue@18:30"}, {Program: domain.MonthlyReview, Rule: "monthly:10@10:00"}}
	next := map[domain.Program]time.Time{domain.WeeklyCheckin: week1, domain.MonthlyReview: reviewDay}

	const texter, emailer = "+12015550123", "ines@example.org"
	res, err := a.st.Signup(ctx, domain.Subscriber{FirstName: "Sam", Phone: texter, TimeZone: "America/New_York", Locale: "en",
		Channels: []domain.Channel{domain.SMS}, SMSStatus: domain.SMSPending, CreatedAt: start.Add(-2 * time.Hour)}, schedules, store.ConsentEvent{})
	if err != nil {
		t.Fatal(err)
	}
	if ok, err := a.st.ActivateBySMS(ctx, res.ID, start.Add(-time.Hour), next, store.ConsentEvent{}); err != nil || !ok {
		t.Fatalf("activate the texter: %v %v", ok, err)
	}
	res, err = a.st.Signup(ctx, domain.Subscriber{FirstName: "Ines", Email: emailer, TimeZone: "America/New_York", Locale: "en",
		Channels: []domain.Channel{domain.Email}, CreatedAt: start.Add(-2 * time.Hour)}, schedules, store.ConsentEvent{})
	if err != nil {
		t.Fatal(err)
	}
	if ok, err := a.st.Activate(ctx, res.ID, start.Add(-time.Hour), next, store.ConsentEvent{}); err != nil || !ok {
		t.Fatalf("activate the emailer: %v %v", ok, err)
	}

	for i, week := range []struct {
		at           time.Time
		text         string
		emailedScore int
		emailedNote  string
	}{
		{week1, "4 called my brother", 5, "lunch with Ana"},
		{week2, "2", 3, ""},
	} {
		a.clk.Set(week.at.Add(time.Second))
		checkin := waitTextTo(t, a.texts, texter, i+1)
		if !strings.Contains(checkin.Body, "Reply 1-5") {
			t.Fatalf("check-in %d does not invite an answer: %q", i+1, checkin.Body)
		}
		answer, _ := textReply(t, a, texter, "SMloop"+strings.Repeat("0", 26)+string(rune('a'+i)), week.text)
		if !strings.Contains(answer, "<Message>nudge: ") {
			t.Fatalf("answer %d acknowledged with %s", i+1, answer)
		}
		mail := a.mail.WaitFor(t, 15*time.Second, "check-in email", func(ms []smtptest.Message) bool {
			return len(checkinsTo(ms, emailer)) == i+1
		})
		links := answerLinkRE.FindAllString(checkinsTo(mail, emailer)[i].Text, -1)
		if len(links) < 5 {
			t.Fatalf("check-in email %d has %d answer links", i+1, len(links))
		}
		path := strings.TrimPrefix(links[week.emailedScore-1], "https://nudge.test")
		form := url.Values{"score": {strconv.Itoa(week.emailedScore)}, "note": {week.emailedNote}}
		resp, err := http.PostForm(a.base+path, form)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if resp.StatusCode != http.StatusOK {
			t.Fatalf("answer page %d: %d", i+1, resp.StatusCode)
		}
	}

	a.clk.Set(reviewDay.Add(time.Second))
	review := waitTextTo(t, a.texts, texter, 3)
	if !strings.Contains(review.Body, "2 of 2 check-ins answered") || !strings.Contains(review.Body, "average 3.0/5") {
		t.Errorf("the texter's review: %q", review.Body)
	}
	mail := a.mail.WaitFor(t, 15*time.Second, "the monthly review email", func(ms []smtptest.Message) bool {
		for _, m := range ms {
			if len(m.To) == 1 && m.To[0] == emailer && strings.Contains(m.Text, "You answered 2 of 2 check-ins.") {
				return true
			}
		}
		return false
	})
	for _, m := range mail {
		if len(m.To) == 1 && m.To[0] == emailer && strings.Contains(m.Text, "You answered 2 of 2 check-ins.") &&
			(!strings.Contains(m.Text, "Your average: 4.0 out of 5.") || !strings.Contains(m.Text, "988")) {
			t.Errorf("the emailer's review lacks the average of 5 and 3, or the US crisis line:\n%s", m.Text)
		}
	}
}

// checkinsTo are the check-in emails to addr (those with answer links).
func checkinsTo(ms []smtptest.Message, addr string) []smtptest.Message {
	var out []smtptest.Message
	for _, m := range ms {
		if len(m.To) == 1 && m.To[0] == addr && answerLinkRE.MatchString(m.Text) {
			out = append(out, m)
		}
	}
	return out
}
