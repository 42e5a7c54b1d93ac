// SPDX-License-Identifier: GPL-2.0
/* memguard kernel side: one shared program set for every monitored container.
 *
 * Three programs, all BTF tracepoints (tp_btf detaches in under a millisecond, where a
 * syscalls:* perf tracepoint link takes ~70 ms each):
 *   mg_sys_enter  - every syscall entry; the syscall number is checked first so that
 *                   unrelated syscalls cost a compare, then the cgroup scope lookup.
 *   mg_sys_exit   - open* returning: /proc/<pid>/mem opened for writing, judged on the file.
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
#define ENOENT 2
#define EBUSY 16
#define SIGKILL 9
#define SIGSTOP 19
#define MG_MAX_CGROUP_DEPTH 32

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
	__uint(max_entries, 2 << 20);
};

struct {
	__uint(type, BPF_MAP_TYPE_HASH_OF_MAPS);
	__uint(max_entries, 4096);
	__type(key, __u32);
	__array(values, struct mg_ring_template);
} mg_rings SEC(".maps");

/* [0]: how many registered containers record their syscalls. While none does, syscalls the
 * probes do not judge cost a compare and this one array lookup. */
struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, __u32);
} mg_config SEC(".maps");

/* Executables allowed to break W^X, per container (see exe_allowed). */
struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, 4096);
	__type(key, struct mg_allow_key);
	__type(value, __u32);
} mg_allow SEC(".maps");

/* Container runtimes whose memfd:runc_cloned re-exec is allowed (see on_execve). */
struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, 16);
	__type(key, struct mg_exe_id);
	__type(value, __u8);
} mg_runtimes SEC(".maps");

/* Threads of a registered runtime between execve entry and sched_process_exec. */
struct {
	__uint(type, BPF_MAP_TYPE_LRU_HASH);
	__uint(max_entries, 1024);
	__type(key, __u32);
	__type(value, __u8);
} mg_runtime_exec SEC(".maps");

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

/* Whether the task (its struct pid) lives in the scope's PID namespace. */
static __always_inline int in_scope_pidns(struct mg_scope *s, struct pid *pid)
{
	__u32 want = s->pidns_level;
	if (want >= MG_MAX_PIDNS_LEVEL || BPF_CORE_READ(pid, level) < want)
		return 0;
	struct upid up = {};
	bpf_probe_read_kernel(&up, sizeof(up), &pid->numbers[want]);
	return BPF_CORE_READ(up.ns, ns.inum) == s->pidns_inum;
}

struct ancestor_walk {
	__u64 cgid;       /* the task's own cgroup: the walk stops there */
	__u64 pid;        /* struct pid * of the task, read with CO-RE */
	__u64 best_id;    /* deepest registered ancestor whose PID namespace the task is in */
	__u64 nearest_id; /* deepest registered cgroup at all (its own, else an ancestor) */
	__u32 own;        /* the task's own cgroup is registered */
};

static long walk_ancestor(__u64 index, void *ctx)
{
	struct ancestor_walk *w = ctx;
	__u64 ancestor = bpf_get_current_ancestor_cgroup_id((int)index + 1);
	if (ancestor == 0 || ancestor == w->cgid)
		return 1;
	struct mg_scope *found = bpf_map_lookup_elem(&mg_scopes, &ancestor);
	if (!found)
		return 0;
	if (!w->own)
		w->nearest_id = ancestor;
	if (in_scope_pidns(found, (struct pid *)w->pid))
		w->best_id = ancestor;
	return 0;
}

/* The scope of the current task: of its own cgroup and the monitored ancestors (nested
 * cgroups inside a container), the deepest one whose PID namespace the task is in. So a
 * monitored container inside another one's cgroup keeps its own processes, and a process of
 * the outer container moved into the inner one's cgroup stays the outer one's. A task in no
 * such scope is counted as foreign by the nearest one. */
