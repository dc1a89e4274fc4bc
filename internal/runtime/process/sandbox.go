package process

import (
	"errors"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	goruntime "runtime"
	"strconv"
	"syscall"

	"golang.org/x/sys/unix"
)

// Inside a sandbox the package is at Lambda's path and the Runtime API at a
// fixed loopback address of the instance's own network namespace.
const (
	taskRoot       = "/var/task"
	sandboxAPIAddr = "127.0.0.1:9001"
)

// hostDirs are bound read-only into every sandbox root so that guests find
// their interpreters and shared libraries (Python, Node.js, glibc). Nothing
// else of the host's file system is visible: not the node's data directory,
// not home directories.
var hostDirs = [...]string{"/usr", "/bin", "/sbin", "/lib", "/lib64", "/lib32", "/libx32", "/etc"}

var devNodes = [...]string{"null", "zero", "full", "random", "urandom"}

// launched is a started guest process and its sandbox.
type launched struct {
	ln net.Listener
	// release ends the sandbox thread. The guest was forked from it and
	// gets SIGKILL when it ends (Pdeathsig), so close it only after the
	// guest is dead or must die.
	release chan struct{}
}

// sandboxConf is what one launch needs.
type sandboxConf struct {
	isolate bool
	network bool // share the host's network instead of a namespace of its own
	codeDir string
	tmpSize int64
	uid     int
	group   *group
}

// launch starts cmd in a sandbox and opens the Runtime API listener the
// guest will dial. A sandboxed launch takes a spare sandbox when one is
// ready, and builds its own otherwise.
//
// # Notes
//
// Namespaces and mounts are set up on a dedicated, locked OS thread: it
// unshares the mount, UTS, IPC and network namespaces, builds the guest's
// root there, opens the listener inside the new network namespace and forks
// the guest, which inherits all of it. The thread is never unlocked: it
// lives, parked, as long as the instance (so that Pdeathsig, which follows
// the forking thread, fires only when hearth lets go), and then dies with
// its goroutine, taking its namespaces with it. No other goroutine ever runs
// on it.
func (r *Runtime) launch(cmd *exec.Cmd, sc sandboxConf) (*launched, error) {
	release := make(chan struct{})
	if sc.isolate {
		if sp := r.spares.take(); sp != nil {
			ln, err := sp.launch(cmd, sc, release)
			if err != nil {
				return nil, err
			}
			return &launched{ln: ln, release: release}, nil
		}
	}
	type result struct {
		ln  net.Listener
		err error
	}
	done := make(chan result, 1)
	go func() {
		goruntime.LockOSThread()
		var ln net.Listener
		var err error
		if sc.isolate {
			err = prepareSandbox(r.rootMount, sc.network, sc.tmpSize)
		}
		if err == nil {
			ln, err = startOnThread(cmd, sc, r.rootMount)
		}
		done <- result{ln, err}
		if err != nil {
			return
		}
		<-release
	}()
	res := <-done
	if res.err != nil {
		return nil, res.err
	}
	return &launched{ln: res.ln, release: release}, nil
}

// prepareSandbox gives the calling (locked) thread its own mount, UTS, IPC
// and, unless network is shared, network namespaces, with the guest's root
// built at rootMount and the loopback up: everything of a sandbox that does
// not depend on the function.
func prepareSandbox(rootMount string, network bool, tmpSize int64) error {
	flags := unix.CLONE_NEWNS | unix.CLONE_NEWUTS | unix.CLONE_NEWIPC
	if !network {
		flags |= unix.CLONE_NEWNET
	}
	if err := unix.Unshare(flags); err != nil {
		return fmt.Errorf("sandbox: unshare namespaces: %w", err)
	}
	if err := unix.Sethostname([]byte("hearth")); err != nil {
		return fmt.Errorf("sandbox: set host name: %w", err)
	}
	if err := buildRoot(rootMount, tmpSize); err != nil {
		return fmt.Errorf("sandbox: %w", err)
	}
	if !network {
		if err := loopbackUp(); err != nil {
			return fmt.Errorf("sandbox: %w", err)
		}
	}
	return nil
}

