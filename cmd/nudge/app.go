package main

import (
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"sync"
	"time"

	"github.com/alicebob/miniredis/v2"
	"github.com/hibiken/asynq"
	"github.com/nudgehq/nudge/internal/admin"
	"github.com/nudgehq/nudge/internal/api"
	"github.com/nudgehq/nudge/internal/clientip"
	"github.com/nudgehq/nudge/internal/config"
	"github.com/nudgehq/nudge/internal/console"
	"github.com/nudgehq/nudge/internal/email"
	"github.com/nudgehq/nudge/internal/httproute"
	"github.com/nudgehq/nudge/internal/links"
	"github.com/nudgehq/nudge/internal/metrics"
	"github.com/nudgehq/nudge/internal/notify"
	"github.com/nudgehq/nudge/internal/outbox"
	"github.com/nudgehq/nudge/internal/phone"
	"github.com/nudgehq/nudge/internal/ratelimit"
	"github.com/nudgehq/nudge/internal/redisconn"
	"github.com/nudgehq/nudge/internal/render"
	"github.com/nudgehq/nudge/internal/safety"
	"github.com/nudgehq/nudge/internal/signuplimit"
	"github.com/nudgehq/nudge/internal/sms"
	"github.com/nudgehq/nudge/internal/store"
	"github.com/nudgehq/nudge/internal/subscription"
	"github.com/nudgehq/nudge/internal/task"
	"github.com/nudgehq/nudge/internal/token"
	"github.com/nudgehq/nudge/internal/web"
	"github.com/nudgehq/nudge/internal/webhook"
	"github.com/nudgehq/nudge/internal/zones"
	"github.com/nudgehq/nudge/scheduler"
	"github.com/nudgehq/nudge/templates"
	"github.com/nudgehq/nudge/worker"
	"github.com/redis/go-redis/v9"
)

// Role is the part of nudge a process runs.
type Role string

// Roles: one process may run all of them, or one each.
const (
	RoleAll       Role = "run"
	RoleServe     Role = "serve"
	RoleWorker    Role = "worker"
	RoleScheduler Role = "scheduler"
)

func (r Role) serves() bool   { return r == RoleAll || r == RoleServe }
func (r Role) works() bool    { return r == RoleAll || r == RoleWorker }
func (r Role) plans() bool    { return r == RoleAll || r == RoleScheduler }
func (r Role) String() string { return string(r) }

// App is one nudge process: its Redis connection and the parts its role runs.
// Build it with NewApp, run it with Run, release it with Close.
type App struct {
	cfg    config.Config
	now    func() time.Time
	logger *slog.Logger

	mini   *miniredis.Miniredis // the embedded Redis, when no NUDGE_REDIS_URL
	rdb    *redis.Client
	store  *store.Store
	queue  *asynq.Client
	email  worker.EmailSender
	smtp   *email.SMTP
	sms    worker.SMSSender // nil when no SMS channel is configured
	twilio *sms.Twilio
	box    *outbox.Outbox

	library  *templates.Library
	renderer *render.Renderer
	signer   *token.Signer
	links    *links.Builder

	// metrics counts what this process does; nil (counting nothing) unless
	// NUDGE_METRICS_ADDR is set.
	metrics *metrics.Metrics

	mu          sync.Mutex
	addr        net.Addr
	metricsAddr net.Addr
}

