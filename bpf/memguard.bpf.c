// SPDX-License-Identifier: GPL-2.0
/* memguard kernel side: one shared program set for every monitored container.
 *
 * Two programs, both BTF tracepoints (tp_btf detaches in under a millisecond, where a
 * syscalls:* perf tracepoint link takes ~70 ms each):
 *   mg_sys_enter  - every syscall entry; the syscall number is checked first so that
 *                   unrelated syscalls cost a compare, then the cgroup scope lookup.
 *   mg_exec       - sched_process_exec, for fileless execution.
 * Scope: mg_scopes (cgroup v2 id -> struct mg_scope) with the PID namespace as a second
 * check. Events: one ring buffer per container in mg_rings (slot -> ringbuf), the slot named in
 * the container's scope. Slots, not cgroup ids, key the rings so that user space can insert
 * spare rings ahead of time: a map-in-map update waits for an RCU grace period (~12 ms here),
 * which must not sit on the container start path. */
#include "vmlinux.h"
#include <bpf/bpf_helpers.h>
#include <bpf/bpf_tracing.h>
#include <bpf/bpf_core_read.h>
#include "memguard_abi.h"
#include "syscalls.h"

char LICENSE[] SEC("license") = "GPL";

#define PROT_WRITE 0x2
#define PROT_EXEC 0x4
#define PROT_RWX 0x7
#define VM_WRITE 0x2
#define VM_EXEC 0x4
#define O_ACCMODE 3
#define SIGKILL 9
#define MG_MAX_CGROUP_DEPTH 12

#define PTRACE_POKETEXT 4
#define PTRACE_POKEDATA 5
#define PTRACE_POKEUSR 6
#define PTRACE_SETREGS 13
#define PTRACE_SETFPREGS 15
#define PTRACE_ATTACH 16
#define PTRACE_SETREGSET 0x4205
#define PTRACE_SEIZE 0x4206

struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, 4096);
	__type(key, __u64);
	__type(value, struct mg_scope);
} mg_scopes SEC(".maps");

/* Template only: user space creates one ring buffer per container and inserts it. */
struct mg_ring_template {
	__uint(type, BPF_MAP_TYPE_RINGBUF);
	__uint(max_entries, 1 << 20);
};

struct {
	__uint(type, BPF_MAP_TYPE_HASH_OF_MAPS);
	__uint(max_entries, 4096);
	__type(key, __u32);
	__array(values, struct mg_ring_template);
} mg_rings SEC(".maps");

/* Keeps struct mg_event in the object's BTF, where the ABI test reads its layout. */
struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, struct mg_event);
} mg_abi SEC(".maps");

struct scope_ref {
	struct mg_scope *scope;
	__u64 cgroup_id;
};

/* The scope of the current task: its cgroup or the nearest monitored ancestor (nested
 * cgroups inside a container), and then only if the task is in the container's PID
 * namespace. */
static __always_inline int current_scope(struct scope_ref *ref)
{
	__u64 cgid = bpf_get_current_cgroup_id();
	struct mg_scope *s = bpf_map_lookup_elem(&mg_scopes, &cgid);

	for (int level = 1; !s && level <= MG_MAX_CGROUP_DEPTH; level++) {
		__u64 ancestor = bpf_get_current_ancestor_cgroup_id(level);
		if (ancestor == 0 || ancestor == cgid)
			break;
		s = bpf_map_lookup_elem(&mg_scopes, &ancestor);
		if (s)
			cgid = ancestor;
	}
	if (!s)
		return 0;

	struct task_struct *task = bpf_get_current_task_btf();
	struct pid *pid = BPF_CORE_READ(task, thread_pid);
	__u32 want = s->pidns_level;
	if (want >= MG_MAX_PIDNS_LEVEL || BPF_CORE_READ(pid, level) < want) {
		__sync_fetch_and_add(&s->foreign_pidns, 1);
		return 0;
	}
	struct upid up = {};
	bpf_probe_read_kernel(&up, sizeof(up), &pid->numbers[want]);
	if (BPF_CORE_READ(up.ns, ns.inum) != s->pidns_inum) {
		__sync_fetch_and_add(&s->foreign_pidns, 1);
		return 0;
	}
	ref->scope = s;
	ref->cgroup_id = cgid;
	return 1;
}

static __always_inline __u32 pid_at_level(struct pid *pid, __u32 level)
{
	struct upid up = {};
	if (level >= MG_MAX_PIDNS_LEVEL)
		return 0;
	bpf_probe_read_kernel(&up, sizeof(up), &pid->numbers[level]);
	return up.nr;
}

