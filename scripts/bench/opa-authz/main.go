// A real policy engine as a peer for the Check benchmarks: OPA's Rego engine (github.com/open-policy-agent/opa
// v1.22.4, the Go module) behind a grpc-go ext_authz server typed with the go-control-plane envoy.service.auth.v3
// messages, doing scopegate's cached-path job as a policy (policy.rego beside this file): read the tenant header,
// check that the caller's namespace is bound to the tenant and that a divisionId the caller sent is the tenant's,
// answer OK overwriting Authorization with the tenant's bearer, setting the routing header and divisionId, and
// removing the tenant header — or deny 403.
//
// The OPA-Envoy plugin (github.com/open-policy-agent/opa-envoy-plugin) is what operators would deploy; the Go
// module proxy here answers 403 for it, so this program wires OPA the way the plugin's envoyauth package does —
// not the plugin itself (none of its decision logs, bundles or status plugins). The request becomes the policy
// input as a map of the message's fields under their JSON names (populated fields only), plus parsed_path (the
// path split at "/" after unescaping), parsed_query (name -> [values]) and version; one prepared query,
// data.envoy.authz.result, is evaluated per Check with the input converted to an AST value; the result object's
// allowed, headers, request_headers_to_remove, query_parameters_to_set, http_status and body become the
// CheckResponse.
//
//	opa-authz --policy <file.rego> --data <file.json> [--tcp 127.0.0.1:0] [--uds <path>]
//
// Prints one line `ready tcp=<port>` once every listener is bound; exits on SIGTERM/SIGINT.
package main

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"net"
	"net/url"
	"os"
	"os/signal"
	"strings"
	"syscall"
	"time"

	corev3 "github.com/envoyproxy/go-control-plane/envoy/config/core/v3"
	authv3 "github.com/envoyproxy/go-control-plane/envoy/service/auth/v3"
	typev3 "github.com/envoyproxy/go-control-plane/envoy/type/v3"
	"github.com/open-policy-agent/opa/v1/ast"
	"github.com/open-policy-agent/opa/v1/rego"
	"github.com/open-policy-agent/opa/v1/storage/inmem"
	"google.golang.org/genproto/googleapis/rpc/status"
	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/protobuf/reflect/protoreflect"
	"google.golang.org/protobuf/types/known/wrapperspb"
)

const query = "data.envoy.authz.result"

var version = map[string]any{"encoding": "protojson", "ext_authz": "v3"}

type server struct {
	authv3.UnimplementedAuthorizationServer
	prepared rego.PreparedEvalQuery
}

func (s *server) Check(ctx context.Context, req *authv3.CheckRequest) (*authv3.CheckResponse, error) {
	input, err := inputOf(req)
	if err != nil {
		return denied(400, "the request path or query cannot be parsed"), nil
	}
	value, err := ast.InterfaceToValue(input)
	if err != nil {
		return nil, err
	}
	results, err := s.prepared.Eval(ctx, rego.EvalParsedInput(value))
	if err != nil {
		return nil, err
	}
	if len(results) == 0 || len(results[0].Expressions) == 0 {
		return denied(403, "no decision"), nil
	}
	decision, ok := results[0].Expressions[0].Value.(map[string]any)
	if !ok {
		return nil, errors.New("the decision is not an object")
	}
	return responseOf(decision)
}

// inputOf: the CheckRequest as the policy's input (the fields' JSON names, populated fields only).
func inputOf(req *authv3.CheckRequest) (map[string]any, error) {
	input := messageMap(req.ProtoReflect())
	input["version"] = version
	rawPath, rawQuery, _ := strings.Cut(req.GetAttributes().GetRequest().GetHttp().GetPath(), "?")
	decoded, err := url.PathUnescape(rawPath)
	if err != nil {
		return nil, err
	}
	segments := strings.Split(strings.TrimLeft(decoded, "/"), "/")
	path := make([]any, len(segments))
	for i, s := range segments {
		path[i] = s
	}
	input["parsed_path"] = path
	values, err := url.ParseQuery(rawQuery)
	if err != nil {
		return nil, err
	}
	parsed := make(map[string]any, len(values))
	for k, vs := range values {
		list := make([]any, len(vs))
		for i, v := range vs {
			list[i] = v
		}
		parsed[k] = list
	}
	input["parsed_query"] = parsed
	return input, nil
}

func messageMap(m protoreflect.Message) map[string]any {
	out := make(map[string]any, m.Descriptor().Fields().Len())
	m.Range(func(fd protoreflect.FieldDescriptor, v protoreflect.Value) bool {
		switch {
		case fd.IsMap():
			entries := make(map[string]any, v.Map().Len())
			v.Map().Range(func(k protoreflect.MapKey, mv protoreflect.Value) bool {
				entries[k.String()] = scalarOrMessage(fd.MapValue(), mv)
				return true
			})
			out[fd.JSONName()] = entries
		case fd.IsList():
			list := make([]any, v.List().Len())
			for i := range list {
				list[i] = scalarOrMessage(fd, v.List().Get(i))
			}
			out[fd.JSONName()] = list
		default:
			out[fd.JSONName()] = scalarOrMessage(fd, v)
		}
		return true
	})
	return out
}

