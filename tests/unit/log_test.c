/* SPDX-License-Identifier: Apache-2.0 */
/* The logger's lines, read back from stderr redirected to a file: JSON
 * escaping, whole-field truncation, the threshold. */
#include "../../core/log.h"
#include "test.h"

#include <fcntl.h>
#include <unistd.h>

static char path[] = "/tmp/log_test.XXXXXX";
static int saved = -1;

/* Send stderr to a fresh file. */
static void capture(void)
{
	int fd = open(path, O_WRONLY | O_TRUNC);

	fflush(stderr);
	if (saved < 0)
		saved = dup(STDERR_FILENO);
	dup2(fd, STDERR_FILENO);
	close(fd);
}

/* Restore stderr; return what was written (the caller frees it). */
static char *captured(void)
{
	size_t n;
	char *s;

	fflush(stderr);
	dup2(saved, STDERR_FILENO);
	s = test_slurp(path, &n);
	return s;
}

static void test_escaping(void)
{
	struct log_line l;
	char *out;

	capture();
	if (log_begin(&l, LOG_WARN, "m\"sg")) {
		log_str(&l, "plain", "abc def/xyz");
		log_str(&l, "quote\\", "a\"b\\c\nd\te\x01z");
		log_strn(&l, "n", "cut here", 3);
		log_str(&l, "null", NULL);
		log_int(&l, "i", -42);
		log_bool(&l, "b", true);
		log_end(&l);
	}
	out = captured();
	CHECK_CONTAINS(out, "\"level\":\"warn\",\"msg\":\"m\\\"sg\",\"plain\":\"abc def/xyz\","
			    "\"quote\\\\\":\"a\\\"b\\\\c\\nd\\u0009e\\u0001z\",\"n\":\"cut\",\"null\":null,"
			    "\"i\":-42,\"b\":true}\n");
	CHECK(strncmp(out, "{\"ts\":\"", 7) == 0);
	CHECK_INT(strchr(out, '\n') - out + 1, strlen(out)); /* one line */
	free(out);
}

static void test_truncation(void)
{
	static char big[LOG_LINE_MAX * 2];
	struct log_line l;
	char *out;

	/* A field that does not fit is dropped whole; the line stays JSON. */
	memset(big, 'x', sizeof big - 1);
	big[100] = '"';
	capture();
	if (log_begin(&l, LOG_ERROR, "t")) {
		log_str(&l, "first", "kept");
		log_str(&l, "big", big);
		log_int(&l, "after", 1);
		log_end(&l);
	}
	out = captured();
	CHECK_CONTAINS(out, "\"first\":\"kept\",\"truncated\":true}\n");
	CHECK(strstr(out, "\"big\"") == NULL);
	CHECK(strlen(out) < LOG_LINE_MAX);
	free(out);

	/* Just below the limit still fits whole. */
	memset(big, 'y', sizeof big - 1);
	big[LOG_LINE_MAX - 200] = '\0';
	capture();
	if (log_begin(&l, LOG_ERROR, "t")) {
		log_str(&l, "big", big);
		log_end(&l);
	}
	out = captured();
	CHECK(strstr(out, "truncated") == NULL);
	CHECK_CONTAINS(out, "yyyy\"}\n");
	free(out);
	big[LOG_LINE_MAX - 200] = 'y';
}

static void test_threshold(void)
{
	enum log_level old = log_threshold;
	struct log_line l;
	char *out;

	CHECK(log_level_parse("error", &log_threshold));
	CHECK(!log_level_parse("loud", &log_threshold));
	capture();
	CHECK(!log_begin(&l, LOG_WARN, "dropped"));
	log_msg(LOG_INFO, "dropped too");
	log_err(LOG_ERROR, "kept", "why");
	out = captured();
	CHECK(strstr(out, "dropped") == NULL);
	CHECK_CONTAINS(out, "\"msg\":\"kept\",\"error\":\"why\"}\n");
	free(out);
	log_threshold = old;
}

static void setup(void)
{
	int fd = mkstemp(path);

	if (fd < 0)
		exit(2);
	close(fd);
}

static void teardown(void)
{
	unlink(path);
	if (saved >= 0)
		close(saved);
}

TEST_MAIN(setup, test_escaping, test_truncation, test_threshold, teardown)
