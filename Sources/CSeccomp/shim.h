#include <seccomp.h>
#include <stdint.h>

/* SCMP_ACT_ERRNO() and SCMP_ACT_TRACE() are function-like macros, which Swift cannot import. */
static inline uint32_t mg_scmp_act_errno(uint16_t errno_value) { return SCMP_ACT_ERRNO(errno_value); }
static inline uint32_t mg_scmp_act_trace(uint16_t msg) { return SCMP_ACT_TRACE(msg); }
