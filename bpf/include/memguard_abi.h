/* memguard event ABI: the one definition of what the kernel programs in bpf/ share with
 * user space (Swift imports this header through the CMemguardABI target). Plain fixed-size
 * types only; every layout change must keep the _Static_asserts below and the ABI test true. */
#ifndef MEMGUARD_ABI_H
#define MEMGUARD_ABI_H

#ifdef __BPF__
/* vmlinux.h already defines the __u* types. */
#else
#include <linux/types.h>
#endif

/* Event kinds. Keep in step with EventKind.swift (names) and MG_KIND_COUNT. */
enum mg_kind {
	MG_KIND_NONE = 0,
	MG_KIND_WX_MMAP = 1,       /* mmap asking for PROT_WRITE|PROT_EXEC */
	MG_KIND_WX_MPROTECT = 2,   /* mprotect/pkey_mprotect asking for PROT_WRITE|PROT_EXEC */
	MG_KIND_EXEC_WRITABLE = 3, /* PROT_EXEC added to anonymous or writable memory (RW->RX) */
	MG_KIND_CODE_PATCH = 4,    /* PROT_WRITE added to executable file-backed text */
	MG_KIND_EXEC_MEMFD = 5,    /* exec of a memfd: file */
	MG_KIND_EXEC_DELETED = 6,  /* exec of a file with no name left (unlinked, O_TMPFILE) */
	MG_KIND_PTRACE = 7,        /* ptrace attach/seize/poke/setregs */
	MG_KIND_VM_WRITEV = 8,     /* process_vm_writev into another process */
	MG_KIND_PROC_MEM = 9,      /* /proc/<pid>/mem opened for writing (checked on the opened file) */
	MG_KIND_HEAP_SPRAY = 10,   /* anonymous mappings faster than the container's threshold */
	MG_KIND_COUNT = 11,
};

/* What the kernel did about an event. */
enum mg_action {
	MG_ACTION_NONE = 0,        /* audit: logged only */
	MG_ACTION_KILLED = 1,      /* SIGKILL sent at syscall entry / exec */
	MG_ACTION_KILL_FAILED = 2, /* enforce mode, but bpf_send_signal failed */
	MG_ACTION_DENIED = 3,      /* refused by the container's seccomp wx-deny filter */
	MG_ACTION_STOPPED = 4,     /* enforce+freeze: SIGSTOP sent; the monitor freezes the container */
	MG_ACTION_ALERT = 5,       /* a heuristic (heap spray): reported, never enforced */
};

/* mg_scope.flags */
enum mg_scope_flags {
	MG_SCOPE_RECORD = 1,       /* record every syscall number into mg_scope.syscalls */
	MG_SCOPE_WX_DENY = 2,      /* seccomp refuses W|X with EACCES: report those refusals */
};

#define MG_RECORD_SYSCALLS 512

enum mg_mode {
	MG_MODE_AUDIT = 0,
	MG_MODE_ENFORCE = 1,
	MG_MODE_LEARN = 2,         /* like audit in the kernel; the monitor learns a baseline */
};

/* What enforce mode does to an offender (mg_scope.enforce_action). */
enum mg_enforce_action {
	MG_ENFORCE_KILL = 0,
	MG_ENFORCE_FREEZE = 1,     /* SIGSTOP now, then the monitor freezes the whole container */
};

/* What the lookup of the memory an mprotect touches found. */
enum mg_vma {
	MG_VMA_NOT_LOOKED = 0,
	MG_VMA_ANON = 1,
	MG_VMA_FILE = 2,
	MG_VMA_UNKNOWN = 3,        /* lookup failed: mmap lock busy (and, for a write-only call,
	                              the lock-free read raced the writer too) */
	MG_VMA_MEMFD = 4,          /* backed by a memfd: writable through another mapping or the fd */
	MG_VMA_WRITABLE_FILE = 5,  /* a file someone holds open for writing (fd or shared mapping) */
};

/* Set in mg_event.syscall_nr when the call came through the 32-bit (ia32) ABI; the rest is
 * the native number it was normalised to. */
#define MG_SYSCALL_COMPAT 0x40000000u

#define MG_COMM_LEN 16
/* The executable's directories, innermost first, read from its dentries: the path inside the
 * container even after the process is gone. */
#define MG_EXE_PARENTS 8
#define MG_EXE_PARENT_LEN 32
#define MG_EXE_ROOT_REACHED 0x80000000u
#define MG_NAME_LEN 64
#define MG_MAX_PIDNS_LEVEL 32

/* Key of mg_runtimes: the executable identity of a container runtime (the hook's parent),
 * whose own memfd:runc_cloned re-exec is allowed. */
struct mg_exe_id {
	__u64 ino;
	__u32 dev;                 /* kernel encoding: major << 20 | minor */
	__u32 pad;
};

