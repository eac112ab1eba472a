package webhook

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/xml"
	"errors"
	"fmt"
	"log/slog"
	"net/http"

	"strconv"
	"strings"
	"time"

	"github.com/nudgehq/nudge/internal/ack"
	"github.com/nudgehq/nudge/internal/domain"
	"github.com/nudgehq/nudge/internal/keyword"
	"github.com/nudgehq/nudge/internal/notify"
	"github.com/nudgehq/nudge/internal/store"
)

// PauseFor is how long PAUSE holds nudges back (distress: safety.HoldFor).
const PauseFor = 14 * 24 * time.Hour

// maxReplyText caps a kept free-text reply.
const maxReplyText = 640

// inbound handles a text someone sent to nudge's number. It answers with
// TwiML: at most one text back, and none at all to a bare carrier STOP,
// which the carrier and Twilio confirm themselves (a second confirmation
// would be one text too many). A plain-language request to stop, which
// Twilio does not know, gets one confirmation from us.
//
// Each message is handled once: its MessageSid is marked handled in the same
// transaction that applies its effect, so a failure half-way (answered 503)
// leaves nothing marked and Twilio's retry is handled in full, while a retry
// of a message already applied changes nothing. A short lock keeps two
// deliveries of one message at the same moment from both running.
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
	handled, err := t.store.InboundHandled(ctx, sid)
	if err != nil {
		t.fail(w, "check inbound", err)
		return
	}
	if handled {
		t.logger.Info("inbound repeated", "sid", sid)
		twiml(w, "")
		return
	}
	locked, err := t.store.LockInbound(ctx, sid)
	if err != nil {
		t.fail(w, "lock inbound", err)
		return
	}
	if !locked {
		t.fail(w, "inbound in progress", errors.New("another attempt holds the message"))
		return
	}
	defer func() {
		if err := t.store.UnlockInbound(context.WithoutCancel(ctx), sid); err != nil {
			t.logger.Warn("could not unlock an inbound message", "sid", sid, "err", err)
		}
	}()
	reply, err := t.handleInbound(ctx, sid, from, body)
	if errors.Is(err, store.ErrInboundHandled) {
		t.logger.Info("inbound repeated", "sid", sid)
		twiml(w, "")
		return
	}
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
// A number proves nothing until its owner answers YES (see store/route.go):
// a reply, rating, PAUSE or distress pause reaches only a record whose texts
// to this number are confirmed and on, the one a nudge or prompt last went
// out from; YES and START confirm only records that asked recently (or turn
// back on texts the owner had confirmed, then stopped); STOP reaches every
// record naming the number. Anyone gets the answer to HELP and to distress,
// which reveal nothing about anybody.
func (t *Twilio) handleInbound(ctx context.Context, sid, from, body string) (string, error) {
	now := t.now()
	m := keyword.Read(body)
	t.count(m)
	holders, routed, err := t.store.NumberHolders(ctx, from)
	if err != nil {
		return "", err
	}
	target, known := store.ReplyRecipient(holders, routed)
	log := t.logger.With("sid", sid, "kind", m.Kind.String())
	if known {
		log = log.With("subscriber_id", target.ID)
	}
	a, err := t.answers(ctx, from, target, known, body)
	if err != nil {
		return "", err
	}
	ev := store.ConsentEvent{At: now, Channel: string(domain.SMS), Source: "sms-keyword", Detail: m.Kind.String()}

	if m.Distress {
		return t.distress(ctx, log, sid, from, target, known, m, body, a, ev)
	}

	switch m.Kind {
	case keyword.Stop:
		ev.Action = store.ConsentSMSStop
		if err := t.stopNumber(ctx, log, sid, from, ev); err != nil {
			return "", err
		}
		log.Info("sms opt-out")
		if m.Carrier {
			return "", nil
		}
		return a.text(a.words.stopped), nil
	case keyword.Start, keyword.Yes:
		return t.optIn(ctx, log, sid, holders, routed, known, a, ev, now)
	case keyword.Pause:
		if !known {
			return a.text(a.words.unknown), t.store.MarkInbound(ctx, sid)
		}
		until := now.Add(PauseFor)
		ev.Action = store.ConsentPause
		if err := t.store.PauseByText(ctx, target.ID, until, sid, ev); err != nil {
			return "", err
		}
		return a.text(strings.Replace(a.words.paused, "{date}", formatDate(until, target.TimeZone, a.locale), 1)), nil
	case keyword.Link:
		if !known || t.links == nil {
			return a.help(), t.store.MarkInbound(ctx, sid)
		}
		return t.sendLink(ctx, log, sid, from, target, a)
	case keyword.Help:
		return a.help(), t.store.MarkInbound(ctx, sid)
	default:
		if !known {
			// Nothing of it is kept: no confirmed record holds the number.
			return "", t.store.MarkInbound(ctx, sid)
		}
		if err := t.answer(ctx, target, m, now); err != nil {
			return "", err
		}
		if err := t.keep(ctx, sid, target, m, body, now, false); err != nil {
			return "", err
		}
		log.Info("reply kept")
		return a.text("{sender}: ") + t.acknowledge(ctx, log, target, a.locale, m), nil
	}
}

