// A PortAudio stream whose callback moves audio between the device and a
// lock-free single-producer single-consumer ring of mono samples, entirely
// in C: the real-time thread never enters Go. A byte on a pipe wakes the Go
// side when a waiting reader or writer can proceed.

#include <portaudio.h>
#include <stdatomic.h>
#include <stddef.h>
#include <stdint.h>

// PS_LAGS callbacks of timestamps (about 80 ms) give a lag before and after
// an xrun.
#define PS_LAGS 16

typedef struct {
	PaStream *stream;
	int input;     // 1: capture (callback produces), 0: playback (callback consumes)
	int channels;  // device channels; capture averages the first two, playback duplicates
	int wakefd;    // write end of the wake pipe (non-blocking)
	size_t cap;    // ring capacity in samples
	_Atomic size_t low; // playback: wake the writer when at most this much is queued
	int16_t *ring;
	_Atomic size_t wpos, rpos;   // samples ever written and read; wrap harmlessly
	_Atomic size_t want;         // capture: wake the reader when this much is ready (0: no waiter)
	_Atomic int waiting;         // playback: the writer waits for the queue to drain
	_Atomic int started;         // playback: something was written (earlier silence is no underrun)
	_Atomic uint64_t overruns;   // capture samples dropped because the ring was full
	_Atomic uint64_t underruns;  // playback callbacks that found too little audio
	_Atomic uint64_t gaps;       // capture: samples lost (overrun or skipped); playback: silence played for want of audio
	_Atomic uint64_t callbacks;  // callbacks so far: each wakes PortAudio's thread and the sound server client's

	// The stream's timeline against its timestamps (see track in pastream.c),
	// owned by the callback but for the atomics.
	uint64_t frames;             // samples through the callback so far
	double lags[PS_LAGS];        // the latest lags (device time in samples less the timeline), a ring
	int nlags, lagpos;
	int settling;                // an xrun was seen: lags are being collected after it
	double before;               // the lag before it (NAN if unknown)
	_Atomic int64_t shift;       // how much later than counted audio now passes the device, samples
	_Atomic uint64_t xruns;      // xruns PortAudio reported
	int realtime;                // the stream's threads were started with real-time priority
} pstream;

pstream *ps_new(int input, int channels, size_t cap, size_t low, int wakefd);
PaError ps_open(pstream *s, PaDeviceIndex dev, double latency, unsigned long frames);
PaError ps_close(pstream *s);
void ps_free(pstream *s);
size_t ps_take(pstream *s, int16_t *dst, size_t n, size_t backlog);
size_t ps_put(pstream *s, const int16_t *src, size_t n);
int ps_drained(pstream *s);
double ps_latency(pstream *s);
int ps_active(pstream *s);
uint64_t ps_overruns(pstream *s);
uint64_t ps_underruns(pstream *s);
uint64_t ps_gaps(pstream *s);
uint64_t ps_callbacks(pstream *s);
int64_t ps_shift(pstream *s);
uint64_t ps_xruns(pstream *s);
void ps_set_low(pstream *s, size_t low);
int64_t ps_simulate(int input, const double *times, const unsigned long *flags, int n, unsigned long frames);
void ps_quiet_alsa(void);
int ps_skip_converters(void);
// PS_PULSE_PCM is the ALSA PCM through which the sound server's sinks and
// sources are opened (ps_pulse_pcm).
#define PS_PULSE_PCM "parley_pulse"
int ps_pulse_pcm(const char *device);
