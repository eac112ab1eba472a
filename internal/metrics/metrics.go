// Package metrics counts what nudge does, for Prometheus: messages by
// channel, program and outcome, how late they go out, the planner's
// backlog and passes, rate-limit waits, inbound texts, clinic webhooks, HTTP
// requests and signups, plus asynq's queue sizes.
//
// Every metric lives in a registry passed in (never Prometheus's global
// one), so two programs in one test process do not share counters. Every
// label takes its value from a short fixed list: an address, a number, an id
// or free text never becomes a label (a value outside its list is counted as
// "other"). A nil *Metrics counts nothing, so parts built without metrics
// need no checks.
package metrics

import (
	"net/http"
	"regexp"
	"strconv"
	"time"

	"github.com/nudgehq/nudge/internal/domain"
	"github.com/nudgehq/nudge/internal/httproute"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/promhttp"
)

// Metrics holds nudge's collectors.
type Metrics struct {
	reg          *prometheus.Registry
	messages     *prometheus.CounterVec
	lateness     *prometheus.HistogramVec
	backlog      prometheus.Gauge
	tick         prometheus.Histogram
	rateWait     *prometheus.CounterVec
	inbound      *prometheus.CounterVec
	webhooks     *prometheus.CounterVec
	httpRequests *prometheus.CounterVec
	signups      *prometheus.CounterVec
}

// New registers nudge's metrics in reg and returns them.
func New(reg *prometheus.Registry) *Metrics {
	m := &Metrics{
		reg: reg,
		messages: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "nudge_messages_total",
			Help: "Messages by channel, program and how their delivery ended (sent, failed, skipped, unknown).",
		}, []string{"channel", "program", "state"}),
		lateness: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Name:    "nudge_delivery_lateness_seconds",
			Help:    "Time from an occurrence's planned instant to handing it to the provider.",
			Buckets: []float64{0.1, 0.5, 1, 2, 5, 10, 30, 60, 120, 300, 900, 3600, 6 * 3600},
		}, []string{"channel"}),
		backlog: prometheus.NewGauge(prometheus.GaugeOpts{
			Name: "nudge_planner_due_backlog",
			Help: "Occurrences due now and not yet queued, after the planner's last pass.",
		}),
		tick: prometheus.NewHistogram(prometheus.HistogramOpts{
			Name:    "nudge_planner_tick_seconds",
			Help:    "How long one planner pass took.",
			Buckets: prometheus.ExponentialBuckets(0.001, 4, 10),
		}),
		rateWait: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "nudge_rate_limit_wait_seconds_total",
			Help: "Time sends spent waiting for the channel's shared rate.",
		}, []string{"channel"}),
		inbound: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "nudge_inbound_total",
			Help: "Texts received, by what they were read as (keyword, rating, note, crisis).",
		}, []string{"kind"}),
		webhooks: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "nudge_webhooks_total",
			Help: "Clinic webhook attempts by result (delivered, retry, failed, refused).",
		}, []string{"result"}),
		httpRequests: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "nudge_http_requests_total",
			Help: "HTTP requests by route pattern and status code.",
		}, []string{"route", "code"}),
		signups: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "nudge_signups_total",
			Help: "Signup form posts by channel and outcome (accepted, invalid, limited, bot).",
		}, []string{"channel", "outcome"}),
	}
	reg.MustRegister(m.messages, m.lateness, m.backlog, m.tick, m.rateWait, m.inbound, m.webhooks, m.httpRequests, m.signups)
	// Series that exist from the start read 0 instead of missing, so rates
	// and alerts work before the first event.
	for c := range channels {
		m.rateWait.WithLabelValues(c)
		for o := range signupOutcomes {
			m.signups.WithLabelValues(c, o)
		}
	}
	for k := range inboundKinds {
		m.inbound.WithLabelValues(k)
	}
	for r := range webhookResults {
		m.webhooks.WithLabelValues(r)
	}
	return m
}

// Handler serves the registry in Prometheus's text format.
func (m *Metrics) Handler() http.Handler {
	return promhttp.HandlerFor(m.reg, promhttp.HandlerOpts{Registry: m.reg})
}

