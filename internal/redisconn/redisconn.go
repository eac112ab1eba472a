// Package redisconn reads the forms NUDGE_REDIS_URL takes and builds, from
// one parsed value, both the go-redis client nudge uses and the connection
// option asynq takes, so that the store and the queue always talk to the
// same primary.
//
// Forms:
//
//	redis://[[user]:password@]host[:port][/db]          one Redis
//	rediss://…                                          the same over TLS
//	unix://[[user]:password@]/path/to/redis.sock[?db=N] one Redis on a socket
//	redis+sentinel://[[user]:password@]h1[:26379],h2[:26379]/<master-name>[/<db>]
//	rediss+sentinel://…                                 Sentinel, TLS to every node
//
// With Sentinel, the password (and user) authenticate to the primary; the
// query parameters sentinel_username and sentinel_password authenticate to
// the sentinels when they require it. Every command, reads included, goes
// to the primary: a replica may be behind, and a delivery record read from
// one could say "not claimed" after a claim was made.
package redisconn

import (
	"crypto/tls"
	"errors"
	"fmt"
	"net"
	"net/url"
	"strconv"
	"strings"

	"github.com/hibiken/asynq"
	"github.com/redis/go-redis/v9"
)

// DefaultSentinelPort is the port a sentinel address without one gets.
const DefaultSentinelPort = "26379"

// Options is a parsed NUDGE_REDIS_URL: exactly one of Single and Failover
// is set.
type Options struct {
	// Single is set for redis://, rediss:// and unix:// URLs.
	Single *redis.Options
	// Failover is set for redis+sentinel:// and rediss+sentinel:// URLs.
	Failover *redis.FailoverOptions
}

// Parse reads a Redis URL in one of the package's forms. Its errors never
// quote the URL's password.
func Parse(raw string) (*Options, error) {
	raw = strings.TrimSpace(raw)
	scheme, _, ok := strings.Cut(raw, "://")
	if !ok {
		return nil, errors.New("not a URL (it must start with redis://, rediss://, unix://, redis+sentinel:// or rediss+sentinel://)")
	}
	switch strings.ToLower(scheme) {
	case "redis", "rediss", "unix":
		u, err := url.Parse(raw)
		if err != nil {
			return nil, errors.New("not a valid URL")
		}
		opts, err := redis.ParseURL(raw)
		if err != nil {
			return nil, fmt.Errorf("%q is not a Redis URL: %s", u.Redacted(), strings.TrimPrefix(err.Error(), "redis: "))
		}
		return &Options{Single: opts}, nil
	case "redis+sentinel", "rediss+sentinel":
		f, err := parseSentinel(raw[len(scheme)+3:], strings.EqualFold(scheme, "rediss+sentinel"))
		if err != nil {
			return nil, err
		}
		return &Options{Failover: f}, nil
	default:
		return nil, fmt.Errorf("scheme %q: the URL must start with redis://, rediss://, unix://, redis+sentinel:// or rediss+sentinel://", scheme)
	}
}