static __always_inline int current_scope(struct scope_ref *ref)
{
	__u64 cgid = bpf_get_current_cgroup_id();
	struct mg_scope *own = bpf_map_lookup_elem(&mg_scopes, &cgid);
	struct task_struct *task = bpf_get_current_task_btf();
	struct pid *pid = BPF_CORE_READ(task, thread_pid);

	if (own && in_scope_pidns(own, pid)) {
		ref->scope = own;
		ref->cgroup_id = cgid;
		return 1;
	}
	/* Ancestors from the top down, in a bpf_loop callback (verified once, not per level):
	 * the last match is the deepest. */
	struct ancestor_walk walk = { .cgid = cgid, .pid = (__u64)pid, .own = own != 0, .nearest_id = own ? cgid : 0 };
	bpf_loop(MG_MAX_CGROUP_DEPTH, walk_ancestor, &walk, 0);
	if (walk.best_id) {
		struct mg_scope *best = bpf_map_lookup_elem(&mg_scopes, &walk.best_id);
		if (best) {
			ref->scope = best;
			ref->cgroup_id = walk.best_id;
			return 1;
		}
	}
	if (walk.nearest_id) {
		struct mg_scope *nearest = bpf_map_lookup_elem(&mg_scopes, &walk.nearest_id);
		if (nearest)
			__sync_fetch_and_add(&nearest->foreign_pidns, 1);
	}
	return 0;
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
static __always_inline struct mg_event *begin_event_as(struct scope_ref *ref, __u32 kind, __u32 nr, __u32 action)
{
	struct mg_scope *s = ref->scope;

	if (kind < MG_KIND_COUNT)
		__sync_fetch_and_add(&s->events[kind], 1);
	if (action == MG_ACTION_NONE && s->mode == MG_MODE_ENFORCE) {
		if (s->enforce_action == MG_ENFORCE_FREEZE)
			action = bpf_send_signal(SIGSTOP) == 0 ? MG_ACTION_STOPPED : MG_ACTION_KILL_FAILED;
		else
			action = bpf_send_signal(SIGKILL) == 0 ? MG_ACTION_KILLED : MG_ACTION_KILL_FAILED;
	}

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
		struct dentry *d = BPF_CORE_READ(exe, f_path.dentry);
		/* the root of the mount the file is on: the container's root for its own files */
		struct dentry *top = BPF_CORE_READ(exe, f_path.mnt, mnt_root);
		bpf_probe_read_kernel_str(e->exe_name, sizeof(e->exe_name), BPF_CORE_READ(d, d_name.name));
		e->exe_parents_n = MG_EXE_PARENTS;
		for (int i = 0; i < MG_EXE_PARENTS; i++) {
			struct dentry *parent = BPF_CORE_READ(d, d_parent);
			if (d == top || parent == top || !parent || parent == d) {
				e->exe_parents_n = i | MG_EXE_ROOT_REACHED;
				break;
			}
			bpf_probe_read_kernel_str(e->exe_parents[i], MG_EXE_PARENT_LEN, BPF_CORE_READ(parent, d_name.name));
			d = parent;
		}
	}
	return e;
}

/* A syscall normalised across ABIs: native number and six arguments. */
struct call {
	long nr;
	int compat;
	unsigned long a[6];
};

#define TS_COMPAT 0x0002

/* Reads the call, mapping 32-bit (ia32) numbers and argument registers to the native ones.
 * Returns 0 for calls memguard does not look at. */
/* The numbers memguard judges, in either ABI: every other syscall stops at this compare. */
static __always_inline int maybe_judged(long id)
{
	switch (id) {
	case MG_NR_mmap: case MG_NR_mprotect: case MG_NR_pkey_mprotect: case MG_NR_ptrace:
	case MG_NR_process_vm_writev: case MG_NR_execve: case MG_NR_execveat:
#if defined(__TARGET_ARCH_x86)
	case MG_IA32_execve: case MG_IA32_ptrace: case MG_IA32_old_mmap: case MG_IA32_mprotect:
	case MG_IA32_mmap2: case MG_IA32_process_vm_writev: case MG_IA32_execveat: case MG_IA32_pkey_mprotect:
#endif
		return 1;
	}
	return 0;
}

/* Direct loads through BTF pointers (no helper call): this runs on every syscall. */
static __always_inline int current_is_compat(void)
{
#if defined(__TARGET_ARCH_x86)
	return bpf_get_current_task_btf()->thread_info.status & TS_COMPAT;
#else
	return 0;
#endif
}

static __always_inline int read_call(struct pt_regs *regs, long id, struct call *c)
{
	if (!maybe_judged(id))
		return 0;
#if defined(__TARGET_ARCH_x86)
	if (current_is_compat()) {
		switch (id) {
		case MG_IA32_execve: c->nr = MG_NR_execve; break;
		case MG_IA32_ptrace: c->nr = MG_NR_ptrace; break;
		case MG_IA32_old_mmap: c->nr = MG_NR_old_mmap; break;
		case MG_IA32_mprotect: c->nr = MG_NR_mprotect; break;
		case MG_IA32_mmap2: c->nr = MG_NR_mmap; break;
		case MG_IA32_process_vm_writev: c->nr = MG_NR_process_vm_writev; break;
		case MG_IA32_execveat: c->nr = MG_NR_execveat; break;
		case MG_IA32_pkey_mprotect: c->nr = MG_NR_pkey_mprotect; break;
		default: return 0;
		}
		c->compat = 1;
		c->a[0] = (__u32)BPF_CORE_READ(regs, bx);
		c->a[1] = (__u32)BPF_CORE_READ(regs, cx);
		c->a[2] = (__u32)BPF_CORE_READ(regs, dx);
		c->a[3] = (__u32)BPF_CORE_READ(regs, si);
		c->a[4] = (__u32)BPF_CORE_READ(regs, di);
		c->a[5] = (__u32)BPF_CORE_READ(regs, bp);
		if (c->nr == MG_NR_old_mmap) {
			struct mmap_arg_struct32 args = {};
			bpf_probe_read_user(&args, sizeof(args), (void *)c->a[0]);
			c->nr = MG_NR_mmap;
			c->a[0] = args.addr;
			c->a[1] = args.len;
			c->a[2] = args.prot;
			c->a[3] = args.flags;
			c->a[4] = args.fd;
			c->a[5] = args.offset;
		}
		return 1;
	}
#endif
	switch (id) {
	case MG_NR_mmap: case MG_NR_mprotect: case MG_NR_pkey_mprotect: case MG_NR_ptrace:
	case MG_NR_process_vm_writev: case MG_NR_execve: case MG_NR_execveat:
		break;
	default:
		return 0;
	}
	c->nr = id;
	c->a[0] = PT_REGS_PARM1_CORE_SYSCALL(regs);
	c->a[1] = PT_REGS_PARM2_CORE_SYSCALL(regs);
	c->a[2] = PT_REGS_PARM3_CORE_SYSCALL(regs);
	c->a[3] = PT_REGS_PARM4_CORE_SYSCALL(regs);
	c->a[4] = PT_REGS_PARM5_CORE_SYSCALL(regs);
	return 1;
}

