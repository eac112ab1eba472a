// Package httproute tells a request's outer handlers which ServeMux pattern
// served it. A ServeMux sets Request.Pattern only on the request it hands
// on, and middleware between muxes hands on copies, so an outer handler
// never sees the inner pattern; Record writes it where Recording can read it.
package httproute

import (
	"context"
	"net/http"
	"sync"
)

type recorderKey struct{}

type recorder struct {
	mu      sync.Mutex
	pattern string
}

// Recording returns r with a place for the route, and a function that reads
// what was recorded there once the request is served ("" when no mux
// matched it).
func Recording(r *http.Request) (*http.Request, func() string) {
	rec := &recorder{}
	r = r.WithContext(context.WithValue(r.Context(), recorderKey{}, rec))
	return r, func() string {
		rec.mu.Lock()
		defer rec.mu.Unlock()
		return rec.pattern
	}
}

// Record serves r with mux, first recording the pattern mux matches for it.
// Muxes nest: the innermost has the last word, so a path the outer mux
// hands on and the inner one does not know records no route.
func Record(mux *http.ServeMux) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if rec, ok := r.Context().Value(recorderKey{}).(*recorder); ok {
			_, pattern := mux.Handler(r) // "" when nothing matches: a 404 of its own
			rec.mu.Lock()
			rec.pattern = pattern
			rec.mu.Unlock()
		}
		mux.ServeHTTP(w, r)
	})
}
