/* SPDX-License-Identifier: Apache-2.0 */
/* core/http_client against an in-process libmicrohttpd server on
 * 127.0.0.1 (plain and TLS with a certgen-made pair): buffering, caps,
 * streaming, the stop flag, timeouts, TLS verification and input checks. */
#include "../../core/certgen.h"
#include "../../core/http_client.h"
#include "test.h"

#include <arpa/inet.h>
#include <microhttpd.h>
#include <netinet/in.h>
#include <pthread.h>
#include <stdatomic.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

static atomic_bool quit;

struct conn {
	struct buf body;
};

/* /slow: a line every 50 ms until quit, like a watch stream. */
static ssize_t slow_reader(void *cls, uint64_t pos, char *buf, size_t max)
{
	(void)cls;
	if (atomic_load(&quit) || pos > 100000)
		return MHD_CONTENT_READER_END_OF_STREAM;
	test_sleep_ms(50);
	return snprintf(buf, max, "{\"type\":\"ADDED\",\"n\":%llu}\n", (unsigned long long)pos);
}

static enum MHD_Result reply(struct MHD_Connection *c, unsigned code, const char *type, const char *body)
{
	struct MHD_Response *r = MHD_create_response_from_buffer(strlen(body), (void *)body, MHD_RESPMEM_MUST_COPY);
	enum MHD_Result ret;

	MHD_add_response_header(r, "Content-Type", type);
	ret = MHD_queue_response(c, code, r);
	MHD_destroy_response(r);
	return ret;
}

static enum MHD_Result handler(void *cls, struct MHD_Connection *c, const char *url, const char *method,
			       const char *version, const char *data, size_t *size, void **state)
{
	struct conn *st = *state;

	(void)cls, (void)version;
	if (!st) {
		st = calloc(1, sizeof *st);
		buf_init(&st->body, 1 << 20);
		*state = st;
		return MHD_YES;
	}
	if (*size) {
		if (buf_append(&st->body, data, *size))
			return MHD_NO;
		*size = 0;
		return MHD_YES;
	}
	if (strcmp(url, "/json") == 0)
		return reply(c, 200, "application/json", "{\"ok\":true}");
	if (strcmp(url, "/missing") == 0)
		return reply(c, 404, "application/json", "{\"kind\":\"Status\"}");
	if (strcmp(url, "/big") == 0) {
		char big[101];

		memset(big, 'x', 100);
		big[100] = '\0';
		return reply(c, 200, "text/plain", big);
	}
	if (strcmp(url, "/echo") == 0) {
		const char *ct = MHD_lookup_connection_value(c, MHD_HEADER_KIND, "Content-Type");
		const char *auth = MHD_lookup_connection_value(c, MHD_HEADER_KIND, "Authorization");
		const char *acc = MHD_lookup_connection_value(c, MHD_HEADER_KIND, "Accept");
		const char *x = MHD_lookup_connection_value(c, MHD_HEADER_KIND, "X-Test");
		const char *ua = MHD_lookup_connection_value(c, MHD_HEADER_KIND, "User-Agent");
		char out[2048];

		snprintf(out, sizeof out, "%s|%s|%s|%s|%s|%.8s|%s", method, ct ? ct : "-", auth ? auth : "-",
			 acc ? acc : "-", x ? x : "-", ua ? ua : "-", st->body.data ? st->body.data : "");
		return reply(c, 200, "text/plain", out);
	}
	if (strcmp(url, "/slow") == 0) {
		struct MHD_Response *r = MHD_create_response_from_callback(MHD_SIZE_UNKNOWN, 256, slow_reader,
									   NULL, NULL);
		enum MHD_Result ret = MHD_queue_response(c, 200, r);

		MHD_destroy_response(r);
		return ret;
	}
	if (strcmp(url, "/hang") == 0) {
		for (int i = 0; i < 100 && !atomic_load(&quit); i++)
			test_sleep_ms(50);
		return reply(c, 200, "text/plain", "late");
	}
	return reply(c, 404, "text/plain", "no such path");
}

