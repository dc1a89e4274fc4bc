package bench

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"os"
	"strconv"
	"time"

	"github.com/hearth-sh/hearth/internal/runtime"
	"github.com/hearth-sh/hearth/internal/runtime/wasm"
	"github.com/hearth-sh/hearth/internal/wasmbuild"
)

// ColdstartOptions configure the cold-start benchmark.
type ColdstartOptions struct {
	// GuestDir is the Go function to build (default ./bench/coldstartguest).
	GuestDir string
	// Samples is how many snapshot cold starts and recycle resets to time
	// per guest (default 1000).
	Samples int
	// InitSamples is how many normal cold starts to time for the small and
	// 10 MB guests (default 100); the 100 MB guest gets a tenth of them.
	InitSamples int
	// IdleInstances is how many idle restored instances of the 10 MB guest
	// to hold for the memory figure (default 10,000).
	IdleInstances int
}

// coldstartGuest is one size of the bench's guest.
type coldstartGuest struct {
	name    string // in result names: small, 10mb, 100mb
	stateMB int
	memory  int64 // the function's memory limit
}

var coldstartGuests = []coldstartGuest{
	{"small", 0, 128 << 20},
	{"10mb", 10, 128 << 20},
	{"100mb", 100, 256 << 20},
}

// Coldstart measures, in one process and on the wasm runtime itself, cold
// starts of a Go guest with a small init and with 10 MB and 100 MB of
// initialised state: from a normal init (instantiate + _initialize), from
// a snapshot (restore), and recycle-mode resets; the first request after
// each kind of cold start; and the memory of many idle restored instances
// (the process's RSS and PSS, from /proc/self, and its memory cgroup's
// usage where there is one).
//
// A cold start is timed as Template.Spawn, the instance ready to serve;
// closing it is not (the pool does that off the request path).
func Coldstart(ctx context.Context, opts ColdstartOptions) (*Report, error) {
	if opts.GuestDir == "" {
		opts.GuestDir = "./bench/coldstartguest"
	}
	if opts.Samples == 0 {
		opts.Samples = 1000
	}
	if opts.InitSamples == 0 {
		opts.InitSamples = 100
	}
	if opts.IdleInstances == 0 {
		opts.IdleInstances = 10000
	}
	code, err := wasmbuild.Build(ctx, opts.GuestDir)
	if err != nil {
		return nil, fmt.Errorf("build the cold-start guest: %w", err)
	}
	dir, err := os.MkdirTemp("", "hearth-bench-coldstart-")
	if err != nil {
		return nil, err
	}
	defer os.RemoveAll(dir)
	rt, err := wasm.New(ctx, wasm.Config{CacheDir: dir + "/cache", SnapshotDir: dir + "/snapshots",
		Logger: slog.New(slog.NewTextHandler(io.Discard, nil))})
	if err != nil {
		return nil, err
	}
	defer rt.Close(context.Background())
	art := runtime.Artifact{Bytes: code}

	rep := &Report{Bench: "coldstart"}
	for _, g := range coldstartGuests {
		if err := coldstartOne(ctx, rt, art, g, opts, rep); err != nil {
			return nil, fmt.Errorf("%s guest: %w", g.name, err)
		}
	}
	if err := idleInstances(ctx, rt, art, coldstartGuests[1], opts.IdleInstances, rep); err != nil {
		return nil, fmt.Errorf("idle instances: %w", err)
	}
	coldstartNotes(rep)
	return rep, nil
}

func (g coldstartGuest) spec(name string) runtime.Spec {
	return runtime.Spec{Name: name, Version: 1, MemoryBytes: g.memory, Env: map[string]string{"STATE_MB": strconv.Itoa(g.stateMB)}}
}

