/* SPDX-License-Identifier: Apache-2.0 */
/* `podtuner certgen`: the kube-webhook-certgen job in one command. It keeps
 * a valid existing pair (idempotent, so it can run on every deploy), writes
 * files or a kubernetes.io/tls Secret, and patches caBundle into every
 * webhook of a MutatingWebhookConfiguration with a guarded JSON patch. */
#include "certgen.h"

#include <errno.h>
#include <getopt.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../core/base64.h"
#include "../core/buf.h"
#include "../core/certgen.h"
#include "../core/http_client.h"
#include "../core/json.h"
#include "../core/kube.h"

#define EXIT_OK 0
#define EXIT_FAIL 1
#define EXIT_USAGE 2

/* A Secret or a webhook configuration we read back: far below this. */
#define MAX_OBJECT_BYTES (4u << 20)
/* How often a guarded patch is retried when the object changed between
 * our GET and our PATCH. */
#define PATCH_ATTEMPTS 3
#define DEFAULT_TIMEOUT_MS 30000LL

#define ADMISSION_API "/apis/admissionregistration.k8s.io/v1"

struct opts {
	struct certgen_request req;
	const char *dns[CERTGEN_MAX_DNS + 1];
	const char *ips[CERTGEN_MAX_IPS + 1];
	const char *out_dir;
	const char *secret_name;
	bool secret_apply;
	bool force;
	bool drop_old_ca;
	const char *webhook;
	const char *kubeconfig;
	const char *context;
	long timeout_ms;
};

static const char usage_text[] =
	"usage: podtuner certgen --service NAME --namespace NS [options]\n"
	"\n"
	"Make a CA and a serving certificate for the webhook Service (SANs\n"
	"NAME.NS.svc and NAME.NS.svc.cluster.local), keep them if valid ones exist,\n"
	"and optionally patch the CA into a MutatingWebhookConfiguration.\n"
	"\n"
	"Output (exactly one):\n"
	"  --out-dir DIR           write DIR/ca.crt, DIR/tls.crt, DIR/tls.key (0600)\n"
	"  --secret-name NAME      print a kubernetes.io/tls Secret manifest to stdout\n"
	"    --secret-apply        create or update that Secret through the API instead\n"
	"Certificate:\n"
	"  --dns NAME              extra DNS SAN (repeatable, up to 32)\n"
	"  --ip ADDR               IP SAN (repeatable, up to 16)\n"
	"  --ca-validity DUR       CA lifetime (default 10y; units y d h m s, y = 365d)\n"
	"  --validity DUR          serving certificate lifetime (default 1y)\n"
	"  --renew-before DUR      replace a pair expiring within DUR (default 30d)\n"
	"  --key-type ecdsa|rsa    ECDSA P-256 (default) or RSA 2048\n"
	"  --force                 regenerate even if the existing pair is valid\n"
	"API:\n"
	"  --patch-webhook NAME    set caBundle in every webhook of this\n"
	"                          MutatingWebhookConfiguration; for an hour after a\n"
	"                          renewal it also trusts the CA it replaces\n"
	"  --drop-old-ca           trust only the current CA at once (after a key leak)\n"
	"  --kubeconfig FILE       kubeconfig to use (default: $KUBECONFIG, in-cluster,\n"
	"                          ~/.kube/config); exec plugins are not supported\n"
	"  --context NAME          kubeconfig context (default: current-context)\n"
	"  --timeout DUR           per API request (default 30s)\n"
	"  --help\n"
	"\n"
	"Exit status: 0 ok, 1 failure, 2 usage error.\n";

PT_PRINTF(1, 2)
static int usage_error(const char *fmt, ...)
{
	va_list ap;

	fprintf(stderr, "podtuner certgen: ");
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fprintf(stderr, "\nTry 'podtuner certgen --help'.\n");
	return EXIT_USAGE;
}

static void say(const char *msg, const char *detail)
{
	fprintf(stderr, "podtuner certgen: %s%s%s\n", msg, detail ? ": " : "", detail ? detail : "");
}

