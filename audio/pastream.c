#include "pastream.h"

#include <alsa/asoundlib.h>
#include <math.h>
#include <pthread.h>
#include <sched.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <unistd.h>

static void wake(pstream *s) {
	char b = 1;
	ssize_t r = write(s->wakefd, &b, 1); // non-blocking; a full pipe already wakes
	(void)r;
}

static double median_lag(pstream *s) {
	double v[PS_LAGS];
	int n = s->nlags;
	for (int i = 0; i < n; i++) {
		double x = s->lags[i];
		int j = i;
		for (; j > 0 && v[j - 1] > x; j--) {
			v[j] = v[j - 1];
		}
		v[j] = x;
	}
	return v[n / 2];
}

// track follows the stream's timeline against its timestamps. Each
// callback's device time (when its first sample reaches the converter, or
// left it), in samples, less the samples the callback has moved so far, is
// the lag: steady while the stream runs, whatever jitter the sound server's
// latency reports add. An xrun below PortAudio (with PulseAudio, the server
// ran dry and the stream was started again) moves it: audio now reaches the
// device later or sooner than the count says. The move is measured as the
// median lag over PS_LAGS callbacks after the xrun less the median before,
// and added to shift. (The lag also drifts slowly, by the sound server's
// latency estimate; only xruns are taken to move the audio.)
static void track(pstream *s, double at, int xrun) {
	if (xrun) {
		atomic_fetch_add(&s->xruns, 1);
		if (!s->settling) {
			s->before = s->nlags >= PS_LAGS / 2 ? median_lag(s) : NAN;
			s->settling = 1;
		}
		s->nlags = s->lagpos = 0;
		return; // this callback's own timestamp may still be off
	}
	if (!(at > 0)) {
		return; // no timestamps from this host
	}
	s->lags[s->lagpos] = at * 48000.0 - (double)s->frames;
	s->lagpos = (s->lagpos + 1) % PS_LAGS;
	if (s->nlags < PS_LAGS) {
		s->nlags++;
	}
	if (s->settling && s->nlags == PS_LAGS) {
		if (!isnan(s->before)) {
			atomic_fetch_add(&s->shift, (int64_t)llround(median_lag(s) - s->before));
		}
		s->settling = 0;
	}
}

static int callback(const void *in, void *out, unsigned long frames,
		const PaStreamCallbackTimeInfo *ti, PaStreamCallbackFlags flags, void *user) {
	pstream *s = user;
	atomic_fetch_add(&s->callbacks, 1);
	if (s->input) {
		track(s, ti->inputBufferAdcTime, (flags & (paInputOverflow | paInputUnderflow)) != 0);
	} else {
		track(s, ti->outputBufferDacTime, (flags & (paOutputUnderflow | paOutputOverflow)) != 0);
	}
	s->frames += frames;
	size_t w = atomic_load(&s->wpos), r = atomic_load(&s->rpos);
	if (s->input) {
		const int16_t *x = in;
		size_t space = s->cap - (w - r);
		for (unsigned long i = 0; i < frames; i++) {
			int16_t v = x[i * s->channels];
			if (s->channels > 1) {
				v = (int16_t)(((int32_t)x[i * s->channels] + x[i * s->channels + 1]) / 2);
			}
			if (space == 0) {
				atomic_fetch_add(&s->overruns, 1);
				atomic_fetch_add(&s->gaps, 1);
				continue;
			}
			s->ring[w % s->cap] = v;
			w++;
			space--;
		}
		atomic_store(&s->wpos, w);
		size_t want = atomic_load(&s->want);
		if (want && w - atomic_load(&s->rpos) >= want && atomic_exchange(&s->want, 0)) {
			wake(s);
		}
	} else {
		int16_t *y = out;
		size_t n = w - r;
		if (n > frames) {
			n = frames;
		}
		for (size_t i = 0; i < n; i++) {
			int16_t v = s->ring[(r + i) % s->cap];
			for (int c = 0; c < s->channels; c++) {
				y[i * s->channels + c] = v;
			}
		}
		memset(y + n * s->channels, 0, (frames - n) * s->channels * sizeof(int16_t));
		if (n < frames && atomic_load(&s->started)) {
			atomic_fetch_add(&s->underruns, 1);
			atomic_fetch_add(&s->gaps, frames - n);
		}
		r += n;
		atomic_store(&s->rpos, r);
		if (atomic_load(&s->waiting) && atomic_load(&s->wpos) - r <= atomic_load(&s->low) && atomic_exchange(&s->waiting, 0)) {
			wake(s);
		}
	}
	return paContinue;
}