/* Counts the violation, applies the container's mode, and reserves its event. The caller
 * fills kind-specific fields and submits. Returns NULL when the event cannot be delivered
 * (counted as lost or no_ring). */
static __always_inline struct mg_event *begin_event(struct scope_ref *ref, __u32 kind, long nr)
{
	struct mg_scope *s = ref->scope;
	__u32 action = MG_ACTION_NONE;

	if (kind < MG_KIND_COUNT)
		__sync_fetch_and_add(&s->events[kind], 1);
	if (s->mode == MG_MODE_ENFORCE)
		action = bpf_send_signal(SIGKILL) == 0 ? MG_ACTION_KILLED : MG_ACTION_KILL_FAILED;

	void *ring = bpf_map_lookup_elem(&mg_rings, &s->ring_slot);
	if (!ring) {
		__sync_fetch_and_add(&s->no_ring, 1);
		return NULL;
	}
	struct mg_event *e = bpf_ringbuf_reserve(ring, sizeof(*e), 0);
	if (!e) {
		__sync_fetch_and_add(&s->lost, 1);
		return NULL;
	}
	__builtin_memset(e, 0, sizeof(*e));

	struct task_struct *task = bpf_get_current_task_btf();
	__u64 pid_tgid = bpf_get_current_pid_tgid();
	e->time_ns = bpf_ktime_get_boot_ns();
	e->cgroup_id = ref->cgroup_id;
	e->kind = kind;
	e->action = action;
	e->syscall_nr = nr;
	e->pid = pid_tgid >> 32;
	e->tid = (__u32)pid_tgid;
	e->uid = (__u32)bpf_get_current_uid_gid();
	e->ns_tid = pid_at_level(BPF_CORE_READ(task, thread_pid), s->pidns_level);
	e->ns_pid = pid_at_level(BPF_CORE_READ(task, group_leader, thread_pid), s->pidns_level);
	bpf_get_current_comm(e->comm, sizeof(e->comm));

	struct file *exe = BPF_CORE_READ(task, mm, exe_file);
	if (exe) {
		e->exe_ino = BPF_CORE_READ(exe, f_inode, i_ino);
		e->exe_dev = BPF_CORE_READ(exe, f_inode, i_sb, s_dev);
		const unsigned char *name = BPF_CORE_READ(exe, f_path.dentry, d_name.name);
		bpf_probe_read_kernel_str(e->exe_name, sizeof(e->exe_name), name);
	}
	return e;
}

struct vma_info {
	__u64 flags;
	__u32 kind;
};

static long vma_cb(struct task_struct *task, struct vm_area_struct *vma, void *data)
{
	struct vma_info *info = data;
	info->flags = BPF_CORE_READ(vma, vm_flags);
	info->kind = BPF_CORE_READ(vma, vm_file) ? MG_VMA_FILE : MG_VMA_ANON;
	return 0;
}

static __always_inline void on_mmap(struct scope_ref *ref, struct pt_regs *regs, long nr)
{
	__sync_fetch_and_add(&ref->scope->mmap_calls, 1);
	__u32 prot = PT_REGS_PARM3_CORE_SYSCALL(regs);
	if ((prot & (PROT_WRITE | PROT_EXEC)) != (PROT_WRITE | PROT_EXEC))
		return;
	struct mg_event *e = begin_event(ref, MG_KIND_WX_MMAP, nr);
	if (!e)
		return;
	e->addr = PT_REGS_PARM1_CORE_SYSCALL(regs);
	e->len = PT_REGS_PARM2_CORE_SYSCALL(regs);
	e->prot = prot;
	e->flags = PT_REGS_PARM4_CORE_SYSCALL(regs);
	bpf_ringbuf_submit(e, 0);
}

