/* SPDX-License-Identifier: Apache-2.0 */
/* What the libFuzzer harnesses share. Each *_fuzz.c feeds one parser of
 * outside input; a crash, leak, hang or UB is a finding, and so is a broken
 * invariant, which FUZZ_CHECK turns into an abort with a message. */
#ifndef PT_FUZZ_H
#define PT_FUZZ_H

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

int LLVMFuzzerInitialize(int *argc, char ***argv);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define FUZZ_CHECK(cond, ...)                                              \
	do {                                                               \
		if (!(cond)) {                                             \
			fprintf(stderr, "invariant broken: %s: ", #cond);  \
			fprintf(stderr, __VA_ARGS__);                      \
			fputc('\n', stderr);                               \
			abort();                                           \
		}                                                          \
	} while (0)

/* The LLVMFuzzerInitialize of a target whose only set-up is cJSON's
 * allocation hooks (json_init, from core/json.h). */
#define FUZZ_INIT_JSON()                                                   \
	int LLVMFuzzerInitialize(int *argc, char ***argv)                  \
	{                                                                  \
		(void)argc;                                                \
		(void)argv;                                                \
		json_init();                                               \
		return 0;                                                  \
	}

/* A NUL-terminated heap copy of n bytes, for the parsers that take C
 * strings. The harness's own memory: running out is not a finding. */
static inline char *fuzz_strndup(const void *p, size_t n)
{
	char *s = malloc(n + 1);

	if (!s)
		abort();
	memcpy(s, p, n);
	s[n] = '\0';
	return s;
}

/* Split data at its first NUL byte into two heap C strings (the second
 * empty when there is no NUL). The caller frees both. */
static inline void fuzz_split(const uint8_t *data, size_t size, char **a, char **b)
{
	const uint8_t *nul = memchr(data, '\0', size);
	size_t n = nul ? (size_t)(nul - data) : size;

	*a = fuzz_strndup(data, n);
	*b = nul ? fuzz_strndup(nul + 1, size - n - 1) : fuzz_strndup("", 0);
}

#endif
