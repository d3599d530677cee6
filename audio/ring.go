package audio

// ring is a fixed-capacity FIFO of samples. It is not safe for concurrent
// use; the device types guard it with their mutex.
type ring struct {
	buf []int16
	r   int // index of the oldest sample
	n   int // samples held
}

func newRing(capacity int) ring { return ring{buf: make([]int16, capacity)} }

func (q *ring) len() int   { return q.n }
func (q *ring) space() int { return len(q.buf) - q.n }

// write appends p, overwriting the oldest samples if p does not fit, and
// returns how many old samples were overwritten.
func (q *ring) write(p []int16) (dropped int) {
	if len(p) > len(q.buf) {
		dropped = len(p) - len(q.buf)
		p = p[dropped:]
	}
	if over := len(p) - q.space(); over > 0 {
		q.discard(over)
		dropped += over
	}
	w := (q.r + q.n) % len(q.buf)
	k := copy(q.buf[w:], p)
	copy(q.buf, p[k:])
	q.n += len(p)
	return dropped
}

// push appends one sample, overwriting the oldest if full, and reports
// whether a sample was overwritten.
func (q *ring) push(v int16) (dropped bool) {
	if q.n == len(q.buf) {
		q.discard(1)
		dropped = true
	}
	q.buf[(q.r+q.n)%len(q.buf)] = v
	q.n++
	return dropped
}

// read moves up to len(p) of the oldest samples into p and returns how many.
func (q *ring) read(p []int16) int {
	n := min(len(p), q.n)
	k := copy(p[:n], q.buf[q.r:])
	copy(p[k:n], q.buf)
	q.discard(n)
	return n
}

// pop removes and returns the oldest sample; the ring must not be empty.
func (q *ring) pop() int16 {
	v := q.buf[q.r]
	q.discard(1)
	return v
}

func (q *ring) discard(n int) {
	n = min(n, q.n)
	q.r = (q.r + n) % len(q.buf)
	q.n -= n
}
