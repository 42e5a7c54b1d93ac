/* Compiles the event ABI header for the host, so its _Static_asserts run on every build. */
#include "memguard_abi.h"
