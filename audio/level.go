package audio

import "math"

// LevelFloor is the RMS level, in dBFS, that Level maps to 0.
const LevelFloor = -60.0

// Level returns the RMS level of frame on a 0..1 scale that is linear in
// decibels: 0 at LevelFloor (-60 dBFS) or below, including silence and an
// empty frame, and 1 at 0 dBFS (a full-scale square wave; a full-scale sine
// is -3 dBFS, 0.95). It does not allocate.
func Level(frame []int16) float64 {
	if len(frame) == 0 {
		return 0
	}
	var sum float64
	for _, s := range frame {
		v := float64(s)
		sum += v * v
	}
	if sum == 0 {
		return 0
	}
	rms := math.Sqrt(sum/float64(len(frame))) / 32768
	db := 20 * math.Log10(rms)
	return max(0, min(1, (db-LevelFloor)/-LevelFloor))
}
