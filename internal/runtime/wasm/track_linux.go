//go:build linux

package wasm

import (
	"fmt"
	"unsafe"

	"golang.org/x/sys/unix"
)

// A recycle-mode reset must find every page a request wrote. Without help
// the only sign is that a written page is a private anonymous copy rather
// than the image's page, and telling those apart (PAGEMAP_SCAN's
// PAGE_IS_FILE) makes the kernel look at the page structure of every
// present page: ~25 ns each between real requests, whose work leaves those
// structures out of the CPU's caches; 0.1 ms for a 10 MiB image, 0.7 ms
// for 100 MiB (hearth bench coldstart).
//
// userfaultfd's asynchronous write-protection (UFFD_FEATURE_WP_ASYNC,
// Linux 6.7) records writes in the page table entries themselves: a range
// is write-protected once, the first write to a protected page clears the
// protection inside the kernel (no fault reaches hearth), and PAGEMAP_SCAN
// with the single category PAGE_IS_WRITTEN takes a fast path that only
// tests one bit per entry. Pages never touched carry a protected marker,
// so a page that is later only read is not reported.
//
// Written pages are not protected again after they are copied back: a page
// a request wrote is usually written by the next request too, and a
// protection fault (~0.7 µs here) costs more than copying the page back
// (~0.15 µs). The set copied per reset is therefore every page written
// since tracking began, the same set the PAGE_IS_FILE scan finds, at a
// fraction of the scan's cost.

// userfaultfd ABI (linux/userfaultfd.h).
const (
	uffdAPI            = 0xaa
	uffdUserModeOnly   = 1          // UFFD_USER_MODE_ONLY: allowed without privileges
	uffdioAPI          = 0xc018aa3f // _IOWR(0xaa, 0x3f, struct uffdio_api)
	uffdioRegister     = 0xc020aa00 // _IOWR(0xaa, 0x00, struct uffdio_register)
	uffdioWriteProtect = 0xc018aa06 // _IOWR(0xaa, 0x06, struct uffdio_writeprotect)
	uffdRegisterModeWP = 1 << 1
	uffdWriteProtectWP = 1 << 0
	uffdFeatureWPShmem = 1 << 12 // UFFD_FEATURE_WP_HUGETLBFS_SHMEM: the image is a memfd
	uffdFeatureWPAsync = 1 << 15 // UFFD_FEATURE_WP_ASYNC
	pageIsWritten      = 1 << 1  // PAGEMAP_SCAN category PAGE_IS_WRITTEN
	pmScanCheckWPAsync = 1 << 1  // PM_SCAN_CHECK_WPASYNC
)

// struct uffdio_range, struct uffdio_api, struct uffdio_register and
// struct uffdio_writeprotect.
type uffdioRange struct{ start, len uint64 }

type uffdioAPIArg struct{ api, features, ioctls uint64 }

type uffdioRegisterArg struct {
	rng          uffdioRange
	mode, ioctls uint64
}

type uffdioWriteProtectArg struct {
	rng  uffdioRange
	mode uint64
}

// writeTracker is a userfaultfd in asynchronous write-protect mode. One
// serves every memory restored from an image: registrations are per
// mapping, so idle instances cost no descriptor each.
type writeTracker struct{ fd int }

// newWriteTracker opens a userfaultfd with asynchronous write-protection,
// or reports why the kernel cannot provide it.
func newWriteTracker() (*writeTracker, error) {
	fd, _, errno := unix.Syscall(unix.SYS_USERFAULTFD, unix.O_CLOEXEC|unix.O_NONBLOCK|uffdUserModeOnly, 0, 0)
	if errno != 0 {
		return nil, fmt.Errorf("userfaultfd: %w", errno)
	}
	w := &writeTracker{fd: int(fd)}
	api := uffdioAPIArg{api: uffdAPI, features: uffdFeatureWPAsync | uffdFeatureWPShmem}
	if err := w.ioctl(uffdioAPI, unsafe.Pointer(&api)); err != nil {
		_ = w.close()
		return nil, fmt.Errorf("userfaultfd asynchronous write-protection (Linux 6.7): %w", err)
	}
	return w, nil
}

// track registers [addr, addr+size) for write-protection and protects all
// of it, so that from now on a page of it is reported as written exactly
// when it was written.
func (w *writeTracker) track(addr, size uintptr) error {
	reg := uffdioRegisterArg{rng: uffdioRange{uint64(addr), uint64(size)}, mode: uffdRegisterModeWP}
	if err := w.ioctl(uffdioRegister, unsafe.Pointer(&reg)); err != nil {
		return fmt.Errorf("register memory for write tracking: %w", err)
	}
	wp := uffdioWriteProtectArg{rng: uffdioRange{uint64(addr), uint64(size)}, mode: uffdWriteProtectWP}
	if err := w.ioctl(uffdioWriteProtect, unsafe.Pointer(&wp)); err != nil {
		return fmt.Errorf("write-protect memory: %w", err)
	}
	return nil
}

func (w *writeTracker) ioctl(req uintptr, arg unsafe.Pointer) error {
	if _, _, errno := unix.Syscall(unix.SYS_IOCTL, uintptr(w.fd), req, uintptr(arg)); errno != 0 {
		return errno
	}
	return nil
}

// close drops the userfaultfd; the kernel unregisters what it tracked.
func (w *writeTracker) close() error { return unix.Close(w.fd) }
