package bench

import (
	"os"
	"path/filepath"
	"testing"
)

// TestReadCgroupMemory reads a memory cgroup's usage from fake /proc and
// /sys/fs/cgroup trees of each layout: cgroup v2, v1, hybrid (v1
// controllers with v2 at unified/), and none.
func TestReadCgroupMemory(t *testing.T) {
	const v2stat = "anon 3145728\nfile 1048576\nkernel 4096\nshmem 524288\n"
	const v1stat = "cache 2097152\nrss 6291456\nrss_huge 0\nshmem 0\ntotal_rss 6291456\n"
	cases := []struct {
		name   string
		procs  string            // /proc/self/cgroup
		files  map[string]string // under the cgroup root
		want   cgroupMemory
		hasErr bool
	}{
		{
			name:  "v2",
			procs: "0::/user.slice/app\n",
			files: map[string]string{"user.slice/app/memory.current": "5242880\n", "user.slice/app/memory.stat": v2stat},
			want:  cgroupMemory{ok: true, total: 5242880, anon: 3145728, file: 1048576},
		},
		{
			name:  "v1",
			procs: "5:cpu,cpuacct:/\n4:memory:/jobs/42\n0::/\n",
			files: map[string]string{"memory/jobs/42/memory.usage_in_bytes": "9000000", "memory/jobs/42/memory.stat": v1stat},
			want:  cgroupMemory{ok: true, total: 9000000, anon: 6291456, file: 2097152},
		},
		{
			name:  "hybrid with memory in v2",
			procs: "1:cpu:/\n0::/svc\n",
			files: map[string]string{"unified/svc/memory.current": "100", "unified/svc/memory.stat": v2stat},
			want:  cgroupMemory{ok: true, total: 100, anon: 3145728, file: 1048576},
		},
		{
			name:  "no memory cgroup",
			procs: "1:cpu:/\n0::/\n",
			files: map[string]string{"cpu/cpu.shares": "1024"},
			want:  cgroupMemory{},
		},
		{
			name:   "unreadable usage",
			procs:  "0::/x\n",
			files:  map[string]string{"x/memory.current": "lots", "x/memory.stat": v2stat},
			hasErr: true,
		},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			dir := t.TempDir()
			root := filepath.Join(dir, "cgroup")
			for name, body := range c.files {
				p := filepath.Join(root, name)
				if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
					t.Fatal(err)
				}
				if err := os.WriteFile(p, []byte(body), 0o644); err != nil {
					t.Fatal(err)
				}
			}
			procs := filepath.Join(dir, "cgroup.txt")
			if err := os.WriteFile(procs, []byte(c.procs), 0o644); err != nil {
				t.Fatal(err)
			}
			got, err := readCgroupMemory(procs, root)
			if (err != nil) != c.hasErr {
				t.Fatalf("readCgroupMemory() error = %v, want error: %v", err, c.hasErr)
			}
			if got != c.want {
				t.Fatalf("readCgroupMemory() = %+v, want %+v", got, c.want)
			}
		})
	}
}
