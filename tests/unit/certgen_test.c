/* SPDX-License-Identifier: Apache-2.0 */
/* core/certgen and `podtuner certgen --out-dir`: certificates checked by
 * independent tools (the openssl CLI, curl, a GnuTLS server through
 * libmicrohttpd), idempotency, --force, expiry and every rejection path.
 * Servers listen on 127.0.0.1 only and are stopped by pid. */
#include "../../cli/certgen.h"
#include "../../core/certgen.h"
#include "test.h"

#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <microhttpd.h>
#include <netinet/in.h>
#include <signal.h>
#include <stdarg.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

static char tmpdir[64];

/* Run a shell command (paths here are our own mkdtemp names), capture up
 * to len-1 bytes of its stdout+stderr, return its exit status. */
PT_PRINTF(3, 4)
static int run(char *out, size_t len, const char *fmt, ...)
{
	char cmd[2048];
	va_list ap;
	FILE *p;
	size_t n = 0;
	int st;

	va_start(ap, fmt);
	vsnprintf(cmd, sizeof cmd, fmt, ap);
	va_end(ap);
	p = popen(cmd, "r");
	if (!p)
		return -1;
	if (out && len) {
		n = fread(out, 1, len - 1, p);
		out[n] = '\0';
	}
	/* Drain the rest, so the command never dies of a closed pipe. */
	{
		char sink[512];

		while (fread(sink, 1, sizeof sink, p) > 0)
			;
	}
	st = pclose(p);
	return WIFEXITED(st) ? WEXITSTATUS(st) : -1;
}

static void mkdir_tmp(void)
{
	test_mkdtemp(tmpdir, sizeof tmpdir, "certgen_test");
}

static void base_request(struct certgen_request *r)
{
	static const char *ips[] = {"127.0.0.1"};

	certgen_request_init(r);
	r->service = "podtuner";
	r->namespace = "podtuner";
	r->ips = ips;
	r->n_ips = 1;
}

static void generate_into(const char *dir, enum certgen_key_type kt)
{
	struct certgen_request r;
	struct certgen_bundle b = {0};
	struct pt_error e = {0};

	base_request(&r);
	r.key_type = kt;
	CHECK_INT(certgen_generate(&r, &b, &e), PT_OK);
	CHECK_INT(certgen_write_dir(dir, &b, &e), PT_OK);
	certgen_bundle_release(&b);
}

static void test_request_check(void)
{
	static const char *bad_dns[] = {"a..b"};
	static const char *bad_ip[] = {"300.1.1.1"};
	static const char *long63 = "a23456789012345678901234567890123456789012345678901234567890123";
	struct certgen_request r;
	struct pt_error e = {0};

	base_request(&r);
	CHECK_INT(certgen_request_check(&r, &e), PT_OK);

	r.service = "Podtuner";
	CHECK_INT(certgen_request_check(&r, &e), PT_INVALID);
	CHECK_CONTAINS(e.msg, "invalid service name 'Podtuner'");
	r.service = "1pod"; /* DNS-1035: must start with a letter */
	CHECK_INT(certgen_request_check(&r, &e), PT_INVALID);
	r.service = "pod-";
	CHECK_INT(certgen_request_check(&r, &e), PT_INVALID);
	r.service = "";
	CHECK_INT(certgen_request_check(&r, &e), PT_INVALID);
	r.service = long63;
	CHECK_INT(certgen_request_check(&r, &e), PT_OK);
	r.service = "pod";
	r.namespace = "a_b";
	CHECK_INT(certgen_request_check(&r, &e), PT_INVALID);
	CHECK_CONTAINS(e.msg, "invalid namespace 'a_b'");
	r.namespace = "1ns"; /* DNS-1123 labels may start with a digit */
	CHECK_INT(certgen_request_check(&r, &e), PT_OK);

	base_request(&r);
	r.dns = bad_dns;
	r.n_dns = 1;
	CHECK_INT(certgen_request_check(&r, &e), PT_INVALID);
	CHECK_CONTAINS(e.msg, "invalid DNS name 'a..b'");
	{
		static const char *more[] = {"*.example.com", "x.y", "trailing.", "-a.b", "a b"};
		int want[] = {PT_OK, PT_OK, PT_INVALID, PT_INVALID, PT_INVALID};

		for (size_t i = 0; i < 5; i++) {
			r.dns = &more[i];
			CHECK_INT(certgen_request_check(&r, &e), want[i]);
		}
	}
	base_request(&r);
	r.ips = bad_ip;
	CHECK_INT(certgen_request_check(&r, &e), PT_INVALID);
	CHECK_CONTAINS(e.msg, "invalid IP address '300.1.1.1'");
	base_request(&r);
	r.n_dns = CERTGEN_MAX_DNS + 1;
	CHECK_INT(certgen_request_check(&r, &e), PT_LIMIT);

	base_request(&r);
	r.validity = r.ca_validity + 1;
	CHECK_INT(certgen_request_check(&r, &e), PT_RANGE);
	CHECK_CONTAINS(e.msg, "at most the CA's");
	base_request(&r);
	r.validity = 60;
	CHECK_INT(certgen_request_check(&r, &e), PT_RANGE);
	base_request(&r);
	r.renew_before = r.validity;
	CHECK_INT(certgen_request_check(&r, &e), PT_RANGE);
	CHECK_CONTAINS(e.msg, "renewal threshold");
	base_request(&r);
	r.ca_validity = CERTGEN_MAX_VALIDITY + 1;
	CHECK_INT(certgen_request_check(&r, &e), PT_RANGE);
}

