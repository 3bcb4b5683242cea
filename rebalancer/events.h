/* SPDX-License-Identifier: Apache-2.0 */
/* Kubernetes Events for the node agent's changes: one core/v1 Event on the
 * pod per cgroup value the agent changes, so `kubectl describe pod` shows
 * what was done and why. The agent thread only queues (a lock and a copy);
 * one background thread POSTs the Events with its own HTTP client. An Event
 * is for people: when the queue is full, the apiserver refuses it or cannot
 * be reached, it is dropped and counted, never retried and never allowed to
 * hold up a tick. */
#ifndef PT_EVENTS_H
#define PT_EVENTS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "../core/buf.h"
#include "../core/err.h"
#include "../core/kube.h"

/* Named limits (the apiserver's own where it has one: pkg/apis/core/
 * validation/events.go has ReasonLengthLimit 128 and NoteLengthLimit
 * 1024, enforced for events.k8s.io Events; core/v1 takes them as is). */
#define EVENTS_QUEUE_MAX 256         /* Events waiting to be posted */
#define EVENTS_REASON_MAX 128
#define EVENTS_MESSAGE_MAX 1024
#define EVENTS_NAME_MAX 253          /* metadata.name: a DNS-1123 subdomain */
#define EVENTS_INSTANCE_MAX 128      /* reportingInstance (ReportingInstanceLengthLimit) */
#define EVENTS_TIMEOUT_MS 5000       /* one POST */
#define EVENTS_MAX_RESPONSE (64u << 10)

/* Who reports: source.component, and reportingComponent (core/v1's JSON
 * name for ReportingController, a qualified name as the kubelet's
 * "kubernetes.io/kubelet"). */
#define EVENTS_COMPONENT "podtuner-agent"
#define EVENTS_CONTROLLER "podtuner.io/agent"

enum events_type { EVENTS_NORMAL, EVENTS_WARNING };

/* One Event about one container of a pod. Strings are copied in whole or
 * truncated to their field (UTF-8 may be cut mid-character only past the
 * limits above, which the agent's own texts never reach). */
struct events_item {
	enum events_type type;
	char namespace[64];
	char pod[254];
	char uid[65];       /* the pod's metadata.uid */
	char container[64]; /* "" for the whole pod */
	char reason[EVENTS_REASON_MAX + 1];   /* UpperCamelCase, e.g. "CPUWeightRebalanced" */
	char message[EVENTS_MESSAGE_MAX + 1];
	int64_t time_ms;    /* unix ms of the change */
};

struct events_opts {
	struct kube_config *cfg; /* borrowed; must outlive the poster */
	const char *instance;    /* reportingInstance and source.host: the node name */
	size_t queue_max;        /* 0: EVENTS_QUEUE_MAX */
	long timeout_ms;         /* 0: EVENTS_TIMEOUT_MS */
};

/* The per-pod spam filter of client-go's recorder (EventSourceObjectSpamFilter,
 * tools/record/events_cache.go: a token bucket per source and object, 25
 * Events at once, then one per 5 minutes), so a pod whose values change
 * again and again cannot flood the apiserver. At most EVENTS_SPAM_PODS pods
 * are tracked; past that, pods whose bucket has refilled are forgotten (a
 * full bucket is what a new pod gets), and an Event for one more pod is let
 * through untracked. */
#define EVENTS_SPAM_BURST 25
#define EVENTS_SPAM_REFILL_MS (300 * 1000)
#define EVENTS_SPAM_PODS 512

struct events_spam {
	struct events_spam_slot {
		uint64_t h;     /* of the pod's uid (namespace/name without one); 0: free */
		int64_t at_ms;  /* when tokens was last brought up to date */
		double tokens;
	} v[EVENTS_SPAM_PODS * 2];
	size_t n;
};

/* Whether an Event for it may go out at it->time_ms, taking a token if so.
 * Pure: the caller serialises calls on one filter. */
bool events_spam_allow(struct events_spam *s, const struct events_item *it);

struct events_stats {
	uint64_t queued;  /* accepted by events_emit */
	uint64_t posted;  /* created (2xx) */
	uint64_t failed;  /* refused, or the apiserver could not be reached */
	uint64_t dropped; /* queue full, or still queued at events_free */
	uint64_t throttled; /* held back by the spam filter */
	char last_error[512]; /* the most recent failure, "" if none */
};

struct events;

/* Start the poster thread. Returns NULL with e filled when opts are
 * invalid (no cfg, an instance over EVENTS_INSTANCE_MAX) or the thread or
 * HTTP client cannot start. Nothing is sent before an Event is queued. */
struct events *events_new(const struct events_opts *opts, struct pt_error *e);

/* Queue a copy of *it; never blocks on the network. Returns false when
 * the spam filter holds it back (counted throttled), or the queue is full,
 * memory is short, or the poster is stopping (counted dropped). ev NULL is
 * a no-op returning false. */
bool events_emit(struct events *ev, const struct events_item *it);

/* A snapshot of the counters. Thread-safe. */
void events_get_stats(struct events *ev, struct events_stats *out);

/* Stop the thread (an in-flight POST is abandoned within about a second),
 * count what is still queued as dropped, free everything. NULL is a
 * no-op. */
void events_free(struct events *ev);

/* The Event for it, as JSON, appended to out: metadata.name
 * "<pod>.<hex nanoseconds>" as client-go's recorder names them (the pod
 * part shortened so the name stays within EVENTS_NAME_MAX), namespace,
 * involvedObject (v1 Pod, uid, fieldPath spec.containers{<name>}), reason,
 * message, type, source {component, host}, firstTimestamp = lastTimestamp
 * (RFC 3339, seconds), count 1, reportingComponent, reportingInstance.
 * name_ns is the nanoseconds for the name (unique per Event). No eventTime:
 * core/v1 then validates it as a classic Event (pkg/apis/core/validation/
 * events.go, legacyValidateEvent). PT_INVALID for an empty namespace, pod
 * or reason; PT_LIMIT when out cannot take it (its cap, or memory), out
 * then holding a partial document. Pure. */
enum pt_code events_encode(const struct events_item *it, const char *instance, int64_t name_ns, struct buf *out,
			   struct pt_error *e) PT_WUR;

#endif