// The label values each label may take.
var (
	channels       = set("email", "sms")
	states         = set("sent", "failed", "skipped", "unknown")
	inboundKinds   = set("keyword", "rating", "note", "crisis")
	webhookResults = set("delivered", "retry", "failed", "refused")
	signupOutcomes = set("accepted", "invalid", "limited", "bot")
	signupChannels = set("email", "sms", "none")
	systemProgram  = regexp.MustCompile(`^system-[a-z][a-z-]{0,30}$`)
)

func set(vs ...string) map[string]bool {
	m := make(map[string]bool, len(vs))
	for _, v := range vs {
		m[v] = true
	}
	return m
}

// only returns v when allowed has it, else "other".
func only(allowed map[string]bool, v string) string {
	if allowed[v] {
		return v
	}
	return "other"
}

// program returns a program's name, or system-<kind> for the messages the
// service sends of itself (confirmations, notices).
func program(p string) string {
	if domain.Program(p).Valid() || systemProgram.MatchString(p) {
		return p
	}
	return "other"
}

// Message counts one delivery that ended in state.
func (m *Metrics) Message(channel, prog, state string) {
	if m == nil {
		return
	}
	m.messages.WithLabelValues(only(channels, channel), program(prog), only(states, state)).Inc()
}

// Lateness records how long after its planned instant a message was handed
// to the provider; a message handed over early counts as on time.
func (m *Metrics) Lateness(channel string, late time.Duration) {
	if m == nil {
		return
	}
	m.lateness.WithLabelValues(only(channels, channel)).Observe(max(late, 0).Seconds())
}

// PlannerBacklog sets how many occurrences are due and not yet queued.
func (m *Metrics) PlannerBacklog(n int64) {
	if m == nil {
		return
	}
	m.backlog.Set(float64(n))
}

// PlannerTick records one planner pass's duration.
func (m *Metrics) PlannerTick(d time.Duration) {
	if m == nil {
		return
	}
	m.tick.Observe(d.Seconds())
}

// RateLimitWait adds time a send waited for its channel's rate.
func (m *Metrics) RateLimitWait(channel string, d time.Duration) {
	if m == nil || d <= 0 {
		return
	}
	m.rateWait.WithLabelValues(only(channels, channel)).Add(d.Seconds())
}

// Inbound counts one received text by what it was read as: keyword, rating,
// note or crisis.
func (m *Metrics) Inbound(kind string) {
	if m == nil {
		return
	}
	m.inbound.WithLabelValues(only(inboundKinds, kind)).Inc()
}

// Webhook counts one clinic webhook attempt: delivered, retry (to be tried
// again), failed (given up) or refused (the address may not be called).
func (m *Metrics) Webhook(result string) {
	if m == nil {
		return
	}
	m.webhooks.WithLabelValues(only(webhookResults, result)).Inc()
}

// Signup counts one signup form post on a channel (none when it ended
// before any was read): accepted, invalid, limited or bot.
func (m *Metrics) Signup(channel, outcome string) {
	if m == nil {
		return
	}
	m.signups.WithLabelValues(only(signupChannels, channel), only(signupOutcomes, outcome)).Inc()
}

// HTTP counts every request next serves by its route, the ServeMux pattern
// that matched (as httproute records it; "none" when none did), and its
// status code.
func (m *Metrics) HTTP(next http.Handler) http.Handler {
	if m == nil {
		return next
	}
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		r, route := httproute.Recording(r)
		sw := &statusWriter{ResponseWriter: w, code: http.StatusOK}
		next.ServeHTTP(sw, r)
		pattern := route()
		if pattern == "" {
			pattern = "none"
		}
		m.httpRequests.WithLabelValues(pattern, strconv.Itoa(sw.code)).Inc()
	})
}

// statusWriter remembers the status code a handler answered.
type statusWriter struct {
	http.ResponseWriter
	code        int
	wroteHeader bool
}

func (w *statusWriter) WriteHeader(code int) {
	if !w.wroteHeader {
		w.code, w.wroteHeader = code, true
	}
	w.ResponseWriter.WriteHeader(code)
}

func (w *statusWriter) Write(b []byte) (int, error) {
	w.wroteHeader = true
	return w.ResponseWriter.Write(b)
}

// Unwrap lets http.ResponseController reach the connection's writer.
func (w *statusWriter) Unwrap() http.ResponseWriter { return w.ResponseWriter }
