package abi

// The state capability: host call operations and their payloads. The guest
// SDK and the node both use these types and their binary encoding
// (state_codec.go), so they cannot drift apart.
//
// Every operation takes an encoded StateCall and answers an encoded
// StateResult. A failure of the state operation itself (a conflict, a
// missing store) comes back in StateResult.Error with a nil host-call error;
// the host call fails only when the call is malformed.
const (
	OpStateGet      = "state.get"
	OpStateSet      = "state.set"
	OpStateDelete   = "state.delete"
	OpStateBulkGet  = "state.bulk_get"
	OpStateTransact = "state.transact"
	OpStateList     = "state.list"
)

// StateCall is the input of every state operation; each uses the fields it needs.
type StateCall struct {
	Store       string    `json:"store"`
	Key         string    `json:"key,omitempty"`
	Keys        []string  `json:"keys,omitempty"`
	Value       []byte    `json:"value,omitempty"`
	IfMatch     string    `json:"if_match,omitempty"`
	IfNoneMatch bool      `json:"if_none_match,omitempty"`
	TTLMillis   int64     `json:"ttl_ms,omitempty"`
	Ops         []StateOp `json:"ops,omitempty"`
	Prefix      string    `json:"prefix,omitempty"`
	Cursor      string    `json:"cursor,omitempty"`
	Limit       int       `json:"limit,omitempty"`
}

// StateOp is one operation of a transaction: Op is "set" or "delete".
type StateOp struct {
	Op          string `json:"op"`
	Key         string `json:"key"`
	Value       []byte `json:"value,omitempty"`
	IfMatch     string `json:"if_match,omitempty"`
	IfNoneMatch bool   `json:"if_none_match,omitempty"`
	TTLMillis   int64  `json:"ttl_ms,omitempty"`
}

// StateResult is the output of every state operation.
type StateResult struct {
	Found  bool        `json:"found,omitempty"`
	Value  []byte      `json:"value,omitempty"`
	ETag   string      `json:"etag,omitempty"`
	Items  []StateItem `json:"items,omitempty"`
	Keys   []string    `json:"keys,omitempty"`
	Cursor string      `json:"cursor,omitempty"`
	Error  *StateError `json:"error,omitempty"`
}

// StateItem is one key of a bulk get.
type StateItem struct {
	Key   string `json:"key"`
	Found bool   `json:"found"`
	Value []byte `json:"value,omitempty"`
	ETag  string `json:"etag,omitempty"`
}

// StateError is a failed state operation. Code is one of the StateErr* values.
type StateError struct {
	Code    string `json:"code"`
	Message string `json:"message"`
}

// State error codes.
const (
	StateErrETagMismatch  = "etag_mismatch"
	StateErrKeyExists     = "key_exists"
	StateErrStoreNotFound = "store_not_found"
	StateErrInvalid       = "invalid"
	StateErrTooLarge      = "too_large"
	StateErrUnavailable   = "unavailable"
	StateErrInternal      = "internal"
)
