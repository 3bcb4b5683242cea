/* SPDX-License-Identifier: Apache-2.0 */
/* vmtool: the few things the VM's busybox cannot do for the test-bed.
 * Built static, so it runs in the guest (and on the host) with no libraries.
 *   vmtool weight [--classic] MILLICPU   the cpu.weight a runtime writes
 *   vmtool serve [ADDR:]PORT FILE [PATH] serve FILE on ADDR:PORT (default 127.0.0.1)
 *   vmtool spin MS                       burn CPU for MS milliseconds
 *   vmtool hog MIB                       grow anonymous memory to MIB, then hold */
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <math.h>
#include <netinet/in.h>
#include <signal.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <time.h>
#include <unistd.h>

#define VMTOOL_REQUEST_MAX 8192        /* bytes of one HTTP request head */
#define VMTOOL_BODY_MAX (1024 * 1024)  /* bytes of a served file */
#define VMTOOL_SPIN_MAX_MS (600 * 1000) /* longest spin */
#define VMTOOL_HOG_MAX_MIB 4096         /* largest hog */

static int usage(void)
{
	fputs("usage: vmtool weight [--classic] MILLICPU\n"
	      "       vmtool serve [ADDR:]PORT FILE [PATH]   (default 127.0.0.1, PATH /metrics)\n"
	      "       vmtool spin MS\n"
	      "       vmtool hog MIB\n",
	      stderr);
	return 2;
}

static bool parse_i64(const char *s, int64_t min, int64_t max, int64_t *out)
{
	char *end;
	long long v;

	errno = 0;
	v = strtoll(s, &end, 10);
	if (errno || end == s || *end || v < min || v > max)
		return false;
	*out = v;
	return true;
}

/* The kubelet's MilliCPUToShares (pkg/kubelet/cm/helpers_linux.go):
 * 0 and tiny requests get MinShares (2), the top is MaxShares (262144). */
static uint64_t milli_to_shares(int64_t milli)
{
	int64_t s;

	if (milli == 0)
		return 2;
	s = milli * 1024 / 1000;
	if (s < 2)
		return 2;
	if (s > 262144)
		return 262144;
	return (uint64_t)s;
}

/* runc >= 1.3.2 and crun >= 1.23 (opencontainers/cgroups
 * ConvertCPUSharesToCgroupV2Value, after kubernetes#131216): a quadratic in
 * log2(shares) through (2, 1), (1024, 100) and (262144, 10000). The
 * classic linear map gave 1 CPU a weight of 39, below a cgroup's default
 * 100. Both are what the runtime writes into the container's scope. */
static uint64_t shares_to_weight(uint64_t shares, bool classic)
{
	double l, exponent;

	if (classic)
		return 1 + ((shares - 2) * 9999) / 262142;
	if (shares <= 2)
		return 1;
	if (shares >= 262144)
		return 10000;
	l = log2((double)shares);
	exponent = (l * l + 125 * l) / 612.0 - 7.0 / 34.0;
	return (uint64_t)ceil(pow(10, exponent));
}

static int cmd_weight(int argc, char **argv)
{
	bool classic = false;
	int64_t milli;

	if (argc == 3 && strcmp(argv[1], "--classic") == 0) {
		classic = true;
		argv++;
		argc--;
	}
	if (argc != 2 || !parse_i64(argv[1], 0, INT64_MAX / 1024, &milli))
		return usage();
	printf("%" PRIu64 "\n", shares_to_weight(milli_to_shares(milli), classic));
	return 0;
}

static int cmd_spin(int argc, char **argv)
{
	struct timespec t0, t;
	int64_t ms;
	volatile uint64_t x = 0;

	if (argc != 2 || !parse_i64(argv[1], 0, VMTOOL_SPIN_MAX_MS, &ms))
		return usage();
	clock_gettime(CLOCK_MONOTONIC, &t0);
	do {
		for (int i = 0; i < 100000; i++)
			x = x * 6364136223846793005u + 1;
		clock_gettime(CLOCK_MONOTONIC, &t);
	} while ((t.tv_sec - t0.tv_sec) * 1000 + (t.tv_nsec - t0.tv_nsec) / 1000000 < ms);
	return 0;
}

/* A memory-hungry container: touch MIB MiB of anonymous memory one MiB at
 * a time, printing the running total after each MiB (so a test sees how far
 * it got while memory.high throttles it), then hold it until killed. Every
 * page is written, so every page is charged to the cgroup; without swap
 * none of it can be reclaimed. */