static __always_inline __u32 reported_nr(struct call *c)
{
	return (__u32)c->nr | (c->compat ? MG_SYSCALL_COMPAT : 0);
}

static __always_inline int is_memfd_name(const unsigned char *name)
{
	char head[6] = {};
	bpf_probe_read_kernel(head, sizeof(head), name);
	return head[0] == 'm' && head[1] == 'e' && head[2] == 'm' && head[3] == 'f' && head[4] == 'd' && head[5] == ':';
}

/* A violation: counted, the offender killed in enforce mode, and its event reserved. */
static __always_inline struct mg_event *begin_event(struct scope_ref *ref, __u32 kind, __u32 nr)
{
	return begin_event_as(ref, kind, nr, MG_ACTION_NONE);
}

/* True if the current executable may do `kind` in this container (JIT allowlist); such calls
 * are counted, not reported. */
static __always_inline int exe_allowed(struct scope_ref *ref, __u32 kind)
{
	struct task_struct *task = bpf_get_current_task_btf();
	struct file *exe = BPF_CORE_READ(task, mm, exe_file);
	if (!exe)
		return 0;
	struct mg_allow_key key = {
		.cgroup_id = ref->cgroup_id,
		.ino = BPF_CORE_READ(exe, f_inode, i_ino),
		.dev = BPF_CORE_READ(exe, f_inode, i_sb, s_dev),
	};
	__u32 *kinds = bpf_map_lookup_elem(&mg_allow, &key);
	if (!kinds || kind >= 32 || !(*kinds & (1u << kind)))
		return 0;
	__sync_fetch_and_add(&ref->scope->allowed_wx, 1);
	return 1;
}

/* Heap-spray heuristic: anonymous memory made accessible per window (`maps` calls, `len`
 * bytes) against the container's thresholds; one alert per window. Windows are approximate
 * across CPUs, which is fine for a rate. */
static __always_inline void count_spray(struct scope_ref *ref, __u64 len, __u64 maps, __u32 nr)
{
	struct mg_scope *s = ref->scope;
	if (s->spray_window_ns == 0)
		return;
	__u64 now = bpf_ktime_get_boot_ns();
	if (now - s->window_start_ns > s->spray_window_ns) {
		s->window_start_ns = now;
		s->window_maps = 0;
		s->window_bytes = 0;
		s->window_alerted = 0;
	}
	maps += __sync_fetch_and_add(&s->window_maps, maps);
	__u64 bytes = __sync_fetch_and_add(&s->window_bytes, len) + len;
	if ((maps <= s->spray_max_maps && bytes <= s->spray_max_bytes) || s->window_alerted)
		return;
	if (__sync_fetch_and_add(&s->window_alerted, 1) != 0)
		return;
	struct mg_event *e = begin_event_as(ref, MG_KIND_HEAP_SPRAY, nr, MG_ACTION_ALERT);
	if (!e)
		return;
	e->len = bytes;
	e->flags = maps;
	e->addr = s->spray_window_ns;
	bpf_ringbuf_submit(e, 0);
}

struct vma_info {
	__u64 flags;
	__u64 end;
	__u32 kind;
};

/* A file someone holds open for writing (an fd, or a shared writable mapping, which keeps its
 * file open): code written through that is a double mapping, as with a memfd. */
static __always_inline int file_has_writers(struct file *file)
{
	return BPF_CORE_READ(file, f_inode, i_writecount.counter) > 0;
}

static __always_inline void read_vma(struct vm_area_struct *vma, struct vma_info *info)
{
	struct file *file = BPF_CORE_READ(vma, vm_file);
	info->flags = BPF_CORE_READ(vma, vm_flags);
	info->end = BPF_CORE_READ(vma, vm_end);
	if (!file)
		info->kind = MG_VMA_ANON;
	else if (is_memfd_name(BPF_CORE_READ(file, f_path.dentry, d_name.name)))
		info->kind = MG_VMA_MEMFD;
	else if (file_has_writers(file))
		info->kind = MG_VMA_WRITABLE_FILE;
	else
		info->kind = MG_VMA_FILE;
}

