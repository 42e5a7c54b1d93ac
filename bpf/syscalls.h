/* Syscall numbers the probes look at, per architecture (the kernel's native table; 32-bit
 * compat syscalls are not inspected: a documented limitation). */
#ifndef MEMGUARD_SYSCALLS_H
#define MEMGUARD_SYSCALLS_H

#if defined(__TARGET_ARCH_x86)
#define MG_NR_open 2
#define MG_NR_mmap 9
#define MG_NR_mprotect 10
#define MG_NR_ptrace 101
#define MG_NR_openat 257
#define MG_NR_process_vm_writev 311
#define MG_NR_pkey_mprotect 329
#define MG_NR_openat2 437
#elif defined(__TARGET_ARCH_arm64)
#define MG_NR_openat 56
#define MG_NR_ptrace 117
#define MG_NR_mmap 222
#define MG_NR_mprotect 226
#define MG_NR_process_vm_writev 271
#define MG_NR_pkey_mprotect 288
#define MG_NR_openat2 437
#else
#error "memguard: unsupported architecture (define __TARGET_ARCH_x86 or __TARGET_ARCH_arm64)"
#endif

#endif