static void completed(void *cls, struct MHD_Connection *c, void **state, enum MHD_RequestTerminationCode t)
{
	struct conn *st = *state;

	(void)cls, (void)c, (void)t;
	if (st) {
		buf_release(&st->body);
		free(st);
		*state = NULL;
	}
}

static struct MHD_Daemon *start(const struct certgen_bundle *tls, int *port)
{
	struct sockaddr_in a = {.sin_family = AF_INET};
	unsigned flags = MHD_USE_THREAD_PER_CONNECTION | MHD_USE_INTERNAL_POLLING_THREAD;
	struct MHD_Daemon *d;
	const union MHD_DaemonInfo *info;

	a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	atomic_store(&quit, false);
	if (tls)
		d = MHD_start_daemon(flags | MHD_USE_TLS, 0, NULL, NULL, handler, NULL, MHD_OPTION_SOCK_ADDR, &a,
				     MHD_OPTION_NOTIFY_COMPLETED, completed, NULL, MHD_OPTION_HTTPS_MEM_KEY,
				     tls->tls_key, MHD_OPTION_HTTPS_MEM_CERT, tls->tls_crt, MHD_OPTION_END);
	else
		d = MHD_start_daemon(flags, 0, NULL, NULL, handler, NULL, MHD_OPTION_SOCK_ADDR, &a,
				     MHD_OPTION_NOTIFY_COMPLETED, completed, NULL, MHD_OPTION_END);
	info = d ? MHD_get_daemon_info(d, MHD_DAEMON_INFO_BIND_PORT) : NULL;
	*port = info ? info->port : 0;
	return d;
}

static void stop(struct MHD_Daemon *d)
{
	atomic_store(&quit, true);
	if (d)
		MHD_stop_daemon(d);
}

static struct MHD_Daemon *plain;
static int plain_port;

static void url(char *out, size_t len, const char *scheme, int port, const char *path)
{
	snprintf(out, len, "%s://127.0.0.1:%d%s", scheme, port, path);
}

static void test_buffered(void)
{
	struct http_client *c;
	struct http_response resp;
	struct http_request req = {0};
	struct pt_error e = {0};
	char u[128];
	const char *hdrs[] = {"X-Test: yes"};

	plain = start(NULL, &plain_port);
	CHECK(plain != NULL);
	c = http_client_new(&e);
	CHECK(c != NULL);
	http_response_init(&resp, 0);
	url(u, sizeof u, "http", plain_port, "/json");
	req.url = u;
	CHECK_INT(http_client_do(c, &req, &resp, &e), PT_OK);
	CHECK_INT(resp.status, 200);
	CHECK_STR(resp.body.data, "{\"ok\":true}");
	CHECK_STR(resp.content_type, "application/json");

	/* A status is not a failure here. */
	url(u, sizeof u, "http", plain_port, "/missing");
	CHECK_INT(http_client_do(c, &req, &resp, &e), PT_OK);
	CHECK_INT(resp.status, 404);
	CHECK_STR(resp.body.data, "{\"kind\":\"Status\"}");

	/* Method, body, content type, token, Accept and extra headers arrive. */
	url(u, sizeof u, "http", plain_port, "/echo");
	req.method = "PATCH";
	req.body = "[{\"op\":\"test\"}]";
	req.body_len = strlen(req.body);
	req.content_type = "application/json-patch+json";
	req.bearer_token = "s3cret";
	req.headers = hdrs;
	req.n_headers = 1;
	CHECK_INT(http_client_do(c, &req, &resp, &e), PT_OK);
	CHECK_STR(resp.body.data,
		  "PATCH|application/json-patch+json|Bearer s3cret|application/json|yes|podtuner|[{\"op\":\"test\"}]");
	/* DELETE without a body, on the same (reused) client. */
	memset(&req, 0, sizeof req);
	req.url = u;
	req.method = "DELETE";
	CHECK_INT(http_client_do(c, &req, &resp, &e), PT_OK);
	CHECK_STR(resp.body.data, "DELETE|-|-|application/json|-|podtuner|");

	/* The cap. */
	memset(&req, 0, sizeof req);
	url(u, sizeof u, "http", plain_port, "/big");
	req.url = u;
	req.max_response = 99;
	CHECK_INT(http_client_do(c, &req, &resp, &e), PT_LIMIT);
	CHECK_CONTAINS(e.msg, "cannot GET 'http://127.0.0.1:");
	CHECK_CONTAINS(e.msg, "/big': the response exceeds the limit of 99 bytes");
	req.max_response = 100;
	CHECK_INT(http_client_do(c, &req, &resp, &e), PT_OK);
	CHECK_INT(resp.body.len, 100);

	http_response_release(&resp);
	http_client_free(c);
	http_client_free(NULL);
}

