package async

import (
	"strconv"
	"sync"
	"sync/atomic"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
)

// worker pulls one consumer on this node with bounded concurrency.
//
// It sends its own pull requests rather than use jetstream's Consume:
// Consume asks for more messages from its callback, and skips asking while
// its previous pull request is still being written to the connection; when
// the message whose callback skipped was the last one anyone asked for,
// nothing asks again until its missed-heartbeat timer fires, 30 s later,
// and queued invocations sit in the stream meanwhile (docs/async.md, "The
// 30 s stall"). Fetch, which has no such race, subscribes and unsubscribes
// an inbox per request, which costs more than the invocation's own work.
//
// Here one loop owns one inbox and every pull request: each request
// reserves the slots it asks for, each message that arrives takes one, and
// the server's word that a request ended (408, with how many messages it
// did not send) hands the rest back. Nothing is counted twice or lost, so
// the loop always knows whether to ask again.
//
// A worker holds its concurrency's worth of messages running and more
// waiting in memory, to start the moment a slot frees (without them, every
// completion would wait a round trip for the next message). How many wait
// follows how long invocations take (see held): as many as start within
// about prefetchWindow, at least concurrency and at most
// max(concurrency, maxPrefetch). Short invocations so come in batches,
// which costs the node far less per invocation than one round trip each;
// long ones are not kept from other nodes' idle instances. A waiting
// message's ack deadline is renewed every ackHeartbeat, so one that waits
// behind long invocations is not delivered again meanwhile.
type worker struct {
	sem   chan struct{} // a token per message reserved: asked for, waiting or running
	run   chan struct{} // a token per invocation running
	freed chan struct{} // a slot came free (capacity 1: a doorbell)
	done  chan struct{} // closed by stop

	// runNanos is a moving average of how long an invocation keeps its
	// run slot, 0 until the first one ends.
	runNanos atomic.Int64

	pulled chan struct{} // closed when the pull loop has returned
	once   sync.Once
	wg     sync.WaitGroup // invocations running; Add only from the pull loop
}

const (
	// prefetchWindow is about how long a message may wait in a worker's
	// memory before it starts.
	prefetchWindow = 10 * time.Millisecond
	// maxPrefetch bounds the messages waiting in a worker, unless its
	// concurrency is higher.
	maxPrefetch = 64
)

func newWorker(concurrency int) *worker {
	return &worker{sem: make(chan struct{}, concurrency+max(concurrency, maxPrefetch)), run: make(chan struct{}, concurrency),
		freed: make(chan struct{}, 1), done: make(chan struct{}), pulled: make(chan struct{})}
}

// held is how many messages the worker may hold now, running and waiting.
func (w *worker) held() int {
	conc := cap(w.run)
	waiting := conc
	if avg := time.Duration(w.runNanos.Load()); avg > 0 {
		waiting = int(min(int64(conc)*int64(prefetchWindow/avg), int64(cap(w.sem)-conc)))
		waiting = max(waiting, conc)
	}
	return conc + waiting
}

// ran notes how long an invocation kept its run slot.
func (w *worker) ran(d time.Duration) {
	// Runners update it at once; a lost update only slows the average.
	old := w.runNanos.Load()
	if old == 0 {
		w.runNanos.Store(int64(d))
		return
	}
	w.runNanos.Store(old + (int64(d)-old)/16)
}

// reserve takes free slots, at most n, and returns how many.
func (w *worker) reserve(n int) int {
	got := 0
	for got < n {
		select {
		case w.sem <- struct{}{}:
			got++
		default:
			return got
		}
	}
	return got
}

func (w *worker) release(n int) {
	for range n {
		<-w.sem
	}
	w.ring()
}

// ring tells the pull loop that a slot came free.
func (w *worker) ring() {
	select {
	case w.freed <- struct{}{}:
	default:
	}
}

// stop ends pulling and waits for the invocations in flight. Messages that
// arrive for requests still open are handed back (nak), so they run again
// at once elsewhere or after a restart instead of waiting out their ack
// deadline.
func (w *worker) stop() {
	w.once.Do(func() { close(w.done) })
	<-w.pulled
	w.wg.Wait()
}

