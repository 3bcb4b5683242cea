/* SPDX-License-Identifier: Apache-2.0 */
/* The agent's checkpoint file through checkpoint_decode (a file on the
 * node that a crash may have cut short). Invariants: a failure leaves the
 * checkpoint as it was; what decodes encodes and decodes to the same. */
#include "../../core/json.h"
#include "../../rebalancer/checkpoint.h"
#include "fuzz.h"

FUZZ_INIT_JSON()

static bool same(const struct checkpoint_entry *a, const struct checkpoint_entry *b)
{
	return strcmp(a->key, b->key) == 0 && strcmp(a->dir, b->dir) == 0 && strcmp(a->file, b->file) == 0 &&
	       a->baseline == b->baseline && a->has_applied == b->has_applied &&
	       (!a->has_applied || a->applied == b->applied) && a->has_intent == b->has_intent &&
	       (!a->has_intent || a->intent == b->intent) && a->updated_ms == b->updated_ms;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct checkpoint cp, back;
	struct pt_error e = {0};
	struct buf b;

	checkpoint_init(&cp);
	checkpoint_init(&back);
	buf_init(&b, CHECKPOINT_FILE_MAX);
	FUZZ_CHECK(checkpoint_track(&cp, "uid/c", "/sys/fs/cgroup/x", "cpu.weight", 100, 1, NULL, &e) == PT_OK,
		   "%s", e.msg);
	if (checkpoint_decode(&cp, (const char *)data, size, &e) != PT_OK) {
		FUZZ_CHECK(e.msg[0] && cp.n == 1 && checkpoint_find(&cp, "uid/c", "cpu.weight"),
			   "error '%s', %zu entries", e.msg, cp.n);
		goto out;
	}
	FUZZ_CHECK(checkpoint_encode(&cp, 7, &b, &e) == PT_OK, "cannot encode: %s", e.msg);
	FUZZ_CHECK(checkpoint_decode(&back, b.data, b.len, &e) == PT_OK, "cannot decode '%s': %s", b.data, e.msg);
	FUZZ_CHECK(back.n == cp.n, "%zu entries, %zu back", cp.n, back.n);
	for (size_t i = 0; i < cp.n; i++) {
		FUZZ_CHECK(same(&cp.entries[i], &back.entries[i]), "entry %zu differs", i);
		FUZZ_CHECK(checkpoint_find(&back, cp.entries[i].key, cp.entries[i].file) == &back.entries[i],
			   "entry %zu is not found", i);
	}
out:
	buf_release(&b);
	checkpoint_release(&cp);
	checkpoint_release(&back);
	return 0;
}
