/* SPDX-License-Identifier: Apache-2.0 */
/* libcurl easy-interface client. A handle is reset (not recreated) between
 * requests, which keeps its live connections and TLS sessions. Only http
 * and https are allowed and redirects are never followed, so a bearer
 * token cannot be sent anywhere but the URL the caller chose. */
#include "http_client.h"
#include "version.h"

#include <pthread.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <curl/curl.h>


#define MAX_METHOD_LEN 16

struct http_client {
	CURL *curl;
	char errbuf[CURL_ERROR_SIZE];
};

/* State of one transfer, shared with libcurl's callbacks. */
struct xfer {
	CURL *curl;
	const struct http_request *req;
	struct http_response *resp;
	size_t max;
	bool over_limit;
	bool stopped;
	enum pt_code cb_rc;      /* a callback's failure */
	struct pt_error cb_err;  /* and its detail */
};

static pthread_once_t global_once = PTHREAD_ONCE_INIT;
static CURLcode global_rc = CURLE_FAILED_INIT;

static void global_init_once(void)
{
	global_rc = curl_global_init(CURL_GLOBAL_DEFAULT);
}

enum pt_code http_global_init(struct pt_error *e)
{
	pthread_once(&global_once, global_init_once);
	if (global_rc != CURLE_OK)
		return pt_error_set(e, PT_IO, "cannot initialise libcurl: %s (%s)",
				    curl_easy_strerror(global_rc), http_curl_code_name(global_rc));
	return PT_OK;
}

const char *http_curl_code_name(int code)
{
	static _Thread_local char other[32];

	switch (code) {
#define N(x) \
	case x: return #x;
		N(CURLE_OK) N(CURLE_UNSUPPORTED_PROTOCOL) N(CURLE_FAILED_INIT) N(CURLE_URL_MALFORMAT)
		N(CURLE_COULDNT_RESOLVE_PROXY) N(CURLE_COULDNT_RESOLVE_HOST) N(CURLE_COULDNT_CONNECT)
		N(CURLE_WEIRD_SERVER_REPLY) N(CURLE_HTTP2) N(CURLE_PARTIAL_FILE)
		N(CURLE_HTTP_RETURNED_ERROR) N(CURLE_WRITE_ERROR) N(CURLE_READ_ERROR)
		N(CURLE_OUT_OF_MEMORY) N(CURLE_OPERATION_TIMEDOUT) N(CURLE_RANGE_ERROR)
		N(CURLE_SSL_CONNECT_ERROR) N(CURLE_ABORTED_BY_CALLBACK) N(CURLE_TOO_MANY_REDIRECTS)
		N(CURLE_GOT_NOTHING) N(CURLE_SSL_ENGINE_NOTFOUND) N(CURLE_SEND_ERROR)
		N(CURLE_RECV_ERROR) N(CURLE_SSL_CERTPROBLEM) N(CURLE_SSL_CIPHER)
		N(CURLE_PEER_FAILED_VERIFICATION) N(CURLE_BAD_CONTENT_ENCODING)
		N(CURLE_FILESIZE_EXCEEDED) N(CURLE_SSL_CACERT_BADFILE) N(CURLE_SSL_SHUTDOWN_FAILED)
		N(CURLE_AGAIN) N(CURLE_SSL_CRL_BADFILE) N(CURLE_SSL_ISSUER_ERROR) N(CURLE_HTTP2_STREAM)
		N(CURLE_SSL_INVALIDCERTSTATUS) N(CURLE_HTTP3) N(CURLE_PROXY) N(CURLE_SSL_CLIENTCERT)
		N(CURLE_UNRECOVERABLE_POLL) N(CURLE_BAD_FUNCTION_ARGUMENT) N(CURLE_UNKNOWN_OPTION)
		N(CURLE_NOT_BUILT_IN) N(CURLE_INTERFACE_FAILED)
#undef N
	default:
		snprintf(other, sizeof other, "CURLE_%d", code);
		return other;
	}
}

