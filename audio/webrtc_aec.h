// webrtc_aec is a C face on WebRTC's audio processing (the
// webrtc-audio-processing 0.3 library that PulseAudio's echo-cancel module
// uses): its echo canceller alone, delay-agnostic with the extended filter,
// on 10 ms chunks of mono 16-bit audio.
#ifndef PARLEY_WEBRTC_AEC_H
#define PARLEY_WEBRTC_AEC_H

#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

typedef struct webrtc_aec webrtc_aec;

webrtc_aec *webrtc_aec_new(int rate);
void webrtc_aec_free(webrtc_aec *a);
// webrtc_aec_reset forgets the echo path.
void webrtc_aec_reset(webrtc_aec *a);
// webrtc_aec_run takes the echo of ref out of the n samples of mic, in
// place; n is a multiple of 10 ms. It returns 0, or the library's error.
int webrtc_aec_run(webrtc_aec *a, int16_t *mic, const int16_t *ref, int n);

#ifdef __cplusplus
}
#endif

#endif
