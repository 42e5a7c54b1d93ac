/*
 * mg-attack - a test payload for memguard.
 *
 * It performs each memory-protection "attack" kind on request, issuing
 * exactly the syscall(s) memguard's eBPF probes look for.  In memguard's
 * audit mode every attack is logged and the process survives; in enforce
 * mode it is killed at the first one.
 *
 * Build:  cc -static -O2 -Wall -Wextra -o mg-attack examples/mg-attack.c
 *
 * Usage:  mg-attack <kind> [<kind> ...]      (kinds run in the order given)
 *
 *   wx-mmap       mmap(anon, PROT_READ|PROT_WRITE|PROT_EXEC)
 *   wx-mprotect   mprotect(anon RW mapping, PROT_READ|PROT_WRITE|PROT_EXEC)
 *   exec-anon     mprotect(anon RW mapping holding code, PROT_READ|PROT_EXEC),
 *                 then call it
 *   code-patch    mprotect(private PROT_READ|PROT_EXEC mapping of our own
 *                 executable, PROT_READ|PROT_WRITE), then write one byte
 *   exec-memfd    memfd_create + copy of our executable; a child fexecve()s it
 *   exec-deleted  copy of our executable in the scratch dir, opened then
 *                 unlinked; a child execveat(fd, "", AT_EMPTY_PATH)s it
 *   ptrace        ptrace(PTRACE_ATTACH) on a sleeping child
 *   vm-writev     process_vm_writev() into a sleeping child
 *   proc-mem      open("/proc/<child>/mem", O_RDWR) of a sleeping child
 *   all           all of the above, in this order
 *   benign        ordinary work that must not trigger anything (still prints
 *                 attempt/survived benign)
 *   file-double-map, file-double-mprotect
 *                 code written through a shared writable mapping of an
 *                 O_TMPFILE file, mapped executable through a read-only fd
 *                 (directly, or read-only then mprotect)
 *   code-patch-open-file
 *                 code-patch of the text of a file opened for writing after it
 *                 was mapped
 *   reserve       reserve 8 GiB of address space PROT_NONE (no heap spray)
 *   reserve-commit
 *                 the same, then make 5 GiB of it read-write (a heap spray)
 *   reserve-commit-read-first
 *                 the same, read-only first, then read-write (a heap spray)
 *   contended-commit
 *                 while two threads keep the mmap lock busy (mmap/munmap), make
 *                 PROT_NONE anonymous memory read-write 5000 times, as glibc
 *                 does for thread stacks and malloc arenas: benign
 *   contended-hole
 *                 the same contention; mprotect read-write of an unmapped page
 *                 20000 times (each fails with ENOMEM)
 *   mremap-race   another thread's mremap of code onto a read-only file page,
 *                 queued behind a busy mmap lock, as that page is made executable
 *                 (must be killed in enforce mode; prints EVADED if the code ran)
 *   contended-code-patch
 *                 the same contention; code-patch 1000 times (a fresh mapping
 *                 of our executable each time)
 *   sleep <secs>  sleep (keeps a container alive); prints nothing
 *   loop <kind> <count>
 *                 run one kind count times, quietly, then print one line
 *
 * Output (stdout, flushed line by line):
 *   attempt <kind>                 just before the attack syscall
 *   survived <kind>                once the attack syscall has returned
 *   child-status <kind> <code>     exec-memfd/exec-deleted: exit code, or
 *   child-status <kind> signal <N>   the signal that killed the child
 *   ptrace-result <rc> <errno>     <errno> is a name like EPERM, or 0
 *   vm-writev-result <rc> <errno>
 *   proc-mem-result <fd> <errno>   fd is -1 on failure
 *   loop-done <kind> <n> <usec>    n iterations completed in usec microseconds
 * stderr:
 *   setup-failed <kind>: <what>: <strerror>   (a non-attack syscall failed)
 *   attack-failed <kind>: <what>: <strerror>  (the attack syscall itself
 *                                              returned an error; informational)
 *
 * Exit status: 0 all kinds done, 1 some setup failed, 2 bad usage.
 * The scratch directory (exec-deleted only) is $MG_SCRATCH, else /tmp; it is
 * created if missing.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <signal.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/personality.h>
#include <sys/prctl.h>
#include <sys/ptrace.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/uio.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#ifndef MFD_EXEC
#define MFD_EXEC 0x0010U
#endif

#define PAGE 4096

extern char **environ;

static const char *self_path = "mg-attack"; /* argv[0], fallback for /proc/self/exe */
static int quiet;                           /* suppress stdout (benign-quiet, loop) */

/* 8 bytes at the same address in a forked child: target of vm-writev. */
static volatile uint64_t vm_target = 0x1111111111111111ULL;

/* ---------------------------------------------------------------- helpers */

static void say(const char *fmt, ...)
{
	va_list ap;

	if (quiet)
		return;
	va_start(ap, fmt);
	vfprintf(stdout, fmt, ap);
	va_end(ap);
	fputc('\n', stdout);
	fflush(stdout);
}

/* Report a failed setup step (errno is taken as it is on entry); returns 1. */
static int setup_failed(const char *kind, const char *what)
{
	int err = errno;

	fprintf(stderr, "setup-failed %s: %s: %s\n", kind, what, strerror(err));
	return 1;
}