func coldstartOne(ctx context.Context, rt *wasm.Runtime, art runtime.Artifact, g coldstartGuest, opts ColdstartOptions, rep *Report) error {
	initSamples := opts.InitSamples
	if g.stateMB >= 100 {
		initSamples = max(initSamples/10, 5)
	}
	normal, err := rt.PrepareWith(ctx, g.spec("init-"+g.name), art, wasm.Options{Snapshot: wasm.SnapshotOff})
	if err != nil {
		return err
	}
	defer normal.Close(ctx)
	spawn, first, err := timeColdStarts(ctx, normal, initSamples)
	if err != nil {
		return fmt.Errorf("normal init: %w", err)
	}
	rep.Add("coldstart.init."+g.name+".p50_ms", ms(percentile(spawn, 50)), "ms")
	rep.Add("coldstart.init."+g.name+".p99_ms", ms(percentile(spawn, 99)), "ms")
	rep.Add("coldstart.init."+g.name+".first_request_ms", ms(percentile(first, 50)), "ms")

	snap, err := rt.PrepareWith(ctx, g.spec("snap-"+g.name), art, wasm.Options{Snapshot: wasm.SnapshotAuto})
	if err != nil {
		return err
	}
	defer snap.Close(ctx)
	info, ok := snap.Snapshot()
	if !ok {
		return fmt.Errorf("no snapshot: %s", info.Reason)
	}
	rep.Add("snapshot."+g.name+".image_mib", float64(info.Bytes)/(1<<20), "MiB")
	rep.Add("snapshot."+g.name+".capture_ms", ms(info.CaptureTime), "ms")
	spawn, first, err = timeColdStarts(ctx, snap, opts.Samples)
	if err != nil {
		return fmt.Errorf("snapshot restore: %w", err)
	}
	rep.Add("coldstart.snapshot."+g.name+".p50_ms", ms(percentile(spawn, 50)), "ms")
	rep.Add("coldstart.snapshot."+g.name+".p99_ms", ms(percentile(spawn, 99)), "ms")
	rep.Add("coldstart.snapshot."+g.name+".first_request_ms", ms(percentile(first, 50)), "ms")

	rec, err := rt.PrepareWith(ctx, g.spec("recycle-"+g.name), art, wasm.Options{Snapshot: wasm.SnapshotAuto, Recycle: true})
	if err != nil {
		return err
	}
	defer rec.Close(ctx)
	resets, after, pages, err := timeResets(ctx, rec, opts.Samples)
	if err != nil {
		return fmt.Errorf("recycle: %w", err)
	}
	rep.Add("coldstart.recycle."+g.name+".pages_per_reset", pages, "pages")
	rep.Add("coldstart.recycle."+g.name+".p50_us", us(percentile(resets, 50)), "µs")
	rep.Add("coldstart.recycle."+g.name+".p99_us", us(percentile(resets, 99)), "µs")
	rep.Add("coldstart.recycle."+g.name+".request_after_ms", ms(percentile(after, 50)), "ms")
	return nil
}

// timeColdStarts spawns n instances one after another and times each
// Spawn and its first request.
func timeColdStarts(ctx context.Context, tmpl runtime.Template, n int) (spawn, first []time.Duration, err error) {
	req := runtime.Request{ID: "bench", Method: "GET", Path: "/"}
	for range n {
		start := time.Now()
		inst, _, err := tmpl.Spawn(ctx)
		if err != nil {
			return nil, nil, err
		}
		ready := time.Now()
		_, err = inst.Invoke(ctx, req)
		done := time.Now()
		_ = inst.Close(ctx)
		if err != nil {
			return nil, nil, err
		}
		spawn = append(spawn, ready.Sub(start))
		first = append(first, done.Sub(ready))
	}
	return spawn, first, nil
}

// timeResets invokes one recycle-mode instance n times with a request that
// dirties memory and reads each reset's time from the template's counters
// (one reset per invocation after the first); pages is the mean number of
// 4 KiB pages a reset copied back.
func timeResets(ctx context.Context, tmpl *wasm.Template, n int) (resets, requests []time.Duration, pages float64, err error) {
	inst, _, err := tmpl.Spawn(ctx)
	if err != nil {
		return nil, nil, 0, err
	}
	defer inst.Close(ctx)
	req := runtime.Request{ID: "bench", Method: "GET", Path: "/write"}
	if _, err := inst.Invoke(ctx, req); err != nil {
		return nil, nil, 0, err
	}
	first, _ := tmpl.Snapshot()
	for range n {
		before, _ := tmpl.Snapshot()
		start := time.Now()
		if _, err := inst.Invoke(ctx, req); err != nil {
			return nil, nil, 0, err
		}
		took := time.Since(start)
		after, _ := tmpl.Snapshot()
		if after.Resets != before.Resets+1 {
			return nil, nil, 0, fmt.Errorf("%d resets for one invocation", after.Resets-before.Resets)
		}
		reset := after.ResetTime - before.ResetTime
		resets = append(resets, reset)
		requests = append(requests, took-reset)
	}
	last, _ := tmpl.Snapshot()
	return resets, requests, float64(last.ResetPages-first.ResetPages) / float64(n), nil
}

