// SPDX-License-Identifier: Apache-2.0
// heap: a Go program whose live heap grows step by step while it churns
// garbage, like a cache filling up under traffic. Under a memory.max it
// shows what GOMEMLIMIT changes: without it the heap goal is 2 x live
// (GOGC=100) and crosses the limit; with it the GC works harder instead.
// Prints one JSON line per 16 MiB of growth and a final "done" line.
package main

import (
	"flag"
	"fmt"
	"os"
	"runtime"
	"runtime/debug"
	"time"
)

type node struct {
	next    *node
	payload [504]byte
}

func stats(phase string, live int, t0 time.Time) {
	var m runtime.MemStats
	runtime.ReadMemStats(&m)
	fmt.Printf("{\"phase\":\"%s\",\"live_mib\":%d,\"heap_alloc_mib\":%d,\"heap_sys_mib\":%d,"+
		"\"num_gc\":%d,\"gc_cpu_fraction\":%.4f,\"gomaxprocs\":%d,\"elapsed_s\":%.2f}\n",
		phase, live, m.HeapAlloc>>20, m.HeapSys>>20, m.NumGC, m.GCCPUFraction,
		runtime.GOMAXPROCS(0), time.Since(t0).Seconds())
}

var sink []byte

func main() {
	target := flag.Int("live-mib", 160, "live heap to reach, MiB")
	garbage := flag.Int("garbage-mib", 8, "garbage allocated per MiB of growth, MiB")
	flag.Parse()
	if *target < 1 || *target > 4096 || *garbage < 0 || *garbage > 64 {
		fmt.Fprintln(os.Stderr, "heap: live-mib 1..4096, garbage-mib 0..64")
		os.Exit(2)
	}
	fmt.Fprintf(os.Stderr, "heap: GOMAXPROCS=%d memory limit=%d GOGC=%s\n", runtime.GOMAXPROCS(0),
		debug.SetMemoryLimit(-1), os.Getenv("GOGC"))
	t0 := time.Now()
	var head *node
	perMiB := (1 << 20) / 512
	for mib := 1; mib <= *target; mib++ {
		for i := 0; i < perMiB; i++ {
			n := &node{next: head}
			n.payload[0] = byte(i)
			head = n
		}
		for g := 0; g < *garbage*16; g++ {
			sink = make([]byte, 64<<10)
			for i := 0; i < len(sink); i += 4096 {
				sink[i] = 1
			}
		}
		if mib%16 == 0 {
			stats("grow", mib, t0)
		}
	}
	stats("done", *target, t0)
	runtime.KeepAlive(head)
}
