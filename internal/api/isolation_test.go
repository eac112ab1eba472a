package api

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"net/url"
	"slices"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/getkin/kin-openapi/openapi3"
	"github.com/google/go-cmp/cmp"
	"github.com/hibiken/asynq"
	"github.com/nudgehq/nudge/internal/domain"
	"github.com/nudgehq/nudge/internal/store"
	"github.com/nudgehq/nudge/internal/subscription"
	"github.com/nudgehq/nudge/internal/twiliotest"
	"github.com/nudgehq/nudge/internal/webhook"
)

// docOp is one operation of the document, with the body its example gives.
type docOp struct {
	method, path string
	body         string
	public       bool
}

// operations lists the document's operations, reads first, then writes,
// removing a client last (so each write finds the client still there).
func operations(t *testing.T, doc *openapi3.T) []docOp {
	t.Helper()
	var out []docOp
	for path, item := range doc.Paths.Map() {
		for method, op := range item.Operations() {
			o := docOp{method: method, path: path, public: op.Security != nil && len(*op.Security) == 0}
			if op.RequestBody != nil {
				mt := op.RequestBody.Value.Content.Get("application/json")
				if mt == nil || mt.Example == nil {
					t.Fatalf("%s %s: the request body has no example", method, path)
				}
				b, err := json.Marshal(mt.Example)
				if err != nil {
					t.Fatal(err)
				}
				o.body = string(b)
			}
			out = append(out, o)
		}
	}
	rank := func(o docOp) int {
		switch {
		case o.method == "GET":
			return 0
		case o.method == "DELETE" && o.path == "/api/v1/clients/{id}":
			return 3
		case o.method == "DELETE":
			return 2
		}
		return 1
	}
	sort.Slice(out, func(i, j int) bool {
		if ri, rj := rank(out[i]), rank(out[j]); ri != rj {
			return ri < rj
		}
		return out[i].method+out[i].path < out[j].method+out[j].path
	})
	return out
}

// snapshot is everything of one client the API could change.
type snapshot struct {
	Client     domain.Subscriber
	Prompts    store.PromptState
	Planned    []string
	Replies    []store.Reply
	Deliveries []store.DeliveryRecord
	Consent    []store.ConsentEvent
	Clients    []string
}

func (b *bundle) snapshot(t *testing.T, tn tenant) snapshot {
	t.Helper()
	ctx := context.Background()
	var s snapshot
	var err error
	if s.Client, err = b.store.Client(ctx, tn.clinic.ID, tn.client); err != nil {
		t.Fatal(err)
	}
	if s.Prompts, err = b.store.PromptStateOf(ctx, tn.clinic.ID, tn.client); err != nil {
		t.Fatal(err)
	}
	if s.Planned, err = b.store.PlannedPrompts(ctx, tn.client); err != nil {
		t.Fatal(err)
	}
	slices.Sort(s.Planned)
	if s.Replies, err = b.store.Replies(ctx, tn.client); err != nil {
		t.Fatal(err)
	}
	if s.Deliveries, _, err = b.store.ClientDeliveries(ctx, tn.client, "", 100); err != nil {
		t.Fatal(err)
	}
	if s.Consent, err = b.store.Consent(ctx, tn.client); err != nil {
		t.Fatal(err)
	}
	if s.Clients, _, err = b.store.ClientIDs(ctx, tn.clinic.ID, "", 100); err != nil {
		t.Fatal(err)
	}
	if len(s.Prompts.Sessions) == 0 || len(s.Prompts.Prompts) == 0 || len(s.Replies) == 0 || len(s.Deliveries) == 0 || len(s.Planned) == 0 {
		t.Fatalf("the client lacks data to protect: %+v", s)
	}
	return s
}

