// NATS as a user would drive it: the C client (libnats) against a nats-server the benchmark
// started on loopback; request/reply, and a publisher streaming to subscribers on their own
// connections (asynchronous subscriptions, the client's default pending limits).
#define _GNU_SOURCE
#include "CPeers.h"
#include "common.h"

#include <nats/nats.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static int complain(const char *what, natsStatus status) {
    fprintf(stderr, "nats: %s: %s\n", what, natsStatus_GetText(status));
    return -1;
}

static void answer(natsConnection *connection, natsSubscription *subscription, natsMsg *message, void *closure) {
    (void)subscription;
    (void)closure;
    natsConnection_Publish(connection, natsMsg_GetReply(message), natsMsg_GetData(message),
                           natsMsg_GetDataLength(message));
    natsMsg_Destroy(message);
}

int cpeers_nats_round_trip(const char *url, int size, int warmup, int count, uint64_t *out) {
    natsConnection *responder = NULL, *requester = NULL;
    natsSubscription *subscription = NULL;
    natsOptions *options = NULL;
    natsStatus status = natsOptions_Create(&options);
    if (status == NATS_OK) status = natsOptions_SetURL(options, url);
    // Each publish written at once: by default the client's flusher batches them, ~1 ms a reply.
    if (status == NATS_OK) status = natsOptions_SetSendAsap(options, true);
    if (status == NATS_OK) status = natsConnection_Connect(&responder, options);
    if (status == NATS_OK) status = natsConnection_Subscribe(&subscription, responder, "bench.echo", answer, NULL);
    if (status == NATS_OK) status = natsConnection_Flush(responder);
    if (status == NATS_OK) status = natsConnection_Connect(&requester, options);
    if (status != NATS_OK) return complain("set-up", status);
    char *payload = calloc(1, (size_t)size);
    int result = 0;
    for (int i = 0; i < warmup + count && result == 0; i++) {
        natsMsg *reply = NULL;
        uint64_t started = cpeers_now();
        status = natsConnection_Request(&reply, requester, "bench.echo", payload, size, 5000);
        if (status != NATS_OK || natsMsg_GetDataLength(reply) != size)
            result = complain("request", status);
        else if (i >= warmup)
            out[i - warmup] = cpeers_now() - started;
        natsMsg_Destroy(reply);
    }
    free(payload);
    natsSubscription_Destroy(subscription);
    natsConnection_Destroy(requester);
    natsConnection_Destroy(responder);
    natsOptions_Destroy(options);
    return result;
}

typedef struct {
    atomic_uint_fast64_t delivered;
    atomic_int ended;
    atomic_uint_fast64_t last;
} tally;

// Data is counted; the empty message after the run says this subscriber has seen the end.
static void count(natsConnection *connection, natsSubscription *subscription, natsMsg *message, void *closure) {
    (void)connection;
    (void)subscription;
    tally *counts = closure;
    if (natsMsg_GetDataLength(message) == 0) {
        atomic_store(&counts->last, cpeers_now());
        atomic_fetch_add(&counts->ended, 1);
    } else {
        atomic_fetch_add_explicit(&counts->delivered, 1, memory_order_relaxed);
    }
    natsMsg_Destroy(message);
}

int cpeers_nats_fan_out(const char *url, int subscribers, int size, double seconds, uint64_t *delivered,
                        uint64_t *dropped, double *elapsed) {
    natsOptions *options = NULL;
    natsStatus status = natsOptions_Create(&options);
    if (status == NATS_OK) status = natsOptions_SetURL(options, url);
    // One pool of delivery threads, not a thread per subscription.
    if (status == NATS_OK && subscribers > 1) status = natsOptions_UseGlobalMessageDelivery(options, true);
    if (status != NATS_OK) return complain("options", status);
    natsConnection **connections = calloc((size_t)subscribers, sizeof *connections);
    natsSubscription **subscriptions = calloc((size_t)subscribers, sizeof *subscriptions);
    tally counts = {0};
    for (int i = 0; i < subscribers && status == NATS_OK; i++) {
        status = natsConnection_Connect(&connections[i], options);
        if (status == NATS_OK)
            status = natsConnection_Subscribe(&subscriptions[i], connections[i], "bench.stream", count, &counts);
        if (status == NATS_OK) status = natsConnection_Flush(connections[i]);
    }
    natsConnection *publisher = NULL;
    if (status == NATS_OK) status = natsConnection_Connect(&publisher, options);
    if (status != NATS_OK) return complain("set-up", status);
    char *payload = calloc(1, (size_t)size);
    uint64_t started = cpeers_now(), end = started + (uint64_t)(seconds * 1e9);
    while (status == NATS_OK && cpeers_now() < end)
        for (int i = 0; i < 16 && status == NATS_OK; i++)
            status = natsConnection_Publish(publisher, "bench.stream", payload, size);
    if (status == NATS_OK) status = natsConnection_Publish(publisher, "bench.stream", payload, 0);
    if (status == NATS_OK) status = natsConnection_Flush(publisher);
    int result = status == NATS_OK ? 0 : complain("publish", status);
    // Every subscriber sees the end, unless its client dropped it with data beyond its pending limit.
    uint64_t seen = 0, quiet_since = cpeers_now();
    while (result == 0 && atomic_load(&counts.ended) < subscribers && cpeers_now() - quiet_since < 2000000000ull) {
        cpeers_sleep_ms(10);
        uint64_t now_delivered = atomic_load(&counts.delivered);
        if (now_delivered != seen) {
            seen = now_delivered;
            quiet_since = cpeers_now();
            atomic_store(&counts.last, quiet_since);
        }
    }
    *delivered = atomic_load(&counts.delivered);
    uint64_t lost = 0;
    for (int i = 0; i < subscribers; i++) {
        int64_t each = 0;
        if (subscriptions[i] && natsSubscription_GetDropped(subscriptions[i], &each) == NATS_OK) lost += (uint64_t)each;
    }
    *dropped = lost;
    *elapsed = (double)(atomic_load(&counts.last) - started) / 1e9;
    free(payload);
    natsConnection_Destroy(publisher);
    for (int i = 0; i < subscribers; i++) {
        natsSubscription_Destroy(subscriptions[i]);
        natsConnection_Destroy(connections[i]);
    }
    free(subscriptions);
    free(connections);
    natsOptions_Destroy(options);
    return result;
}

int cpeers_nats_one_way(const char *url, int size, double seconds, uint64_t *messages, double *elapsed) {
    uint64_t dropped = 0;
    return cpeers_nats_fan_out(url, 1, size, seconds, messages, &dropped, elapsed);
}
