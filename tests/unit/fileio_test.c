/* SPDX-License-Identifier: Apache-2.0 */
#include "../../core/fileio.h"
#include "test.h"

#include <sys/stat.h>
#include <unistd.h>

static char dir[64];

static void setup(void)
{
	test_mkdtemp(dir, sizeof dir, "fileio_test");
}

static void test_write_and_read(void)
{
	char path[128];
	struct buf b;
	struct pt_error e = {0};
	struct stat st;
	mode_t old = umask(077);

	snprintf(path, sizeof path, "%s/a.txt", dir);
	CHECK_INT(fileio_write_atomic(path, "hello\n", 6, 0644, &e), PT_OK);
	umask(old);
	CHECK_INT(stat(path, &st), 0);
	CHECK_INT(st.st_mode & 0777, 0644); /* not subject to the umask */
	CHECK_INT(fileio_write_atomic(path, "bye", 3, 0600, &e), PT_OK);
	CHECK_INT(stat(path, &st), 0);
	CHECK_INT(st.st_mode & 0777, 0600);

	buf_init(&b, 100);
	CHECK_INT(buf_puts(&b, ">"), PT_OK);
	CHECK_INT(fileio_read(path, 100, &b, &e), PT_OK);
	CHECK_STR(b.data, ">bye");
	CHECK_INT(fileio_read(path, 2, &b, &e), PT_LIMIT); /* past max */
	CHECK_CONTAINS(e.msg, "a.txt': 3 bytes exceed the limit of 2");
	CHECK_STR(b.data, ">bye");
	buf_release(&b);
	buf_init(&b, 3); /* the buffer's own cap */
	CHECK_INT(fileio_read(path, 100, &b, &e), PT_OK);
	CHECK_INT(fileio_read(path, 100, &b, &e), PT_LIMIT);
	CHECK_STR(b.data, "bye");
	buf_release(&b);
}

static void test_errors(void)
{
	char path[128], out[256];
	struct buf b;
	struct pt_error e = {0};
	FILE *p;
	size_t n;

	buf_init(&b, 100);
	snprintf(path, sizeof path, "%s/none", dir);
	CHECK_INT(fileio_read(path, 100, &b, &e), PT_NOTFOUND);
	CHECK_CONTAINS(e.msg, "cannot open '");
	CHECK_CONTAINS(e.msg, "/none': No such file or directory (ENOENT)");
	CHECK_INT(fileio_read(dir, 100, &b, &e), PT_IO);
	CHECK_CONTAINS(e.msg, "Is a directory (EISDIR)");
	CHECK_INT(b.len, 0);
	buf_release(&b);
	snprintf(path, sizeof path, "%s/no/such/file", dir);
	CHECK_INT(fileio_write_atomic(path, "x", 1, 0600, &e), PT_NOTFOUND);
	CHECK_CONTAINS(e.msg, "cannot create a temporary file for '");
	/* Nothing left behind in the directory: only a.txt. */
	snprintf(out, sizeof out, "ls -A %s", dir);
	p = popen(out, "r");
	n = p ? fread(out, 1, sizeof out - 1, p) : 0;
	out[n] = '\0';
	if (p)
		pclose(p);
	CHECK_STR(out, "a.txt\n");
	/* Reading a pseudo-file whose size stat does not know still obeys max. */
	buf_init(&b, 1 << 20);
	CHECK_INT(fileio_read("/dev/zero", 4096, &b, &e), PT_LIMIT);
	CHECK_CONTAINS(e.msg, "cannot read '/dev/zero': more than 4096 bytes");
	buf_release(&b);
}

static void cleanup(void)
{
	char path[128];

	snprintf(path, sizeof path, "%s/a.txt", dir);
	unlink(path);
	CHECK_INT(rmdir(dir), 0);
}

static void test_dirname(void)
{
	char d[16];

	fileio_dirname("ca.crt", d, sizeof d);
	CHECK_STR(d, ".");
	fileio_dirname("/ca.crt", d, sizeof d);
	CHECK_STR(d, "/");
	fileio_dirname("/etc/podtuner/ca.crt", d, sizeof d);
	CHECK_STR(d, "/etc/podtuner");
	fileio_dirname("certs/ca.crt", d, sizeof d);
	CHECK_STR(d, "certs");
	fileio_dirname("/a-directory-longer-than-d/x", d, sizeof d);
	CHECK_STR(d, "/a-directory-lo"); /* cut to fit, never past the end */
}

TEST_MAIN(setup, test_write_and_read, test_errors, test_dirname, cleanup)
