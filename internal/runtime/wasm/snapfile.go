package wasm

import (
	"bytes"
	"crypto/sha256"
	"encoding/binary"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"sort"
	"time"
)

// A snapshot file holds everything a restore needs, so that a node restart
// maps it instead of running the function's init again:
//
//	0    magic        "HRTHSNP\x00"
//	8    format       u32 (snapFormat)
//	12   globals      u32, the number of captured mutable globals
//	16   module len   u64, the baked module's size
//	24   image len    u64, the memory image's size
//	32   image offset u64, a multiple of imageAlign
//	40   capture ns   i64, how long capture took
//	48   key          [32]byte, the snapshot's key (see snapshotKey)
//	80   checksum     [32]byte, SHA-256 of bytes [0, 80) and of everything after 112
//	112  globals      (u32 index, u64 value) each
//	...  baked module
//	...  zero padding up to image offset
//	...  memory image, to the end of the file
//
// The checksum is verified, and the file's length checked against the
// header, before any of it is used: a truncated or corrupted file is
// removed and the snapshot captured again, never executed. Integers are
// little-endian.
const (
	snapMagic      = "HRTHSNP\x00"
	snapFormat     = 1
	snapHeaderSize = 112
	snapSuffix     = ".snap"
	// imageAlign keeps the image at an offset any page size divides, so
	// that it could be mapped straight from the file.
	imageAlign = 64 << 10
)

// errCorrupt marks a snapshot file that failed verification.
var errCorrupt = errors.New("snapshot file corrupt")

// snapshotParts is a captured snapshot before it is compiled and mapped.
type snapshotParts struct {
	globals     map[int]uint64
	module      []byte // the baked module
	image       []byte // linear memory after init
	captureTime time.Duration
}

// snapshotKey names a snapshot by everything its init could observe that
// hearth controls: the module, its arguments and its environment (which
// includes HEARTH_FUNCTION and HEARTH_VERSION), and the file format. Two
// templates with the same key can share one snapshot; anything else that
// init reads (clocks, random numbers, host calls) is frozen into it.
func snapshotKey(digest string, args []string, env [][2]string) string {
	h := sha256.New()
	fmt.Fprintf(h, "hearth snapshot %d\x00%s\x00%d\x00", snapFormat, digest, len(args))
	for _, a := range args {
		fmt.Fprintf(h, "%d:%s", len(a), a)
	}
	fmt.Fprintf(h, "\x00%d\x00", len(env))
	for _, kv := range env {
		fmt.Fprintf(h, "%d:%s%d:%s", len(kv[0]), kv[0], len(kv[1]), kv[1])
	}
	return hex.EncodeToString(h.Sum(nil))
}

func snapshotPath(dir, key string) string { return filepath.Join(dir, key+snapSuffix) }

// writeSnapshotFile writes p under key atomically: a temporary file in the
// same directory, synced, then renamed, so that a crash leaves either the
// whole file or none (a stray temporary is swept on the next start).
func writeSnapshotFile(dir, key string, p *snapshotParts) (err error) {
	keyBytes, err := hex.DecodeString(key)
	if err != nil || len(keyBytes) != 32 {
		return fmt.Errorf("snapshot key %q is not a SHA-256", key)
	}
	idx := make([]int, 0, len(p.globals))
	for gi := range p.globals {
		idx = append(idx, gi)
	}
	sort.Ints(idx)
	var body bytes.Buffer
	for _, gi := range idx {
		body.Write(binary.LittleEndian.AppendUint32(nil, uint32(gi)))
		body.Write(binary.LittleEndian.AppendUint64(nil, p.globals[gi]))
	}
	body.Write(p.module)
	imageOff := alignUp(snapHeaderSize+body.Len(), imageAlign)
	body.Write(make([]byte, imageOff-snapHeaderSize-body.Len()))

	hdr := make([]byte, snapHeaderSize)
	copy(hdr, snapMagic)
	binary.LittleEndian.PutUint32(hdr[8:], snapFormat)
	binary.LittleEndian.PutUint32(hdr[12:], uint32(len(idx)))
	binary.LittleEndian.PutUint64(hdr[16:], uint64(len(p.module)))
	binary.LittleEndian.PutUint64(hdr[24:], uint64(len(p.image)))
	binary.LittleEndian.PutUint64(hdr[32:], uint64(imageOff))
	binary.LittleEndian.PutUint64(hdr[40:], uint64(p.captureTime))
	copy(hdr[48:80], keyBytes)
	sum := sha256.New()
	sum.Write(hdr[:80])
	sum.Write(body.Bytes())
	sum.Write(p.image)
	copy(hdr[80:], sum.Sum(nil))

	f, err := os.CreateTemp(dir, key+".*.tmp")
	if err != nil {
		return fmt.Errorf("create snapshot file: %w", err)
	}
	defer func() {
		if err != nil {
			_ = f.Close()
			_ = os.Remove(f.Name())
		}
	}()
	for _, b := range [][]byte{hdr, body.Bytes(), p.image} {
		if _, err := f.Write(b); err != nil {
			return fmt.Errorf("write snapshot file: %w", err)
		}
	}
	if err := f.Sync(); err != nil {
		return fmt.Errorf("sync snapshot file: %w", err)
	}
	if err := f.Close(); err != nil {
		return fmt.Errorf("close snapshot file: %w", err)
	}
	if err := os.Rename(f.Name(), snapshotPath(dir, key)); err != nil {
		return fmt.Errorf("install snapshot file: %w", err)
	}
	if d, err := os.Open(dir); err == nil {
		_ = d.Sync() // make the rename durable; best effort
		_ = d.Close()
	}
	return nil
}

