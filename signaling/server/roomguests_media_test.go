//go:build e2e

package server

import "testing"

// TestRoomLobbyMedia is TestRoomLobby with a tone from everyone: a guest
// who waits in the lobby is not heard (their tone under quietBelow in the
// host's and the member's slots while those hear each other above
// heardAbove), nor one turned away; let in, the guest's tone reaches both
// above heardAbove and theirs the guest.
func TestRoomLobbyMedia(t *testing.T) { lobbyScenario(t, true) }
