package main

import (
	"testing"

	"github.com/nudgehq/nudge/internal/redistest"
)

func TestMain(m *testing.M) { redistest.Main(m, redistest.DBMain) }
