/* SPDX-License-Identifier: Apache-2.0 */
/* CA + serving certificate generation and checking with OpenSSL 3. Every
 * OpenSSL failure is turned into a pt_error carrying OpenSSL's reason, and
 * the thread's OpenSSL error queue is left empty. Private keys never touch
 * a terminal prompt (encrypted keys are rejected, not asked for). */
#include "certgen.h"

#include <arpa/inet.h>
#include <ctype.h>
#include <errno.h>
#include <limits.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>

#include <openssl/bn.h>
#include <openssl/core_names.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/rand.h>
#include <openssl/x509.h>
#include <openssl/x509v3.h>

#include "buf.h"
#include "fileio.h"

/* Clock skew allowance for notBefore: nodes and the apiserver rarely agree
 * to the second, and a certificate from the future fails verification. */
#define BACKDATE_SECONDS 300

/* Up to this many SANs are compared or printed (the request's own limit plus
 * the two Service names, with room for certificates made elsewhere). */
#define MAX_WANTED (CERTGEN_MAX_DNS + CERTGEN_MAX_IPS + 2)

/* Fill e with "<prefix>: <openssl reason> (<openssl library>)" and empty
 * the error queue. */
PT_PRINTF(3, 4)
static enum pt_code ossl_fail(struct pt_error *e, enum pt_code code, const char *fmt, ...)
{
	unsigned long err = ERR_peek_last_error();
	char prefix[384];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(prefix, sizeof prefix, fmt, ap);
	va_end(ap);
	if (err) {
		const char *reason = ERR_reason_error_string(err);
		const char *lib = ERR_lib_error_string(err);

		if (ERR_GET_REASON(err) == ERR_R_MALLOC_FAILURE)
			code = PT_NOMEM;
		pt_error_set(e, code, "%s: %s (%s)", prefix, reason ? reason : "unknown error",
			     lib ? lib : "openssl");
	} else {
		pt_error_set(e, code, "%s", prefix);
	}
	ERR_clear_error();
	return code;
}

/* Refuse to prompt for a passphrase: a key we read must be unencrypted. */
static int no_passphrase(char *buf, int size, int rwflag, void *u)
{
	(void)buf, (void)size, (void)rwflag, (void)u;
	return -1;
}

void certgen_request_init(struct certgen_request *r)
{
	memset(r, 0, sizeof *r);
	r->key_type = CERTGEN_KEY_ECDSA_P256;
	r->ca_validity = CERTGEN_DEFAULT_CA_VALIDITY;
	r->validity = CERTGEN_DEFAULT_VALIDITY;
	r->renew_before = CERTGEN_DEFAULT_RENEW_BEFORE;
	r->now = time(NULL);
}

void certgen_bundle_release(struct certgen_bundle *b)
{
	if (!b)
		return;
	/* The key is secret: do not leave it in freed heap. */
	if (b->tls_key)
		OPENSSL_cleanse(b->tls_key, b->tls_key_len);
	free(b->ca_crt);
	free(b->tls_crt);
	free(b->tls_key);
	memset(b, 0, sizeof *b);
}

