// The io_uring ring, behind a small opaque API: only Reactor links liburing.
//
// liburing.h is not included here: it defines _GNU_SOURCE and _XOPEN_SOURCE before including the
// system headers, so the structs it drags in (fd_set, rusage…) differ from Glibc's module and a
// Swift module importing both fails to build. The ring is therefore driven through the API below,
// implemented in uring.c; its cost is one plain C call per submission.
#ifndef CURING_H
#define CURING_H

#include <stddef.h>
#include <stdint.h>

/// One io_uring with registered files and a provided-buffer ring.
typedef struct curing_ring curing_ring;

/// A completion copied out of the ring.
typedef struct curing_completion {
    uint64_t user_data;
    int32_t result;
    uint32_t flags;
} curing_completion;

// Creates the ring (SINGLE_ISSUER+DEFER_TASKRUN, else COOP_TASKRUN, else plain), registers its fd,
// a sparse table of `files` descriptors and `buffers` provided buffers of `buffer_size` bytes at
// `buffer_memory`. NULL with -errno in *error (and a reason in `why`) when any step fails.
curing_ring *curing_create(unsigned entries, unsigned files, unsigned buffers, void *buffer_memory,
                                  unsigned buffer_size, char *features, size_t features_size, int *error,
                                  const char **why);
void curing_destroy(curing_ring *ring);
// Puts `fd` (or -1 to clear) in registered-file slot `slot`; 0 or -errno.
int curing_update_file(curing_ring *ring, unsigned slot, int fd);
// Each prep fills one submission entry (submitting first if the queue is full); sockets are
// registered-file slots.
void curing_prep_multishot_accept(curing_ring *ring, unsigned slot, uint64_t user_data);
void curing_prep_receive(curing_ring *ring, unsigned slot, int multishot, unsigned length,
                               uint64_t user_data);
// One completion when the socket in `slot` is readable (POLLIN), for datagram sockets.
void curing_prep_poll_readable(curing_ring *ring, unsigned slot, uint64_t user_data);
void curing_prep_connect(curing_ring *ring, unsigned slot, const void *address, uint32_t length,
                               uint64_t user_data);
void curing_prep_sendmsg(curing_ring *ring, unsigned slot, const void *message, uint64_t user_data);
void curing_prep_cancel(curing_ring *ring, uint64_t target, uint64_t user_data);
void curing_prep_read(curing_ring *ring, int fd, void *buffer, unsigned length, uint64_t user_data);
// Hands buffer `id` back to the kernel; published at the next wait.
void curing_recycle(curing_ring *ring, uint16_t id);
// One io_uring_enter: submits everything queued and waits for one completion at most `timeout_ns`
// (negative: no limit; 0: do not wait). Then copies up to `capacity` completions into `out`.
// Returns the number copied, or -errno for a failure other than timeout or interruption.
int curing_wait(curing_ring *ring, int64_t timeout_ns, curing_completion *out, unsigned capacity);

// IORING_CQE_F_* and the buffer-id shift are macros built from `1U << n` and an enum.
int curing_cqe_has_more(uint32_t flags);
int curing_cqe_has_buffer(uint32_t flags);
uint16_t curing_cqe_buffer_id(uint32_t flags);

#endif
