package clinic

import (
	"context"
	"fmt"

	"github.com/nudgehq/nudge/internal/domain"
	"github.com/nudgehq/nudge/internal/store"
)

// Principal is who a clinic request acts as. The JSON API resolves a
// request to one from its bearer key, the console from its session; both
// then reach a client only through Reach, so one rule decides for both
// who may act on which client.
type Principal struct {
	Clinic string
	// Key is the API key's id, for a request made with a key: a key acts
	// for the whole clinic.
	Key string
	// Staff and Role are the staff member signed in to the console: an
	// owner acts for the whole clinic, a clinician for the clients
	// assigned to them (the minimum necessary).
	Staff string
	Role  string
}

// WholeClinic reports whether p may act on every client of its clinic.
func (p Principal) WholeClinic() bool {
	return p.Key != "" || (p.Staff != "" && p.Role == store.RoleOwner)
}

// MayView says whether p may see client, given the clinic's assignments
// (a listing checks many clients at once).
func (p Principal) MayView(client string, assigned map[string]string) bool {
	return p.WholeClinic() || (p.Staff != "" && assigned[client] == p.Staff)
}

// Reach loads a client p may act on: one of p's clinic's, and for a
// clinician one assigned to them. Anything else, another clinic's id
// included, is the same not-found as an id that does not exist.
func (s *Service) Reach(ctx context.Context, p Principal, id string) (domain.Subscriber, error) {
	if p.Clinic == "" {
		return domain.Subscriber{}, fmt.Errorf("client %s: no clinic: %w", id, store.ErrNotFound)
	}
	sub, err := s.c.Store.Client(ctx, p.Clinic, id)
	if err != nil {
		return domain.Subscriber{}, err
	}
	if p.WholeClinic() {
		return sub, nil
	}
	by, err := s.c.Store.AssignedTo(ctx, p.Clinic, id)
	if err != nil {
		return domain.Subscriber{}, err
	}
	if p.Staff == "" || by != p.Staff {
		return domain.Subscriber{}, fmt.Errorf("client %s is not assigned to %s: %w", id, p.Staff, store.ErrNotFound)
	}
	return sub, nil
}