// NewApp connects to Redis (or starts the embedded one), loads the message
// library and builds the channels. now is the clock every part uses.
//
// On an error it releases what it had opened and returns a nil *App; the
// error names the setting to blame where there is one.
func NewApp(cfg config.Config, now func() time.Time, logger *slog.Logger) (_ *App, err error) {
	a := &App{cfg: cfg, now: now, logger: logger}
	defer func() {
		if err != nil {
			a.Close()
		}
	}()
	opts := cfg.Redis
	if cfg.EmbeddedRedis() {
		a.mini = miniredis.NewMiniRedis()
		if err := a.mini.StartAddr("127.0.0.1:0"); err != nil {
			return nil, fmt.Errorf("start embedded redis: %w", err)
		}
		opts = &redisconn.Options{Single: &redis.Options{Addr: a.mini.Addr()}}
	}
	a.rdb = opts.NewClient() // a failover client when the URL names sentinels
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	if err := a.rdb.Ping(ctx).Err(); err != nil {
		return nil, fmt.Errorf("connect to redis (NUDGE_REDIS_URL): %w", err)
	}
	if !cfg.EmbeddedRedis() {
		checkRedisSettings(ctx, a.rdb, logger)
	}
	a.store = store.New(a.rdb, cfg.RedisPrefix)
	if cfg.EmbeddedRedis() {
		a.store.WithoutReplicas() // miniredis has no INFO replication to ask
	}
	a.queue = asynq.NewClientFromRedisClient(a.rdb)

	if a.library, err = templates.LoadWithOverrides(templates.FS(), cfg.TemplatesDir); err != nil {
		return nil, fmt.Errorf("load message library (NUDGE_TEMPLATES_DIR): %w", err)
	}
	a.renderer = render.New(a.library, render.Options{
		ServiceName: "nudge", PostalAddress: cfg.PostalAddress, Crisis: cfg.CrisisLines,
	})
	if err := a.renderer.Check(); err != nil {
		return nil, fmt.Errorf("check message library: %w", err)
	}
	a.signer = token.NewSigner([]byte(cfg.Secret))
	a.links = links.New(cfg.URL(""), a.signer, now)

	if cfg.DevOutbox() || cfg.SMSOutbox() {
		a.box = outbox.New(a.rdb, cfg.RedisPrefix, now)
	}
	switch {
	case cfg.SMSEnabled():
		apiURL := ""
		if cfg.Twilio.APIURL != nil {
			apiURL = cfg.Twilio.APIURL.String()
		}
		a.twilio, err = sms.NewTwilio(sms.Config{
			AccountSID: cfg.Twilio.AccountSID, AuthToken: string(cfg.Twilio.AuthToken),
			From: cfg.Twilio.From, MessagingServiceSID: cfg.Twilio.MessagingServiceSID,
			APIURL: apiURL, MaxConns: max(64, cfg.WorkerConcurrency), Timeout: 30 * time.Second,
		}, logger)
		if err != nil {
			return nil, fmt.Errorf("set up twilio (NUDGE_TWILIO_*): %w", err)
		}
		a.sms = a.twilio
	case cfg.SMSOutbox():
		a.sms = a.box.SMS()
	}
	if cfg.DevOutbox() {
		a.email = a.box
		logger.Info("dev outbox", "url", cfg.URL("/dev/outbox"))
	} else {
		a.smtp, err = email.NewSMTP(email.SMTPConfig{
			Host: cfg.SMTP.Host, Port: cfg.SMTP.Port, Username: string(cfg.SMTP.Username), Password: string(cfg.SMTP.Password),
			TLS: cfg.SMTP.TLS, PoolSize: cfg.SMTP.PoolSize, HELO: cfg.BaseURL.Hostname(), Timeout: 30 * time.Second,
			DKIM: smtpDKIM(cfg), // see dkim.go
		}, logger)
		if err != nil {
			return nil, fmt.Errorf("set up smtp (NUDGE_SMTP_*, NUDGE_DKIM_*): %w", err)
		}
		a.email = a.smtp
	}
	return a, nil
}

// checkRedisSettings warns about settings that lose data or break asynq.
func checkRedisSettings(ctx context.Context, rdb *redis.Client, logger *slog.Logger) {
	policy, err := rdb.ConfigGet(ctx, "maxmemory-policy").Result()
	if err != nil {
		logger.Warn("could not read redis maxmemory-policy (CONFIG may be disabled); it must be noeviction", "err", err)
		return
	}
	if p := policy["maxmemory-policy"]; p != "noeviction" {
		logger.Warn("redis maxmemory-policy should be noeviction: with "+p+" Redis may drop subscribers and queued messages under memory pressure", "maxmemory_policy", p)
	}
}

// MetricsAddr is the address /metrics listens on, once it does (nil when
// NUDGE_METRICS_ADDR is not set).
func (a *App) MetricsAddr() net.Addr {
	a.mu.Lock()
	defer a.mu.Unlock()
	return a.metricsAddr
}

