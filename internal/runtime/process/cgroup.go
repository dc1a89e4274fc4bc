package process

import (
	"bufio"
	"bytes"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"time"
)

// CgroupVersion says which cgroup hierarchy limits the instances' memory.
type CgroupVersion string

// The cgroup setups the runtime knows.
const (
	CgroupNone CgroupVersion = "none"
	CgroupV1   CgroupVersion = "v1"
	CgroupV2   CgroupVersion = "v2"
)

const cgroupRoot = "/sys/fs/cgroup"

// maxPids bounds the processes of one instance, so that a fork bomb stays
// inside its own instance.
const maxPids = 1024

// cgroups makes one cgroup per instance under a parent group of this node.
//
// # Notes
//
// v1 has no way to start a process inside a cgroup, so the sandbox thread
// that forks the guest joins the instance's groups first (v1 lets single
// threads move) and goes back after the fork. v2 starts the guest in its
// group directly with clone3(CLONE_INTO_CGROUP) (SysProcAttr.CgroupFD).
type cgroups struct {
	version CgroupVersion
	// parents are the node's groups, one per controller hierarchy (v1:
	// memory and pids; v2: one). home are the groups this process was in,
	// where a v1 sandbox thread returns after the fork.
	parents []string
	home    []string
}

// group is one instance's cgroup.
type group struct {
	version CgroupVersion
	dirs    []string // memory first
	home    []string
}

// detectCgroups finds a hierarchy where this process may create groups
// with a memory limit. It returns a CgroupNone setup and the reason when
// there is none.
func detectCgroups() (*cgroups, string) {
	own, err := ownCgroups()
	if err != nil {
		return &cgroups{version: CgroupNone}, err.Error()
	}
	if _, err := os.Stat(filepath.Join(cgroupRoot, "cgroup.controllers")); err == nil {
		return detectV2(own[""])
	}
	return detectV1(own)
}

// ownCgroups reads /proc/self/cgroup: controller → path ("" for v2).
func ownCgroups() (map[string]string, error) {
	b, err := os.ReadFile("/proc/self/cgroup")
	if err != nil {
		return nil, fmt.Errorf("read /proc/self/cgroup: %w", err)
	}
	out := map[string]string{}
	for line := range strings.SplitSeq(strings.TrimSpace(string(b)), "\n") {
		parts := strings.SplitN(line, ":", 3)
		if len(parts) != 3 {
			continue
		}
		for c := range strings.SplitSeq(parts[1], ",") {
			out[c] = parts[2]
		}
	}
	return out, nil
}

func detectV1(own map[string]string) (*cgroups, string) {
	none := &cgroups{version: CgroupNone}
	if _, ok := own["memory"]; !ok {
		return none, "no memory controller in /proc/self/cgroup"
	}
	c := &cgroups{version: CgroupV1}
	controllers := []string{"memory"}
	if _, ok := own["pids"]; ok {
		controllers = append(controllers, "pids")
	}
	name := "hearth-" + strconv.Itoa(os.Getpid())
	for _, ctl := range controllers {
		home := filepath.Join(cgroupRoot, ctl, own[ctl])
		parent := filepath.Join(home, name)
		if err := os.MkdirAll(parent, 0o755); err != nil {
			if ctl == "memory" {
				return none, fmt.Sprintf("cannot create a memory cgroup (v1) under %s: %v", home, err)
			}
			continue // the pids limit is a bonus
		}
		c.parents = append(c.parents, parent)
		c.home = append(c.home, home)
	}
	return c, ""
}

func detectV2(ownPath string) (*cgroups, string) {
	none := &cgroups{version: CgroupNone}
	own := filepath.Join(cgroupRoot, ownPath)
	ctls, err := os.ReadFile(filepath.Join(own, "cgroup.controllers"))
	if err != nil || !bytes.Contains(ctls, []byte("memory")) {
		return none, fmt.Sprintf("the memory controller is not delegated to %s (cgroup v2): run hearth in a systemd unit with Delegate=yes", own)
	}
	enable := "+memory"
	if bytes.Contains(ctls, []byte("pids")) {
		enable += " +pids"
	}
	// A v2 group with controllers for its children must hold no processes
	// itself, so hearth moves itself into a leaf beside its instances'
	// parent (as container runtimes do under a delegated group).
	if err := writeFile(filepath.Join(own, "cgroup.subtree_control"), enable); err != nil {
		leaf := filepath.Join(own, "hearth-node")
		if err := os.MkdirAll(leaf, 0o755); err != nil {
			return none, fmt.Sprintf("cgroup v2: %v", err)
		}
		if err := writeFile(filepath.Join(leaf, "cgroup.procs"), strconv.Itoa(os.Getpid())); err != nil {
			return none, fmt.Sprintf("cgroup v2: move hearth into %s: %v", leaf, err)
		}
		if err := writeFile(filepath.Join(own, "cgroup.subtree_control"), enable); err != nil {
			return none, fmt.Sprintf("cgroup v2: enable %s in %s: %v", enable, own, err)
		}
	}
	parent := filepath.Join(own, "hearth-"+strconv.Itoa(os.Getpid()))
	if err := os.MkdirAll(parent, 0o755); err != nil {
		return none, fmt.Sprintf("cgroup v2: %v", err)
	}
	if err := writeFile(filepath.Join(parent, "cgroup.subtree_control"), enable); err != nil {
		return none, fmt.Sprintf("cgroup v2: enable %s in %s: %v", enable, parent, err)
	}
	return &cgroups{version: CgroupV2, parents: []string{parent}}, ""
}

