package webhook

import (
	"context"
	"encoding/xml"
	"errors"
	"net/http"
	"strings"
	"time"

	"github.com/nudgehq/nudge/internal/domain"
	"github.com/nudgehq/nudge/internal/keyword"
	"github.com/nudgehq/nudge/internal/store"
)

// PauseFor is how long PAUSE (or a message in crisis) holds nudges back.
const PauseFor = 14 * 24 * time.Hour

// maxReplyText caps a kept free-text reply.
const maxReplyText = 640

// inbound handles a text someone sent to nudge's number. It answers with
// TwiML: at most one text back, and none at all to STOP, which the carrier
// and Twilio confirm themselves (a second confirmation would be one text
// too many). A plain-language request to stop, which Twilio does not know,
// gets one confirmation from us.
func (t *Twilio) inbound(w http.ResponseWriter, r *http.Request) {
	if !t.verified(w, r) {
		return
	}
	ctx := r.Context()
	sid, from, body := r.PostForm.Get("MessageSid"), r.PostForm.Get("From"), r.PostForm.Get("Body")
	if sid == "" || from == "" {
		http.Error(w, "MessageSid and From are required", http.StatusBadRequest)
		return
	}
	first, err := t.store.FirstInbound(ctx, sid)
	if err != nil {
		t.fail(w, "check inbound", err)
		return
	}
	if !first {
		t.logger.Info("inbound repeated", "sid", sid)
		twiml(w, "")
		return
	}
	reply, err := t.handleInbound(ctx, sid, from, body)
	if err != nil {
		t.fail(w, "handle inbound", err)
		return
	}
	twiml(w, reply)
}

func (t *Twilio) fail(w http.ResponseWriter, what string, err error) {
	t.logger.Error(what, "err", err)
	http.Error(w, "try again", http.StatusServiceUnavailable)
}

// handleInbound acts on one message and returns the reply text ("" for none).
func (t *Twilio) handleInbound(ctx context.Context, sid, from, body string) (string, error) {
	now := t.now()
	m := keyword.Read(body)
	id, err := t.store.SubscriberByPhone(ctx, from)
	known := err == nil
	if err != nil && !errors.Is(err, store.ErrNotFound) {
		return "", err
	}
	locale := "en"
	var sub domain.Subscriber
	if known {
		if sub, err = t.store.Subscriber(ctx, id); errors.Is(err, store.ErrNotFound) {
			known = false
		} else if err != nil {
			return "", err
		} else if sub.Locale == "es" {
			locale = "es"
		}
	}
	words := replies[locale]
	log := t.logger.With("sid", sid, "kind", m.Kind.String())
	if known {
		log = log.With("subscriber_id", id)
	}
	ev := store.ConsentEvent{At: now, Channel: string(domain.SMS), Source: "sms-keyword", Detail: m.Kind.String()}

	if crisis(body) && m.Kind != keyword.Stop {
		log.Warn("crisis words in a reply: resources sent, nudges paused")
		if known {
			ev.Action, ev.Detail = store.ConsentPause, "crisis words in a reply"
			if err := t.store.Pause(ctx, id, now.Add(PauseFor), ev); err != nil {
				return "", err
			}
			if err := t.keep(ctx, id, sub, m, body, now); err != nil {
				return "", err
			}
		}
		return words.crisis, nil
	}

	switch m.Kind {
	case keyword.Stop:
		ev.Action = store.ConsentSMSStop
		if known {
			if err := t.store.StopSMS(ctx, id, ev); err != nil {
				return "", err
			}
		} else if err := t.store.Suppress(ctx, from); err != nil {
			return "", err
		}
		log.Info("sms opt-out")
		if isCarrierKeyword(body) {
			return "", nil
		}
		return words.stopped, nil
	case keyword.Start:
		if !known {
			return words.unknown, nil
		}
		ev.Action = store.ConsentSMSStart
		if err := t.confirm.ConfirmSMS(ctx, id, ev); err != nil {
			return "", err
		}
		log.Info("sms opt-in")
		return words.started, nil
	case keyword.Help:
		return words.help, nil
	case keyword.Pause:
		if !known {
			return words.unknown, nil
		}
		until := now.Add(PauseFor)
		ev.Action = store.ConsentPause
		if err := t.store.Pause(ctx, id, until, ev); err != nil {
			return "", err
		}
		return strings.Replace(words.paused, "{date}", formatDate(until, sub.TimeZone, locale), 1), nil
	default:
		if !known {
			return "", nil
		}
		if err := t.keep(ctx, id, sub, m, body, now); err != nil {
			return "", err
		}
		log.Info("reply kept")
		return words.thanks, nil
	}
}