// startMetrics registers the metrics in a registry of this App's own and
// serves them at /metrics on NUDGE_METRICS_ADDR, apart from the public
// server, until ctx is done.
func (a *App) startMetrics(ctx context.Context, wg *sync.WaitGroup, fail func(error)) error {
	_, a.metrics = metrics.Served(asynq.NewInspectorFromRedisClient(a.rdb))
	ln, err := net.Listen("tcp", a.cfg.MetricsAddr)
	if err != nil {
		return fmt.Errorf("listen on %s (NUDGE_METRICS_ADDR): %w", a.cfg.MetricsAddr, err)
	}
	a.mu.Lock()
	a.metricsAddr = ln.Addr()
	a.mu.Unlock()
	mux := http.NewServeMux()
	mux.Handle("GET /metrics", a.metrics.Handler())
	srv := &http.Server{Handler: mux, ReadHeaderTimeout: 10 * time.Second, WriteTimeout: 30 * time.Second}
	wg.Go(func() {
		if err := srv.Serve(ln); err != nil && !errors.Is(err, http.ErrServerClosed) {
			fail(fmt.Errorf("metrics: %w", err))
		}
	})
	wg.Go(func() {
		<-ctx.Done()
		sctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		_ = srv.Shutdown(sctx)
	})
	a.logger.Info("metrics listening", "addr", ln.Addr().String())
	return nil
}

// Addr is the address the HTTP server listens on, once it does.
func (a *App) Addr() net.Addr {
	a.mu.Lock()
	defer a.mu.Unlock()
	return a.addr
}