static void test_openssl_cli_agrees(void)
{
	char out[16384], dir[128];
	struct stat st;

	snprintf(dir, sizeof dir, "%s/cli", tmpdir);
	generate_into(dir, CERTGEN_KEY_ECDSA_P256);
	CHECK_INT(run(out, sizeof out, "openssl verify -CAfile %s/ca.crt %s/tls.crt 2>&1", dir, dir), 0);
	CHECK_CONTAINS(out, "tls.crt: OK");
	/* -purpose sslserver: the EKU must allow a TLS server. */
	CHECK_INT(run(out, sizeof out, "openssl verify -purpose sslserver -CAfile %s/ca.crt %s/tls.crt 2>&1",
		      dir, dir), 0);

	CHECK_INT(run(out, sizeof out, "openssl x509 -in %s/tls.crt -noout -text", dir), 0);
	CHECK_CONTAINS(out, "DNS:podtuner.podtuner.svc, DNS:podtuner.podtuner.svc.cluster.local, IP Address:127.0.0.1");
	CHECK_CONTAINS(out, "TLS Web Server Authentication");
	CHECK_CONTAINS(out, "CA:FALSE");
	CHECK_CONTAINS(out, "X509v3 Key Usage: critical\n                Digital Signature\n");
	CHECK_CONTAINS(out, "NIST CURVE: P-256");
	CHECK_CONTAINS(out, "Subject: O = podtuner, CN = podtuner.podtuner.svc");
	CHECK_CONTAINS(out, "ecdsa-with-SHA256");

	CHECK_INT(run(out, sizeof out, "openssl x509 -in %s/ca.crt -noout -text", dir), 0);
	CHECK_CONTAINS(out, "CA:TRUE, pathlen:0");
	CHECK_CONTAINS(out, "Certificate Sign, CRL Sign");

	/* The key is a PKCS#8 P-256 key that openssl reads without a password. */
	CHECK_INT(run(out, sizeof out, "openssl pkey -in %s/tls.key -noout -text 2>&1", dir), 0);
	CHECK_CONTAINS(out, "ASN1 OID: prime256v1");

	/* Modes: the key is private, the certificates are not. */
	{
		char path[256];

		snprintf(path, sizeof path, "%s/tls.key", dir);
		CHECK_INT(stat(path, &st), 0);
		CHECK_INT(st.st_mode & 0777, 0600);
		snprintf(path, sizeof path, "%s/ca.crt", dir);
		CHECK_INT(stat(path, &st), 0);
		CHECK_INT(st.st_mode & 0777, 0644);
	}
	/* No temporary file is left behind. */
	CHECK_INT(run(out, sizeof out, "ls -A %s", dir), 0);
	CHECK_STR(out, "ca.crt\ntls.crt\ntls.key\n");
}

static void test_openssl_cli_rsa(void)
{
	char out[16384], dir[128];

	snprintf(dir, sizeof dir, "%s/rsa", tmpdir);
	generate_into(dir, CERTGEN_KEY_RSA_2048);
	CHECK_INT(run(out, sizeof out, "openssl verify -CAfile %s/ca.crt %s/tls.crt 2>&1", dir, dir), 0);
	CHECK_INT(run(out, sizeof out, "openssl x509 -in %s/tls.crt -noout -text", dir), 0);
	CHECK_CONTAINS(out, "Public-Key: (2048 bit)");
	CHECK_CONTAINS(out, "Digital Signature, Key Encipherment");
	CHECK_CONTAINS(out, "sha256WithRSAEncryption");
}

