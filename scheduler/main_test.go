package scheduler_test

import (
	"testing"

	"github.com/nudgehq/nudge/internal/redistest"
)

// The planner's tests share DBScheduler, each under its own key prefix and
// asynq queue; the benchmark uses DBBench.
func TestMain(m *testing.M) { redistest.Main(m, redistest.DBScheduler) }