// Run runs the role's parts until ctx is cancelled, then stops them in order:
// the HTTP server stops taking requests, the planner stops planning, and the
// worker lets in-flight sends finish. It returns nil after a clean stop.
// ready, if not nil, is called once the HTTP server listens (or at once when
// the role serves no HTTP).
func (a *App) Run(ctx context.Context, role Role, ready func()) error {
	var (
		wg   sync.WaitGroup
		mu   sync.Mutex
		errs []error
	)
	fail := func(err error) {
		mu.Lock()
		errs = append(errs, err)
		mu.Unlock()
	}
	ctx, stop := context.WithCancel(ctx)
	defer func() {
		stop()
		wg.Wait() // an early return leaves nothing running
	}()

	if a.cfg.MetricsAddr != "" {
		if err := a.startMetrics(ctx, &wg, fail); err != nil {
			return err
		}
	}

	var srv *http.Server
	if role.serves() {
		h, err := a.webHandler()
		if err != nil {
			return err
		}
		ln, err := net.Listen("tcp", a.cfg.HTTPAddr)
		if err != nil {
			return fmt.Errorf("listen on %s: %w", a.cfg.HTTPAddr, err)
		}
		a.mu.Lock()
		a.addr = ln.Addr()
		a.mu.Unlock()
		srv = &http.Server{Handler: h, ReadHeaderTimeout: 10 * time.Second, ReadTimeout: 30 * time.Second, WriteTimeout: 30 * time.Second, IdleTimeout: 2 * time.Minute}
		wg.Go(func() {
			if err := srv.Serve(ln); err != nil && !errors.Is(err, http.ErrServerClosed) {
				fail(fmt.Errorf("http: %w", err))
				stop()
			}
		})
		a.logger.Info("http listening", "addr", ln.Addr().String(), "base_url", a.cfg.URL(""))
	}

	var srvWorker, srvLow *asynq.Server
	if role.works() {
		d := worker.Deps{
			Store: a.store, Library: a.library, Renderer: a.renderer, Links: a.links,
			Email: a.email, SMS: a.sms, SMSWindow: a.cfg.SMSWindow,
			From: a.cfg.EmailFrom.String(), Grace: a.cfg.GraceWindow, Now: a.now, Logger: a.logger,
			Events: a.events(), WebhookGuard: a.webhookGuard(), Enqueue: a.queue,
			// Every confirmation text counts against its number's budget.
			NumberBudget: signuplimit.New(a.rdb, a.cfg.RedisPrefix, nil),
		}
		if a.metrics != nil {
			d.Metrics = a.metrics
		}
		// Rates are shared with every other worker, so the limiters read
		// Redis's clock (nil): one clock for the whole fleet.
		if a.cfg.EmailRate > 0 {
			d.EmailLimit = ratelimit.New(a.rdb, a.cfg.RedisPrefix+"rate:email", a.cfg.EmailRate, burst(a.cfg.EmailRate), nil)
		}
		if a.cfg.SMSRate > 0 {
			d.SMSLimit = ratelimit.New(a.rdb, a.cfg.RedisPrefix+"rate:sms", a.cfg.SMSRate, burst(a.cfg.SMSRate), nil)
		}
		h := worker.New(d)
		srvWorker = worker.NewServer(a.rdb, worker.ServerConfig{Concurrency: a.cfg.WorkerConcurrency, Logger: a.logger})
		if err := srvWorker.Start(h.Mux()); err != nil {
			stop()
			wg.Wait()
			return fmt.Errorf("start worker: %w", err)
		}
		// Webhooks have a small server of their own (see task.LowQueues).
		srvLow = worker.NewServer(a.rdb, worker.ServerConfig{Concurrency: worker.LowConcurrency, Queues: task.LowQueues(), Logger: a.logger})
		if err := srvLow.Start(h.Mux()); err != nil {
			srvWorker.Shutdown()
			stop()
			wg.Wait()
			return fmt.Errorf("start low-queue worker: %w", err)
		}
		a.logger.Info("worker started", "concurrency", a.cfg.WorkerConcurrency, "low_concurrency", worker.LowConcurrency)
	}

	if role.plans() {
		p := scheduler.NewPlanner(scheduler.PlannerConfig{
			Store: a.store, Enqueuer: a.queue, Now: a.now, Logger: a.logger.With("component", "planner"),
			Interval: a.cfg.PlannerInterval, Horizon: a.cfg.PlannerHorizon, Grace: a.cfg.GraceWindow,
			Metrics: a.plannerMetrics(),
		})
		wg.Go(func() {
			if err := p.Run(ctx); err != nil {
				fail(fmt.Errorf("planner: %w", err))
			}
		})
		a.logger.Info("planner started", "interval", a.cfg.PlannerInterval.String())
		prompts := scheduler.NewPromptPlanner(scheduler.PromptPlannerConfig{
			Store: a.store, Enqueuer: a.queue, Now: a.now, Logger: a.logger.With("component", "prompt-planner"),
			Horizon: a.cfg.PlannerHorizon,
		})
		wg.Go(func() {
			if err := prompts.Run(ctx, a.cfg.PlannerInterval); err != nil {
				fail(fmt.Errorf("prompt planner: %w", err))
			}
		})
		// The console's alerts: prompts that waited a week unanswered, and
		// the weekly digests. Neither needs the planners' pace.
		alerts := scheduler.NewAlertPlanner(scheduler.AlertPlannerConfig{
			Store: a.store, Enqueuer: a.queue, Now: a.now, Logger: a.logger.With("component", "alert-planner"),
		})
		wg.Go(func() {
			if err := alerts.Run(ctx, max(a.cfg.PlannerInterval, time.Minute)); err != nil {
				fail(fmt.Errorf("alert planner: %w", err))
			}
		})
		// Discharged clients are erased once their retention has run out.
		wg.Go(func() {
			if err := a.clinicService().RunRetention(ctx, time.Hour); err != nil {
				fail(fmt.Errorf("discharged clients' retention: %w", err))
			}
		})
		exp := subscription.NewExpirer(a.store, a.queue, a.manager(), a.now, a.logger.With("component", "expirer"))
		wg.Go(func() {
			if err := exp.Run(ctx, time.Minute); err != nil {
				fail(fmt.Errorf("expirer: %w", err))
			}
		})
	}

	if ready != nil {
		ready()
	}
	<-ctx.Done()
	a.logger.Info("stopping", "role", role.String())
	if srv != nil {
		sctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		if err := srv.Shutdown(sctx); err != nil {
			fail(fmt.Errorf("http shutdown: %w", err))
		}
		cancel()
	}
	wg.Wait() // the planner returns once ctx is done
	if srvWorker != nil {
		// Both wait up to worker.ShutdownTimeout for what they run; side by
		// side, so a stop takes the longer of the two, not the sum.
		var sw sync.WaitGroup
		sw.Go(srvWorker.Shutdown)
		sw.Go(srvLow.Shutdown)
		sw.Wait()
	}
	a.logger.Info("stopped", "role", role.String())
	return errors.Join(errs...)
}