static long vma_cb(struct task_struct *task, struct vm_area_struct *vma, void *data)
{
	read_vma(vma, data);
	return 0;
}

/* Without the mmap lock: the VMA tree (a maple tree) read under RCU, as the kernel's own
 * page faults do with per-VMA locks (BPF programs run under RCU, and VMAs are freed by RCU,
 * so every read is safe). A walk that races a change to the tree may end anywhere: what it
 * finds counts only if it is a VMA of this mm that holds the address, else the lookup fails. */
#define MG_MAPLE_DEPTH 8
#define MG_MAPLE_ATTEMPTS 4
#define MG_MAPLE_NODE_MASK 255UL
#define MG_MAPLE_ROOT_NODE 2UL /* ma_root holds a node (else a single entry) */
#define MG_MAPLE_TYPE(enode) (((enode) >> 3) & 0xf)
#define MG_MAPLE_RANGE_PIVOTS 15 /* and 16 slots */
#define MG_MAPLE_ARANGE_PIVOTS 9 /* and 10 slots */

struct maple_walk {
	__u64 addr;
	__u64 enode; /* the encoded node to descend into (address | type << 3) */
	__u64 max;   /* the last address the node covers */
	__u64 found; /* what the leaf's slot held: the VMA */
	int done;
};

static long maple_step(__u64 depth, void *ctx)
{
	struct maple_walk *w = ctx;
	struct maple_node *node = (struct maple_node *)(w->enode & ~MG_MAPLE_NODE_MASK);
	__u32 type = MG_MAPLE_TYPE(w->enode);
	__u64 *pivots, *slots;
	int end; /* the node's last slot in use (the kernel's ma_data_end) */
	switch (type) {
	case maple_leaf_64:
	case maple_range_64: {
		pivots = (__u64 *)__builtin_preserve_access_index(&node->mr64.pivot[0]);
		slots = (__u64 *)__builtin_preserve_access_index(&node->mr64.slot[0]);
		__u64 last = 0;
		bpf_probe_read_kernel(&last, sizeof(last), &pivots[MG_MAPLE_RANGE_PIVOTS - 1]);
		if (last == 0)
			end = BPF_CORE_READ(node, mr64.meta.end);
		else
			end = last == w->max ? MG_MAPLE_RANGE_PIVOTS - 1 : MG_MAPLE_RANGE_PIVOTS;
		break;
	}
	case maple_arange_64:
		pivots = (__u64 *)__builtin_preserve_access_index(&node->ma64.pivot[0]);
		slots = (__u64 *)__builtin_preserve_access_index(&node->ma64.slot[0]);
		end = BPF_CORE_READ(node, ma64.meta.end);
		if (end > MG_MAPLE_ARANGE_PIVOTS)
			return 1;
		break;
	default:
		return 1;
	}
	/* The first slot whose pivot (its range's last address) reaches addr; the last slot in
	 * use ends where the node does. */
	int slot = end;
	for (int i = 0; i < MG_MAPLE_RANGE_PIVOTS && i < end; i++) {
		__u64 pivot = 0;
		bpf_probe_read_kernel(&pivot, sizeof(pivot), &pivots[i]);
		if (pivot >= w->addr) {
			slot = i;
			w->max = pivot;
			break;
		}
	}
	__u64 next = 0;
	bpf_probe_read_kernel(&next, sizeof(next), &slots[slot & 15]);
	if (type == maple_leaf_64) {
		w->found = next;
		w->done = 1;
		return 1;
	}
	w->enode = next;
	return next ? 0 : 1;
}

/* A global function: verified once on its own, not again in every caller's state. */
__noinline int mg_find_vma_lockless(__u64 addr, struct vma_info *info)
{
	if (!info)
		return -EBUSY;
	struct task_struct *task = bpf_get_current_task_btf();
	struct mm_struct *mm = BPF_CORE_READ(task, mm);
	if (!mm)
		return -EBUSY;
	__u64 root = (__u64)BPF_CORE_READ(mm, mm_mt.ma_root);
	if (!(root & MG_MAPLE_ROOT_NODE) || root < 4096)
		return -EBUSY;
	/* A walk that raced the writer holding the lock may end beside the address: walked again,
	 * as the kernel's own lock-free lookup would retry (it then takes the lock). */
	for (int attempt = 0; attempt < MG_MAPLE_ATTEMPTS; attempt++) {
		struct maple_walk w = { .addr = addr, .enode = root, .max = ~0UL };
		bpf_loop(MG_MAPLE_DEPTH, maple_step, &w, 0);
		struct vm_area_struct *vma = (struct vm_area_struct *)w.found;
		if (w.done && w.found == 0) /* a hole (or a walk that raced: only a write is judged so) */
			return -ENOENT;
		if (w.done && w.found >= 4096 && !(w.found & 7) && BPF_CORE_READ(vma, vm_mm) == mm &&
		    addr >= BPF_CORE_READ(vma, vm_start) && addr < BPF_CORE_READ(vma, vm_end)) {
			struct vma_info found = {};
			read_vma(vma, &found);
			*info = found;
			return 0;
		}
		root = (__u64)BPF_CORE_READ(mm, mm_mt.ma_root);
		if (!(root & MG_MAPLE_ROOT_NODE) || root < 4096)
			return -EBUSY;
	}
	return -EBUSY;
}