static enum pt_code code_of(CURLcode res)
{
	switch (res) {
	case CURLE_OPERATION_TIMEDOUT:
		return PT_TIMEOUT;
	case CURLE_SSL_CONNECT_ERROR: case CURLE_PEER_FAILED_VERIFICATION:
	case CURLE_SSL_CERTPROBLEM: case CURLE_SSL_CIPHER: case CURLE_SSL_CACERT_BADFILE:
	case CURLE_SSL_ISSUER_ERROR: case CURLE_SSL_CRL_BADFILE: case CURLE_SSL_ENGINE_NOTFOUND:
	case CURLE_SSL_INVALIDCERTSTATUS: case CURLE_SSL_CLIENTCERT: case CURLE_SSL_SHUTDOWN_FAILED:
		return PT_TLS;
	case CURLE_OUT_OF_MEMORY:
		return PT_NOMEM;
	case CURLE_URL_MALFORMAT: case CURLE_UNSUPPORTED_PROTOCOL: case CURLE_BAD_FUNCTION_ARGUMENT:
		return PT_INVALID;
	case CURLE_NOT_BUILT_IN: case CURLE_UNKNOWN_OPTION:
		return PT_UNSUPPORTED;
	default:
		return PT_IO;
	}
}

void http_response_init(struct http_response *r, size_t max)
{
	r->status = 0;
	r->content_type[0] = '\0';
	buf_init(&r->body, max ? max : HTTP_DEFAULT_MAX_RESPONSE);
}

void http_response_release(struct http_response *r)
{
	buf_release(&r->body);
	r->status = 0;
	r->content_type[0] = '\0';
}

struct http_client *http_client_new(struct pt_error *e)
{
	struct http_client *c;

	if (http_global_init(e))
		return NULL;
	c = calloc(1, sizeof *c);
	if (!c) {
		pt_error_set(e, PT_NOMEM, "cannot allocate an HTTP client: out of memory");
		return NULL;
	}
	c->curl = curl_easy_init();
	if (!c->curl) {
		free(c);
		pt_error_set(e, PT_NOMEM, "cannot create a libcurl handle (curl_easy_init)");
		return NULL;
	}
	return c;
}

void http_client_free(struct http_client *c)
{
	if (!c)
		return;
	curl_easy_cleanup(c->curl);
	free(c);
}

static size_t on_write(char *p, size_t size, size_t nmemb, void *ud)
{
	struct xfer *x = ud;
	size_t n = size * nmemb;
	enum pt_code rc;

	if (x->req->on_chunk) {
		long status = 0;

		curl_easy_getinfo(x->curl, CURLINFO_RESPONSE_CODE, &status);
		rc = x->req->on_chunk(x->req->ud, status, p, n, &x->cb_err);
		if (rc != PT_OK) {
			x->cb_rc = rc;
			return 0; /* anything short of n aborts the transfer */
		}
		return n;
	}
	if (n > x->max - x->resp->body.len) {
		x->over_limit = true;
		return 0;
	}
	if ((rc = buf_append(&x->resp->body, p, n))) {
		x->cb_rc = rc;
		pt_error_set(&x->cb_err, rc, "cannot store the response: %s", pt_strerror(rc));
		return 0;
	}
	return n;
}

static int on_progress(void *ud, curl_off_t dltotal, curl_off_t dlnow, curl_off_t ultotal,
		       curl_off_t ulnow)
{
	struct xfer *x = ud;

	(void)dltotal, (void)dlnow, (void)ultotal, (void)ulnow;
	if (x->req->stop && atomic_load(x->req->stop)) {
		x->stopped = true;
		return 1;
	}
	return 0;
}

static bool has_crlf(const char *s)
{
	return strpbrk(s, "\r\n") != NULL;
}

static enum pt_code check_request(const struct http_request *req, struct pt_error *e)
{
	const char *m = req->method ? req->method : "GET";
	size_t mlen = strlen(m);

