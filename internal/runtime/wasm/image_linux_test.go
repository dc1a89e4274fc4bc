//go:build linux

package wasm

import (
	"bytes"
	"math/rand/v2"
	"os"
	"sync"
	"testing"

	"golang.org/x/sys/unix"
)

// testImage is an image of n system pages of random bytes, no two pages
// alike, and a memory restored from it.
func testImage(t *testing.T, pages int) (*memoryImage, []byte) {
	t.Helper()
	img := make([]byte, pages*os.Getpagesize())
	r := rand.New(rand.NewPCG(uint64(pages), 7))
	for i := range img {
		img[i] = byte(r.Uint32())
	}
	m, err := newMemoryImage(img)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = m.close() })
	return m, img
}

func restoreTest(t *testing.T, m *memoryImage) *limitedMemory {
	t.Helper()
	mem, err := m.restore(64 << 20)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(mem.Free)
	return mem
}

// sameAsImage fails unless every byte of the image's range of mem is the
// image's.
func sameAsImage(t *testing.T, what string, mem *limitedMemory, img []byte) {
	t.Helper()
	got := mem.buf[:len(img)]
	if bytes.Equal(got, img) {
		return
	}
	for i := range img {
		if got[i] != img[i] {
			t.Fatalf("%s: byte %d (page %d) is %#x after the reset, the snapshot's is %#x", what, i, i/os.Getpagesize(), got[i], img[i])
		}
	}
}

// TestResetRestoresEveryByte writes memory restored from an image in many
// patterns, one after another on the same memory as requests would, and
// checks after each reset that every byte is the image's again: with write
// tracking (the kernel's asynchronous write-protection) and without (the
// scan for private pages that older kernels use).
func TestResetRestoresEveryByte(t *testing.T) {
	const pages = 1100 // over two page tables' worth: ranges cross 2 MiB
	ps := os.Getpagesize()
	patterns := []struct {
		name  string
		write func(t *testing.T, buf []byte, round byte)
	}{
		{"nothing", func(*testing.T, []byte, byte) {}},
		{"first byte", func(_ *testing.T, b []byte, v byte) { b[0] ^= 0xff ^ v }},
		{"last byte", func(_ *testing.T, b []byte, v byte) { b[pages*ps-1] ^= 0xff ^ v }},
		{"first and last page", func(_ *testing.T, b []byte, v byte) {
			fill(b[:ps], v)
			fill(b[(pages-1)*ps:pages*ps], v)
		}},
		{"sparse", func(_ *testing.T, b []byte, v byte) {
			for p := 3; p < pages; p += 37 {
				b[p*ps+(p*131)%ps] ^= 0x5a ^ v
			}
		}},
		{"read everything, write one page", func(_ *testing.T, b []byte, v byte) {
			sum := byte(0)
			for i := 0; i < pages*ps; i += ps {
				sum += b[i]
			}
			b[777*ps+1] = sum ^ v ^ b[777*ps+1] ^ 0x80
		}},
		{"all pages", func(_ *testing.T, b []byte, v byte) { fill(b[:pages*ps], v) }},
		{"run across page tables", func(_ *testing.T, b []byte, v byte) { fill(b[500*ps+17:530*ps-3], v) }},
		{"written by the kernel", func(t *testing.T, b []byte, v byte) {
			// read(2) into the memory: the kernel's copy must count as
			// a write like the guest's own stores.
			var p [2]int
			if err := unix.Pipe2(p[:], unix.O_CLOEXEC); err != nil {
				t.Fatal(err)
			}
			defer unix.Close(p[0])
			defer unix.Close(p[1])
			msg := bytes.Repeat([]byte{v ^ 0x33}, 3*ps)
			if _, err := unix.Write(p[1], msg); err != nil {
				t.Fatal(err)
			}
			if n, err := unix.Read(p[0], b[900*ps+100:900*ps+100+len(msg)]); err != nil || n != len(msg) {
				t.Fatalf("read into memory: %d, %v", n, err)
			}
		}},
		{"grown memory", func(t *testing.T, b []byte, v byte) {
			// The runtime discards an instance whose memory grew; the
			// image's part is still reset like any other.
			fill(b[(pages-2)*ps:], v)
		}},
	}
	for _, tracked := range []bool{true, false} {
		t.Run(map[bool]string{true: "tracked", false: "scan"}[tracked], func(t *testing.T) {
			m, img := testImage(t, pages)
			if !tracked {
				m.trackOff.Store(true)
			}
			mem := restoreTest(t, m)
			for round := range 3 {
				for i, p := range patterns {
					buf := mem.buf
					if p.name == "grown memory" {
						buf = mem.Reallocate(uint64(len(img) + 4*pageSize))
					}
					p.write(t, buf, byte(round*len(patterns)+i))
					if _, err := m.reset(mem); err != nil {
						t.Fatalf("%s: %v", p.name, err)
					}
					sameAsImage(t, p.name, mem, img)
					mem.buf = mem.buf[:len(img)]
				}
			}
			if tracked && !mem.tracked {
				if _, err := newWriteTracker(); err != nil {
					t.Skipf("the kernel cannot track writes (%v): covered by the scan case", err)
				}
				t.Fatal("resets did not start write tracking, yet the kernel provides it")
			}
		})
	}
}

