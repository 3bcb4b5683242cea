/* SPDX-License-Identifier: Apache-2.0 */
/* base64 (kubeconfig *-data, Secrets, caBundle) through base64_decode.
 * Invariants: a failure leaves out as it was; what decodes re-encodes to
 * text that decodes to the same bytes. */
#include "../../core/base64.h"
#include "fuzz.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct buf dec, enc, again;
	struct pt_error e = {0};

	buf_init(&dec, (size_t)1 << 20);
	buf_init(&enc, (size_t)2 << 20);
	buf_init(&again, (size_t)1 << 20);
	if (buf_puts(&dec, "x"))
		abort();
	if (base64_decode(&dec, (const char *)data, size, "fuzz", &e) != PT_OK) {
		FUZZ_CHECK(e.msg[0] && dec.len == 1, "error '%s', %zu bytes left", e.msg, dec.len);
		goto out;
	}
	FUZZ_CHECK(base64_encode(&enc, dec.data + 1, dec.len - 1) == PT_OK, "cannot encode");
	FUZZ_CHECK(enc.len == base64_encoded_len(dec.len - 1), "%zu bytes encoded", enc.len);
	FUZZ_CHECK(base64_decode(&again, enc.data, enc.len, "again", &e) == PT_OK && again.len == dec.len - 1 &&
			   (!again.len || memcmp(again.data, dec.data + 1, again.len) == 0),
		   "'%s' does not decode back", enc.data);
out:
	buf_release(&dec);
	buf_release(&enc);
	buf_release(&again);
	return 0;
}