pstream *ps_new(int input, int channels, size_t cap, size_t low, int wakefd) {
	pstream *s = calloc(1, sizeof *s);
	if (!s) {
		return NULL;
	}
	s->ring = calloc(cap, sizeof(int16_t));
	if (!s->ring) {
		free(s);
		return NULL;
	}
	s->input = input;
	s->channels = channels;
	s->cap = cap;
	atomic_store(&s->low, low);
	s->wakefd = wakefd;
	return s;
}

// Real-time priority for the threads that move audio (SCHED_FIFO), below
// PulseAudio's own (5) and far below JACK's.
#define PS_RT_PRIORITY 4

// realtime_on raises the calling thread to real-time priority, so that the
// threads it creates inherit it, and reports whether it could, with how to
// undo it.
static int realtime_on(int *policy, struct sched_param *old) {
	if (getenv("PARLEY_NO_REALTIME")) {
		return 0;
	}
	if (pthread_getschedparam(pthread_self(), policy, old) != 0) {
		return 0;
	}
	int prio = PS_RT_PRIORITY;
	struct rlimit rl;
	if (geteuid() != 0 && getrlimit(RLIMIT_RTPRIO, &rl) == 0 && rl.rlim_cur != RLIM_INFINITY && (int)rl.rlim_cur < prio) {
		prio = (int)rl.rlim_cur; // what the user may have (0: none, unless privileged)
	}
	if (prio <= 0) {
		return 0;
	}
	struct sched_param rt = { .sched_priority = prio };
	return pthread_setschedparam(pthread_self(), SCHED_FIFO, &rt) == 0;
}

// ps_open opens and starts the stream. The threads that move its audio, the
// host API's (PortAudio's callback thread, and the PulseAudio client's
// main loop under ALSA's pulse plugin), are created here, by the calling
// thread; they get real-time priority by inheriting it from this thread for
// the moment, when the process may have it (root, CAP_SYS_NICE or an
// RLIMIT_RTPRIO). At normal priority a loaded machine delays them by tens
// or hundreds of milliseconds, longer than the device buffers last: the
// sound server runs dry, the stream restarts, and the audio moves.
static PaError open_stream(pstream *s, PaDeviceIndex dev, double latency, unsigned long frames);

PaError ps_open(pstream *s, PaDeviceIndex dev, double latency, unsigned long frames) {
	int policy;
	struct sched_param old;
	s->realtime = realtime_on(&policy, &old);
	PaError err = open_stream(s, dev, latency, frames);
	if (s->realtime) {
		pthread_setschedparam(pthread_self(), policy, &old);
	}
	return err;
}

static PaError open_stream(pstream *s, PaDeviceIndex dev, double latency, unsigned long frames) {
	PaStreamParameters p = {
		.device = dev,
		.channelCount = s->channels,
		.sampleFormat = paInt16,
		.suggestedLatency = latency,
	};
	PaError err = Pa_OpenStream(&s->stream, s->input ? &p : NULL, s->input ? NULL : &p,
		48000, frames, paNoFlag, callback, s);
	if (err != paNoError) {
		s->stream = NULL;
		return err;
	}
	err = Pa_StartStream(s->stream);
	if (err != paNoError) {
		Pa_CloseStream(s->stream);
		s->stream = NULL;
	}
	return err;
}

// ps_close stops the stream at once; the callback has returned for good
// when it returns.
PaError ps_close(pstream *s) {
	if (!s->stream) {
		return paNoError;
	}
	PaError err = Pa_AbortStream(s->stream);
	PaError err2 = Pa_CloseStream(s->stream);
	s->stream = NULL;
	return err != paNoError ? err : err2;
}