struct sink {
	struct buf got;
	int chunks;
	int stop_after;
	long status;
};

static enum pt_code on_chunk(void *ud, long status, const char *data, size_t len, struct pt_error *e)
{
	struct sink *s = ud;

	s->status = status;
	s->chunks++;
	if (buf_append(&s->got, data, len))
		return pt_error_set(e, PT_LIMIT, "sink full");
	if (s->stop_after && s->chunks >= s->stop_after)
		return pt_error_set(e, PT_GONE, "watch ended by the receiver after %d chunks", s->chunks);
	return PT_OK;
}

static atomic_bool flag;

static void *raise_flag(void *arg)
{
	(void)arg;
	test_sleep_ms(300);
	atomic_store(&flag, true);
	return NULL;
}

static void test_streaming(void)
{
	struct http_client *c;
	struct http_response resp;
	struct http_request req = {0};
	struct pt_error e = {0};
	struct sink s = {0};
	struct timespec t0, t1;
	pthread_t th;
	char u[128];

	c = http_client_new(&e);
	http_response_init(&resp, 0);
	buf_init(&s.got, 1 << 20);
	url(u, sizeof u, "http", plain_port, "/json");
	req.url = u;
	req.on_chunk = on_chunk;
	req.ud = &s;
	CHECK_INT(http_client_do(c, &req, &resp, &e), PT_OK);
	CHECK_STR(s.got.data, "{\"ok\":true}");
	CHECK_INT(s.status, 200);
	CHECK_INT(resp.body.len, 0); /* streamed, not buffered */

	/* The receiver ends a stream. */
	buf_reset(&s.got);
	s.chunks = 0;
	s.stop_after = 3;
	url(u, sizeof u, "http", plain_port, "/slow");
	req.timeout_ms = -1;
	CHECK_INT(http_client_do(c, &req, &resp, &e), PT_GONE);
	CHECK_STR(e.msg, "watch ended by the receiver after 3 chunks");
	CHECK_CONTAINS(s.got.data, "{\"type\":\"ADDED\",\"n\":0}\n");

	/* The stop flag ends an endless stream within about a second. */
	s.stop_after = 0;
	atomic_store(&flag, false);
	req.stop = &flag;
	clock_gettime(CLOCK_MONOTONIC, &t0);
	pthread_create(&th, NULL, raise_flag, NULL);
	CHECK_INT(http_client_do(c, &req, &resp, &e), PT_AGAIN);
	pthread_join(th, NULL);
	clock_gettime(CLOCK_MONOTONIC, &t1);
	CHECK_CONTAINS(e.msg, "/slow': interrupted by the stop flag");
	CHECK((t1.tv_sec - t0.tv_sec) * 1000 + (t1.tv_nsec - t0.tv_nsec) / 1000000 < 2500);
	CHECK(s.chunks > 0);

	/* A total timeout. */
	memset(&req, 0, sizeof req);
	url(u, sizeof u, "http", plain_port, "/hang");
	req.url = u;
	req.timeout_ms = 300;
	CHECK_INT(http_client_do(c, &req, &resp, &e), PT_TIMEOUT);
	CHECK_CONTAINS(e.msg, "(CURLE_OPERATION_TIMEDOUT)");

	buf_release(&s.got);
	http_response_release(&resp);
	http_client_free(c);
	stop(plain);
}