// startOnThread binds the package into a prepared sandbox (when isolated),
// opens the Runtime API listener and forks the guest, all from the calling
// thread, whose namespaces the guest inherits.
func startOnThread(cmd *exec.Cmd, sc sandboxConf, rootMount string) (net.Listener, error) {
	attr := &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL}
	cmd.SysProcAttr = attr
	addr := "127.0.0.1:0"
	if sc.isolate {
		if err := bindReadOnly(sc.codeDir, filepath.Join(rootMount, taskRoot)); err != nil {
			return nil, fmt.Errorf("sandbox: %w", err)
		}
		if !sc.network {
			addr = sandboxAPIAddr
		}
		attr.Cloneflags = unix.CLONE_NEWPID
		attr.Chroot = rootMount
		attr.Credential = &syscall.Credential{Uid: uint32(sc.uid), Gid: uint32(sc.uid), Groups: []uint32{}}
	} else {
		// Without a PID namespace the guest leads a process group, so that
		// killing the group takes its children along.
		attr.Setpgid = true
	}
	// The listener is opened on this thread, so in the new network
	// namespace: the guest's loopback is the only way to reach it.
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		return nil, fmt.Errorf("sandbox: Runtime API listener: %w", err)
	}
	cmd.Env = append(cmd.Env, "AWS_LAMBDA_RUNTIME_API="+ln.Addr().String())
	if sc.group != nil {
		switch sc.group.version {
		case CgroupV1:
			tid := unix.Gettid()
			if err := sc.group.enterThread(tid); err != nil {
				ln.Close()
				return nil, err
			}
			defer sc.group.leaveThread(tid)
		case CgroupV2:
			fd, err := unix.Open(sc.group.dirs[0], unix.O_RDONLY|unix.O_DIRECTORY|unix.O_CLOEXEC, 0)
			if err != nil {
				ln.Close()
				return nil, fmt.Errorf("open cgroup: %w", err)
			}
			defer unix.Close(fd)
			attr.UseCgroupFD, attr.CgroupFD = true, fd
		}
	}
	if err := cmd.Start(); err != nil {
		ln.Close()
		return nil, fmt.Errorf("start %s: %w", cmd.Path, err)
	}
	return ln, nil
}

// buildRoot mounts a fresh tmpfs at root (in this thread's private mount
// namespace) and fills it: the host's system directories read-only, an
// empty /var/task for the package, a private size-bounded /tmp, a minimal
// /dev and a /proc that shows only the guest's own processes.
func buildRoot(root string, tmpSize int64) error {
	// Nothing mounted here may reach the host's namespace.
	if err := unix.Mount("", "/", "", unix.MS_REC|unix.MS_PRIVATE, ""); err != nil {
		return fmt.Errorf("make mounts private: %w", err)
	}
	if err := unix.Mount("tmpfs", root, "tmpfs", unix.MS_NOSUID|unix.MS_NODEV, "size=1m,mode=0755"); err != nil {
		return fmt.Errorf("mount root tmpfs: %w", err)
	}
	for _, d := range hostDirs {
		st, err := os.Lstat(d)
		switch {
		case err != nil:
			continue
		case st.Mode()&os.ModeSymlink != 0: // merged /usr: /bin -> usr/bin
			target, err := os.Readlink(d)
			if err != nil {
				return err
			}
			if err := os.Symlink(target, filepath.Join(root, d)); err != nil {
				return err
			}
		case st.IsDir():
			if err := bindReadOnly(d, filepath.Join(root, d)); err != nil {
				return err
			}
		}
	}
	// The package is bound here at launch (startOnThread), so that a root
	// can be built before anyone knows which function it is for.
	if err := os.MkdirAll(filepath.Join(root, taskRoot), 0o755); err != nil {
		return err
	}
	tmp := filepath.Join(root, "tmp")
	if err := os.Mkdir(tmp, 0o1777); err != nil {
		return err
	}
	if err := unix.Mount("tmpfs", tmp, "tmpfs", unix.MS_NOSUID|unix.MS_NODEV, "mode=1777,size="+strconv.FormatInt(tmpSize, 10)); err != nil {
		return fmt.Errorf("mount /tmp: %w", err)
	}
	if err := buildDev(filepath.Join(root, "dev")); err != nil {
		return err
	}
	proc := filepath.Join(root, "proc")
	if err := os.Mkdir(proc, 0o555); err != nil {
		return err
	}
	// Each guest runs under its own user id: hidepid hides every process
	// but its own, hearth's included (whose /proc/PID/root is the host's).
	if err := unix.Mount("proc", proc, "proc", unix.MS_NOSUID|unix.MS_NODEV|unix.MS_NOEXEC, "hidepid=invisible"); err != nil {
		if err := unix.Mount("proc", proc, "proc", unix.MS_NOSUID|unix.MS_NODEV|unix.MS_NOEXEC, "hidepid=2"); err != nil {
			return fmt.Errorf("mount /proc: %w", err)
		}
	}
	if err := unix.Mount("", root, "", unix.MS_REMOUNT|unix.MS_RDONLY|unix.MS_NOSUID|unix.MS_NODEV, ""); err != nil {
		return fmt.Errorf("make root read-only: %w", err)
	}
	return nil
}

