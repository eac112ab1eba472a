package webhook_test

import (
	"context"
	"errors"
	"net/http"
	"net/url"
	"strings"
	"sync"
	"testing"

	"github.com/nudgehq/nudge/internal/domain"
	"github.com/nudgehq/nudge/internal/store"
	"github.com/redis/go-redis/v9"
)

// failHook makes Redis fail once, at the transaction that marks an inbound
// message handled: before it runs ("before": nothing of it is applied) or
// after (its reply is lost: applied, but the handler sees an error).
type failHook struct {
	mu    sync.Mutex
	mode  string
	fired int
}

func (h *failHook) arm(mode string) {
	h.mu.Lock()
	defer h.mu.Unlock()
	h.mode = mode
}

func (h *failHook) DialHook(next redis.DialHook) redis.DialHook          { return next }
func (h *failHook) ProcessHook(next redis.ProcessHook) redis.ProcessHook { return next }

func (h *failHook) ProcessPipelineHook(next redis.ProcessPipelineHook) redis.ProcessPipelineHook {
	return func(ctx context.Context, cmds []redis.Cmder) error {
		h.mu.Lock()
		mode := ""
		if h.mode != "" && marksInbound(cmds) {
			mode, h.mode = h.mode, ""
			h.fired++
		}
		h.mu.Unlock()
		switch mode {
		case "before":
			return errors.New("injected: connection lost before the transaction")
		case "after":
			if err := next(ctx, cmds); err != nil {
				return err
			}
			return errors.New("injected: reply lost after the transaction")
		}
		return next(ctx, cmds)
	}
}

func marksInbound(cmds []redis.Cmder) bool {
	for _, c := range cmds {
		if args := c.Args(); c.Name() == "set" && len(args) > 1 && strings.Contains(args[1].(string), ":inbound:") {
			return true
		}
	}
	return false
}

// Redis fails while a text is handled; Twilio's retry of the same
// MessageSid then applies it, once: neither lost nor doubled.
func TestATextFailedHalfWayIsAppliedOnceOnTwiliosRetry(t *testing.T) {
	for _, mode := range []string{"before", "after"} {
		t.Run("STOP, Redis fails "+mode+" the effect", func(t *testing.T) {
			hook := &failHook{}
			b := setupWith(t, "en", hook)
			params := url.Values{"MessageSid": {"SMstopfails" + mode}, "From": {phone}, "Body": {"STOP"}}
			hook.arm(mode)
			if code, _ := b.post(t, "/webhooks/twilio/sms", params, authToken); code != http.StatusServiceUnavailable {
				t.Fatalf("while Redis fails: %d, want 503 so that Twilio retries", code)
			}
			if hook.fired != 1 {
				t.Fatalf("the failure fired %d times", hook.fired)
			}
			for range 2 {
				if code, _ := b.post(t, "/webhooks/twilio/sms", params, authToken); code != http.StatusOK {
					t.Fatalf("Twilio's retry: %d", code)
				}
			}
			stopped(t, b)
			ev, _ := b.st.Consent(context.Background(), b.id)
			n := 0
			for _, e := range ev {
				if e.Action == store.ConsentSMSStop {
					n++
				}
			}
			if n != 1 {
				t.Errorf("the STOP is in the ledger %d times, want once: %+v", n, ev)
			}
		})
		t.Run("a note, Redis fails "+mode+" the effect", func(t *testing.T) {
			hook := &failHook{}
			b := setupWith(t, "en", hook)
			params := url.Values{"MessageSid": {"SMnotefails" + mode}, "From": {phone}, "Body": {"walked with my sister"}}
			hook.arm(mode)
			if code, _ := b.post(t, "/webhooks/twilio/sms", params, authToken); code != http.StatusServiceUnavailable {
				t.Fatalf("while Redis fails: %d, want 503", code)
			}
			if code, _ := b.post(t, "/webhooks/twilio/sms", params, authToken); code != http.StatusOK {
				t.Fatalf("Twilio's retry: %d", code)
			}
			if r, _ := b.st.Replies(context.Background(), b.id); len(r) != 1 || r[0].Text != "walked with my sister" {
				t.Errorf("replies after the retry = %+v, want the note once", r)
			}
			if s := b.sub(t); s.SMSStatus != domain.SMSActive {
				t.Errorf("subscriber changed: %+v", s)
			}
		})
	}
}