/* mprotect and pkey_mprotect share their first three arguments. */
static __always_inline void on_mprotect(struct scope_ref *ref, struct pt_regs *regs, long nr)
{
	__sync_fetch_and_add(&ref->scope->mprotect_calls, 1);
	__u64 addr = PT_REGS_PARM1_CORE_SYSCALL(regs);
	__u32 prot = PT_REGS_PARM3_CORE_SYSCALL(regs);
	if (!(prot & (PROT_WRITE | PROT_EXEC)))
		return;

	struct vma_info vma = {};
	__u32 kind = MG_KIND_NONE;
	if ((prot & (PROT_WRITE | PROT_EXEC)) == (PROT_WRITE | PROT_EXEC)) {
		kind = MG_KIND_WX_MPROTECT;
		vma.kind = MG_VMA_NOT_LOOKED;
	} else {
		long rc = bpf_find_vma(bpf_get_current_task_btf(), addr, vma_cb, &vma, 0);
		if (rc == -2) /* -ENOENT: no mapping there, the call will fail with ENOMEM */
			return;
		if (rc != 0)
			vma.kind = MG_VMA_UNKNOWN;
		if (prot & PROT_EXEC) {
			/* exec added to anonymous or writable memory: staged shellcode */
			int anon_or_writable = vma.kind != MG_VMA_FILE || (vma.flags & VM_WRITE);
			if (anon_or_writable && !(vma.kind == MG_VMA_ANON && (vma.flags & VM_EXEC) && !(vma.flags & VM_WRITE)))
				kind = MG_KIND_EXEC_WRITABLE;
		} else if (vma.kind == MG_VMA_FILE && (vma.flags & VM_EXEC)) {
			kind = MG_KIND_CODE_PATCH; /* write added to file-backed text */
		} else if (vma.kind == MG_VMA_UNKNOWN) {
			kind = MG_KIND_CODE_PATCH;
		}
	}
	if (kind == MG_KIND_NONE)
		return;

	struct mg_event *e = begin_event(ref, kind, nr);
	if (!e)
		return;
	e->addr = addr;
	e->len = PT_REGS_PARM2_CORE_SYSCALL(regs);
	e->prot = prot;
	e->old_prot = vma.flags & PROT_RWX;
	e->vma = vma.kind;
	bpf_ringbuf_submit(e, 0);
}

static __always_inline void on_ptrace(struct scope_ref *ref, struct pt_regs *regs, long nr)
{
	long request = PT_REGS_PARM1_CORE_SYSCALL(regs);
	switch (request) {
	case PTRACE_ATTACH: case PTRACE_SEIZE: case PTRACE_POKETEXT: case PTRACE_POKEDATA:
	case PTRACE_POKEUSR: case PTRACE_SETREGS: case PTRACE_SETFPREGS: case PTRACE_SETREGSET:
		break;
	default:
		return;
	}
	struct mg_event *e = begin_event(ref, MG_KIND_PTRACE, nr);
	if (!e)
		return;
	e->flags = request;
	e->target_pid = PT_REGS_PARM2_CORE_SYSCALL(regs);
	e->addr = PT_REGS_PARM3_CORE_SYSCALL(regs);
	bpf_ringbuf_submit(e, 0);
}

static __always_inline void on_vm_writev(struct scope_ref *ref, struct pt_regs *regs, long nr)
{
	__u32 target = PT_REGS_PARM1_CORE_SYSCALL(regs);
	struct task_struct *task = bpf_get_current_task_btf();
	__u32 self = pid_at_level(BPF_CORE_READ(task, group_leader, thread_pid), ref->scope->pidns_level);
	if (target == self)
		return;
	struct mg_event *e = begin_event(ref, MG_KIND_VM_WRITEV, nr);
	if (!e)
		return;
	e->target_pid = target;
	e->len = PT_REGS_PARM3_CORE_SYSCALL(regs); /* number of local iovecs */
	bpf_ringbuf_submit(e, 0);
}

/* "/proc/<digits|self|thread-self>/[task/<digits>/]mem": returns the pid named (0 for self),
 * or -1 when the path is something else. Paths relative to a /proc directory fd are not seen
 * (documented limitation). */
static __always_inline long proc_mem_target(const char *p, int len)
{
	if (len < 10 || p[0] != '/' || p[1] != 'p' || p[2] != 'r' || p[3] != 'o' || p[4] != 'c' || p[5] != '/')
		return -1;
	long pid = 0;
	int i = 6, digits = 0;
	for (; i < MG_NAME_LEN && p[i] >= '0' && p[i] <= '9'; i++, digits++)
		pid = pid * 10 + (p[i] - '0');
	if (!digits) {
		if (i + 4 < MG_NAME_LEN && p[i] == 's' && p[i + 1] == 'e' && p[i + 2] == 'l' && p[i + 3] == 'f')
			i += 4;
		else if (i + 11 < MG_NAME_LEN && p[i] == 't' && p[i + 1] == 'h' && p[i + 2] == 'r' && p[i + 6] == '-')
			i += 11;
		else
			return -1;
	}
	if (i + 5 < MG_NAME_LEN && p[i] == '/' && p[i + 1] == 't' && p[i + 2] == 'a' && p[i + 3] == 's' && p[i + 4] == 'k' && p[i + 5] == '/') {
		i += 6;
		for (; i < MG_NAME_LEN && p[i] >= '0' && p[i] <= '9'; i++)
			;
	}
	if (i + 4 < MG_NAME_LEN && p[i] == '/' && p[i + 1] == 'm' && p[i + 2] == 'e' && p[i + 3] == 'm' && p[i + 4] == 0)
		return pid;
	return -1;
}

