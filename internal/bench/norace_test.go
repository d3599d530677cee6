//go:build e2e && !race

package bench

const raceEnabled = false
