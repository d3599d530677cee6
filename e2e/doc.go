// Package e2e holds parley's end-to-end tests: they build the parley
// command once (TestMain, go build into a temporary directory) and run it
// as users do, with real PulseAudio devices, `parley serve`, tmux,
// Chromium, nats-server, coturn and baresip where a test needs them. They
// take minutes and need those programs (make test-deps installs them):
//
//	go test ./e2e/...
//
// The other packages' tests are the rest:
//
//	go test $(go list ./... | grep -v /e2e)
package e2e
