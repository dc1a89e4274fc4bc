package main

import (
	"strings"
	"testing"
)

func TestSyncAlways(t *testing.T) {
	for _, tc := range []struct {
		sync    string
		legacy  bool
		want    bool
		wantErr string
	}{
		{sync: "interval", want: false},
		{sync: "always", want: true},
		{sync: "interval", legacy: true, want: true},
		{sync: "always", legacy: true, want: true},
		{sync: "sometimes", wantErr: `--sync "sometimes": use interval or always`},
		{sync: "", wantErr: "use interval or always"},
	} {
		got, err := syncAlways(tc.sync, tc.legacy)
		if tc.wantErr != "" {
			if err == nil || !strings.Contains(err.Error(), tc.wantErr) {
				t.Errorf("syncAlways(%q, %v) err = %v, want %q", tc.sync, tc.legacy, err, tc.wantErr)
			}
			continue
		}
		if err != nil || got != tc.want {
			t.Errorf("syncAlways(%q, %v) = %v, %v; want %v", tc.sync, tc.legacy, got, err, tc.want)
		}
	}
}
