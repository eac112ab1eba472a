package deploy

import (
	"encoding/json"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"path"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/hibiken/asynq"
	"github.com/nudgehq/nudge/internal/metrics"
	"github.com/prometheus/client_golang/prometheus"
	dto "github.com/prometheus/client_model/go"
	"github.com/redis/go-redis/v9"
	"go.uber.org/goleak"
	"go.yaml.in/yaml/v2"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

const dashboardFile = "grafana/dashboards/nudge.json"

// dashboard is the part of Grafana's dashboard model the tests read.
type dashboard struct {
	UID    string  `json:"uid"`
	Title  string  `json:"title"`
	Panels []panel `json:"panels"`
}

type panel struct {
	ID         int                      `json:"id"`
	Type       string                   `json:"type"`
	Title      string                   `json:"title"`
	Datasource datasource               `json:"datasource"`
	GridPos    struct{ H, W, X, Y int } `json:"gridPos"`
	Targets    []struct {
		RefID      string     `json:"refId"`
		Expr       string     `json:"expr"`
		Datasource datasource `json:"datasource"`
	} `json:"targets"`
	Panels []panel `json:"panels"` // a collapsed row's panels
}

type datasource struct {
	Type string `json:"type"`
	UID  string `json:"uid"`
}

func loadDashboard(t *testing.T) dashboard {
	t.Helper()
	b, err := os.ReadFile(dashboardFile)
	if err != nil {
		t.Fatal(err)
	}
	var d dashboard
	if err := json.Unmarshal(b, &d); err != nil {
		t.Fatalf("%s does not parse: %v", dashboardFile, err)
	}
	return d
}

// panels returns every panel, rows' panels included.
func (d dashboard) panels() []panel {
	var out []panel
	for _, p := range d.Panels {
		out = append(out, p)
		out = append(out, p.Panels...)
	}
	return out
}

// servedMetrics returns the names a nudge process serves at /metrics
// (series names: a histogram's _bucket, _sum and _count), from the registry
// the process builds (metrics.Served) and asynq's queue collector in it.
func servedMetrics(t *testing.T) map[string]bool {
	t.Helper()
	rdb := redis.NewClient(&redis.Options{Addr: "127.0.0.1:1"}) // never dialled: describing reads no Redis
	t.Cleanup(func() { rdb.Close() })
	reg, _ := metrics.Served(asynq.NewInspectorFromRedisClient(rdb))

	// A Desc does not tell its type: the histograms are found by gathering
	// nudge's own metrics after using each of them once.
	types := map[string]dto.MetricType{}
	own := prometheus.NewRegistry()
	useEveryMetric(metrics.New(own))
	families, err := own.Gather()
	if err != nil {
		t.Fatal(err)
	}
	for _, f := range families {
		types[f.GetName()] = f.GetType()
	}

	ch := make(chan *prometheus.Desc)
	go func() {
		reg.Describe(ch)
		close(ch)
	}()
	fqName := regexp.MustCompile(`fqName: "([^"]+)"`)
	names := map[string]bool{}
	for d := range ch {
		m := fqName.FindStringSubmatch(d.String())
		if m == nil {
			t.Fatalf("no name in %s", d)
		}
		names[m[1]] = true
		if types[m[1]] == dto.MetricType_HISTOGRAM {
			for _, s := range []string{"_bucket", "_sum", "_count"} {
				names[m[1]+s] = true
			}
		}
	}
	for _, want := range []string{"nudge_messages_total", "nudge_delivery_lateness_seconds_bucket", "asynq_queue_size"} {
		if !names[want] {
			t.Fatalf("the served metrics have no %s: the reading of the registry is broken (%d names)", want, len(names))
		}
	}
	return names
}

// useEveryMetric records one value in each of nudge's metrics, so that
// every family is gathered with its type.
func useEveryMetric(m *metrics.Metrics) {
	m.Message("email", "weekly-checkin", "sent")
	m.Lateness("email", time.Second)
	m.PlannerBacklog(1)
	m.PlannerTick(time.Millisecond)
	m.RateLimitWait("email", time.Second)
	m.Inbound("rating")
	m.Webhook("delivered")
	m.Signup("email", "accepted")
	m.HTTP(http.NotFoundHandler()).ServeHTTP(httptest.NewRecorder(), httptest.NewRequest(http.MethodGet, "/", nil))
}

// unknownMetrics returns the metric names d's queries use that are not in
// served, each with the panel that uses it.
func unknownMetrics(t *testing.T, d dashboard, served map[string]bool) []string {
	t.Helper()
	var unknown []string
	for _, p := range d.panels() {
		for _, q := range p.Targets {
			names, err := metricNames(q.Expr)
			if err != nil {
				t.Errorf("panel %q: %v", p.Title, err)
				continue
			}
			if len(names) == 0 {
				t.Errorf("panel %q query %s reads no metric: %s", p.Title, q.RefID, q.Expr)
			}
			for _, n := range names {
				if !served[n] {
					unknown = append(unknown, n+" (panel "+p.Title+")")
				}
			}
		}
	}
	return unknown
}

func TestDashboardPanelsHaveATitleAndAQuery(t *testing.T) {
	d := loadDashboard(t)
	if d.UID == "" || d.Title == "" {
		t.Errorf("dashboard uid %q, title %q: want both", d.UID, d.Title)
	}
	ds := provisionedDatasource(t)
	ids := map[int]bool{}
	queries := 0
	for _, p := range d.panels() {
		if strings.TrimSpace(p.Title) == "" {
			t.Errorf("panel %d (%s) has no title", p.ID, p.Type)
		}
		if ids[p.ID] {
			t.Errorf("panel id %d is used twice", p.ID)
		}
		ids[p.ID] = true
		if p.Type == "row" {
			continue
		}
		if len(p.Targets) == 0 {
			t.Errorf("panel %q has no query", p.Title)
		}
		if p.Datasource.UID != ds {
			t.Errorf("panel %q reads data source %q; the provisioned one is %q", p.Title, p.Datasource.UID, ds)
		}
		for _, q := range p.Targets {
			queries++
			if strings.TrimSpace(q.Expr) == "" {
				t.Errorf("panel %q query %s is empty", p.Title, q.RefID)
			}
			if q.Datasource.UID != ds {
				t.Errorf("panel %q query %s reads data source %q; the provisioned one is %q", p.Title, q.RefID, q.Datasource.UID, ds)
			}
		}
	}
	if queries < 10 {
		t.Errorf("%d queries in the dashboard: the panels were not read", queries)
	}
}

// A panel placed over another is hidden or shoved about by Grafana.
func TestDashboardPanelsDoNotOverlap(t *testing.T) {
	d := loadDashboard(t)
	type cell struct{ x, y int }
	taken := map[cell]string{}
	for _, p := range d.panels() {
		g := p.GridPos
		if g.W <= 0 || g.H <= 0 || g.X < 0 || g.X+g.W > 24 {
			t.Errorf("panel %q is at x %d width %d height %d: outside the 24-column grid", p.Title, g.X, g.W, g.H)
			continue
		}
		for x := g.X; x < g.X+g.W; x++ {
			for y := g.Y; y < g.Y+g.H; y++ {
				if other, ok := taken[cell{x, y}]; ok {
					t.Errorf("panel %q overlaps %q at (%d, %d)", p.Title, other, x, y)
					goto next
				}
				taken[cell{x, y}] = p.Title
			}
		}
	next:
	}
}

func TestDashboardQueriesOnlyNameMetricsNudgeServes(t *testing.T) {
	served := servedMetrics(t)
	d := loadDashboard(t)
	if unknown := unknownMetrics(t, d, served); len(unknown) > 0 {
		t.Errorf("the dashboard reads metrics nudge does not serve:\n%s", strings.Join(unknown, "\n"))
	}
	// The check itself catches a renamed metric.
	renamed := loadDashboard(t)
	for i := range renamed.Panels {
		for j := range renamed.Panels[i].Targets {
			q := &renamed.Panels[i].Targets[j]
			q.Expr = strings.ReplaceAll(q.Expr, "nudge_messages_total", "nudge_message_total")
		}
	}
	unknown := unknownMetrics(t, renamed, served)
	if len(unknown) == 0 || !strings.HasPrefix(unknown[0], "nudge_message_total") {
		t.Errorf("a dashboard reading nudge_message_total passed the check: %v", unknown)
	}
}

func TestMetricNames(t *testing.T) {
	for _, tc := range []struct {
		expr string
		want []string
	}{
		{`sum by (channel, state) (rate(nudge_messages_total{state=~"failed|unknown", channel!="x{y}"}[$__rate_interval])) * 60`, []string{"nudge_messages_total"}},
		{`histogram_quantile(0.99, sum by (le) (rate(nudge_planner_tick_seconds_bucket[5m])))`, []string{"nudge_planner_tick_seconds_bucket"}},
		{`max(asynq_queue_size) or vector(0)`, []string{"asynq_queue_size"}},
		{`a_total / on(job) group_left(instance) b_info offset 1h`, []string{"a_total", "b_info"}},
		{`sum without (le) (x2_seconds_count) > bool 1e3`, []string{"x2_seconds_count"}},
		{`max_over_time(up[1h:5m]) - 60-y`, []string{"up", "y"}},
		{`'by' and "rate("`, nil},
	} {
		got, err := metricNames(tc.expr)
		if err != nil || !slices.Equal(got, tc.want) {
			t.Errorf("metricNames(%s) = %v, %v; want %v", tc.expr, got, err, tc.want)
		}
	}
	for _, bad := range []string{`{__name__=~"nudge_.*"}`, `rated(nudge_messages_total[5m])`} {
		if _, err := metricNames(bad); err == nil {
			t.Errorf("metricNames(%s) read it without complaint", bad)
		}
	}
}

// compose is the part of docker-compose.yml the tests read.
type compose struct {
	Services map[string]struct {
		Profiles    []string          `yaml:"profiles"`
		Image       string            `yaml:"image"`
		Command     []string          `yaml:"command"`
		Environment map[string]string `yaml:"environment"`
		Expose      []string          `yaml:"expose"`
		Ports       []string          `yaml:"ports"`
		Volumes     []string          `yaml:"volumes"`
	} `yaml:"services"`
}

func readYAML(t *testing.T, file string, v any) {
	t.Helper()
	b, err := os.ReadFile(file)
	if err != nil {
		t.Fatal(err)
	}
	if err := yaml.UnmarshalStrict(b, v); err != nil {
		t.Fatalf("%s: %v", file, err)
	}
}

// provisionedDatasource returns the uid of Grafana's Prometheus data source.
func provisionedDatasource(t *testing.T) string {
	t.Helper()
	var ds struct {
		APIVersion  int `yaml:"apiVersion"`
		Datasources []struct {
			Name, UID, Type, Access, URL string
			IsDefault                    bool           `yaml:"isDefault"`
			Editable                     bool           `yaml:"editable"`
			JSONData                     map[string]any `yaml:"jsonData"`
		} `yaml:"datasources"`
	}
	readYAML(t, "grafana/provisioning/datasources/prometheus.yml", &ds)
	if len(ds.Datasources) != 1 || ds.Datasources[0].Type != "prometheus" || ds.Datasources[0].UID == "" {
		t.Fatalf("want one prometheus data source with a uid, got %+v", ds.Datasources)
	}
	return ds.Datasources[0].UID
}

// mount finds the volume of svc mounted from the repository path src and
// returns where it is mounted.
func mount(t *testing.T, volumes []string, src string) string {
	t.Helper()
	for _, v := range volumes {
		parts := strings.Split(v, ":")
		if len(parts) >= 2 && path.Clean(parts[0]) == path.Clean(src) {
			return parts[1]
		}
	}
	t.Fatalf("nothing mounts %s (volumes %v)", src, volumes)
	return ""
}

// The profile "observability" adds Prometheus and Grafana, which agree with
// nudge and with each other on names, ports and paths; plain `docker compose
// up` starts what it always did.
func TestComposeObservabilityProfile(t *testing.T) {
	var c compose
	b, err := os.ReadFile("../docker-compose.yml")
	if err != nil {
		t.Fatal(err)
	}
	if err := yaml.Unmarshal(b, &c); err != nil {
		t.Fatalf("docker-compose.yml: %v", err)
	}
	for name, s := range c.Services {
		want := []string(nil)
		if name == "prometheus" || name == "grafana" {
			want = []string{"observability"}
		}
		if !slices.Equal(s.Profiles, want) {
			t.Errorf("service %s has profiles %v, want %v", name, s.Profiles, want)
		}
	}
	for _, name := range []string{"proxy", "redis", "mailpit", "nudge", "prometheus", "grafana"} {
		if _, ok := c.Services[name]; !ok {
			t.Errorf("docker-compose.yml has no service %s", name)
		}
	}

	// Prometheus scrapes nudge where nudge serves its metrics.
	nudge := c.Services["nudge"]
	_, metricsPort, err := net.SplitHostPort(nudge.Environment["NUDGE_METRICS_ADDR"])
	if err != nil {
		t.Fatalf("NUDGE_METRICS_ADDR in compose: %v", err)
	}
	if !slices.Contains(nudge.Expose, metricsPort) {
		t.Errorf("nudge exposes %v, not its metrics port %s", nudge.Expose, metricsPort)
	}
	var prom struct {
		Global        map[string]string `yaml:"global"`
		ScrapeConfigs []struct {
			JobName      string `yaml:"job_name"`
			MetricsPath  string `yaml:"metrics_path"`
			DNSSDConfigs []struct {
				Names           []string `yaml:"names"`
				Type            string   `yaml:"type"`
				Port            int      `yaml:"port"`
				RefreshInterval string   `yaml:"refresh_interval"`
			} `yaml:"dns_sd_configs"`
		} `yaml:"scrape_configs"`
	}
	readYAML(t, "prometheus/prometheus.yml", &prom)
	if len(prom.ScrapeConfigs) != 1 || len(prom.ScrapeConfigs[0].DNSSDConfigs) != 1 {
		t.Fatalf("want one scrape job finding nudge by DNS, got %+v", prom.ScrapeConfigs)
	}
	job := prom.ScrapeConfigs[0]
	sd := job.DNSSDConfigs[0]
	if !slices.Equal(sd.Names, []string{"nudge"}) || sd.Type != "A" {
		t.Errorf("Prometheus finds %v (%s records); want the compose service nudge's A records", sd.Names, sd.Type)
	}
	if got := sd.Port; metricsPort != "" && got != atoi(t, metricsPort) {
		t.Errorf("Prometheus scrapes port %d; nudge serves metrics on %s", got, metricsPort)
	}
	if job.MetricsPath != "/metrics" {
		t.Errorf("Prometheus scrapes %s, nudge serves /metrics", job.MetricsPath)
	}
	promSvc := c.Services["prometheus"]
	if got := mount(t, promSvc.Volumes, "./deploy/prometheus/prometheus.yml"); !slices.Contains(promSvc.Command, "--config.file="+got) {
		t.Errorf("prometheus.yml is mounted at %s but Prometheus runs with %v", got, promSvc.Command)
	}

	// Grafana reads the provisioning and the dashboard where compose puts
	// them, and the data source points at the prometheus service.
	graf := c.Services["grafana"]
	if got := mount(t, graf.Volumes, "./deploy/grafana/provisioning"); got != "/etc/grafana/provisioning" {
		t.Errorf("provisioning is mounted at %s; Grafana reads /etc/grafana/provisioning", got)
	}
	dashDir := mount(t, graf.Volumes, "./deploy/grafana/dashboards")
	var providers struct {
		APIVersion int `yaml:"apiVersion"`
		Providers  []struct {
			Name, Folder, Type    string
			DisableDeletion       bool `yaml:"disableDeletion"`
			AllowUIUpdates        bool `yaml:"allowUiUpdates"`
			UpdateIntervalSeconds int  `yaml:"updateIntervalSeconds"`
			Options               struct {
				Path                      string `yaml:"path"`
				FoldersFromFilesStructure bool   `yaml:"foldersFromFilesStructure"`
			} `yaml:"options"`
		} `yaml:"providers"`
	}
	readYAML(t, "grafana/provisioning/dashboards/nudge.yml", &providers)
	if len(providers.Providers) != 1 || providers.Providers[0].Options.Path != dashDir {
		t.Errorf("the dashboard provider reads %+v; compose mounts the dashboards at %s", providers.Providers, dashDir)
	}
	home := graf.Environment["GF_DASHBOARDS_DEFAULT_HOME_DASHBOARD_PATH"]
	if rel, ok := strings.CutPrefix(home, dashDir+"/"); !ok || rel != filepath.Base(dashboardFile) {
		t.Errorf("Grafana's home dashboard is %q; want %s/%s", home, dashDir, filepath.Base(dashboardFile))
	}
	var ds struct {
		Datasources []struct{ URL string } `yaml:"datasources"`
	}
	b, err = os.ReadFile("grafana/provisioning/datasources/prometheus.yml")
	if err != nil {
		t.Fatal(err)
	}
	if err := yaml.Unmarshal(b, &ds); err != nil {
		t.Fatal(err)
	}
	if len(ds.Datasources) != 1 || ds.Datasources[0].URL != "http://prometheus:9090" {
		t.Errorf("the data source reads %+v; want the prometheus service at http://prometheus:9090", ds.Datasources)
	}
	for _, svc := range []string{"prometheus", "grafana"} {
		for _, p := range c.Services[svc].Ports {
			if !strings.HasPrefix(p, "127.0.0.1:") {
				t.Errorf("%s publishes %s beyond this machine", svc, p)
			}
		}
	}
}

func atoi(t *testing.T, s string) int {
	t.Helper()
	n := 0
	for _, r := range s {
		if r < '0' || r > '9' {
			t.Fatalf("%q is not a port", s)
		}
		n = n*10 + int(r-'0')
	}
	return n
}
