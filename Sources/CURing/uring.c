// The io_uring ring behind CURing.h (see there for why it is opaque). liburing 2.3 (Debian 12).
#include <liburing.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <poll.h>
#include <sys/mman.h>

#include "CURing.h"

#define BUFFER_GROUP 0

struct curing_ring {
    struct io_uring ring;
    struct io_uring_buf_ring *buffers;
    unsigned buffer_entries;
    unsigned buffer_size;
    char *buffer_memory;
    unsigned pending_recycles;
};

// liburing 2.3 has io_uring_register_buf_ring but not io_uring_setup_buf_ring (2.4).
static struct io_uring_buf_ring *setup_buf_ring(struct io_uring *ring, unsigned entries, int *error) {
    size_t size = entries * sizeof(struct io_uring_buf);
    void *memory = mmap(NULL, size, PROT_READ | PROT_WRITE, MAP_ANONYMOUS | MAP_PRIVATE, -1, 0);
    if (memory == MAP_FAILED) {
        *error = -errno;
        return NULL;
    }
    struct io_uring_buf_ring *br = memory;
    io_uring_buf_ring_init(br);
    struct io_uring_buf_reg reg;
    memset(&reg, 0, sizeof(reg));
    reg.ring_addr = (unsigned long)(uintptr_t)br;
    reg.ring_entries = entries;
    reg.bgid = BUFFER_GROUP;
    int result = io_uring_register_buf_ring(ring, &reg, 0);
    if (result != 0) {
        munmap(memory, size);
        *error = result;
        return NULL;
    }
    return br;
}

curing_ring *curing_create(unsigned entries, unsigned files, unsigned buffers, void *buffer_memory,
                                  unsigned buffer_size, char *features, size_t features_size, int *error,
                                  const char **why) {
    curing_ring *r = calloc(1, sizeof(*r));
    if (!r) {
        *error = -ENOMEM;
        *why = "calloc";
        return NULL;
    }
    static const struct {
        unsigned flags;
        const char *name;
    } attempts[] = {
        {IORING_SETUP_SINGLE_ISSUER | IORING_SETUP_DEFER_TASKRUN, "single-issuer, defer-taskrun"},
        {IORING_SETUP_COOP_TASKRUN, "coop-taskrun"},
        {0, "plain"},
    };
    int result = -ENOSYS;
    const char *chosen = "";
    for (size_t i = 0; i < sizeof(attempts) / sizeof(attempts[0]); i++) {
        struct io_uring_params params;
        memset(&params, 0, sizeof(params));
        params.flags = IORING_SETUP_CQSIZE | IORING_SETUP_SUBMIT_ALL | attempts[i].flags;
        params.cq_entries = entries * 4;
        result = io_uring_queue_init_params(entries, &r->ring, &params);
        if (result == 0) {
            chosen = attempts[i].name;
            if (!(params.features & IORING_FEAT_EXT_ARG)) {
                io_uring_queue_exit(&r->ring);
                free(r);
                *error = -EOPNOTSUPP;
                *why = "no IORING_FEAT_EXT_ARG (kernel older than 5.11)";
                return NULL;
            }
            break;
        }
        if (result == -ENOSYS || result == -EPERM || result == -ENOMEM) break;
    }
    if (result != 0) {
        free(r);
        *error = result;
        *why = "io_uring_setup";
        return NULL;
    }
    int registered_ring = io_uring_register_ring_fd(&r->ring) == 1;
    result = io_uring_register_files_sparse(&r->ring, files);
    if (result != 0) {
        io_uring_queue_exit(&r->ring);
        free(r);
        *error = result;
        *why = "io_uring_register_files_sparse";
        return NULL;
    }
    r->buffers = setup_buf_ring(&r->ring, buffers, error);
    if (!r->buffers) {
        io_uring_queue_exit(&r->ring);
        free(r);
        *why = "io_uring_register_buf_ring";
        return NULL;
    }
    r->buffer_entries = buffers;
    r->buffer_size = buffer_size;
    r->buffer_memory = buffer_memory;
    for (unsigned id = 0; id < buffers; id++) curing_recycle(r, (uint16_t)id);
    snprintf(features, features_size, "%s, ext-arg%s, registered files, provided buffer ring", chosen,
             registered_ring ? ", registered ring fd" : "");
    *error = 0;
    return r;
}

void curing_destroy(curing_ring *r) {
    io_uring_unregister_buf_ring(&r->ring, BUFFER_GROUP);
    munmap(r->buffers, r->buffer_entries * sizeof(struct io_uring_buf));
    io_uring_queue_exit(&r->ring);
    free(r);
}

int curing_update_file(curing_ring *r, unsigned slot, int fd) {
    int result = io_uring_register_files_update(&r->ring, slot, &fd, 1);
    return result < 0 ? result : 0;
}

// The next free entry; a full queue is submitted first (flush, retry once: a second failure is a bug).
static struct io_uring_sqe *entry(curing_ring *r) {
    struct io_uring_sqe *sqe = io_uring_get_sqe(&r->ring);
    if (sqe) return sqe;
    io_uring_submit(&r->ring);
    sqe = io_uring_get_sqe(&r->ring);
    if (!sqe) abort();
    return sqe;
}

