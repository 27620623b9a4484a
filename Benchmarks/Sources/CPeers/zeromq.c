// ZeroMQ as a user would drive it: one context, REQ/REP, PUSH/PULL and PUB/SUB sockets over TCP
// loopback, zmq_send/zmq_recv with the library's defaults (TCP_NODELAY on, high-water mark 1,000).
#define _GNU_SOURCE
#include "CPeers.h"
#include "common.h"

#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <zmq.h>

typedef struct {
    char public_key[41];
    char secret_key[41];
} curve_keys;

typedef struct {
    void *context;
    int curve;
    curve_keys server_keys;
    char endpoint[256];
} zmq_setup;

static int complain(const char *what) {
    fprintf(stderr, "zeromq: %s: %s\n", what, zmq_strerror(zmq_errno()));
    return -1;
}

static int start_context(zmq_setup *setup, int curve) {
    memset(setup, 0, sizeof *setup);
    setup->curve = curve;
    if (curve && !zmq_has("curve")) {
        fprintf(stderr, "zeromq: this libzmq has no CURVE\n");
        return -1;
    }
    setup->context = zmq_ctx_new();
    if (!setup->context) return complain("zmq_ctx_new");
    if (curve && zmq_curve_keypair(setup->server_keys.public_key, setup->server_keys.secret_key))
        return complain("zmq_curve_keypair");
    return 0;
}

static void *open_socket(zmq_setup *setup, int type) {
    void *socket = zmq_socket(setup->context, type);
    int linger = 0;
    if (socket) zmq_setsockopt(socket, ZMQ_LINGER, &linger, sizeof linger);
    return socket;
}

// The listening side: bound to a kernel-chosen port, CURVE server with the setup's keys.
static void *open_server(zmq_setup *setup, int type) {
    void *socket = open_socket(setup, type);
    if (!socket) return NULL;
    int one = 1;
    if (setup->curve && (zmq_setsockopt(socket, ZMQ_CURVE_SERVER, &one, sizeof one) ||
                         zmq_setsockopt(socket, ZMQ_CURVE_SECRETKEY, setup->server_keys.secret_key, 40))) {
        complain("CURVE server");
        return NULL;
    }
    size_t length = sizeof setup->endpoint;
    if (zmq_bind(socket, "tcp://127.0.0.1:*") ||
        zmq_getsockopt(socket, ZMQ_LAST_ENDPOINT, setup->endpoint, &length)) {
        complain("bind");
        return NULL;
    }
    return socket;
}

// A connecting side with a key pair of its own, expecting the server's key.
static void *open_client(zmq_setup *setup, int type) {
    void *socket = open_socket(setup, type);
    if (!socket) return NULL;
    if (setup->curve) {
        curve_keys mine;
        if (zmq_curve_keypair(mine.public_key, mine.secret_key) ||
            zmq_setsockopt(socket, ZMQ_CURVE_SERVERKEY, setup->server_keys.public_key, 40) ||
            zmq_setsockopt(socket, ZMQ_CURVE_PUBLICKEY, mine.public_key, 40) ||
            zmq_setsockopt(socket, ZMQ_CURVE_SECRETKEY, mine.secret_key, 40)) {
            complain("CURVE client");
            return NULL;
        }
    }
    if (type == ZMQ_SUB && zmq_setsockopt(socket, ZMQ_SUBSCRIBE, "", 0)) {
        complain("subscribe");
        return NULL;
    }
    if (zmq_connect(socket, setup->endpoint)) {
        complain("connect");
        return NULL;
    }
    return socket;
}

// REP: echoes until an empty request, which it answers and ends.
static void *echo(void *socket) {
    char buffer[65536];
    for (;;) {
        int received = zmq_recv(socket, buffer, sizeof buffer, 0);
        if (received < 0 || zmq_send(socket, buffer, (size_t)received, 0) < 0 || received == 0) break;
    }
    return NULL;
}

int cpeers_zmq_round_trip(int curve, int size, int warmup, int count, uint64_t *out) {
    zmq_setup setup;
    if (start_context(&setup, curve)) return -1;
    void *server = open_server(&setup, ZMQ_REP);
    void *client = server ? open_client(&setup, ZMQ_REQ) : NULL;
    if (!client) return -1;
    pthread_t thread;
    pthread_create(&thread, NULL, echo, server);
    char *message = calloc(1, (size_t)size);
    int result = 0;
    for (int i = 0; i < warmup + count && result == 0; i++) {
        uint64_t started = cpeers_now();
        if (zmq_send(client, message, (size_t)size, 0) != size || zmq_recv(client, message, (size_t)size, 0) != size)
            result = complain("round trip");
        else if (i >= warmup)
            out[i - warmup] = cpeers_now() - started;
    }
    zmq_send(client, message, 0, 0);
    zmq_recv(client, message, (size_t)size, 0);
    pthread_join(thread, NULL);
    free(message);
    zmq_close(client);
    zmq_close(server);
    zmq_ctx_term(setup.context);
    return result;
}

typedef struct {
    void *socket;
    int size;
    double seconds;
} sender;

// PUSH: whole messages for the run's seconds, then an empty one that ends the stream.
static void *push(void *argument) {
    sender *run = argument;
    char *message = calloc(1, (size_t)run->size);
    uint64_t end = cpeers_now() + (uint64_t)(run->seconds * 1e9);
    while (cpeers_now() < end)
        for (int i = 0; i < 64; i++) zmq_send(run->socket, message, (size_t)run->size, 0);
    zmq_send(run->socket, message, 0, 0);
    free(message);
    return NULL;
}