const (
	// pullExpiry bounds how long one pull request waits on an empty queue:
	// an idle consumer costs one request per pullExpiry per node.
	pullExpiry = 10 * time.Second
	// pullLost: a request unanswered this long after its expiry was lost
	// (a reconnect); its slots are taken back and asked for again.
	pullLost = pullExpiry + 5*time.Second
)

// pull is a worker's loop (see worker).
func (s *Service) pull(w *worker, spec consumerSpec, key string) {
	defer close(w.pulled)
	most := cap(w.sem)
	// At most cap(w.sem) messages and one status per request (each asks
	// for at least one message) are ever on their way, so the channel
	// never fills and the client never drops a message as a slow consumer.
	inbox := s.opts.Conn.NewInbox()
	msgs := make(chan *nats.Msg, 2*most+64)
	sub, err := s.opts.Conn.ChanSubscribe(inbox, msgs)
	if err != nil {
		s.log.Error("pull consumer: subscribe", "consumer", key, "err", err)
		go s.dropWorker(key)
		return
	}
	defer func() {
		_ = sub.Unsubscribe()
		for {
			select {
			case m := <-msgs:
				if !isStatus(m) {
					_ = m.Nak()
				}
			default:
				return
			}
		}
	}()
	subject := "$JS.API.CONSUMER.MSG.NEXT." + spec.Stream + "." + spec.Name
	request := func(n int) []byte {
		return []byte(`{"batch":` + strconv.Itoa(n) + `,"expires":` + strconv.FormatInt(int64(pullExpiry), 10) + `}`)
	}
	// The server expires requests and ack deadlines by its own wall clock,
	// so the watch for lost requests and the renewal of waiting messages'
	// deadlines use real time, not the service's Clock.
	tick := time.NewTicker(ackHeartbeat)
	defer tick.Stop()

	type waitingMsg struct {
		m     *nats.Msg
		since time.Time // arrival, or the last renewal of its ack deadline
	}
	var waiting []waitingMsg // arrived, in order, not started
	// Invocations run on goroutines that live as long as the loop, one per
	// run slot at most: a goroutine per message would grow a new stack
	// (the wasm call path is deep) for every invocation.
	jobs := make(chan *nats.Msg)
	runners := 0
	var running sync.WaitGroup // the runner goroutines
	// A finished invocation's final record is stored, and then its message
	// acked, by one goroutine that takes them in batches (see settleBatch),
	// so that its slots go to the next invocations meanwhile. At most
	// cap(w.sem) messages wait so: a runner with one more waits its turn.
	settles := make(chan settling, most)
	settled := make(chan struct{})
	defer func() {
		close(jobs) // runners finish what they run, then return
		running.Wait()
		close(settles)
		<-settled
	}()
	go func() {
		defer close(settled)
		t := time.NewTimer(ackWait)
		t.Stop()
		batch := make([]settling, 0, maxSettleBatch)
		var done doneBatch
		for st := range settles {
			batch = append(batch[:0], st)
		more:
			for len(batch) < maxSettleBatch {
				select {
				case st, ok := <-settles:
					if !ok {
						break more
					}
					batch = append(batch, st)
				default:
					break more
				}
			}
			s.settleBatch(batch, t, &done)
			for i := range batch {
				batch[i] = settling{}
				w.wg.Done()
			}
		}
	}()
	later := func(st settling) { settles <- st }
	runner := func(m *nats.Msg) {
		for ; m != nil; m = <-jobs {
			d := &natsDelivery{m: m, later: later}
			start := time.Now()
			s.handle(spec, d)
			w.ran(time.Since(start))
			<-w.run
			if !d.deferred {
				w.wg.Done() // else when settled
			}
			w.release(1) // rings the loop, which starts the next
		}
	}
	startWaiting := func() {
		for len(waiting) > 0 {
			select {
			case w.run <- struct{}{}:
			default:
				return
			}
			m := waiting[0].m
			waiting[0] = waitingMsg{}
			waiting = waiting[1:]
			w.wg.Add(1)
			select {
			case jobs <- m: // an idle runner took it
			default:
				if runners < cap(w.run) {
					runners++
					running.Go(func() { runner(m) })
				} else {
					jobs <- m // every runner exists; one is on its way back
				}
			}
		}
	}
	defer func() {
		for _, wm := range waiting {
			_ = wm.m.Nak() // stopping: hand it back rather than wait for AckWait
		}
		w.release(len(waiting))
	}()

	outstanding := 0 // messages asked for and neither received nor given up by the server
	heard := time.Now()
	for {
		// Ask for the free slots, in one request when the previous ones
		// are answered or when half the slots are free, so that a busy
		// queue costs about one request per held/2 messages.
		if held := w.held(); held-len(w.sem) > 0 && (outstanding == 0 || 2*(held-len(w.sem)) >= held) {
			if n := w.reserve(held - len(w.sem)); n > 0 {
				if err := s.opts.Conn.PublishRequest(subject, inbox, request(n)); err != nil {
					w.release(n)
					s.log.Debug("pull request", "consumer", key, "err", err)
				} else {
					if outstanding == 0 {
						heard = time.Now()
					}
					outstanding += n
				}
			}
		}
		select {
		case <-w.done:
			w.release(outstanding)
			return
		case <-w.freed:
			startWaiting()
		case now := <-tick.C:
			if outstanding > 0 && now.Sub(heard) > pullLost {
				s.log.Debug("pull requests unanswered; asking again", "consumer", key, "messages", outstanding)
				w.release(outstanding)
				outstanding = 0
			}
			for i := range waiting {
				if now.Sub(waiting[i].since) >= ackHeartbeat {
					_ = waiting[i].m.InProgress()
					waiting[i].since = now
				}
			}
		case m := <-msgs:
			heard = time.Now()
			if isStatus(m) {
				gone, n := s.pullStatus(m)
				if gone {
					w.release(outstanding)
					go s.dropWorker(key) // stop waits for this loop to return
					return
				}
				n = min(n, outstanding)
				outstanding -= n
				w.release(n)
				continue
			}
			if outstanding == 0 {
				// From a request given up as lost: no slot is reserved for it.
				_ = m.Nak()
				continue
			}
			outstanding--
			waiting = append(waiting, waitingMsg{m: m, since: heard})
			startWaiting()
		}
	}
}