// dumpRedis reads every key of the database and its value as text.
func (b *bundle) dumpRedis(t *testing.T, match string) map[string]string {
	t.Helper()
	ctx := context.Background()
	out := map[string]string{}
	iter := b.rdb.Scan(ctx, 0, match, 1000).Iterator()
	for iter.Next(ctx) {
		k := iter.Val()
		typ, err := b.rdb.Type(ctx, k).Result()
		if err != nil {
			t.Fatal(err)
		}
		var v any
		switch typ {
		case "string":
			v, err = b.rdb.Get(ctx, k).Result()
		case "hash":
			v, err = b.rdb.HGetAll(ctx, k).Result()
		case "set":
			var m []string
			m, err = b.rdb.SMembers(ctx, k).Result()
			slices.Sort(m)
			v = m
		case "zset":
			v, err = b.rdb.ZRangeWithScores(ctx, k, 0, -1).Result()
		case "list":
			v, err = b.rdb.LRange(ctx, k, 0, -1).Result()
		case "none":
			continue // gone since the scan saw it
		default:
			t.Fatalf("key %s has type %s, which the dump does not read", k, typ)
		}
		if err != nil {
			t.Fatal(err)
		}
		out[k] = fmt.Sprint(v)
	}
	if err := iter.Err(); err != nil {
		t.Fatal(err)
	}
	return out
}

// TestIsolation calls every operation of the document that names a client
// with clinic B's key on clinic A's ids: each must answer 404, exactly as
// for an id that does not exist, and A's data must not change. A revoked
// key gets 401 everywhere, and no API key is stored in clear.
func TestIsolation(t *testing.T) {
	t.Parallel()
	b := setup(t)
	doc, _ := loadDoc(t)
	ops := operations(t, doc)
	a, other := b.tenant(t, "Alpha"), b.tenant(t, "Beta")
	ids := func(tn tenant) *strings.Replacer {
		return strings.NewReplacer("{id}", tn.client, "{prompt_id}", tn.prompt)
	}
	missing := strings.NewReplacer("{id}", "nosuchclient0000", "{prompt_id}", "pnosuchprompt")

	before := b.snapshot(t, a)
	rawBefore := b.dumpRedis(t, b.store.Prefix()+"*")
	tested := 0
	for _, op := range ops {
		if !strings.Contains(op.path, "{id}") {
			continue
		}
		tested++
		path := ids(a).Replace(op.path)
		rec := b.call(t, op.method, path, other.key, op.body)
		if rec.Code != 404 {
			t.Errorf("%s %s with another clinic's key: %d %s, want 404", op.method, op.path, rec.Code, rec.Body)
			continue
		}
		none := b.call(t, op.method, missing.Replace(op.path), other.key, op.body)
		if none.Code != rec.Code || none.Body.String() != rec.Body.String() {
			t.Errorf("%s %s: another clinic's id answers %d %s, an unknown id %d %s: they must not differ",
				op.method, op.path, rec.Code, rec.Body, none.Code, none.Body)
		}
		if strings.Contains(op.path, "{prompt_id}") {
			// Clinic B's own client, clinic A's prompt.
			own := strings.NewReplacer("{id}", other.client, "{prompt_id}", a.prompt).Replace(op.path)
			if rec := b.call(t, op.method, own, other.key, op.body); rec.Code != 404 || rec.Body.String() != none.Body.String() {
				t.Errorf("%s %s on another clinic's prompt through one's own client: %d %s, want 404", op.method, op.path, rec.Code, rec.Body)
			}
		}
	}
	if tested < 10 {
		t.Fatalf("only %d operations take a client id: the document's route list was not read", tested)
	}
	if diff := cmp.Diff(before, b.snapshot(t, a)); diff != "" {
		t.Errorf("clinic A's client changed through clinic B's key (-before +after):\n%s", diff)
	}
	if diff := cmp.Diff(rawBefore, b.dumpRedis(t, b.store.Prefix()+"*")); diff != "" {
		t.Errorf("the store changed through clinic B's key (-before +after):\n%s", diff)
	}

	// A revoked key (or none) works nowhere.
	for _, op := range ops {
		if op.public {
			continue
		}
		path := ids(a).Replace(op.path)
		for _, key := range []string{a.revokedKey, ""} {
			rec := b.call(t, op.method, path, key, op.body)
			if rec.Code != 401 || !strings.HasPrefix(rec.Header().Get("WWW-Authenticate"), "Bearer") {
				t.Errorf("%s %s with key %.8q: %d (WWW-Authenticate %q), want 401", op.method, op.path, key, rec.Code, rec.Header().Get("WWW-Authenticate"))
			}
		}
	}
	if diff := cmp.Diff(before, b.snapshot(t, a)); diff != "" {
		t.Errorf("clinic A's client changed through a revoked key (-before +after):\n%s", diff)
	}

	// The same requests with clinic A's own key work: the 404s above came
	// from isolation, not from requests that could not have worked.
	for _, op := range ops {
		if !strings.Contains(op.path, "{id}") {
			continue
		}
		path := ids(a).Replace(op.path)
		if rec := b.call(t, op.method, path, a.key, op.body); rec.Code >= 300 {
			t.Errorf("%s %s with its own clinic's key: %d %s", op.method, path, rec.Code, rec.Body)
		}
	}

	// Nothing in the database holds an API key in clear.
	dump := b.dumpRedis(t, "*")
	foundEmail := false
	for k, v := range dump {
		for _, key := range []string{a.key, a.revokedKey, other.key, other.revokedKey} {
			if strings.Contains(k, key) || strings.Contains(v, key) {
				t.Errorf("key %s holds an API key in clear", k)
			}
		}
		foundEmail = foundEmail || strings.Contains(v, other.email)
	}
	if !foundEmail {
		t.Errorf("the dump of %d keys does not show clinic B's client's address: it does not read the values", len(dump))
	}
}