// readSnapshotFile reads and verifies the snapshot stored under key. It
// returns an error wrapping os.ErrNotExist when there is none and errCorrupt
// when the file fails any check.
func readSnapshotFile(dir, key string) (*snapshotParts, error) {
	f, err := os.Open(snapshotPath(dir, key))
	if err != nil {
		return nil, err
	}
	defer f.Close()
	fi, err := f.Stat()
	if err != nil {
		return nil, err
	}
	hdr := make([]byte, snapHeaderSize)
	if _, err := io.ReadFull(f, hdr); err != nil {
		return nil, fmt.Errorf("%w: header: %v", errCorrupt, err)
	}
	if string(hdr[:8]) != snapMagic || binary.LittleEndian.Uint32(hdr[8:]) != snapFormat {
		return nil, fmt.Errorf("%w: not a format %d snapshot", errCorrupt, snapFormat)
	}
	if hex.EncodeToString(hdr[48:80]) != key {
		return nil, fmt.Errorf("%w: the file holds another snapshot", errCorrupt)
	}
	nglobals := int64(binary.LittleEndian.Uint32(hdr[12:]))
	modLen := binary.LittleEndian.Uint64(hdr[16:])
	imgLen := binary.LittleEndian.Uint64(hdr[24:])
	imgOff := binary.LittleEndian.Uint64(hdr[32:])
	bodyLen := uint64(nglobals*12) + modLen
	// Check lengths before allocating anything from them: a damaged header
	// must not make us allocate terabytes.
	if imgOff%imageAlign != 0 || imgOff < snapHeaderSize+bodyLen || bodyLen > imgOff || imgLen > 1<<32 ||
		uint64(fi.Size()) != imgOff+imgLen {
		return nil, fmt.Errorf("%w: %d bytes do not match the header (truncated?)", errCorrupt, fi.Size())
	}
	rest := make([]byte, uint64(fi.Size())-snapHeaderSize)
	if _, err := io.ReadFull(f, rest); err != nil {
		return nil, fmt.Errorf("%w: %v", errCorrupt, err)
	}
	sum := sha256.New()
	sum.Write(hdr[:80])
	sum.Write(rest)
	if !bytes.Equal(sum.Sum(nil), hdr[80:112]) {
		return nil, fmt.Errorf("%w: checksum mismatch", errCorrupt)
	}
	p := &snapshotParts{globals: make(map[int]uint64, nglobals), captureTime: time.Duration(binary.LittleEndian.Uint64(hdr[40:]))}
	for i := range nglobals {
		e := rest[i*12:]
		p.globals[int(binary.LittleEndian.Uint32(e))] = binary.LittleEndian.Uint64(e[4:])
	}
	p.module = rest[nglobals*12 : uint64(nglobals*12)+modLen]
	p.image = rest[imgOff-snapHeaderSize:]
	return p, nil
}

func alignUp(n, to int) int { return (n + to - 1) / to * to }