	if (mlen == 0 || mlen > MAX_METHOD_LEN || strspn(m, "ABCDEFGHIJKLMNOPQRSTUVWXYZ") != mlen)
		return pt_error_set(e, PT_INVALID, "invalid HTTP method '%.*s'", MAX_METHOD_LEN, m);
	if (!req->url || (strncmp(req->url, "https://", 8) != 0 && strncmp(req->url, "http://", 7) != 0))
		return pt_error_set(e, PT_INVALID, "cannot %s '%s': only http:// and https:// URLs are supported",
				    m, req->url ? req->url : "");
	if (has_crlf(req->url) || strchr(req->url, ' '))
		return pt_error_set(e, PT_INVALID, "cannot %s: the URL contains a space or a line break", m);
	if (req->n_headers > HTTP_MAX_HEADERS)
		return pt_error_set(e, PT_LIMIT, "cannot %s '%s': %zu headers exceed the limit of %d", m,
				    req->url, req->n_headers, HTTP_MAX_HEADERS);
	for (size_t i = 0; i < req->n_headers; i++)
		if (!req->headers[i] || has_crlf(req->headers[i]) || !strchr(req->headers[i], ':') ||
		    strlen(req->headers[i]) > HTTP_MAX_HEADER_LEN)
			return pt_error_set(e, PT_INVALID, "cannot %s '%s': header %zu is not one 'Name: value' line",
					    m, req->url, i);
	if ((req->content_type && has_crlf(req->content_type)) || (req->accept && has_crlf(req->accept)))
		return pt_error_set(e, PT_INVALID, "cannot %s '%s': a media type contains a line break", m,
				    req->url);
	if (req->bearer_token && (has_crlf(req->bearer_token) || !req->bearer_token[0]))
		return pt_error_set(e, PT_INVALID,
				    "cannot %s '%s': the bearer token is empty or contains a line break", m,
				    req->url);
	if (req->ca_file && req->ca_pem)
		return pt_error_set(e, PT_INVALID, "cannot %s '%s': both a CA file and CA data were given",
				    m, req->url);
	if ((req->cert_file && req->cert_pem) || (req->key_file && req->key_pem) ||
	    (!(req->cert_file || req->cert_pem) != !(req->key_file || req->key_pem)))
		return pt_error_set(e, PT_INVALID,
				    "cannot %s '%s': a client certificate needs exactly one certificate and one key",
				    m, req->url);
	return PT_OK;
}

/* Append one header, formatted, to the list. */
PT_PRINTF(3, 4)
static bool add_header(struct curl_slist **list, char *scratch, const char *fmt, ...)
{
	struct curl_slist *l;
	va_list ap;
	int n;

	va_start(ap, fmt);
	n = vsnprintf(scratch, HTTP_MAX_HEADER_LEN + 1, fmt, ap);
	va_end(ap);
	if (n < 0 || n > HTTP_MAX_HEADER_LEN)
		return false;
	l = curl_slist_append(*list, scratch);
	if (!l)
		return false;
	*list = l;
	return true;
}

static CURLcode set_tls(CURL *h, const struct http_request *req)
{
	CURLcode res = CURLE_OK;
	struct curl_blob blob;

	/* Debian's libcurl is built with --with-ca-path=/etc/ssl/certs
	 * (curl-config --configure), which would add every public CA to a
	 * cluster CA: clear the path whenever a CA is given. */
	if (req->ca_pem) {
		blob.data = (void *)req->ca_pem;
		blob.len = req->ca_pem_len;
		blob.flags = CURL_BLOB_COPY;
		if ((res = curl_easy_setopt(h, CURLOPT_CAINFO_BLOB, &blob)) ||
		    (res = curl_easy_setopt(h, CURLOPT_CAINFO, NULL)) ||
		    (res = curl_easy_setopt(h, CURLOPT_CAPATH, NULL)))
			return res;
	} else if (req->ca_file) {
		if ((res = curl_easy_setopt(h, CURLOPT_CAINFO, req->ca_file)) ||
		    (res = curl_easy_setopt(h, CURLOPT_CAPATH, NULL)))
			return res;
	}
	if (req->insecure &&
	    ((res = curl_easy_setopt(h, CURLOPT_SSL_VERIFYPEER, 0L)) ||
	     (res = curl_easy_setopt(h, CURLOPT_SSL_VERIFYHOST, 0L))))
		return res;
	if (req->cert_pem) {
		blob.data = (void *)req->cert_pem;
		blob.len = req->cert_pem_len;
		blob.flags = CURL_BLOB_COPY;
		if ((res = curl_easy_setopt(h, CURLOPT_SSLCERT_BLOB, &blob)))
			return res;
	} else if (req->cert_file && (res = curl_easy_setopt(h, CURLOPT_SSLCERT, req->cert_file))) {
		return res;
	}
	if (req->key_pem) {
		blob.data = (void *)req->key_pem;
		blob.len = req->key_pem_len;
		blob.flags = CURL_BLOB_COPY;
		if ((res = curl_easy_setopt(h, CURLOPT_SSLKEY_BLOB, &blob)))
			return res;
	} else if (req->key_file && (res = curl_easy_setopt(h, CURLOPT_SSLKEY, req->key_file))) {
		return res;
	}
	if (req->cert_pem || req->cert_file) {
		if ((res = curl_easy_setopt(h, CURLOPT_SSLCERTTYPE, "PEM")) ||
		    (res = curl_easy_setopt(h, CURLOPT_SSLKEYTYPE, "PEM")))
			return res;
	}
	return curl_easy_setopt(h, CURLOPT_SSLVERSION, (long)CURL_SSLVERSION_TLSv1_2);
}

