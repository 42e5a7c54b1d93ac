/* What Swift cannot call directly: raw syscalls without glibc wrappers, libbpf's *_OPTS macros
 * and its varargs print callback. */
#ifndef MEMGUARD_SHIMS_H
#define MEMGUARD_SHIMS_H

#include <stddef.h>
#include <sys/types.h>

struct bpf_object;

/* prctl(PR_SET_CHILD_SUBREAPER, 1): orphaned descendants are reparented to the caller. */
int mg_set_child_subreaper(void);
/* Forks a detached child (new session, stdio on /dev/null, only SIGTERM, SIGINT and SIGHUP
 * blocked, for its signalfd) that keeps only ring, pidfd, go and log, as fds 3, 4, 5 and 6.
 * Returns as fork() does. The sources must be >= 7. */
pid_t mg_fork_detached(int ring, int pidfd, int go, int log);
/* socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC). */
int mg_socketpair_cloexec(int fds[2]);
/* Sends one byte without raising SIGPIPE: 1, or -1 with errno (EPIPE: the peer is gone). */
int mg_send_byte(int fd, char byte);
/* Rewrites the process's command line (what /proc/<pid>/cmdline shows) in the memory of its
 * original arguments: `text` with NULs between words, cut to fit. */
void mg_set_cmdline(const char *text, size_t length);
/* openat2(rootfd, path, flags | O_CLOEXEC | O_PATH) with RESOLVE_IN_ROOT | RESOLVE_NO_MAGICLINKS: the path
 * is resolved as if rootfd were "/", so no symlink in a container's rootfs can lead outside it. */
int mg_open_in_root(int rootfd, const char *path, int flags);
/* POSIX_SPAWN_SETSID (a GNU extension the Swift Glibc module does not export). */
short mg_posix_spawn_setsid(void);

/* Blocks SIGTERM, SIGINT and SIGHUP and returns a signalfd that reads them (or -1). */
int mg_stop_signalfd(void);
/* Reads one signal from a signalfd: its number, or -1. */
int mg_read_signal(int fd);

/* f_type of the filesystem holding `path` (statfs), or -errno. */
long mg_fs_magic(const char *path);
int mg_mount(const char *source, const char *target, const char *fstype, const char *data);

int mg_pidfd_open(pid_t pid);
int mg_pidfd_send_signal(int pidfd, int sig);

/* Route libbpf's messages into a buffer, so errors (verifier log included) can be shown with
 * the failure that caused them instead of being printed to stderr. */
void mg_libbpf_capture_logs(void);
const char *mg_libbpf_log(void);
void mg_libbpf_log_clear(void);

/* bpf_object__open_mem with an object name and, if not NULL, a kernel BTF path for CO-RE. */
struct bpf_object *mg_bpf_object_open(const void *buf, size_t size, const char *name, const char *btf_path);

/* A BPF ring buffer map of `size` bytes (a power of two, multiple of the page size). */
int mg_ringbuf_create(const char *name, unsigned int size);

#endif
