package api

import (
	"encoding/json"
	"net/http"
	"time"

	"github.com/nudgehq/nudge/internal/clinic"
	"github.com/nudgehq/nudge/internal/domain"
	"github.com/nudgehq/nudge/internal/store"
)

// ---- what the API shows ----

// clientJSON is a client as the API shows it.
type clientJSON struct {
	ID             string   `json:"id"`
	FirstName      string   `json:"first_name"`
	Goal           *string  `json:"goal"`
	Email          *string  `json:"email"`
	Phone          *string  `json:"phone"`
	TimeZone       string   `json:"time_zone"`
	Locale         string   `json:"locale"`
	Channels       []string `json:"channels"`
	Status         string   `json:"status"`
	EmailConfirmed bool     `json:"email_confirmed"`
	SMSStatus      *string  `json:"sms_status"`
	PausedUntil    *string  `json:"paused_until"`
	NextSession    *string  `json:"next_session"`
	CreatedAt      string   `json:"created_at"`
}

func (s *Server) client(v clinic.ClientView) clientJSON {
	now := s.c.Now()
	out := clientJSON{
		ID: v.ID, FirstName: v.FirstName, Goal: optString(v.Goal), Email: optString(v.Email), Phone: optString(v.Phone),
		TimeZone: v.TimeZone, Locale: v.Locale, Channels: channels(v.Subscriber),
		Status: string(v.Status), EmailConfirmed: v.EmailConfirmed, SMSStatus: optString(string(v.SMSStatus)),
		NextSession: optTime(v.NextSession), CreatedAt: timeText(v.CreatedAt),
	}
	// A pause that has ended is shown as none.
	if v.PausedUntil.After(now) {
		out.PausedUntil = optTime(v.PausedUntil)
	}
	return out
}

// channels are the channels a client's prompts go out on: as chosen, or
// email alone when none was chosen (as domain.Subscriber.Wants reads it).
func channels(sub domain.Subscriber) []string {
	out := make([]string, 0, 2)
	for _, c := range sub.Channels {
		out = append(out, string(c))
	}
	if len(out) == 0 && sub.Email != "" {
		out = append(out, string(domain.Email))
	}
	return out
}

type promptJSON struct {
	ID        string  `json:"id"`
	Rule      string  `json:"rule"`
	Template  *int    `json:"template"`
	Text      *string `json:"text"`
	CreatedAt string  `json:"created_at"`
	NextAt    *string `json:"next_at"`
}

func prompt(v clinic.PromptView) promptJSON {
	out := promptJSON{ID: v.ID, Rule: v.Rule, Text: optString(v.Text), CreatedAt: timeText(v.CreatedAt), NextAt: optTime(v.Next)}
	if v.Template != 0 {
		n := v.Template
		out.Template = &n
	}
	return out
}

type deliveryJSON struct {
	Occurrence     string  `json:"occurrence"`
	Program        string  `json:"program"`
	Channel        string  `json:"channel"`
	State          string  `json:"state"`
	Reason         *string `json:"reason"`
	At             *string `json:"at"`
	ProviderStatus *string `json:"provider_status"`
	ErrorCode      *string `json:"error_code"`
}

func delivery(d store.DeliveryRecord) deliveryJSON {
	return deliveryJSON{
		Occurrence: d.Key.Date, Program: string(d.Key.Program), Channel: string(d.Key.Channel),
		State: string(d.State), Reason: optString(d.Reason), At: optTime(d.At), ProviderStatus: optString(d.ProviderStatus),
		ErrorCode: optString(d.ErrorCode),
	}
}

type replyJSON struct {
	At      string  `json:"at"`
	Channel string  `json:"channel"`
	Rating  *int    `json:"rating"`
	Text    *string `json:"text"`
	Nudge   *string `json:"nudge"`
}

func reply(r store.Reply) replyJSON {
	out := replyJSON{At: timeText(r.At), Channel: r.Channel, Text: optString(r.Text), Nudge: optString(r.Nudge)}
	if r.Rating != 0 {
		n := r.Rating
		out.Rating = &n
	}
	return out
}

