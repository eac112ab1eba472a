package api

import (
	"net/http"
	"time"

	"github.com/nudgehq/nudge/internal/store"
)

// ratingJSON is one score a client gave.
type ratingJSON struct {
	Occurrence string  `json:"occurrence"`
	Program    string  `json:"program"`
	Score      int     `json:"score"`
	Channel    string  `json:"channel"`
	SentAt     *string `json:"sent_at"`
	AnsweredAt string  `json:"answered_at"`
}

func rating(a store.Answer) ratingJSON {
	return ratingJSON{Occurrence: a.Date(), Program: string(a.Program()), Score: a.Score, Channel: string(a.Channel),
		SentAt: optTime(a.SentAt), AnsweredAt: timeText(a.AnsweredAt)}
}

// listRatings answers GET /api/v1/clients/{id}/ratings?from=&to=.
func (s *Server) listRatings(r *request) response {
	q := r.URL.Query()
	var bounds [2]time.Time
	for i, name := range []string{"from", "to"} {
		v := q.Get(name)
		if v == "" {
			continue
		}
		t, err := time.Parse(time.RFC3339, v)
		if err != nil {
			return invalid(name, "want a date-time like 2026-11-01T00:00:00Z")
		}
		bounds[i] = t
	}
	all, err := s.c.Service.Ratings(r.ctx(), r.clinic.ID, r.PathValue("id"), bounds[0], bounds[1])
	if err != nil {
		return s.fail(r, err)
	}
	out := listJSON[ratingJSON]{Data: make([]ratingJSON, 0, len(all))}
	for _, a := range all {
		out.Data = append(out.Data, rating(a))
	}
	return response{status: http.StatusOK, body: out}
}
