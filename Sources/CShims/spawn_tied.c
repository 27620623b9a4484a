// A supervisor's child, tied to it by a keeper (see cshims_spawn_tied in CShims.h). Everything
// after fork runs in the child of a threaded process: system calls only, no allocation, no stdio.
#define _GNU_SOURCE
#include "CShims.h"
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

// What comes back through the report pipe, which closes once the program has exec'd: the
// program's pid, then an errno only if a step failed (the exec's own failure included).
enum { REPORT_PID = 1, REPORT_ERRNO = 2 };

// How long what is left of a role has, after SIGTERM, before SIGKILL: inside the 5 s in which a
// role must be gone after its runner died, and short enough not to hold up a role's exit for long.
static const long SWEEP_GRACE_MS = 2000;

static void report(int fd, int kind, int value) {
    int message[2] = {kind, value};
    ssize_t ignored = write(fd, message, sizeof message);
    (void)ignored;
}

// Closes descriptors first..last (inclusive), with close_range where the kernel has it.
static void close_span(int first, unsigned last) {
    if (syscall(SYS_close_range, (unsigned)first, last, 0) == 0) return;
    struct rlimit files;
    unsigned limit = getrlimit(RLIMIT_NOFILE, &files) == 0 && files.rlim_cur < 65536 ? (unsigned)files.rlim_cur : 65536;
    if (last >= limit) last = limit - 1;
    for (unsigned fd = (unsigned)first; fd <= last; fd++) close((int)fd);
}

// Closes every descriptor from 3 up except those in `keep` (-1: none): what another thread of
// the caller had open at the fork (a pipe it is about to hand to its own child, say) is let go at
// once, not held while the keeper lives.
static void close_all_but(const int keep[3]) {
    int next = 3;
    for (;;) {
        int lowest = -1;
        for (int i = 0; i < 3; i++) {
            if (keep[i] >= next && (lowest < 0 || keep[i] < lowest)) lowest = keep[i];
        }
        if (lowest < 0) break;
        if (lowest > next) close_span(next, (unsigned)(lowest - 1));
        next = lowest + 1;
    }
    close_span(next, ~0U);
}

static long now_ms(void) {
    struct timespec now;
    clock_gettime(CLOCK_MONOTONIC, &now);
    return now.tv_sec * 1000 + now.tv_nsec / 1000000;
}

// The program proper, in the keeper's process group, killed by the kernel if its keeper dies.
static _Noreturn void run_program(
    pid_t keeper, const char *path, char *const argv[], char *const envp[], const char *stdout_path,
    int stdout_flags, const char *stderr_path, int stderr_fd, int pass_fd, int pass_as, int report_fd) {
    int failure = 0;
    if (prctl(PR_SET_PDEATHSIG, SIGKILL) != 0 || getppid() != keeper) _exit(127);
    struct sigaction defaults = {0};
    defaults.sa_handler = SIG_DFL;
    for (int signal = 1; signal < NSIG; signal++) sigaction(signal, &defaults, NULL);
    sigset_t none;
    sigemptyset(&none);
    sigprocmask(SIG_SETMASK, &none, NULL);
    if (stdout_path) {
        int in = open("/dev/null", O_RDONLY);
        int out = open(stdout_path, stdout_flags, 0600);
        if (in < 0 || out < 0 || dup2(in, 0) < 0 || dup2(out, 1) < 0) failure = errno;
    }
    if (!failure && stderr_fd >= 0) {
        if (dup2(stderr_fd, 2) < 0) failure = errno;
    } else if (!failure && stderr_path) {
        int err = open(stderr_path, O_WRONLY | O_CREAT | O_APPEND, 0600);
        if (err < 0 || dup2(err, 2) < 0) failure = errno;
    }
    if (!failure && pass_fd >= 0) {
        // dup2 onto itself keeps close-on-exec: clear it instead.
        int passed = pass_fd == pass_as ? fcntl(pass_fd, F_SETFD, 0) : dup2(pass_fd, pass_as);
        if (passed < 0) failure = errno;
    }
    if (!failure) {
        execve(path, argv, envp);
        failure = errno;
    }
    report(report_fd, REPORT_ERRNO, failure);
    _exit(127);
}

