/* Syscall numbers the probes look at, per architecture and ABI. Calls are normalised to the
 * native x86-64 (or arm64) number before they are judged, so a 32-bit `int $0x80` mprotect is
 * judged like a 64-bit one (and a 32-bit unlink, whose number is the 64-bit mprotect's, is not). */
#ifndef MEMGUARD_SYSCALLS_H
#define MEMGUARD_SYSCALLS_H

#if defined(__TARGET_ARCH_x86)
#define MG_NR_open 2
#define MG_NR_mmap 9
#define MG_NR_mprotect 10
#define MG_NR_execve 59
#define MG_NR_ptrace 101
#define MG_NR_openat 257
#define MG_NR_process_vm_writev 311
#define MG_NR_execveat 322
#define MG_NR_pkey_mprotect 329
#define MG_NR_openat2 437
/* ia32 (int $0x80, sysenter from 32-bit code) */
#define MG_IA32_open 5
#define MG_IA32_execve 11
#define MG_IA32_ptrace 26
#define MG_IA32_old_mmap 90 /* arguments in a struct mmap_arg_struct32 */
#define MG_IA32_mprotect 125
#define MG_IA32_mmap2 192
#define MG_IA32_openat 295
#define MG_IA32_process_vm_writev 348
#define MG_IA32_execveat 358
#define MG_IA32_pkey_mprotect 380
#define MG_IA32_openat2 437
/* a pseudo number for old_mmap once normalised */
#define MG_NR_old_mmap 100090
#elif defined(__TARGET_ARCH_arm64)
#define MG_NR_openat 56
#define MG_NR_ptrace 117
#define MG_NR_mmap 222
#define MG_NR_mprotect 226
#define MG_NR_execve 221
#define MG_NR_process_vm_writev 271
#define MG_NR_execveat 281
#define MG_NR_pkey_mprotect 288
#define MG_NR_openat2 437
#else
#error "memguard: unsupported architecture (define __TARGET_ARCH_x86 or __TARGET_ARCH_arm64)"
#endif

#endif
