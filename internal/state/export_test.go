package state

// Exported for the external tests.
var (
	EncodeNATSKeyForTest = encodeNATSKey
	DecodeNATSKeyForTest = decodeNATSKey
)
