#define _GNU_SOURCE
#include "shims.h"

#include <bpf/bpf.h>
#include <bpf/libbpf.h>
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <spawn.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <linux/openat2.h>
#include <sys/mount.h>
#include <sys/prctl.h>
#include <sys/statfs.h>
#include <sys/signalfd.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <stdlib.h>
#include <unistd.h>

int mg_pidfd_open(pid_t pid)
{
	return (int)syscall(SYS_pidfd_open, pid, 0);
}

int mg_pidfd_send_signal(int pidfd, int sig)
{
	return (int)syscall(SYS_pidfd_send_signal, pidfd, sig, NULL, 0);
}

int mg_set_child_subreaper(void)
{
	return prctl(PR_SET_CHILD_SUBREAPER, 1, 0, 0, 0);
}

int mg_open_in_root(int rootfd, const char *path, int flags)
{
	struct open_how how;
	memset(&how, 0, sizeof(how));
	how.flags = (unsigned long long)(flags | O_CLOEXEC | O_PATH);
	how.resolve = RESOLVE_IN_ROOT | RESOLVE_NO_MAGICLINKS;
	return (int)syscall(SYS_openat2, rootfd, path, &how, sizeof(how));
}

static void mg_stop_set(sigset_t *set)
{
	sigemptyset(set);
	sigaddset(set, SIGTERM);
	sigaddset(set, SIGINT);
	sigaddset(set, SIGHUP);
}

pid_t mg_fork_detached(int ring, int pidfd, int go, int log)
{
	/* The stop signals are blocked across the fork: a SIGTERM sent before the monitor has
	   its signalfd stays pending for it instead of killing it. */
	sigset_t stop, saved;
	mg_stop_set(&stop);
	sigprocmask(SIG_BLOCK, &stop, &saved);
	pid_t pid = fork();
	if (pid != 0) {
		int saved_errno = errno;
		sigprocmask(SIG_SETMASK, &saved, NULL);
		errno = saved_errno;
		return pid;
	}
	setsid();
	int null = open("/dev/null", O_RDWR);
	dup2(null, 0);
	dup2(null, 1);
	dup2(null, 2);
	dup2(ring, 3);
	dup2(pidfd, 4);
	dup2(go, 5);
	dup2(log, 6);
	close_range(7, ~0U, 0);
	sigprocmask(SIG_SETMASK, &stop, NULL);
	return 0;
}

int mg_socketpair_cloexec(int fds[2])
{
	return socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, fds);
}

int mg_send_byte(int fd, char byte)
{
	/* MSG_NOSIGNAL: a monitor that already died is an error to report, not a SIGPIPE. */
	return (int)send(fd, &byte, 1, MSG_NOSIGNAL);
}

extern char **environ;

void mg_set_cmdline(const char *text, size_t length)
{
	FILE *f = fopen("/proc/self/stat", "r");
	unsigned long start = 0, end = 0;
	if (!f)
		return;
	/* fields 48 and 49: arg_start, arg_end (after the comm, which may hold spaces) */
	char buf[4096];
	size_t n = fread(buf, 1, sizeof(buf) - 1, f);
	fclose(f);
	buf[n] = 0;
	char *p = strrchr(buf, ')');
	if (!p)
		return;
	int field = 2;
	for (char *tok = strtok(p + 1, " "); tok; tok = strtok(NULL, " ")) {
		field++;
		if (field == 48)
			start = strtoul(tok, NULL, 10);
		if (field == 49) {
			end = strtoul(tok, NULL, 10);
			break;
		}
	}
	if (!start || end <= start)
		return;
	size_t room = end - start;
	char *area = (char *)start;
	memset(area, 0, room);
	memcpy(area, text, length < room - 1 ? length : room - 1);
}

short mg_posix_spawn_setsid(void)
{
	return POSIX_SPAWN_SETSID;
}

int mg_stop_signalfd(void)
{
	sigset_t set;
	mg_stop_set(&set);
	if (sigprocmask(SIG_BLOCK, &set, NULL) != 0)
		return -1;
	return signalfd(-1, &set, SFD_CLOEXEC | SFD_NONBLOCK);
}

int mg_read_signal(int fd)
{
	struct signalfd_siginfo info;
	if (read(fd, &info, sizeof(info)) != sizeof(info))
		return -1;
	return (int)info.ssi_signo;
}

long mg_fs_magic(const char *path)
{
	struct statfs fs;
	if (statfs(path, &fs) != 0)
		return -errno;
	return (long)fs.f_type;
}

int mg_mount(const char *source, const char *target, const char *fstype, const char *data)
{
	return mount(source, target, fstype, 0, data);
}

static char log_buf[16384];
static size_t log_len;

static int capture(enum libbpf_print_level level, const char *fmt, va_list args)
{
	if (level == LIBBPF_DEBUG)
		return 0;
	if (log_len >= sizeof(log_buf) - 1)
		return 0;
	int n = vsnprintf(log_buf + log_len, sizeof(log_buf) - log_len, fmt, args);
	if (n > 0)
		log_len += (size_t)n < sizeof(log_buf) - log_len ? (size_t)n : sizeof(log_buf) - log_len - 1;
	return n;
}

void mg_libbpf_capture_logs(void)
{
	libbpf_set_print(capture);
}

const char *mg_libbpf_log(void)
{
	log_buf[log_len] = 0;
	return log_buf;
}

void mg_libbpf_log_clear(void)
{
	log_len = 0;
	log_buf[0] = 0;
}

struct bpf_object *mg_bpf_object_open(const void *buf, size_t size, const char *name, const char *btf_path)
{
	LIBBPF_OPTS(bpf_object_open_opts, opts, .object_name = name, .btf_custom_path = btf_path);
	return bpf_object__open_mem(buf, size, &opts);
}

int mg_ringbuf_create(const char *name, unsigned int size)
{
	return bpf_map_create(BPF_MAP_TYPE_RINGBUF, name, 0, 0, size, NULL);
}