// parseSentinel reads what follows "redis+sentinel://". url.Parse cannot
// read it: the host part is a comma-separated list.
func parseSentinel(rest string, useTLS bool) (*redis.FailoverOptions, error) {
	f := &redis.FailoverOptions{}
	rest, query, _ := strings.Cut(rest, "?")
	hostPart, path, _ := strings.Cut(rest, "/")
	if i := strings.LastIndex(hostPart, "@"); i >= 0 {
		user, pass, hasPass := strings.Cut(hostPart[:i], ":")
		hostPart = hostPart[i+1:]
		var err error
		if f.Username, err = url.PathUnescape(user); err != nil {
			return nil, errors.New("the user name is not properly escaped")
		}
		if hasPass {
			if f.Password, err = url.PathUnescape(pass); err != nil {
				return nil, errors.New("the password is not properly escaped")
			}
		}
	}
	redacted := "sentinel://" + hostPart + "/" + path
	if hostPart == "" {
		return nil, fmt.Errorf("%q names no sentinel (host1:26379,host2:26379)", redacted)
	}
	for a := range strings.SplitSeq(hostPart, ",") {
		addr, err := sentinelAddr(a)
		if err != nil {
			return nil, fmt.Errorf("%q: %w", redacted, err)
		}
		f.SentinelAddrs = append(f.SentinelAddrs, addr)
	}
	path = strings.TrimSuffix(path, "/")
	name, db, hasDB := strings.Cut(path, "/")
	if name == "" {
		return nil, fmt.Errorf("%q names no master: the path must be /<master-name> or /<master-name>/<db>", redacted)
	}
	var err error
	if f.MasterName, err = url.PathUnescape(name); err != nil {
		return nil, fmt.Errorf("%q: the master name is not properly escaped", redacted)
	}
	if hasDB {
		n, err := strconv.Atoi(db)
		if err != nil || n < 0 || strings.Contains(db, "/") {
			return nil, fmt.Errorf("%q: the database %q is not a number from 0 up", redacted, db)
		}
		f.DB = n
	}
	q, err := url.ParseQuery(query)
	if err != nil {
		return nil, fmt.Errorf("%q: the query is not valid", redacted)
	}
	for k, v := range q {
		switch k {
		case "sentinel_username":
			f.SentinelUsername = v[len(v)-1]
		case "sentinel_password":
			f.SentinelPassword = v[len(v)-1]
		default:
			return nil, fmt.Errorf("%q: unknown parameter %q (known: sentinel_username, sentinel_password)", redacted, k)
		}
	}
	if useTLS {
		// No ServerName: each node's is taken from the address dialled.
		f.TLSConfig = &tls.Config{MinVersion: tls.VersionTLS12}
	}
	return f, nil
}

// sentinelAddr checks one sentinel's host[:port], adding the default port.
func sentinelAddr(a string) (string, error) {
	if a == "" {
		return "", errors.New("an empty sentinel address in the list")
	}
	host, port, err := net.SplitHostPort(a)
	if err != nil {
		// No port: the whole is the host (an IPv6 literal keeps its brackets).
		host, port = strings.TrimSuffix(strings.TrimPrefix(a, "["), "]"), DefaultSentinelPort
		if strings.ContainsAny(host, "[]") || (strings.Contains(host, ":") && !strings.HasPrefix(a, "[")) {
			return "", fmt.Errorf("sentinel address %q is not host:port", a)
		}
	}
	if host == "" {
		return "", fmt.Errorf("sentinel address %q has no host", a)
	}
	if n, err := strconv.Atoi(port); err != nil || n < 1 || n > 65535 {
		return "", fmt.Errorf("sentinel address %q has no valid port", a)
	}
	return net.JoinHostPort(host, port), nil
}

// Sentinel reports whether the primary is found through sentinels.
func (o *Options) Sentinel() bool { return o.Failover != nil }

// NewClient returns a go-redis client on the primary: a plain client, or
// a failover client that asks the sentinels where the primary is and
// follows it when they promote another. Both are *redis.Client.
func (o *Options) NewClient() *redis.Client {
	if o.Failover != nil {
		f := *o.Failover
		// Never a replica, for reads or writes (see the package doc).
		f.ReplicaOnly, f.RouteByLatency, f.RouteRandomly = false, false, false
		return redis.NewFailoverClient(&f)
	}
	return redis.NewClient(o.Single)
}

// AsynqOpt is the same connection as asynq's option, for the asynq parts
// that build their own client.
func (o *Options) AsynqOpt() asynq.RedisConnOpt {
	if f := o.Failover; f != nil {
		return asynq.RedisFailoverClientOpt{
			MasterName: f.MasterName, SentinelAddrs: f.SentinelAddrs,
			SentinelUsername: f.SentinelUsername, SentinelPassword: f.SentinelPassword,
			Username: f.Username, Password: f.Password, DB: f.DB, TLSConfig: f.TLSConfig,
		}
	}
	s := o.Single
	return asynq.RedisClientOpt{
		Network: s.Network, Addr: s.Addr, Username: s.Username, Password: s.Password,
		DB: s.DB, TLSConfig: s.TLSConfig,
	}
}

// String describes where the connection goes, without secrets, for logs.
func (o *Options) String() string {
	if f := o.Failover; f != nil {
		return fmt.Sprintf("sentinel master %q via %s (db %d)", f.MasterName, strings.Join(f.SentinelAddrs, ","), f.DB)
	}
	return fmt.Sprintf("%s %s (db %d)", o.Single.Network, o.Single.Addr, o.Single.DB)
}
