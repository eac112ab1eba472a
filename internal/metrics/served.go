package metrics

import (
	"github.com/hibiken/asynq"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
)

// Served returns everything a nudge process serves at /metrics, in a
// registry of its own: nudge's metrics, asynq's queues read through in, and
// the Go runtime's and the process's. The dashboards in deploy/ are checked
// against this registry, so a metric renamed here fails their tests.
func Served(in *asynq.Inspector) (*prometheus.Registry, *Metrics) {
	reg := prometheus.NewRegistry()
	reg.MustRegister(collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))
	reg.MustRegister(NewQueueCollector(in))
	return reg, New(reg)
}