func scalarOrMessage(fd protoreflect.FieldDescriptor, v protoreflect.Value) any {
	switch fd.Kind() {
	case protoreflect.MessageKind, protoreflect.GroupKind:
		return messageMap(v.Message())
	case protoreflect.EnumKind:
		return int64(v.Enum())
	case protoreflect.BytesKind:
		return base64.StdEncoding.EncodeToString(v.Bytes())
	default:
		return v.Interface()
	}
}

func responseOf(decision map[string]any) (*authv3.CheckResponse, error) {
	if allowed, _ := decision["allowed"].(bool); !allowed {
		code := 403
		if n, ok := decision["http_status"].(json.Number); ok {
			if i, err := n.Int64(); err == nil {
				code = int(i)
			}
		}
		body, _ := decision["body"].(string)
		return denied(code, body), nil
	}
	ok := &authv3.OkHttpResponse{}
	if headers, isMap := decision["headers"].(map[string]any); isMap {
		for k, v := range headers {
			s, isString := v.(string)
			if !isString {
				return nil, fmt.Errorf("header %q is not a string", k)
			}
			ok.Headers = append(ok.Headers, &corev3.HeaderValueOption{
				Header:       &corev3.HeaderValue{Key: k, Value: s},
				Append:       wrapperspb.Bool(false),
				AppendAction: corev3.HeaderValueOption_OVERWRITE_IF_EXISTS_OR_ADD,
			})
		}
	}
	if remove, isList := decision["request_headers_to_remove"].([]any); isList {
		for _, h := range remove {
			if s, isString := h.(string); isString {
				ok.HeadersToRemove = append(ok.HeadersToRemove, s)
			}
		}
	}
	if params, isMap := decision["query_parameters_to_set"].(map[string]any); isMap {
		for k, v := range params {
			s, isString := v.(string)
			if !isString {
				return nil, fmt.Errorf("query parameter %q is not a string", k)
			}
			ok.QueryParametersToSet = append(ok.QueryParametersToSet, &corev3.QueryParameter{Key: k, Value: s})
		}
	}
	return &authv3.CheckResponse{
		Status:       &status.Status{Code: int32(codes.OK)},
		HttpResponse: &authv3.CheckResponse_OkResponse{OkResponse: ok},
	}, nil
}

func denied(code int, body string) *authv3.CheckResponse {
	return &authv3.CheckResponse{
		Status: &status.Status{Code: int32(codes.PermissionDenied)},
		HttpResponse: &authv3.CheckResponse_DeniedResponse{DeniedResponse: &authv3.DeniedHttpResponse{
			Status: &typev3.HttpStatus{Code: typev3.StatusCode(code)},
			Body:   body,
		}},
	}
}

func fail(what string, err error) {
	fmt.Fprintf(os.Stderr, "opa-authz: %s: %v\n", what, err)
	os.Exit(1)
}

func main() {
	policyFile := flag.String("policy", "", "Rego policy file")
	dataFile := flag.String("data", "", "JSON data document")
	tcp := flag.String("tcp", "", "host:port to listen on")
	uds := flag.String("uds", "", "unix socket path to listen on")
	flag.Parse()
	if *policyFile == "" || *dataFile == "" || (*tcp == "" && *uds == "") {
		fmt.Fprintln(os.Stderr, "usage: opa-authz --policy <file.rego> --data <file.json> [--tcp host:port] [--uds path]")
		os.Exit(2)
	}
	policy, err := os.ReadFile(*policyFile)
	if err != nil {
		fail("read --policy", err)
	}
	rawData, err := os.ReadFile(*dataFile)
	if err != nil {
		fail("read --data", err)
	}
	var data map[string]any
	decoder := json.NewDecoder(strings.NewReader(string(rawData)))
	decoder.UseNumber()
	if err := decoder.Decode(&data); err != nil {
		fail("--data is not a JSON object", err)
	}
	prepared, err := rego.New(
		rego.Query(query),
		rego.Module(*policyFile, string(policy)),
		rego.Store(inmem.NewFromObject(data)),
	).PrepareForEval(context.Background())
	if err != nil {
		fail("prepare "+query, err)
	}

	srv := grpc.NewServer()
	authv3.RegisterAuthorizationServer(srv, &server{prepared: prepared})
	port := 0
	if *tcp != "" {
		l, err := net.Listen("tcp", *tcp)
		if err != nil {
			fail("listen tcp", err)
		}
		port = l.Addr().(*net.TCPAddr).Port
		go func() { _ = srv.Serve(l) }()
	}
	if *uds != "" {
		_ = os.Remove(*uds)
		l, err := net.Listen("unix", *uds)
		if err != nil {
			fail("listen unix", err)
		}
		go func() { _ = srv.Serve(l) }()
	}
	fmt.Printf("ready tcp=%d\n", port)

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