/* bpf_find_vma only try-locks the mmap lock: it fails with -EBUSY while another thread of
 * the process holds it for writing (its mmap, munmap, mprotect), which multi-threaded
 * runtimes (runc's own init, Go, glibc arenas) do all the time. For a call that adds write
 * only, the tree is then read without the lock. Not for one that adds execute: what is
 * queued behind the lock (another thread's mremap of shellcode onto the range) runs before
 * the call does, so a lock-free read of the tree as it is now could be made to lie; such a
 * call stays unknown, and suspicious. */
static __always_inline long find_vma(struct task_struct *task, __u64 addr, struct vma_info *info, int lock_free)
{
	long rc = bpf_find_vma(task, addr, vma_cb, info, 0);
	if (rc == -EBUSY && lock_free)
		rc = mg_find_vma_lockless(addr, info);
	return rc;
}

/* The file behind fd `fd` of the current task, or NULL. */
static __always_inline struct file *current_file(long fd)
{
	if (fd < 0 || fd > 1 << 20)
		return NULL;
	struct task_struct *task = bpf_get_current_task_btf();
	struct fdtable *fdt = BPF_CORE_READ(task, files, fdt);
	if (!fdt || fd >= BPF_CORE_READ(fdt, max_fds))
		return NULL;
	struct file **fds = BPF_CORE_READ(fdt, fd);
	struct file *file = NULL;
	bpf_probe_read_kernel(&file, sizeof(file), &fds[fd]);
	return file;
}

#define MAP_ANONYMOUS 0x20

#define READ_IMPLIES_EXEC 0x0400000
#define PROT_READ 0x1

/* The protection the kernel will really apply: with the READ_IMPLIES_EXEC personality every
 * readable mapping is also executable, so RW asked becomes RWX. */
static __always_inline __u32 effective_prot(__u32 prot)
{
	__u32 persona = BPF_CORE_READ(bpf_get_current_task_btf(), personality);
	if ((persona & READ_IMPLIES_EXEC) && (prot & PROT_READ))
		return prot | PROT_EXEC;
	return prot;
}

static __always_inline void mark_prot(struct mg_event *e, __u32 asked)
{
	e->asked_prot = asked;
	e->personality = BPF_CORE_READ(bpf_get_current_task_btf(), personality);
}

static __always_inline void on_mmap(struct scope_ref *ref, struct call *c)
{
	__sync_fetch_and_add(&ref->scope->mmap_calls, 1);
	__u32 asked = c->a[2];
	__u32 prot = effective_prot(asked);
	__u32 flags = c->a[3];
	__u32 kind = MG_KIND_NONE, vma = MG_VMA_NOT_LOOKED;
	if (flags & MAP_ANONYMOUS) {
		__sync_fetch_and_add(&ref->scope->anon_maps, 1);
		__sync_fetch_and_add(&ref->scope->anon_bytes, c->a[1]);
		/* PROT_NONE only reserves address space (Go reserves GiBs as it starts) and holds
		 * nothing: its bytes count as a spray once mprotect makes them writable. */
		if (asked & PROT_RWX)
			count_spray(ref, c->a[1], 1, reported_nr(c));
	}
	if ((prot & (PROT_WRITE | PROT_EXEC)) == (PROT_WRITE | PROT_EXEC)) {
		kind = MG_KIND_WX_MMAP;
	} else if ((prot & PROT_EXEC) && !(flags & MAP_ANONYMOUS)) {
		/* Executable mapping of a memfd: code written through the fd or a second,
		 * writable mapping of the same memory (double mapping) escapes W^X otherwise. */
		struct file *file = current_file((long)(int)c->a[4]);
		if (file && is_memfd_name(BPF_CORE_READ(file, f_path.dentry, d_name.name))) {
			kind = MG_KIND_EXEC_WRITABLE;
			vma = MG_VMA_MEMFD;
		} else if (file && file_has_writers(file)) {
			kind = MG_KIND_EXEC_WRITABLE;
			vma = MG_VMA_WRITABLE_FILE;
		}
	}
	if (kind == MG_KIND_NONE || exe_allowed(ref, kind))
		return;
	struct mg_event *e = begin_event(ref, kind, reported_nr(c));
	if (!e)
		return;
	e->addr = c->a[0];
	e->len = c->a[1];
	e->prot = prot;
	e->flags = flags;
	e->vma = vma;
	mark_prot(e, asked);
	bpf_ringbuf_submit(e, 0);
}

#define MG_MAX_VMAS 8