/* Key of mg_allow: an executable of one container that may break W^X (JIT runtimes), by
 * identity, not by a name a process can choose. The value is a mask of 1 << enum mg_kind. */
struct mg_allow_key {
	__u64 cgroup_id;
	__u64 ino;
	__u32 dev;                 /* kernel encoding */
	__u32 pad;
};

/* Value of the mg_scopes map, keyed by the container's cgroup v2 id. User space writes the
 * first four fields at registration; the kernel only adds to the counters. */
struct mg_scope {
	__u32 pidns_inum;          /* the container's PID namespace (second check after the cgroup) */
	__u32 pidns_level;         /* its depth, so the task's pid at that level can be read */
	__u32 mode;                /* enum mg_mode */
	__u32 ring_slot;           /* key of the container's ring buffer in mg_rings */
	__u64 mmap_calls;          /* every mmap in scope, violating or not */
	__u64 mprotect_calls;      /* every mprotect/pkey_mprotect in scope */
	__u64 events[MG_KIND_COUNT]; /* violations seen, per kind, delivered or not */
	__u64 lost;                /* violations that found no room in the ring buffer */
	__u64 no_ring;             /* violations with no ring buffer registered */
	__u64 foreign_pidns;       /* calls in the cgroup from another PID namespace (not counted) */
	__u64 allowed_runtime_exec;/* runc's memfd:runc_cloned re-exec, allowed by name */
	__u32 flags;               /* enum mg_scope_flags, set at registration */
	__u32 enforce_action;      /* enum mg_enforce_action */
	__u64 syscalls[MG_RECORD_SYSCALLS / 64]; /* record mode: native syscall numbers seen */
	/* heap-spray heuristic: thresholds per window, set at registration (window 0: off) */
	__u64 spray_window_ns;
	__u64 spray_max_maps;
	__u64 spray_max_bytes;
	/* kernel state of the current window */
	__u64 window_start_ns;
	__u64 window_maps;
	__u64 window_bytes;
	__u64 window_alerted;
	__u64 allowed_wx;          /* W^X calls by allowlisted executables (counted, not reported) */
	__u64 anon_maps;           /* all anonymous mappings: calls ... */
	__u64 anon_bytes;          /* ... and bytes */
	__u64 unjudged_writes;     /* write-only mprotects of memory that could not be looked up
	                              (mmap lock busy, and the lock-free read raced): counted only */
};

/* One violation, as written to the container's ring buffer. */
struct mg_event {
	__u64 time_ns;             /* bpf_ktime_get_boot_ns() */
	__u64 cgroup_id;
	__u64 addr;                /* mmap/mprotect address, ptrace addr */
	__u64 len;                 /* mmap/mprotect length, bytes for process_vm_writev */
	__u64 exe_ino;             /* the calling task's executable: inode ... */
	__u32 exe_dev;             /* ... and device (kernel dev_t encoding) */
	__u32 kind;                /* enum mg_kind */
	__u32 action;              /* enum mg_action */
	__u32 pid;                 /* host tgid */
	__u32 tid;                 /* host tid */
	__u32 ns_pid;              /* tgid in the container's PID namespace */
	__u32 ns_tid;              /* tid in the container's PID namespace */
	__u32 target_pid;          /* ptrace/process_vm_writev/proc-mem target, as the caller named it */
	__u32 prot;                /* requested protection (PROT_* bits) */
	__u32 old_prot;            /* protection of the VMA before the call (PROT_* bits) */
	__u32 vma;                 /* enum mg_vma */
	__u32 flags;               /* mmap flags, ptrace request, open flags */
	__u32 syscall_nr;
	__u32 uid;
	__u32 personality;         /* the task's personality (READ_IMPLIES_EXEC adds PROT_EXEC) */
	__u32 asked_prot;          /* prot as the caller wrote it, before the personality */
	char comm[MG_COMM_LEN];
	char exe_name[MG_NAME_LEN];/* the executable's file name (dentry) */
	char path[MG_NAME_LEN];    /* exec: the file run; proc-mem: the path opened */
	__u32 exe_parents_n;       /* slots used in exe_parents, | MG_EXE_ROOT_REACHED if complete */
	__u32 pad;
	char exe_parents[MG_EXE_PARENTS][MG_EXE_PARENT_LEN];
};

_Static_assert(sizeof(struct mg_event) == 40 + 16 * 4 + 16 + 2 * 64 + 8 + MG_EXE_PARENTS * MG_EXE_PARENT_LEN, "mg_event layout");
_Static_assert(sizeof(struct mg_scope) == 16 + 16 + 8 * MG_KIND_COUNT + 32 + 8 + MG_RECORD_SYSCALLS / 8 + 11 * 8, "mg_scope layout");
_Static_assert(sizeof(struct mg_allow_key) == 24, "mg_allow_key layout");

#endif