static int fail(const struct pt_error *e)
{
	char line[1024];

	fprintf(stderr, "podtuner certgen: error: %s\n", pt_error_format(e, line, sizeof line));
	return EXIT_FAIL;
}

/* "10y", "365d", "12h", "30m", "45s": one number and one unit, y = 365d. */
static bool parse_duration(const char *s, int64_t *out)
{
	int64_t n = 0, unit;
	size_t i = 0;

	while (s[i] >= '0' && s[i] <= '9') {
		if (i >= 9)
			return false;
		n = n * 10 + (s[i] - '0');
		i++;
	}
	if (i == 0 || !s[i] || s[i + 1])
		return false;
	switch (s[i]) {
	case 'y': unit = 365LL * 86400; break;
	case 'd': unit = 86400; break;
	case 'h': unit = 3600; break;
	case 'm': unit = 60; break;
	case 's': unit = 1; break;
	default: return false;
	}
	*out = n * unit;
	return true;
}

/* A DNS-1123 subdomain, the rule for Secret and webhook configuration
 * names: at most 253 of [a-z0-9-.], alphanumeric at both ends of each
 * dot-separated part. */
static bool is_dns_subdomain(const char *s)
{
	size_t len = strlen(s);

	if (len == 0 || len > 253)
		return false;
	for (size_t i = 0; i < len; i++) {
		char c = s[i];
		bool alnum = (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9');
		bool edge = i == 0 || i == len - 1 || s[i - 1] == '.' || s[i + 1] == '.';

		if (!alnum && c != '-' && c != '.')
			return false;
		if (!alnum && edge)
			return false;
	}
	return true;
}

static int parse_args(int argc, char **argv, struct opts *o)
{
	enum { O_SERVICE = 256, O_NAMESPACE, O_DNS, O_IP, O_OUT_DIR, O_SECRET_NAME, O_SECRET_APPLY,
	       O_CA_VALIDITY, O_VALIDITY, O_RENEW, O_KEY_TYPE, O_FORCE, O_DROP_OLD_CA, O_WEBHOOK, O_KUBECONFIG,
	       O_CONTEXT, O_TIMEOUT, O_HELP };
	static const struct option longopts[] = {
		{"service", required_argument, NULL, O_SERVICE},
		{"namespace", required_argument, NULL, O_NAMESPACE},
		{"dns", required_argument, NULL, O_DNS},
		{"ip", required_argument, NULL, O_IP},
		{"out-dir", required_argument, NULL, O_OUT_DIR},
		{"secret-name", required_argument, NULL, O_SECRET_NAME},
		{"secret-apply", no_argument, NULL, O_SECRET_APPLY},
		{"ca-validity", required_argument, NULL, O_CA_VALIDITY},
		{"validity", required_argument, NULL, O_VALIDITY},
		{"renew-before", required_argument, NULL, O_RENEW},
		{"key-type", required_argument, NULL, O_KEY_TYPE},
		{"force", no_argument, NULL, O_FORCE},
		{"drop-old-ca", no_argument, NULL, O_DROP_OLD_CA},
		{"patch-webhook", required_argument, NULL, O_WEBHOOK},
		{"kubeconfig", required_argument, NULL, O_KUBECONFIG},
		{"context", required_argument, NULL, O_CONTEXT},
		{"timeout", required_argument, NULL, O_TIMEOUT},
		{"help", no_argument, NULL, O_HELP},
		{NULL, 0, NULL, 0},
	};
	int64_t secs;
	int c;

	certgen_request_init(&o->req);
	o->req.dns = o->dns;
	o->req.ips = o->ips;
	o->timeout_ms = DEFAULT_TIMEOUT_MS;
	optind = 0; /* GNU getopt: a full re-initialisation, so we can run twice */
	opterr = 0;
	while ((c = getopt_long(argc, argv, "", longopts, NULL)) != -1) {
		switch (c) {
		case O_SERVICE: o->req.service = optarg; break;
		case O_NAMESPACE: o->req.namespace = optarg; break;
		case O_DNS:
			if (o->req.n_dns >= CERTGEN_MAX_DNS)
				return usage_error("too many --dns (the limit is 32), at '%s'", optarg);
			o->dns[o->req.n_dns++] = optarg;
			break;
		case O_IP:
			if (o->req.n_ips >= CERTGEN_MAX_IPS)
				return usage_error("too many --ip (the limit is 16), at '%s'", optarg);
			o->ips[o->req.n_ips++] = optarg;
			break;
		case O_OUT_DIR: o->out_dir = optarg; break;
		case O_SECRET_NAME: o->secret_name = optarg; break;
		case O_SECRET_APPLY: o->secret_apply = true; break;
		case O_CA_VALIDITY:
		case O_VALIDITY:
		case O_RENEW:
		case O_TIMEOUT:
			if (!parse_duration(optarg, &secs))
				return usage_error("invalid duration '%s' (want e.g. 10y, 90d, 12h, 30s)", optarg);
			if (c == O_CA_VALIDITY)
				o->req.ca_validity = secs;
			else if (c == O_VALIDITY)
				o->req.validity = secs;
			else if (c == O_RENEW)
				o->req.renew_before = secs;
			else if (secs < 1 || secs > 3600)
				return usage_error("--timeout '%s' is out of range [1s, 1h]", optarg);
			else
				o->timeout_ms = (long)secs * 1000;
			break;
		case O_KEY_TYPE:
			if (strcmp(optarg, "ecdsa") == 0)
				o->req.key_type = CERTGEN_KEY_ECDSA_P256;
			else if (strcmp(optarg, "rsa") == 0)
				o->req.key_type = CERTGEN_KEY_RSA_2048;
			else
				return usage_error("invalid --key-type '%s' (want ecdsa or rsa)", optarg);
			break;
		case O_FORCE: o->force = true; break;
		case O_DROP_OLD_CA: o->drop_old_ca = true; break;
		case O_WEBHOOK: o->webhook = optarg; break;
		case O_KUBECONFIG: o->kubeconfig = optarg; break;
		case O_CONTEXT: o->context = optarg; break;
		case O_HELP:
			fputs(usage_text, stdout);
			return -1;
		default:
			return usage_error("unknown or incomplete option '%s'", argv[optind - 1]);
		}
	}
	if (optind < argc)
		return usage_error("unexpected argument '%s'", argv[optind]);
	if (!o->req.service)
		return usage_error("%s", "--service is required");
	if (!o->req.namespace)
		return usage_error("%s", "--namespace is required");
	if (!o->out_dir == !o->secret_name)
		return usage_error("%s", "give exactly one of --out-dir and --secret-name");
	if (o->secret_apply && !o->secret_name)
		return usage_error("%s", "--secret-apply needs --secret-name");
	if (o->secret_name && !is_dns_subdomain(o->secret_name))
		return usage_error("invalid --secret-name '%s': must be a DNS-1123 subdomain", o->secret_name);
	if (o->webhook && !is_dns_subdomain(o->webhook))
		return usage_error("invalid --patch-webhook '%s': must be a DNS-1123 subdomain", o->webhook);
	if ((o->kubeconfig || o->context) && !o->webhook && !o->secret_apply)
		return usage_error("%s", "--kubeconfig and --context need --patch-webhook or --secret-apply");
	if (o->drop_old_ca && !o->webhook)
		return usage_error("%s", "--drop-old-ca needs --patch-webhook");
	{
		struct pt_error e = {0};

		if (certgen_request_check(&o->req, &e))
			return usage_error("%s", e.msg);
	}
	return EXIT_OK;
}

static void describe_kept(const char *where, const struct certgen_bundle *b)
{
	struct certgen_info info;
	char line[512], when[32];
	struct tm tm;

	if (certgen_info_pem(b->tls_crt, b->tls_crt_len, &info, NULL) != PT_OK) {
		say("keeping the existing certificates", where);
		return;
	}
	if (!gmtime_r(&info.not_after, &tm) || !strftime(when, sizeof when, "%Y-%m-%dT%H:%M:%SZ", &tm))
		snprintf(when, sizeof when, "?");
	snprintf(line, sizeof line, "%s (valid until %s, serial %s)", where, when, info.serial);
	say("keeping the existing certificates, they are valid for this request", line);
}

static int run_out_dir(struct opts *o, struct certgen_bundle *bundle)
{
	struct certgen_bundle old = {0};
	struct pt_error e = {0};
	enum pt_code rc;
	char why[600];

	if (o->force) {
		snprintf(why, sizeof why, "--force");
	} else if ((rc = certgen_read_dir(o->out_dir, &old, &e)) == PT_OK &&
		   (rc = certgen_verify(&o->req, &old, &e)) == PT_OK) {
		describe_kept(o->out_dir, &old);
		*bundle = old;
		return EXIT_OK;
	} else if (rc == PT_NOMEM) {
		certgen_bundle_release(&old);
		return fail(&e);
	} else {
		certgen_bundle_release(&old);
		snprintf(why, sizeof why, "%s", rc == PT_NOTFOUND ? "no existing certificates" : e.msg);
	}
	if ((rc = certgen_generate(&o->req, bundle, &e)) || (rc = certgen_write_dir(o->out_dir, bundle, &e)))
		return fail(&e);
	{
		char line[800];

		snprintf(line, sizeof line, "%s (%s)", o->out_dir, why);
		say("wrote new certificates", line);
	}
	return EXIT_OK;
}

/* The Secret as a cJSON object; NULL on allocation failure. */
static cJSON *secret_json(const struct opts *o, const struct certgen_bundle *b, cJSON *obj)
{
	const char *keys[] = {CERTGEN_CA_CRT, CERTGEN_TLS_CRT, CERTGEN_TLS_KEY};
	const char *vals[] = {b->ca_crt, b->tls_crt, b->tls_key};
	size_t lens[] = {b->ca_crt_len, b->tls_crt_len, b->tls_key_len};
	cJSON *data, *meta;

	if (!obj) {
		obj = cJSON_CreateObject();
		meta = cJSON_AddObjectToObject(obj, "metadata");
		if (!cJSON_AddStringToObject(obj, "apiVersion", "v1") ||
		    !cJSON_AddStringToObject(obj, "kind", "Secret") || !meta ||
		    !cJSON_AddStringToObject(meta, "name", o->secret_name) ||
		    !cJSON_AddStringToObject(meta, "namespace", o->req.namespace) ||
		    !cJSON_AddStringToObject(obj, "type", "kubernetes.io/tls"))
			goto fail;
	}
	cJSON_DeleteItemFromObjectCaseSensitive(obj, "data");
	if (!(data = cJSON_AddObjectToObject(obj, "data")))
		goto fail;
	for (size_t i = 0; i < 3; i++) {
		struct buf enc;
		cJSON *s;

		buf_init(&enc, base64_encoded_len(lens[i]) + 1);
		if (base64_encode(&enc, vals[i], lens[i]) ||
		    !(s = cJSON_AddStringToObject(data, keys[i], enc.data))) {
			buf_release(&enc);
			goto fail;
		}
		buf_release(&enc);
	}
	return obj;
fail:
	cJSON_Delete(obj);
	return NULL;
}

/* The Secret as YAML for kubectl apply: every value is base64 or a
 * validated DNS name, so nothing needs quoting. */
static int print_secret(const struct opts *o, const struct certgen_bundle *b)
{
	cJSON *obj = secret_json(o, b, NULL);
	const cJSON *data, *it;

	if (!obj) {
		fprintf(stderr, "podtuner certgen: error: cannot build the Secret: out of memory\n");
		return EXIT_FAIL;
	}
	data = json_get(obj, "data");
	printf("apiVersion: v1\nkind: Secret\nmetadata:\n  name: %s\n  namespace: %s\n"
	       "type: kubernetes.io/tls\ndata:\n", o->secret_name, o->req.namespace);
	cJSON_ArrayForEach(it, data)
		printf("  %s: %s\n", it->string, it->valuestring);
	cJSON_Delete(obj);
	if (fflush(stdout) != 0 || ferror(stdout)) {
		fprintf(stderr, "podtuner certgen: error: cannot write the Secret to stdout: %s\n", strerror(errno));
		return EXIT_FAIL;
	}
	say("printed a new Secret manifest", o->secret_name);
	return EXIT_OK;
}

/* Explain a failed API call: the error, then what to do about it. */
static int api_fail(const struct pt_error *e, long status, const char *rbac, const struct kube_config *cfg)
{
	fail(e);
	if (status == 401)
		fprintf(stderr, "podtuner certgen: hint: the API server rejected the credentials of %s: the token may be expired or revoked, or the client certificate untrusted\n",
			cfg->source);
	else if (status == 403)
		fprintf(stderr, "podtuner certgen: hint: the identity of %s needs this RBAC rule: %s\n",
			cfg->source, rbac);
	return EXIT_FAIL;
}

static int call(struct kube_config *cfg, struct http_client *hc, const struct opts *o, const char *method,
		const char *path, const char *ctype, const char *body, struct http_response *resp,
		struct pt_error *e)
{
	struct kube_call kc = {
		.method = method,
		.path = path,
		.content_type = ctype,
		.body = body,
		.body_len = body ? strlen(body) : 0,
		.timeout_ms = o->timeout_ms,
		.max_response = MAX_OBJECT_BYTES,
	};

	return kube_request(cfg, hc, &kc, resp, e);
}

/* Secret from the API: keep a valid one, else create or replace it. */
static int run_secret_apply(struct opts *o, struct kube_config *cfg, struct http_client *hc,
			    struct certgen_bundle *bundle)
{
	char rbac[512];
	struct buf path, coll;
	struct http_response resp;
	struct pt_error e = {0};
	cJSON *obj = NULL;
	char *body = NULL;
	int ret = EXIT_FAIL;
	enum pt_code rc;
	char why[600] = "no existing Secret";

	snprintf(rbac, sizeof rbac,
		 "a Role in namespace '%s' with apiGroups: [\"\"], resources: [secrets], verbs: [get, create, update]",
		 o->req.namespace);
	buf_init(&path, KUBE_MAX_PATH_LEN);
	buf_init(&coll, KUBE_MAX_PATH_LEN);
	http_response_init(&resp, MAX_OBJECT_BYTES);
	if (kube_path(&path, "/api/v1", o->req.namespace, "secrets", o->secret_name, NULL, &e) ||
	    kube_path(&coll, "/api/v1", o->req.namespace, "secrets", NULL, NULL, &e)) {
		fail(&e);
		goto out;
	}
	rc = call(cfg, hc, o, "GET", path.data, NULL, NULL, &resp, &e);
	if (rc && resp.status != 404) {
		api_fail(&e, resp.status, rbac, cfg);
		goto out;
	}
	if (rc == PT_OK) {
		struct certgen_bundle old = {0};
		const char *keys[] = {CERTGEN_CA_CRT, CERTGEN_TLS_CRT, CERTGEN_TLS_KEY};
		char **dst[] = {&old.ca_crt, &old.tls_crt, &old.tls_key};
		size_t *dlen[] = {&old.ca_crt_len, &old.tls_crt_len, &old.tls_key_len};
		const char *type;
		bool complete = true;

		obj = json_parse(resp.body.data, resp.body.len, &e);
		if (!obj) {
			fprintf(stderr, "podtuner certgen: error: cannot parse Secret '%s/%s': %s\n",
				o->req.namespace, o->secret_name, e.msg);
			goto out;
		}
		type = json_get_str(obj, "type");
		/* A Secret's type is immutable (the apiserver rejects the update). */
		if (!type || strcmp(type, "kubernetes.io/tls") != 0) {
			fprintf(stderr, "podtuner certgen: error: Secret '%s/%s' has type '%s', not kubernetes.io/tls, and a Secret's type cannot change: delete it or pick another --secret-name\n",
				o->req.namespace, o->secret_name, type ? type : "");
			goto out;
		}
		for (size_t i = 0; i < 3 && complete; i++) {
			const char *v = json_get_str(json_get(obj, "data"), keys[i]);
			struct buf dec;

			buf_init(&dec, CERTGEN_MAX_PEM_BYTES);
			if (!v || base64_decode(&dec, v, strlen(v), keys[i], NULL)) {
				complete = false;
				buf_release(&dec);
				break;
			}
			*dst[i] = buf_detach(&dec, dlen[i]);
			complete = *dst[i] != NULL;
		}
		if (!complete) {
			snprintf(why, sizeof why, "the Secret lacks valid ca.crt, tls.crt and tls.key");
		} else if (o->force) {
			snprintf(why, sizeof why, "--force");
		} else if ((rc = certgen_verify(&o->req, &old, &e)) == PT_OK) {
			char where[300];

			snprintf(where, sizeof where, "Secret %s/%s", o->req.namespace, o->secret_name);
			describe_kept(where, &old);
			*bundle = old;
			ret = EXIT_OK;
			goto out;
		} else {
			snprintf(why, sizeof why, "%s", e.msg);
		}
		certgen_bundle_release(&old);
	}
	if (certgen_generate(&o->req, bundle, &e)) {
		fail(&e);
		goto out;
	}
	/* Replace keeps the object's other metadata; its resourceVersion makes
	 * the update fail with 409 if someone changed the Secret meanwhile. */
	obj = secret_json(o, bundle, obj);
	body = obj ? cJSON_PrintUnformatted(obj) : NULL;
	if (!body) {
		fprintf(stderr, "podtuner certgen: error: cannot build the Secret: out of memory\n");
		goto out;
	}
	rc = resp.status == 404 ? call(cfg, hc, o, "POST", coll.data, "application/json", body, &resp, &e)
				: call(cfg, hc, o, "PUT", path.data, "application/json", body, &resp, &e);
	if (rc) {
		api_fail(&e, resp.status, rbac, cfg);
		goto out;
	}
	{
		char line[900];

		snprintf(line, sizeof line, "%s/%s (%s)", o->req.namespace, o->secret_name, why);
		say(resp.status == 201 ? "created Secret" : "updated Secret", line);
	}
	ret = EXIT_OK;
out:
	free(body);
	cJSON_Delete(obj);
	http_response_release(&resp);
	buf_release(&path);
	buf_release(&coll);
	return ret;
}

/* The caBundle webhook hook should carry (base64, into want): the CA, and
 * the one it replaces for as long as certgen_ca_bundle keeps it (grace_s). */
static enum pt_code wanted_bundle(const cJSON *hook, const struct certgen_bundle *b, time_t now, int64_t grace_s,
				  struct buf *want, struct pt_error *e)
{
	const char *cur = json_get_str(json_get(hook, "clientConfig"), "caBundle");
	struct buf pem, dec;
	enum pt_code rc;

	buf_init(&pem, 2 * CERTGEN_MAX_PEM_BYTES);
	buf_init(&dec, CERTGEN_MAX_PEM_BYTES);
	/* A caBundle that does not decode counts as none. */
	if (!cur || base64_decode(&dec, cur, strlen(cur), "caBundle", NULL))
		buf_reset(&dec);
	rc = certgen_ca_bundle(b->ca_crt, b->ca_crt_len, dec.data, dec.len, now, grace_s, &pem, e);
	buf_reset(want);
	if (!rc && base64_encode(want, pem.data, pem.len))
		rc = pt_error_set(e, PT_NOMEM, "cannot encode the caBundle: out of memory");
	buf_release(&pem);
	buf_release(&dec);
	return rc;
}

/* Build the guarded JSON patch for every webhook whose caBundle differs.
 * Returns the number of webhooks to change, or -1 with e filled. */
static int build_patch(const cJSON *obj, const char *name, const struct certgen_bundle *b, time_t now,
		       int64_t grace_s, cJSON **patch, int *total, struct pt_error *e)
{
	const char *rv = json_get_str(json_get(obj, "metadata"), "resourceVersion");
	const cJSON *hooks = json_get(obj, "webhooks"), *hook;
	cJSON *ops = NULL, *op;
	struct buf want;
	int i = 0, changed = 0;

	*total = 0;
	buf_init(&want, 4 * CERTGEN_MAX_PEM_BYTES);
	if (!rv || !rv[0]) {
		pt_error_set(e, PT_INVALID, "MutatingWebhookConfiguration '%s' has no metadata.resourceVersion", name);
		return -1;
	}
	if (!cJSON_IsArray(hooks) || cJSON_GetArraySize(hooks) == 0) {
		pt_error_set(e, PT_INVALID, "MutatingWebhookConfiguration '%s' has no webhooks", name);
		return -1;
	}
	if (!(ops = cJSON_CreateArray()))
		goto nomem;
	/* The test makes the apiserver apply the patch only to the object we
	 * read: indexes stay right, a concurrent edit fails with 422. */
	if (!(op = cJSON_CreateObject()) || !cJSON_AddItemToArray(ops, op) ||
	    !cJSON_AddStringToObject(op, "op", "test") ||
	    !cJSON_AddStringToObject(op, "path", "/metadata/resourceVersion") ||
	    !cJSON_AddStringToObject(op, "value", rv))
		goto nomem;
	cJSON_ArrayForEach(hook, hooks) {
		const cJSON *cc = json_get(hook, "clientConfig");
		const cJSON *cur = json_get(cc, "caBundle");
		char path[96];

		if (!cJSON_IsObject(cc)) {
			pt_error_set(e, PT_INVALID, "webhook %d of MutatingWebhookConfiguration '%s' has no clientConfig",
				     i, name);
			goto fail;
		}
		if (wanted_bundle(hook, b, now, grace_s, &want, e))
			goto fail;
		if (!(cJSON_IsString(cur) && strcmp(cur->valuestring, want.data) == 0)) {
			snprintf(path, sizeof path, "/webhooks/%d/clientConfig/caBundle", i);
			/* RFC 6902 "replace" needs the member to exist; "add"
			 * creates it. */
			if (!(op = cJSON_CreateObject()) || !cJSON_AddItemToArray(ops, op) ||
			    !cJSON_AddStringToObject(op, "op", cur ? "replace" : "add") ||
			    !cJSON_AddStringToObject(op, "path", path) ||
			    !cJSON_AddStringToObject(op, "value", want.data))
				goto nomem;
			changed++;
		}
		i++;
	}
	buf_release(&want);
	*total = i;
	*patch = ops;
	return changed;
nomem:
	pt_error_set(e, PT_NOMEM, "cannot build the patch: out of memory");
fail:
	buf_release(&want);
	cJSON_Delete(ops);
	return -1;
}

static int run_patch_webhook(const struct opts *o, struct kube_config *cfg, struct http_client *hc,
			     const struct certgen_bundle *b)
{
	char rbac[512];
	struct buf path;
	struct http_response resp;
	struct pt_error e = {0};
	int ret = EXIT_FAIL;

	snprintf(rbac, sizeof rbac,
		 "a ClusterRole with apiGroups: [admissionregistration.k8s.io], resources: [mutatingwebhookconfigurations], verbs: [get, patch], resourceNames: [%s]",
		 o->webhook);
	buf_init(&path, KUBE_MAX_PATH_LEN);
	http_response_init(&resp, MAX_OBJECT_BYTES);
	if (kube_path(&path, ADMISSION_API, NULL, "mutatingwebhookconfigurations", o->webhook, NULL, &e)) {
		fail(&e);
		goto out;
	}
	for (int attempt = 1; attempt <= PATCH_ATTEMPTS; attempt++) {
		cJSON *obj = NULL, *patch = NULL;
		char *body = NULL;
		int changed, total;
		enum pt_code rc;

		if (call(cfg, hc, o, "GET", path.data, NULL, NULL, &resp, &e)) {
			if (resp.status == 404)
				fprintf(stderr, "podtuner certgen: error: MutatingWebhookConfiguration '%s' does not exist (%s): apply the webhook's manifests first\n",
					o->webhook, e.msg);
			else
				api_fail(&e, resp.status, rbac, cfg);
			goto out;
		}
		if (!(obj = json_parse(resp.body.data, resp.body.len, &e))) {
			fprintf(stderr, "podtuner certgen: error: cannot parse MutatingWebhookConfiguration '%s': %s\n",
				o->webhook, e.msg);
			goto out;
		}
		changed = build_patch(obj, o->webhook, b, o->req.now,
				      o->drop_old_ca ? 0 : CERTGEN_DEFAULT_OLD_CA_GRACE, &patch, &total, &e);
		cJSON_Delete(obj);
		if (changed < 0) {
			fail(&e);
			goto out;
		}
		if (changed == 0) {
			char line[400];

			cJSON_Delete(patch);
			snprintf(line, sizeof line, "all %d webhooks of '%s' already trust this CA", total, o->webhook);
			say("caBundle is current", line);
			ret = EXIT_OK;
			goto out;
		}
		body = cJSON_PrintUnformatted(patch);
		cJSON_Delete(patch);
		if (!body) {
			fprintf(stderr, "podtuner certgen: error: cannot build the patch: out of memory\n");
			goto out;
		}
		rc = call(cfg, hc, o, "PATCH", path.data, "application/json-patch+json", body, &resp, &e);
		free(body);
		if (rc == PT_OK) {
			char line[400];

			snprintf(line, sizeof line, "%d of %d webhooks of '%s'", changed, total, o->webhook);
			say("patched caBundle", line);
			ret = EXIT_OK;
			goto out;
		}
		/* 422: our test op failed, the object changed since the GET;
		 * 409: a conflict. Both mean: read again and retry. */
		if ((resp.status == 422 || resp.status == 409) && attempt < PATCH_ATTEMPTS) {
			say("the webhook configuration changed while patching, retrying", e.msg);
			continue;
		}
		api_fail(&e, resp.status, rbac, cfg);
		goto out;
	}
out:
	http_response_release(&resp);
	buf_release(&path);
	return ret;
}

int certgen_main(int argc, char **argv)
{
	struct opts o;
	struct certgen_bundle bundle = {0};
	struct kube_config *cfg = NULL;
	struct http_client *hc = NULL;
	struct pt_error e = {0};
	int ret;

	memset(&o, 0, sizeof o);
	ret = parse_args(argc, argv, &o);
	if (ret < 0)
		return EXIT_OK; /* --help */
	if (ret)
		return ret;
	if (o.webhook || o.secret_apply) {
		if (kube_config_auto(o.kubeconfig, o.context, NULL, &cfg, &e) ||
		    !(hc = http_client_new(&e))) {
			ret = fail(&e);
			goto out;
		}
	}
	if (o.out_dir)
		ret = run_out_dir(&o, &bundle);
	else if (o.secret_apply)
		ret = run_secret_apply(&o, cfg, hc, &bundle);
	else if (certgen_generate(&o.req, &bundle, &e))
		ret = fail(&e);
	else
		ret = print_secret(&o, &bundle);
	if (ret == EXIT_OK && o.webhook)
		ret = run_patch_webhook(&o, cfg, hc, &bundle);
out:
	certgen_bundle_release(&bundle);
	http_client_free(hc);
	kube_config_free(cfg);
	return ret;
}