// pageJSON is one page of a list; NextCursor is null on the last page.
type pageJSON[T any] struct {
	Data       []T     `json:"data"`
	NextCursor *string `json:"next_cursor"`
}

type listJSON[T any] struct {
	Data []T `json:"data"`
}

func page[S, T any](p clinic.Page[S], view func(S) T) pageJSON[T] {
	out := pageJSON[T]{Data: make([]T, 0, len(p.Items)), NextCursor: optString(p.Next)}
	for _, it := range p.Items {
		out.Data = append(out.Data, view(it))
	}
	return out
}

func optString(s string) *string {
	if s == "" {
		return nil
	}
	return &s
}

func timeText(t time.Time) string { return t.UTC().Format(time.RFC3339) }

func optTime(t time.Time) *string {
	if t.IsZero() {
		return nil
	}
	s := timeText(t)
	return &s
}

// ---- handlers ----

func (s *Server) openAPI(*request) response {
	return response{status: http.StatusOK, body: json.RawMessage(openAPIDoc)}
}

type enrolBody struct {
	FirstName string   `json:"first_name"`
	Goal      string   `json:"goal"`
	Email     string   `json:"email"`
	Phone     string   `json:"phone"`
	TimeZone  string   `json:"time_zone"`
	Locale    string   `json:"locale"`
	Channels  []string `json:"channels"`
	Consent   struct {
		ObtainedBy string `json:"obtained_by"`
		ObtainedAt string `json:"obtained_at"`
		Method     string `json:"method"`
	} `json:"consent"`
}

func (s *Server) enrol(r *request) response {
	var in enrolBody
	if resp, ok := decode(r, &in); !ok {
		return resp
	}
	at, bad := parseTime("consent.obtained_at", in.Consent.ObtainedAt)
	if bad != nil {
		return *bad
	}
	e := clinic.Enrolment{
		FirstName: in.FirstName, Goal: in.Goal, Email: in.Email, Phone: in.Phone, TimeZone: in.TimeZone, Locale: in.Locale,
		Consent: clinic.Attestation{By: in.Consent.ObtainedBy, At: at, Method: in.Consent.Method},
	}
	for _, c := range in.Channels {
		e.Channels = append(e.Channels, domain.Channel(c))
	}
	sub, err := s.c.Service.Enrol(r.ctx(), r.clinic.ID, e)
	if err != nil {
		return s.fail(r, err)
	}
	return response{status: http.StatusCreated, body: s.client(clinic.ClientView{Subscriber: sub})}
}

func (s *Server) listClients(r *request) response {
	cursor, limit, bad := pageParams(r, false)
	if bad != nil {
		return *bad
	}
	p, err := s.c.Service.Clients(r.ctx(), r.clinic.ID, cursor, limit)
	if err != nil {
		return s.fail(r, err)
	}
	return response{status: http.StatusOK, body: page(p, s.client)}
}

func (s *Server) getClient(r *request) response {
	v, err := s.c.Service.View(r.ctx(), r.clinic.ID, r.PathValue("id"))
	if err != nil {
		return s.fail(r, err)
	}
	return response{status: http.StatusOK, body: s.client(v)}
}

func (s *Server) removeClient(r *request) response {
	if err := s.c.Service.Remove(r.ctx(), r.clinic.ID, r.PathValue("id")); err != nil {
		return s.fail(r, err)
	}
	return response{status: http.StatusNoContent}
}

func (s *Server) pause(r *request) response {
	var in struct {
		Until string `json:"until"`
	}
	if resp, ok := decode(r, &in); !ok {
		return resp
	}
	if in.Until == "" {
		return invalid("until", "say until when (RFC 3339)")
	}
	until, bad := parseTime("until", in.Until)
	if bad != nil {
		return *bad
	}
	v, err := s.c.Service.Pause(r.ctx(), r.clinic.ID, r.PathValue("id"), until)
	if err != nil {
		return s.fail(r, err)
	}
	return response{status: http.StatusOK, body: s.client(v)}
}

func (s *Server) resume(r *request) response {
	// No body, or an empty object.
	if len(r.body) > 0 {
		var in struct{}
		if resp, ok := decode(r, &in); !ok {
			return resp
		}
	}
	v, err := s.c.Service.Resume(r.ctx(), r.clinic.ID, r.PathValue("id"))
	if err != nil {
		return s.fail(r, err)
	}
	return response{status: http.StatusOK, body: s.client(v)}
}

