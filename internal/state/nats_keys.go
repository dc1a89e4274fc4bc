package state

import (
	"fmt"
	"strings"
)

// NATS KV keys are subject tokens: only [-/_=.a-zA-Z0-9], and "." splits
// tokens. hearth keys are any UTF-8 without control characters, so the nats
// backend escapes every other byte as "=XX" (upper-case hex), much like
// quoted-printable. "." is escaped too: a key then is always one subject
// token, so no key can form an empty token ("a..b") or a wildcard match
// across tokens. "=" is the escape character, so it is escaped as well.
//
// The encoding is a bijection, so List can decode what the bucket holds.
// Encoded keys can be three times as long as the key; with the 1 KiB key
// limit a subject stays well under the server's 4 KiB control line limit.

func natsKeyByteOK(c byte) bool {
	return c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' ||
		c == '-' || c == '_' || c == '/'
}

func encodeNATSKey(key string) string {
	// Most keys need no escape: return them as they are, without a copy
	// (every Get and Set encodes its key).
	clean := true
	for i := 0; i < len(key) && clean; i++ {
		clean = natsKeyByteOK(key[i])
	}
	if clean {
		return key
	}
	const hex = "0123456789ABCDEF"
	var b strings.Builder
	b.Grow(len(key))
	for i := 0; i < len(key); i++ {
		c := key[i]
		if natsKeyByteOK(c) {
			b.WriteByte(c)
			continue
		}
		b.WriteByte('=')
		b.WriteByte(hex[c>>4])
		b.WriteByte(hex[c&0xF])
	}
	return b.String()
}

func decodeNATSKey(enc string) (string, error) {
	if !strings.Contains(enc, "=") {
		return enc, nil
	}
	b := make([]byte, 0, len(enc))
	for i := 0; i < len(enc); i++ {
		c := enc[i]
		if c != '=' {
			b = append(b, c)
			continue
		}
		if i+2 >= len(enc) {
			return "", fmt.Errorf("bad escape at end of NATS key %q", enc)
		}
		hi, ok1 := unhex(enc[i+1])
		lo, ok2 := unhex(enc[i+2])
		if !ok1 || !ok2 {
			return "", fmt.Errorf("bad escape in NATS key %q", enc)
		}
		b = append(b, hi<<4|lo)
		i += 2
	}
	return string(b), nil
}

func unhex(c byte) (byte, bool) {
	switch {
	case c >= '0' && c <= '9':
		return c - '0', true
	case c >= 'A' && c <= 'F':
		return c - 'A' + 10, true
	}
	return 0, false
}
