package hearth

import "testing"

func TestTraceID(t *testing.T) {
	tests := []struct {
		name, traceparent, want string
	}{
		{"sampled", "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01", "4bf92f3577b34da6a3ce929d0e0e4736"},
		{"not sampled", "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-00", "4bf92f3577b34da6a3ce929d0e0e4736"},
		{"none", "", ""},
		{"zero id", "00-00000000000000000000000000000000-00f067aa0ba902b7-01", ""},
		{"short id", "00-4bf92f35-00f067aa0ba902b7-01", ""},
		{"upper case", "00-4BF92F3577B34DA6A3CE929D0E0E4736-00f067aa0ba902b7-01", ""},
		{"not hex", "00-4bf92f3577b34da6a3ce929d0e0e473g-00f067aa0ba902b7-01", ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			h := map[string][]string{}
			if tt.traceparent != "" {
				h["Traceparent"] = []string{tt.traceparent}
			}
			r := Request{Headers: NewHeader(h)}
			if got := r.TraceID(); got != tt.want {
				t.Errorf("TraceID() = %q, want %q", got, tt.want)
			}
			if got := r.TraceParent(); got != tt.traceparent {
				t.Errorf("TraceParent() = %q, want %q", got, tt.traceparent)
			}
		})
	}
}
