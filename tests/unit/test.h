/* SPDX-License-Identifier: Apache-2.0 */
/* A minimal unit-test harness. Each test file is its own process; every
 * assertion prints both sides when it fails and the file's result is its
 * exit status. TEST_MAIN runs the listed cases in order. */
#ifndef PT_TEST_H
#define PT_TEST_H

#include <inttypes.h>
#include <math.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

static int test_failures;
static int test_checks;

#define TFAIL(...)                                                        \
	do {                                                              \
		test_failures++;                                          \
		fprintf(stderr, "%s:%d: FAIL: ", __FILE__, __LINE__);    \
		fprintf(stderr, __VA_ARGS__);                             \
		fputc('\n', stderr);                                      \
	} while (0)

#define CHECK(cond)                                                       \
	do {                                                              \
		test_checks++;                                            \
		if (!(cond))                                              \
			TFAIL("%s", #cond);                               \
	} while (0)

#define CHECK_INT(a, b)                                                   \
	do {                                                              \
		long long va_ = (long long)(a), vb_ = (long long)(b);     \
		test_checks++;                                            \
		if (va_ != vb_)                                           \
			TFAIL("%s == %s: got %lld, want %lld", #a, #b, va_, vb_); \
	} while (0)

#define CHECK_DBL(a, b, eps)                                              \
	do {                                                              \
		double va_ = (a), vb_ = (b);                              \
		test_checks++;                                            \
		if (!(fabs(va_ - vb_) <= (eps)) && !(isnan(va_) && isnan(vb_))) \
			TFAIL("%s == %s: got %.9g, want %.9g", #a, #b, va_, vb_); \
	} while (0)

#define CHECK_STR(a, b)                                                   \
	do {                                                              \
		const char *va_ = (a), *vb_ = (b);                        \
		test_checks++;                                            \
		if (!va_ || !vb_ || strcmp(va_, vb_) != 0)                \
			TFAIL("%s == %s: got \"%s\", want \"%s\"", #a, #b, \
			      va_ ? va_ : "(null)", vb_ ? vb_ : "(null)"); \
	} while (0)

/* Substring check, for error messages. */
#define CHECK_CONTAINS(hay, needle)                                       \
	do {                                                              \
		const char *h_ = (hay), *n_ = (needle);                   \
		test_checks++;                                            \
		if (!h_ || !strstr(h_, n_))                               \
			TFAIL("%s contains \"%s\": got \"%s\"", #hay, n_, h_ ? h_ : "(null)"); \
	} while (0)

#define RUN(fn)                                                           \
	do {                                                              \
		int before_ = test_failures;                              \
		fn();                                                     \
		fprintf(stderr, "%s %s\n", test_failures == before_ ? "ok  " : "FAIL", #fn); \
	} while (0)

#define TEST_MAIN(...)                                                    \
	int main(void)                                                    \
	{                                                                 \
		void (*fns_[])(void) = {__VA_ARGS__};                     \
		for (size_t i_ = 0; i_ < sizeof fns_ / sizeof fns_[0]; i_++) \
			fns_[i_]();                                       \
		fprintf(stderr, "%d checks, %d failed\n", test_checks, test_failures); \
		return test_failures ? 1 : 0;                             \
	}

/* Remove a directory tree (test helper). */
#include <ftw.h>
#include <unistd.h>
static inline int test_rm_one(const char *p, const struct stat *st, int flag, struct FTW *ftw)
{
	(void)st;
	(void)flag;
	(void)ftw;
	return remove(p);
}

static inline void test_rm_rf(const char *dir)
{
	nftw(dir, test_rm_one, 16, FTW_DEPTH | FTW_PHYS);
}

/* Read a whole file into a heap string (test helper; aborts on error). */
static inline char *test_slurp(const char *path, size_t *len)
{
	FILE *f = fopen(path, "rb");
	char *p;
	long n;

	if (!f) {
		fprintf(stderr, "cannot open '%s'\n", path);
		exit(2);
	}
	fseek(f, 0, SEEK_END);
	n = ftell(f);
	fseek(f, 0, SEEK_SET);
	p = malloc((size_t)n + 1);
	if (!p || fread(p, 1, (size_t)n, f) != (size_t)n)
		exit(2);
	p[n] = '\0';
	fclose(f);
	if (len)
		*len = (size_t)n;
	return p;
}

/* Helpers of the tests that run servers and wait for them. */
static inline void test_sleep_ms(long ms)
{
	struct timespec ts = {ms / 1000, (ms % 1000) * 1000000L};

	nanosleep(&ts, NULL);
}

static inline uint64_t test_now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000u + (uint64_t)ts.tv_nsec / 1000000u;
}

/* Write text to dir/name, or exit 2 (the harness, not the test, failed). */
static inline void test_put_file(const char *dir, const char *name, const char *text)
{
	char path[512];
	FILE *f;

	snprintf(path, sizeof path, "%s/%s", dir, name);
	if (!(f = fopen(path, "w")))
		exit(2);
	fputs(text, f);
	fclose(f);
}

/* A new directory /tmp/<name>.XXXXXX into buf (n bytes), or exit 2. */
static inline void test_mkdtemp(char *buf, size_t n, const char *name)
{
	snprintf(buf, n, "/tmp/%s.XXXXXX", name);
	if (!mkdtemp(buf)) {
		perror("mkdtemp");
		exit(2);
	}
}

#endif
