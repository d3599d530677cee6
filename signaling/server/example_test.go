package server_test

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"os"

	"github.com/parley-voice/parley/signaling/server"
)

// The life cycle as main uses it: Run until the context ends. Ready tells
// when the server accepts connections, Addr where.
func ExampleServer_Run() {
	dir, _ := os.MkdirTemp("", "parley")
	defer os.RemoveAll(dir)
	s, err := server.New(server.Config{Listen: "127.0.0.1:0", DataDir: dir})
	if err != nil {
		fmt.Println(err)
		return
	}
	fmt.Println("generated API key:", s.GeneratedAPIKey())

	ctx, stop := context.WithCancel(context.Background())
	defer stop()
	done := make(chan error)
	go func() { done <- s.Run(ctx) }()
	<-s.Ready()

	resp, err := http.Get("http://" + s.Addr() + "/healthz")
	if err != nil {
		fmt.Println(err)
		return
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	fmt.Print(resp.StatusCode, " ", string(body))

	stop()
	fmt.Println("Run:", <-done)
	// Output:
	// generated API key: true
	// 200 {"status":"ok"}
	// Run: <nil>
}
