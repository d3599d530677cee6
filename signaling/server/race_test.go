//go:build e2e && race

package server

const raceEnabled = true