static int cmd_hog(int argc, char **argv)
{
	const size_t mib = (size_t)1 << 20;
	long page = sysconf(_SC_PAGESIZE);
	int64_t n;
	char *p;

	if (argc != 2 || !parse_i64(argv[1], 1, VMTOOL_HOG_MAX_MIB, &n) || page <= 0)
		return usage();
	p = mmap(NULL, (size_t)n * mib, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	if (p == MAP_FAILED) {
		perror("vmtool hog: mmap");
		return 1;
	}
	setvbuf(stdout, NULL, _IOLBF, 0);
	for (int64_t i = 0; i < n; i++) {
		for (size_t off = 0; off < mib; off += (size_t)page)
			p[(size_t)i * mib + off] = 1;
		printf("%" PRId64 "\n", i + 1);
	}
	for (;;)
		pause();
}

/* Read the whole file (at most VMTOOL_BODY_MAX bytes) into buf. */
static ssize_t read_body(const char *path, char *buf)
{
	size_t n = 0;
	ssize_t r;
	int fd = open(path, O_RDONLY | O_CLOEXEC);

	if (fd < 0)
		return -1;
	while (n < VMTOOL_BODY_MAX && (r = read(fd, buf + n, VMTOOL_BODY_MAX - n)) != 0) {
		if (r < 0) {
			if (errno == EINTR)
				continue;
			close(fd);
			return -1;
		}
		n += (size_t)r;
	}
	close(fd);
	return (ssize_t)n;
}

static void send_all(int fd, const char *p, size_t n)
{
	while (n > 0) {
		ssize_t w = send(fd, p, n, MSG_NOSIGNAL);

		if (w < 0 && errno == EINTR)
			continue;
		if (w <= 0)
			return;
		p += w;
		n -= (size_t)w;
	}
}

static void serve_one(int c, const char *file, const char *path, char *body)
{
	char req[VMTOOL_REQUEST_MAX + 1], head[256], want[300];
	size_t n = 0;
	ssize_t r, blen;
	int hl;

	req[0] = '\0';
	while (n < VMTOOL_REQUEST_MAX && !strstr(req, "\r\n\r\n")) {
		r = recv(c, req + n, VMTOOL_REQUEST_MAX - n, 0);
		if (r < 0 && errno == EINTR)
			continue;
		if (r <= 0)
			return;
		n += (size_t)r;
		req[n] = '\0';
	}
	snprintf(want, sizeof want, "GET %s ", path);
	if (strncmp(req, want, strlen(want)) != 0) {
		static const char nf[] = "HTTP/1.1 404 Not Found\r\nContent-Length: 0\r\nConnection: close\r\n\r\n";

		send_all(c, nf, sizeof nf - 1);
		return;
	}
	blen = read_body(file, body);
	if (blen < 0) {
		static const char err[] = "HTTP/1.1 500 Internal Server Error\r\nContent-Length: 0\r\n"
					  "Connection: close\r\n\r\n";

		send_all(c, err, sizeof err - 1);
		return;
	}
	/* The Prometheus text format's media type (exposition_formats.md). */
	hl = snprintf(head, sizeof head,
		      "HTTP/1.1 200 OK\r\nContent-Type: text/plain; version=0.0.4; charset=utf-8\r\n"
		      "Content-Length: %zd\r\nConnection: close\r\n\r\n",
		      blen);
	send_all(c, head, (size_t)hl);
	send_all(c, body, (size_t)blen);
}

/* A metrics endpoint whose values a test changes by rewriting FILE (write a
 * temp file and rename it over FILE: each request reads it afresh). One
 * connection at a time, on the address given (tests give a pod IP in
 * 127.0.0.0/8, which is all on lo); it runs until killed. */
static int cmd_serve(int argc, char **argv)
{
	struct sockaddr_in a;
	struct timeval tv = {2, 0};
	const char *path = argc > 3 ? argv[3] : "/metrics", *colon;
	char addr[INET_ADDRSTRLEN] = "127.0.0.1", *body;
	int64_t port;
	int s, one = 1;

	if (argc != 3 && argc != 4)
		return usage();
	/* ADDR:PORT, for a pod IP; any 127.0.0.0/8 address is on lo. */
	if ((colon = strrchr(argv[1], ':'))) {
		if ((size_t)(colon - argv[1]) >= sizeof addr)
			return usage();
		memcpy(addr, argv[1], (size_t)(colon - argv[1]));
		addr[colon - argv[1]] = '\0';
	}
	if (!parse_i64(colon ? colon + 1 : argv[1], 1, 65535, &port) || path[0] != '/' || strlen(path) > 200)
		return usage();
	body = malloc(VMTOOL_BODY_MAX);
	s = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (!body || s < 0) {
		perror("vmtool serve: socket");
		return 1;
	}
	memset(&a, 0, sizeof a);
	a.sin_family = AF_INET;
	a.sin_port = htons((uint16_t)port);
	if (inet_pton(AF_INET, addr, &a.sin_addr) != 1)
		return usage();
	setsockopt(s, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
	if (bind(s, (struct sockaddr *)&a, sizeof a) < 0 || listen(s, 16) < 0) {
		fprintf(stderr, "vmtool serve: cannot listen on '%s:%" PRId64 "': %s\n", addr, port,
			strerror(errno));
		return 1;
	}
	signal(SIGPIPE, SIG_IGN);
	for (;;) {
		int c = accept4(s, NULL, NULL, SOCK_CLOEXEC);

		if (c < 0) {
			if (errno == EINTR)
				continue;
			perror("vmtool serve: accept");
			return 1;
		}
		/* A client that sends nothing cannot hold the server up. */
		setsockopt(c, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
		setsockopt(c, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof tv);
		serve_one(c, argv[2], path, body);
		close(c);
	}
}

int main(int argc, char **argv)
{
	if (argc < 2)
		return usage();
	if (strcmp(argv[1], "weight") == 0)
		return cmd_weight(argc - 1, argv + 1);
	if (strcmp(argv[1], "serve") == 0)
		return cmd_serve(argc - 1, argv + 1);
	if (strcmp(argv[1], "spin") == 0)
		return cmd_spin(argc - 1, argv + 1);
	if (strcmp(argv[1], "hog") == 0)
		return cmd_hog(argc - 1, argv + 1);
	return usage();
}
