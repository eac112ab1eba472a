package sms

import (
	"context"
	"testing"

	"github.com/nudgehq/nudge/internal/twiliotest"
)

// BenchmarkSend measures Send through twilio-go to the stand-in in the same
// process, at 2×GOMAXPROCS concurrent sends, and reports the connections
// the stand-in saw.
func BenchmarkSend(b *testing.B) {
	srv := twiliotest.Start(b)
	tw, err := NewTwilio(Config{AccountSID: srv.AccountSID, AuthToken: srv.AuthToken, From: testFrom, APIURL: srv.URL}, nil)
	if err != nil {
		b.Fatal(err)
	}
	defer tw.Close()
	b.SetParallelism(2)
	b.ResetTimer()
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			if _, err := tw.Send(context.Background(), testMessage()); err != nil {
				b.Error(err)
			}
		}
	})
	b.ReportMetric(float64(srv.Conns()), "conns")
}