static void test_verify(void)
{
	struct certgen_request r;
	struct certgen_bundle a = {0}, b = {0}, mix;
	struct pt_error e = {0};
	time_t t0;

	base_request(&r);
	t0 = r.now;
	CHECK_INT(certgen_generate(&r, &a, &e), PT_OK);
	CHECK_INT(certgen_generate(&r, &b, &e), PT_OK);
	CHECK_INT(certgen_verify(&r, &a, &e), PT_OK);

	/* Expiry: the default leaf lives a year and is renewed 30 days before. */
	r.now = t0 + CERTGEN_DEFAULT_VALIDITY - 40 * 86400;
	CHECK_INT(certgen_verify(&r, &a, &e), PT_OK);
	r.now = t0 + CERTGEN_DEFAULT_VALIDITY - 10 * 86400;
	CHECK_INT(certgen_verify(&r, &a, &e), PT_RANGE);
	CHECK_CONTAINS(e.msg, "'tls.crt' expires at ");
	CHECK_CONTAINS(e.msg, "within the renewal threshold of 30 days");
	r.renew_before = 5 * 86400;
	CHECK_INT(certgen_verify(&r, &a, &e), PT_OK);
	r.now = t0 + CERTGEN_DEFAULT_VALIDITY + 86400;
	CHECK_INT(certgen_verify(&r, &a, &e), PT_INVALID);
	CHECK_CONTAINS(e.msg, "certificate has expired");
	r.now = t0 - 3600; /* a clock that went back past notBefore */
	CHECK_INT(certgen_verify(&r, &a, &e), PT_INVALID);
	CHECK_CONTAINS(e.msg, "certificate is not yet valid");
	base_request(&r);

	/* Coverage: a name or address the certificate lacks. */
	{
		static const char *dns[] = {"extra.example.com"};
		static const char *ip6[] = {"::1"};

		r.dns = dns;
		r.n_dns = 1;
		CHECK_INT(certgen_verify(&r, &a, &e), PT_INVALID);
		CHECK_STR(e.msg, "'tls.crt' does not cover the name 'extra.example.com'");
		r.n_dns = 0;
		r.ips = ip6;
		CHECK_INT(certgen_verify(&r, &a, &e), PT_INVALID);
		CHECK_STR(e.msg, "'tls.crt' does not cover the address '::1'");
		base_request(&r);
		r.n_ips = 0; /* asking for less is covered */
		CHECK_INT(certgen_verify(&r, &a, &e), PT_OK);
		base_request(&r);
		r.namespace = "other";
		CHECK_INT(certgen_verify(&r, &a, &e), PT_INVALID);
		CHECK_STR(e.msg, "'tls.crt' does not cover the name 'podtuner.other.svc'");
		base_request(&r);
	}
	r.key_type = CERTGEN_KEY_RSA_2048;
	CHECK_INT(certgen_verify(&r, &a, &e), PT_INVALID);
	CHECK_STR(e.msg, "'tls.key' is ECDSA P-256, but RSA 2048 was asked for");
	base_request(&r);

	/* Mixed pairs: a key from another run, a CA from another run. */
	mix = a;
	mix.tls_key = b.tls_key;
	mix.tls_key_len = b.tls_key_len;
	CHECK_INT(certgen_verify(&r, &mix, &e), PT_INVALID);
	CHECK_CONTAINS(e.msg, "'tls.crt' does not match the key in 'tls.key'");
	mix = a;
	mix.ca_crt = b.ca_crt;
	mix.ca_crt_len = b.ca_crt_len;
	CHECK_INT(certgen_verify(&r, &mix, &e), PT_INVALID);
	CHECK_CONTAINS(e.msg, "'tls.crt' does not verify against 'ca.crt'");
	/* The leaf is no CA. */
	mix = a;
	mix.ca_crt = a.tls_crt;
	mix.ca_crt_len = a.tls_crt_len;
	CHECK_INT(certgen_verify(&r, &mix, &e), PT_INVALID);
	CHECK_STR(e.msg, "'ca.crt' is not a CA certificate");

	/* Garbage and truncation. */
	mix = a;
	mix.tls_crt = (char *)"-----BEGIN CERTIFICATE-----\nnot base64\n-----END CERTIFICATE-----\n";
	mix.tls_crt_len = strlen(mix.tls_crt);
	CHECK_INT(certgen_verify(&r, &mix, &e), PT_SYNTAX);
	CHECK_CONTAINS(e.msg, "cannot read a certificate from 'tls.crt': ");
	mix = a;
	mix.ca_crt_len = a.ca_crt_len / 2;
	CHECK_INT(certgen_verify(&r, &mix, &e), PT_SYNTAX);
	CHECK_CONTAINS(e.msg, "cannot read a certificate from 'ca.crt'");
	mix = a;
	mix.tls_key = (char *)"";
	mix.tls_key_len = 0;
	CHECK_INT(certgen_verify(&r, &mix, &e), PT_SYNTAX);
	CHECK_CONTAINS(e.msg, "cannot read an unencrypted private key from 'tls.key'");
	mix = a;
	mix.tls_key = NULL;
	CHECK_INT(certgen_verify(&r, &mix, &e), PT_SYNTAX);

	certgen_bundle_release(&a);
	certgen_bundle_release(&b);
	certgen_bundle_release(NULL);
}

