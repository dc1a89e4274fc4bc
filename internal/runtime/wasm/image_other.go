//go:build !linux

package wasm

import "os"

// memoryImage keeps a snapshot's memory image; without mmap a restore is a
// copy.
type memoryImage struct{ image []byte }

func newMemoryImage(image []byte) (*memoryImage, error) { return &memoryImage{image: image}, nil }

func (m *memoryImage) restore(limit uint64) (*limitedMemory, error) {
	buf := make([]byte, len(m.image), min(uint64(2*len(m.image)), limit))
	copy(buf, m.image)
	return &limitedMemory{limit: limit, buf: buf}, nil
}

func (m *memoryImage) close() error { return nil }

// reset copies the image back over mem and reports the pages it copied.
func (m *memoryImage) reset(mem *limitedMemory) (int, error) {
	copy(mem.buf, m.image)
	return (len(m.image) + os.Getpagesize() - 1) / os.Getpagesize(), nil
}
