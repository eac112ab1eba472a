// Package safety acts when a reply reads as distress. Nothing here
// diagnoses or counsels: the person gets, at once, the crisis resources of
// their country in their language (see internal/crisis); a record whose
// replies are confirmed to be theirs has its nudges held back (a pause of
// HoldFor, then held until the person resumes, after one gentle check-in);
// the detection is kept for the person's own record; and a clinic's client
// raises the clinic's client.crisis_flag event and an alert in the clinic
// console, which name the client, the time and the channel, never the words.
//
// Recognition itself is internal/distress, reached through
// internal/keyword's one reading of a text. The SMS webhook and the email
// answer page both come here, so every door acts alike.
package safety

import (
	"context"
	"log/slog"
	"time"

	"github.com/nudgehq/nudge/internal/crisis"
	"github.com/nudgehq/nudge/internal/domain"
	"github.com/nudgehq/nudge/internal/notify"
	"github.com/nudgehq/nudge/internal/store"
)

// HoldFor is the pause a reply in distress starts.
const HoldFor = 7 * 24 * time.Hour

// Notifier raises a clinic's events (notify.Notifier satisfies it).
type Notifier interface {
	Emit(ctx context.Context, clinicID, eventType string, data any) error
}

// Responder carries out what distress calls for.
type Responder struct {
	Store  *store.Store
	Lines  *crisis.Directory // nil: crisis.Default()
	Events Notifier          // nil: no clinic events
	Alerts AlertQueue        // nil: no alert emails to staff
	Now    func() time.Time
	Logger *slog.Logger
}

// Help is what a person is told to do now, for a text and for a page or an
// email.
type Help struct {
	Country, Locale string
	SMS, Email      string
}

// HelpFor returns the crisis resources for a person with this number and
// zone (either may be empty), in locale, with a clinic's own crisis line
// added when it set one.
func (r *Responder) HelpFor(phone, zone, locale, clinicText string) Help {
	lines := r.Lines
	if lines == nil {
		lines = crisis.Default()
	}
	if locale != "es" {
		locale = "en"
	}
	country := crisis.CountryFor(phone, zone)
	h := Help{Country: country, Locale: locale, SMS: lines.SMS(country, locale), Email: lines.Email(country, locale)}
	if clinicText != "" {
		h.SMS += " " + clinicText
		h.Email += " " + clinicText
	}
	return h
}

// Hold records a detection on a confirmed record and holds its nudges
// back; for a clinic's client it raises the clinic's flag. sid is the
// inbound message (marked handled with the hold) or "".
func (r *Responder) Hold(ctx context.Context, sub domain.Subscriber, channel domain.Channel, rule string, help Help, sid string) error {
	now := r.Now()
	d := store.Detection{At: now, Channel: string(channel), Rule: rule, Answer: "crisis-resources " + orElsewhere(help.Country) + " " + help.Locale}
	ev := store.ConsentEvent{At: now, Action: store.ConsentPause, Channel: string(channel), Source: "distress", Detail: "held after a reply in distress"}
	if err := r.Store.HoldForDistress(ctx, sub.ID, now.Add(HoldFor), d, sid, ev); err != nil {
		return err
	}
	r.Logger.Warn("distress in a reply: resources given, nudges held", "subscriber_id", sub.ID, "channel", channel, "rule", rule)
	if sub.Clinic != "" {
		// The console's alert list: open until staff acknowledge and
		// resolve it. Like the flag, it holds no words.
		a := store.Alert{ID: store.NewID(), Kind: store.AlertDistress, Client: sub.ID, At: now, Channel: string(channel)}
		if err := r.Store.RaiseAlert(ctx, sub.Clinic, a); err != nil {
			r.Logger.Error("could not record the clinic's distress alert", "clinic_id", sub.Clinic, "subscriber_id", sub.ID, "err", err)
		} else if r.Alerts != nil {
			if err := r.Alerts.AlertRaised(ctx, sub.Clinic, a); err != nil {
				r.Logger.Error("could not queue the distress alert's emails", "clinic_id", sub.Clinic, "alert_id", a.ID, "err", err)
			}
		}
	}
	if sub.Clinic != "" && r.Events != nil {
		flag := notify.CrisisFlag{ClientID: sub.ID, At: now.UTC().Format(time.RFC3339), Channel: string(channel)}
		if err := r.Events.Emit(ctx, sub.Clinic, notify.ClientCrisisFlag, flag); err != nil {
			// The person has their answer and the hold; the flag's loss is
			// logged loudly, with ids only.
			r.Logger.Error("could not raise the clinic's crisis flag", "clinic_id", sub.Clinic, "subscriber_id", sub.ID, "err", err)
		}
	}
	return nil
}

func orElsewhere(country string) string {
	if country == "" {
		return "elsewhere"
	}
	return country
}