/* An encrypted key must be refused, never prompted for. */
/* What certgen_ca_bundle makes of cur, as text; "" on failure. */
static const char *bundle_of(const struct certgen_bundle *ca, const char *cur, time_t now, struct buf *out)
{
	struct pt_error e = {0};

	if (certgen_ca_bundle(ca->ca_crt, ca->ca_crt_len, cur, cur ? strlen(cur) : 0, now, CERTGEN_DEFAULT_OLD_CA_GRACE,
			      out, &e) != PT_OK)
		return "";
	return out->data;
}

static char *cat(const char *a, const char *b)
{
	size_t n = strlen(a) + strlen(b) + 1;
	char *s = malloc(n);

	CHECK(s != NULL);
	snprintf(s, n, "%s%s", a, b);
	return s;
}

/* Renewal keeps the CA being replaced in the caBundle, so the apiserver
 * trusts the webhook's old pair until its pods reload the new one. */
static void test_ca_bundle(void)
{
	struct certgen_request r;
	struct certgen_bundle nw = {0}, old = {0}, older = {0}, gone = {0};
	struct pt_error e = {0};
	struct buf out;
	time_t now;
	char *both, *two_old, *three;

	base_request(&r);
	now = r.now;
	CHECK_INT(certgen_generate(&r, &nw, &e), PT_OK);
	CHECK_INT(certgen_generate(&r, &old, &e), PT_OK);
	CHECK_INT(certgen_generate(&r, &older, &e), PT_OK);
	/* A CA that expired yesterday: made two days ago, valid for a day. */
	r.now = now - 2 * 86400;
	r.ca_validity = 86400;
	r.validity = 86400;
	r.renew_before = 3600;
	CHECK_INT(certgen_generate(&r, &gone, &e), PT_OK);
	buf_init(&out, 1 << 20);
	both = cat(nw.ca_crt, old.ca_crt);
	two_old = cat(old.ca_crt, older.ca_crt);
	three = cat(both, older.ca_crt);

	CHECK_STR(bundle_of(&nw, NULL, now, &out), nw.ca_crt);          /* none yet */
	CHECK_STR(bundle_of(&nw, "b2xk", now, &out), nw.ca_crt);        /* garbage */
	CHECK_STR(bundle_of(&nw, nw.ca_crt, now, &out), nw.ca_crt);     /* current */
	CHECK_STR(bundle_of(&nw, old.ca_crt, now, &out), both);         /* renewal */
	CHECK_STR(bundle_of(&nw, both, now, &out), both);               /* run again */
	CHECK_STR(bundle_of(&nw, three, now, &out), both);              /* at most two */
	CHECK_STR(bundle_of(&nw, two_old, now, &out), both);            /* the first one is replaced */
	CHECK_STR(bundle_of(&nw, gone.ca_crt, now, &out), nw.ca_crt);   /* expired: dropped */
	CHECK_STR(bundle_of(&nw, old.tls_crt, now, &out), nw.ca_crt);   /* not a CA */
	{
		char *with_gone = cat(nw.ca_crt, gone.ca_crt);

		CHECK_STR(bundle_of(&nw, with_gone, now, &out), nw.ca_crt); /* its old CA expired */
		free(with_gone);
	}
	/* The grace ends an hour after the new CA was made (its notBefore is
	 * 5 minutes back for clock skew): then the bundle is the CA alone. */
	CHECK_STR(bundle_of(&nw, both, now + 50 * 60, &out), both);
	CHECK_STR(bundle_of(&nw, both, now + 56 * 60, &out), nw.ca_crt);
	CHECK_STR(bundle_of(&nw, old.ca_crt, now + 2 * 3600, &out), nw.ca_crt);
	/* No grace at all: a key leak. */
	CHECK_INT(certgen_ca_bundle(nw.ca_crt, nw.ca_crt_len, both, strlen(both), now, 0, &out, &e), PT_OK);
	CHECK_STR(out.data, nw.ca_crt);
	/* A ca.crt of two certificates never takes its own second one for
	 * the old CA. */
	{
		char *two = cat(nw.ca_crt, older.ca_crt), *cur = cat(older.ca_crt, old.ca_crt);

		CHECK_INT(certgen_ca_bundle(two, strlen(two), cur, strlen(cur), now, 3600, &out, &e), PT_OK);
		CHECK_STR(out.data, two);
		free(two);
		free(cur);
	}
	CHECK_INT(certgen_ca_bundle("not a pem", 9, NULL, 0, now, 3600, &out, &e), PT_SYNTAX);
	free(both);
	free(two_old);
	free(three);
	buf_release(&out);
	certgen_bundle_release(&nw);
	certgen_bundle_release(&old);
	certgen_bundle_release(&older);
	certgen_bundle_release(&gone);
}

