// C that Swift cannot import on its own. Every symbol carries the `cshims_` prefix and says why it
// exists; everything else (epoll, signalfd, eventfd, sockets) Swift imports directly. The ring is in
// CURing (only Reactor links liburing), libsodium in CSodium.
#ifndef CSHIMS_H
#define CSHIMS_H

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

// MARK: epoll, sockets, signals

// struct ucred is visible only under _GNU_SOURCE: the peer of a Unix socket (SO_PEERCRED).
// Returns 0 and fills the three, or -1 with errno.
int cshims_peer_credentials(int fd, int32_t *pid, uint32_t *uid, uint32_t *gid);

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

// pidfd_open has no wrapper in Glibc's Swift module (glibc declares it in <sys/pidfd.h>): a
// descriptor that becomes readable when process `pid` ends, -1 with errno on failure.
int cshims_pidfd_open(int pid);
// pipe2 is declared only under _GNU_SOURCE: a pipe whose two ends close on exec; 0 or -1.
int cshims_pipe_cloexec(int ends[2]);

// Whether the calling thread is the process's main thread (its id is the process's).
int cshims_is_main_thread(void);
// Blocks, on the calling thread, every signal but those the kernel sends to a thread for its own
// fault (SIGSEGV, SIGBUS, SIGFPE, SIGILL, SIGTRAP, SIGABRT): a process-directed signal then never
// takes its default action on this thread.
void cshims_block_asynchronous_signals(void);

// Open-file-description locks (F_OFD_SETLK, F_OFD_GETLK need _GNU_SOURCE) on the whole file `fd`
// is open on: a write lock taken without waiting (0, or -1 with errno), and a look at whether
// another description holds one (1 held, 0 free, -1 error) — a look that takes nothing, so it
// cannot make a concurrent taker fail, as probing by taking would.
int cshims_lock_whole_file(int fd);
int cshims_whole_file_locked(int fd);

// Starts `path` (argv, envp: NULL-terminated) as a child tied to this process, which posix_spawn
// cannot do. A keeper process leads a process group of its own, starts the program in it, and ends
// as the program ended (same exit code, or the same signal) once what the program left behind is
// gone: the rest of its group, and, as the keeper is a subreaper, every descendant, even one that
// left the group (SIGTERM, 2 s, then SIGKILL). If the calling thread ends, however it ends
// (PR_SET_PDEATHSIG, which is per thread: call it from the thread that lives as long as the
// process, as a runner's main thread does), the keeper ends the program the same way; if the keeper
// is killed, the kernel kills the program. Signals to the group reach the program (the keeper reads
// and ignores them); SIGUSR1 from the caller to the keeper ends the role at once (SIGKILL to the
// program and, without a grace period, to what it left). The program starts with signals unblocked and default actions. With
// `stdout_path`, its stdin is /dev/null and stdout that file (opened with `stdout_flags`); with
// `stderr_path`, stderr that file (appended), or a `stderr_fd` >= 0 (a pipe's write end, say)
// instead; a `pass_fd` >= 0 becomes `pass_as` in it. The keeper holds no descriptor of the caller's
// beyond 0 to 2. Returns the keeper's pid (the group's id: wait for it, signal its group) with the
// program's pid in `*program`, or -1 with `*error` the errno of the step that failed (exec's own
// failure included).
int cshims_spawn_tied(
    const char *path, char *const argv[], char *const envp[], const char *stdout_path, int stdout_flags,
    const char *stderr_path, int stderr_fd, int pass_fd, int pass_as, int *program, int *error);

#endif