static void attack_failed(const char *kind, const char *what)
{
	int err = errno;

	fprintf(stderr, "attack-failed %s: %s: %s\n", kind, what, strerror(err));
}

static const char *errname(int rc, int err)
{
	const char *name;

	if (rc != -1)
		return "0";
	name = strerrorname_np(err);
	return name ? name : "EUNKNOWN";
}

static void *map_anon_rw(void)
{
	void *p = mmap(NULL, PAGE, PROT_READ | PROT_WRITE,
		       MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	return p == MAP_FAILED ? NULL : p;
}

static int open_self(void)
{
	int fd = open("/proc/self/exe", O_RDONLY | O_CLOEXEC);

	if (fd < 0)
		fd = open(self_path, O_RDONLY | O_CLOEXEC);
	return fd;
}

/* Copy our own executable into dst. Returns 0, or -1 with errno set. */
static int copy_self(int dst)
{
	char buf[65536];
	ssize_t n, w, off;
	int src = open_self();

	if (src < 0)
		return -1;
	while ((n = read(src, buf, sizeof buf)) != 0) {
		if (n < 0) {
			if (errno == EINTR)
				continue;
			goto fail;
		}
		for (off = 0; off < n; off += w) {
			w = write(dst, buf + off, (size_t)(n - off));
			if (w < 0) {
				if (errno == EINTR) {
					w = 0;
					continue;
				}
				goto fail;
			}
		}
	}
	close(src);
	return 0;
fail:
	n = errno;
	close(src);
	errno = (int)n;
	return -1;
}

static int wait_for(pid_t pid, int *status)
{
	pid_t r;

	do
		r = waitpid(pid, status, 0);
	while (r < 0 && errno == EINTR);
	return r < 0 ? -1 : 0;
}

/* Fork a child that just sleeps; it dies with us, and after 60s anyway. */
static pid_t spawn_sleeper(void)
{
	pid_t parent = getpid();
	pid_t pid = fork();

	if (pid != 0)
		return pid;
	prctl(PR_SET_PDEATHSIG, SIGKILL);
	if (getppid() != parent)
		_exit(0);
	alarm(60);
	for (;;)
		pause();
}

static void kill_sleeper(pid_t pid)
{
	kill(pid, SIGKILL);
	wait_for(pid, NULL);
}

/*
 * Fork; the child execs our executable through fd with "benign-quiet"
 * using fexecve() (use_fexecve) or a raw execveat(fd, "", AT_EMPTY_PATH).
 * The parent waits and prints child-status and survived.
 */
static int exec_child(const char *kind, int fd, int use_fexecve)
{
	char *args[] = { "mg-attack", "benign-quiet", NULL };
	int status;
	pid_t pid;

	say("attempt %s", kind);
	pid = fork();
	if (pid < 0)
		return setup_failed(kind, "fork");
	if (pid == 0) {
		if (use_fexecve)
			fexecve(fd, args, environ);
		else
			syscall(SYS_execveat, fd, "", args, environ, AT_EMPTY_PATH);
		fprintf(stderr, "attack-failed %s: exec: %s\n", kind, strerror(errno));
		_exit(127);
	}
	if (wait_for(pid, &status) < 0)
		return setup_failed(kind, "waitpid");
	if (WIFSIGNALED(status))
		say("child-status %s signal %d", kind, WTERMSIG(status));
	else
		say("child-status %s %d", kind, WEXITSTATUS(status));
	say("survived %s", kind);
	return 0;
}

/* ---------------------------------------------------------------- attacks */

static int do_wx_mmap(void)
{
	void *p;

	say("attempt wx-mmap");
	p = mmap(NULL, PAGE, PROT_READ | PROT_WRITE | PROT_EXEC,
		 MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	if (p == MAP_FAILED)
		attack_failed("wx-mmap", "mmap");
	say("survived wx-mmap");
	if (p != MAP_FAILED)
		munmap(p, PAGE);
	return 0;
}

static int do_wx_mprotect(void)
{
	void *p = map_anon_rw();

	if (!p)
		return setup_failed("wx-mprotect", "mmap");
	say("attempt wx-mprotect");
	if (mprotect(p, PAGE, PROT_READ | PROT_WRITE | PROT_EXEC) < 0)
		attack_failed("wx-mprotect", "mprotect");
	say("survived wx-mprotect");
	munmap(p, PAGE);
	return 0;
}

static int do_exec_anon(void)
{
	static const unsigned char code[] = { 0xb8, 0x2a, 0x00, 0x00, 0x00, 0xc3 }; /* mov eax,42; ret */
	int (*fn)(void);
	void *p = map_anon_rw();
	int rc = 0, ret;

	if (!p)
		return setup_failed("exec-anon", "mmap");
	memcpy(p, code, sizeof code);
	say("attempt exec-anon");
	if (mprotect(p, PAGE, PROT_READ | PROT_EXEC) < 0) {
		attack_failed("exec-anon", "mprotect");
	} else {
		memcpy(&fn, &p, sizeof fn);
		ret = fn();
		if (ret != 42) {
			fprintf(stderr, "attack-failed exec-anon: staged code returned %d, not 42\n", ret);
			rc = 1;
		}
	}
	say("survived exec-anon");
	munmap(p, PAGE);
	return rc;
}

static int do_code_patch(void)
{
	int fd = open_self();
	volatile unsigned char *p;
	void *m;

	if (fd < 0)
		return setup_failed("code-patch", "open /proc/self/exe");
	m = mmap(NULL, PAGE, PROT_READ | PROT_EXEC, MAP_PRIVATE, fd, 0);
	close(fd);
	if (m == MAP_FAILED)
		return setup_failed("code-patch", "mmap");
	say("attempt code-patch");
	if (mprotect(m, PAGE, PROT_READ | PROT_WRITE) < 0) {
		attack_failed("code-patch", "mprotect");
	} else {
		p = m;
		p[0] ^= 0xff;
	}
	say("survived code-patch");
	munmap(m, PAGE);
	return 0;
}

/* A memfd named `name` holding our executable, run by a child (fileless execution). */
static int memfd_exec(const char *kind, const char *name)
{
	int fd, rc;

	/* Say MFD_EXEC explicitly (kernel >= 6.3); older kernels reject it. */
	fd = memfd_create(name, MFD_CLOEXEC | MFD_EXEC);
	if (fd < 0 && errno == EINVAL)
		fd = memfd_create(name, MFD_CLOEXEC);
	if (fd < 0)
		return setup_failed(kind, "memfd_create");
	if (copy_self(fd) < 0) {
		rc = setup_failed(kind, "copy /proc/self/exe");
		close(fd);
		return rc;
	}
	rc = exec_child(kind, fd, 1);
	close(fd);
	return rc;
}

static int do_exec_memfd(void)
{
	return memfd_exec("exec-memfd", "payload");
}

/* The scratch directory: $MG_SCRATCH, else /tmp; created if missing. */
static const char *scratch_dir(void)
{
	const char *s = getenv("MG_SCRATCH");

	return s && *s ? s : "/tmp";
}

static int do_exec_deleted(void)
{
	const char *dir = scratch_dir();
	char path[4096];
	int fd, rc;

	if (mkdir(dir, 0755) < 0 && errno != EEXIST) {
		snprintf(path, sizeof path, "mkdir %s", dir);
		return setup_failed("exec-deleted", path);
	}
	snprintf(path, sizeof path, "%s/mg-deleted-%d", dir, (int)getpid());
	fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0755);
	if (fd < 0)
		return setup_failed("exec-deleted", path);
	if (copy_self(fd) < 0 || fchmod(fd, 0755) < 0) {
		rc = setup_failed("exec-deleted", "copy /proc/self/exe");
		close(fd);
		unlink(path);
		return rc;
	}
	close(fd); /* a writable fd would make exec fail with ETXTBSY */
	fd = open(path, O_RDONLY | O_CLOEXEC);
	rc = fd < 0 ? setup_failed("exec-deleted", "reopen") : 0;
	if (unlink(path) < 0 && !rc)
		rc = setup_failed("exec-deleted", "unlink");
	if (!rc)
		rc = exec_child("exec-deleted", fd, 0);
	if (fd >= 0)
		close(fd);
	return rc;
}

static int do_ptrace(void)
{
	pid_t pid = spawn_sleeper();
	long rc;
	int err;

	if (pid < 0)
		return setup_failed("ptrace", "fork");
	say("attempt ptrace");
	rc = ptrace(PTRACE_ATTACH, pid, NULL, NULL);
	err = errno;
	say("ptrace-result %ld %s", rc, errname((int)rc, err));
	if (rc == 0) {
		wait_for(pid, NULL); /* the attach SIGSTOP */
		ptrace(PTRACE_DETACH, pid, NULL, NULL);
	}
	kill_sleeper(pid);
	say("survived ptrace");
	return 0;
}

static int do_vm_writev(void)
{
	uint64_t value = 0x4242424242424242ULL;
	struct iovec local = { &value, sizeof value };
	struct iovec remote = { (void *)&vm_target, sizeof vm_target };
	pid_t pid = spawn_sleeper();
	ssize_t rc;
	int err;

	if (pid < 0)
		return setup_failed("vm-writev", "fork");
	say("attempt vm-writev");
	rc = process_vm_writev(pid, &local, 1, &remote, 1, 0);
	err = errno;
	say("vm-writev-result %zd %s", rc, errname((int)rc, err));
	kill_sleeper(pid);
	say("survived vm-writev");
	return 0;
}

static int do_proc_mem(void)
{
	char path[64];
	pid_t pid = spawn_sleeper();
	int fd, err;

	if (pid < 0)
		return setup_failed("proc-mem", "fork");
	snprintf(path, sizeof path, "/proc/%d/mem", (int)pid);
	say("attempt proc-mem");
	fd = open(path, O_RDWR | O_CLOEXEC);
	err = errno;
	say("proc-mem-result %d %s", fd, errname(fd, err));
	if (fd >= 0)
		close(fd);
	kill_sleeper(pid);
	say("survived proc-mem");
	return 0;
}

/* ---------------------------------------------------------------- benign */

static int benign_work(const char *kind)
{
	char buf[512];
	unsigned char *p = map_anon_rw();
	int fd, status;
	pid_t pid;

	if (!p)
		return setup_failed(kind, "mmap");
	memset(p, 0x5a, PAGE);
	if (mprotect(p, PAGE, PROT_READ) < 0)
		return setup_failed(kind, "mprotect");
	munmap(p, PAGE);

	fd = open("/proc/self/status", O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		fd = open(self_path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return setup_failed(kind, "open");
	if (read(fd, buf, sizeof buf) < 0) {
		close(fd);
		return setup_failed(kind, "read");
	}
	close(fd);

	pid = fork();
	if (pid < 0)
		return setup_failed(kind, "fork");
	if (pid == 0)
		_exit(0);
	if (wait_for(pid, &status) < 0)
		return setup_failed(kind, "waitpid");
	return 0;
}

static int do_benign(void)
{
	int rc;

	say("attempt benign");
	rc = benign_work("benign");
	say("survived benign");
	return rc;
}

static int do_benign_quiet(void)
{
	quiet = 1;
	return benign_work("benign-quiet");
}

/* ------------------------------------------------ evasions (not in "all") */
/*
 * Variants that once slipped past memguard's probes; each must still produce
 * the event named in the comment.
 */

static const unsigned char ret42[] = { 0xb8, 0x2a, 0x00, 0x00, 0x00, 0xc3 };

#if defined(__x86_64__)
/* A 32-bit system call through int $0x80 (three arguments). */
static long ia32_syscall(long nr, long a, long b, long c)
{
	long ret;

	__asm__ volatile("int $0x80" : "=a"(ret) : "a"(nr), "b"(a), "c"(b), "d"(c) : "memory");
	return ret;
}

static int ia32_mprotect(const char *kind, int prot)
{
	/* MAP_32BIT: the address must fit the 32-bit argument registers */
	char *p = mmap(NULL, PAGE, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_32BIT, -1, 0);

	if (p == MAP_FAILED)
		return setup_failed(kind, "mmap MAP_32BIT");
	memcpy(p, ret42, sizeof ret42);
	say("attempt %s", kind);
	if (ia32_syscall(125 /* ia32 mprotect */, (long)p, PAGE, prot) != 0)
		fprintf(stderr, "attack-failed %s: ia32 mprotect\n", kind);
	say("survived %s", kind);
	munmap(p, PAGE);
	return 0;
}

/* wx-mprotect, through the 32-bit ABI */
static int do_ia32_wx_mprotect(void) { return ia32_mprotect("ia32-wx-mprotect", PROT_READ | PROT_WRITE | PROT_EXEC); }
/* exec-writable, through the 32-bit ABI */
static int do_ia32_exec_anon(void) { return ia32_mprotect("ia32-exec-anon", PROT_READ | PROT_EXEC); }
#endif

/* heap-spray: many anonymous mappings in a burst, kept (an attacker grooming the heap) */
static int do_spray(void)
{
	enum { COUNT = 20000 };
	static void *maps[COUNT];
	int i, made = 0;

	say("attempt spray");
	for (i = 0; i < COUNT; i++) {
		maps[i] = mmap(NULL, PAGE, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
		if (maps[i] != MAP_FAILED)
			made++;
	}
	for (i = 0; i < COUNT; i++)
		if (maps[i] != MAP_FAILED)
			munmap(maps[i], PAGE);
	say("spray-result %d", made);
	say("survived spray");
	return 0;
}

/* Contention: threads that keep the process's mmap lock busy for writing, as multi-threaded
 * runtimes do (Go, glibc arenas); memguard's in-kernel lookup of a mapping only try-locks it.
 * PROT_NONE mappings: they take the lock like any other and are no heap spray. */
enum { CHURNERS = 2 };
static volatile int churning;
static pthread_t churners[CHURNERS];

static void *churn(void *arg)
{
	(void)arg;
	while (churning) {
		void *p = mmap(NULL, 16 * PAGE, PROT_NONE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
		if (p != MAP_FAILED)
			munmap(p, 16 * PAGE);
	}
	return NULL;
}

static int start_churn(const char *kind)
{
	int i;

	churning = 1;
	for (i = 0; i < CHURNERS; i++)
		if ((errno = pthread_create(&churners[i], NULL, churn, NULL)) != 0)
			return setup_failed(kind, "pthread_create");
	return 0;
}

static void stop_churn(void)
{
	int i;

	churning = 0;
	for (i = 0; i < CHURNERS; i++)
		pthread_join(churners[i], NULL);
}

static int do_contended_commit(void)
{
	enum { ROUNDS = 5000, PAGES = 64 };
	char *p = mmap(NULL, PAGES * PAGE, PROT_NONE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	int i, rc = 0;

	if (p == MAP_FAILED)
		return setup_failed("contended-commit", "mmap");
	if (start_churn("contended-commit"))
		return 1;
	say("attempt contended-commit");
	for (i = 0; i < ROUNDS && !rc; i++) {
		char *page = p + (i % PAGES) * PAGE;
		if (mprotect(page, PAGE, PROT_READ | PROT_WRITE) < 0 || (page[0] = 1, mprotect(page, PAGE, PROT_NONE)) < 0)
			rc = setup_failed("contended-commit", "mprotect");
	}
	stop_churn();
	say("survived contended-commit");
	munmap(p, PAGES * PAGE);
	return rc;
}

/* contended-hole: mprotect of an unmapped page (fails with ENOMEM, changes nothing) under the
 * same contention: no event. */
static int do_contended_hole(void)
{
	enum { ROUNDS = 20000 };
	char *p = mmap(NULL, PAGE, PROT_NONE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	int i;

	if (p == MAP_FAILED || munmap(p, PAGE) != 0)
		return setup_failed("contended-hole", "mmap");
	if (start_churn("contended-hole"))
		return 1;
	say("attempt contended-hole");
	for (i = 0; i < ROUNDS; i++)
		mprotect(p, PAGE, PROT_READ | PROT_WRITE);
	stop_churn();
	say("survived contended-hole");
	return 0;
}

/* mremap-race (found in a break-it round): a lock-free read of the memory map, taken while
 * another thread holds the mmap lock, would show what the map is now, not what it is when the
 * call runs: a thread holds the lock (mprotect of 512 MiB), a second queues an mremap of an
 * anonymous page holding code onto a read-only file page, and then the main thread asks for
 * that file page to become executable. Must be killed; "EVADED" means the code ran. */
static char *race_big, *race_x, *race_s;
static volatile int race_step;
enum { RACE_BIG = 512 << 20 };

static void race_sleep_ms(long ms)
{
	struct timespec t = { 0, ms * 1000000L };
	nanosleep(&t, NULL);
}

static void *race_holder(void *arg)
{
	(void)arg;
	while (race_step < 1)
		;
	mprotect(race_big, RACE_BIG, PROT_READ);
	mprotect(race_big, RACE_BIG, PROT_READ | PROT_WRITE);
	return NULL;
}

static void *race_mover(void *arg)
{
	(void)arg;
	while (race_step < 2)
		;
	mremap(race_s, PAGE, PAGE, MREMAP_MAYMOVE | MREMAP_FIXED, race_x);
	return NULL;
}

static int do_mremap_race(void)
{
	pthread_t holder, mover;
	size_t i;
	int fd = open_self();

	race_big = mmap(NULL, RACE_BIG, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	race_s = mmap(NULL, PAGE, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	race_x = fd < 0 ? MAP_FAILED : mmap(NULL, PAGE, PROT_READ, MAP_PRIVATE, fd, 0);
	if (fd >= 0)
		close(fd);
	if (race_big == MAP_FAILED || race_s == MAP_FAILED || race_x == MAP_FAILED)
		return setup_failed("mremap-race", "mmap");
	madvise(race_big, RACE_BIG, MADV_NOHUGEPAGE);
	for (i = 0; i < RACE_BIG; i += PAGE)
		race_big[i] = 1; /* one page each: the mprotects then take a while */
	memcpy(race_s, ret42, sizeof ret42);
	if ((errno = pthread_create(&holder, NULL, race_holder, NULL)) != 0 ||
	    (errno = pthread_create(&mover, NULL, race_mover, NULL)) != 0)
		return setup_failed("mremap-race", "pthread_create");
	race_sleep_ms(5);
	race_step = 1;
	race_sleep_ms(2);
	race_step = 2;
	race_sleep_ms(2);
	say("attempt mremap-race");
	if (mprotect(race_x, PAGE, PROT_READ | PROT_EXEC) < 0)
		attack_failed("mremap-race", "mprotect");
	pthread_join(holder, NULL);
	pthread_join(mover, NULL);
	say("EVADED mremap-race: ran the anonymous page's code -> %d", ((int (*)(void))race_x)());
	munmap(race_big, RACE_BIG);
	return 0;
}

static int do_contended_code_patch(void)
{
	enum { ROUNDS = 1000 };
	int fd = open_self(), i, rc = 0;

	if (fd < 0)
		return setup_failed("contended-code-patch", "open /proc/self/exe");
	if (start_churn("contended-code-patch"))
		return 1;
	say("attempt contended-code-patch");
	for (i = 0; i < ROUNDS && !rc; i++) {
		void *m = mmap(NULL, PAGE, PROT_READ | PROT_EXEC, MAP_PRIVATE, fd, 0);
		if (m == MAP_FAILED) {
			rc = setup_failed("contended-code-patch", "mmap");
			break;
		}
		if (mprotect(m, PAGE, PROT_READ | PROT_WRITE) < 0)
			attack_failed("contended-code-patch", "mprotect");
		munmap(m, PAGE);
	}
	stop_churn();
	close(fd);
	say("survived contended-code-patch");
	return rc;
}

/* reserve: 8 GiB of address space reserved PROT_NONE, as Go's runtime does when it starts:
 * no heap spray. reserve-commit: 5 GiB of it then made read-write (a spray, by bytes);
 * -read-first: made read-only first, then read-write. */
static int reserve(const char *kind, size_t commit, int read_first)
{
	const size_t GIB = 1UL << 30;
	char *p = mmap(NULL, 8 * GIB, PROT_NONE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
	size_t done;
	int rc = 0;

	if (p == MAP_FAILED)
		return setup_failed(kind, "mmap");
	say("attempt %s", kind);
	for (done = 0; done < commit && !rc; done += GIB)
		if ((read_first && mprotect(p + done, GIB, PROT_READ) < 0) || mprotect(p + done, GIB, PROT_READ | PROT_WRITE) < 0)
			rc = setup_failed(kind, "mprotect");
	munmap(p, 8 * GIB);
	say("survived %s", kind);
	return rc;
}

static int do_reserve(void) { return reserve("reserve", 0, 0); }
static int do_reserve_commit(void) { return reserve("reserve-commit", 5UL << 30, 0); }
static int do_reserve_commit_read_first(void) { return reserve("reserve-commit-read-first", 5UL << 30, 1); }

/* wx-mprotect, cheaply: one page flipped RW -> RWX -> RW (one event per flip), for the
 * throughput benchmark's tight loop. */
static int do_wx_flip(void)
{
	static char *page;

	if (!page) {
		page = map_anon_rw();
		if (!page)
			return setup_failed("wx-flip", "mmap");
	}
	say("attempt wx-flip");
	if (mprotect(page, PAGE, PROT_READ | PROT_WRITE | PROT_EXEC) != 0)
		attack_failed("wx-flip", "mprotect");
	mprotect(page, PAGE, PROT_READ | PROT_WRITE);
	say("survived wx-flip");
	return 0;
}

/* A real fault (SIGSEGV is forced even on a namespace's init, unlike kill -SEGV). */
static int do_crash(void)
{
	volatile int *null = NULL;

	say("attempt crash");
	*null = 1;
	say("survived crash");
	return 0;
}

/* Working set growth: touch 4 MiB more every 20 ms up to 64 MiB, then hold it 1 s. */
static int do_grow(void)
{
	enum { STEP = 4 << 20, TOTAL = 64 << 20 };
	char *p = mmap(NULL, TOTAL, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	long off;

	if (p == MAP_FAILED)
		return setup_failed("grow", "mmap");
	say("attempt grow");
	for (off = 0; off < TOTAL; off += STEP) {
		memset(p + off, 1, STEP);
		usleep(20000);
	}
	sleep(1);
	munmap(p, TOTAL);
	say("survived grow");
	return 0;
}

/* wx-mmap: READ_IMPLIES_EXEC makes a plain RW request RWX after seccomp looked at prot */
static int do_read_implies_exec(void)
{
	char *p;

	say("attempt read-implies-exec");
	if (personality(READ_IMPLIES_EXEC) == -1)
		attack_failed("read-implies-exec", "personality");
	p = mmap(NULL, PAGE, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	if (p == MAP_FAILED)
		attack_failed("read-implies-exec", "mmap");
	else
		munmap(p, PAGE);
	personality(0);
	say("survived read-implies-exec");
	return 0;
}

/* exec-writable: one mprotect over a read-only file page followed by an anonymous RW page */
static int do_two_vma(void)
{
	int fd = open_self();
	char *base;

	if (fd < 0)
		return setup_failed("two-vma", "open /proc/self/exe");
	base = mmap(NULL, 2 * PAGE, PROT_READ, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	if (base == MAP_FAILED ||
	    mmap(base, PAGE, PROT_READ, MAP_PRIVATE | MAP_FIXED, fd, 0) == MAP_FAILED ||
	    mmap(base + PAGE, PAGE, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_FIXED | MAP_ANONYMOUS, -1, 0) == MAP_FAILED) {
		close(fd);
		return setup_failed("two-vma", "mmap");
	}
	close(fd);
	memcpy(base + PAGE, ret42, sizeof ret42);
	say("attempt two-vma");
	if (mprotect(base, 2 * PAGE, PROT_READ | PROT_EXEC) != 0)
		attack_failed("two-vma", "mprotect");
	say("survived two-vma");
	munmap(base, 2 * PAGE);
	return 0;
}

/* exec-writable: a memfd mapped writable and, separately, executable */
static int do_double_map(void)
{
	int fd = memfd_create("jit", MFD_CLOEXEC);
	char *w, *x;

	if (fd < 0 || ftruncate(fd, PAGE) != 0)
		return setup_failed("double-map", "memfd_create");
	w = mmap(NULL, PAGE, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
	if (w == MAP_FAILED) {
		close(fd);
		return setup_failed("double-map", "mmap rw");
	}
	memcpy(w, ret42, sizeof ret42);
	say("attempt double-map");
	x = mmap(NULL, PAGE, PROT_READ | PROT_EXEC, MAP_SHARED, fd, 0);
	if (x == MAP_FAILED)
		attack_failed("double-map", "mmap rx");
	say("survived double-map");
	if (x != MAP_FAILED)
		munmap(x, PAGE);
	munmap(w, PAGE);
	close(fd);
	return 0;
}

/* file-double-map / file-double-mprotect: double mapping through an ordinary (O_TMPFILE) file:
 * code written through a shared writable mapping (its fd closed: the mapping keeps the file
 * open for writing), then mapped executable through a second, read-only fd, either directly
 * or read-only first and then mprotect'ed executable. */
static int file_double_map(const char *kind, int via_mprotect)
{
	char path[64];
	int fd = open(scratch_dir(), O_TMPFILE | O_RDWR | O_CLOEXEC, 0600), ro;
	char *w, *x;

	if (fd < 0 || ftruncate(fd, PAGE) != 0)
		return setup_failed(kind, "open O_TMPFILE");
	w = mmap(NULL, PAGE, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
	snprintf(path, sizeof path, "/proc/self/fd/%d", fd);
	ro = open(path, O_RDONLY | O_CLOEXEC);
	close(fd);
	if (w == MAP_FAILED || ro < 0)
		return setup_failed(kind, "mmap rw / reopen read-only");
	memcpy(w, ret42, sizeof ret42);
	say("attempt %s", kind);
	if (via_mprotect) {
		x = mmap(NULL, PAGE, PROT_READ, MAP_SHARED, ro, 0);
		if (x != MAP_FAILED && mprotect(x, PAGE, PROT_READ | PROT_EXEC) < 0)
			attack_failed(kind, "mprotect rx");
	} else {
		x = mmap(NULL, PAGE, PROT_READ | PROT_EXEC, MAP_SHARED, ro, 0);
	}
	if (x == MAP_FAILED)
		attack_failed(kind, "mmap");
	say("survived %s", kind);
	if (x != MAP_FAILED)
		munmap(x, PAGE);
	munmap(w, PAGE);
	close(ro);
	return 0;
}

static int do_file_double_map(void) { return file_double_map("file-double-map", 0); }
static int do_file_double_mprotect(void) { return file_double_map("file-double-mprotect", 1); }

/* code-patch-open-file: code-patch of the text of a file opened for writing after it was
 * mapped (a copy of our executable, in the scratch directory). */
static int do_code_patch_open_file(void)
{
	char path[64];
	int fd = open(scratch_dir(), O_TMPFILE | O_RDWR | O_CLOEXEC, 0700), ro, rw;
	void *m;

	if (fd < 0 || copy_self(fd) < 0)
		return setup_failed("code-patch-open-file", "copy of our executable");
	snprintf(path, sizeof path, "/proc/self/fd/%d", fd);
	ro = open(path, O_RDONLY | O_CLOEXEC);
	close(fd);
	m = ro < 0 ? MAP_FAILED : mmap(NULL, PAGE, PROT_READ | PROT_EXEC, MAP_PRIVATE, ro, 0);
	snprintf(path, sizeof path, "/proc/self/fd/%d", ro);
	rw = open(path, O_RDWR | O_CLOEXEC);
	if (m == MAP_FAILED || rw < 0)
		return setup_failed("code-patch-open-file", "mmap / reopen for writing");
	say("attempt code-patch-open-file");
	if (mprotect(m, PAGE, PROT_READ | PROT_WRITE) < 0)
		attack_failed("code-patch-open-file", "mprotect");
	say("survived code-patch-open-file");
	munmap(m, PAGE);
	close(rw);
	close(ro);
	return 0;
}

/* exec-memfd: a memfd named like runc's own clone, run by a process that is not runc */
static int do_fake_runc_memfd(void)
{
	return memfd_exec("fake-runc-memfd", "runc_cloned:/proc/self/exe");
}

/* proc-mem: /proc/self/mem reached without spelling "/proc/<pid>/mem" */
static int proc_mem_other_path(const char *kind, int how)
{
	char path[64];
	int fd = -1, dir, ro;

	say("attempt %s", kind);
	if (how == 0) {
		snprintf(path, sizeof path, "%s/mg-mem-link-%d", scratch_dir(), getpid());
		unlink(path);
		if (symlink("/proc/self/mem", path) != 0)
			return setup_failed(kind, "symlink");
		fd = open(path, O_RDWR);
		unlink(path);
	} else if (how == 1) {
		dir = open("/proc/self", O_RDONLY | O_DIRECTORY);
		if (dir < 0)
			return setup_failed(kind, "open /proc/self");
		fd = openat(dir, "mem", O_RDWR);
		close(dir);
	} else {
		ro = open("/proc/self/mem", O_RDONLY);
		if (ro < 0)
			return setup_failed(kind, "open /proc/self/mem read-only");
		snprintf(path, sizeof path, "/proc/self/fd/%d", ro);
		fd = open(path, O_RDWR);
		close(ro);
	}
	if (fd < 0)
		attack_failed(kind, "open for writing");
	else
		close(fd);
	say("survived %s", kind);
	return 0;
}

static int do_proc_mem_symlink(void) { return proc_mem_other_path("proc-mem-symlink", 0); }
static int do_proc_mem_dirfd(void) { return proc_mem_other_path("proc-mem-dirfd", 1); }
static int do_proc_mem_reopen(void) { return proc_mem_other_path("proc-mem-reopen", 2); }

/* ---------------------------------------------------------------- driver */

struct kind {
	const char *name;
	int (*run)(void);
	int in_all;
};

static const struct kind kinds[] = {
	{ "wx-mmap",      do_wx_mmap,      1 },
	{ "wx-mprotect",  do_wx_mprotect,  1 },
	{ "exec-anon",    do_exec_anon,    1 },
	{ "code-patch",   do_code_patch,   1 },
	{ "exec-memfd",   do_exec_memfd,   1 },
	{ "exec-deleted", do_exec_deleted, 1 },
	{ "ptrace",       do_ptrace,       1 },
	{ "vm-writev",    do_vm_writev,    1 },
	{ "proc-mem",     do_proc_mem,     1 },
	{ "two-vma",          do_two_vma,          0 },
	{ "read-implies-exec", do_read_implies_exec, 0 },
	{ "spray",            do_spray,            0 },
	{ "grow",             do_grow,             0 },
	{ "crash",            do_crash,            0 },
	{ "wx-flip",          do_wx_flip,          0 },
	{ "double-map",       do_double_map,       0 },
	{ "file-double-map",  do_file_double_map,  0 },
	{ "file-double-mprotect", do_file_double_mprotect, 0 },
	{ "code-patch-open-file", do_code_patch_open_file, 0 },
	{ "fake-runc-memfd",  do_fake_runc_memfd,  0 },
	{ "proc-mem-symlink", do_proc_mem_symlink, 0 },
	{ "proc-mem-dirfd",   do_proc_mem_dirfd,   0 },
	{ "proc-mem-reopen",  do_proc_mem_reopen,  0 },
	{ "contended-commit", do_contended_commit, 0 },
	{ "reserve",          do_reserve,          0 },
	{ "reserve-commit",   do_reserve_commit,   0 },
	{ "reserve-commit-read-first", do_reserve_commit_read_first, 0 },
	{ "contended-hole",   do_contended_hole,   0 },
	{ "mremap-race",      do_mremap_race,      0 },
	{ "contended-code-patch", do_contended_code_patch, 0 },
#if defined(__x86_64__)
	{ "ia32-wx-mprotect", do_ia32_wx_mprotect, 0 },
	{ "ia32-exec-anon",   do_ia32_exec_anon,   0 },
#endif
	{ "benign",       do_benign,       0 },
	{ "benign-quiet", do_benign_quiet, 0 }, /* hidden: run by exec-* children */
};

#define NKINDS (sizeof kinds / sizeof kinds[0])

static const struct kind *find_kind(const char *name)
{
	size_t i;

	for (i = 0; i < NKINDS; i++)
		if (strcmp(kinds[i].name, name) == 0)
			return &kinds[i];
	return NULL;
}

static void usage(void)
{
	size_t i;

	fprintf(stderr, "usage: mg-attack <kind> [<kind> ...]\n"
			"kinds: all");
	for (i = 0; i + 1 < NKINDS; i++)
		fprintf(stderr, " %s", kinds[i].name);
	fprintf(stderr, "\n       sleep <seconds>\n"
			"       loop <kind> <count>\n");
}

static int run_all(void)
{
	int rc = 0;
	size_t i;

	for (i = 0; i < NKINDS; i++)
		if (kinds[i].in_all)
			rc |= kinds[i].run();
	return rc;
}

static void do_sleep(double secs)
{
	struct timespec ts;

	ts.tv_sec = (time_t)secs;
	ts.tv_nsec = (long)((secs - (double)ts.tv_sec) * 1e9);
	while (nanosleep(&ts, &ts) < 0 && errno == EINTR)
		;
}

static int do_loop(const struct kind *k, unsigned long count)
{
	struct timespec t0, t1;
	unsigned long i;
	long long usec;
	int rc = 0, was_quiet = quiet;

	clock_gettime(CLOCK_MONOTONIC, &t0);
	quiet = 1;
	for (i = 0; i < count && !rc; i++)
		rc = k->run();
	quiet = was_quiet;
	clock_gettime(CLOCK_MONOTONIC, &t1);
	usec = (long long)(t1.tv_sec - t0.tv_sec) * 1000000 +
	       (t1.tv_nsec - t0.tv_nsec) / 1000;
	say("loop-done %s %lu %lld", k->name, rc ? i - 1 : i, usec);
	return rc;
}

static int parse_number(const char *s, double *out)
{
	char *end;

	errno = 0;
	*out = strtod(s, &end);
	return errno || end == s || *end || *out < 0 || *out > 1e9 ? -1 : 0;
}

/* Walk the arguments; run them if execute, else just validate (-1 = usage). */
static int walk(int argc, char **argv, int execute)
{
	const struct kind *k;
	double n;
	int i, rc = 0;

	for (i = 1; i < argc; i++) {
		if (strcmp(argv[i], "all") == 0) {
			if (execute)
				rc |= run_all();
		} else if (strcmp(argv[i], "sleep") == 0) {
			if (i + 1 >= argc || parse_number(argv[i + 1], &n) < 0) {
				fprintf(stderr, "mg-attack: sleep needs <seconds>\n");
				return -1;
			}
			i++;
			if (execute)
				do_sleep(n);
		} else if (strcmp(argv[i], "loop") == 0) {
			if (i + 2 >= argc || !(k = find_kind(argv[i + 1])) ||
			    parse_number(argv[i + 2], &n) < 0 || n < 1 || n != (unsigned long)n) {
				fprintf(stderr, "mg-attack: loop needs <kind> <count>\n");
				return -1;
			}
			i += 2;
			if (execute)
				rc |= do_loop(k, (unsigned long)n);
		} else if ((k = find_kind(argv[i]))) {
			if (execute)
				rc |= k->run();
		} else {
			fprintf(stderr, "mg-attack: unknown kind '%s'\n", argv[i]);
			return -1;
		}
	}
	return rc;
}

int main(int argc, char **argv)
{
	if (argc > 0 && argv[0])
		self_path = argv[0];
	signal(SIGPIPE, SIG_IGN);
	if (argc < 2 || walk(argc, argv, 0) < 0) {
		usage();
		return 2;
	}
	return walk(argc, argv, 1) ? 1 : 0;
}
