package workflow

import (
	"context"
	"sync"
	"testing"
	"time"

	"github.com/hearth-sh/hearth/internal/clock"
	"github.com/hearth-sh/hearth/internal/workflow/asl"
)

// eagerClock fires every timer at once, however long, moving time forward.
type eagerClock struct {
	mu  sync.Mutex
	now time.Time
}

func (c *eagerClock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.now
}

func (c *eagerClock) AfterFunc(d time.Duration, f func()) clock.Timer {
	c.mu.Lock()
	if d > 0 {
		c.now = c.now.Add(d)
	}
	c.mu.Unlock()
	go f()
	return stopped{}
}

// FuzzRun checks that any definition the parser accepts runs to an end
// (within the history limit) without panicking, whatever its input.
func FuzzRun(f *testing.F) {
	seeds := [][2]string{
		{`{"StartAt":"A","States":{"A":{"Type":"Pass","Parameters":{"x.$":"States.Format('{}', $.a)"},"Next":"C"},"C":{"Type":"Choice","Choices":[{"Variable":"$.x","StringMatches":"*1*","Next":"W"}],"Default":"F"},"W":{"Type":"Wait","SecondsPath":"$.w","End":true},"F":{"Type":"Fail","ErrorPath":"$.x"}}}`, `{"a":1,"w":3}`},
		{`{"StartAt":"M","States":{"M":{"Type":"Map","ItemsPath":"$.xs","ItemSelector":{"v.$":"$$.Map.Item.Value"},"ItemProcessor":{"StartAt":"T","States":{"T":{"Type":"Task","Resource":"f","Retry":[{"ErrorEquals":["States.ALL"],"MaxAttempts":2}],"End":true}}},"End":true}}}`, `{"xs":[1,2,3]}`},
		{`{"QueryLanguage":"JSONata","StartAt":"P","States":{"P":{"Type":"Parallel","Branches":[{"StartAt":"X","States":{"X":{"Type":"Pass","Output":"{% $states.input.a * 2 %}","End":true}}}],"Assign":{"r":"{% $states.result %}"},"Next":"S"},"S":{"Type":"Succeed","Output":"{% $r %}"}}}`, `{"a":2}`},
		{`{"StartAt":"A","States":{"A":{"Type":"Pass","Next":"A"}}}`, `{}`},
	}
	for _, s := range seeds {
		f.Add(s[0], s[1])
	}
	f.Fuzz(func(t *testing.T, def, input string) {
		m, err := asl.Parse([]byte(def))
		if err != nil {
			return
		}
		in, err := asl.DecodeJSON([]byte(input))
		if err != nil {
			return
		}
		x := New(InvokerFunc(func(_ context.Context, req TaskRequest) (any, error) { return req.Input, nil }), &eagerClock{}, nil, nil)
		x.MaxEvents = 500
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		res, err := x.Run(ctx, Execution{ID: "fuzz", Machine: m, Input: in}, nil)
		if err != nil {
			t.Fatalf("run did not finish: %v", err)
		}
		if res.Status == StatusRunning {
			t.Fatalf("run returned while RUNNING")
		}
	})
}
