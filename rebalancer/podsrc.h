/* SPDX-License-Identifier: Apache-2.0 */
/* The node agent's pod source: the pods bound to this node, from the
 * Kubernetes API (list + watch, in its own thread) or from a PodList file,
 * handed to the agent thread as a stream of events that it drains at the
 * start of each tick with podsrc_poll. Nothing here filters pods: phase,
 * readiness and containerIDs are the agent's business. */
#ifndef PT_PODSRC_H
#define PT_PODSRC_H

#include <cjson/cJSON.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "../core/err.h"
#include "../core/kube.h"

/* Named limits on what comes from outside. */
#define PODSRC_MAX_EVENT_BYTES (8u << 20) /* one watch event line */
#define PODSRC_MAX_PAGE_BYTES (64u << 20) /* one list page */
#define PODSRC_MAX_FILE_BYTES (64u << 20) /* a pods file (YAML: YAML_MAX_BYTES) */
#define PODSRC_MAX_PODS 8192              /* pods in one list or file */
#define PODSRC_MAX_RV_LEN 63              /* a resourceVersion (opaque; a uint64 today) */
#define PODSRC_MAX_NODE_NAME 253          /* a DNS-1123 subdomain */
#define PODSRC_QUEUE_MAX 4096             /* watch events waiting for a poll ... */
#define PODSRC_QUEUE_MAX_BYTES (32u << 20) /* ... and their JSON bytes */

/* Defaults of struct podsrc_kube_opts, mirroring client-go's reflector
 * (tools/cache/reflector.go: minWatchTimeout 5 min jittered to [5, 10)
 * min; back-off 800 ms doubling to a cap, reset after 2 min of calm; the
 * pager's 500-item pages). */
#define PODSRC_DEFAULT_PAGE_LIMIT 500
#define PODSRC_DEFAULT_WATCH_TIMEOUT_S 300
#define PODSRC_DEFAULT_BACKOFF_INITIAL_MS 800
#define PODSRC_DEFAULT_BACKOFF_MAX_MS 30000
#define PODSRC_DEFAULT_BACKOFF_RESET_MS 120000

/*
 * The event contract.
 *
 * A source delivers a sequence of resyncs and deltas, in the order the API
 * server (or the file) produced them:
 *
 *   RESYNC_BEGIN, UPSERT*, RESYNC_END   the complete set of the node's pods
 *                                       now: after RESYNC_END the agent
 *                                       forgets every pod that was not
 *                                       upserted since RESYNC_BEGIN.
 *   UPSERT                              a pod was added or changed.
 *   DELETE                              a pod is gone.
 *
 * - The first thing a source delivers is a resync; until then a poll
 *   delivers nothing (podsrc_stats.synced tells the two apart). A resync is
 *   never split across two polls, and a poll may deliver several.
 * - Pods are identified by metadata.uid. Every UPSERT and DELETE carries a
 *   non-empty uid, namespace and name; a pod without them is dropped (and
 *   counted as invalid) before it reaches the agent. A pod recreated under
 *   the same namespace/name has a new uid.
 * - UPSERT may repeat a pod that did not change (after a relist), and a
 *   DELETE may name a uid the agent never saw: both must be harmless.
 * - Pods are delivered in every phase, with or without status, and with
 *   containers that have no containerID yet: the agent filters.
 * - metadata.managedFields is removed (it is most of a Pod's bytes and says
 *   nothing the agent needs, as informers' transform functions do).
 * - The cJSON objects are borrowed for the duration of the handler call
 *   only, and must not be modified; copy what must outlive it.
 * - Deltas are never lost silently: when the queue between the watch
 *   thread and the agent fills (PODSRC_QUEUE_MAX events or
 *   PODSRC_QUEUE_MAX_BYTES), the pending events are dropped and the source
 *   relists, so the agent gets a resync instead.
 */
enum podsrc_event_type {
	PODSRC_RESYNC_BEGIN,
	PODSRC_UPSERT,
	PODSRC_DELETE,
	PODSRC_RESYNC_END,
};

struct podsrc_event {
	enum podsrc_event_type type;
	/* UPSERT: the Pod. DELETE: its last known state. NULL otherwise. */
	const cJSON *pod;
	/* UPSERT and DELETE: metadata.uid/namespace/name, pointing into pod. */
	const char *uid;
	const char *namespace;
	const char *name;
};

typedef void (*podsrc_handler)(void *ctx, const struct podsrc_event *ev);