// isStatus tells a server status (408 request expired, 409, 100 idle
// heartbeat, 503 no responders) from a message of the stream.
func isStatus(m *nats.Msg) bool {
	return len(m.Data) == 0 && m.Header.Get("Status") != ""
}

// pullStatus reads a status answering a pull request: whether the consumer
// is gone, and how many of the messages asked for will not come.
func (s *Service) pullStatus(m *nats.Msg) (gone bool, notComing int) {
	status, desc := m.Header.Get("Status"), m.Header.Get("Description")
	switch {
	case status == "503": // no responders: the consumer no longer exists
		return true, 0
	case status == "409" && desc == "Consumer Deleted":
		return true, 0
	case status == "100":
		return false, 0
	}
	n, err := strconv.Atoi(m.Header.Get("Nats-Pending-Messages"))
	if err != nil {
		// A refusal without counts (409 Exceeded MaxWaiting): the slots
		// come back when the request is given up as lost.
		s.log.Debug("pull request refused", "status", status, "description", desc)
		return false, 0
	}
	return false, n
}

// delivery is one message of a consumer, as process settles it.
type delivery interface {
	Data() []byte
	Headers() nats.Header
	// NumDelivered counts this delivery: 1 the first time.
	NumDelivered() uint64
	// Subject and Sequence are the message's place in its stream.
	Subject() string
	Sequence() uint64
	Ack() error
	Nak() error
	NakWithDelay(time.Duration) error
	InProgress() error
	Term() error
}

// natsDelivery is a message pulled into a worker's inbox; its reply subject
// is the JetStream ack subject.
type natsDelivery struct {
	m  *nats.Msg
	md *nats.MsgMetadata // parsed from m's reply subject on first use
	// later, if set, takes the final record and the message's ack off the
	// worker's hands (see ackAfterRecord); deferred says it did.
	later    func(settling)
	deferred bool
}

func (d *natsDelivery) Data() []byte         { return d.m.Data }
func (d *natsDelivery) Headers() nats.Header { return d.m.Header }
func (d *natsDelivery) metadata() *nats.MsgMetadata {
	if d.md == nil {
		md, err := d.m.Metadata()
		if err != nil {
			md = &nats.MsgMetadata{}
		}
		d.md = md
	}
	return d.md
}