func (a *App) webHandler() (http.Handler, error) {
	subs := subscription.New(a.store, a.queue, a.now, a.logger).WithNotifier(a.events())
	s, err := web.New(web.Deps{
		Subscriptions: subs,
		Manage:        a.manager(),
		Store:         a.store,
		Signer:        a.signer,
		Outbox:        a.box,
		Zones:         zones.Names(),
		Phones:        a.phones(),
		Limits:        signuplimit.New(a.rdb, a.cfg.RedisPrefix, nil),
		SMSWindow:     a.cfg.SMSWindow,
		DefaultZone:   "UTC",
		Ready:         func(ctx context.Context) error { return a.rdb.Ping(ctx).Err() },
		Metrics:       a.signupMetrics(),
		Safety:        &safety.Responder{Store: a.store, Lines: a.cfg.CrisisLines, Events: a.events(), Alerts: a.alertMail(), Now: a.now, Logger: a.logger},
		Now:           a.now,
		Logger:        a.logger,
	})
	if err != nil {
		return nil, fmt.Errorf("build web tier: %w", err)
	}
	mux := http.NewServeMux()
	mux.Handle("/", s.Handler())
	con, err := console.New(console.Config{
		Service: a.clinicService(), Store: a.store, Enqueue: a.queue,
		// Sign-in links have budgets of their own, as large as the signup
		// form's, read on Redis's clock (nil).
		Budgets:     signuplimit.New(a.rdb, a.cfg.RedisPrefix+"console:", nil),
		Development: !a.cfg.Production(),
		// Audit lines and the sign-in budget see the client behind trusted
		// proxies (NUDGE_TRUSTED_PROXIES), as the public pages do.
		ClientIP: clientip.New(a.cfg.TrustedProxies).IP,
		SealKey:  consoleSealKey(a.cfg.Secret),
		Library:  a.library, Renderer: a.renderer, BaseURL: a.cfg.URL(""),
		Now: a.now, Logger: a.logger.With("component", "console"),
	})
	if err != nil {
		return nil, fmt.Errorf("build clinic console: %w", err)
	}
	mux.Handle(console.Prefix, con.Handler())
	// The clinic API is called with bearer keys, never cookies: it sits
	// beside the browser routes, outside the cross-origin protection.
	clinicAPI, err := api.New(api.Config{
		Service: a.clinicService(), Store: a.store, Secret: []byte(a.cfg.Secret),
		// The budget reads Redis's clock (nil): one clock for every process.
		Rate: a.cfg.ClinicAPIRate, MaxIdempotencyRecords: a.cfg.ClinicIdempotencyKeys,
		Now: a.now, Logger: a.logger.With("component", "api"),
	})
	if err != nil {
		return nil, fmt.Errorf("build clinic api: %w", err)
	}
	mux.Handle(api.Prefix, clinicAPI.Handler())
	// The queue monitor exists only with NUDGE_ADMIN_TOKEN; without it
	// /admin/ is the web tier's 404 like any unknown path.
	if a.cfg.AdminToken != "" {
		adm, err := admin.New(admin.Config{
			Token: string(a.cfg.AdminToken), Queues: admin.Queues(a.rdb), Secure: a.cfg.BaseURL.Scheme == "https",
			Now: a.now, Logger: a.logger.With("component", "admin"),
		})
		if err != nil {
			return nil, fmt.Errorf("build admin pages (NUDGE_ADMIN_TOKEN): %w", err)
		}
		mux.Handle(admin.Prefix, adm)
	}
	// Behind trusted reverse proxies every handler sees the client's
	// address, not the proxy's (NUDGE_TRUSTED_PROXIES).
	front := a.metrics.HTTP(clientip.New(a.cfg.TrustedProxies).Handler(httproute.Record(mux)))
	if !a.cfg.SMSEnabled() {
		return front, nil
	}
	// Twilio's webhooks are signed server-to-server calls: they sit beside
	// the browser routes, outside the cross-origin protection.
	twilio := webhook.NewTwilio(a.store, subs, string(a.cfg.Twilio.AuthToken), a.cfg.URL(""), a.now, a.logger).WithNotifier(a.events()).WithCrisisLines(a.cfg.CrisisLines).
		WithAlerts(a.alertMail()).WithLinks(a.links, signuplimit.New(a.rdb, a.cfg.RedisPrefix, nil))
	if a.metrics != nil {
		twilio = twilio.WithMetrics(a.metrics)
	}
	twilio.Register(mux)
	return front, nil
}

