package bench

import (
	"bufio"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	goruntime "runtime"
	"runtime/debug"
	"strconv"
	"strings"
)

// memory is the process's resident memory: rss counts a page shared by
// many mappings once per mapping (10,000 instances reading one page of a
// snapshot count it 10,000 times), pss divides it among them, so that it
// adds up to the physical memory the process holds; private is the pages
// only one mapping holds (the pages instances wrote, the Go heap).
// pageTables (VmPTE) is the kernel memory that maps them, in neither.
//
// cgroup is what the kernel charges the process's memory cgroup: every
// physical page once, whoever maps it, the figure a memory limit is
// enforced against. It covers every process in the cgroup, so only its
// change across a measurement is the bench's.
type memory struct {
	rss, pss, private, pageTables int64
	cgroup                        cgroupMemory
}

// cgroupMemory is a memory cgroup's usage: total (memory.current, or
// memory.usage_in_bytes under cgroup v1), anon (anonymous pages: what
// instances wrote, the Go heap) and file (page cache and shmem, which holds
// the snapshots' memfd images). ok is false where no memory cgroup can be
// read.
type cgroupMemory struct {
	ok                bool
	total, anon, file int64
}

// readMemory reads /proc/self/smaps_rollup and the memory cgroup after
// returning the Go heap's garbage to the system, so that the figure is what
// the instances hold.
func readMemory() (memory, error) {
	goruntime.GC()
	debug.FreeOSMemory()
	f, err := os.Open("/proc/self/smaps_rollup")
	if err != nil {
		return memory{}, fmt.Errorf("read process memory (Linux only): %w", err)
	}
	defer f.Close()
	var m memory
	err = scanFields(f, func(key string, v int64) {
		switch key {
		case "Rss:":
			m.rss = v << 10
		case "Pss:":
			m.pss = v << 10
		case "Private_Clean:", "Private_Dirty:":
			m.private += v << 10
		}
	})
	if err != nil {
		return memory{}, fmt.Errorf("read /proc/self/smaps_rollup: %w", err)
	}
	status, err := os.Open("/proc/self/status")
	if err != nil {
		return memory{}, fmt.Errorf("read process status: %w", err)
	}
	defer status.Close()
	err = scanFields(status, func(key string, v int64) {
		if key == "VmPTE:" {
			m.pageTables = v << 10
		}
	})
	if err != nil {
		return memory{}, fmt.Errorf("read /proc/self/status: %w", err)
	}
	m.cgroup, err = readCgroupMemory("/proc/self/cgroup", "/sys/fs/cgroup")
	if err != nil {
		return memory{}, err
	}
	return m, nil
}

// readCgroupMemory finds the process's memory cgroup in cgroupFile (the
// format of /proc/self/cgroup) under root, a cgroup v2 hierarchy or v1's
// memory controller, whichever has usage files first in cgroupFile's
// order, and reads its usage. A process outside any readable
// memory cgroup gets ok false, not an error: the figure is optional.
func readCgroupMemory(cgroupFile, root string) (cgroupMemory, error) {
	b, err := os.ReadFile(cgroupFile)
	if err != nil {
		return cgroupMemory{}, nil
	}
	var candidates []struct{ dir, usage string }
	for _, line := range strings.Split(strings.TrimSpace(string(b)), "\n") {
		parts := strings.SplitN(line, ":", 3)
		if len(parts) != 3 {
			continue
		}
		switch {
		case parts[0] == "0" && parts[1] == "":
			// cgroup v2 is mounted at root itself, or at root/unified
			// beside v1's controllers (hybrid).
			for _, mount := range []string{root, filepath.Join(root, "unified")} {
				candidates = append(candidates, struct{ dir, usage string }{filepath.Join(mount, parts[2]), "memory.current"})
			}
		case hasController(parts[1], "memory"):
			candidates = append(candidates, struct{ dir, usage string }{filepath.Join(root, "memory", parts[2]), "memory.usage_in_bytes"})
		}
	}
	for _, c := range candidates {
		m, err := readCgroupDir(c.dir, c.usage)
		if errors.Is(err, fs.ErrNotExist) {
			continue
		}
		if err != nil {
			return cgroupMemory{}, err
		}
		return m, nil
	}
	return cgroupMemory{}, nil
}

func hasController(list, name string) bool {
	for _, c := range strings.Split(list, ",") {
		if c == name {
			return true
		}
	}
	return false
}

// readCgroupDir reads the usage file and memory.stat of one cgroup.
// memory.stat names anonymous memory "anon" under v2 and "rss" under v1,
// the page cache (shmem included) "file" and "cache".
func readCgroupDir(dir, usage string) (cgroupMemory, error) {
	b, err := os.ReadFile(filepath.Join(dir, usage))
	if err != nil {
		return cgroupMemory{}, err
	}
	total, err := strconv.ParseInt(strings.TrimSpace(string(b)), 10, 64)
	if err != nil {
		return cgroupMemory{}, fmt.Errorf("read %s: %w", filepath.Join(dir, usage), err)
	}
	f, err := os.Open(filepath.Join(dir, "memory.stat"))
	if err != nil {
		return cgroupMemory{}, err
	}
	defer f.Close()
	m := cgroupMemory{ok: true, total: total}
	err = scanFields(f, func(key string, v int64) {
		switch key {
		case "anon", "rss":
			m.anon = v
		case "file", "cache":
			m.file = v
		}
	})
	if err != nil {
		return cgroupMemory{}, fmt.Errorf("read %s: %w", filepath.Join(dir, "memory.stat"), err)
	}
	return m, nil
}

// scanFields calls fn with the first two fields of every line of f whose
// second field is an integer.
func scanFields(f *os.File, fn func(key string, v int64)) error {
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		fields := strings.Fields(sc.Text())
		if len(fields) < 2 {
			continue
		}
		v, err := strconv.ParseInt(fields[1], 10, 64)
		if err != nil {
			continue
		}
		fn(fields[0], v)
	}
	return sc.Err()
}