func (d *natsDelivery) NumDelivered() uint64                   { return d.metadata().NumDelivered }
func (d *natsDelivery) Subject() string                        { return d.m.Subject }
func (d *natsDelivery) Sequence() uint64                       { return d.metadata().Sequence.Stream }
func (d *natsDelivery) Ack() error                             { return d.m.Ack() }
func (d *natsDelivery) Nak() error                             { return d.m.Nak() }
func (d *natsDelivery) NakWithDelay(delay time.Duration) error { return d.m.NakWithDelay(delay) }
func (d *natsDelivery) InProgress() error                      { return d.m.InProgress() }
func (d *natsDelivery) Term() error                            { return d.m.Term() }

func (d *natsDelivery) ackAfterRecord(subject string, record []byte) bool {
	if d.later == nil {
		return false
	}
	d.deferred = true
	m := d.m
	d.later(settling{ack: func() error { return m.Ack() }, subject: subject, record: record})
	return true
}

// laterAcker is a delivery whose invocation's final record can be stored,
// and then the delivery acked, in the background.
type laterAcker interface {
	// ackAfterRecord takes the message that stores the record (subject,
	// record) and says whether it will see to both.
	ackAfterRecord(subject string, record []byte) bool
}

// settling is a finished invocation: the message that stores its final
// record, and the ack of its delivery.
type settling struct {
	ack     func() error
	subject string
	record  []byte
}

// maxSettleBatch bounds how many finished invocations one acknowledgement
// from the server settles (see settleBatch).
const maxSettleBatch = 64

// settleBatch stores the final records of batch, in order, and then acks
// their deliveries. Records for the done stream (see done.go) are lines of
// one message per subject; the others are KV entries, a message each.
//
// Only the last message to each stream asks the server for an
// acknowledgement: a stream takes the messages of one connection in the
// order they were published, so its acknowledgement of the last says that
// the ones before it were handled too, and neither the records bucket nor
// the done stream has a limit that could refuse one message and store the
// next. That saves the server an answer, and the client a future and the
// decoding of an answer, per invocation.
//
// A record that could not be written is logged and the delivery acked all
// the same, as when it is written synchronously: the invocation ran, and
// running it again would be worse than a missing record.
//
// t is the settling goroutine's one timer, stopped and drained; done is
// its scratch space. Either may be nil.
func (s *Service) settleBatch(batch []settling, t *time.Timer, done *doneBatch) {
	if done == nil {
		done = &doneBatch{}
	}
	done.reset()
	lastKV := -1
	for i, st := range batch {
		if isDoneSubject(st.subject) {
			done.add(st.subject, st.record)
		} else {
			lastKV = i
		}
	}
	var futures []jetstream.PubAckFuture
	publish := func(subject string, data []byte, answer bool) {
		var err error
		if answer {
			var f jetstream.PubAckFuture
			if f, err = s.opts.JS.PublishAsync(subject, data); err == nil {
				futures = append(futures, f)
			}
		} else {
			err = s.opts.JS.Conn().Publish(subject, data) // the connection of the answered publishes
		}
		if err != nil {
			s.log.Warn("record the end of invocations", "subject", subject, "err", err)
		}
	}
	for i, st := range batch {
		if !isDoneSubject(st.subject) {
			publish(st.subject, st.record, i == lastKV)
		}
	}
	for i, m := range done.msgs {
		publish(m.subject, m.data, i == len(done.msgs)-1)
	}
	if len(futures) > 0 {
		if t == nil {
			t = time.NewTimer(ackWait)
			t.Stop()
		}
		t.Reset(ackWait)
	wait:
		for _, f := range futures {
			select {
			case <-f.Ok():
			case err := <-f.Err():
				s.log.Warn("record the end of invocations", "count", len(batch), "last", f.Msg().Subject, "err", err)
			case <-t.C:
				s.log.Warn("record the end of invocations: no acknowledgement", "count", len(batch), "after", ackWait)
				break wait
			}
		}
		t.Stop() // Go 1.23 timers: Stop leaves no stale tick for the next Reset
	}
	for _, st := range batch {
		_ = st.ack()
	}
}