// Reaps every child that has ended; the program's status into *status. Whether any child is left.
static int reap(pid_t program, int *status, int *program_ended) {
    for (;;) {
        int child_status;
        pid_t ended = waitpid(-1, &child_status, WNOHANG);
        if (ended == program) {
            *status = child_status;
            *program_ended = 1;
        } else if (ended == 0) {
            return 1;
        } else if (ended < 0) {
            return errno == EINTR ? 1 : 0; // ECHILD: nothing left
        }
    }
}

// SIGKILL to each child (the keeper is a subreaper: whatever the program left behind, even what
// left its process group, comes to it as a child), from /proc/thread-self/children. Whether any
// was found.
static int kill_children(void) {
    int fd = open("/proc/thread-self/children", O_RDONLY | O_CLOEXEC);
    if (fd < 0) return 0;
    char text[4096];
    ssize_t count = read(fd, text, sizeof text);
    close(fd);
    int found = 0;
    pid_t pid = 0;
    for (ssize_t i = 0; i < count; i++) {
        if (text[i] >= '0' && text[i] <= '9') {
            pid = pid * 10 + (text[i] - '0');
        } else if (pid > 0) {
            kill(pid, SIGKILL);
            found = 1;
            pid = 0;
        }
    }
    if (pid > 0) {
        kill(pid, SIGKILL);
        found = 1;
    }
    return found;
}

// SIGUSR1 from the runner: end the role now (cshims_spawn_tied), its grace has run out.
static int is_last_resort(const siginfo_t *info, pid_t runner) {
    return info->si_code == SI_USER && info->si_pid == runner;
}

// What is left of the role, ended: SIGTERM (and SIGCONT, should it be paused) to its process
// group, `grace_ms` for it to go, then SIGKILL to whatever is still there.
static void sweep(pid_t runner, pid_t group, pid_t program, long grace_ms, int *status, int *program_ended) {
    kill(-group, SIGTERM);
    kill(-group, SIGCONT);
    sigset_t children;
    sigemptyset(&children);
    sigaddset(&children, SIGCHLD);
    sigset_t children_or_hurry = children;
    sigaddset(&children_or_hurry, SIGUSR1);
    long deadline = now_ms() + grace_ms;
    while (reap(program, status, program_ended)) {
        long left = deadline - now_ms();
        if (left <= 0) break;
        struct timespec wait = {.tv_sec = left / 1000, .tv_nsec = (left % 1000) * 1000000};
        siginfo_t info;
        if (sigtimedwait(&children_or_hurry, &info, &wait) == SIGUSR1 && is_last_resort(&info, runner)) break;
    }
    for (int round = 0; round < 1000 && reap(program, status, program_ended); round++) {
        if (!kill_children()) break;
        struct timespec wait = {.tv_sec = 0, .tv_nsec = 10 * 1000000};
        sigtimedwait(&children, NULL, &wait);
    }
}

// The program's end, as the keeper's own: the same exit code, or death by the same signal.
static _Noreturn void end_as(int status) {
    if (WIFEXITED(status)) _exit(WEXITSTATUS(status));
    int signal = WTERMSIG(status);
    struct rlimit no_core = {0, 0};
    setrlimit(RLIMIT_CORE, &no_core); // the keeper's core would be a copy of the runner's memory
    struct sigaction defaults = {0};
    defaults.sa_handler = SIG_DFL;
    sigaction(signal, &defaults, NULL);
    sigset_t one;
    sigemptyset(&one);
    sigaddset(&one, signal);
    kill(getpid(), signal);
    sigprocmask(SIG_UNBLOCK, &one, NULL);
    _exit(128 + signal); // a signal whose default is not to end a process
}