func (s *Server) setSession(r *request) response {
	var in struct {
		At string `json:"at"`
	}
	if resp, ok := decode(r, &in); !ok {
		return resp
	}
	at, bad := parseTime("at", in.At)
	if bad != nil {
		return *bad
	}
	v, err := s.c.Service.SetSession(r.ctx(), r.clinic.ID, r.PathValue("id"), at)
	if err != nil {
		return s.fail(r, err)
	}
	return response{status: http.StatusOK, body: s.client(v)}
}

func (s *Server) addPrompt(r *request) response {
	var in struct {
		Rule     string `json:"rule"`
		Template int    `json:"template"`
		Text     string `json:"text"`
	}
	if resp, ok := decode(r, &in); !ok {
		return resp
	}
	v, err := s.c.Service.AddPrompt(r.ctx(), r.clinic.ID, r.PathValue("id"),
		clinic.NewPrompt{Rule: in.Rule, Template: in.Template, Text: in.Text})
	if err != nil {
		return s.fail(r, err)
	}
	return response{status: http.StatusCreated, body: prompt(v)}
}

func (s *Server) listPrompts(r *request) response {
	ps, err := s.c.Service.Prompts(r.ctx(), r.clinic.ID, r.PathValue("id"))
	if err != nil {
		return s.fail(r, err)
	}
	out := listJSON[promptJSON]{Data: make([]promptJSON, 0, len(ps))}
	for _, p := range ps {
		out.Data = append(out.Data, prompt(p))
	}
	return response{status: http.StatusOK, body: out}
}

func (s *Server) removePrompt(r *request) response {
	if err := s.c.Service.RemovePrompt(r.ctx(), r.clinic.ID, r.PathValue("id"), r.PathValue("prompt_id")); err != nil {
		return s.fail(r, err)
	}
	return response{status: http.StatusNoContent}
}

func (s *Server) listDeliveries(r *request) response {
	cursor, limit, bad := pageParams(r, true)
	if bad != nil {
		return *bad
	}
	p, err := s.c.Service.Deliveries(r.ctx(), r.clinic.ID, r.PathValue("id"), cursor, limit)
	if err != nil {
		return s.fail(r, err)
	}
	return response{status: http.StatusOK, body: page(p, delivery)}
}

func (s *Server) listReplies(r *request) response {
	cursor, limit, bad := pageParams(r, true)
	if bad != nil {
		return *bad
	}
	p, err := s.c.Service.Replies(r.ctx(), r.clinic.ID, r.PathValue("id"), cursor, limit)
	if err != nil {
		return s.fail(r, err)
	}
	return response{status: http.StatusOK, body: page(p, reply)}
}

// ---- the clinic's webhook ----

type webhookJSON struct {
	URL *string `json:"url"`
	// Secret is the new signing secret, shown once, when this request
	// turned webhooks on; left out otherwise.
	Secret *string `json:"secret,omitempty"`
}

func (s *Server) getWebhook(r *request) response {
	return response{status: http.StatusOK, body: webhookJSON{URL: optString(r.clinic.WebhookURL)}}
}

func (s *Server) setWebhook(r *request) response {
	var in struct {
		URL string `json:"url"`
	}
	if resp, ok := decode(r, &in); !ok {
		return resp
	}
	if in.URL == "" {
		return invalid("url", "give the https URL events are posted to (DELETE /api/v1/webhook turns them off)")
	}
	w, err := s.c.Service.SetWebhook(r.ctx(), r.clinic.ID, in.URL)
	if err != nil {
		return s.fail(r, err)
	}
	return response{status: http.StatusOK, body: webhookJSON{URL: optString(w.URL), Secret: optString(w.Secret)}}
}

func (s *Server) removeWebhook(r *request) response {
	if _, err := s.c.Service.SetWebhook(r.ctx(), r.clinic.ID, ""); err != nil {
		return s.fail(r, err)
	}
	return response{status: http.StatusNoContent}
}