// distress answers a text that reads as distress: at once, whoever sent it,
// with the crisis resources of their country in their language. Only a
// confirmed record is held (see internal/safety), keeps the reply, and (a
// clinic's client) raises the clinic's flag, which never carries the words.
// A STOP in the same text is applied too.
func (t *Twilio) distress(ctx context.Context, log *slog.Logger, sid, from string, target domain.Subscriber, known bool, m keyword.Match, body string, a answerSet, ev store.ConsentEvent) (string, error) {
	log.Warn("distress in a reply: resources sent", "rule", m.Rule, "known", known)
	if m.Kind == keyword.Stop {
		ev.Action = store.ConsentSMSStop
		if err := t.stopNumber(ctx, log, sid, from, ev); err != nil {
			return "", err
		}
		return a.crisis(false), nil
	}
	if !known {
		return a.crisis(false), t.store.MarkInbound(ctx, sid)
	}
	if err := t.responder().Hold(ctx, target, domain.SMS, m.Rule, a.lines, ""); err != nil {
		return "", err
	}
	if err := t.keep(ctx, sid, target, m, body, ev.At, true); err != nil {
		return "", err
	}
	return a.crisis(true), nil
}

// stopNumber applies a STOP to every record naming the number, once, and
// tells the clinic of each client whose texts were on.
func (t *Twilio) stopNumber(ctx context.Context, log *slog.Logger, sid, from string, ev store.ConsentEvent) error {
	stopped, err := t.store.StopNumber(ctx, from, sid, ev)
	if err != nil {
		return err
	}
	for _, sub := range stopped {
		if sub.Clinic != "" && sub.SMSStatus != domain.SMSStopped {
			t.emit(ctx, log, sub, notify.ClientOptedOut, notify.OptedOut{ClientID: sub.ID, Channel: notify.OptOutSMS, Source: ev.Source})
		}
	}
	return nil
}

// optIn handles YES and START: the records that asked this number to
// confirm (within store.SMSConfirmTTL) are confirmed, and texts the number's
// owner had confirmed and then stopped are turned back on for one record,
// the one the number's replies would reach, as are its nudges if paused or
// held after distress. Nothing else changes: a YES never confirms a record
// that did not ask.
func (t *Twilio) optIn(ctx context.Context, log *slog.Logger, sid string, holders []domain.Subscriber, routed string, known bool, a answerSet, ev store.ConsentEvent, now time.Time) (string, error) {
	ev.Action = store.ConsentSMSStart
	var turnedOn []domain.Subscriber
	for _, h := range holders {
		if store.Asked(h, now) {
			turnedOn = append(turnedOn, h)
		}
	}
	if again, ok := store.RestartRecipient(holders, routed); ok {
		turnedOn = append(turnedOn, again)
	}
	// Texts on, but paused (PAUSE) or held after distress: START resumes.
	if target, ok := store.ReplyRecipient(holders, routed); ok && (now.Before(target.PausedUntil) || !target.DistressAt.IsZero()) {
		turnedOn = append(turnedOn, target)
	}
	for _, h := range turnedOn {
		if err := t.confirm.ConfirmSMS(ctx, h.ID, ev); err != nil {
			return "", err
		}
		log.Info("sms opt-in", "subscriber_id", h.ID)
	}
	if err := t.store.MarkInbound(ctx, sid); err != nil {
		return "", err
	}
	switch {
	case len(turnedOn) > 0:
		// Answered in the words of the record that asked most recently.
		first := turnedOn[0]
		for _, h := range turnedOn[1:] {
			if h.SMSAskedAt.After(first.SMSAskedAt) {
				first = h
			}
		}
		on, err := t.answers(ctx, first.Phone, first, true, "")
		if err != nil {
			return "", err
		}
		return on.text(on.words.started), nil
	case known:
		return a.text(a.words.started), nil // on already
	default:
		return a.text(a.words.unknown), nil
	}
}

