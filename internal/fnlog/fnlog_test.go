package fnlog

import (
	"context"
	"fmt"
	"testing"
)

func TestTailKeepsMostRecent(t *testing.T) {
	tests := []struct {
		appended, n int
		want        []string
	}{
		{appended: 2, n: 10, want: []string{"0", "1"}},
		{appended: 5, n: 2, want: []string{"3", "4"}},
		{appended: 7, n: 10, want: []string{"3", "4", "5", "6"}}, // capacity 4
		{appended: 3, n: 0, want: nil},
	}
	for _, tt := range tests {
		t.Run(fmt.Sprint(tt.appended, "/", tt.n), func(t *testing.T) {
			b := New(4)
			for i := range tt.appended {
				b.Append(Entry{Function: "f", Message: fmt.Sprint(i)})
			}
			b.Append(Entry{Function: "other", Message: "x"})
			got := b.Tail("f", tt.n)
			if len(got) != len(tt.want) {
				t.Fatalf("Tail = %v, want %v", got, tt.want)
			}
			for i := range got {
				if got[i].Message != tt.want[i] {
					t.Fatalf("Tail = %v, want %v", got, tt.want)
				}
			}
		})
	}
}

func TestFollow(t *testing.T) {
	b := New(4)
	ctx, cancel := context.WithCancel(context.Background())
	ch := b.Follow(ctx, "f")
	b.Append(Entry{Function: "g", Message: "not mine"})
	b.Append(Entry{Function: "f", Message: "mine"})
	if e := <-ch; e.Message != "mine" {
		t.Fatalf("followed %q, want mine", e.Message)
	}
	cancel()
	for range ch { // drains until closed
	}
	b.Append(Entry{Function: "f", Message: "after"}) // must not panic on a closed follower
}
