// The native transport floor for the Check benchmarks: a grpc-go server, typed with the go-control-plane
// envoy.service.auth.v3 messages, that answers every Authorization/Check with one fixed CheckResponse, the same
// bytes scripts/bench/trivial-server.ts (grpc-js) answers.
//
//	native-authz --response <base64 CheckResponse> [--tcp 127.0.0.1:0] [--uds <path>]
//
// Prints one line `ready tcp=<port> same-bytes=<true|false>` once every listener is bound (same-bytes: whether
// grpc-go re-encodes the parsed response to exactly the given bytes); exits on SIGTERM/SIGINT.
// Unlike the grpc-js trivial server it decodes each request (grpc-go's proto codec), as any Go ext_authz does.
package main

import (
	"bytes"
	"context"
	"encoding/base64"
	"flag"
	"fmt"
	"net"
	"os"
	"os/signal"
	"syscall"
	"time"

	authv3 "github.com/envoyproxy/go-control-plane/envoy/service/auth/v3"
	"google.golang.org/grpc"
	"google.golang.org/protobuf/proto"
)

type server struct {
	authv3.UnimplementedAuthorizationServer
	response *authv3.CheckResponse
}

func (s *server) Check(context.Context, *authv3.CheckRequest) (*authv3.CheckResponse, error) {
	return s.response, nil
}

func main() {
	responseB64 := flag.String("response", "", "base64 CheckResponse")
	tcp := flag.String("tcp", "", "host:port to listen on")
	uds := flag.String("uds", "", "unix socket path to listen on")
	flag.Parse()
	if *responseB64 == "" || (*tcp == "" && *uds == "") {
		fmt.Fprintln(os.Stderr, "usage: native-authz --response <base64> [--tcp host:port] [--uds path]")
		os.Exit(2)
	}
	raw, err := base64.StdEncoding.DecodeString(*responseB64)
	if err != nil {
		fmt.Fprintln(os.Stderr, "native-authz: --response is not base64:", err)
		os.Exit(2)
	}
	response := &authv3.CheckResponse{}
	if err := proto.Unmarshal(raw, response); err != nil {
		fmt.Fprintln(os.Stderr, "native-authz: --response is not a CheckResponse:", err)
		os.Exit(2)
	}
	again, err := proto.MarshalOptions{Deterministic: true}.Marshal(response)
	sameBytes := err == nil && bytes.Equal(again, raw)

	srv := grpc.NewServer()
	authv3.RegisterAuthorizationServer(srv, &server{response: response})

	port := 0
	if *tcp != "" {
		l, err := net.Listen("tcp", *tcp)
		if err != nil {
			fmt.Fprintln(os.Stderr, "native-authz: listen tcp:", err)
			os.Exit(1)
		}
		port = l.Addr().(*net.TCPAddr).Port
		go func() { _ = srv.Serve(l) }()
	}
	if *uds != "" {
		_ = os.Remove(*uds)
		l, err := net.Listen("unix", *uds)
		if err != nil {
			fmt.Fprintln(os.Stderr, "native-authz: listen unix:", err)
			os.Exit(1)
		}
		go func() { _ = srv.Serve(l) }()
	}
	fmt.Printf("ready tcp=%d same-bytes=%t\n", port, sameBytes)

	stop := make(chan os.Signal, 1)
	signal.Notify(stop, syscall.SIGTERM, syscall.SIGINT)
	<-stop
	done := make(chan struct{})
	go func() { srv.GracefulStop(); close(done) }()
	select {
	case <-done:
	case <-time.After(2 * time.Second):
		srv.Stop()
	}
}
