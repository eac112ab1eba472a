package webhook

import (
	"context"
	"encoding/xml"
	"errors"
	"log/slog"
	"net/http"
	"slices"
	"strings"
	"time"

	"github.com/nudgehq/nudge/internal/domain"
	"github.com/nudgehq/nudge/internal/keyword"
	"github.com/nudgehq/nudge/internal/notify"
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
//
// One number can belong to several records: a public subscriber and
// clients of clinics. A reply, YES/START or PAUSE goes to the record that
// last texted the number (else the public one); a STOP goes to every record
// holding the number, since the carrier stops our number for all of them.
func (t *Twilio) handleInbound(ctx context.Context, sid, from, body string) (string, error) {
	now := t.now()
	m := keyword.Read(body)
	sub, known, err := t.replyTarget(ctx, from)
	if err != nil {
		return "", err
	}
	id := sub.ID
	locale := "en"
	if known && sub.Locale == "es" {
		locale = "es"
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
			if err := t.keep(ctx, sub, m, body, now, true); err != nil {
				return "", err
			}
		}
		return words.crisis, nil
	}

	switch m.Kind {
	case keyword.Stop:
		ev.Action = store.ConsentSMSStop
		if err := t.stopAll(ctx, log, from, sub, known, ev); err != nil {
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
		if err := t.keep(ctx, sub, m, body, now, false); err != nil {
			return "", err
		}
		log.Info("reply kept")
		return words.thanks, nil
	}
}

// replyTarget finds the record a text from a number answers: the one that
// last texted it, else the public subscriber with the number. A routed
// record that is gone, or no longer holds the number, gives way to the
// public one.
func (t *Twilio) replyTarget(ctx context.Context, from string) (domain.Subscriber, bool, error) {
	load := func(id string, err error) (domain.Subscriber, bool, error) {
		if errors.Is(err, store.ErrNotFound) {
			return domain.Subscriber{}, false, nil
		}
		if err != nil {
			return domain.Subscriber{}, false, err
		}
		sub, err := t.store.Subscriber(ctx, id)
		if errors.Is(err, store.ErrNotFound) {
			return domain.Subscriber{}, false, nil
		}
		if err != nil {
			return domain.Subscriber{}, false, err
		}
		return sub, sub.Phone == from, nil
	}
	sub, ok, err := load(t.store.ReplyTarget(ctx, from))
	if ok || err != nil {
		return sub, ok, err
	}
	return load(t.store.SubscriberByPhone(ctx, from))
}

// stopAll stops texts to every record holding the number (and suppresses
// the number even when no record does), and tells the clinic of each client
// that had texts on.
func (t *Twilio) stopAll(ctx context.Context, log *slog.Logger, from string, target domain.Subscriber, known bool, ev store.ConsentEvent) error {
	ids, err := t.store.PhoneOwners(ctx, from)
	if err != nil {
		return err
	}
	if known && !slices.Contains(ids, target.ID) {
		ids = append(ids, target.ID)
	}
	stopped := 0
	for _, id := range ids {
		sub, err := t.store.Subscriber(ctx, id)
		if errors.Is(err, store.ErrNotFound) {
			continue
		}
		if err != nil {
			return err
		}
		if sub.Phone != from {
			continue // the record holds another number now
		}
		if err := t.store.StopSMS(ctx, id, ev); err != nil {
			return err
		}
		stopped++
		if sub.Clinic != "" && sub.SMSStatus != domain.SMSStopped {
			t.emit(ctx, log, sub, notify.ClientOptedOut, notify.OptedOut{ClientID: sub.ID, Channel: notify.OptOutSMS, Source: ev.Source})
		}
	}
	if stopped == 0 {
		return t.store.Suppress(ctx, from)
	}
	return nil
}

// keep stores a reply; a client's reply is also sent to their clinic.
func (t *Twilio) keep(ctx context.Context, sub domain.Subscriber, m keyword.Match, body string, now time.Time, inCrisis bool) error {
	r := store.Reply{At: now, Channel: string(domain.SMS), Nudge: sub.LastNudge, Rating: m.Rating}
	if m.Kind != keyword.Rating {
		r.Text = strings.ToValidUTF8(strings.TrimSpace(body), "")
		if len(r.Text) > maxReplyText {
			r.Text = strings.ToValidUTF8(r.Text[:maxReplyText], "")
		}
	}
	if err := t.store.AddReply(ctx, sub.ID, r); err != nil {
		return err
	}
	if sub.Clinic != "" {
		t.emit(ctx, t.logger, sub, notify.ClientReplied, notify.Replied{
			ClientID: sub.ID, At: now.UTC().Format(time.RFC3339), Channel: string(domain.SMS),
			Rating: r.Rating, Text: r.Text, InReplyTo: r.Nudge, Crisis: inCrisis,
		})
	}
	return nil
}

// emit raises a clinic's event. What it reports is done already, so a
// failure is logged (ids only), not returned.
func (t *Twilio) emit(ctx context.Context, log *slog.Logger, sub domain.Subscriber, eventType string, data any) {
	if t.events == nil {
		return
	}
	if err := t.events.Emit(ctx, sub.Clinic, eventType, data); err != nil {
		log.Warn("could not raise a clinic event", "clinic_id", sub.Clinic, "subscriber_id", sub.ID, "type", eventType, "err", err)
	}
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