func fill(b []byte, v byte) {
	for i := range b {
		b[i] = v
	}
}

// TestResetCopiesWrittenPages checks which pages a reset copies back:
// written pages only, not pages only read; with tracking, only pages
// written since tracking began.
func TestResetCopiesWrittenPages(t *testing.T) {
	ps := os.Getpagesize()
	m, img := testImage(t, 64)
	mem := restoreTest(t, m)
	resetCopies := func(what string) int {
		t.Helper()
		n, err := m.reset(mem)
		if err != nil {
			t.Fatalf("%s: %v", what, err)
		}
		sameAsImage(t, what, mem, img)
		return n
	}
	mem.buf[3*ps] ^= 1
	if n := resetCopies("page 3 written"); n != 1 {
		t.Fatalf("first reset copied %d pages, want 1 (page 3)", n)
	}
	sum := 0
	for i := 0; i < len(img); i += ps {
		sum += int(mem.buf[i])
	}
	mem.buf[5*ps] ^= byte(sum) | 1
	n := resetCopies("all read, page 5 written")
	switch {
	case mem.tracked && n != 1:
		t.Fatalf("tracked reset copied %d pages, want 1 (page 5, the only one written since the last reset)", n)
	case !mem.tracked && n != 2:
		t.Fatalf("scanning reset copied %d pages, want 2 (pages 3 and 5, private copies)", n)
	}
}

// TestResetConcurrent resets memories restored from one image from
// several goroutines at once, as instances of one function do: each keeps
// its own writes and gets back exactly the image.
func TestResetConcurrent(t *testing.T) {
	ps := os.Getpagesize()
	m, img := testImage(t, 256)
	mems := []*limitedMemory{restoreTest(t, m), restoreTest(t, m), restoreTest(t, m), restoreTest(t, m)}
	var wg sync.WaitGroup
	errs := make(chan string, len(mems))
	for k, mem := range mems {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for round := range 50 {
				for p := k; p < 256; p += 3 + round%5 {
					mem.buf[p*ps+round] = byte(k + round)
				}
				if mem.buf[k*ps+round] != byte(k+round) {
					errs <- "an instance lost its own write"
					return
				}
				if _, err := m.reset(mem); err != nil {
					errs <- err.Error()
					return
				}
				if !bytes.Equal(mem.buf[:len(img)], img) {
					errs <- "memory differs from the image after a reset"
					return
				}
			}
		}()
	}
	wg.Wait()
	close(errs)
	for e := range errs {
		t.Fatal(e)
	}
}