void curing_prep_multishot_accept(curing_ring *r, unsigned slot, uint64_t user_data) {
    struct io_uring_sqe *sqe = entry(r);
    io_uring_prep_multishot_accept(sqe, (int)slot, NULL, NULL, SOCK_NONBLOCK | SOCK_CLOEXEC);
    sqe->flags |= IOSQE_FIXED_FILE;
    sqe->user_data = user_data;
}

void curing_prep_receive(curing_ring *r, unsigned slot, int multishot, unsigned length,
                               uint64_t user_data) {
    struct io_uring_sqe *sqe = entry(r);
    if (multishot) {
        io_uring_prep_recv_multishot(sqe, (int)slot, NULL, 0, 0);
    } else {
        io_uring_prep_recv(sqe, (int)slot, NULL, length, 0);
    }
    sqe->flags |= IOSQE_FIXED_FILE | IOSQE_BUFFER_SELECT;
    sqe->buf_group = BUFFER_GROUP;
    sqe->user_data = user_data;
}

void curing_prep_poll_readable(curing_ring *r, unsigned slot, uint64_t user_data) {
    struct io_uring_sqe *sqe = entry(r);
    io_uring_prep_poll_add(sqe, (int)slot, POLLIN);
    sqe->flags |= IOSQE_FIXED_FILE;
    sqe->user_data = user_data;
}

void curing_prep_connect(curing_ring *r, unsigned slot, const void *address, uint32_t length,
                               uint64_t user_data) {
    struct io_uring_sqe *sqe = entry(r);
    io_uring_prep_connect(sqe, (int)slot, (const struct sockaddr *)address, length);
    sqe->flags |= IOSQE_FIXED_FILE;
    sqe->user_data = user_data;
}

void curing_prep_sendmsg(curing_ring *r, unsigned slot, const void *message, uint64_t user_data) {
    struct io_uring_sqe *sqe = entry(r);
    io_uring_prep_sendmsg(sqe, (int)slot, (const struct msghdr *)message, MSG_NOSIGNAL);
    sqe->flags |= IOSQE_FIXED_FILE;
    sqe->user_data = user_data;
}

void curing_prep_cancel(curing_ring *r, uint64_t target, uint64_t user_data) {
    struct io_uring_sqe *sqe = entry(r);
    io_uring_prep_cancel64(sqe, target, 0);
    sqe->user_data = user_data;
}

void curing_prep_read(curing_ring *r, int fd, void *buffer, unsigned length, uint64_t user_data) {
    struct io_uring_sqe *sqe = entry(r);
    io_uring_prep_read(sqe, fd, buffer, length, 0);
    sqe->user_data = user_data;
}

void curing_recycle(curing_ring *r, uint16_t id) {
    io_uring_buf_ring_add(r->buffers, r->buffer_memory + (size_t)id * r->buffer_size, r->buffer_size, id,
                          io_uring_buf_ring_mask(r->buffer_entries), (int)r->pending_recycles);
    r->pending_recycles++;
}

int curing_wait(curing_ring *r, int64_t timeout_ns, curing_completion *out, unsigned capacity) {
    if (r->pending_recycles) {
        // One release store per turn makes every recycled buffer visible to the kernel.
        io_uring_buf_ring_advance(r->buffers, (int)r->pending_recycles);
        r->pending_recycles = 0;
    }
    struct io_uring_cqe *cqe = NULL;
    int result;
    if (timeout_ns >= 0) {
        struct __kernel_timespec ts = {.tv_sec = timeout_ns / 1000000000, .tv_nsec = timeout_ns % 1000000000};
        result = io_uring_submit_and_wait_timeout(&r->ring, &cqe, 1, &ts, NULL);
    } else {
        result = io_uring_submit_and_wait_timeout(&r->ring, &cqe, 1, NULL, NULL);
    }
    if (result < 0 && result != -ETIME && result != -EINTR && result != -EAGAIN && result != -EBUSY) return result;
    unsigned copied = 0;
    struct io_uring_cqe *batch[64];
    while (copied < capacity) {
        unsigned wanted = capacity - copied < 64 ? capacity - copied : 64;
        unsigned count = io_uring_peek_batch_cqe(&r->ring, batch, wanted);
        for (unsigned i = 0; i < count; i++) {
            out[copied].user_data = batch[i]->user_data;
            out[copied].result = batch[i]->res;
            out[copied].flags = batch[i]->flags;
            copied++;
        }
        io_uring_cq_advance(&r->ring, count);
        if (count < wanted) break;
    }
    return (int)copied;
}

int curing_cqe_has_more(uint32_t flags) { return (flags & IORING_CQE_F_MORE) != 0; }
int curing_cqe_has_buffer(uint32_t flags) { return (flags & IORING_CQE_F_BUFFER) != 0; }
uint16_t curing_cqe_buffer_id(uint32_t flags) { return (uint16_t)(flags >> IORING_CQE_BUFFER_SHIFT); }
