// The raw C limit: plain blocking sockets, one thread per end, no framework. Written for this
// benchmark; nothing here is used by the runtime.
#define _GNU_SOURCE
#include "CBaseline.h"

#include <errno.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>

static uint64_t now_ns(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
}

static int read_full(int fd, char *buffer, size_t length) {
    size_t done = 0;
    while (done < length) {
        ssize_t n = read(fd, buffer + done, length - done);
        if (n <= 0) return n == 0 ? -EPIPE : -errno;
        done += (size_t)n;
    }
    return 0;
}

static int write_full(int fd, const char *buffer, size_t length) {
    size_t done = 0;
    while (done < length) {
        ssize_t n = write(fd, buffer + done, length - done);
        if (n <= 0) return -errno;
        done += (size_t)n;
    }
    return 0;
}

// A connected pair over loopback TCP or an abstract Unix socket: *server and *client.
static int connected_pair(int unix_socket, int *server, int *client) {
    int family = unix_socket ? AF_UNIX : AF_INET;
    int listener = socket(family, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (listener < 0) return -errno;
    struct sockaddr_storage address;
    socklen_t length;
    memset(&address, 0, sizeof(address));
    if (unix_socket) {
        struct sockaddr_un *sun = (struct sockaddr_un *)&address;
        sun->sun_family = AF_UNIX;
        int n = snprintf(sun->sun_path + 1, sizeof(sun->sun_path) - 1, "cbaseline-%d", getpid());
        length = (socklen_t)(offsetof(struct sockaddr_un, sun_path) + 1 + n);
    } else {
        struct sockaddr_in *sin = (struct sockaddr_in *)&address;
        sin->sin_family = AF_INET;
        sin->sin_addr.s_addr = htonl(INADDR_LOOPBACK);
        length = sizeof(*sin);
    }
    if (bind(listener, (struct sockaddr *)&address, length) != 0 || listen(listener, 1) != 0 ||
        getsockname(listener, (struct sockaddr *)&address, &length) != 0) {
        int error = -errno;
        close(listener);
        return error;
    }
    *client = socket(family, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (connect(*client, (struct sockaddr *)&address, length) != 0) {
        int error = -errno;
        close(listener);
        close(*client);
        return error;
    }
    *server = accept4(listener, NULL, NULL, SOCK_CLOEXEC);
    close(listener);
    if (*server < 0) return -errno;
    if (!unix_socket) {
        int one = 1;
        setsockopt(*client, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
        setsockopt(*server, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
    }
    return 0;
}

struct echo_args {
    int fd;
    int size;
};

static void *echo_thread(void *argument) {
    struct echo_args *args = argument;
    char *buffer = malloc((size_t)args->size);
    while (read_full(args->fd, buffer, (size_t)args->size) == 0) {
        if (write_full(args->fd, buffer, (size_t)args->size) != 0) break;
    }
    free(buffer);
    return NULL;
}

int cbaseline_ping_pong(int unix_socket, int size, int warmup, int count, uint64_t *out) {
    int server, client;
    int error = connected_pair(unix_socket, &server, &client);
    if (error) return error;
    struct echo_args args = {server, size};
    pthread_t thread;
    pthread_create(&thread, NULL, echo_thread, &args);
    char *buffer = calloc(1, (size_t)size);
    for (int i = 0; i < warmup + count && error == 0; i++) {
        uint64_t start = now_ns();
        error = write_full(client, buffer, (size_t)size);
        if (!error) error = read_full(client, buffer, (size_t)size);
        if (i >= warmup) out[i - warmup] = now_ns() - start;
    }
    shutdown(client, SHUT_RDWR);
    pthread_join(thread, NULL);
    close(client);
    close(server);
    free(buffer);
    return error;
}

struct writer_args {
    int fd;
    int size;
    double seconds;
};

static void *writer_thread(void *argument) {
    struct writer_args *args = argument;
    size_t frame = 4 + (size_t)args->size;
    size_t frames = (256 * 1024) / frame;
    if (frames == 0) frames = 1;
    char *batch = calloc(frames, frame);
    for (size_t i = 0; i < frames; i++) {
        uint32_t length = (uint32_t)args->size;  // little-endian on x86_64
        memcpy(batch + i * frame, &length, 4);
    }
    uint64_t end = now_ns() + (uint64_t)(args->seconds * 1e9);
    while (now_ns() < end) {
        if (write_full(args->fd, batch, frames * frame) != 0) break;
    }
    shutdown(args->fd, SHUT_WR);
    free(batch);
    return NULL;
}

int cbaseline_one_way(int size, double seconds, uint64_t *messages, double *elapsed) {
    int server, client;
    int error = connected_pair(0, &server, &client);
    if (error) return error;
    struct writer_args args = {client, size, seconds};
    pthread_t thread;
    pthread_create(&thread, NULL, writer_thread, &args);
    size_t capacity = 256 * 1024;
    char *buffer = malloc(capacity);
    uint64_t count = 0, first = 0;
    size_t need = 4;           // bytes until the current header or payload is complete
    int in_header = 1;
    uint32_t header = 0;
    size_t header_fill = 0;
    for (;;) {
        ssize_t n = read(server, buffer, capacity);
        if (n <= 0) break;
        if (!first) first = now_ns();
        size_t at = 0;
        while (at < (size_t)n) {
            size_t take = need < (size_t)n - at ? need : (size_t)n - at;
            if (in_header) {
                memcpy((char *)&header + header_fill, buffer + at, take);
                header_fill += take;
            }
            at += take;
            need -= take;
            if (need == 0) {
                if (in_header) {
                    in_header = 0;
                    need = header;
                    header_fill = 0;
                    if (need == 0) { count++; in_header = 1; need = 4; }
                } else {
                    count++;
                    in_header = 1;
                    need = 4;
                }
            }
        }
    }
    *elapsed = (double)(now_ns() - first) / 1e9;
    *messages = count;
    pthread_join(thread, NULL);
    close(client);
    close(server);
    free(buffer);
    return 0;
}

// Local dispatch: the C limit of what an actor runtime does per local message — queue an
// envelope (target, handler, value) in a ring, pop it, call the handler through a pointer.
typedef struct {
    void (*handler)(void *, int64_t);
    void *target;
    int64_t value;
} cbaseline_envelope;

static void cbaseline_count(void *target, int64_t value) { *(int64_t *)target += value; }

// The handler is read through a volatile so the compiler cannot see through the indirect call.
static void (*volatile cbaseline_handler)(void *, int64_t) = cbaseline_count;

double cbaseline_local_dispatch(uint64_t count) {
    enum { ring_size = 4096, batch = 1000 };
    static cbaseline_envelope ring[ring_size];
    int64_t total = 0;
    uint64_t head = 0, tail = 0, sent = 0;
    struct timespec start, end;
    clock_gettime(CLOCK_MONOTONIC, &start);
    while (sent < count) {
        for (int i = 0; i < batch; i++) {
            ring[tail % ring_size] = (cbaseline_envelope){cbaseline_handler, &total, 1};
            tail++;
        }
        sent += batch;
        while (head != tail) {
            cbaseline_envelope envelope = ring[head % ring_size];
            head++;
            envelope.handler(envelope.target, envelope.value);
        }
    }
    clock_gettime(CLOCK_MONOTONIC, &end);
    double seconds = (double)(end.tv_sec - start.tv_sec) + (double)(end.tv_nsec - start.tv_nsec) / 1e9;
    return total == (int64_t)sent ? (double)sent / seconds : 0;
}
