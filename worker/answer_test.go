package worker_test

import (
	"context"
	"regexp"
	"testing"
	"time"

	"github.com/nudgehq/nudge/internal/domain"
	"github.com/nudgehq/nudge/internal/links"
	"github.com/nudgehq/nudge/internal/token"
)

var answerLink = regexp.MustCompile(`https://nudge\.test/answer/([A-Za-z0-9_.-]+)`)

func TestACheckinEmailCarriesSignedAnswerLinksForItsOwnOccurrence(t *testing.T) {
	b := setup(t, planned.Add(time.Second))
	if err := b.deliver(t, b.payload(1)); err != nil {
		t.Fatal(err)
	}
	msgs := b.sink.Messages()
	if len(msgs) != 1 {
		t.Fatalf("%d messages, want 1", len(msgs))
	}
	signer := token.NewSigner([]byte("a-worker-test-secret-of-enough-length"))
	seen := map[int]bool{}
	for _, m := range answerLink.FindAllStringSubmatch(msgs[0].Text, -1) {
		subject, err := signer.Verify(token.Rate, m[1], b.now)
		if err != nil {
			t.Fatalf("answer link token: %v", err)
		}
		id, occ, score, err := links.ParseAnswerSubject(subject)
		if err != nil || id != b.id || occ != "weekly-checkin:2026-12-01" {
			t.Fatalf("answer link names %q %q %d, %v", id, occ, score, err)
		}
		seen[score] = true
		// Valid for 60 days, not longer.
		if _, err := signer.Verify(token.Rate, m[1], b.now.Add(links.AnswerTTL+time.Hour)); err == nil {
			t.Fatal("an answer link still works after 60 days")
		}
	}
	for s := 0; s <= 5; s++ {
		if !seen[s] {
			t.Errorf("no answer link for score %d in:\n%s", s, msgs[0].Text)
		}
	}
	// The send is counted for "answered of sent".
	sent, err := b.st.SentBetween(context.Background(), b.id, domain.WeeklyCheckin, time.Time{}, time.Time{})
	if err != nil || len(sent) != 1 || sent[0].Occurrence != "weekly-checkin:2026-12-01" {
		t.Fatalf("sent index = %+v, %v", sent, err)
	}
}
