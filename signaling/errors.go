package signaling

import (
	"errors"
	"fmt"
)

// Code is an error code from the Gitple voice SDK's error table, which parley
// uses unchanged.
type Code int

// The error table. Every refusal the server or the client makes carries one.
const (
	InvalidParameter         Code = 80101
	NotFoundUserSessionID    Code = 80102
	SameCallerAndDestination Code = 80103
	AlreadyConnectedSession  Code = 80201
	AlreadyBusyCall          Code = 80202
	InvalidToken             Code = 80401
	NoConnectedSession       Code = 80402
	NoConnectedCall          Code = 80403
	NoConnectedDestination   Code = 80404
	NotFoundDevice           Code = 80801
	PermissionDenied         Code = 80802
	UnknownError             Code = 80999
)

var codeNames = map[Code]string{
	InvalidParameter:         "invalid_parameter",
	NotFoundUserSessionID:    "not_found_user_session_id",
	SameCallerAndDestination: "same_caller_and_destination",
	AlreadyConnectedSession:  "already_connected_session",
	AlreadyBusyCall:          "already_busy_call",
	InvalidToken:             "invalid_token",
	NoConnectedSession:       "no_connected_session",
	NoConnectedCall:          "no_connected_call",
	NoConnectedDestination:   "no_connected_destination",
	NotFoundDevice:           "not_found_device",
	PermissionDenied:         "permission_denied",
	UnknownError:             "unknown_error",
}

// Codes lists every code of the table in ascending order.
func Codes() []Code {
	return []Code{
		InvalidParameter, NotFoundUserSessionID, SameCallerAndDestination,
		AlreadyConnectedSession, AlreadyBusyCall, InvalidToken, NoConnectedSession,
		NoConnectedCall, NoConnectedDestination, NotFoundDevice, PermissionDenied,
		UnknownError,
	}
}

// Name is the code's name in the table ("invalid_token"), or "" for a code
// that is not in it.
func (c Code) Name() string { return codeNames[c] }

// Error is a refusal with its code, its name and a message that tells the
// user what to do. It is also the wire form of an error.
type Error struct {
	Code    Code   `json:"code"`
	Name    string `json:"name"`
	Message string `json:"message"`
}

// Errorf makes an Error with the name that belongs to code. A code outside
// the table becomes UnknownError.
func Errorf(code Code, format string, args ...any) *Error {
	if code.Name() == "" {
		code = UnknownError
	}
	return &Error{Code: code, Name: code.Name(), Message: fmt.Sprintf(format, args...)}
}

func (e *Error) Error() string {
	return fmt.Sprintf("%s (%d): %s", e.Name, e.Code, e.Message)
}

// AsError finds the *Error in err's chain. An error that carries none is
// reported as UnknownError with err's text (an *UnreachableError's
// message), so that every failure can be shown with a code.
func AsError(err error) *Error {
	if err == nil {
		return nil
	}
	var e *Error
	if errors.As(err, &e) {
		return e
	}
	var u *UnreachableError
	if errors.As(err, &u) {
		return Errorf(UnknownError, "%s", u.Message())
	}
	return Errorf(UnknownError, "%v; if it persists, run with --log and report the log file", err)
}