/* Counters for metrics, logs and tests. */
struct podsrc_stats {
	bool synced;            /* a first resync was delivered */
	uint64_t resyncs;       /* resyncs delivered */
	uint64_t deltas;        /* UPSERT/DELETE delivered outside resyncs */
	uint64_t lists;         /* complete lists (one per relist) */
	uint64_t list_pages;    /* list requests made */
	uint64_t watches;       /* watch requests made */
	uint64_t events;        /* watch events received, bookmarks included */
	uint64_t bookmarks;
	uint64_t gone;          /* 410 Gone (event or status): relisted */
	uint64_t malformed;     /* undecodable event lines: relisted */
	uint64_t oversize;      /* event lines over the cap: relisted */
	uint64_t overflows;     /* queue overflows: relisted */
	uint64_t invalid;       /* pods without uid/namespace/name, dropped */
	uint64_t failures;      /* failed requests and broken streams */
	uint64_t backoffs;      /* back-off waits */
	uint64_t file_loads;    /* file versions loaded */
	uint64_t file_errors;   /* file versions rejected */
	char resource_version[PODSRC_MAX_RV_LEN + 1]; /* last seen ("" before) */
	char last_error[512];   /* the most recent failure, "" if none */
};

struct podsrc_kube_opts {
	struct kube_config *cfg;       /* borrowed; must outlive the source */
	const char *node_name;         /* required: spec.nodeName to select */
	unsigned page_limit;           /* list page size; 0: the default */
	unsigned watch_timeout_s;      /* minimum; jittered up to twice it; 0: default */
	unsigned backoff_initial_ms;   /* 0: the defaults above */
	unsigned backoff_max_ms;
	unsigned backoff_reset_ms;
	size_t max_event_bytes;        /* 0: PODSRC_MAX_EVENT_BYTES */
	size_t queue_max;              /* 0: PODSRC_QUEUE_MAX */
};

struct podsrc;

/*
 * Start a Kubernetes source: a thread that lists the pods with
 * fieldSelector=spec.nodeName=<node> (paginated), then watches from the
 * list's resourceVersion with bookmarks, for ever:
 *   - a watch that ends normally is resumed from the last resourceVersion
 *     (bookmarks advance it); one that ends within a second with no event
 *     counts as a failure;
 *   - 410 Gone, as an ERROR event or as the watch's HTTP status, relists;
 *   - a malformed or oversize event line, or a full queue, relists;
 *   - connection refused and 429 back off and re-watch; any other failure
 *     (apiserver away, 5xx, 401, 403, TLS) backs off and relists. Back-off
 *     is exponential with jitter, capped at backoff_max_ms. 401 is retried
 *     because core/kube re-reads a rotated token file; 403 is logged with
 *     the RBAC rule the agent needs.
 * Lists are made as client-go's reflector makes them: resourceVersion=0
 * first (served from the apiserver's watch cache), then the last seen
 * resourceVersion, then "" (a quorum read) if that is expired; a continue
 * token that expired falls back to one unpaginated list.
 * Returns NULL with e filled if the options are invalid or the thread
 * cannot start; nothing is fetched before the thread runs, so API errors
 * are logged and counted, never returned. Free with podsrc_free.
 */
struct podsrc *podsrc_kube_new(const struct podsrc_kube_opts *opts, struct pt_error *e);

/*
 * A file source: path holds a PodList (or a kubectl "List" of Pods) in
 * JSON or YAML (JSON when the first non-blank byte is '{'). The file is
 * read now, and a failure here is returned (NULL, e with file:line:col
 * where known), so a bad --pods-file stops the agent at start. Each poll
 * then stats the file and re-reads it when its device, inode, size, mtime
 * or ctime changed (an atomic rename is a new inode); every good version
 * is delivered as one resync. A bad version is logged once, with its
 * position, counted, and ignored: the agent keeps the last good state. A
 * file that disappears keeps the last state too. Items need a non-empty
 * metadata.uid, namespace and name, and uids must be unique.
 */
struct podsrc *podsrc_file_new(const char *path, struct pt_error *e);

/*
 * Deliver the events that arrived since the last poll, in order, to
 * handler (called on this thread; it must not call podsrc functions on
 * src). Returns the number of events delivered. Never blocks for I/O
 * except, for a file source, the stat and (when it changed) the read of
 * the file. Failures are the source's own business: they are logged,
 * counted in the stats, and recovered from.
 */
size_t podsrc_poll(struct podsrc *src, podsrc_handler handler, void *ctx);

/* A snapshot of the counters. Thread-safe. */
void podsrc_get_stats(struct podsrc *src, struct podsrc_stats *out);

/* Ask the watch thread to stop, without waiting (safe to call twice). The
 * thread exits within about a second (libcurl checks the flag at least
 * once a second, back-off sleeps wake at once). */
void podsrc_stop(struct podsrc *src);

/* Stop, join the thread, free everything. NULL is a no-op. */
void podsrc_free(struct podsrc *src);

#endif
