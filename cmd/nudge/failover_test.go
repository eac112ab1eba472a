package main

import (
	"context"
	"fmt"
	"net/http"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/nudgehq/nudge/internal/domain"
	"github.com/nudgehq/nudge/internal/redisconn"
	"github.com/nudgehq/nudge/internal/redistest"
	"github.com/nudgehq/nudge/internal/smtptest"
	"github.com/nudgehq/nudge/internal/store"
	"github.com/nudgehq/nudge/internal/twiliotest"
	"github.com/redis/go-redis/v9"
)

const (
	// failoverSubscribers are due over failoverSpread seconds; every fourth
	// also takes texts. The goal is 2,000 due within two
	// minutes; 1,000 over 16 s exercise the same paths (planning, claims,
	// sends in flight at the kill) on a shared 2-core machine in CI time.
	failoverSubscribers = 1000
	failoverSpread      = 16
	failoverConcurrency = 10
	failoverWorkers     = 2
	failoverMaster      = "nudgefo"
)

// sentinelSetup starts a primary, its replica and three sentinels (quorum
// two, one second to call the primary down), and waits until the sentinels
// know the replica and each other.
func sentinelSetup(t *testing.T) (primary, replica *redistest.Server, sentinels []*redistest.Server) {
	t.Helper()
	primary = redistest.StartServer(t)
	replica = redistest.StartServer(t, "--replicaof", "127.0.0.1", strings.TrimPrefix(primary.Addr, "127.0.0.1:"))
	for range 3 {
		sentinels = append(sentinels, redistest.StartSentinel(t, failoverMaster, primary.Addr, 2, time.Second))
	}
	ctx := context.Background()
	deadline := time.Now().Add(30 * time.Second)
	for _, s := range sentinels {
		sc := redis.NewSentinelClient(&redis.Options{Addr: s.Addr})
		for {
			quorum := sc.CkQuorum(ctx, failoverMaster).Err()
			replicas, err := sc.Replicas(ctx, failoverMaster).Result()
			others, err2 := sc.Sentinels(ctx, failoverMaster).Result()
			if quorum == nil && err == nil && err2 == nil && len(replicas) == 1 && len(others) == 2 &&
				replicas[0]["master-link-status"] == "ok" {
				break
			}
			if time.Now().After(deadline) {
				sc.Close()
				t.Fatalf("sentinel %s not ready: quorum %v, replicas %v %v, others %d %v", s.Addr, quorum, replicas, err, len(others), err2)
			}
			time.Sleep(100 * time.Millisecond)
		}
		sc.Close()
	}
	return primary, replica, sentinels
}

// sentinelURL is NUDGE_REDIS_URL for the sentinels.
func sentinelURL(sentinels []*redistest.Server) string {
	addrs := make([]string, len(sentinels))
	for i, s := range sentinels {
		addrs[i] = s.Addr
	}
	return "redis+sentinel://" + strings.Join(addrs, ",") + "/" + failoverMaster + "/0"
}

// readySample is one look at /readyz and at whether a write went through
// at the same moment.
type readySample struct {
	at           time.Time
	ready, wrote bool
}

// watchReadiness polls /readyz and makes a probe write every 100 ms until
// ctx is done, and returns the samples then.
func watchReadiness(ctx context.Context, readyURL string, rdb *redis.Client) func() []readySample {
	var (
		mu      sync.Mutex
		samples []readySample
		wg      sync.WaitGroup
	)
	client := &http.Client{Timeout: 3 * time.Second}
	wg.Go(func() {
		tick := time.NewTicker(100 * time.Millisecond)
		defer tick.Stop()
		for {
			select {
			case <-ctx.Done():
				return
			case <-tick.C:
			}
			// A sample is dated when /readyz answered: an answer to a
			// request sent just before the kill speaks of the time after it.
			var s readySample
			if resp, err := client.Get(readyURL); err == nil {
				s.ready = resp.StatusCode == http.StatusOK
				resp.Body.Close()
			}
			s.at = time.Now()
			wctx, cancel := context.WithTimeout(ctx, time.Second)
			s.wrote = rdb.Set(wctx, "probe", s.at.UnixNano(), 0).Err() == nil
			cancel()
			mu.Lock()
			samples = append(samples, s)
			mu.Unlock()
		}
	})
	return func() []readySample {
		wg.Wait()
		client.CloseIdleConnections()
		mu.Lock()
		defer mu.Unlock()
		return samples
	}
}