// keep stores a reply, marking the message handled with it; a client's
// reply is also sent to their clinic.
func (t *Twilio) keep(ctx context.Context, sid string, sub domain.Subscriber, m keyword.Match, body string, now time.Time, inCrisis bool) error {
	r := store.Reply{At: now, Channel: string(domain.SMS), Nudge: sub.LastNudge, Rating: m.Rating}
	text := strings.TrimSpace(body)
	if m.Kind == keyword.Rating {
		text = m.Note
	}
	r.Text = strings.ToValidUTF8(text, "")
	if len(r.Text) > maxReplyText {
		r.Text = strings.ToValidUTF8(r.Text[:maxReplyText], "")
	}
	if err := t.store.KeepReply(ctx, sub.ID, r, sid); err != nil {
		return err
	}
	// A reply in distress reaches the clinic as client.crisis_flag alone,
	// without the words.
	if sub.Clinic != "" && !inCrisis {
		t.emit(ctx, t.logger, sub, notify.ClientReplied, notify.Replied{
			ClientID: sub.ID, At: now.UTC().Format(time.RFC3339), Channel: string(domain.SMS),
			Rating: r.Rating, Text: r.Text, InReplyTo: r.Nudge,
		})
	}
	return nil
}

// sendLink answers LINK from a confirmed number with a link that opens the
// person's page once, within links.TextLinkTTL; each takes one text from
// the number's budget (the one confirmation texts use), so a number cannot
// be made to receive links without end.
func (t *Twilio) sendLink(ctx context.Context, log *slog.Logger, sid, from string, target domain.Subscriber, a answerSet) (string, error) {
	if t.budget != nil {
		ok, err := t.budget.AllowNumber(ctx, from)
		if err != nil {
			return "", err
		}
		if !ok {
			log.Info("link refused: the number's budget is spent")
			return a.text(a.words.linkLater), t.store.MarkInbound(ctx, sid)
		}
	}
	var nonce [12]byte
	if _, err := rand.Read(nonce[:]); err != nil {
		return "", fmt.Errorf("link nonce: %w", err)
	}
	link := t.links.TextLink(target.ID, hex.EncodeToString(nonce[:]))
	log.Info("link sent")
	return strings.Replace(a.text(a.words.link), "{link}", link, 1), t.store.MarkInbound(ctx, sid)
}

// answer keeps a reply as the answer to the check-in or prompt last sent
// to the record (a late reply still answers that one, never a newer one
// that has not gone out), so the person's month and the clinic's score
// series count it. A gratitude prompt takes no score: the whole text is the
// note. A second answer to the same message replaces the first. A reply to
// no known message (none sent yet) is kept as a reply only.
func (t *Twilio) answer(ctx context.Context, sub domain.Subscriber, m keyword.Match, now time.Time) error {
	if !store.ValidOccurrence(sub.LastNudge) {
		return nil
	}
	a := store.Answer{Occurrence: sub.LastNudge, Channel: domain.SMS, AnsweredAt: now}
	switch {
	case a.Program() == domain.Gratitude && m.Kind == keyword.Rating:
		a.Note = strings.TrimSpace(strconv.Itoa(m.Rating) + " " + m.Note)
	case m.Kind == keyword.Rating:
		a.Score, a.Note = m.Rating, m.Note
	default:
		a.Note = m.Note
	}
	if a.Score == 0 && store.CleanNote(a.Note) == "" {
		return nil
	}
	err := t.store.RecordAnswer(ctx, sub.ID, a)
	if domain.ErrorCode(err) == domain.ErrInvalid {
		t.logger.Warn("reply not kept as an answer", "subscriber_id", sub.ID, "err", err)
		return nil
	}
	return err
}

// acknowledge picks the words that answer a reply: they follow the score
// and the note, and never repeat the last acknowledgement this person got.
func (t *Twilio) acknowledge(ctx context.Context, log *slog.Logger, sub domain.Subscriber, locale string, m keyword.Match) string {
	note, score := m.Note, m.Rating
	if (store.Answer{Occurrence: sub.LastNudge}).Program() == domain.Gratitude {
		score = 0
	}
	last, err := t.store.LastAck(ctx, sub.ID)
	if err != nil {
		log.Warn("load last acknowledgement", "err", err)
		last = -1
	}
	text, index := ack.Pick(locale, score, note, last)
	if err := t.store.SetLastAck(ctx, sub.ID, index); err != nil {
		log.Warn("keep last acknowledgement", "err", err)
	}
	return text
}

// count counts an inbound text by what it was read as.
func (t *Twilio) count(m keyword.Match) {
	if t.metrics == nil {
		return
	}
	switch {
	case m.Distress:
		t.metrics.Inbound("crisis")
	case m.Kind == keyword.Rating:
		t.metrics.Inbound("rating")
	case m.Kind == keyword.Text:
		t.metrics.Inbound("note")
	default:
		t.metrics.Inbound("keyword")
	}
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

func formatDate(t time.Time, zone, locale string) string {
	if loc, err := time.LoadLocation(zone); err == nil {
		t = t.In(loc)
	}
	if locale == "es" {
		return t.Format("02/01")
	}
	return t.Format("Jan 2")
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