// create makes an instance's group with its limits.
func (c *cgroups) create(name string, memBytes int64) (*group, error) {
	if c.version == CgroupNone {
		return nil, nil
	}
	g := &group{version: c.version, home: c.home}
	for _, parent := range c.parents {
		dir := filepath.Join(parent, name)
		if err := os.Mkdir(dir, 0o755); err != nil {
			g.remove()
			return nil, fmt.Errorf("create cgroup: %w", err)
		}
		g.dirs = append(g.dirs, dir)
	}
	// A zero limit means none (and a v1 limit of 0 would have the kernel
	// kill the first thing charged to the group).
	var limits [][2]string
	switch c.version {
	case CgroupV1:
		if memBytes > 0 {
			limits = append(limits, [2]string{"memory.limit_in_bytes", strconv.FormatInt(memBytes, 10)})
		}
		if len(g.dirs) > 1 {
			limits = append(limits, [2]string{"pids.max", strconv.Itoa(maxPids)})
		}
	case CgroupV2:
		if memBytes > 0 {
			limits = append(limits, [2]string{"memory.max", strconv.FormatInt(memBytes, 10)}, [2]string{"memory.swap.max", "0"})
		}
		limits = append(limits, [2]string{"pids.max", strconv.Itoa(maxPids)})
	}
	for _, l := range limits {
		if err := g.set(l[0], l[1]); err != nil && !(errors.Is(err, os.ErrNotExist) && l[0] != "memory.limit_in_bytes" && l[0] != "memory.max") {
			g.remove()
			return nil, fmt.Errorf("cgroup limit %s=%s: %w", l[0], l[1], err)
		}
	}
	return g, nil
}

// set writes a control file in whichever of the group's dirs has it.
func (g *group) set(file, value string) error {
	var err error = os.ErrNotExist
	for _, dir := range g.dirs {
		p := filepath.Join(dir, file)
		if _, serr := os.Stat(p); serr != nil {
			continue
		}
		if err = writeFile(p, value); err != nil {
			return err
		}
	}
	return err
}

// enterThread moves the calling OS thread into the group (v1 only), so
// that the process it forks starts there.
func (g *group) enterThread(tid int) error {
	for _, dir := range g.dirs {
		if err := writeFile(filepath.Join(dir, "tasks"), strconv.Itoa(tid)); err != nil {
			return fmt.Errorf("join cgroup %s: %w", dir, err)
		}
	}
	return nil
}

// leaveThread moves the thread back to the groups it came from.
func (g *group) leaveThread(tid int) {
	for _, dir := range g.home {
		_ = writeFile(filepath.Join(dir, "tasks"), strconv.Itoa(tid))
	}
}

// oomKills reports how many processes of the group the kernel killed for
// running out of memory.
func (g *group) oomKills() int64 {
	if g == nil || len(g.dirs) == 0 {
		return 0
	}
	file := "memory.oom_control"
	if g.version == CgroupV2 {
		file = "memory.events"
	}
	b, err := os.ReadFile(filepath.Join(g.dirs[0], file))
	if err != nil {
		return 0
	}
	sc := bufio.NewScanner(bytes.NewReader(b))
	for sc.Scan() {
		if v, ok := strings.CutPrefix(sc.Text(), "oom_kill "); ok {
			n, _ := strconv.ParseInt(v, 10, 64)
			return n
		}
	}
	return 0
}

// kill sends SIGKILL to every process in the group: a guest's children
// that escaped its process group or PID namespace die too.
func (g *group) kill() {
	if g == nil || len(g.dirs) == 0 {
		return
	}
	if g.version == CgroupV2 && writeFile(filepath.Join(g.dirs[0], "cgroup.kill"), "1") == nil {
		return
	}
	for _, dir := range g.dirs {
		b, err := os.ReadFile(filepath.Join(dir, "cgroup.procs"))
		if err != nil {
			continue
		}
		self := os.Getpid()
		for f := range strings.FieldsSeq(string(b)) {
			// In v1, hearth itself is listed while its sandbox thread is
			// in the group (between joining it and the fork): never kill it.
			if pid, err := strconv.Atoi(f); err == nil && pid != self {
				_ = syscall.Kill(pid, syscall.SIGKILL)
			}
		}
	}
}

// remove deletes the group. Killed processes take a moment to leave it, so
// a busy group is retried briefly.
func (g *group) remove() error {
	if g == nil {
		return nil
	}
	var errs []error
	for _, dir := range g.dirs {
		var err error
		for range 200 {
			if err = syscall.Rmdir(dir); err == nil || errors.Is(err, syscall.ENOENT) {
				err = nil
				break
			}
			if !errors.Is(err, syscall.EBUSY) {
				break
			}
			g.kill()
			time.Sleep(time.Millisecond) // dying processes leave within a few ms
		}
		if err != nil {
			errs = append(errs, fmt.Errorf("remove cgroup %s: %w", dir, err))
		}
	}
	return errors.Join(errs...)
}

// close removes the node's parent groups (after every instance's).
func (c *cgroups) close() error {
	var errs []error
	for _, p := range c.parents {
		if err := syscall.Rmdir(p); err != nil && !errors.Is(err, syscall.ENOENT) {
			errs = append(errs, fmt.Errorf("remove cgroup %s: %w", p, err))
		}
	}
	return errors.Join(errs...)
}

func writeFile(path, value string) error {
	f, err := os.OpenFile(path, os.O_WRONLY, 0)
	if err != nil {
		return err
	}
	_, err = f.WriteString(value)
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	return err
}