// plannerMetrics and signupMetrics are the metrics, or untyped nil when
// there are none (a typed nil in an interface would read as set).
func (a *App) plannerMetrics() scheduler.PlannerMetrics {
	if a.metrics == nil {
		return nil
	}
	return a.metrics
}

func (a *App) signupMetrics() web.SignupMetrics {
	if a.metrics == nil {
		return nil
	}
	return a.metrics
}

// events raises clinics' webhook events: stored in Redis and posted by the
// worker (worker.DeliverWebhook) on the low queue.
// alertMail queues the emails a distress alert sends to a clinic's staff.
func (a *App) alertMail() *safety.AlertMail {
	return &safety.AlertMail{Store: a.store, Enqueue: a.queue, Now: a.now}
}

func (a *App) events() *notify.Notifier {
	return &notify.Notifier{Store: a.store, Enqueue: a.queue, Now: a.now, Logger: a.logger.With("component", "events")}
}

// webhookGuard says which receivers clinics' webhooks may reach: https and
// public addresses in production, plus http and loopback in development,
// plus the networks NUDGE_WEBHOOK_ALLOW_CIDRS lists.
func (a *App) webhookGuard() notify.Guard {
	return notify.Guard{Development: !a.cfg.Production(), Allow: a.cfg.WebhookAllow}
}

// manager carries out the preference centre's changes and erasures.
func (a *App) manager() *subscription.Manager {
	return subscription.NewManager(subscription.ManagerConfig{
		Store: a.store, Tasks: asynq.NewInspectorFromRedisClient(a.rdb), SMSWindow: a.cfg.SMSWindow,
		Now: a.now, Logger: a.logger,
	})
}

// phones reads the numbers the form takes, or is nil when no SMS channel is
// set up (the form then asks for email only).
func (a *App) phones() *phone.Normaliser {
	if a.sms == nil {
		return nil
	}
	return phone.New(a.cfg.SMSCountries[0], a.cfg.SMSCountries)
}

// burst lets a limiter take up to a tenth of a second's worth of sends at
// once. A provider that allows rate a second typically allows about a
// second's worth in a burst, and its bucket starts counting only when our
// first request arrives, after ours did: with a burst equal to the
// provider's, that head start drew a 429 (and a 15 s retry) at the start of a
// large batch (BenchmarkSMSRateTwoWorkers, BENCHMARKS.md). A few tokens are
// still enough to absorb timer lateness, so the rate does not drift.
func burst(rate float64) int { return max(1, int(rate/10)) }

// Close releases connections and stops the embedded Redis. It does nothing
// on a nil *App.
func (a *App) Close() {
	if a == nil {
		return
	}
	if a.smtp != nil {
		a.smtp.Close()
	}
	if a.twilio != nil {
		a.twilio.Close()
	}
	if a.rdb != nil {
		a.rdb.Close()
	}
	if a.mini != nil {
		a.mini.Close()
	}
}

// consoleSealKey derives the key that seals the console's second-factor
// secrets from NUDGE_SECRET: a copy of Redis alone does not hold them in
// the clear. A new NUDGE_SECRET means staff enrol again.
func consoleSealKey(secret config.Secret) []byte {
	m := hmac.New(sha256.New, []byte(secret))
	m.Write([]byte("nudge console second-factor secrets v1"))
	return m.Sum(nil)
}