func buildDev(dev string) error {
	if err := os.Mkdir(dev, 0o755); err != nil {
		return err
	}
	if err := unix.Mount("tmpfs", dev, "tmpfs", unix.MS_NOSUID|unix.MS_NOEXEC, "size=64k,mode=0755"); err != nil {
		return fmt.Errorf("mount /dev: %w", err)
	}
	for _, n := range devNodes {
		p := filepath.Join(dev, n)
		if err := os.WriteFile(p, nil, 0o666); err != nil {
			return err
		}
		if err := unix.Mount("/dev/"+n, p, "", unix.MS_BIND, ""); err != nil {
			return fmt.Errorf("bind /dev/%s: %w", n, err)
		}
	}
	links := map[string]string{"fd": "/proc/self/fd", "stdin": "/proc/self/fd/0", "stdout": "/proc/self/fd/1", "stderr": "/proc/self/fd/2"}
	for name, target := range links {
		if err := os.Symlink(target, filepath.Join(dev, name)); err != nil {
			return err
		}
	}
	shm := filepath.Join(dev, "shm")
	if err := os.Mkdir(shm, 0o1777); err != nil {
		return err
	}
	return unix.Mount("tmpfs", shm, "tmpfs", unix.MS_NOSUID|unix.MS_NODEV, "size=64m,mode=1777")
}

// bindReadOnly binds src at dst (created) and makes that mount read-only.
// A bind mount takes its flags only from a remount.
func bindReadOnly(src, dst string) error {
	if err := os.MkdirAll(dst, 0o755); err != nil {
		return err
	}
	if err := unix.Mount(src, dst, "", unix.MS_BIND|unix.MS_REC, ""); err != nil {
		return fmt.Errorf("bind %s: %w", src, err)
	}
	if err := unix.Mount("", dst, "", unix.MS_BIND|unix.MS_REMOUNT|unix.MS_RDONLY|unix.MS_NOSUID|unix.MS_NODEV, ""); err != nil {
		return fmt.Errorf("make %s read-only: %w", src, err)
	}
	return nil
}

// loopbackUp brings up lo in this thread's new network namespace, which
// starts with lo down and no other interface.
func loopbackUp() error {
	fd, err := unix.Socket(unix.AF_INET, unix.SOCK_DGRAM|unix.SOCK_CLOEXEC, 0)
	if err != nil {
		return fmt.Errorf("loopback: %w", err)
	}
	defer unix.Close(fd)
	ifr, err := unix.NewIfreq("lo")
	if err != nil {
		return fmt.Errorf("loopback: %w", err)
	}
	if err := unix.IoctlIfreq(fd, unix.SIOCGIFFLAGS, ifr); err != nil {
		return fmt.Errorf("loopback flags: %w", err)
	}
	ifr.SetUint16(ifr.Uint16() | unix.IFF_UP | unix.IFF_RUNNING)
	if err := unix.IoctlIfreq(fd, unix.SIOCSIFFLAGS, ifr); err != nil {
		return fmt.Errorf("loopback up: %w", err)
	}
	return nil
}

// probeSandbox reports whether this process may build a sandbox, by
// building one (namespaces, root, loopback) on a throwaway thread, so that a
// host that allows namespaces but not some mount (a restrictive container)
// is found at start and not at every cold start.
func probeSandbox(rootMount, codeDir string) error {
	if os.Geteuid() != 0 {
		return errors.New("hearth is not running as root")
	}
	done := make(chan error, 1)
	go func() {
		goruntime.LockOSThread() // never unlocked: the thread dies with its namespaces and mounts
		if err := prepareSandbox(rootMount, false, 1<<20); err != nil {
			done <- err
			return
		}
		done <- bindReadOnly(codeDir, filepath.Join(rootMount, taskRoot))
	}()
	return <-done
}