/* What adding `prot` to one VMA amounts to. */
static __always_inline __u32 judge_vma(__u32 prot, struct vma_info *vma)
{
	if (vma->kind == MG_VMA_UNKNOWN)
		return (prot & PROT_EXEC) ? MG_KIND_EXEC_WRITABLE : MG_KIND_CODE_PATCH;
	if (prot & PROT_EXEC) {
		if (vma->flags & VM_EXEC)
			return MG_KIND_NONE; /* already executable: nothing added */
		/* exec added to anonymous, memfd-backed or writable memory: staged code */
		if (vma->kind != MG_VMA_FILE || (vma->flags & VM_WRITE))
			return MG_KIND_EXEC_WRITABLE;
		return MG_KIND_NONE;
	}
	/* write added to file-backed text */
	if ((vma->kind == MG_VMA_FILE || vma->kind == MG_VMA_WRITABLE_FILE) && (vma->flags & VM_EXEC))
		return MG_KIND_CODE_PATCH;
	return MG_KIND_NONE;
}

/* The VMAs an mprotect covers, judged one per bpf_loop step (verified once, not per VMA). */
struct mprotect_walk {
	__u64 cursor;
	__u64 end;
	__u64 reserved;      /* bytes of anonymous memory made writable (reserved PROT_NONE, or read-only) */
	struct vma_info vma; /* the VMA judged, else the first one */
	__u32 prot;
	__u32 kind;
};

static long mprotect_step(__u64 i, void *ctx)
{
	struct mprotect_walk *w = ctx;
	struct vma_info here = {};
	long rc = find_vma(bpf_get_current_task_btf(), w->cursor, &here, !(w->prot & PROT_EXEC));
	if (rc == -ENOENT) /* a hole; mprotect stops there with ENOMEM */
		return 1;
	if (rc != 0)
		here.kind = MG_VMA_UNKNOWN;
	if (i == 0)
		w->vma = here;
	w->kind = judge_vma(w->prot, &here);
	if (w->kind != MG_KIND_NONE) {
		w->vma = here;
		return 1;
	}
	if (here.kind == MG_VMA_UNKNOWN || here.end <= w->cursor)
		return 1;
	if (here.kind == MG_VMA_ANON && !(here.flags & VM_WRITE) && (w->prot & PROT_WRITE))
		w->reserved += (here.end < w->end ? here.end : w->end) - w->cursor;
	w->cursor = here.end;
	if (w->cursor >= w->end)
		return 1;
	if (i == MG_MAX_VMAS - 1) { /* more VMAs than are looked at: the rest is unknown */
		w->vma.kind = MG_VMA_UNKNOWN;
		w->kind = judge_vma(w->prot, &w->vma);
	}
	return 0;
}

/* mprotect and pkey_mprotect share their first three arguments. Every VMA in the range is
 * judged (up to MG_MAX_VMAS; beyond that the rest is treated as unknown). */
static __always_inline void on_mprotect(struct scope_ref *ref, struct call *c)
{
	__sync_fetch_and_add(&ref->scope->mprotect_calls, 1);
	__u64 addr = c->a[0];
	__u64 len = c->a[1];
	__u32 asked = c->a[2];
	__u32 prot = effective_prot(asked);
	if (!(prot & (PROT_WRITE | PROT_EXEC)))
		return;

	struct mprotect_walk w = { .cursor = addr, .end = addr + len, .prot = prot };
	if ((prot & (PROT_WRITE | PROT_EXEC)) == (PROT_WRITE | PROT_EXEC))
		w.kind = MG_KIND_WX_MPROTECT;
	else if (len) /* a zero length changes nothing */
		bpf_loop(MG_MAX_VMAS, mprotect_step, &w, 0);
	struct vma_info vma = w.vma;
	__u32 kind = w.kind;
	__u64 reserved = w.reserved;
	if (reserved) /* bytes, not calls: glibc grows stacks and arenas a piece at a time */
		count_spray(ref, reserved, 0, reported_nr(c));
	if (kind == MG_KIND_NONE || exe_allowed(ref, kind))
		return;
	/* Memory not looked up (even the lock-free read raced the writer): exec added is judged
	 * suspicious and enforced; write added only is counted, not reported: the memory is not
	 * executable after the call, making it so again is an mprotect judged on its own, and a
	 * guess would be a false alarm (seen on runc's own init under runc exec). */
	if (vma.kind == MG_VMA_UNKNOWN && !(prot & PROT_EXEC)) {
		__sync_fetch_and_add(&ref->scope->unjudged_writes, 1);
		return;
	}
	struct mg_event *e = begin_event(ref, kind, reported_nr(c));
	if (!e)
		return;
	e->addr = addr;
	e->len = len;
	e->prot = prot;
	e->old_prot = vma.flags & PROT_RWX;
	e->vma = vma.kind;
	mark_prot(e, asked);
	bpf_ringbuf_submit(e, 0);
}

