package call

import (
	"crypto/sha256"
	"encoding/binary"
	"errors"
	"fmt"
	"slices"
	"strings"
)

// Verification: both sides of a call derive the same short code from the
// two DTLS certificate fingerprints of the call (a=fingerprint in the local
// and the remote SDP). Someone in the middle, the signaling server
// included, would have to swap the fingerprints in the SDP to read the
// audio; then each side sees another pair, and the codes differ. Reading
// the code to each other checks that no one does, like Signal's safety
// numbers.

// VerificationCode is the code of a call from the local and the remote
// SDP: twelve digits, shown "123 456 789 012". The order of the two does
// not matter: the fingerprints are sorted before they are hashed
// (SHA-256), and the first 8 bytes of the hash, modulo 10^12, are the
// code. Every certificate is new for each call, so each call has its own
// code.
//
// Twelve digits, not six: the server relays both SDPs, so a server in the
// middle picks the certificate it shows one side after it has seen the
// other side's, and can try certificates until the two codes agree. With
// six digits that takes a million tries, seconds of work while the phone
// rings; with twelve, a million times longer.
func VerificationCode(localSDP, remoteSDP string) (string, error) {
	local, err := Fingerprint(localSDP)
	if err != nil {
		return "", fmt.Errorf("call: verification: local %w", err)
	}
	remote, err := Fingerprint(remoteSDP)
	if err != nil {
		return "", fmt.Errorf("call: verification: remote %w", err)
	}
	fps := []string{local, remote}
	slices.Sort(fps)
	h := sha256.Sum256([]byte("parley verification v1\n" + fps[0] + "\n" + fps[1]))
	n := binary.BigEndian.Uint64(h[:8]) % 1_000_000_000_000
	return fmt.Sprintf("%03d %03d %03d %03d", n/1_000_000_000, n/1_000_000%1000, n/1000%1000, n%1000), nil
}

// Fingerprint returns the DTLS fingerprint of an SDP, "sha-256 AB:CD:…"
// in a canonical form (lower-case hash name, upper-case hex): the session's
// a=fingerprint, or the first media section's.
func Fingerprint(sdp string) (string, error) {
	for _, line := range strings.Split(sdp, "\n") {
		v, ok := strings.CutPrefix(strings.TrimSpace(line), "a=fingerprint:")
		if !ok {
			continue
		}
		hash, value, ok := strings.Cut(strings.TrimSpace(v), " ")
		if !ok || hash == "" || strings.TrimSpace(value) == "" {
			return "", errors.New("SDP has a malformed a=fingerprint")
		}
		return strings.ToLower(hash) + " " + strings.ToUpper(strings.TrimSpace(value)), nil
	}
	return "", errors.New("SDP has no a=fingerprint")
}

// verify reports the verification code of call a once both descriptions
// are known (an answered call), once per call.
func (p *Phone) verify(a *active) {
	if a == nil || a.verified != "" || a.pc == nil {
		return
	}
	local, remote := a.pc.CurrentLocalDescription(), a.pc.CurrentRemoteDescription()
	if local == nil || remote == nil {
		return
	}
	code, err := VerificationCode(local.SDP, remote.SDP)
	if err != nil {
		p.log.Warn("no verification code", "call", a.ev.ID, "err", err)
		return
	}
	a.verified = code
	p.log.Info("verification code", "call", a.ev.ID, "code", code)
	p.emit(Verification{CallID: a.ev.ID, Code: code})
}
