package hearth

import "github.com/hearth-sh/hearth/sdk/go/abi"

// guest is the per-instance state of the SDK. It is a package variable
// because a reactor's exports are plain functions with no receiver: the
// handler and the envelope buffers must be reachable from them.
var guest struct {
	handler HandlerFunc
	// inbox is the buffer handed to the host for requests; the host
	// reuses it, so a request's Body is copied out of it.
	inbox []byte
	// outbox holds the last response until the next call into the guest.
	outbox []byte
	// onRestore runs when an instance is restored from a snapshot.
	onRestore []func()
	// callBuf is reused to encode host call inputs (see takeCallBuf).
	callBuf []byte
}

// maxKeptCallBuf bounds the host call buffer kept between calls: one large
// Set should not pin its size for the life of the instance.
const maxKeptCallBuf = 64 << 10

// takeCallBuf lends the host call buffer, empty, to one call; give it back
// with putCallBuf. While it is lent the SDK holds no reference to it, so a
// goroutine that runs in between (a wasm instance has one thread, but an
// allocation may let another goroutine run) gets a fresh buffer instead of
// sharing this one. Reusing it saves an allocation per call, which inside a
// Go guest under wazero's interruption checks costs about a microsecond.
func takeCallBuf() []byte {
	b := guest.callBuf
	guest.callBuf = nil
	return b[:0]
}

// putCallBuf takes back a buffer from takeCallBuf (possibly grown).
func putCallBuf(b []byte) {
	if cap(b) <= maxKeptCallBuf {
		guest.callBuf = b[:0]
	}
}

// OnRestore registers f to run in every instance restored from a snapshot,
// before its first invocation; register it from init.
//
// # Notes
//
// hearth may run a function's init once, snapshot the instance's memory and
// start later instances from that snapshot instead of running init again.
// All of them then share what init computed: random seeds (including the Go
// runtime's map hash seeds), unique ids, timestamps. Refresh in f whatever
// must differ between instances, for example re-seed a math/rand source or
// mint a new instance id.
func OnRestore(f func()) { guest.onRestore = append(guest.onRestore, f) }

// afterRestore runs the OnRestore functions.
func afterRestore() {
	for _, f := range guest.onRestore {
		f()
	}
}

// Handle registers the function's handler. Call it once, from init: a
// reactor never runs main.
func Handle(h HandlerFunc) {
	if guest.handler != nil {
		panic("hearth.Handle called twice: a function has exactly one handler")
	}
	guest.handler = h
}

// serve runs the registered handler on an encoded request and returns the
// encoded response.
func serve(envelope []byte) []byte {
	// One copy of the whole envelope, out of the buffer the host reuses;
	// the request's strings and body are views of it.
	f, err := abi.SplitRequest(clone(envelope))
	if err != nil {
		panic("hearth: the host sent a request this SDK cannot read (version mismatch?): " + err.Error())
	}
	if guest.handler == nil {
		panic("hearth: no handler registered: call hearth.Handle from an init function")
	}
	id := view(f.ID)
	var body []byte
	if len(f.Body) > 0 {
		body = f.Body
	}
	resp, err := guest.handler(Context{requestID: id},
		Request{ID: id, Method: view(f.Method), Path: view(f.Path), Query: view(f.Query), Headers: Header{block: f.Headers}, Body: body})
	out := abi.Response{Status: resp.Status, Headers: resp.Headers, Body: resp.Body}
	if err != nil {
		out = abi.Response{Status: 500}
		out.ErrorType, out.ErrorMessage = encodeError(err)
		if out.ErrorType == TypeBadRequest {
			out.Status = 400
		}
	}
	if out.Status == 0 {
		out.Status = 200
	}
	n := out.Size()
	if cap(guest.outbox) < n {
		guest.outbox = make([]byte, n)
	}
	guest.outbox = guest.outbox[:out.Encode(guest.outbox[:n])]
	return guest.outbox
}

// clone copies b; unlike bytes.Clone it keeps an empty body nil.
func clone(b []byte) []byte {
	if len(b) == 0 {
		return nil
	}
	return append([]byte(nil), b...)
}
