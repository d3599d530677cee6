// Package bench is parley's benchmark harness: it measures parley beside
// baresip, the best-known terminal SIP client, on one machine in one run,
// and writes docs/BENCHMARKS.md with a plot of the latency distributions,
// an SVG it draws itself (`make bench`, through cmd/parleybench).
//
// What it measures, and how:
//
//   - Mouth-to-ear latency (RunCall): two client processes in a call over
//     PulseAudio null sinks (a Rig) and the loopback network; irregular
//     chirps (Chirps) played into A's microphone; A's microphone and B's
//     speaker recorded as the two channels of one stereo capture; each
//     chirp's delay found by cross-correlation (Delays). The same rig runs
//     parley (20 ms and 10 ms frames, with and without its microphone
//     processing), baresip (Opus, 20 ms packets, three jitter buffer
//     settings) and parley's audio devices alone (DevLoop).
//   - CPU and peak memory of each client over the same calls, from /proc.
//   - Call setup (MeasureSetup): calls between two phones of the call
//     package in this process against a `parley serve` process.
//   - Server capacity (MeasureCapacity): idle signed-in connections to one
//     `parley serve`, its memory per connection and idle CPU, and call
//     setup under that load.
//   - Several nodes (MeasureCluster): call routing on one node and on
//     three nodes of a nats-server.
//   - Rooms (MeasureRooms): rooms of 5 to 50 participants on a `parley
//     serve` each, the participants Pion peers of the harness in a helper
//     process (RunRoomPeers), three of them speaking tones as pre-encoded
//     Opus with their RFC 6464 level: the server's CPU and memory by size,
//     join to first audio, and which tones each participant's slots
//     carried. Mouth-to-ear in a room is a latency set-up of its own
//     ("parley, in a room": two `parley join` on the rig, two harness
//     speakers beside them).
//   - Go micro-benchmarks of the media path (RunMicro), and the media
//     path's allocations per frame.
//
// It drives PulseAudio through internal/pulsetest, runs nats-server through
// internal/natstest and takes its FFT from internal/audiotest, calling the
// functions there that return errors; the tests call the same through
// their testing.TB wrappers.
//
// The package's tests run every measurement briefly, asserting only that
// it produces sane figures.
package bench
