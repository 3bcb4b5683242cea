/* SPDX-License-Identifier: Apache-2.0 */
/* The agent benchmark's metrics endpoints: one epoll thread serving the
 * same page on N pod IPs (127.0.x.y, as tests/integration/agent_env.py
 * numbers them), HTTP/1.1 keep-alive. A Go exporter answers a scrape in
 * microseconds; a Python server on the same two cores answers slowly and
 * makes the agent wake more often than it would on a node, which is what
 * this replaces for measuring the agent.
 *   pagesrv SAMPLE PODS PORT_FILE   (writes "0 <port>" once listening) */
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <unistd.h>

#define MAX_PODS 4000
#define REQ_MAX 4096

struct conn {
	int fd;
	size_t have;
	char req[REQ_MAX];
};

static char *response;
static size_t response_len;

static void die(const char *what)
{
	perror(what);
	exit(1);
}

static void load(const char *path)
{
	FILE *f = fopen(path, "rb");
	char head[256];
	long n;
	int h;

	if (!f || fseek(f, 0, SEEK_END) || (n = ftell(f)) < 0 || fseek(f, 0, SEEK_SET))
		die(path);
	h = snprintf(head, sizeof head,
		     "HTTP/1.1 200 OK\r\nContent-Type: text/plain; version=0.0.4; charset=utf-8\r\n"
		     "Content-Length: %ld\r\n\r\n",
		     n);
	if (!(response = malloc((size_t)h + (size_t)n)))
		die("malloc");
	memcpy(response, head, (size_t)h);
	if (fread(response + h, 1, (size_t)n, f) != (size_t)n)
		die(path);
	fclose(f);
	response_len = (size_t)h + (size_t)n;
}

/* Answer every complete request in c's buffer; false to close. */
static int serve(struct conn *c)
{
	char *end;

	while ((end = memmem(c->req, c->have, "\r\n\r\n", 4))) {
		size_t used = (size_t)(end + 4 - c->req), off = 0;

		while (off < response_len) {
			ssize_t w = write(c->fd, response + off, response_len - off);
			if (w < 0 && errno == EAGAIN) {
				/* Loopback buffers hold a page; wait if not. */
				struct pollfd p = {.fd = c->fd, .events = POLLOUT};
				poll(&p, 1, 100);
				continue;
			}
			if (w <= 0)
				return 0;
			off += (size_t)w;
		}
		memmove(c->req, c->req + used, c->have - used);
		c->have -= used;
	}
	return c->have < REQ_MAX;
}

int main(int argc, char **argv)
{
	int ep, pods, port = 0, one = 1;
	struct epoll_event ev, evs[256];
	FILE *pf;

	if (argc != 4)
		return fprintf(stderr, "usage: pagesrv SAMPLE PODS PORT_FILE\n"), 2;
	load(argv[1]);
	pods = (int)strtol(argv[2], NULL, 10);
	if (pods < 0 || pods > MAX_PODS)
		return fprintf(stderr, "pagesrv: 0..%d pods\n", MAX_PODS), 2;
	if ((ep = epoll_create1(0)) < 0)
		die("epoll_create1");
	for (int i = 0; i < pods; i++) {
		struct sockaddr_in a = {.sin_family = AF_INET, .sin_port = htons((uint16_t)port)};
		socklen_t len = sizeof a;
		int s = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
		char ip[32];

		snprintf(ip, sizeof ip, "127.0.%d.%d", 1 + i / 250, 2 + i % 250);
		inet_pton(AF_INET, ip, &a.sin_addr);
		setsockopt(s, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
		if (s < 0 || bind(s, (struct sockaddr *)&a, sizeof a) || listen(s, 64))
			die(ip);
		if (!port) {
			getsockname(s, (struct sockaddr *)&a, &len);
			port = ntohs(a.sin_port);
		}
		ev.events = EPOLLIN;
		ev.data.u64 = (uint64_t)s << 1; /* even: a listener; odd: a connection */
		epoll_ctl(ep, EPOLL_CTL_ADD, s, &ev);
	}
	if (!(pf = fopen(argv[3], "w")))
		die(argv[3]);
	fprintf(pf, "0 %d\n", port);
	fclose(pf);
	for (;;) {
		int n = epoll_wait(ep, evs, 256, -1);

		for (int i = 0; i < n; i++) {
			if (!(evs[i].data.u64 & 1)) {
				int fd = accept4((int)(evs[i].data.u64 >> 1), NULL, NULL, SOCK_NONBLOCK | SOCK_CLOEXEC);
				struct conn *c;

				if (fd < 0 || !(c = calloc(1, sizeof *c))) {
					if (fd >= 0)
						close(fd);
					continue;
				}
				c->fd = fd;
				setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
				ev.events = EPOLLIN;
				ev.data.u64 = (uint64_t)(uintptr_t)c | 1;
				epoll_ctl(ep, EPOLL_CTL_ADD, fd, &ev);
				continue;
			}
			struct conn *c = (struct conn *)(uintptr_t)(evs[i].data.u64 & ~(uint64_t)1);
			ssize_t r = read(c->fd, c->req + c->have, REQ_MAX - c->have);

			if (r > 0) {
				c->have += (size_t)r;
				if (serve(c))
					continue;
			} else if (r < 0 && errno == EAGAIN) {
				continue;
			}
			epoll_ctl(ep, EPOLL_CTL_DEL, c->fd, NULL);
			close(c->fd);
			free(c);
		}
	}
}
