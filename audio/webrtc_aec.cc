// The C++ side of webrtc_aec.h.

#include <string.h>

#include <new>

#include <webrtc/modules/audio_processing/include/audio_processing.h>
#include <webrtc/modules/interface/module_common_types.h>

#include "webrtc_aec.h"

struct webrtc_aec {
	webrtc::AudioProcessing *apm;
	webrtc::AudioFrame far, near;
	int rate, chunk;
};

// configure turns the echo canceller on, and nothing else: noise and gain
// are the preprocessor's, whichever canceller runs.
static int configure(webrtc::AudioProcessing *apm, int rate) {
	// The reverse stream must come at the rate the processing was set up
	// for: set it up for ours before the first reference arrives.
	const webrtc::AudioProcessing::ChannelLayout mono = webrtc::AudioProcessing::kMono;
	if (apm->Initialize(rate, rate, rate, mono, mono, mono) != 0) return -1;
	webrtc::EchoCancellation *ec = apm->echo_cancellation();
	if (ec->enable_drift_compensation(false) != 0) return -1;
	if (ec->set_suppression_level(webrtc::EchoCancellation::kHighSuppression) != 0) return -1;
	if (ec->Enable(true) != 0) return -1;
	apm->high_pass_filter()->Enable(false);
	apm->noise_suppression()->Enable(false);
	apm->gain_control()->Enable(false);
	apm->voice_detection()->Enable(false);
	return 0;
}

extern "C" webrtc_aec *webrtc_aec_new(int rate) {
	webrtc::Config cfg;
	cfg.Set<webrtc::DelayAgnostic>(new webrtc::DelayAgnostic(true));
	cfg.Set<webrtc::ExtendedFilter>(new webrtc::ExtendedFilter(true));
	cfg.Set<webrtc::ExperimentalAgc>(new webrtc::ExperimentalAgc(false));
	webrtc::AudioProcessing *apm = webrtc::AudioProcessing::Create(cfg);
	if (!apm) return NULL;
	if (configure(apm, rate) != 0) {
		delete apm;
		return NULL;
	}
	webrtc_aec *a = new (std::nothrow) webrtc_aec;
	if (!a) {
		delete apm;
		return NULL;
	}
	a->apm = apm;
	a->rate = rate;
	a->chunk = rate / 100;
	a->far.sample_rate_hz_ = a->near.sample_rate_hz_ = rate;
	a->far.num_channels_ = a->near.num_channels_ = 1;
	return a;
}

extern "C" void webrtc_aec_free(webrtc_aec *a) {
	delete a->apm;
	delete a;
}

extern "C" void webrtc_aec_reset(webrtc_aec *a) { a->apm->Initialize(); }

extern "C" int webrtc_aec_run(webrtc_aec *a, int16_t *mic, const int16_t *ref, int n) {
	for (int at = 0; at + a->chunk <= n; at += a->chunk) {
		memcpy(a->far.data_, ref + at, a->chunk * sizeof(int16_t));
		a->far.samples_per_channel_ = a->chunk;
		if (int err = a->apm->ProcessReverseStream(&a->far)) return err;
		memcpy(a->near.data_, mic + at, a->chunk * sizeof(int16_t));
		a->near.samples_per_channel_ = a->chunk;
		// The reference is aligned with the microphone already; the
		// canceller finds what is left of the delay itself.
		a->apm->set_stream_delay_ms(0);
		if (int err = a->apm->ProcessStream(&a->near)) return err;
		memcpy(mic + at, a->near.data_, a->chunk * sizeof(int16_t));
	}
	return 0;
}
