package webhook_test

import (
	"context"
	"strings"
	"testing"

	"github.com/nudgehq/nudge/internal/domain"
)

// A text answers the check-in last sent to the number's confirmed record:
// it counts in the person's month like an answer from the email page, a
// second answer replaces the first, and the acknowledgement follows the
// score and never repeats itself.
func TestATextAnswersTheLastCheckIn(t *testing.T) {
	b := setup(t, "en")
	ctx := context.Background()
	const occ = "weekly-checkin:2026-12-01"

	_, first := b.text(t, phone, "4")
	a, err := b.st.Answer(ctx, b.id, occ)
	if err != nil || a.Score != 4 || a.Channel != domain.SMS || a.Note != "" {
		t.Fatalf("after 4: answer %+v, %v", a, err)
	}
	_, second := b.text(t, phone, "2 nobody around this week")
	a, err = b.st.Answer(ctx, b.id, occ)
	if err != nil || a.Score != 2 || a.Note != "nobody around this week" {
		t.Fatalf("the second answer did not replace the first: %+v, %v", a, err)
	}
	_, third := b.text(t, phone, "2 nobody around this week")
	for i, reply := range []string{first, second, third} {
		if strings.Count(reply, "<Message>") != 1 || !strings.Contains(reply, "<Message>nudge: ") {
			t.Errorf("answer %d: reply %s, want one message signed nudge", i+1, reply)
		}
		if strings.Contains(reply, "thanks, noted") {
			t.Errorf("answer %d: the same words for every answer: %s", i+1, reply)
		}
	}
	if first == second || second == third {
		t.Errorf("the same acknowledgement twice in a row:\n%s\n%s\n%s", first, second, third)
	}
	if replies, _ := b.st.Replies(ctx, b.id); len(replies) != 3 {
		t.Errorf("%d replies kept, want 3", len(replies))
	}
}

// A gratitude prompt takes no score: a number at the start of the text is
// part of the line written back.
func TestATextToAGratitudePromptIsANote(t *testing.T) {
	b := setup(t, "es")
	ctx := context.Background()
	if err := b.st.MarkLastNudge(ctx, b.id, domain.Gratitude, "2026-12-03"); err != nil {
		t.Fatal(err)
	}
	_, reply := b.text(t, phone, "3 amigas me llamaron")
	a, err := b.st.Answer(ctx, b.id, "gratitude:2026-12-03")
	if err != nil || a.Score != 0 || a.Note != "3 amigas me llamaron" {
		t.Fatalf("answer %+v, %v", a, err)
	}
	if _, err := b.st.Answer(ctx, b.id, "weekly-checkin:2026-12-01"); err == nil {
		t.Error("the gratitude reply also answered the earlier check-in")
	}
	if !strings.Contains(reply, "<Message>nudge: ") || strings.Contains(reply, "thanks") {
		t.Errorf("reply %s", reply)
	}
}

// Words of distress are never kept as an answer (the month would quote
// them back); the reply list the clinic reads keeps them as before.
func TestDistressIsNotKeptAsAnAnswer(t *testing.T) {
	b := setup(t, "en")
	b.text(t, phone, "2 I want to kill myself")
	if a, err := b.st.Answer(context.Background(), b.id, "weekly-checkin:2026-12-01"); err == nil {
		t.Fatalf("distress kept as an answer: %+v", a)
	}
}