static void test_encrypted_key(void)
{
	struct certgen_request r;
	struct certgen_bundle b = {0};
	struct pt_error e = {0};
	char dir[128], out[256];

	snprintf(dir, sizeof dir, "%s/enc", tmpdir);
	generate_into(dir, CERTGEN_KEY_ECDSA_P256);
	CHECK_INT(run(out, sizeof out,
		      "openssl pkey -in %s/tls.key -aes256 -passout pass:secret -out %s/enc.key 2>&1 && mv %s/enc.key %s/tls.key",
		      dir, dir, dir, dir), 0);
	base_request(&r);
	CHECK_INT(certgen_read_dir(dir, &b, &e), PT_OK);
	CHECK_INT(certgen_verify(&r, &b, &e), PT_SYNTAX);
	CHECK_CONTAINS(e.msg, "cannot read an unencrypted private key from 'tls.key'");
	certgen_bundle_release(&b);
}

static void test_read_dir_errors(void)
{
	struct certgen_bundle b = {0};
	struct pt_error e = {0};
	char dir[128], path[256];
	FILE *f;

	snprintf(dir, sizeof dir, "%s/missing", tmpdir);
	CHECK_INT(certgen_read_dir(dir, &b, &e), PT_NOTFOUND);
	CHECK_CONTAINS(e.msg, "cannot open '");
	CHECK_CONTAINS(e.msg, "/missing/ca.crt': No such file or directory (ENOENT)");
	CHECK(b.ca_crt == NULL);

	/* Past the size limit. */
	snprintf(dir, sizeof dir, "%s/big", tmpdir);
	generate_into(dir, CERTGEN_KEY_ECDSA_P256);
	snprintf(path, sizeof path, "%s/tls.crt", dir);
	f = fopen(path, "w");
	CHECK(f != NULL);
	if (f) {
		for (size_t i = 0; i < CERTGEN_MAX_PEM_BYTES + 1; i++)
			fputc('x', f);
		fclose(f);
	}
	CHECK_INT(certgen_read_dir(dir, &b, &e), PT_LIMIT);
	CHECK_CONTAINS(e.msg, "exceed the limit of 262144");
	CHECK(b.ca_crt == NULL);

	/* Writing into a directory whose parent is missing. */
	{
		struct certgen_request r;
		struct certgen_bundle g = {0};

		base_request(&r);
		CHECK_INT(certgen_generate(&r, &g, &e), PT_OK);
		snprintf(dir, sizeof dir, "%s/no/such", tmpdir);
		CHECK_INT(certgen_write_dir(dir, &g, &e), PT_NOTFOUND);
		CHECK_CONTAINS(e.msg, "cannot create directory '");
		certgen_bundle_release(&g);
		CHECK_INT(certgen_write_dir(dir, &g, &e), PT_INVALID);
	}
}

