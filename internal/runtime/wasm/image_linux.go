//go:build linux

package wasm

import (
	"encoding/binary"
	"fmt"
	"os"
	"sync"
	"sync/atomic"
	"unsafe"

	"golang.org/x/sys/unix"
)

// memoryImage is a snapshot's memory image in an anonymous in-memory file
// (memfd). A restore maps it copy-on-write over the start of a fresh
// reservation of the function's memory limit: it costs the same whatever
// the image's size, and a restored instance only owns the pages it writes;
// the rest are shared by every instance restored from the image.
type memoryImage struct {
	file *os.File
	size int
	// data is the image itself, for copying dirty pages back.
	data []byte
	// pagemap is /proc/self/pagemap, which tells which pages an instance
	// wrote; nil where it cannot be read, and resets then remap the image.
	pagemap *os.File
	// noScan: the kernel refused PAGEMAP_SCAN once; read pagemap entries.
	// Resets of different instances run concurrently, hence atomic.
	noScan atomic.Bool
	// tracker finds written pages for resets (track_linux.go); it is made
	// at the first reset, and trackOff is set when it cannot be, or once
	// tracking failed.
	trackerOnce sync.Once
	tracker     *writeTracker
	trackOff    atomic.Bool
}

func newMemoryImage(image []byte) (*memoryImage, error) {
	fd, err := unix.MemfdCreate("hearth-snapshot", unix.MFD_CLOEXEC)
	if err != nil {
		return nil, fmt.Errorf("memfd_create: %w", err)
	}
	f := os.NewFile(uintptr(fd), "hearth-snapshot")
	if _, err := f.Write(image); err != nil {
		f.Close()
		return nil, fmt.Errorf("write snapshot image: %w", err)
	}
	// The pristine copy that resets copy pages back from is a read-only
	// view of the memfd, not the caller's slice: it costs no memory of its
	// own, and the caller's copy (possibly hundreds of MiB) can be freed.
	var data []byte
	if len(image) > 0 {
		if data, err = unix.Mmap(fd, 0, len(image), unix.PROT_READ, unix.MAP_SHARED); err != nil {
			f.Close()
			return nil, fmt.Errorf("map snapshot image: %w", err)
		}
	}
	pm, _ := os.Open("/proc/self/pagemap")
	return &memoryImage{file: f, size: len(image), data: data, pagemap: pm}, nil
}

// restore maps the image into a new linear memory of at most limit bytes.
func (m *memoryImage) restore(limit uint64) (*limitedMemory, error) {
	if uint64(m.size) > limit {
		return nil, fmt.Errorf("snapshot of %d bytes is over the memory limit of %d", m.size, limit)
	}
	base, err := unix.MmapPtr(-1, 0, nil, uintptr(limit), unix.PROT_READ|unix.PROT_WRITE,
		unix.MAP_PRIVATE|unix.MAP_ANONYMOUS|unix.MAP_NORESERVE)
	if err != nil {
		return nil, fmt.Errorf("reserve %d bytes of memory: %w", limit, err)
	}
	if m.size > 0 {
		if _, err := unix.MmapPtr(int(m.file.Fd()), 0, base, uintptr(m.size), unix.PROT_READ|unix.PROT_WRITE,
			unix.MAP_PRIVATE|unix.MAP_FIXED); err != nil {
			_ = unix.MunmapPtr(base, uintptr(limit))
			return nil, fmt.Errorf("map snapshot image: %w", err)
		}
	}
	buf := unsafe.Slice((*byte)(base), limit)[:m.size]
	return &limitedMemory{limit: limit, buf: buf, free: func() { _ = unix.MunmapPtr(base, uintptr(limit)) }}, nil
}

// close drops the file and the pristine view; instances restored from the
// image keep their own mappings, which stay valid.
func (m *memoryImage) close() error {
	// Done now, a later reset cannot make a tracker; and Do orders this
	// read of m.tracker after the one that made it.
	m.trackerOnce.Do(func() {})
	if m.tracker != nil {
		_ = m.tracker.close()
	}
	if m.pagemap != nil {
		_ = m.pagemap.Close()
	}
	if m.data != nil {
		_ = unix.Munmap(m.data)
		m.data = nil
	}
	return m.file.Close()
}

// Bits of a /proc/self/pagemap entry.
const (
	pagePresent = 1 << 63
	pageFile    = 1 << 61 // file-backed (still the image) or shared
)

// reset puts mem back to the image and reports how many pages it copied.
// A page an instance wrote is a private anonymous copy; copying the image
// back into it keeps it mapped, so the next request does not fault it in
// again (remapping the image would, at a page fault per touched page).
//
// The first reset of a memory finds those copies by their kind
// (resetPrivate) and then starts tracking writes (track_linux.go); later
// resets ask the kernel only for pages written since (resetWritten). Both
// copy back every page written since the restore at least: a superset of
// what the last request wrote.
func (m *memoryImage) reset(mem *limitedMemory) (int, error) {
	if m.size == 0 {
		return 0, nil
	}
	if mem.tracked {
		n, err := m.resetWritten(mem)
		if err == nil {
			return n, nil
		}
		// Tracking failed after it started (it should not): the full
		// scan below finds every private page whatever tracking knows.
		mem.tracked = false
		m.trackOff.Store(true)
	}
	n, err := m.resetPrivate(mem)
	if err != nil {
		return n, err
	}
	m.startTracking(mem)
	return n, nil
}

