// The Go upstream of the differential suite (tests/tests/differential.rs): reads a request the
// way Go HTTP services do (net/http, net/url, encoding/json into structs, as OpenAI-compatible
// and MCP servers written in Go do) and answers 200 with JSON of what it read.
//
//	go run . [PORT]     # prints "listening on 127.0.0.1:PORT" once ready (0: a free port)
//	go run . fold-pairs  # prints "<hex rune> <hex rune>" for every pair that encoding/json's
//	                     # key matching treats as equal (unicode.SimpleFold steps), then exits
//
// Standard library only. Not a ServeMux: ServeMux would redirect unclean paths; a real service
// behind a router that cleans paths sees path.Clean(r.URL.Path), reported as clean_path.
package main

import (
	"bufio"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"os"
	"path"
	"reflect"
	"sort"
	"unicode"
	"strings"
)

// What an OpenAI-compatible chat server decodes.
type chat struct {
	Model string `json:"model"`
}

// What an MCP (JSON-RPC 2.0) server decodes.
type rpc struct {
	Method string `json:"method"`
	Params struct {
		Name string `json:"name"`
	} `json:"params"`
}

type header struct {
	Get    string   `json:"get"`
	Values []string `json:"values"`
}

type reading struct {
	Upstream    string              `json:"upstream"`
	Method      string              `json:"method"`
	Host        string              `json:"host"`
	RequestURI  string              `json:"request_uri"`
	Path        string              `json:"path"`
	RawPath     string              `json:"raw_path"`
	EscapedPath string              `json:"escaped_path"`
	CleanPath   string              `json:"clean_path"`
	Query       map[string][]string `json:"query"`
	QueryError  string              `json:"query_error,omitempty"`
	// Every header whose canonical name starts with X-Gatehouse- (Go canonicalises names:
	// "x-gatehouse-subject" and "X-GATEHOUSE-SUBJECT" are one key; "x_gatehouse_subject" is not).
	Gatehouse map[string][]string `json:"gatehouse_headers"`
	Subject   header              `json:"subject"`
	Tenant    header              `json:"tenant"`
	Route     header              `json:"route"`
	// Headers a route template may read, as http.Header.Get and Values read them.
	Headers     map[string]header `json:"headers"`
	ContentType []string          `json:"content_type"`
	BodyBytes   int               `json:"body_bytes"`
	Model       *string           `json:"model"`
	ChatError   string            `json:"chat_error,omitempty"`
	RPCMethod   *string           `json:"rpc_method"`
	ParamsName  *string           `json:"params_name"`
	RPCError    string            `json:"rpc_error,omitempty"`
}

func handle(w http.ResponseWriter, r *http.Request) {
	body, _ := io.ReadAll(r.Body)
	out := reading{
		Upstream:    "go",
		Method:      r.Method,
		Host:        r.Host,
		RequestURI:  r.RequestURI,
		Path:        r.URL.Path,
		RawPath:     r.URL.RawPath,
		EscapedPath: r.URL.EscapedPath(),
		CleanPath:   path.Clean(r.URL.Path),
		Gatehouse:   map[string][]string{},
		Headers:     map[string]header{},
		ContentType: r.Header.Values("Content-Type"),
		BodyBytes:   len(body),
	}
	query, err := url.ParseQuery(r.URL.RawQuery)
	out.Query = query
	if err != nil {
		out.QueryError = err.Error()
	}
	for name, values := range r.Header {
		if strings.HasPrefix(name, "X-Gatehouse-") {
			out.Gatehouse[name] = values
		}
	}
	get := func(name string) header {
		return header{Get: r.Header.Get(name), Values: r.Header.Values(name)}
	}
	out.Subject = get("X-Gatehouse-Subject")
	out.Tenant = get("X-Gatehouse-Tenant")
	out.Route = get("X-Gatehouse-Route")
	names := []string{"Authorization", "Cookie", "X-Prompt", "X-Http-Method-Override",
		"X-Http-Method", "X-Method-Override", "X-Original-Url", "X-Rewrite-Url",
		// The virtual host Envoy routed to (generated with --vhost-per-tenant).
		"X-Envoy-Vhost"}
	sort.Strings(names)
	for _, name := range names {
		if values := r.Header.Values(name); len(values) > 0 {
			out.Headers[name] = get(name)
		}
	}
	if len(body) > 0 {
		var c chat
		if err := json.Unmarshal(body, &c); err != nil {
			out.ChatError = err.Error()
		} else {
			out.Model = &c.Model
		}
		var m rpc
		if err := json.Unmarshal(body, &m); err != nil {
			out.RPCError = err.Error()
		} else {
			out.RPCMethod = &m.Method
			out.ParamsName = &m.Params.Name
		}
	}
	payload, _ := json.Marshal(out)
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("X-Differential-Upstream", "go")
	w.WriteHeader(http.StatusOK)
	_, _ = w.Write(payload)
}

func main() {
	if len(os.Args) > 1 && os.Args[1] == "fold-pairs" {
		foldPairs()
		return
	}
	port := "0"
	if len(os.Args) > 1 {
		port = os.Args[1]
	}
	listener, err := net.Listen("tcp", "127.0.0.1:"+port)
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	fmt.Printf("listening on %s\n", listener.Addr())
	server := &http.Server{Handler: http.HandlerFunc(handle)}
	if err := server.Serve(listener); err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
}

// foldPairs prints each rune with the next rune of its simple case folding orbit: the relation
// bytes.EqualFold (and encoding/json's field matching) walks. Each pair is also checked against
// encoding/json itself, so the list is what Go's decoder does, not only what its tables say.
func foldPairs() {
	out := bufio.NewWriter(os.Stdout)
	defer out.Flush()
	for r := rune(0); r <= unicode.MaxRune; r++ {
		f := unicode.SimpleFold(r)
		if f == r {
			continue
		}
		// {"<r>x": "v"} decoded into a struct whose field is tagged "<f>x".
		field := reflect.StructField{Name: "F", Type: reflect.TypeOf(""), Tag: reflect.StructTag(`json:"` + string(f) + `x"`)}
		value := reflect.New(reflect.StructOf([]reflect.StructField{field}))
		doc, _ := json.Marshal(map[string]string{string(r) + "x": "v"})
		matched := json.Unmarshal(doc, value.Interface()) == nil && value.Elem().Field(0).String() == "v"
		if !matched {
			// Not a valid tag name (encoding/json takes only letters, digits and some
			// punctuation in tags), so the pair cannot be tried this way.
			continue
		}
		fmt.Fprintf(out, "%x %x\n", r, f)
	}
}