static void test_info(void)
{
	struct certgen_request r;
	struct certgen_bundle b = {0};
	struct certgen_info in;
	struct pt_error e = {0};
	char path[256];

	base_request(&r);
	CHECK_INT(certgen_generate(&r, &b, &e), PT_OK);
	CHECK_INT(certgen_info_pem(b.tls_crt, b.tls_crt_len, &in, &e), PT_OK);
	CHECK_STR(in.sans, "DNS:podtuner.podtuner.svc, DNS:podtuner.podtuner.svc.cluster.local, IP:127.0.0.1");
	CHECK_STR(in.key_type, "ECDSA P-256");
	CHECK(!in.is_ca);
	CHECK_INT(strlen(in.serial), 32);
	CHECK_INT(in.not_after - in.not_before, CERTGEN_DEFAULT_VALIDITY + 300);
	CHECK_INT(in.not_after, r.now + CERTGEN_DEFAULT_VALIDITY);
	CHECK_STR(in.subject, "CN=podtuner.podtuner.svc,O=podtuner");
	CHECK_CONTAINS(in.issuer, "CN=podtuner-ca@");
	CHECK_INT(certgen_info_pem(b.ca_crt, b.ca_crt_len, &in, &e), PT_OK);
	CHECK(in.is_ca);
	CHECK_STR(in.sans, "");
	CHECK_STR(in.subject, in.issuer);
	CHECK_INT(in.not_after, r.now + CERTGEN_DEFAULT_CA_VALIDITY);

	memset(&in, 0x5a, sizeof in);
	CHECK_INT(certgen_info_pem("junk", 4, &in, &e), PT_SYNTAX);
	CHECK_CONTAINS(e.msg, "cannot read a PEM certificate");
	CHECK_INT((unsigned char)in.serial[0], 0x5a); /* untouched */
	snprintf(path, sizeof path, "%s/nothing.crt", tmpdir);
	CHECK_INT(certgen_info_file(path, &in, &e), PT_NOTFOUND);
	CHECK_CONTAINS(e.msg, "nothing.crt': No such file or directory (ENOENT)");
	snprintf(path, sizeof path, "%s/cli/tls.key", tmpdir);
	CHECK_INT(certgen_info_file(path, &in, &e), PT_SYNTAX);
	CHECK_CONTAINS(e.msg, "tls.key': cannot read a PEM certificate");
	certgen_bundle_release(&b);

	/* Long names: the CN would pass 64 characters, so only SANs carry it. */
	r.service = "s23456789012345678901234567890123456789012345678901234567890123";
	r.namespace = "n23456789012345678901234567890123456789012345678901234567890123";
	CHECK_INT(certgen_generate(&r, &b, &e), PT_OK);
	CHECK_INT(certgen_info_pem(b.tls_crt, b.tls_crt_len, &in, &e), PT_OK);
	CHECK_STR(in.subject, "O=podtuner");
	CHECK_CONTAINS(in.sans, "DNS:s23456789012345678901234567890123456789012345678901234567890123.n23456789012345678901234567890123456789012345678901234567890123.svc");
	CHECK_INT(certgen_verify(&r, &b, &e), PT_OK);
	certgen_bundle_release(&b);

	/* Extra names are deduplicated and lowercased. */
	{
		static const char *dns[] = {"PODTUNER.podtuner.svc", "Web.Example.COM", "*.example.com"};

		base_request(&r);
		r.dns = dns;
		r.n_dns = 3;
		r.n_ips = 0;
		CHECK_INT(certgen_generate(&r, &b, &e), PT_OK);
		CHECK_INT(certgen_info_pem(b.tls_crt, b.tls_crt_len, &in, &e), PT_OK);
		CHECK_STR(in.sans, "DNS:podtuner.podtuner.svc, DNS:podtuner.podtuner.svc.cluster.local, DNS:web.example.com, DNS:*.example.com");
		CHECK_INT(certgen_verify(&r, &b, &e), PT_OK);
		certgen_bundle_release(&b);
	}
}

static int cli(const char *dir, const char *extra1, const char *extra2)
{
	char *argv[16];
	int argc = 0;

	argv[argc++] = (char *)"certgen";
	argv[argc++] = (char *)"--service";
	argv[argc++] = (char *)"podtuner";
	argv[argc++] = (char *)"--namespace";
	argv[argc++] = (char *)"podtuner";
	argv[argc++] = (char *)"--ip";
	argv[argc++] = (char *)"127.0.0.1";
	if (dir) {
		argv[argc++] = (char *)"--out-dir";
		argv[argc++] = (char *)dir;
	}
	if (extra1)
		argv[argc++] = (char *)extra1;
	if (extra2)
		argv[argc++] = (char *)extra2;
	argv[argc] = NULL;
	return certgen_main(argc, argv);
}

static void serial_of(const char *dir, char *out, size_t len)
{
	struct certgen_info in;
	struct pt_error e = {0};
	char path[256];

	snprintf(path, sizeof path, "%s/tls.crt", dir);
	out[0] = '\0';
	if (certgen_info_file(path, &in, &e) == PT_OK)
		snprintf(out, len, "%s", in.serial);
}

