/* SPDX-License-Identifier: Apache-2.0 */
/* Change detection, including a ConfigMap-style `..data` symlink swap. */
#include <stdlib.h>
#include <sys/stat.h>
#include <unistd.h>

#include "../../core/watch.h"
#include "test.h"

static void put(const char *path, const char *text)
{
	FILE *f = fopen(path, "w");
	if (!f)
		exit(2);
	fputs(text, f);
	fclose(f);
}

static void test_configmap_swap(void)
{
	char dir[] = "/tmp/watch_test.XXXXXX", p[512], q[512];
	struct watch w;
	const char *paths[1];

	CHECK(mkdtemp(dir) != NULL);
	/* The kubelet's layout: ..2024_a/go.yaml, ..data -> ..2024_a,
	 * go.yaml -> ..data/go.yaml. */
	snprintf(p, sizeof p, "%s/..2024_a", dir);
	CHECK(mkdir(p, 0755) == 0);
	snprintf(p, sizeof p, "%s/..2024_a/go.yaml", dir);
	put(p, "a: 1\n");
	snprintf(p, sizeof p, "%s/..data", dir);
	CHECK(symlink("..2024_a", p) == 0);
	snprintf(p, sizeof p, "%s/go.yaml", dir);
	CHECK(symlink("..data/go.yaml", p) == 0);

	paths[0] = dir;
	watch_init(&w, paths, 1);
	CHECK(!watch_changed(&w));

	/* Swap in a new version, same size, the way the kubelet does. */
	snprintf(p, sizeof p, "%s/..2024_b", dir);
	CHECK(mkdir(p, 0755) == 0);
	snprintf(p, sizeof p, "%s/..2024_b/go.yaml", dir);
	put(p, "a: 2\n");
	snprintf(p, sizeof p, "%s/..data_tmp", dir);
	CHECK(symlink("..2024_b", p) == 0);
	snprintf(q, sizeof q, "%s/..data", dir);
	CHECK(rename(p, q) == 0);
	CHECK(watch_changed(&w));
	CHECK(!watch_changed(&w));

	/* A new file, then its removal. */
	snprintf(p, sizeof p, "%s/java.yaml", dir);
	put(p, "b: 1\n");
	CHECK(watch_changed(&w));
	CHECK(unlink(p) == 0);
	CHECK(watch_changed(&w));

	/* Hidden entries do not count. */
	snprintf(p, sizeof p, "%s/.swp", dir);
	put(p, "x");
	CHECK(!watch_changed(&w));

	test_rm_rf(dir);
}

static void test_missing_then_present(void)
{
	char dir[] = "/tmp/watch_test.XXXXXX", p[512];
	struct watch w;
	const char *paths[1] = {p};

	CHECK(mkdtemp(dir) != NULL);
	snprintf(p, sizeof p, "%s/tls.crt", dir);
	watch_init(&w, paths, 1);
	CHECK(!watch_changed(&w));
	put(p, "cert");
	CHECK(watch_changed(&w));
	test_rm_rf(dir);
}

TEST_MAIN(test_configmap_swap, test_missing_then_present)
