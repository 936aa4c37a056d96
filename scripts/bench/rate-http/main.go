// A constant-rate HTTP load generator for the through-Envoy rows, in the model of wrk2 (github.com/giltene/wrk2):
// each of --connections keep-alive connections sends on its own fixed schedule (one request every
// connections/rate seconds, the connections' schedules offset evenly, so arrivals are spread one every 1/rate
// seconds), and a request's latency is counted from the time it was due, not from when it could be sent: when
// a slow answer holds a connection past its next due time, the wait counts (no coordinated omission). When the
// connection was free, the latency starts at the actual send, so this process's own timer slack is not charged
// to the server.
//
//	rate-http --url http://127.0.0.1:PORT --requests requests.json --rate 1000 --connections 20 --duration 10s
//
// requests.json: [{"path": "/api/v2/...", "headers": {"x-tenant-id": "..."}}, ...], sent round-robin.
// Prints one line: RATEJSON {"requests":N,"errors":N,"duration_us":N,"p50":us,"p99":us,"p999":us,"late":N}
// (late: requests that went out after their due time because the connection was still busy).
package main

import (
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"net/http"
	"os"
	"slices"
	"sync"
	"sync/atomic"
	"time"
)

type spec struct {
	Path    string            `json:"path"`
	Headers map[string]string `json:"headers"`
}

func main() {
	url := flag.String("url", "", "base URL")
	file := flag.String("requests", "", "JSON file of requests")
	rate := flag.Float64("rate", 1000, "requests per second, all connections together")
	conns := flag.Int("connections", 20, "keep-alive connections")
	duration := flag.Duration("duration", 10*time.Second, "how long to send")
	flag.Parse()
	if *url == "" || *file == "" || *rate <= 0 || *conns <= 0 {
		fmt.Fprintln(os.Stderr, "usage: rate-http --url <base> --requests <file.json> [--rate N] [--connections N] [--duration D]")
		os.Exit(2)
	}
	raw, err := os.ReadFile(*file)
	if err != nil {
		fmt.Fprintln(os.Stderr, "rate-http:", err)
		os.Exit(2)
	}
	var specs []spec
	if err := json.Unmarshal(raw, &specs); err != nil || len(specs) == 0 {
		fmt.Fprintln(os.Stderr, "rate-http: --requests must be a non-empty JSON array:", err)
		os.Exit(2)
	}

	interval := time.Duration(float64(*conns) / *rate * float64(time.Second))
	start := time.Now().Add(50 * time.Millisecond)
	end := start.Add(*duration)
	var next atomic.Uint64
	var errors atomic.Int64
	var late atomic.Int64
	lat := make([][]time.Duration, *conns)
	var wg sync.WaitGroup
	for c := 0; c < *conns; c++ {
		wg.Add(1)
		go func(c int) {
			defer wg.Done()
			// One connection per goroutine: its own transport, one idle connection kept.
			client := &http.Client{Transport: &http.Transport{MaxConnsPerHost: 1, MaxIdleConnsPerHost: 1, DisableCompression: true}, Timeout: 5 * time.Second}
			due := start.Add(time.Duration(c) * interval / time.Duration(*conns))
			var prevEnd time.Time
			for due.Before(end) {
				if d := time.Until(due); d > 0 {
					time.Sleep(d)
				}
				from := time.Now()
				if prevEnd.After(due) {
					from = due // the connection was busy when this request was due: the wait is the server's
					late.Add(1)
				}
				s := specs[next.Add(1)%uint64(len(specs))]
				req, _ := http.NewRequest("GET", *url+s.Path, nil)
				for k, v := range s.Headers {
					req.Header.Set(k, v)
				}
				res, err := client.Do(req)
				if err == nil {
					_, _ = io.Copy(io.Discard, res.Body)
					_ = res.Body.Close()
				}
				prevEnd = time.Now()
				if err != nil || res.StatusCode != http.StatusOK {
					errors.Add(1)
				} else {
					lat[c] = append(lat[c], prevEnd.Sub(from))
				}
				due = due.Add(interval)
			}
		}(c)
	}
	wg.Wait()
	elapsed := time.Since(start)
	all := slices.Concat(lat...)
	slices.Sort(all)
	pct := func(p float64) int64 {
		if len(all) == 0 {
			return 0
		}
		rank := int(float64(len(all))*p/100+0.999999) - 1
		return all[max(0, min(len(all)-1, rank))].Microseconds()
	}
	fmt.Printf("RATEJSON {\"requests\":%d,\"errors\":%d,\"duration_us\":%d,\"p50\":%d,\"p99\":%d,\"p999\":%d,\"late\":%d}\n",
		len(all), errors.Load(), elapsed.Microseconds(), pct(50), pct(99), pct(99.9), late.Load())
}
