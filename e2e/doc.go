// Package e2e holds parley's end-to-end tests: they build the parley
// command once (TestMain, go build into a temporary directory) and run it
// as users do, with real PulseAudio devices, `parley serve`, tmux,
// Chromium, nats-server, coturn and baresip where a test needs them. They
// take minutes and need those programs (make test-deps installs them), so
// they are the e2e tier: every test file here but tier_test.go starts with
// a `//go:build e2e` line, and plain `go test ./...` (the fast tier) leaves
// them out. Run them with
//
//	go test -tags e2e ./e2e/
//
// or the whole e2e tier, these and the tagged tests beside other packages,
// with make test-e2e. TestTiers (tier_test.go) checks that the tag is
// where it must be.
package e2e