void ps_free(pstream *s) {
	free(s->ring);
	free(s);
}

// ps_take moves n captured samples to dst if that many are ready and
// returns n; otherwise it registers the reader as waiting for n and returns
// 0. If more than backlog samples are queued, the oldest are skipped first,
// so a reader that fell behind gets fresh audio.
size_t ps_take(pstream *s, int16_t *dst, size_t n, size_t backlog) {
	size_t w = atomic_load(&s->wpos), r = atomic_load(&s->rpos);
	if (w - r > backlog && backlog >= n) {
		atomic_fetch_add(&s->gaps, w - n - r);
		r = w - n;
	}
	if (w - r < n) {
		atomic_store(&s->rpos, r);
		atomic_store(&s->want, n);
		// The callback may have added enough in between.
		if (atomic_load(&s->wpos) - r < n) {
			return 0;
		}
		atomic_store(&s->want, 0);
	}
	for (size_t i = 0; i < n; i++) {
		dst[i] = s->ring[(r + i) % s->cap];
	}
	atomic_store(&s->rpos, r + n);
	return n;
}

// ps_put queues as much of src as fits and returns how much.
size_t ps_put(pstream *s, const int16_t *src, size_t n) {
	size_t w = atomic_load(&s->wpos), r = atomic_load(&s->rpos);
	size_t space = s->cap - (w - r);
	if (n > space) {
		n = space;
	}
	for (size_t i = 0; i < n; i++) {
		s->ring[(w + i) % s->cap] = src[i];
	}
	atomic_store(&s->wpos, w + n);
	atomic_store(&s->started, 1);
	return n;
}

// ps_drained reports whether at most low samples are queued; if not, it
// registers the writer as waiting to be woken when that is so.
int ps_drained(pstream *s) {
	if (atomic_load(&s->wpos) - atomic_load(&s->rpos) <= atomic_load(&s->low)) {
		return 1;
	}
	atomic_store(&s->waiting, 1);
	if (atomic_load(&s->wpos) - atomic_load(&s->rpos) <= atomic_load(&s->low)) {
		atomic_store(&s->waiting, 0);
		return 1;
	}
	return 0;
}

double ps_latency(pstream *s) {
	const PaStreamInfo *i = s->stream ? Pa_GetStreamInfo(s->stream) : NULL;
	if (!i) {
		return 0;
	}
	return s->input ? i->inputLatency : i->outputLatency;
}

// ps_active reports whether the stream runs: its callback has not
// stopped for good (the host gave up on the device).
int ps_active(pstream *s) { return s->stream && Pa_IsStreamActive(s->stream) == 1; }

uint64_t ps_overruns(pstream *s) { return atomic_load(&s->overruns); }
uint64_t ps_underruns(pstream *s) { return atomic_load(&s->underruns); }
uint64_t ps_gaps(pstream *s) { return atomic_load(&s->gaps); }
uint64_t ps_callbacks(pstream *s) { return atomic_load(&s->callbacks); }
int64_t ps_shift(pstream *s) { return atomic_load(&s->shift); }
uint64_t ps_xruns(pstream *s) { return atomic_load(&s->xruns); }

void ps_set_low(pstream *s, size_t low) { atomic_store(&s->low, low); }

// ps_simulate runs the callback of a stream that is not open n times, each
// with frames samples, the device time times[i] and the status flags[i],
// and returns the shift it measured: for tests.
int64_t ps_simulate(int input, const double *times, const unsigned long *flags, int n, unsigned long frames) {
	int fds[2];
	if (pipe(fds) != 0) {
		return INT64_MIN;
	}
	pstream *s = ps_new(input, 1, 4 * frames, 0, fds[1]);
	int16_t *buf = calloc(frames, sizeof(int16_t));
	int64_t shift = INT64_MIN;
	if (s && buf) {
		for (int i = 0; i < n; i++) {
			PaStreamCallbackTimeInfo ti = {0};
			if (input) {
				ti.inputBufferAdcTime = times[i];
			} else {
				ti.outputBufferDacTime = times[i];
			}
			callback(input ? buf : NULL, input ? NULL : buf, frames, &ti, flags[i], s);
			if (input) {
				atomic_store(&s->rpos, atomic_load(&s->wpos)); // a reader keeps up
			}
		}
		shift = atomic_load(&s->shift);
	}
	free(buf);
	if (s) {
		ps_free(s);
	}
	close(fds[0]);
	close(fds[1]);
	return shift;
}