// resetPrivate copies back every page of mem that is a private copy.
func (m *memoryImage) resetPrivate(mem *limitedMemory) (int, error) {
	osPage := os.Getpagesize()
	pages := m.size / osPage
	if m.pagemap != nil && !m.noScan.Load() && m.size%osPage == 0 {
		if n, err := m.resetScan(mem); err == nil {
			return n, nil
		}
		// Kernels before 6.7 have no PAGEMAP_SCAN: read pagemap instead.
		m.noScan.Store(true)
	}
	if m.pagemap != nil && m.size%osPage == 0 {
		if cap(mem.scratch) < pages*8 {
			mem.scratch = make([]byte, pages*8)
		}
		entries := mem.scratch[:pages*8]
		base := uintptr(unsafe.Pointer(unsafe.SliceData(mem.buf)))
		if _, err := m.pagemap.ReadAt(entries, int64(base/uintptr(osPage))*8); err == nil {
			n := 0
			for p := 0; p < pages; p++ {
				e := binary.LittleEndian.Uint64(entries[p*8:])
				if e&pagePresent != 0 && e&pageFile == 0 {
					copy(mem.buf[p*osPage:(p+1)*osPage], m.data[p*osPage:(p+1)*osPage])
					n++
				}
			}
			return n, nil
		}
	}
	if _, err := unix.MmapPtr(int(m.file.Fd()), 0, unsafe.Pointer(unsafe.SliceData(mem.buf)), uintptr(m.size),
		unix.PROT_READ|unix.PROT_WRITE, unix.MAP_PRIVATE|unix.MAP_FIXED); err != nil {
		return 0, fmt.Errorf("map snapshot image again: %w", err)
	}
	return pages, nil
}

// startTracking write-protects mem's image range so that later resets
// find written pages with resetWritten. Tracking is an optimisation: when
// the kernel cannot provide it, resets keep using resetPrivate.
func (m *memoryImage) startTracking(mem *limitedMemory) {
	if m.pagemap == nil || m.noScan.Load() || m.trackOff.Load() || m.size%os.Getpagesize() != 0 {
		return
	}
	m.trackerOnce.Do(func() {
		w, err := newWriteTracker()
		if err != nil {
			m.trackOff.Store(true)
			return
		}
		m.tracker = w
	})
	if m.tracker == nil {
		return
	}
	if err := m.tracker.track(uintptr(unsafe.Pointer(unsafe.SliceData(mem.buf))), uintptr(m.size)); err != nil {
		m.trackOff.Store(true)
		return
	}
	mem.tracked = true
}

// PAGEMAP_SCAN (Linux 6.7): the kernel walks the page tables and returns
// only the ranges that match.
const (
	pagemapScan  = 0xc0606610 // _IOWR('f', 16, struct pm_scan_arg)
	pageIsFile   = 1 << 2
	pageIsPresen = 1 << 3
)

// pmScanArg is struct pm_scan_arg.
type pmScanArg struct {
	size, flags, start, end, walkEnd, vec, vecLen, maxPages   uint64
	categoryInverted, categoryMask, categoryAnyof, returnMask uint64
}

// pageRegion is struct page_region.
type pageRegion struct{ start, end, categories uint64 }

// resetScan copies back the pages of mem that are present and not the
// image's (written, hence private anonymous copies). The kernel looks at
// every present page to tell.
func (m *memoryImage) resetScan(mem *limitedMemory) (int, error) {
	return m.copyBack(mem, pmScanArg{categoryInverted: pageIsFile, categoryMask: pageIsFile | pageIsPresen, returnMask: pageIsPresen})
}

// resetWritten copies back the pages of a tracked mem written since it was
// write-protected. PM_SCAN_CHECK_WPASYNC makes the scan fail, rather than
// report nothing, if the range is not tracked.
func (m *memoryImage) resetWritten(mem *limitedMemory) (int, error) {
	return m.copyBack(mem, pmScanArg{flags: pmScanCheckWPAsync, categoryMask: pageIsWritten, returnMask: pageIsWritten})
}

// copyBack runs PAGEMAP_SCAN with arg's flags and categories over the
// image's range of mem and copies the image over every range it returns.
func (m *memoryImage) copyBack(mem *limitedMemory, arg pmScanArg) (int, error) {
	base := uint64(uintptr(unsafe.Pointer(unsafe.SliceData(mem.buf))))
	var regions [64]pageRegion
	arg.start, arg.end = base, base+uint64(m.size)
	arg.vec, arg.vecLen = uint64(uintptr(unsafe.Pointer(&regions[0]))), uint64(len(regions))
	arg.size = uint64(unsafe.Sizeof(arg))
	copied := 0
	for arg.start < arg.end {
		n, _, errno := unix.Syscall(unix.SYS_IOCTL, m.pagemap.Fd(), pagemapScan, uintptr(unsafe.Pointer(&arg)))
		if errno != 0 {
			return copied, fmt.Errorf("PAGEMAP_SCAN: %w", errno)
		}
		for _, r := range regions[:n] {
			off, end := r.start-base, r.end-base
			copy(mem.buf[off:end], m.data[off:end])
			copied += int(end-off) / os.Getpagesize()
		}
		if arg.walkEnd <= arg.start {
			return copied, fmt.Errorf("PAGEMAP_SCAN made no progress")
		}
		arg.start = arg.walkEnd
	}
	return copied, nil
}
