// Package workflow runs Amazon States Language state machines (parsed by
// internal/workflow/asl) and records each execution as a sequence of Step
// Functions history events.
//
// # Event sourcing
//
// An execution's state is a function of its history. Executor.Run, handed
// the events recorded so far, re-runs the interpreter from the start and
// replays them: every event carries a deterministic Key (the scope it ran
// in, the execution itself, a Parallel branch or a Map iteration, and its
// position in that scope), and an event whose Key is already recorded is
// reused, not appended again. Pass, Choice and the input/output processing
// are pure, so they reproduce the same events; everything that is not pure
// comes from the history:
//
//   - a Task whose outcome (TaskSucceeded/TaskFailed/… or the
//     LambdaFunction* equivalents) is recorded is not run again; its
//     recorded result is used;
//   - a Task that was scheduled but has no outcome (it was in flight when
//     the process died) runs again with the same TaskRequest.IdempotencyKey:
//     Task invocation is at-least-once, and the key lets the callee
//     deduplicate;
//   - a Wait ends at its recorded entered time plus its duration, and a
//     retry interval starts at the recorded failure event, so timers survive
//     restarts and a 30-day Wait holds nothing but one clock timer;
//   - times ($$.State.EnteredTime, $now()) are the recorded event
//     timestamps, and random values (States.UUID, States.MathRandom, retry
//     jitter) are drawn from a source seeded by execution ID and event Key.
//
// Events reach the HistorySink in ID order, one at a time, before the
// execution moves on: what the sink has stored is what a resumed run
// starts from. MemoryStore keeps histories in memory (tests, EXPRESS);
// JetStreamStore keeps them in a JetStream stream, a subject per execution,
// and fences concurrent writers.
//
// # Traces
//
// With Executor.Tracer set, each Run is a span ("workflow NAME"), each
// state it enters a child span ("state NAME"), Parallel branches and Map
// iterations spans between a state and the states inside it, and a Task's
// Invoker is called in its state's span context. The first run's trace
// context is recorded on ExecutionStarted (Event.Trace); a resumed run's
// span is a child of it, so an execution that parks for a month or
// survives restarts is one trace. Replayed states get no spans, except
// the one each scope's history leaves unfinished, which the resumed run
// completes.
//
// # Limits
//
// Iterations of a DISTRIBUTED Map keep no events in the parent history
// (Step Functions runs them as child executions), so a resumed run repeats
// them. When one Parallel branch or Map iteration fails, its siblings are
// cancelled; a sibling's in-flight Task then has no recorded outcome.
package workflow