func (t *Twilio) keep(ctx context.Context, id string, sub domain.Subscriber, m keyword.Match, body string, now time.Time) error {
	r := store.Reply{At: now, Channel: string(domain.SMS), Nudge: sub.LastNudge, Rating: m.Rating}
	if m.Kind != keyword.Rating {
		r.Text = strings.ToValidUTF8(strings.TrimSpace(body), "")
		if len(r.Text) > maxReplyText {
			r.Text = r.Text[:maxReplyText]
		}
	}
	return t.store.AddReply(ctx, id, r)
}

// isCarrierKeyword reports whether the body is a bare opt-out word that the
// carrier and Twilio answer themselves.
func isCarrierKeyword(body string) bool {
	w := strings.ToLower(strings.Trim(strings.TrimSpace(body), ".!?¡¿ "))
	switch w {
	case "stop", "stopall", "unsubscribe", "cancel", "end", "quit", "revoke", "optout":
		return true
	}
	return false
}

// crisisWords are phrases that get crisis resources at once. The list is
// deliberately short and plain; it is a safety net, not a diagnosis.
var crisisWords = []string{
	"suicide", "suicidal", "kill myself", "end my life", "want to die", "hurt myself", "self harm", "self-harm",
	"suicidio", "suicidarme", "matarme", "quitarme la vida", "no quiero vivir", "hacerme dano", "hacerme daño",
}

func crisis(body string) bool {
	b := strings.ToLower(body)
	for _, w := range crisisWords {
		if strings.Contains(b, w) {
			return true
		}
	}
	return false
}

func formatDate(t time.Time, zone, locale string) string {
	if loc, err := time.LoadLocation(zone); err == nil {
		t = t.In(loc)
	}
	if locale == "es" {
		return t.Format("02/01")
	}
	return t.Format("Jan 2")
}

// replyWords are the texts nudge sends back, GSM-7 only, the service first.
type replyWords struct {
	stopped, started, help, paused, thanks, unknown, crisis string
}

var replies = map[string]replyWords{
	"en": {
		stopped: "nudge: you will get no more texts from us. Reply START to turn them back on.",
		started: "nudge: texts are on. Reply STOP to stop, HELP for help.",
		help:    "nudge: small weekly prompts for keeping in touch. Reply STOP to stop, PAUSE for a 2-week break. Not monitored: in crisis call or text 988 (US) or your local emergency number.",
		paused:  "nudge: paused until {date}. Reply START to resume sooner.",
		thanks:  "nudge: thanks, noted.",
		unknown: "nudge: we do not have this number. Reply HELP for help.",
		crisis:  "nudge: this number is not monitored. If you are in danger or thinking of harming yourself, call or text 988 (US) or your local emergency number now. Nudges are paused for 2 weeks.",
	},
	"es": {
		stopped: "nudge: no te enviaremos mas mensajes. Responde START para volver a recibirlos.",
		started: "nudge: mensajes activados. Responde STOP para dejarlos, HELP para ayuda.",
		help:    "nudge: pequenos recordatorios semanales para mantener el contacto. Responde STOP para dejarlos, PAUSE para 2 semanas de pausa. Sin supervision: en crisis llama al numero de emergencias local.",
		paused:  "nudge: en pausa hasta el {date}. Responde START para volver antes.",
		thanks:  "nudge: gracias, anotado.",
		unknown: "nudge: no tenemos este numero. Responde HELP para ayuda.",
		crisis:  "nudge: este numero no esta supervisado. Si estas en peligro o piensas en hacerte dano, llama ya al numero de emergencias local. Pausamos los mensajes 2 semanas.",
	},
}

// twiml answers Twilio with at most one message.
func twiml(w http.ResponseWriter, text string) {
	w.Header().Set("Content-Type", "text/xml; charset=utf-8")
	var b strings.Builder
	b.WriteString(`<?xml version="1.0" encoding="UTF-8"?><Response>`)
	if text != "" {
		b.WriteString("<Message>")
		_ = xml.EscapeText(&b, []byte(text))
		b.WriteString("</Message>")
	}
	b.WriteString("</Response>")
	_, _ = w.Write([]byte(b.String()))
}