static void test_cli_idempotent(void)
{
	char dir[128], s1[64], s2[64], s3[64], s4[64], out[256];

	snprintf(dir, sizeof dir, "%s/idem", tmpdir);
	CHECK_INT(cli(dir, NULL, NULL), 0);
	serial_of(dir, s1, sizeof s1);
	CHECK_INT(strlen(s1), 32);
	CHECK_INT(cli(dir, NULL, NULL), 0);
	serial_of(dir, s2, sizeof s2);
	CHECK_STR(s2, s1); /* kept */
	CHECK_INT(cli(dir, "--force", NULL), 0);
	serial_of(dir, s3, sizeof s3);
	CHECK(strcmp(s3, s1) != 0);
	/* A request the pair does not cover regenerates it. */
	CHECK_INT(cli(dir, "--dns", "webhook.example.com"), 0);
	serial_of(dir, s4, sizeof s4);
	CHECK(strcmp(s4, s3) != 0);
	CHECK_INT(cli(dir, "--dns", "webhook.example.com"), 0);
	serial_of(dir, s1, sizeof s1);
	CHECK_STR(s1, s4);
	/* A renewal threshold beyond the remaining life regenerates it. */
	CHECK_INT(cli(dir, "--validity", "400d"), 0); /* 365 days left: kept */
	serial_of(dir, s2, sizeof s2);
	CHECK_STR(s2, s4);
	{
		char *argv[] = {(char *)"certgen", (char *)"--service", (char *)"podtuner", (char *)"--namespace",
				(char *)"podtuner", (char *)"--ip", (char *)"127.0.0.1", (char *)"--out-dir", dir,
				(char *)"--validity", (char *)"400d", (char *)"--renew-before", (char *)"366d", NULL};

		CHECK_INT(certgen_main(13, argv), 0);
	}
	serial_of(dir, s2, sizeof s2);
	CHECK(strcmp(s2, s4) != 0);
	/* A damaged set (the key of another pair) is replaced, and the result
	 * verifies with the openssl CLI. */
	CHECK_INT(run(out, sizeof out, "cp %s/rsa/tls.key %s/tls.key", tmpdir, dir), 0);
	CHECK_INT(cli(dir, NULL, NULL), 0);
	serial_of(dir, s3, sizeof s3);
	CHECK(strcmp(s3, s2) != 0);
	CHECK_INT(run(out, sizeof out, "openssl verify -CAfile %s/ca.crt %s/tls.crt 2>&1", dir, dir), 0);
}

static void test_cli_usage(void)
{
	char dir[128];
	char *no_service[] = {(char *)"certgen", (char *)"--namespace", (char *)"x", (char *)"--out-dir",
			      (char *)"/tmp", NULL};
	char *help[] = {(char *)"certgen", (char *)"--help", NULL};

	snprintf(dir, sizeof dir, "%s/usage", tmpdir);
	CHECK_INT(certgen_main(5, no_service), 2);
	CHECK_INT(cli(NULL, NULL, NULL), 2);                          /* no output */
	CHECK_INT(cli(dir, "--secret-name", "x"), 2);                 /* two outputs */
	CHECK_INT(cli(dir, "--secret-apply", NULL), 2);               /* apply without name */
	CHECK_INT(cli(dir, "--validity", "1x"), 2);
	CHECK_INT(cli(dir, "--validity", "11y"), 2);                  /* beyond the CA's 10y */
	CHECK_INT(cli(dir, "--ca-validity", "y"), 2);
	CHECK_INT(cli(dir, "--key-type", "dsa"), 2);
	CHECK_INT(cli(dir, "--bogus", NULL), 2);
	CHECK_INT(cli(dir, "--dns", "bad..name"), 2);
	CHECK_INT(cli(dir, "--ip", "1.2.3"), 2);
	CHECK_INT(cli(dir, "--timeout", "0s"), 2);
	CHECK_INT(cli(dir, "extra-arg", NULL), 2);
	CHECK_INT(cli(dir, "--kubeconfig", "/nonexistent"), 2);       /* nothing to do with it */
	CHECK_INT(cli(NULL, "--secret-name", "Bad_Name"), 2);
	CHECK_INT(cli(dir, "--patch-webhook", "Bad_Name"), 2);
	CHECK_INT(access(dir, F_OK), -1);                             /* nothing was written */
	CHECK_INT(certgen_main(2, help), 0);
	CHECK_INT(cli(dir, "--validity", "90d"), 0);
	/* An unusable directory fails (1), not a usage error. */
	snprintf(dir, sizeof dir, "%s/no/such/dir", tmpdir);
	CHECK_INT(cli(dir, NULL, NULL), 1);
}

/* Wait until something accepts on 127.0.0.1:port (at most ~5 s). */
static bool wait_port(int port)
{
	for (int i = 0; i < 100; i++) {
		struct sockaddr_in a = {.sin_family = AF_INET, .sin_port = htons((uint16_t)port)};
		int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
		int ok;

		a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
		ok = connect(fd, (struct sockaddr *)&a, sizeof a) == 0;
		close(fd);
		if (ok)
			return true;
		usleep(50000);
	}
	return false;
}

/* A free loopback port: bind port 0, read it back, release it. */
static int free_port(void)
{
	struct sockaddr_in a = {.sin_family = AF_INET};
	socklen_t len = sizeof a;
	int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
	int port = -1;

	a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	if (bind(fd, (struct sockaddr *)&a, sizeof a) == 0 &&
	    getsockname(fd, (struct sockaddr *)&a, &len) == 0)
		port = ntohs(a.sin_port);
	close(fd);
	return port;
}

/* curl as the apiserver would connect: by the Service name, pinned to
 * loopback, trusting only our CA. Returns curl's exit status. */
