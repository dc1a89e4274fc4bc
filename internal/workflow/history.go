package workflow

import (
	"context"
	"sync"
)

// HistorySink receives the events of executions as they happen. Append is
// called once per new event, in ID order for each execution; an error stops
// the execution (a durable engine must not run ahead of its history).
type HistorySink interface {
	Append(ctx context.Context, executionID string, ev Event) error
}

// HistoryStore is a sink that can also read an execution's history back,
// which is what resuming an execution needs.
type HistoryStore interface {
	HistorySink
	// Load returns the events of an execution in ID order; an unknown
	// execution has an empty history.
	Load(ctx context.Context, executionID string) ([]Event, error)
}

// MemoryStore is a HistoryStore in memory, for tests and EXPRESS executions.
// It is safe for concurrent use.
type MemoryStore struct {
	mu     sync.Mutex
	events map[string][]Event
}

// NewMemoryStore returns an empty store.
func NewMemoryStore() *MemoryStore { return &MemoryStore{events: map[string][]Event{}} }

// Append records ev.
func (s *MemoryStore) Append(_ context.Context, executionID string, ev Event) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.events[executionID] = append(s.events[executionID], ev)
	return nil
}

// Load returns a copy of the execution's events.
func (s *MemoryStore) Load(_ context.Context, executionID string) ([]Event, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]Event(nil), s.events[executionID]...), nil
}
