package policy

import (
	"testing"
	"time"
)

func TestSeason(t *testing.T) {
	tests := []struct {
		name       string
		peak       func(minute int) int // peak concurrency of each minute; 0 = idle
		minutes    int
		wantPeriod int64
		wantNeed   int // predicted for the minute after the history and the next
	}{
		{
			name:       "fan-out of 8 every 5 minutes",
			peak:       func(m int) int { return map[bool]int{true: 8, false: 1}[m%5 == 4] },
			minutes:    124, // minute 124 is a fan-out minute, like 119 and 114
			wantPeriod: 5,
			wantNeed:   8,
		},
		{
			name:       "hourly spike",
			peak:       func(m int) int { return map[bool]int{true: 40, false: 2}[m%60 == 0 || m%60 == 1] },
			minutes:    180, // minute 180 spikes, like 120 and 60
			wantPeriod: 60,
			wantNeed:   40,
		},
		{
			name:       "steady load has no period",
			peak:       func(int) int { return 3 },
			minutes:    120,
			wantPeriod: 0,
			wantNeed:   0,
		},
		{
			name:       "too little history",
			peak:       func(m int) int { return map[bool]int{true: 8, false: 1}[m%5 == 0] },
			minutes:    5,
			wantPeriod: 0,
			wantNeed:   0,
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var s season
			for m := range tt.minutes {
				if p := tt.peak(m); p > 0 {
					s.observe(t0.Add(time.Duration(m)*time.Minute+time.Second), p)
				}
			}
			now := t0.Add(time.Duration(tt.minutes) * time.Minute)
			s.refresh(now)
			if s.period != tt.wantPeriod {
				t.Fatalf("period = %d, want %d", s.period, tt.wantPeriod)
			}
			if got := s.need(now); got != tt.wantNeed {
				t.Errorf("need = %d, want %d", got, tt.wantNeed)
			}
		})
	}
}

func TestSeasonRecent(t *testing.T) {
	var s season
	s.observe(t0, 5)
	s.observe(t0.Add(30*time.Second), 7) // same minute: the peak rises
	s.observe(t0.Add(3*time.Minute), 2)
	if got := s.recent(t0); got != 7 {
		t.Errorf("recent peak since the start = %d, want 7", got)
	}
	if got := s.recent(t0.Add(2 * time.Minute)); got != 2 {
		t.Errorf("recent peak of the last minutes = %d, want 2", got)
	}
	s.observe(t0.Add(4*time.Hour), 1)
	if len(s.peaks) != 1 {
		t.Errorf("kept %d minutes after 4 hours, want only the newest", len(s.peaks))
	}
}