static void no_alsa_errors(const char *file, int line, const char *function, int err, const char *fmt, ...) {
	(void)file; (void)line; (void)function; (void)err; (void)fmt;
}

// ps_quiet_alsa keeps ALSA from printing its errors (an underrun while a
// stream plays, say) on stderr, where they would tear the terminal UI.
void ps_quiet_alsa(void) { snd_lib_error_set_handler(no_alsa_errors); }

// ps_skip_converters removes, from this process's copy of ALSA's
// configuration, the PCMs that only convert audio for another device: AC-3
// encoding (a52), sample rate conversion (rate: lavrate, samplerate,
// speexrate), speex's preprocessing, up- and downmixing. They are no sound
// devices anyone picks, but PortAudio opens every PCM the configuration
// defines while it lists devices, and opening a52 or lavrate loads
// libavcodec and the dozens of codec libraries it links: 14 MB of the
// process's memory, kept until it exits. The files on disk and other
// programs are untouched. Returns how many it removed, or ALSA's error.
int ps_skip_converters(void) {
	static const char *types[] = {"a52", "rate", "speex", "upmix", "vdownmix", NULL};
	snd_config_t *pcms;
	int err = snd_config_update();
	if (err < 0) {
		return err;
	}
	if (snd_config == NULL || snd_config_search(snd_config, "pcm", &pcms) < 0) {
		return 0;
	}
	int removed = 0;
	snd_config_iterator_t i, next;
	snd_config_for_each(i, next, pcms) {
		snd_config_t *n = snd_config_iterator_entry(i), *tp;
		const char *type;
		if (snd_config_search(n, "type", &tp) < 0 || snd_config_get_string(tp, &type) < 0) {
			continue;
		}
		for (int t = 0; types[t]; t++) {
			if (strcmp(type, types[t]) == 0) {
				if (snd_config_delete(n) == 0) {
					removed++;
				}
				break;
			}
		}
	}
	return removed;
}

// ps_pulse_pcm points the PCM PS_PULSE_PCM of this process's copy of
// ALSA's configuration at the sound server's sink or source device (""
// for its default), adding the PCM if it is not there yet: ALSA's
// PulseAudio plugin connects a stream to the sink or source its device
// setting names, which is how a sink or source of the sound server is
// opened through PortAudio (PortAudio opens a PCM by its name, and ALSA
// reads the PCM's settings from this copy as it opens it). Only when the
// plugin's own PCM, pulse, is defined (the plugin is installed). Returns
// 1 if the PCM is there, 0 if the plugin is not, or ALSA's error.
int ps_pulse_pcm(const char *device) {
	snd_config_t *pcms, *pcm, *n;
	int err = snd_config_update();
	if (err < 0) {
		return err;
	}
	if (snd_config == NULL || snd_config_search(snd_config, "pcm", &pcms) < 0 ||
	    snd_config_search(pcms, "pulse", &n) < 0) {
		return 0;
	}
	if (snd_config_search(pcms, PS_PULSE_PCM, &pcm) == 0) {
		if ((err = snd_config_search(pcm, "device", &n)) < 0) {
			return err;
		}
		return (err = snd_config_set_string(n, device)) < 0 ? err : 1;
	}
	if ((err = snd_config_make_compound(&pcm, PS_PULSE_PCM, 0)) < 0) {
		return err;
	}
	if ((err = snd_config_imake_string(&n, "type", "pulse")) < 0 || (err = snd_config_add(pcm, n)) < 0 ||
	    (err = snd_config_imake_string(&n, "device", device)) < 0 || (err = snd_config_add(pcm, n)) < 0 ||
	    (err = snd_config_add(pcms, pcm)) < 0) {
		snd_config_delete(pcm);
		return err;
	}
	return 1;
}