int cpeers_zmq_one_way(int curve, int size, double seconds, uint64_t *messages, double *elapsed) {
    zmq_setup setup;
    if (start_context(&setup, curve)) return -1;
    void *pull = open_server(&setup, ZMQ_PULL);
    void *pusher = pull ? open_client(&setup, ZMQ_PUSH) : NULL;
    if (!pusher) return -1;
    sender run = {pusher, size, seconds};
    pthread_t thread;
    pthread_create(&thread, NULL, push, &run);
    char *buffer = malloc((size_t)size);
    uint64_t counted = 0, first = 0;
    for (;;) {
        int received = zmq_recv(pull, buffer, (size_t)size, 0);
        if (received <= 0) break;
        if (counted++ == 0) first = cpeers_now();
    }
    *messages = counted;
    *elapsed = (double)(cpeers_now() - first) / 1e9;
    pthread_join(thread, NULL);
    free(buffer);
    zmq_close(pusher);
    zmq_close(pull);
    zmq_ctx_term(setup.context);
    return counted ? 0 : -1;
}

typedef struct {
    void **sockets;
    int count;
    int size;
    atomic_int *joined;
    atomic_int *finished;
    atomic_uint_fast64_t *delivered;
    atomic_uint_fast64_t *last;
} subscriber_thread;

// Polls its share of the SUB sockets: the first message of each (a join probe or data) says it
// has joined; data ('d') is counted until the publisher has finished and 200 ms pass quietly.
static void *subscribe(void *argument) {
    subscriber_thread *run = argument;
    zmq_pollitem_t *items = calloc((size_t)run->count, sizeof *items);
    char *seen = calloc((size_t)run->count, 1);
    char *buffer = malloc((size_t)run->size + 1);
    for (int i = 0; i < run->count; i++) items[i] = (zmq_pollitem_t){run->sockets[i], 0, ZMQ_POLLIN, 0};
    uint64_t delivered = 0;
    for (;;) {
        int ready = zmq_poll(items, run->count, 200);
        if (ready < 0) break;
        if (ready == 0 && atomic_load(run->finished)) break;
        for (int i = 0; i < run->count; i++) {
            if (!(items[i].revents & ZMQ_POLLIN)) continue;
            int received;
            while ((received = zmq_recv(run->sockets[i], buffer, (size_t)run->size + 1, ZMQ_DONTWAIT)) > 0) {
                if (!seen[i]) {
                    seen[i] = 1;
                    atomic_fetch_add(run->joined, 1);
                }
                if (buffer[0] == 'd') delivered++;
            }
        }
        if (ready > 0) atomic_store(run->last, cpeers_now());
    }
    atomic_fetch_add(run->delivered, delivered);
    free(buffer);
    free(seen);
    free(items);
    return NULL;
}

int cpeers_zmq_fan_out(int subscribers, int threads, int size, double seconds, uint64_t *delivered,
                       uint64_t *dropped, double *elapsed) {
    zmq_setup setup;
    if (start_context(&setup, 0)) return -1;
    zmq_ctx_set(setup.context, ZMQ_MAX_SOCKETS, subscribers + 16);
    void *publisher = open_server(&setup, ZMQ_PUB);
    if (!publisher) return -1;
    // Lossless, as ansar and NATS are: a full subscriber pipe blocks the publisher instead of
    // dropping (without this, PUB drops nearly everything past the 1,000-message high-water mark).
    int one = 1;
    if (zmq_setsockopt(publisher, ZMQ_XPUB_NODROP, &one, sizeof one)) return complain("ZMQ_XPUB_NODROP");
    void **sockets = calloc((size_t)subscribers, sizeof *sockets);
    for (int i = 0; i < subscribers; i++)
        if (!(sockets[i] = open_client(&setup, ZMQ_SUB))) return -1;
    if (threads > subscribers) threads = subscribers;
    atomic_int joined = 0, finished = 0;
    atomic_uint_fast64_t counted = 0, last = 0;
    subscriber_thread *runs = calloc((size_t)threads, sizeof *runs);
    pthread_t *ids = calloc((size_t)threads, sizeof *ids);
    int share = (subscribers + threads - 1) / threads;
    for (int t = 0; t < threads; t++) {
        int from = t * share, to = from + share > subscribers ? subscribers : from + share;
        runs[t] = (subscriber_thread){sockets + from, to - from, size, &joined, &finished, &counted, &last};
        pthread_create(&ids[t], NULL, subscribe, &runs[t]);
    }
    char *message = calloc(1, (size_t)size);
    // PUB sends nothing to a subscription still on its way: probe until every subscriber has one.
    message[0] = 'j';
    uint64_t deadline = cpeers_now() + 30000000000ull;
    while (atomic_load(&joined) < subscribers && cpeers_now() < deadline) {
        zmq_send(publisher, message, (size_t)size, 0);
        cpeers_sleep_ms(1);
    }
    int result = atomic_load(&joined) == subscribers ? 0 : -1;
    if (result) fprintf(stderr, "zeromq: %d of %d subscribers joined\n", atomic_load(&joined), subscribers);
    message[0] = 'd';
    uint64_t sent = 0, started = cpeers_now(), end = started + (uint64_t)(seconds * 1e9);
    while (result == 0 && cpeers_now() < end)
        for (int i = 0; i < 16; i++, sent++) zmq_send(publisher, message, (size_t)size, 0);
    atomic_store(&finished, 1);
    for (int t = 0; t < threads; t++) pthread_join(ids[t], NULL);
    *delivered = atomic_load(&counted);
    *dropped = sent * (uint64_t)subscribers - *delivered;
    *elapsed = (double)(atomic_load(&last) - started) / 1e9;
    free(message);
    free(ids);
    free(runs);
    for (int i = 0; i < subscribers; i++) zmq_close(sockets[i]);
    free(sockets);
    zmq_close(publisher);
    zmq_ctx_term(setup.context);
    return result;
}
