#!/bin/sh
# SPDX-License-Identifier: Apache-2.0
# Run the fuzz targets built in build/fuzz (make fuzz-bin) one after
# another, each for FUZZ_SECONDS seconds on one core, since the build
# machine is shared (libFuzzer's default, one in-process job: what -jobs=1
# does, without forking a child that logs to ./fuzz-0.log). Each runs on
# its corpus in FUZZ_CORPUS/<target> (kept between runs) plus fresh seeds
# from tests/fuzz/seeds.sh. A crash, leak, timeout or broken invariant
# fails the run; its input is saved in build/fuzz/crashes/<target>/ and
# can be replayed with `build/fuzz/<target>_fuzz <file>`.
# FUZZ_TARGETS="review json" limits the run to those targets.
set -u
top=$(cd "$(dirname "$0")/../.." && pwd)
cd "$top"
secs=${FUZZ_SECONDS:-60}
corpus=${FUZZ_CORPUS:-build/fuzz/corpus}
targets=${FUZZ_TARGETS:-$(for b in build/fuzz/*_fuzz; do basename "$b" _fuzz; done)}
seeds=build/fuzz/seeds
logs=build/fuzz/logs
tests/fuzz/seeds.sh "$seeds" || exit 1
mkdir -p "$logs"
status=0
for t in $targets; do
	bin=build/fuzz/${t}_fuzz
	if [ ! -x "$bin" ]; then
		echo "fuzz: $bin is missing (make fuzz-bin)"
		status=1
		continue
	fi
	mkdir -p "$corpus/$t" "build/fuzz/crashes/$t"
	# -timeout: a single input taking 10 s is a hang. -rss_limit_mb: the
	# parsers' own caps (64 MiB arenas, 4 MiB YAML) are far below it.
	if "$bin" -max_total_time="$secs" -timeout=10 -rss_limit_mb=2048 \
		-artifact_prefix="build/fuzz/crashes/$t/" -print_final_stats=1 \
		"$corpus/$t" "$seeds/$t" >"$logs/$t.log" 2>&1; then
		runs=$(sed -n 's/^stat::number_of_executed_units: *//p' "$logs/$t.log")
		cov=$(grep -oE 'cov: [0-9]+' "$logs/$t.log" | tail -n 1)
		echo "fuzz: $t: ok, ${runs:-?} runs in ${secs}s, $cov, corpus $(ls "$corpus/$t" | wc -l)"
	else
		status=1
		echo "fuzz: $t: FAILED (log: $logs/$t.log)"
		grep -E 'ERROR|invariant broken|SUMMARY|Test unit written|^(#[0-9]+ +)?[a-z_]+ *:[0-9]+' "$logs/$t.log" | head -n 20 | sed 's/^/    /'
	fi
done
exit "$status"
