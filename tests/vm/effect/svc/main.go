// SPDX-License-Identifier: Apache-2.0
// svc: a small HTTP service for the admission-tuning effect benchmark.
// Each request allocates a buffer (garbage for the GC) and hashes it a fixed
// number of times (CPU work), like a handler that decodes, computes and
// encodes. Built static (CGO_ENABLED=0) with Debian's Go 1.19, which sizes
// GOMAXPROCS from the CPUs it sees, not from the cgroup's cpu.max.
package main

import (
	"crypto/sha256"
	"encoding/hex"
	"flag"
	"fmt"
	"net"
	"net/http"
	"os"
	"runtime"
	"runtime/debug"
	"sort"
	"time"
)

var (
	addr   = flag.String("addr", "127.0.0.1:8080", "listen address (loopback only)")
	rounds = flag.Int("rounds", 200, "SHA-256 rounds over the buffer per request")
	allocK = flag.Int("alloc-kib", 64, "KiB allocated per request")
	calib  = flag.Int("calibrate", 0, "run the handler's work N times on one thread, print the median ns, exit")
)

func work() [32]byte {
	buf := make([]byte, *allocK*1024)
	for i := 0; i < len(buf); i += 512 {
		buf[i] = byte(i)
	}
	sum := sha256.Sum256(buf[:4096])
	for i := 1; i < *rounds; i++ {
		copy(buf[:32], sum[:])
		sum = sha256.Sum256(buf[:4096])
	}
	return sum
}

func main() {
	flag.Parse()
	if *calib > 0 {
		runtime.GOMAXPROCS(1)
		d := make([]int64, *calib)
		for i := range d {
			t := time.Now()
			work()
			d[i] = int64(time.Since(t))
		}
		sort.Slice(d, func(a, b int) bool { return d[a] < d[b] })
		fmt.Println(d[len(d)/2])
		return
	}
	host, _, err := net.SplitHostPort(*addr)
	if err != nil || !net.ParseIP(host).IsLoopback() {
		fmt.Fprintf(os.Stderr, "svc: '%s' is not a loopback address\n", *addr)
		os.Exit(2)
	}
	http.HandleFunc("/work", func(w http.ResponseWriter, r *http.Request) {
		sum := work()
		w.Header().Set("Content-Type", "text/plain")
		fmt.Fprintln(w, hex.EncodeToString(sum[:]))
	})
	http.HandleFunc("/stats", func(w http.ResponseWriter, r *http.Request) {
		var m runtime.MemStats
		runtime.ReadMemStats(&m)
		fmt.Fprintf(w, "{\"gomaxprocs\":%d,\"num_gc\":%d,\"gc_cpu_fraction\":%.6f,\"heap_sys\":%d}\n",
			runtime.GOMAXPROCS(0), m.NumGC, m.GCCPUFraction, m.HeapSys)
	})
	ln, err := net.Listen("tcp", *addr)
	if err != nil {
		fmt.Fprintln(os.Stderr, "svc:", err)
		os.Exit(1)
	}
	fmt.Fprintf(os.Stderr, "svc: listening on %s, GOMAXPROCS=%d NumCPU=%d memory limit=%d\n",
		*addr, runtime.GOMAXPROCS(0), runtime.NumCPU(), debug.SetMemoryLimit(-1))
	srv := &http.Server{ReadHeaderTimeout: 5 * time.Second}
	fmt.Fprintln(os.Stderr, "svc:", srv.Serve(ln))
	os.Exit(1)
}
