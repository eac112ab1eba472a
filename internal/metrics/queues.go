package metrics

import (
	"github.com/hibiken/asynq"
	"github.com/prometheus/client_golang/prometheus"
)

// Queue metrics, named as asynq's own exporter (asynq/x/metrics, which is
// not part of the asynq module nudge builds with) names them, so asynq's
// dashboards read them too. They describe Redis, not this process: every
// process that serves metrics reports the same values, so dashboards take
// max() over instances.
var (
	queueTasks = prometheus.NewDesc("asynq_tasks_enqueued_total",
		"Tasks in a queue, by state.", []string{"queue", "state"}, nil)
	queueSize = prometheus.NewDesc("asynq_queue_size",
		"Tasks in a queue, all states.", []string{"queue"}, nil)
	queueLatency = prometheus.NewDesc("asynq_queue_latency_seconds",
		"How long the oldest pending task of a queue has waited.", []string{"queue"}, nil)
	queuePaused = prometheus.NewDesc("asynq_queue_paused_total",
		"1 when the queue is paused.", []string{"queue"}, nil)
	queueUp = prometheus.NewDesc("nudge_queue_scrape_ok",
		"1 when the queues could be read from Redis at this scrape.", nil, nil)
)

// QueueCollector reads asynq's queues from Redis at each scrape.
type QueueCollector struct{ in *asynq.Inspector }

// NewQueueCollector returns a collector over the queues in's Redis holds.
func NewQueueCollector(in *asynq.Inspector) *QueueCollector { return &QueueCollector{in: in} }

// Describe implements prometheus.Collector.
func (c *QueueCollector) Describe(ch chan<- *prometheus.Desc) {
	for _, d := range []*prometheus.Desc{queueTasks, queueSize, queueLatency, queuePaused, queueUp} {
		ch <- d
	}
}

// Collect implements prometheus.Collector. A Redis that does not answer
// gives nudge_queue_scrape_ok 0 and no queue series, not a failed scrape.
func (c *QueueCollector) Collect(ch chan<- prometheus.Metric) {
	queues, err := c.in.Queues()
	if err != nil {
		ch <- prometheus.MustNewConstMetric(queueUp, prometheus.GaugeValue, 0)
		return
	}
	ok := 1.0
	for _, q := range queues {
		info, err := c.in.GetQueueInfo(q)
		if err != nil {
			ok = 0
			continue
		}
		for state, n := range map[string]int{
			"active": info.Active, "pending": info.Pending, "scheduled": info.Scheduled, "retry": info.Retry,
			"archived": info.Archived, "completed": info.Completed, "aggregating": info.Aggregating,
		} {
			ch <- prometheus.MustNewConstMetric(queueTasks, prometheus.GaugeValue, float64(n), q, state)
		}
		ch <- prometheus.MustNewConstMetric(queueSize, prometheus.GaugeValue, float64(info.Size), q)
		ch <- prometheus.MustNewConstMetric(queueLatency, prometheus.GaugeValue, info.Latency.Seconds(), q)
		paused := 0.0
		if info.Paused {
			paused = 1
		}
		ch <- prometheus.MustNewConstMetric(queuePaused, prometheus.GaugeValue, paused, q)
	}
	ch <- prometheus.MustNewConstMetric(queueUp, prometheus.GaugeValue, ok)
}