const char *http_user_agent(void)
{
	static _Thread_local char ua[96];

	/* libcurl copies the strings it is given (curl_easy_setopt(3)). */
	snprintf(ua, sizeof ua, "podtuner/%s", pt_version);
	return ua;
}

enum pt_code http_client_do(struct http_client *c, const struct http_request *req,
			    struct http_response *resp, struct pt_error *e)
{
	const char *method = req->method ? req->method : "GET";
	struct curl_slist *headers = NULL;
	struct xfer x = {0};
	char *scratch = NULL;
	enum pt_code rc;
	CURLcode res;
	CURL *h = c->curl;
	long timeout;
	char *ctype = NULL;

	if ((rc = check_request(req, e)))
		return rc;
	scratch = malloc(HTTP_MAX_HEADER_LEN + 1);
	if (!scratch)
		return pt_error_set(e, PT_NOMEM, "cannot %s '%s': out of memory", method, req->url);
	x.curl = h;
	x.req = req;
	x.resp = resp;
	x.max = req->max_response ? req->max_response : resp->body.max;
	if (x.max > resp->body.max)
		resp->body.max = x.max;
	resp->status = 0;
	resp->content_type[0] = '\0';
	buf_reset(&resp->body);

	/* Headers: no "Expect: 100-continue" (a round trip for nothing on a
	 * small body), then ours, then the caller's. */
	bool ok = add_header(&headers, scratch, "Expect:") &&
		  add_header(&headers, scratch, "Accept: %s", req->accept ? req->accept : "application/json") &&
		  (!req->content_type || add_header(&headers, scratch, "Content-Type: %s", req->content_type)) &&
		  (!req->bearer_token || add_header(&headers, scratch, "Authorization: Bearer %s", req->bearer_token));
	for (size_t i = 0; ok && i < req->n_headers; i++)
		ok = add_header(&headers, scratch, "%s", req->headers[i]);
	if (!ok) {
		rc = pt_error_set(e, PT_NOMEM, "cannot %s '%s': cannot build the headers", method, req->url);
		goto out;
	}