// TestIsolationOfASharedNumber: clinic B enrols the number of clinic A's
// confirmed client and asks it to confirm. What the number then texts
// reaches clinic A's record only: no call clinic B can make returns it.
func TestIsolationOfASharedNumber(t *testing.T) {
	t.Parallel()
	b := setup(t)
	ctx := context.Background()
	doc, _ := loadDoc(t)
	a, other := b.tenant(t, "Alpha"), b.tenant(t, "Beta")
	const number = "+447400123456" // both tenants' clients hold it
	const token = "0123456789abcdef0123456789abcdef"
	logger := slog.New(slog.NewTextHandler(io.Discard, nil))
	now := func() time.Time { return testNow }
	mux := http.NewServeMux()
	webhook.NewTwilio(b.store, subscription.New(b.store, asynq.NewClientFromRedisClient(b.rdb), now, logger), token, "https://nudge.test", now, logger).Register(mux)
	text := func(sid, body string) {
		t.Helper()
		params := url.Values{"MessageSid": {sid}, "From": {number}, "To": {"+15005550006"}, "Body": {body}}
		req, err := twiliotest.NewSignedRequest(ctx, token, "https://nudge.test/webhooks/twilio/sms", "/webhooks/twilio/sms", params)
		if err != nil {
			t.Fatal(err)
		}
		rec := httptest.NewRecorder()
		mux.ServeHTTP(rec, req)
		if rec.Code != http.StatusOK {
			t.Fatalf("inbound %q: %d", body, rec.Code)
		}
	}
	asked := func(id string) {
		t.Helper()
		k := store.DeliveryKey{SubscriberID: id, Program: "system-sms-confirm", Date: "enrol", Channel: domain.SMS}
		if err := b.store.ClaimDelivery(ctx, k, testNow); err != nil {
			t.Fatal(err)
		}
		if err := b.store.FinishSent(ctx, k, "SMask"+id, testNow, store.SentMarks{SMSAskedAt: testNow}); err != nil {
			t.Fatal(err)
		}
	}
	asked(a.client)
	text("SMyesalpha000000000000000000000001", "YES")
	asked(other.client)
	const words = "I slipped back into drinking this weekend"
	text("SMnote00000000000000000000000000001", words)
	text("SMrate00000000000000000000000000001", "1 rough week")

	for _, op := range operations(t, doc) {
		if op.method != "GET" || op.public {
			continue
		}
		path := strings.NewReplacer("{id}", other.client, "{prompt_id}", other.prompt).Replace(op.path)
		rec := b.call(t, op.method, path, other.key, "")
		if rec.Code >= 300 {
			t.Errorf("GET %s with its own key: %d %s", path, rec.Code, rec.Body)
		}
		if strings.Contains(rec.Body.String(), "drinking") || strings.Contains(rec.Body.String(), "rough week") {
			t.Errorf("clinic B reads clinic A's client's words at %s: %s", path, rec.Body)
		}
	}
	if c, _ := b.store.Subscriber(ctx, other.client); c.SMSStatus != domain.SMSPending {
		t.Errorf("clinic B's client is %q, want still pending", c.SMSStatus)
	}
	rec := b.call(t, "GET", "/api/v1/clients/"+a.client+"/replies", a.key, "")
	if !strings.Contains(rec.Body.String(), words) {
		t.Errorf("clinic A does not get its client's reply: %s", rec.Body)
	}
}
