package backbone

import (
	"context"
	"strings"
	"testing"

	"github.com/nats-io/nats.go"
)

// TestClientURL: the embedded server takes TCP clients only when told to
// listen, and port 0 gets a free port rather than nats-server's default.
func TestClientURL(t *testing.T) {
	for _, tc := range []struct {
		name, listen string
		wantURL      bool
	}{
		{"in-process only", "", false},
		{"free port", "127.0.0.1:0", true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			b, err := Open(context.Background(), Config{DataDir: t.TempDir(), Listen: tc.listen})
			if err != nil {
				t.Fatal(err)
			}
			defer b.Close()
			url := b.ClientURL()
			if !tc.wantURL {
				if url != "" {
					t.Fatalf("ClientURL = %q, want none", url)
				}
				return
			}
			if !strings.HasPrefix(url, "nats://127.0.0.1:") || strings.HasSuffix(url, ":4222") || strings.HasSuffix(url, ":0") {
				t.Fatalf("ClientURL = %q, want nats://127.0.0.1:<a free port>", url)
			}
			nc, err := nats.Connect(url)
			if err != nil {
				t.Fatalf("connect to %s: %v", url, err)
			}
			nc.Close()
		})
	}
}

// TestListenAddressErrors: a listen address that is not host:port says so.
func TestListenAddressErrors(t *testing.T) {
	for _, listen := range []string{"nohost", "127.0.0.1:port"} {
		_, err := Open(context.Background(), Config{DataDir: t.TempDir(), Listen: listen})
		if err == nil || !strings.Contains(err.Error(), "backbone listen") {
			t.Errorf("Listen %q: err = %v, want a backbone listen address error", listen, err)
		}
	}
}
