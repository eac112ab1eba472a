package store_test

import (
	"context"
	"errors"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/nudgehq/nudge/internal/domain"
	"github.com/nudgehq/nudge/internal/redistest"
	"github.com/nudgehq/nudge/internal/store"
	"github.com/redis/go-redis/v9"
)

// primaryWithReplica starts a primary and a replica of it, waits until the
// replica is in sync, and returns a store on the primary, the replica's
// client and its process.
func primaryWithReplica(t *testing.T) (*store.Store, *redis.Client, *redistest.Server) {
	t.Helper()
	primary := redistest.StartServer(t)
	host, port := "127.0.0.1", primary.Addr[len("127.0.0.1:"):]
	replica := redistest.StartServer(t, "--replicaof", host, port)
	rc := replica.Client(t)
	deadline := time.Now().Add(10 * time.Second)
	for {
		info, err := rc.Info(context.Background(), "replication").Result()
		if err == nil && strings.Contains(info, "master_link_status:up") {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("replica never in sync: %v\n%s", err, info)
		}
		time.Sleep(20 * time.Millisecond)
	}
	return store.New(primary.Client(t), "r:"), rc, replica
}

func TestClaimIsOnTheReplicaBeforeItReturns(t *testing.T) {
	st, replica, _ := primaryWithReplica(t)
	ctx := context.Background()
	now := time.Date(2026, 12, 7, 9, 0, 0, 0, time.UTC)
	for i := range 50 {
		k := store.DeliveryKey{SubscriberID: "s" + strconv.Itoa(i), Program: domain.WeeklyCheckin, Date: "2026-12-07", Channel: domain.Email}
		if err := st.ClaimDelivery(ctx, k, now); err != nil {
			t.Fatalf("claim %d: %v", i, err)
		}
		// Read from the replica at once: WAIT 1 made the claim reach it
		// before ClaimDelivery returned.
		if s, err := replica.HGet(ctx, "r:dlv:"+k.String(), "s").Result(); err != nil || s != "claimed" {
			t.Fatalf("claim %d on the replica right after: %q, %v", i, s, err)
		}
	}
}

func TestClaimNoReplicaAcknowledgesIsGivenBack(t *testing.T) {
	st, _, replicaProc := primaryWithReplica(t)
	ctx := context.Background()
	now := time.Date(2026, 12, 7, 9, 0, 0, 0, time.UTC)
	k := store.DeliveryKey{SubscriberID: "s1", Program: domain.WeeklyCheckin, Date: "2026-12-07", Channel: domain.SMS}

	// A replica that is connected but does not answer: its link stays up,
	// so the primary still counts it, and WAIT times out.
	if err := replicaProc.Signal(syscall.SIGSTOP); err != nil {
		t.Fatal(err)
	}
	resumed := false
	resume := func() {
		if !resumed {
			resumed = true
			if err := replicaProc.Signal(syscall.SIGCONT); err != nil {
				t.Error(err)
			}
		}
	}
	t.Cleanup(resume)
	start := time.Now()
	err := st.ClaimDelivery(ctx, k, now)
	took := time.Since(start)
	if !errors.Is(err, store.ErrClaimNotReplicated) {
		t.Fatalf("claim with a stalled replica: %v, want ErrClaimNotReplicated", err)
	}
	if took < store.ReplicaAckTimeout || took > store.ReplicaAckTimeout+2*time.Second {
		t.Errorf("claim gave up after %s, want about %s", took, store.ReplicaAckTimeout)
	}
	if _, ok := store.IsAlreadyHandled(err); ok {
		t.Error("an unreplicated claim reads as already handled")
	}
	d, err := st.Delivery(ctx, k)
	if err != nil || d.State != store.Retry {
		t.Fatalf("record after an unreplicated claim: %+v %v, want retry", d, err)
	}

	// Once the replica answers again the next attempt claims afresh.
	resume()
	if err := st.ClaimDelivery(ctx, k, now.Add(time.Minute)); err != nil {
		t.Fatalf("claim after the replica resumed: %v", err)
	}
	if d, _ := st.Delivery(ctx, k); d.State != store.Claimed {
		t.Errorf("record %+v, want claimed", d)
	}
	// And the claim-before-claim rule still holds on this path.
	if err := st.ClaimDelivery(ctx, k, now.Add(2*time.Minute)); err == nil {
		t.Error("a second claim succeeded")
	} else if s, ok := store.IsAlreadyHandled(err); !ok || s != store.Unknown {
		t.Errorf("second claim: %v, want already handled: unknown", err)
	}
}

func TestClaimWithoutReplicasDoesNotWait(t *testing.T) {
	primary := redistest.StartServer(t)
	st := store.New(primary.Client(t), "r:")
	k := store.DeliveryKey{SubscriberID: "s1", Program: domain.WeeklyCheckin, Date: "2026-12-07", Channel: domain.Email}
	start := time.Now()
	if err := st.ClaimDelivery(context.Background(), k, time.Now()); err != nil {
		t.Fatal(err)
	}
	if took := time.Since(start); took >= store.ReplicaAckTimeout {
		t.Errorf("a claim on a primary with no replica took %s", took)
	}
}