static void test_tls(void)
{
	struct certgen_request r;
	struct certgen_bundle b = {0}, other = {0};
	struct http_client *c;
	struct http_response resp;
	struct http_request req = {0};
	struct pt_error e = {0};
	struct MHD_Daemon *d;
	char u[128], cafile[64];
	int port;
	FILE *f;

	certgen_request_init(&r);
	r.service = "x";
	r.namespace = "y";
	{
		static const char *ips[] = {"127.0.0.1"};

		r.ips = ips;
		r.n_ips = 1;
	}
	CHECK_INT(certgen_generate(&r, &b, &e), PT_OK);
	CHECK_INT(certgen_generate(&r, &other, &e), PT_OK);
	d = start(&b, &port);
	CHECK(d != NULL);
	c = http_client_new(&e);
	http_response_init(&resp, 0);
	url(u, sizeof u, "https", port, "/json");
	req.url = u;
	req.ca_pem = b.ca_crt;
	req.ca_pem_len = b.ca_crt_len;
	CHECK_INT(http_client_do(c, &req, &resp, &e), PT_OK);
	CHECK_STR(resp.body.data, "{\"ok\":true}");

	/* Another CA: verification fails, with curl's reason. */
	req.ca_pem = other.ca_crt;
	req.ca_pem_len = other.ca_crt_len;
	CHECK_INT(http_client_do(c, &req, &resp, &e), PT_TLS);
	CHECK_CONTAINS(e.msg, "cannot GET 'https://127.0.0.1:");
	CHECK_CONTAINS(e.msg, "SSL certificate problem: ");
	CHECK_CONTAINS(e.msg, "(CURLE_PEER_FAILED_VERIFICATION)");
	/* No CA at all: the system store does not know ours either. */
	req.ca_pem = NULL;
	CHECK_INT(http_client_do(c, &req, &resp, &e), PT_TLS);
	req.insecure = true;
	CHECK_INT(http_client_do(c, &req, &resp, &e), PT_OK);
	req.insecure = false;

	/* A CA file. */
	snprintf(cafile, sizeof cafile, "/tmp/http_client_test.%d.crt", (int)getpid());
	f = fopen(cafile, "w");
	CHECK(f != NULL);
	if (f) {
		fputs(b.ca_crt, f);
		fclose(f);
	}
	req.ca_file = cafile;
	CHECK_INT(http_client_do(c, &req, &resp, &e), PT_OK);
	unlink(cafile);
	req.ca_file = "/nonexistent/ca.crt";
	CHECK_INT(http_client_do(c, &req, &resp, &e), PT_TLS);
	CHECK_CONTAINS(e.msg, "(CURLE_SSL_CACERT_BADFILE)");

	/* A client certificate pair is handed to TLS (the server does not ask
	 * for one, so it only has to load). A key that does not match fails. */
	req.ca_file = NULL;
	req.ca_pem = b.ca_crt;
	req.ca_pem_len = b.ca_crt_len;
	req.cert_pem = other.tls_crt;
	req.cert_pem_len = other.tls_crt_len;
	req.key_pem = other.tls_key;
	req.key_pem_len = other.tls_key_len;
	CHECK_INT(http_client_do(c, &req, &resp, &e), PT_OK);
	req.key_pem = b.tls_key;
	req.key_pem_len = b.tls_key_len;
	/* A new client: libcurl may reuse a live connection whose TLS session
	 * was set up with the earlier key. */
	http_client_free(c);
	c = http_client_new(&e);
	CHECK_INT(http_client_do(c, &req, &resp, &e), PT_TLS);
	CHECK_CONTAINS(e.msg, "(CURLE_SSL_CERTPROBLEM)");

	http_response_release(&resp);
	http_client_free(c);
	stop(d);
	certgen_bundle_release(&b);
	certgen_bundle_release(&other);
}