	timeout = req->timeout_ms == 0 ? HTTP_DEFAULT_TIMEOUT_MS : req->timeout_ms < 0 ? 0 : req->timeout_ms;
	curl_easy_reset(h);
	c->errbuf[0] = '\0';
	res = curl_easy_setopt(h, CURLOPT_ERRORBUFFER, c->errbuf);
	if (!res) res = curl_easy_setopt(h, CURLOPT_URL, req->url);
	if (!res) res = curl_easy_setopt(h, CURLOPT_PROTOCOLS_STR, "http,https");
	if (!res) res = curl_easy_setopt(h, CURLOPT_FOLLOWLOCATION, 0L);
	if (!res) res = curl_easy_setopt(h, CURLOPT_NOSIGNAL, 1L);
	/* HTTP/1.1 keeps a watch a plain chunked stream, and is what every
	 * Kubernetes API endpoint serves. */
	if (!res) res = curl_easy_setopt(h, CURLOPT_HTTP_VERSION, (long)CURL_HTTP_VERSION_1_1);
	if (!res) res = curl_easy_setopt(h, CURLOPT_USERAGENT, http_user_agent());
	if (!res) res = curl_easy_setopt(h, CURLOPT_HTTPHEADER, headers);
	if (!res) res = curl_easy_setopt(h, CURLOPT_CONNECTTIMEOUT_MS,
					 req->connect_timeout_ms > 0 ? req->connect_timeout_ms
								     : (long)HTTP_DEFAULT_CONNECT_TIMEOUT_MS);
	if (!res) res = curl_easy_setopt(h, CURLOPT_TIMEOUT_MS, timeout);
	if (!res) res = curl_easy_setopt(h, CURLOPT_TCP_KEEPALIVE, 1L);
	if (!res) res = curl_easy_setopt(h, CURLOPT_TCP_KEEPIDLE, 30L);
	if (!res) res = curl_easy_setopt(h, CURLOPT_TCP_KEEPINTVL, 15L);
	if (!res) res = curl_easy_setopt(h, CURLOPT_WRITEFUNCTION, on_write);
	if (!res) res = curl_easy_setopt(h, CURLOPT_WRITEDATA, &x);
	if (!res && req->stop) {
		res = curl_easy_setopt(h, CURLOPT_XFERINFOFUNCTION, on_progress);
		if (!res) res = curl_easy_setopt(h, CURLOPT_XFERINFODATA, &x);
		if (!res) res = curl_easy_setopt(h, CURLOPT_NOPROGRESS, 0L);
	}
	if (!res) {
		if (strcmp(method, "GET") == 0 && !req->body) {
			res = curl_easy_setopt(h, CURLOPT_HTTPGET, 1L);
		} else {
			res = curl_easy_setopt(h, CURLOPT_CUSTOMREQUEST, method);
			if (!res && (req->body || strcmp(method, "DELETE") != 0)) {
				res = curl_easy_setopt(h, CURLOPT_POSTFIELDSIZE_LARGE, (curl_off_t)req->body_len);
				if (!res) res = curl_easy_setopt(h, CURLOPT_POSTFIELDS, req->body ? req->body : "");
			}
		}
	}
	if (!res) res = set_tls(h, req);
	if (res) {
		rc = pt_error_set(e, code_of(res), "cannot %s '%s': cannot set up libcurl: %s (%s)", method,
				  req->url, curl_easy_strerror(res), http_curl_code_name(res));
		goto out;
	}

	res = curl_easy_perform(h);
	curl_easy_getinfo(h, CURLINFO_RESPONSE_CODE, &resp->status);
	if (curl_easy_getinfo(h, CURLINFO_CONTENT_TYPE, &ctype) == CURLE_OK && ctype)
		snprintf(resp->content_type, sizeof resp->content_type, "%s", ctype);
	if (res == CURLE_OK) {
		rc = PT_OK;
	} else if (x.stopped) {
		rc = pt_error_set(e, PT_AGAIN, "cannot %s '%s': interrupted by the stop flag", method, req->url);
	} else if (x.cb_rc) {
		rc = x.cb_rc;
		if (x.cb_err.msg[0]) {
			if (e)
				*e = x.cb_err;
		} else {
			pt_error_set(e, rc, "transfer of '%s' stopped by the receiver: %s", req->url,
				     pt_strerror(rc));
		}
	} else if (x.over_limit) {
		rc = pt_error_set(e, PT_LIMIT, "cannot %s '%s': the response exceeds the limit of %zu bytes",
				  method, req->url, x.max);
	} else {
		rc = pt_error_set(e, code_of(res), "cannot %s '%s': %s (%s)", method, req->url,
				  c->errbuf[0] ? c->errbuf : curl_easy_strerror(res), http_curl_code_name(res));
	}
out:
	/* The handle must not keep pointers into this call's memory. */
	curl_easy_setopt(h, CURLOPT_HTTPHEADER, NULL);
	curl_easy_setopt(h, CURLOPT_ERRORBUFFER, NULL);
	curl_slist_free_all(headers);
	free(scratch);
	return rc;
}
