package workflow

import (
	"encoding/json"
	"strings"
	"time"
)

// Snapshot is what an execution's history says about it: the fold of its
// events. Describe and list operations read it; Run rebuilds the full
// interpreter state by replaying the same events.
type Snapshot struct {
	Status    Status
	Input     json.RawMessage
	Output    json.RawMessage // when SUCCEEDED
	Error     string
	Cause     string
	StartTime time.Time
	StopTime  time.Time // zero while running
	// Active lists the states entered and not yet exited (several when
	// Parallel branches or Map iterations run), in entered order.
	Active []string
	// LastEventID is the ID of the last event folded in.
	LastEventID int64
}

// Rebuild folds an execution's events into a Snapshot.
func Rebuild(events []Event) Snapshot {
	var s Snapshot
	if len(events) == 0 {
		return s
	}
	s.Status = StatusRunning
	active := map[string]int{} // state key prefix -> position in Active
	for _, ev := range events {
		s.LastEventID = max(s.LastEventID, ev.ID)
		scope := ev.Key
		if i := strings.LastIndexByte(scope, '#'); i >= 0 {
			scope = scope[:i]
		}
		switch {
		case ev.Type == ExecutionStarted:
			s.Input, s.StartTime = ev.Input, ev.Timestamp
		case ev.Type == ExecutionSucceeded:
			s.Status, s.Output, s.StopTime = StatusSucceeded, ev.Output, ev.Timestamp
		case ev.Type == ExecutionFailed:
			s.Status, s.Error, s.Cause, s.StopTime = StatusFailed, ev.Error, ev.Cause, ev.Timestamp
		case ev.Type == ExecutionTimedOut:
			s.Status, s.Error, s.Cause, s.StopTime = StatusTimedOut, ev.Error, ev.Cause, ev.Timestamp
		case ev.Type == ExecutionAborted:
			s.Status, s.Error, s.Cause, s.StopTime = StatusAborted, ev.Error, ev.Cause, ev.Timestamp
		case strings.HasSuffix(string(ev.Type), "StateEntered"):
			active[scope+"|"+ev.Name] = len(s.Active)
			s.Active = append(s.Active, ev.Name)
		case strings.HasSuffix(string(ev.Type), "StateExited"):
			if i, ok := active[scope+"|"+ev.Name]; ok {
				s.Active[i] = ""
				delete(active, scope+"|"+ev.Name)
			}
		}
	}
	out := s.Active[:0]
	for _, name := range s.Active {
		if name != "" {
			out = append(out, name)
		}
	}
	s.Active = out
	return s
}
