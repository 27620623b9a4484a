// C that Swift cannot import on its own. Every symbol carries the `cshims_` prefix and says why it
// exists; everything else (epoll, signalfd, eventfd, sockets, libsodium) Swift imports directly.
//
// liburing.h is not included here: it defines _GNU_SOURCE and _XOPEN_SOURCE before including the
// system headers, so the structs it drags in (fd_set, rusage…) differ from Glibc's module and a
// Swift module importing both fails to build. The ring is therefore driven through the small
// opaque API below, implemented in uring.c; its cost is one plain C call per submission.
#ifndef CSHIMS_H
#define CSHIMS_H

#include <sodium.h>
#include <signal.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <sys/signalfd.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <arpa/inet.h>

// MARK: io_uring, opaque (see above)

/// One io_uring with registered files and a provided-buffer ring.
typedef struct cshims_uring cshims_uring;

/// A completion copied out of the ring.
typedef struct cshims_completion {
    uint64_t user_data;
    int32_t result;
    uint32_t flags;
} cshims_completion;

// Creates the ring (SINGLE_ISSUER+DEFER_TASKRUN, else COOP_TASKRUN, else plain), registers its fd,
// a sparse table of `files` descriptors and `buffers` provided buffers of `buffer_size` bytes at
// `buffer_memory`. NULL with -errno in *error (and a reason in `why`) when any step fails.
cshims_uring *cshims_uring_create(unsigned entries, unsigned files, unsigned buffers, void *buffer_memory,
                                  unsigned buffer_size, char *features, size_t features_size, int *error,
                                  const char **why);
void cshims_uring_destroy(cshims_uring *ring);
// Puts `fd` (or -1 to clear) in registered-file slot `slot`; 0 or -errno.
int cshims_uring_update_file(cshims_uring *ring, unsigned slot, int fd);
// Each prep fills one submission entry (submitting first if the queue is full); sockets are
// registered-file slots.
void cshims_uring_prep_multishot_accept(cshims_uring *ring, unsigned slot, uint64_t user_data);
void cshims_uring_prep_receive(cshims_uring *ring, unsigned slot, int multishot, unsigned length,
                               uint64_t user_data);
void cshims_uring_prep_connect(cshims_uring *ring, unsigned slot, const void *address, uint32_t length,
                               uint64_t user_data);
void cshims_uring_prep_sendmsg(cshims_uring *ring, unsigned slot, const void *message, uint64_t user_data);
void cshims_uring_prep_cancel(cshims_uring *ring, uint64_t target, uint64_t user_data);
void cshims_uring_prep_read(cshims_uring *ring, int fd, void *buffer, unsigned length, uint64_t user_data);
// Hands buffer `id` back to the kernel; published at the next wait.
void cshims_uring_recycle(cshims_uring *ring, uint16_t id);
// One io_uring_enter: submits everything queued and waits for one completion at most `timeout_ns`
// (negative: no limit; 0: do not wait). Then copies up to `capacity` completions into `out`.
// Returns the number copied, or -errno for a failure other than timeout or interruption.
int cshims_uring_wait(cshims_uring *ring, int64_t timeout_ns, cshims_completion *out, unsigned capacity);

// IORING_CQE_F_* and the buffer-id shift are macros built from `1U << n` and an enum.
int cshims_cqe_has_more(uint32_t flags);
int cshims_cqe_has_buffer(uint32_t flags);
uint16_t cshims_cqe_buffer_id(uint32_t flags);

// MARK: epoll, sockets, signals

// The EPOLL* flags are enum members re-#defined as themselves; Swift imports them as an enum type
// that does not combine into the uint32_t events field.
uint32_t cshims_epoll_in(void);
uint32_t cshims_epoll_out(void);
uint32_t cshims_epoll_err(void);
uint32_t cshims_epoll_hup(void);
uint32_t cshims_epoll_rdhup(void);
uint32_t cshims_epoll_et(void);

// SOCK_NONBLOCK|SOCK_CLOEXEC and SOCK_STREAM are __socket_type enum members, not ints, in Swift.
int cshims_sock_nonblock_cloexec(void);
int cshims_sock_stream(void);

// ioctl is variadic, which Swift cannot call. Bytes in a socket's send buffer the peer has not
// taken yet (SIOCOUTQ: TCP unacknowledged plus unsent, Unix unread by the peer), and bytes waiting
// in its receive buffer (FIONREAD); -1 on failure.
int cshims_socket_unsent(int fd);
int cshims_socket_unread(int fd);
// accept4 is declared only under _GNU_SOURCE; accepts non-blocking and close-on-exec.
int cshims_accept(int fd);

// sigemptyset/sigaddset over a Swift array: fills `set` with the given signals.
void cshims_sigset_of(sigset_t *set, const int *signals, int count);

/// POSIX_SPAWN_SETSID, which needs _GNU_SOURCE: a spawned child in a session of its own.
short cshims_posix_spawn_setsid(void);

#endif
