package web

import "github.com/nudgehq/nudge/internal/domain"

// SignupMetrics counts signup form posts (metrics.Metrics satisfies it).
type SignupMetrics interface {
	Signup(channel, outcome string)
}

// countSignup counts one signup post's outcome on each channel sub asked
// for, or on "none" when the post ended before any was read (sub nil).
func (s *Server) countSignup(sub *domain.Subscriber, outcome string) {
	if s.d.Metrics == nil {
		return
	}
	if sub == nil || len(sub.Channels) == 0 {
		s.d.Metrics.Signup("none", outcome)
		return
	}
	for _, c := range sub.Channels {
		s.d.Metrics.Signup(string(c), outcome)
	}
}