static void test_bad_requests(void)
{
	struct http_client *c;
	struct http_response resp;
	struct http_request req = {0};
	struct pt_error e = {0};
	const char *crlf[] = {"X-A: b\r\nX-Injected: 1"};
	const char *many[HTTP_MAX_HEADERS + 1];
	char u[128];
	int port;

	c = http_client_new(&e);
	http_response_init(&resp, 0);
	req.url = "ftp://127.0.0.1/x";
	CHECK_INT(http_client_do(c, &req, &resp, &e), PT_INVALID);
	CHECK_STR(e.msg, "cannot GET 'ftp://127.0.0.1/x': only http:// and https:// URLs are supported");
	req.url = "http://127.0.0.1/a b";
	CHECK_INT(http_client_do(c, &req, &resp, &e), PT_INVALID);
	req.url = "http://127.0.0.1/";
	req.method = "get";
	CHECK_INT(http_client_do(c, &req, &resp, &e), PT_INVALID);
	CHECK_STR(e.msg, "invalid HTTP method 'get'");
	req.method = NULL;
	req.headers = crlf;
	req.n_headers = 1;
	CHECK_INT(http_client_do(c, &req, &resp, &e), PT_INVALID);
	CHECK_CONTAINS(e.msg, "header 0 is not one 'Name: value' line");
	for (size_t i = 0; i < HTTP_MAX_HEADERS + 1; i++)
		many[i] = "X-A: b";
	req.headers = many;
	req.n_headers = HTTP_MAX_HEADERS + 1;
	CHECK_INT(http_client_do(c, &req, &resp, &e), PT_LIMIT);
	req.n_headers = 0;
	req.bearer_token = "tok\nen";
	CHECK_INT(http_client_do(c, &req, &resp, &e), PT_INVALID);
	CHECK_CONTAINS(e.msg, "the bearer token is empty or contains a line break");
	req.bearer_token = NULL;
	req.ca_file = "/x";
	req.ca_pem = "y";
	CHECK_INT(http_client_do(c, &req, &resp, &e), PT_INVALID);
	req.ca_file = req.ca_pem = NULL;
	req.cert_pem = "c";
	CHECK_INT(http_client_do(c, &req, &resp, &e), PT_INVALID);
	CHECK_CONTAINS(e.msg, "needs exactly one certificate and one key");
	req.cert_pem = NULL;

	/* Nothing listens: a transport error with curl's words. */
	{
		struct sockaddr_in a = {.sin_family = AF_INET};
		socklen_t len = sizeof a;
		int fd = socket(AF_INET, SOCK_STREAM, 0);

		a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
		bind(fd, (struct sockaddr *)&a, sizeof a);
		getsockname(fd, (struct sockaddr *)&a, &len);
		port = ntohs(a.sin_port);
		close(fd);
	}
	url(u, sizeof u, "http", port, "/");
	req.url = u;
	CHECK_INT(http_client_do(c, &req, &resp, &e), PT_IO);
	CHECK_CONTAINS(e.msg, "(CURLE_COULDNT_CONNECT)");
	CHECK_INT(resp.status, 0);

	CHECK_STR(http_curl_code_name(7), "CURLE_COULDNT_CONNECT");
	CHECK_STR(http_curl_code_name(9999), "CURLE_9999");
	http_response_release(&resp);
	http_client_free(c);
}

TEST_MAIN(test_buffered, test_streaming, test_tls, test_bad_requests)