// The keeper: leads the role's process group, starts the program in it, waits, and ends as it
// ended — after clearing away what it left behind. If the runner dies first, it ends the role.
static _Noreturn void keep(
    pid_t runner, const char *path, char *const argv[], char *const envp[], const char *stdout_path,
    int stdout_flags, const char *stderr_path, int stderr_fd, int pass_fd, int pass_as, int report_fd) {
    // Every signal waits to be read: a signal to the group is for the program, and SIGUSR2 says
    // the runner has gone.
    sigset_t all;
    sigfillset(&all);
    sigprocmask(SIG_SETMASK, &all, NULL);
    struct sigaction defaults = {0};
    defaults.sa_handler = SIG_DFL;
    sigaction(SIGCHLD, &defaults, NULL); // not ignored, or children would not wait to be reaped
    setpgid(0, 0);
    if (prctl(PR_SET_PDEATHSIG, SIGUSR2) != 0 || prctl(PR_SET_CHILD_SUBREAPER, 1) != 0) {
        report(report_fd, REPORT_ERRNO, errno);
        _exit(127);
    }
    if (getppid() != runner) _exit(127);
    int keep[3] = {report_fd, stderr_fd, pass_fd};
    close_all_but(keep);
    pid_t keeper = getpid();
    pid_t program = fork();
    if (program < 0) {
        report(report_fd, REPORT_ERRNO, errno);
        _exit(127);
    }
    if (program == 0) {
        run_program(
            keeper, path, argv, envp, stdout_path, stdout_flags, stderr_path, stderr_fd, pass_fd, pass_as,
            report_fd);
    }
    report(report_fd, REPORT_PID, program);
    // Then the three it passed on: the keeper holds nothing of the runner's (locks, sockets,
    // other roles' pipes), and the report pipe closes once the program has exec'd.
    int none[3] = {-1, -1, -1};
    close_all_but(none);
    int status = 0, program_ended = 0;
    long grace_ms = SWEEP_GRACE_MS;
    while (getppid() == runner) {
        reap(program, &status, &program_ended);
        if (program_ended) break;
        siginfo_t info;
        if (sigwaitinfo(&all, &info) == SIGUSR1 && is_last_resort(&info, runner)) {
            // The runner's last resort (cshims_spawn_tied): the role has had its grace already.
            kill(program, SIGKILL);
            grace_ms = 0;
        }
    }
    sweep(runner, keeper, program, grace_ms, &status, &program_ended);
    if (!program_ended) _exit(127); // the runner has gone: nobody waits for the status
    end_as(status);
}

int cshims_spawn_tied(
    const char *path, char *const argv[], char *const envp[], const char *stdout_path, int stdout_flags,
    const char *stderr_path, int stderr_fd, int pass_fd, int pass_as, int *program, int *error) {
    int pipe_ends[2];
    if (pipe2(pipe_ends, O_CLOEXEC) != 0) {
        *error = errno;
        return -1;
    }
    pid_t runner = getpid();
    pid_t keeper = fork();
    if (keeper < 0) {
        *error = errno;
        close(pipe_ends[0]);
        close(pipe_ends[1]);
        return -1;
    }
    if (keeper == 0) {
        close(pipe_ends[0]);
        keep(runner, path, argv, envp, stdout_path, stdout_flags, stderr_path, stderr_fd, pass_fd, pass_as,
            pipe_ends[1]);
    }
    setpgid(keeper, keeper); // as the keeper does: whichever runs first, the group exists before a signal to it
    close(pipe_ends[1]);
    int messages[4] = {0};
    size_t got = 0;
    for (;;) {
        ssize_t count = read(pipe_ends[0], (char *)messages + got, sizeof messages - got);
        if (count > 0) got += (size_t)count;
        if (count == 0 || got == sizeof messages || (count < 0 && errno != EINTR)) break;
    }
    close(pipe_ends[0]);
    *program = 0;
    *error = 0;
    for (size_t i = 0; i + 1 < got / sizeof(int); i += 2) {
        if (messages[i] == REPORT_PID) *program = messages[i + 1];
        if (messages[i] == REPORT_ERRNO) *error = messages[i + 1];
    }
    if (*program == 0 || *error != 0) {
        int status;
        while (waitpid(keeper, &status, 0) < 0 && errno == EINTR) {}
        if (*error == 0) *error = ECHILD;
        return -1;
    }
    return keeper;
}
