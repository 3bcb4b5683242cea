// SPDX-License-Identifier: Apache-2.0
// load: an open-loop HTTP load generator for the effect benchmark. Requests
// start at Poisson arrival times (a fixed seed, so every run sends the same
// schedule) whether or not earlier ones finished, as independent clients
// do; latency is measured from the scheduled start, so a stalled server
// cannot hide its stall by slowing the client (no coordinated omission).
// Bounded: a fixed duration, at most -max-inflight requests in flight
// (an arrival beyond that is counted as dropped), loopback targets only.
package main

import (
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"math/rand"
	"net/http"
	"net/url"
	"os"
	"sort"
	"strings"
	"sync"
	"time"
)

func main() {
	target := flag.String("url", "http://127.0.0.1:8080/work", "loopback URL to load")
	rate := flag.Float64("rate", 100, "mean arrivals per second")
	dur := flag.Duration("duration", 10*time.Second, "measured time")
	warm := flag.Duration("warmup", 2*time.Second, "unmeasured time before it")
	maxIn := flag.Int("max-inflight", 64, "requests in flight at most")
	seed := flag.Int64("seed", 1, "arrival schedule seed")
	flag.Parse()
	u, err := url.Parse(*target)
	if err != nil || !(strings.HasPrefix(u.Host, "127.") || strings.HasPrefix(u.Host, "localhost")) {
		fmt.Fprintf(os.Stderr, "load: '%s' is not a loopback URL\n", *target)
		os.Exit(2)
	}
	if *rate <= 0 || *rate > 10000 || *dur > 10*time.Minute || *maxIn < 1 || *maxIn > 1024 {
		fmt.Fprintln(os.Stderr, "load: rate 0..10000, duration <= 10m, max-inflight 1..1024")
		os.Exit(2)
	}
	client := &http.Client{
		Timeout:   10 * time.Second,
		Transport: &http.Transport{MaxIdleConnsPerHost: *maxIn, DisableCompression: true},
	}
	rng := rand.New(rand.NewSource(*seed))
	var (
		mu       sync.Mutex
		lat      []float64
		errs     int
		dropped  int
		inflight int
		wg       sync.WaitGroup
	)
	start := time.Now()
	measureFrom := start.Add(*warm)
	end := measureFrom.Add(*dur)
	next := start
	for {
		next = next.Add(time.Duration(rng.ExpFloat64() / *rate * float64(time.Second)))
		if !next.Before(end) {
			break
		}
		time.Sleep(time.Until(next))
		measured := !next.Before(measureFrom)
		mu.Lock()
		if inflight >= *maxIn {
			if measured {
				dropped++
			}
			mu.Unlock()
			continue
		}
		inflight++
		mu.Unlock()
		wg.Add(1)
		go func(sched time.Time, measured bool) {
			defer wg.Done()
			resp, err := client.Get(*target)
			ok := err == nil && resp.StatusCode == 200
			if err == nil {
				io.Copy(io.Discard, resp.Body)
				resp.Body.Close()
			}
			d := time.Since(sched).Seconds() * 1000
			mu.Lock()
			inflight--
			if measured {
				if ok {
					lat = append(lat, d)
				} else {
					errs++
				}
			}
			mu.Unlock()
		}(next, measured)
	}
	wg.Wait()
	sort.Float64s(lat)
	q := func(p float64) float64 {
		if len(lat) == 0 {
			return 0
		}
		i := int(p * float64(len(lat)))
		if i >= len(lat) {
			i = len(lat) - 1
		}
		return lat[i]
	}
	out := map[string]interface{}{
		"rate": *rate, "duration_s": dur.Seconds(), "ok": len(lat), "errors": errs, "dropped": dropped,
		"p50_ms": q(0.50), "p90_ms": q(0.90), "p99_ms": q(0.99), "max_ms": q(1),
	}
	json.NewEncoder(os.Stdout).Encode(out)
}