static __always_inline void on_open(struct scope_ref *ref, const char *upath, __u32 flags, long nr)
{
	if ((flags & O_ACCMODE) == 0) /* O_RDONLY */
		return;
	char path[MG_NAME_LEN] = {};
	long len = bpf_probe_read_user_str(path, sizeof(path), upath);
	if (len <= 0)
		return;
	long target = proc_mem_target(path, len);
	if (target < 0)
		return;
	struct mg_event *e = begin_event(ref, MG_KIND_PROC_MEM, nr);
	if (!e)
		return;
	e->target_pid = target;
	e->flags = flags;
	__builtin_memcpy(e->path, path, sizeof(path));
	bpf_ringbuf_submit(e, 0);
}

SEC("tp_btf/sys_enter")
int BPF_PROG(mg_sys_enter, struct pt_regs *regs, long id)
{
	switch (id) {
	case MG_NR_mmap: case MG_NR_mprotect: case MG_NR_pkey_mprotect: case MG_NR_ptrace:
	case MG_NR_process_vm_writev: case MG_NR_openat: case MG_NR_openat2:
#ifdef MG_NR_open
	case MG_NR_open:
#endif
		break;
	default:
		return 0;
	}
	struct scope_ref ref = {};
	if (!current_scope(&ref))
		return 0;

	switch (id) {
	case MG_NR_mmap:
		on_mmap(&ref, regs, id);
		break;
	case MG_NR_mprotect:
	case MG_NR_pkey_mprotect:
		on_mprotect(&ref, regs, id);
		break;
	case MG_NR_ptrace:
		on_ptrace(&ref, regs, id);
		break;
	case MG_NR_process_vm_writev:
		on_vm_writev(&ref, regs, id);
		break;
	case MG_NR_openat:
		on_open(&ref, (const char *)PT_REGS_PARM2_CORE_SYSCALL(regs), PT_REGS_PARM3_CORE_SYSCALL(regs), id);
		break;
	case MG_NR_openat2: {
		struct open_how how = {};
		bpf_probe_read_user(&how, sizeof(how), (void *)PT_REGS_PARM3_CORE_SYSCALL(regs));
		on_open(&ref, (const char *)PT_REGS_PARM2_CORE_SYSCALL(regs), how.flags, id);
		break;
	}
#ifdef MG_NR_open
	case MG_NR_open:
		on_open(&ref, (const char *)PT_REGS_PARM1_CORE_SYSCALL(regs), PT_REGS_PARM2_CORE_SYSCALL(regs), id);
		break;
#endif
	}
	return 0;
}

static __always_inline int has_prefix(const char *s, const char *prefix, int n)
{
	for (int i = 0; i < n; i++)
		if (s[i] != prefix[i])
			return 0;
	return 1;
}

SEC("tp_btf/sched_process_exec")
int BPF_PROG(mg_exec, struct task_struct *p, pid_t old_pid, struct linux_binprm *bprm)
{
	struct scope_ref ref = {};
	if (!current_scope(&ref))
		return 0;

	struct file *file = BPF_CORE_READ(bprm, file);
	char name[MG_NAME_LEN] = {};
	bpf_probe_read_kernel_str(name, sizeof(name), BPF_CORE_READ(file, f_path.dentry, d_name.name));
	__u32 nlink = BPF_CORE_READ(file, f_inode, i_nlink);

	__u32 kind;
	if (has_prefix(name, "memfd:", 6)) {
		/* runc re-executes itself from a sealed memfd copy (CVE-2019-5736 defence). */
		if (has_prefix(name, "memfd:runc_cloned:", 18)) {
			__sync_fetch_and_add(&ref.scope->allowed_runtime_exec, 1);
			return 0;
		}
		kind = MG_KIND_EXEC_MEMFD;
	} else if (nlink == 0) {
		kind = MG_KIND_EXEC_DELETED;
	} else {
		return 0;
	}

	struct mg_event *e = begin_event(&ref, kind, -1);
	if (!e)
		return 0;
	__builtin_memcpy(e->path, name, sizeof(name));
	e->flags = nlink;
	bpf_ringbuf_submit(e, 0);
	return 0;
}
