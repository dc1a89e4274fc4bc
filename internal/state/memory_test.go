package state_test

import (
	"testing"
	"time"

	"github.com/hearth-sh/hearth/internal/clock"
	"github.com/hearth-sh/hearth/internal/state"
	"github.com/hearth-sh/hearth/internal/state/statetest"
)

func TestMemoryConformance(t *testing.T) {
	statetest.Run(t, func(t *testing.T) statetest.Harness {
		clk := clock.NewFake(time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC))
		return statetest.Harness{Store: state.NewMemory(clk, state.Limits{}), Clock: clk}
	})
}
