package redisconn_test

import (
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
	"github.com/hibiken/asynq"
	"github.com/nudgehq/nudge/internal/redisconn"
)

func TestParseSentinel(t *testing.T) {
	tests := []struct {
		name, url       string
		addrs           []string
		master          string
		db              int
		user, pass      string
		sentUser, sPass string
		tls             bool
	}{
		{name: "two sentinels", url: "redis+sentinel://h1:26379,h2:26380/mymaster/2",
			addrs: []string{"h1:26379", "h2:26380"}, master: "mymaster", db: 2},
		{name: "default port and db", url: "redis+sentinel://h1,10.0.0.2/primary",
			addrs: []string{"h1:26379", "10.0.0.2:26379"}, master: "primary"},
		{name: "password only", url: "redis+sentinel://:s%40cret@h1:1/m/0",
			addrs: []string{"h1:1"}, master: "m", pass: "s@cret"},
		{name: "user and password", url: "redis+sentinel://nudge:pw@h1/m/3",
			addrs: []string{"h1:26379"}, master: "m", db: 3, user: "nudge", pass: "pw"},
		{name: "ipv6", url: "redis+sentinel://[::1]:26379,[::2]/m",
			addrs: []string{"[::1]:26379", "[::2]:26379"}, master: "m"},
		{name: "trailing slash", url: "redis+sentinel://h1/m/",
			addrs: []string{"h1:26379"}, master: "m"},
		{name: "sentinel credentials", url: "redis+sentinel://:pw@h1/m?sentinel_password=sp&sentinel_username=su",
			addrs: []string{"h1:26379"}, master: "m", pass: "pw", sentUser: "su", sPass: "sp"},
		{name: "tls", url: "rediss+sentinel://h1:26379,h2:26379/m/1",
			addrs: []string{"h1:26379", "h2:26379"}, master: "m", db: 1, tls: true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			o, err := redisconn.Parse(tt.url)
			if err != nil {
				t.Fatalf("Parse(%q): %v", tt.url, err)
			}
			if !o.Sentinel() || o.Single != nil {
				t.Fatalf("Parse(%q) is not a sentinel connection: %+v", tt.url, o)
			}
			f := o.Failover
			if diff := cmp.Diff(tt.addrs, f.SentinelAddrs); diff != "" {
				t.Errorf("sentinel addresses (-want +got):\n%s", diff)
			}
			if f.MasterName != tt.master || f.DB != tt.db || f.Username != tt.user || f.Password != tt.pass ||
				f.SentinelUsername != tt.sentUser || f.SentinelPassword != tt.sPass || (f.TLSConfig != nil) != tt.tls {
				t.Errorf("got master %q db %d user %q pass %q sentinel user %q pass %q tls %v",
					f.MasterName, f.DB, f.Username, f.Password, f.SentinelUsername, f.SentinelPassword, f.TLSConfig != nil)
			}
			opt, ok := o.AsynqOpt().(asynq.RedisFailoverClientOpt)
			if !ok {
				t.Fatalf("AsynqOpt is %T, want asynq.RedisFailoverClientOpt", o.AsynqOpt())
			}
			if opt.MasterName != tt.master || opt.DB != tt.db || opt.Password != tt.pass || len(opt.SentinelAddrs) != len(tt.addrs) {
				t.Errorf("asynq option %+v does not match", opt)
			}
			c := o.NewClient()
			defer c.Close()
			if got := c.Options().DB; got != tt.db {
				t.Errorf("client db = %d, want %d", got, tt.db)
			}
		})
	}
}

func TestParseSingle(t *testing.T) {
	tests := []struct {
		url, network, addr string
		db                 int
		tls                bool
	}{
		{"redis://localhost:6379/2", "tcp", "localhost:6379", 2, false},
		{"redis://:pw@redis.example.org", "tcp", "redis.example.org:6379", 0, false},
		{"rediss://redis.example.org:6380/1", "tcp", "redis.example.org:6380", 1, true},
		{"unix:///run/redis/redis.sock?db=4", "unix", "/run/redis/redis.sock", 4, false},
	}
	for _, tt := range tests {
		t.Run(tt.url, func(t *testing.T) {
			o, err := redisconn.Parse(tt.url)
			if err != nil {
				t.Fatalf("Parse(%q): %v", tt.url, err)
			}
			if o.Sentinel() || o.Single == nil {
				t.Fatalf("Parse(%q) is a sentinel connection", tt.url)
			}
			s := o.Single
			if s.Network != tt.network || s.Addr != tt.addr || s.DB != tt.db || (s.TLSConfig != nil) != tt.tls {
				t.Errorf("got %s %s db %d tls %v", s.Network, s.Addr, s.DB, s.TLSConfig != nil)
			}
			opt, ok := o.AsynqOpt().(asynq.RedisClientOpt)
			if !ok || opt.Addr != tt.addr || opt.DB != tt.db || opt.Network != tt.network {
				t.Errorf("asynq option %#v does not match", o.AsynqOpt())
			}
		})
	}
}

func TestParseRejects(t *testing.T) {
	tests := []struct{ url, want string }{
		{"localhost:6379", "must start with redis://"},
		{"no scheme at all", "not a URL"},
		{"http://redis.example.org", "scheme \"http\": the URL must start with redis://"},
		{"redis://h:notaport", "not a valid URL"},
		{"redis://h/notadb", "not a Redis URL"},
		{"redis+sentinel:///m", "names no sentinel"},
		{"redis+sentinel://h1,h2", "names no master"},
		{"redis+sentinel://h1,h2/", "names no master"},
		{"redis+sentinel://h1/m/x", "is not a number"},
		{"redis+sentinel://h1/m/-1", "is not a number"},
		{"redis+sentinel://h1/m/1/2", "is not a number"},
		{"redis+sentinel://h1,,h2/m", "empty sentinel address"},
		{"redis+sentinel://h1:0/m", "no valid port"},
		{"redis+sentinel://h1:99999/m", "no valid port"},
		{"redis+sentinel://:26379/m", "no host"},
		{"redis+sentinel://h1/m?db=2", "unknown parameter \"db\""},
		{"redis+sentinel://:pw%zz@h1/m", "password is not properly escaped"},
	}
	for _, tt := range tests {
		t.Run(tt.url, func(t *testing.T) {
			_, err := redisconn.Parse(tt.url)
			if err == nil {
				t.Fatalf("Parse(%q) = nil error, want one containing %q", tt.url, tt.want)
			}
			if !strings.Contains(err.Error(), tt.want) {
				t.Errorf("Parse(%q) = %q, want it to contain %q", tt.url, err, tt.want)
			}
		})
	}
}

func TestParseNeverQuotesPassword(t *testing.T) {
	for _, u := range []string{
		"redis://:hunter2secret@h:notaport",
		"redis+sentinel://:hunter2secret@h1/m/x",
		"redis+sentinel://:hunter2secret@h1:0/m",
		"redis+sentinel://:hunter2secret@h1/m?x=1",
	} {
		_, err := redisconn.Parse(u)
		if err == nil {
			t.Fatalf("Parse(%q) = nil error", u)
		}
		if strings.Contains(err.Error(), "hunter2secret") {
			t.Errorf("Parse error quotes the password: %q", err)
		}
	}
}
