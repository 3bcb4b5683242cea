/* SPDX-License-Identifier: Apache-2.0 */
/* The Prometheus text exposition format 0.0.4, parsed in one pass without
 * copying: samples are handed to a callback as slices of the input. Lines
 * that do not parse are counted and skipped, never fatal. Also accepted:
 * the trailing comma inside braces that the classic Java client writes,
 * NaN/+Inf/-Inf, exponents, timestamps, and `# EOF` (OpenMetrics). */
#ifndef PT_PROMTEXT_H
#define PT_PROMTEXT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "err.h"

#define PROMTEXT_MAX_LABELS 32
#define PROMTEXT_MAX_LABEL_VALUE 1024 /* longer values make the line bad */
#define PROMTEXT_MAX_VALUE_LEN 128    /* longer sample values make the line bad */

struct promtext_slice {
	const char *p;
	size_t len;
};

struct promtext_label {
	struct promtext_slice name;
	struct promtext_slice value; /* unescaped; points into a scratch buffer
				      * when the value had escapes */
};

struct promtext_sample {
	struct promtext_slice name; /* as written in the page */
	struct promtext_label labels[PROMTEXT_MAX_LABELS];
	size_t n_labels;
	double value;
	int64_t timestamp_ms;
	bool has_timestamp;
};

struct promtext_stats {
	size_t lines;
	size_t samples;     /* samples handed to the callback */
	size_t skipped;     /* samples the filter did not want */
	size_t bad_lines;
	size_t first_bad;   /* 1-based line number of the first bad line, 0 if none */
};

/* Decides from the metric name alone whether a sample is wanted, so the
 * labels and value of unwanted lines are never parsed. NULL wants all. */
typedef bool (*promtext_filter_fn)(void *ctx, const char *name, size_t len);

/* Receives each wanted sample; the slices are valid during the call only.
 * Return false to stop parsing early. */
typedef bool (*promtext_sample_fn)(void *ctx, const struct promtext_sample *s);

/* Parse len bytes of data (need not be NUL-terminated). Stops early only
 * when the callback says so, or at an OpenMetrics `# EOF` line. A line is
 * bad when it breaks the grammar, has more than PROMTEXT_MAX_LABELS labels,
 * a duplicate label name, a label value longer than
 * PROMTEXT_MAX_LABEL_VALUE (after unescaping) or holding a NUL byte or
 * invalid UTF-8, or a value that overflows a double; a line whose name the
 * filter rejects is counted as skipped without being checked further.
 * Timestamps are read as 0.0.4 int64 milliseconds. The callback and filter
 * run on the caller's thread; on_sample may be NULL (count only). The
 * parse allocates nothing; it uses about 34 KiB of stack (the scratch space
 * for unescaped label values of one line). st may be
 * NULL; otherwise it is overwritten. Returns PT_OK even when some lines were
 * bad (see st->bad_lines), PT_INVALID only for data == NULL with len > 0. */
enum pt_code promtext_parse(const char *data, size_t len, promtext_filter_fn filter,
			    promtext_sample_fn on_sample, void *ctx, struct promtext_stats *st);

/* The canonical name of a metric, so that both the classic Java client's
 * names and the JMX exporter >= 1.0 names select the same series (e.g.
 * jvm_memory_pool_used_bytes -> jvm_memory_pool_bytes_used). Returns name
 * itself when it has no alias; *out_len receives the length. */
const char *promtext_canonical_name(const char *name, size_t len, size_t *out_len);

/* Format a sample value as the text format writes it: "NaN", "+Inf",
 * "-Inf", integers without a fraction, otherwise the shortest form that
 * reads back exactly. Returns what snprintf returns. */
size_t promtext_format_value(char *buf, size_t len, double v);

#endif