// idleInstances restores n instances of g, each served one request and
// left idle, and reads the process's memory before and after.
func idleInstances(ctx context.Context, rt *wasm.Runtime, art runtime.Artifact, g coldstartGuest, n int, rep *Report) error {
	tmpl, err := rt.PrepareWith(ctx, g.spec("idle-"+g.name), art, wasm.Options{Snapshot: wasm.SnapshotAuto})
	if err != nil {
		return err
	}
	defer tmpl.Close(ctx)
	before, err := readMemory()
	if err != nil {
		return err
	}
	insts := make([]runtime.Instance, 0, n)
	defer func() {
		for _, inst := range insts {
			_ = inst.Close(context.Background())
		}
	}()
	req := runtime.Request{ID: "bench", Method: "GET", Path: "/"}
	for range n {
		inst, _, err := tmpl.Spawn(ctx)
		if err != nil {
			return fmt.Errorf("after %d instances: %w", len(insts), err)
		}
		insts = append(insts, inst)
		if _, err := inst.Invoke(ctx, req); err != nil {
			return err
		}
	}
	after, err := readMemory()
	if err != nil {
		return err
	}
	rep.Add("idle.instances", float64(len(insts)), "")
	rep.Add("idle.rss_total_mib", float64(after.rss)/(1<<20), "MiB")
	rep.Add("idle.pss_total_mib", float64(after.pss)/(1<<20), "MiB")
	rep.Add("idle.rss_per_instance_kib", float64(after.rss-before.rss)/float64(len(insts))/1024, "KiB")
	rep.Add("idle.pss_per_instance_kib", float64(after.pss-before.pss)/float64(len(insts))/1024, "KiB")
	rep.Add("idle.private_per_instance_kib", float64(after.private-before.private)/float64(len(insts))/1024, "KiB")
	rep.Add("idle.page_tables_mib", float64(after.pageTables)/(1<<20), "MiB")
	if before.cgroup.ok && after.cgroup.ok {
		rep.Add("idle.cgroup_total_mib", float64(after.cgroup.total)/(1<<20), "MiB")
		rep.Add("idle.cgroup_delta_mib", float64(after.cgroup.total-before.cgroup.total)/(1<<20), "MiB")
		rep.Add("idle.cgroup_anon_delta_mib", float64(after.cgroup.anon-before.cgroup.anon)/(1<<20), "MiB")
		rep.Add("idle.cgroup_file_delta_mib", float64(after.cgroup.file-before.cgroup.file)/(1<<20), "MiB")
	}
	return nil
}

// coldstartNotes compares the figures with the targets.
func coldstartNotes(rep *Report) {
	v := rep.Value
	check := func(ok bool) string {
		if ok {
			return "met"
		}
		return "NOT met"
	}
	p50, p99, big := v("coldstart.snapshot.10mb.p50_ms"), v("coldstart.snapshot.10mb.p99_ms"), v("coldstart.snapshot.100mb.p50_ms")
	speedup := v("coldstart.init.10mb.p50_ms") / p50
	rep.Add("coldstart.snapshot.10mb.speedup", speedup, "x")
	rep.Notes = append(rep.Notes,
		fmt.Sprintf("target snapshot 10mb p50 <= 0.3 ms: %.3f ms, %s", p50, check(p50 <= 0.3)),
		fmt.Sprintf("target snapshot 10mb p99 <= 1 ms: %.3f ms, %s", p99, check(p99 <= 1)),
		fmt.Sprintf("target snapshot 100mb p50 within 2x of 10mb: %.3f ms (%.2fx), %s", big, big/p50, check(big <= 2*p50)),
		fmt.Sprintf("target >= 50x faster than a normal init (10mb): %.0fx, %s", speedup, check(speedup >= 50)),
		fmt.Sprintf("target recycle reset 10mb p50 <= 50 µs: %.1f µs, %s", v("coldstart.recycle.10mb.p50_us"), check(v("coldstart.recycle.10mb.p50_us") <= 50)),
		fmt.Sprintf("target %0.f idle restored 10mb instances < 4 GiB resident: %.0f MiB PSS, %s (VmRSS counts each shared snapshot page once per instance mapping it: %.0f MiB; docs/snapshots.md)",
			v("idle.instances"), v("idle.pss_total_mib"), check(v("idle.pss_total_mib") < 4096), v("idle.rss_total_mib")),
	)
	if total := v("idle.cgroup_total_mib"); total > 0 {
		rep.Notes = append(rep.Notes, fmt.Sprintf("memory cgroup: %.0f MiB charged in all, %+.0f MiB while the idle instances were made (anon %+.0f, file %+.0f); the cgroup may hold other processes",
			total, v("idle.cgroup_delta_mib"), v("idle.cgroup_anon_delta_mib"), v("idle.cgroup_file_delta_mib")))
	}
}