static int curl_as_apiserver(const char *dir, const char *name, int port, char *out, size_t len)
{
	return run(out, len,
		   "curl -sS --max-time 5 --cacert %s/ca.crt --resolve %s:%d:127.0.0.1 https://%s:%d/ 2>&1",
		   dir, name, port, name, port);
}

static void test_tls_openssl_server(void)
{
	char dir[128], cert[160], key[160], accept[32], out[4096];
	int port = free_port();
	pid_t pid;
	int st;

	snprintf(dir, sizeof dir, "%s/cli", tmpdir);
	snprintf(cert, sizeof cert, "%s/tls.crt", dir);
	snprintf(key, sizeof key, "%s/tls.key", dir);
	snprintf(accept, sizeof accept, "127.0.0.1:%d", port);
	CHECK(port > 0);
	pid = fork();
	if (pid == 0) {
		int null = open("/dev/null", O_RDWR);

		dup2(null, 0);
		dup2(null, 1);
		dup2(null, 2);
		execlp("openssl", "openssl", "s_server", "-accept", accept, "-cert", cert, "-key", key,
		       "-www", "-naccept", "3", (char *)NULL);
		_exit(127);
	}
	CHECK(pid > 0);
	CHECK(wait_port(port));
	CHECK_INT(curl_as_apiserver(dir, "podtuner.podtuner.svc", port, out, sizeof out), 0);
	CHECK_CONTAINS(out, "s_server");
	/* The same server under a name the certificate lacks fails
	 * verification (curl exit 60: peer certificate cannot be authenticated). */
	CHECK_INT(curl_as_apiserver(dir, "other.podtuner.svc", port, out, sizeof out), 60);
	CHECK_CONTAINS(out, "no alternative certificate subject name matches");
	kill(pid, SIGTERM);
	CHECK_INT(waitpid(pid, &st, 0), pid);
}

static enum MHD_Result answer(void *cls, struct MHD_Connection *c, const char *url, const char *method,
			      const char *version, const char *data, size_t *size, void **state)
{
	struct MHD_Response *r;
	enum MHD_Result ret;

	(void)cls, (void)url, (void)method, (void)version, (void)data, (void)size, (void)state;
	r = MHD_create_response_from_buffer(13, (void *)"hello gnutls\n", MHD_RESPMEM_PERSISTENT);
	ret = MHD_queue_response(c, MHD_HTTP_OK, r);
	MHD_destroy_response(r);
	return ret;
}

/* The webhook serves with libmicrohttpd, which does TLS with GnuTLS: the
 * PKCS#8 keys we write must load there, ECDSA and RSA alike. */
static void test_tls_gnutls_server(void)
{
	const char *kinds[] = {"cli", "rsa"};

	for (size_t k = 0; k < 2; k++) {
		struct sockaddr_in a = {.sin_family = AF_INET};
		struct certgen_bundle b = {0};
		struct pt_error e = {0};
		struct MHD_Daemon *d;
		const union MHD_DaemonInfo *info;
		char dir[128], out[4096];
		int port;

		snprintf(dir, sizeof dir, "%s/%s", tmpdir, kinds[k]);
		CHECK_INT(certgen_read_dir(dir, &b, &e), PT_OK);
		a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
		d = MHD_start_daemon(MHD_USE_INTERNAL_POLLING_THREAD | MHD_USE_TLS, 0, NULL, NULL, answer,
				     NULL, MHD_OPTION_SOCK_ADDR, (struct sockaddr *)&a,
				     MHD_OPTION_HTTPS_MEM_KEY, b.tls_key, MHD_OPTION_HTTPS_MEM_CERT,
				     b.tls_crt, MHD_OPTION_END);
		CHECK(d != NULL);
		if (!d) {
			certgen_bundle_release(&b);
			continue;
		}
		info = MHD_get_daemon_info(d, MHD_DAEMON_INFO_BIND_PORT);
		port = info ? info->port : 0;
		CHECK(port > 0);
		CHECK_INT(curl_as_apiserver(dir, "podtuner.podtuner.svc.cluster.local", port, out, sizeof out), 0);
		CHECK_STR(out, "hello gnutls\n");
		MHD_stop_daemon(d);
		certgen_bundle_release(&b);
	}
}

static void cleanup(void)
{
	char out[64];

	CHECK_INT(run(out, sizeof out, "rm -rf %s", tmpdir), 0);
}

static void setup(void)
{
	mkdir_tmp();
}

TEST_MAIN(setup, test_request_check, test_openssl_cli_agrees, test_openssl_cli_rsa, test_verify,
	  test_ca_bundle, test_encrypted_key, test_read_dir_errors, test_info, test_cli_idempotent, test_cli_usage,
	  test_tls_openssl_server, test_tls_gnutls_server, cleanup)