static __always_inline void on_ptrace(struct scope_ref *ref, struct call *c)
{
	long request = c->a[0];
	switch (request) {
	case PTRACE_ATTACH: case PTRACE_SEIZE: case PTRACE_POKETEXT: case PTRACE_POKEDATA:
	case PTRACE_POKEUSR: case PTRACE_SETREGS: case PTRACE_SETFPREGS: case PTRACE_SETREGSET:
		break;
	default:
		return;
	}
	struct mg_event *e = begin_event(ref, MG_KIND_PTRACE, reported_nr(c));
	if (!e)
		return;
	e->flags = request;
	e->target_pid = c->a[1];
	e->addr = c->a[2];
	bpf_ringbuf_submit(e, 0);
}

static __always_inline void on_vm_writev(struct scope_ref *ref, struct call *c)
{
	__u32 target = c->a[0];
	struct task_struct *task = bpf_get_current_task_btf();
	__u32 self = pid_at_level(BPF_CORE_READ(task, group_leader, thread_pid), ref->scope->pidns_level);
	if (target == self)
		return;
	struct mg_event *e = begin_event(ref, MG_KIND_VM_WRITEV, reported_nr(c));
	if (!e)
		return;
	e->target_pid = target;
	e->len = c->a[2]; /* number of local iovecs */
	bpf_ringbuf_submit(e, 0);
}

/* An exec by a registered container runtime (the hook's parent, e.g. runc): its own
 * memfd:runc_cloned re-exec is allowed, nobody else's. */
static __always_inline void on_execve(void)
{
	struct task_struct *task = bpf_get_current_task_btf();
	struct file *exe = BPF_CORE_READ(task, mm, exe_file);
	if (!exe)
		return;
	struct mg_exe_id id = {
		.ino = BPF_CORE_READ(exe, f_inode, i_ino),
		.dev = BPF_CORE_READ(exe, f_inode, i_sb, s_dev),
	};
	if (!bpf_map_lookup_elem(&mg_runtimes, &id))
		return;
	__u32 tid = (__u32)bpf_get_current_pid_tgid();
	__u8 one = 1;
	bpf_map_update_elem(&mg_runtime_exec, &tid, &one, BPF_ANY);
}

SEC("tp_btf/sys_enter")
int BPF_PROG(mg_sys_enter, struct pt_regs *regs, long id)
{
	struct call c = {};
	int judged = read_call(regs, id, &c);
	if (!judged) {
		__u32 zero = 0;
		__u32 *recording = bpf_map_lookup_elem(&mg_config, &zero);
		if (!recording || *recording == 0)
			return 0;
	}
	struct scope_ref ref = {};
	if (!current_scope(&ref))
		return 0;
	if ((ref.scope->flags & MG_SCOPE_RECORD) && !c.compat && id >= 0 && id < MG_RECORD_SYSCALLS) {
		/* read_call only knows the ABI of calls it judges; check it for the others */
		if (judged || !current_is_compat())
			__sync_fetch_and_or(&ref.scope->syscalls[(id / 64) & 7], 1ULL << (id % 64));
	}
	if (!judged)
		return 0;

	switch (c.nr) {
	case MG_NR_mmap:
		on_mmap(&ref, &c);
		break;
	case MG_NR_mprotect:
	case MG_NR_pkey_mprotect:
		on_mprotect(&ref, &c);
		break;
	case MG_NR_ptrace:
		on_ptrace(&ref, &c);
		break;
	case MG_NR_process_vm_writev:
		on_vm_writev(&ref, &c);
		break;
	case MG_NR_execve:
	case MG_NR_execveat:
		on_execve();
		break;
	}
	return 0;
}

#define PROC_SUPER_MAGIC 0x9fa0
#define FMODE_WRITE 0x2

/* /proc/<pid>/mem opened for writing, judged on the file the open produced (at syscall exit),
 * so symlinks, /proc/self/fd reopens, dirfd-relative and dotted paths are all seen. */
#define EACCES 13

/* A W|X mmap/mprotect refused by the container's seccomp wx-deny filter never reaches
 * sys_enter (seccomp runs first) but does reach sys_exit, with -EACCES. */