// waitReady waits until the HTTP process answers /readyz with 200.
func waitReady(t *testing.T, readyURL string, p *process) {
	t.Helper()
	client := &http.Client{Timeout: 2 * time.Second}
	defer client.CloseIdleConnections()
	deadline := time.Now().Add(30 * time.Second)
	for {
		resp, err := client.Get(readyURL)
		if err == nil {
			resp.Body.Close()
			if resp.StatusCode == http.StatusOK {
				return
			}
		}
		select {
		case <-p.exited:
			t.Fatalf("nudge serve exited (%v):\n%s", p.err, p.log())
		default:
		}
		if time.Now().After(deadline) {
			t.Fatalf("/readyz not ready after 30s: %v", err)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

func TestPrimaryKilledFailoverNeverSendsTwice(t *testing.T) {
	bin := buildNudge(t)
	primary, replica, sentinels := sentinelSetup(t)
	url := sentinelURL(sentinels)
	opts, err := redisconn.Parse(url)
	if err != nil {
		t.Fatal(err)
	}
	rdb := opts.NewClient()
	t.Cleanup(func() { rdb.Close() })
	st := store.New(rdb, "nudge:")
	ctx := context.Background()

	// Seed: every subscriber's weekly check-in falls in the next few
	// seconds, in a zone where it is afternoon (texts are allowed).
	now := time.Now()
	zone := afternoonZone(now)
	type occurrence struct {
		id, date string
		sms      bool
	}
	occs := make([]occurrence, failoverSubscribers)
	start := now.Add(5 * time.Second)
	for i := range occs {
		due := start.Add(time.Duration(i%failoverSpread) * time.Second).Truncate(time.Second)
		sub := domain.Subscriber{FirstName: "F" + strconv.Itoa(i), Email: fmt.Sprintf("f%d@example.org", i), TimeZone: zone, Locale: "en"}
		if i%4 == 0 {
			sub.Phone, sub.Channels, sub.SMSStatus = fmt.Sprintf("+4477008%05d", i), []domain.Channel{domain.Email, domain.SMS}, domain.SMSActive
		}
		res, err := st.Signup(ctx, sub, []domain.Schedule{{Program: domain.WeeklyCheckin, Rule: "weekly:tue@14:00"}}, store.ConsentEvent{})
		if err != nil {
			t.Fatal(err)
		}
		if _, err := st.Activate(ctx, res.ID, now.Add(-time.Hour), map[domain.Program]time.Time{domain.WeeklyCheckin: due}, store.ConsentEvent{}); err != nil {
			t.Fatal(err)
		}
		loc, _ := time.LoadLocation(zone)
		occs[i] = occurrence{id: res.ID, date: due.In(loc).Format(time.DateOnly), sms: i%4 == 0}
	}

	sink := smtptest.StartWith(t, smtptest.Options{Delay: 5 * time.Millisecond})
	stand := twiliotest.Start(t)
	httpAddr := "127.0.0.1:" + strconv.Itoa(redistest.FreePort(t))
	env := []string{
		"NUDGE_REDIS_URL=" + url, "NUDGE_REDIS_PREFIX=nudge:",
		"NUDGE_SMTP_HOST=" + sink.Host(), "NUDGE_SMTP_PORT=" + strconv.Itoa(sink.Port()), "NUDGE_SMTP_TLS=none",
		"NUDGE_SMTP_POOL=4", "NUDGE_WORKER_CONCURRENCY=" + strconv.Itoa(failoverConcurrency),
		"NUDGE_TWILIO_ACCOUNT_SID=" + stand.AccountSID, "NUDGE_TWILIO_AUTH_TOKEN=" + stand.AuthToken,
		"NUDGE_TWILIO_FROM=+15005550006", "NUDGE_TWILIO_API_URL=" + stand.URL,
		"NUDGE_HTTP_ADDR=" + httpAddr, "NUDGE_BASE_URL=https://nudge.test",
		"NUDGE_SECRET=a-failover-test-secret-of-enough-length!", "NUDGE_PLANNER_INTERVAL=1s", "NUDGE_PLANNER_HORIZON=2s",
		"NUDGE_EMAIL_FROM=nudge <hello@nudge.test>", "NUDGE_POSTAL_ADDRESS=1 Test Street", "NUDGE_LOG_LEVEL=warn",
	}
	var procs []*process
	for range failoverWorkers {
		procs = append(procs, startNudge(t, bin, "worker", env), startNudge(t, bin, "scheduler", env))
	}
	procs = append(procs, startNudge(t, bin, "serve", env))

	waitReady(t, "http://"+httpAddr+"/readyz", procs[len(procs)-1])
	probe := opts.NewClient()
	t.Cleanup(func() { probe.Close() })
	watchCtx, stopWatch := context.WithCancel(ctx)
	defer stopWatch()
	samples := watchReadiness(watchCtx, "http://"+httpAddr+"/readyz", probe)

	// Kill the primary once a quarter of the emails are out: sends are in
	// flight, and most occurrences are not planned yet.
	deadline := time.Now().Add(60 * time.Second)
	for len(sink.Messages()) < failoverSubscribers/4 {
		for _, p := range procs {
			select {
			case <-p.exited:
				t.Fatalf("nudge exited early (%v):\n%s", p.err, p.log())
			default:
			}
		}
		if time.Now().After(deadline) {
			t.Fatalf("only %d messages after 60s", len(sink.Messages()))
		}
		time.Sleep(10 * time.Millisecond)
	}
	primary.Kill()
	killedAt := time.Now()
	sentBeforeKill := len(sink.Messages())

	// The sentinels' failover: until they name the replica as primary.
	sc := redis.NewSentinelClient(&redis.Options{Addr: sentinels[0].Addr})
	defer sc.Close()
	var switchedAt time.Time
	for switchedAt.IsZero() {
		addr, err := sc.GetMasterAddrByName(ctx, failoverMaster).Result()
		if err == nil && len(addr) == 2 && addr[0]+":"+addr[1] == replica.Addr {
			switchedAt = time.Now()
			break
		}
		if time.Since(killedAt) > 30*time.Second {
			t.Fatalf("the sentinels did not promote the replica within 30s (they name %v, %v)", addr, err)
		}
		time.Sleep(50 * time.Millisecond)
	}

	// Every occurrence ends with a final record on each of its channels.
	var states map[store.DeliveryState]int
	recordDeadline := time.Now().Add(3 * time.Minute)
	for {
		states = map[store.DeliveryState]int{}
		for _, o := range occs {
			channels := []domain.Channel{domain.Email}
			if o.sms {
				channels = append(channels, domain.SMS)
			}
			for _, c := range channels {
				d, err := st.Delivery(ctx, store.DeliveryKey{SubscriberID: o.id, Program: domain.WeeklyCheckin, Date: o.date, Channel: c})
				if err != nil {
					states["none"]++
					continue
				}
				states[d.State]++
			}
		}
		if states[store.Sent]+states[store.Unknown]+states[store.Failed]+states[store.Skipped] == failoverSubscribers+failoverSubscribers/4 {
			break
		}
		if time.Now().After(recordDeadline) {
			t.Fatalf("after 3 minutes: records %v", states)
		}
		time.Sleep(500 * time.Millisecond)
	}
	stopWatch()
	got := samples()

	records := failoverSubscribers + failoverSubscribers/4
	if states[store.Sent]+states[store.Unknown] != records {
		t.Errorf("records %v: every occurrence must end sent or unknown", states)
	}
	if states[store.Unknown] > failoverWorkers*failoverConcurrency {
		t.Errorf("%d unknown, more than the workers' concurrency %d", states[store.Unknown], failoverWorkers*failoverConcurrency)
	}
	emails := checkAtMostOnce(t, sink)
	texts := map[string]int{}
	for _, m := range stand.Messages() {
		texts[m.To]++
	}
	for to, n := range texts {
		if n > 1 {
			t.Errorf("text to %s received %d times", to, n)
		}
	}
	if emails+len(texts) < states[store.Sent] {
		t.Errorf("%d recorded sent but only %d emails and %d texts received", states[store.Sent], emails, len(texts))
	}

	// Writes resume within the failover time plus 5 s, and /readyz tells
	// the truth: ready before the kill, not ready while no primary takes
	// writes, ready again once writes resume, and never ready while a
	// write fails.
	failover := switchedAt.Sub(killedAt)
	var firstWrite, firstReady, lastNotReady time.Time
	sawNotReady := false
	for _, s := range got {
		if s.at.Before(killedAt) {
			if !s.ready {
				t.Errorf("/readyz not ready at %s, before the kill", s.at.Format(time.StampMilli))
			}
			continue
		}
		if s.wrote && firstWrite.IsZero() && s.at.After(killedAt.Add(100*time.Millisecond)) {
			firstWrite = s.at
		}
		if !s.ready {
			sawNotReady = true
			lastNotReady = s.at
		}
		if s.ready && firstReady.IsZero() && sawNotReady {
			firstReady = s.at
		}
		if s.ready && !s.wrote {
			t.Errorf("/readyz said ready at %s (%s after the kill) while a write failed", s.at.Format(time.StampMilli), s.at.Sub(killedAt))
		}
	}
	t.Logf("killed after %d emails; sentinels promoted the replica %s later; first write %s after the kill, /readyz ready again %s after (last not ready %s after); records %v; %d emails and %d texts received",
		sentBeforeKill, failover.Round(time.Millisecond), firstWrite.Sub(killedAt).Round(time.Millisecond),
		firstReady.Sub(killedAt).Round(time.Millisecond), lastNotReady.Sub(killedAt).Round(time.Millisecond), states, emails, len(texts))
	if firstWrite.IsZero() || firstWrite.Sub(killedAt) > failover+5*time.Second {
		t.Errorf("writes resumed %s after the kill; the failover took %s (allowed: +5s)", firstWrite.Sub(killedAt), failover)
	}
	if !sawNotReady {
		t.Error("/readyz never said not ready while the primary was gone")
	}
	if firstReady.IsZero() || firstReady.Sub(killedAt) > failover+5*time.Second {
		t.Errorf("/readyz ready again %s after the kill; the failover took %s (allowed: +5s)", firstReady.Sub(killedAt), failover)
	}
	if !lastNotReady.IsZero() && lastNotReady.Sub(killedAt) > failover+5*time.Second {
		t.Errorf("/readyz still not ready %s after the kill, with writes going through", lastNotReady.Sub(killedAt))
	}
}