bool certgen_is_dns_label(const char *s, size_t len, bool dns1035)
{
	if (len == 0 || len > 63)
		return false;
	for (size_t i = 0; i < len; i++) {
		char c = s[i];
		bool alnum = (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9');

		if (!alnum && c != '-')
			return false;
		if (c == '-' && (i == 0 || i == len - 1))
			return false;
	}
	if (dns1035 && !(s[0] >= 'a' && s[0] <= 'z'))
		return false;
	return true;
}

/* A DNS SAN: labels of [A-Za-z0-9-] separated by dots, optionally starting
 * with the wildcard label "*". */
static bool is_dns_name(const char *s)
{
	size_t len = strlen(s), i = 0;

	if (len == 0 || len > CERTGEN_MAX_DNS_LEN)
		return false;
	if (len > 2 && s[0] == '*' && s[1] == '.')
		i = 2;
	while (i < len) {
		size_t start = i;

		while (i < len && s[i] != '.') {
			if (!isalnum((unsigned char)s[i]) && s[i] != '-')
				return false;
			i++;
		}
		if (i == start || i - start > 63 || s[start] == '-' || s[i - 1] == '-')
			return false;
		if (i < len && ++i == len)
			return false; /* trailing dot */
	}
	return true;
}

/* Parse an IP SAN into bytes; returns the length (4 or 16) or 0. */
static int parse_ip(const char *s, unsigned char out[16])
{
	if (inet_pton(AF_INET, s, out) == 1)
		return 4;
	if (inet_pton(AF_INET6, s, out) == 1)
		return 16;
	return 0;
}

enum pt_code certgen_request_check(const struct certgen_request *r, struct pt_error *e)
{
	unsigned char ip[16];

	if (!r->service || !certgen_is_dns_label(r->service, strlen(r->service), true))
		return pt_error_set(e, PT_INVALID,
				    "invalid service name '%s': must be a DNS-1035 label (1-63 of a-z 0-9 -, starting with a letter)",
				    r->service ? r->service : "");
	if (!r->namespace || !certgen_is_dns_label(r->namespace, strlen(r->namespace), false))
		return pt_error_set(e, PT_INVALID,
				    "invalid namespace '%s': must be a DNS-1123 label (1-63 of a-z 0-9 -)",
				    r->namespace ? r->namespace : "");
	if (r->n_dns > CERTGEN_MAX_DNS)
		return pt_error_set(e, PT_LIMIT, "too many DNS names: %zu, the limit is %d", r->n_dns,
				    CERTGEN_MAX_DNS);
	if (r->n_ips > CERTGEN_MAX_IPS)
		return pt_error_set(e, PT_LIMIT, "too many IP addresses: %zu, the limit is %d", r->n_ips,
				    CERTGEN_MAX_IPS);
	for (size_t i = 0; i < r->n_dns; i++)
		if (!is_dns_name(r->dns[i]))
			return pt_error_set(e, PT_INVALID, "invalid DNS name '%s'", r->dns[i]);
	for (size_t i = 0; i < r->n_ips; i++)
		if (!parse_ip(r->ips[i], ip))
			return pt_error_set(e, PT_INVALID, "invalid IP address '%s'", r->ips[i]);
	if (r->ca_validity < CERTGEN_MIN_VALIDITY || r->ca_validity > CERTGEN_MAX_VALIDITY)
		return pt_error_set(e, PT_RANGE, "CA validity of %lld seconds is out of range [%lld, %lld]",
				    (long long)r->ca_validity, CERTGEN_MIN_VALIDITY, CERTGEN_MAX_VALIDITY);
	if (r->validity < CERTGEN_MIN_VALIDITY || r->validity > r->ca_validity)
		return pt_error_set(e, PT_RANGE,
				    "validity of %lld seconds is out of range [%lld, %lld] (at most the CA's)",
				    (long long)r->validity, CERTGEN_MIN_VALIDITY, (long long)r->ca_validity);
	if (r->renew_before < 0 || r->renew_before >= r->validity)
		return pt_error_set(e, PT_RANGE,
				    "renewal threshold of %lld seconds must be below the validity of %lld seconds",
				    (long long)r->renew_before, (long long)r->validity);
	if (r->key_type != CERTGEN_KEY_ECDSA_P256 && r->key_type != CERTGEN_KEY_RSA_2048)
		return pt_error_set(e, PT_INVALID, "unknown key type %d", (int)r->key_type);
	return PT_OK;
}

/* The DNS names a request wants, in SAN order, deduplicated (case-
 * insensitively) and lowercased into storage. Returns the count. */
static size_t wanted_dns(const struct certgen_request *r, char names[][CERTGEN_MAX_DNS_LEN + 1])
{
	size_t n = 0;

	snprintf(names[n++], CERTGEN_MAX_DNS_LEN + 1, "%s.%s.svc", r->service, r->namespace);
	snprintf(names[n++], CERTGEN_MAX_DNS_LEN + 1, "%s.%s.svc.cluster.local", r->service,
		 r->namespace);
	for (size_t i = 0; i < r->n_dns; i++) {
		bool dup = false;

		for (size_t j = 0; j < n && !dup; j++)
			dup = strcasecmp(names[j], r->dns[i]) == 0;
		if (dup)
			continue;
		snprintf(names[n], CERTGEN_MAX_DNS_LEN + 1, "%s", r->dns[i]);
		for (char *p = names[n]; *p; p++)
			*p = (char)tolower((unsigned char)*p);
		n++;
	}
	return n;
}

static EVP_PKEY *make_key(enum certgen_key_type t)
{
	if (t == CERTGEN_KEY_RSA_2048)
		return EVP_PKEY_Q_keygen(NULL, NULL, "RSA", (size_t)2048);
	/* OpenSSL 3 writes named-curve parameters by default, which Go's
	 * crypto/x509 requires (it rejects explicit curve parameters). */
	return EVP_PKEY_Q_keygen(NULL, NULL, "EC", "P-256");
}

/* A random positive 127-bit serial (RFC 5280 4.1.2.2: at most 20 octets;
 * CA/B Forum asks for 64+ bits of entropy). */
static bool set_serial(X509 *x)
{
	unsigned char raw[16];
	BIGNUM *bn = NULL;
	bool ok = false;

	if (RAND_bytes(raw, sizeof raw) != 1)
		return false;
	raw[0] &= 0x7f;
	raw[0] |= 0x01; /* never zero, always 16 octets */
	bn = BN_bin2bn(raw, sizeof raw, NULL);
	ok = bn && BN_to_ASN1_INTEGER(bn, X509_get_serialNumber(x));
	BN_free(bn);
	return ok;
}

static bool add_ext(X509 *cert, X509 *issuer, int nid, const char *value)
{
	X509V3_CTX ctx;
	X509_EXTENSION *ex;
	bool ok;

	X509V3_set_ctx_nodb(&ctx);
	X509V3_set_ctx(&ctx, issuer, cert, NULL, NULL, 0);
	ex = X509V3_EXT_conf_nid(NULL, &ctx, nid, value);
	if (!ex)
		return false;
	ok = X509_add_ext(cert, ex, -1) == 1;
	X509_EXTENSION_free(ex);
	return ok;
}

static bool add_name(X509_NAME *name, const char *field, const char *value)
{
	return X509_NAME_add_entry_by_txt(name, field, MBSTRING_UTF8, (const unsigned char *)value,
					  -1, -1, 0) == 1;
}

static bool add_sans(X509 *x, const struct certgen_request *r)
{
	char names[MAX_WANTED][CERTGEN_MAX_DNS_LEN + 1];
	size_t n = wanted_dns(r, names);
	GENERAL_NAMES *gens = sk_GENERAL_NAME_new_null();
	bool ok = false;

	if (!gens)
		return false;
	for (size_t i = 0; i < n; i++) {
		GENERAL_NAME *g = GENERAL_NAME_new();
		ASN1_IA5STRING *s = ASN1_IA5STRING_new();

		if (!g || !s || !ASN1_STRING_set(s, names[i], (int)strlen(names[i]))) {
			GENERAL_NAME_free(g);
			ASN1_IA5STRING_free(s);
			goto out;
		}
		GENERAL_NAME_set0_value(g, GEN_DNS, s);
		if (!sk_GENERAL_NAME_push(gens, g)) {
			GENERAL_NAME_free(g);
			goto out;
		}
	}
	for (size_t i = 0; i < r->n_ips; i++) {
		ASN1_OCTET_STRING *o = a2i_IPADDRESS(r->ips[i]);
		GENERAL_NAME *g = o ? GENERAL_NAME_new() : NULL;

		if (!g) {
			ASN1_OCTET_STRING_free(o);
			goto out;
		}
		GENERAL_NAME_set0_value(g, GEN_IPADD, o);
		if (!sk_GENERAL_NAME_push(gens, g)) {
			GENERAL_NAME_free(g);
			goto out;
		}
	}
	/* Not critical: the subject is never empty (RFC 5280 4.2.1.6). */
	ok = X509_add1_ext_i2d(x, NID_subject_alt_name, gens, 0, X509V3_ADD_DEFAULT) == 1;
out:
	GENERAL_NAMES_free(gens);
	return ok;
}

static bool set_validity(X509 *x, time_t now, int64_t seconds)
{
	time_t t = now;

	return X509_time_adj_ex(X509_getm_notBefore(x), 0, -BACKDATE_SECONDS, &t) &&
	       X509_time_adj_ex(X509_getm_notAfter(x), (int)(seconds / 86400), (long)(seconds % 86400),
				&t);
}

static char *pem_of(BIO *bio, size_t *len)
{
	char *data;
	long n = BIO_get_mem_data(bio, &data);
	char *copy;

	if (n <= 0)
		return NULL;
	copy = malloc((size_t)n + 1);
	if (!copy)
		return NULL;
	memcpy(copy, data, (size_t)n);
	copy[n] = '\0';
	*len = (size_t)n;
	return copy;
}

static enum pt_code make_ca(const struct certgen_request *r, X509 **out_x, EVP_PKEY **out_k,
			    struct pt_error *e)
{
	EVP_PKEY *key = make_key(r->key_type);
	X509 *x = X509_new();
	X509_NAME *name = X509_get_subject_name(x);
	char cn[64];

	/* A unique CN per CA, as client-go's self-signed certificates do
	 * ("<host>-ca@<unix time>"), so two generations are told apart. */
	snprintf(cn, sizeof cn, "podtuner-ca@%lld", (long long)r->now);
	if (!key || !x || !X509_set_version(x, X509_VERSION_3) || !set_serial(x) ||
	    !add_name(name, "O", "podtuner") || !add_name(name, "CN", cn) ||
	    !X509_set_issuer_name(x, name) || !X509_set_pubkey(x, key) ||
	    !set_validity(x, r->now, r->ca_validity) ||
	    !add_ext(x, x, NID_basic_constraints, "critical,CA:TRUE,pathlen:0") ||
	    !add_ext(x, x, NID_key_usage, "critical,keyCertSign,cRLSign,digitalSignature") ||
	    !add_ext(x, x, NID_subject_key_identifier, "hash") ||
	    !X509_sign(x, key, EVP_sha256())) {
		EVP_PKEY_free(key);
		X509_free(x);
		return ossl_fail(e, PT_TLS, "cannot create the CA certificate");
	}
	*out_x = x;
	*out_k = key;
	return PT_OK;
}

static enum pt_code make_leaf(const struct certgen_request *r, X509 *ca, EVP_PKEY *ca_key,
			      X509 **out_x, EVP_PKEY **out_k, struct pt_error *e)
{
	EVP_PKEY *key = make_key(r->key_type);
	X509 *x = X509_new();
	X509_NAME *name = X509_get_subject_name(x);
	char cn[CERTGEN_MAX_DNS_LEN + 1];
	/* keyEncipherment only means something for RSA key transport;
	 * RFC 8813 forbids it for ECDSA keys. */
	const char *ku = r->key_type == CERTGEN_KEY_RSA_2048
				 ? "critical,digitalSignature,keyEncipherment"
				 : "critical,digitalSignature";
	bool ok;

	snprintf(cn, sizeof cn, "%s.%s.svc", r->service, r->namespace);
	ok = key && x && X509_set_version(x, X509_VERSION_3) && set_serial(x) &&
	     add_name(name, "O", "podtuner") &&
	     /* ub-common-name is 64 (RFC 5280 A.1): a longer name lives in the
	      * SANs only, which is all that clients check anyway. */
	     (strlen(cn) > 64 || add_name(name, "CN", cn)) &&
	     X509_set_issuer_name(x, X509_get_subject_name(ca)) && X509_set_pubkey(x, key) &&
	     set_validity(x, r->now, r->validity) &&
	     add_ext(x, ca, NID_basic_constraints, "critical,CA:FALSE") &&
	     add_ext(x, ca, NID_key_usage, ku) && add_ext(x, ca, NID_ext_key_usage, "serverAuth") &&
	     add_ext(x, ca, NID_subject_key_identifier, "hash") &&
	     add_ext(x, ca, NID_authority_key_identifier, "keyid:always") && add_sans(x, r) &&
	     X509_sign(x, ca_key, EVP_sha256());
	if (!ok) {
		EVP_PKEY_free(key);
		X509_free(x);
		return ossl_fail(e, PT_TLS, "cannot create the serving certificate for '%s'", cn);
	}
	*out_x = x;
	*out_k = key;
	return PT_OK;
}

enum pt_code certgen_generate(const struct certgen_request *r, struct certgen_bundle *out,
			      struct pt_error *e)
{
	struct certgen_bundle b = {0};
	X509 *ca = NULL, *leaf = NULL;
	EVP_PKEY *ca_key = NULL, *key = NULL;
	BIO *bca = NULL, *bcrt = NULL, *bkey = NULL;
	enum pt_code rc;

	if ((rc = certgen_request_check(r, e)))
		return rc;
	if ((rc = make_ca(r, &ca, &ca_key, e)))
		goto out;
	if ((rc = make_leaf(r, ca, ca_key, &leaf, &key, e)))
		goto out;
	bca = BIO_new(BIO_s_mem());
	bcrt = BIO_new(BIO_s_mem());
	bkey = BIO_new(BIO_s_mem());
	/* PEM_write_bio_PrivateKey writes PKCS#8 ("BEGIN PRIVATE KEY"), which
	 * GnuTLS (libmicrohttpd), Go's tls.X509KeyPair and OpenSSL all read. */
	if (!bca || !bcrt || !bkey || !PEM_write_bio_X509(bca, ca) || !PEM_write_bio_X509(bcrt, leaf) ||
	    !PEM_write_bio_PrivateKey(bkey, key, NULL, NULL, 0, NULL, NULL)) {
		rc = ossl_fail(e, PT_TLS, "cannot write the certificates as PEM");
		goto out;
	}
	b.ca_crt = pem_of(bca, &b.ca_crt_len);
	b.tls_crt = pem_of(bcrt, &b.tls_crt_len);
	b.tls_key = pem_of(bkey, &b.tls_key_len);
	if (!b.ca_crt || !b.tls_crt || !b.tls_key) {
		rc = pt_error_set(e, PT_NOMEM, "cannot copy the certificates: out of memory");
		goto out;
	}
	*out = b;
	memset(&b, 0, sizeof b);
out:
	certgen_bundle_release(&b);
	BIO_free(bca);
	BIO_free(bcrt);
	BIO_free_all(bkey); /* BIO_s_mem frees its buffer; the key text was copied */
	X509_free(ca);
	X509_free(leaf);
	EVP_PKEY_free(ca_key);
	EVP_PKEY_free(key);
	ERR_clear_error();
	return rc;
}

static X509 *parse_cert(const char *pem, size_t len)
{
	BIO *b;
	X509 *x;

	if (!pem || len > CERTGEN_MAX_PEM_BYTES)
		return NULL;
	b = BIO_new_mem_buf(pem, (int)len);
	if (!b)
		return NULL;
	x = PEM_read_bio_X509(b, NULL, no_passphrase, NULL);
	BIO_free(b);
	return x;
}

static EVP_PKEY *parse_key(const char *pem, size_t len)
{
	BIO *b;
	EVP_PKEY *k;

	if (!pem || len > CERTGEN_MAX_PEM_BYTES)
		return NULL;
	b = BIO_new_mem_buf(pem, (int)len);
	if (!b)
		return NULL;
	k = PEM_read_bio_PrivateKey(b, NULL, no_passphrase, NULL);
	BIO_free(b);
	return k;
}

static bool asn1_to_time(const ASN1_TIME *t, time_t *out)
{
	struct tm tm;

	if (!t || ASN1_TIME_to_tm(t, &tm) != 1)
		return false;
	*out = timegm(&tm);
	return true;
}

/* A CA that still counts at now: a CA certificate inside its validity. */
static bool live_ca(X509 *x, time_t now)
{
	time_t t = now;

	return X509_check_ca(x) > 0 && X509_cmp_time(X509_get0_notBefore(x), &t) < 0 &&
	       X509_cmp_time(X509_get0_notAfter(x), &t) > 0;
}

/* Whether x is one of the certificates in len bytes of PEM. */
static bool pem_holds(const char *pem, size_t len, X509 *x)
{
	BIO *b = BIO_new_mem_buf(pem, (int)len);
	bool found = false;
	X509 *y;

	while (b && !found && (y = PEM_read_bio_X509(b, NULL, no_passphrase, NULL))) {
		found = X509_cmp(x, y) == 0;
		X509_free(y);
	}
	BIO_free(b);
	return found;
}

enum pt_code certgen_ca_bundle(const char *ca_pem, size_t ca_len, const char *current, size_t cur_len,
			       time_t now, int64_t grace_s, struct buf *out, struct pt_error *e)
{
	X509 *ca = parse_cert(ca_pem, ca_len), *cur[2] = {NULL, NULL}, *keep = NULL;
	enum pt_code rc = PT_OK;
	time_t made;
	BIO *b = NULL;
	char *pem;
	long n;

	if (!ca) {
		ERR_clear_error();
		return pt_error_set(e, PT_SYNTAX, "the CA to trust is not a PEM certificate");
	}
	/* The first two certificates of the current bundle; garbage is none. */
	if (current && cur_len <= CERTGEN_MAX_PEM_BYTES && (b = BIO_new_mem_buf(current, (int)cur_len)))
		for (int i = 0; i < 2 && (cur[i] = PEM_read_bio_X509(b, NULL, no_passphrase, NULL)); i++)
			;
	BIO_free(b);
	b = NULL;
	if (grace_s > 0 && asn1_to_time(X509_get0_notBefore(ca), &made) && now - made < grace_s) {
		keep = cur[0] && X509_cmp(cur[0], ca) == 0 ? cur[1] : cur[0];
		if (keep && (pem_holds(ca_pem, ca_len, keep) || !live_ca(keep, now)))
			keep = NULL;
	}
	buf_reset(out);
	if (buf_append(out, ca_pem, ca_len) || (ca_len && ca_pem[ca_len - 1] != '\n' && buf_putc(out, '\n')))
		goto nomem;
	if (keep && (!(b = BIO_new(BIO_s_mem())) || !PEM_write_bio_X509(b, keep) ||
		     (n = BIO_get_mem_data(b, &pem)) <= 0 || buf_append(out, pem, (size_t)n)))
		goto nomem;
	goto out;
nomem:
	rc = pt_error_set(e, PT_NOMEM, "caBundle: out of memory");
out:
	BIO_free(b);
	X509_free(ca);
	X509_free(cur[0]);
	X509_free(cur[1]);
	ERR_clear_error();
	return rc;
}

static void format_time(time_t t, char *buf, size_t len)
{
	struct tm tm;

	if (!gmtime_r(&t, &tm) || !strftime(buf, len, "%Y-%m-%dT%H:%M:%SZ", &tm))
		snprintf(buf, len, "@%lld", (long long)t);
}

/* "ECDSA P-256", "RSA 2048"... and whether it is the type asked for. */
static void describe_key(const EVP_PKEY *k, char *buf, size_t len, enum certgen_key_type *type,
			 bool *known)
{
	*known = false;
	if (EVP_PKEY_is_a(k, "EC")) {
		char group[64] = "";
		size_t glen = 0;

		EVP_PKEY_get_utf8_string_param(k, OSSL_PKEY_PARAM_GROUP_NAME, group, sizeof group, &glen);
		if (strcmp(group, "prime256v1") == 0 || strcmp(group, "P-256") == 0) {
			snprintf(buf, len, "ECDSA P-256");
			*type = CERTGEN_KEY_ECDSA_P256;
			*known = true;
		} else {
			snprintf(buf, len, "ECDSA %s", group[0] ? group : "(unknown curve)");
		}
	} else if (EVP_PKEY_is_a(k, "RSA")) {
		int bits = EVP_PKEY_get_bits(k);

		snprintf(buf, len, "RSA %d", bits);
		/* Stronger RSA keys made elsewhere are kept, weaker ones not. */
		if (bits >= 2048) {
			*type = CERTGEN_KEY_RSA_2048;
			*known = true;
		}
	} else {
		snprintf(buf, len, "%s", EVP_PKEY_get0_type_name(k) ? EVP_PKEY_get0_type_name(k) : "unknown");
	}
	ERR_clear_error();
}

static const char *key_type_name(enum certgen_key_type t)
{
	return t == CERTGEN_KEY_RSA_2048 ? "RSA 2048" : "ECDSA P-256";
}

static bool san_has_dns(const GENERAL_NAMES *gens, const char *name)
{
	size_t len = strlen(name);

	for (int i = 0; i < sk_GENERAL_NAME_num(gens); i++) {
		const GENERAL_NAME *g = sk_GENERAL_NAME_value(gens, i);

		if (g->type == GEN_DNS && (size_t)ASN1_STRING_length(g->d.dNSName) == len &&
		    strncasecmp((const char *)ASN1_STRING_get0_data(g->d.dNSName), name, len) == 0)
			return true;
	}
	return false;
}

static bool san_has_ip(const GENERAL_NAMES *gens, const unsigned char *ip, int len)
{
	for (int i = 0; i < sk_GENERAL_NAME_num(gens); i++) {
		const GENERAL_NAME *g = sk_GENERAL_NAME_value(gens, i);

		if (g->type == GEN_IPADD && ASN1_STRING_length(g->d.iPAddress) == len &&
		    memcmp(ASN1_STRING_get0_data(g->d.iPAddress), ip, (size_t)len) == 0)
			return true;
	}
	return false;
}

/* Expiry against the renewal threshold, for one certificate. */
static enum pt_code check_expiry(const X509 *x, const char *what, const struct certgen_request *r,
				 struct pt_error *e)
{
	time_t not_after;
	char when[32];

	if (!asn1_to_time(X509_get0_notAfter(x), &not_after))
		return ossl_fail(e, PT_INVALID, "cannot read the expiry of '%s'", what);
	format_time(not_after, when, sizeof when);
	if ((int64_t)not_after - (int64_t)r->now < r->renew_before)
		return pt_error_set(e, PT_RANGE,
				    "'%s' expires at %s, within the renewal threshold of %lld days",
				    what, when, (long long)(r->renew_before / 86400));
	return PT_OK;
}

enum pt_code certgen_verify(const struct certgen_request *r, const struct certgen_bundle *b,
			    struct pt_error *e)
{
	char names[MAX_WANTED][CERTGEN_MAX_DNS_LEN + 1];
	X509 *ca = NULL, *leaf = NULL;
	EVP_PKEY *key = NULL;
	X509_STORE *store = NULL;
	X509_STORE_CTX *ctx = NULL;
	GENERAL_NAMES *gens = NULL;
	enum certgen_key_type have_type = CERTGEN_KEY_ECDSA_P256;
	char key_desc[64];
	bool known;
	enum pt_code rc;
	size_t n;

	if ((rc = certgen_request_check(r, e)))
		return rc;
	if (!(ca = parse_cert(b->ca_crt, b->ca_crt_len))) {
		rc = ossl_fail(e, PT_SYNTAX, "cannot read a certificate from '%s'", CERTGEN_CA_CRT);
		goto out;
	}
	if (!(leaf = parse_cert(b->tls_crt, b->tls_crt_len))) {
		rc = ossl_fail(e, PT_SYNTAX, "cannot read a certificate from '%s'", CERTGEN_TLS_CRT);
		goto out;
	}
	if (!(key = parse_key(b->tls_key, b->tls_key_len))) {
		rc = ossl_fail(e, PT_SYNTAX, "cannot read an unencrypted private key from '%s'",
			       CERTGEN_TLS_KEY);
		goto out;
	}
	if (X509_check_private_key(leaf, key) != 1) {
		rc = ossl_fail(e, PT_INVALID, "'%s' does not match the key in '%s'", CERTGEN_TLS_CRT,
			       CERTGEN_TLS_KEY);
		goto out;
	}
	if (X509_check_ca(ca) < 1) {
		rc = pt_error_set(e, PT_INVALID, "'%s' is not a CA certificate", CERTGEN_CA_CRT);
		goto out;
	}
	store = X509_STORE_new();
	ctx = X509_STORE_CTX_new();
	if (!store || !ctx || X509_STORE_add_cert(store, ca) != 1 ||
	    X509_STORE_CTX_init(ctx, store, leaf, NULL) != 1 ||
	    X509_STORE_CTX_set_purpose(ctx, X509_PURPOSE_SSL_SERVER) != 1) {
		rc = ossl_fail(e, PT_NOMEM, "cannot set up certificate verification");
		goto out;
	}
	X509_VERIFY_PARAM_set_time(X509_STORE_CTX_get0_param(ctx), r->now);
	if (X509_verify_cert(ctx) != 1) {
		int err = X509_STORE_CTX_get_error(ctx);

		rc = pt_error_set(e, PT_INVALID, "'%s' does not verify against '%s': %s",
				  CERTGEN_TLS_CRT, CERTGEN_CA_CRT, X509_verify_cert_error_string(err));
		goto out;
	}
	describe_key(key, key_desc, sizeof key_desc, &have_type, &known);
	if (!known || have_type != r->key_type) {
		rc = pt_error_set(e, PT_INVALID, "'%s' is %s, but %s was asked for", CERTGEN_TLS_KEY,
				  key_desc, key_type_name(r->key_type));
		goto out;
	}
	gens = X509_get_ext_d2i(leaf, NID_subject_alt_name, NULL, NULL);
	if (!gens) {
		rc = pt_error_set(e, PT_INVALID, "'%s' has no subjectAltName", CERTGEN_TLS_CRT);
		goto out;
	}
	n = wanted_dns(r, names);
	for (size_t i = 0; i < n; i++) {
		if (!san_has_dns(gens, names[i])) {
			rc = pt_error_set(e, PT_INVALID, "'%s' does not cover the name '%s'",
					  CERTGEN_TLS_CRT, names[i]);
			goto out;
		}
	}
	for (size_t i = 0; i < r->n_ips; i++) {
		unsigned char ip[16];
		int len = parse_ip(r->ips[i], ip);

		if (!san_has_ip(gens, ip, len)) {
			rc = pt_error_set(e, PT_INVALID, "'%s' does not cover the address '%s'",
					  CERTGEN_TLS_CRT, r->ips[i]);
			goto out;
		}
	}
	if ((rc = check_expiry(ca, CERTGEN_CA_CRT, r, e)) || (rc = check_expiry(leaf, CERTGEN_TLS_CRT, r, e)))
		goto out;
	rc = PT_OK;
out:
	GENERAL_NAMES_free(gens);
	X509_STORE_CTX_free(ctx);
	X509_STORE_free(store);
	X509_free(ca);
	X509_free(leaf);
	EVP_PKEY_free(key);
	ERR_clear_error();
	return rc;
}

static enum pt_code read_one(const char *dir, const char *name, char **data, size_t *len,
			     struct pt_error *e)
{
	char path[PATH_MAX];
	struct buf b;
	enum pt_code rc;

	if ((size_t)snprintf(path, sizeof path, "%s/%s", dir, name) >= sizeof path)
		return pt_error_set(e, PT_LIMIT, "cannot read '%s/%s': path too long", dir, name);
	buf_init(&b, CERTGEN_MAX_PEM_BYTES);
	if ((rc = fileio_read(path, CERTGEN_MAX_PEM_BYTES, &b, e))) {
		buf_release(&b);
		return rc;
	}
	*data = buf_detach(&b, len);
	if (!*data)
		return pt_error_set(e, PT_NOMEM, "cannot read '%s': out of memory", path);
	return PT_OK;
}

enum pt_code certgen_read_dir(const char *dir, struct certgen_bundle *out, struct pt_error *e)
{
	struct certgen_bundle b = {0};
	enum pt_code rc;

	if ((rc = read_one(dir, CERTGEN_CA_CRT, &b.ca_crt, &b.ca_crt_len, e)) ||
	    (rc = read_one(dir, CERTGEN_TLS_CRT, &b.tls_crt, &b.tls_crt_len, e)) ||
	    (rc = read_one(dir, CERTGEN_TLS_KEY, &b.tls_key, &b.tls_key_len, e))) {
		certgen_bundle_release(&b);
		return rc;
	}
	*out = b;
	return PT_OK;
}

enum pt_code certgen_write_dir(const char *dir, const struct certgen_bundle *b, struct pt_error *e)
{
	static const struct {
		const char *name;
		mode_t mode;
	} files[] = {
		/* The key first: a reader that sees the new tls.crt must find
		 * its key already there. */
		{CERTGEN_TLS_KEY, 0600},
		{CERTGEN_TLS_CRT, 0644},
		{CERTGEN_CA_CRT, 0644},
	};
	const char *data[] = {b->tls_key, b->tls_crt, b->ca_crt};
	size_t len[] = {b->tls_key_len, b->tls_crt_len, b->ca_crt_len};
	enum pt_code rc;

	if (!b->ca_crt || !b->tls_crt || !b->tls_key)
		return pt_error_set(e, PT_INVALID, "cannot write into '%s': the bundle is incomplete", dir);
	if (mkdir(dir, 0755) < 0 && errno != EEXIST)
		return pt_error_sys(e, errno, "cannot create directory '%s'", dir);
	for (size_t i = 0; i < sizeof files / sizeof files[0]; i++) {
		char path[PATH_MAX];

		if ((size_t)snprintf(path, sizeof path, "%s/%s", dir, files[i].name) >= sizeof path)
			return pt_error_set(e, PT_LIMIT, "cannot write '%s/%s': path too long", dir,
					    files[i].name);
		if ((rc = fileio_write_atomic(path, data[i], len[i], files[i].mode, e)))
			return rc;
	}
	return PT_OK;
}

static void name_text(const X509_NAME *name, char *buf, size_t len)
{
	BIO *b = BIO_new(BIO_s_mem());
	char *data;
	long n;

	buf[0] = '\0';
	if (!b)
		return;
	if (X509_NAME_print_ex(b, name, 0, XN_FLAG_RFC2253) >= 0 && (n = BIO_get_mem_data(b, &data)) > 0)
		snprintf(buf, len, "%.*s", (int)n, data);
	BIO_free(b);
}

static void sans_text(const X509 *x, char *buf, size_t len)
{
	GENERAL_NAMES *gens = X509_get_ext_d2i(x, NID_subject_alt_name, NULL, NULL);
	struct buf out;

	buf[0] = '\0';
	if (!gens)
		return;
	buf_init(&out, len - 1);
	for (int i = 0; i < sk_GENERAL_NAME_num(gens); i++) {
		const GENERAL_NAME *g = sk_GENERAL_NAME_value(gens, i);
		char ip[INET6_ADDRSTRLEN];
		enum pt_code rc = PT_OK;
		const char *sep = out.len ? ", " : "";

		if (g->type == GEN_DNS) {
			rc = buf_printf(&out, "%sDNS:%.*s", sep, ASN1_STRING_length(g->d.dNSName),
					(const char *)ASN1_STRING_get0_data(g->d.dNSName));
		} else if (g->type == GEN_IPADD) {
			int l = ASN1_STRING_length(g->d.iPAddress);
			const unsigned char *p = ASN1_STRING_get0_data(g->d.iPAddress);

			if ((l == 4 && inet_ntop(AF_INET, p, ip, sizeof ip)) ||
			    (l == 16 && inet_ntop(AF_INET6, p, ip, sizeof ip)))
				rc = buf_printf(&out, "%sIP:%s", sep, ip);
		}
		if (rc)
			break; /* truncated: keep what fits */
	}
	if (out.data)
		snprintf(buf, len, "%s", out.data);
	buf_release(&out);
	GENERAL_NAMES_free(gens);
}

enum pt_code certgen_info_pem(const char *pem, size_t len, struct certgen_info *out,
			      struct pt_error *e)
{
	struct certgen_info info;
	X509 *x = parse_cert(pem, len);
	BIGNUM *bn = NULL;
	char *hex = NULL;
	enum certgen_key_type t;
	EVP_PKEY *pk;
	bool known;
	enum pt_code rc = PT_OK;

	memset(&info, 0, sizeof info);
	if (!x)
		return ossl_fail(e, PT_SYNTAX, "cannot read a PEM certificate");
	if (!asn1_to_time(X509_get0_notBefore(x), &info.not_before) ||
	    !asn1_to_time(X509_get0_notAfter(x), &info.not_after)) {
		rc = ossl_fail(e, PT_INVALID, "cannot read the validity of the certificate");
		goto out;
	}
	bn = ASN1_INTEGER_to_BN(X509_get0_serialNumber(x), NULL);
	hex = bn ? BN_bn2hex(bn) : NULL;
	if (!hex) {
		rc = ossl_fail(e, PT_NOMEM, "cannot read the serial number of the certificate");
		goto out;
	}
	for (size_t i = 0; hex[i] && i + 1 < sizeof info.serial; i++)
		info.serial[i] = (char)tolower((unsigned char)hex[i]);
	name_text(X509_get_subject_name(x), info.subject, sizeof info.subject);
	name_text(X509_get_issuer_name(x), info.issuer, sizeof info.issuer);
	sans_text(x, info.sans, sizeof info.sans);
	pk = X509_get0_pubkey(x);
	if (pk)
		describe_key(pk, info.key_type, sizeof info.key_type, &t, &known);
	info.is_ca = X509_check_ca(x) >= 1;
	*out = info;
out:
	OPENSSL_free(hex);
	BN_free(bn);
	X509_free(x);
	ERR_clear_error();
	return rc;
}

enum pt_code certgen_info_file(const char *path, struct certgen_info *out, struct pt_error *e)
{
	struct buf b;
	enum pt_code rc;

	buf_init(&b, CERTGEN_MAX_PEM_BYTES);
	if ((rc = fileio_read(path, CERTGEN_MAX_PEM_BYTES, &b, e)) == PT_OK &&
	    (rc = certgen_info_pem(b.data ? b.data : "", b.len, out, e)) && e) {
		char why[sizeof e->msg];

		snprintf(why, sizeof why, "%s", e->msg);
		pt_error_set(e, rc, "cannot read '%s': %s", path, why);
	}
	buf_release(&b);
	return rc;
}