static __always_inline void on_denied_wx(struct scope_ref *ref, struct pt_regs *regs, long id, int compat)
{
	if (!(ref->scope->flags & MG_SCOPE_WX_DENY))
		return;
	__u64 addr, len;
	__u32 prot, flags;
	long nr;
#if defined(__TARGET_ARCH_x86)
	if (compat) {
		nr = id == MG_IA32_mmap2 ? MG_NR_mmap : id == MG_IA32_mprotect ? MG_NR_mprotect : MG_NR_pkey_mprotect;
		addr = (__u32)BPF_CORE_READ(regs, bx);
		len = (__u32)BPF_CORE_READ(regs, cx);
		prot = BPF_CORE_READ(regs, dx);
		flags = BPF_CORE_READ(regs, si);
	} else
#endif
	{
		nr = id;
		addr = PT_REGS_PARM1_CORE_SYSCALL(regs);
		len = PT_REGS_PARM2_CORE_SYSCALL(regs);
		prot = PT_REGS_PARM3_CORE_SYSCALL(regs);
		flags = PT_REGS_PARM4_CORE_SYSCALL(regs);
	}
	if ((prot & (PROT_WRITE | PROT_EXEC)) != (PROT_WRITE | PROT_EXEC))
		return;
	__u32 kind = nr == MG_NR_mmap ? MG_KIND_WX_MMAP : MG_KIND_WX_MPROTECT;
	struct mg_event *e = begin_event_as(ref, kind, (__u32)nr | (compat ? MG_SYSCALL_COMPAT : 0), MG_ACTION_DENIED);
	if (!e)
		return;
	e->addr = addr;
	e->len = len;
	e->prot = prot;
	if (nr == MG_NR_mmap)
		e->flags = flags;
	mark_prot(e, prot); /* seccomp judged what was asked: no implied exec to explain */
	bpf_ringbuf_submit(e, 0);
}

SEC("tp_btf/sys_exit")
int BPF_PROG(mg_sys_exit, struct pt_regs *regs, long ret)
{
	if (ret < 0 && ret != -EACCES)
		return 0;
#if defined(__TARGET_ARCH_x86)
	long id = regs->orig_ax;
	switch (id) {
	case MG_NR_open: case MG_NR_openat: case MG_NR_openat2: case MG_NR_mmap: case MG_NR_mprotect:
	case MG_NR_pkey_mprotect: case MG_IA32_open: case MG_IA32_openat: case MG_IA32_mmap2:
	case MG_IA32_mprotect: case MG_IA32_pkey_mprotect:
		break;
	default:
		return 0;
	}
	int compat = current_is_compat();
	int is_open = compat ? (id == MG_IA32_open || id == MG_IA32_openat || id == MG_IA32_openat2)
			     : (id == MG_NR_open || id == MG_NR_openat || id == MG_NR_openat2);
	int is_wx = compat ? (id == MG_IA32_mmap2 || id == MG_IA32_mprotect || id == MG_IA32_pkey_mprotect)
			   : (id == MG_NR_mmap || id == MG_NR_mprotect || id == MG_NR_pkey_mprotect);
#else
	long id = regs->syscallno;
	int compat = 0;
	int is_open = id == MG_NR_openat || id == MG_NR_openat2;
	int is_wx = id == MG_NR_mmap || id == MG_NR_mprotect || id == MG_NR_pkey_mprotect;
#endif
	if (ret == -EACCES ? !is_wx : !is_open)
		return 0;
	struct scope_ref ref = {};
	if (!current_scope(&ref))
		return 0;
	if (ret < 0) {
		on_denied_wx(&ref, regs, id, compat);
		return 0;
	}
	struct file *file = current_file(ret);
	if (!file || !(BPF_CORE_READ(file, f_mode) & FMODE_WRITE))
		return 0;
	if (BPF_CORE_READ(file, f_inode, i_sb, s_magic) != PROC_SUPER_MAGIC)
		return 0;
	struct dentry *dentry = BPF_CORE_READ(file, f_path.dentry);
	char name[4] = {};
	bpf_probe_read_kernel_str(name, sizeof(name), BPF_CORE_READ(dentry, d_name.name));
	if (name[0] != 'm' || name[1] != 'e' || name[2] != 'm' || name[3] != 0)
		return 0;

	char dir[16] = {};
	bpf_probe_read_kernel_str(dir, sizeof(dir), BPF_CORE_READ(dentry, d_parent, d_name.name));
	__u32 target = 0;
	for (int i = 0; i < 10 && dir[i] >= '0' && dir[i] <= '9'; i++)
		target = target * 10 + (dir[i] - '0');

	struct mg_event *e = begin_event(&ref, MG_KIND_PROC_MEM, (__u32)id | (compat ? MG_SYSCALL_COMPAT : 0));
	if (!e)
		return 0;
	e->target_pid = target;
	e->flags = BPF_CORE_READ(file, f_flags);
	__builtin_memcpy(e->path, dir, sizeof(dir));
	bpf_ringbuf_submit(e, 0);
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
		__u32 tid = old_pid;
		int by_runtime = bpf_map_lookup_elem(&mg_runtime_exec, &tid) != NULL;
		if (by_runtime)
			bpf_map_delete_elem(&mg_runtime_exec, &tid);
		if (by_runtime && has_prefix(name, "memfd:runc_cloned:", 18)) {
			__sync_fetch_and_add(&ref.scope->allowed_runtime_exec, 1);
			return 0;
		}
		kind = MG_KIND_EXEC_MEMFD;
	} else if (nlink == 0) {
		kind = MG_KIND_EXEC_DELETED;
	} else {
		return 0;
	}

	struct mg_event *e = begin_event(&ref, kind, MG_NR_execve);
	if (!e)
		return 0;
	__builtin_memcpy(e->path, name, sizeof(name));
	e->flags = nlink;
	bpf_ringbuf_submit(e, 0);
	return 0;
}
