/* SPDX-License-Identifier: MIT */
/* memlock: what the mlock lessons need to know about this process - its
 * RLIMIT_MEMLOCK, and whether CAP_IPC_LOCK lifts it - and, in a build with
 * AddressSanitizer, whose mlock family does nothing (it would lock the
 * shadow memory too), the same calls straight to the kernel, so that a
 * lesson written with mlock() does what it says in every build. */
#ifndef VMLAB_MEMLOCK_H
#define VMLAB_MEMLOCK_H

#include <stdbool.h>
#include <stddef.h>
#include <sys/mman.h>

/* For C library headers older than the kernel. */
#ifndef MCL_ONFAULT
#define MCL_ONFAULT 4 /* Linux 4.4 */
#endif
#ifndef MADV_FREE
#define MADV_FREE 8 /* Linux 4.5 */
#endif
#ifndef MADV_COLD
#define MADV_COLD 20 /* Linux 5.4 */
#endif
#ifndef MADV_PAGEOUT
#define MADV_PAGEOUT 21 /* Linux 5.4 */
#endif
#ifndef MADV_POPULATE_WRITE
#define MADV_POPULATE_WRITE 23 /* Linux 5.14 */
#endif

/* RLIMIT_MEMLOCK's soft limit in bytes; SIZE_MAX when unlimited. */
size_t memlock_limit(void);

/* CAP_IPC_LOCK in this process's effective set (capget(2); CapEff in /proc/self/status):
 * the limit does not apply to it. */
bool memlock_capable(void);

/* A build with AddressSanitizer (gcc says so in one way, clang in another). */
#if defined(__SANITIZE_ADDRESS__)
#define VMLAB_ASAN 1
#elif defined(__has_feature)
#if __has_feature(address_sanitizer)
#define VMLAB_ASAN 1
#endif
#endif
#ifdef VMLAB_ASAN
#include <sys/syscall.h>
#include <unistd.h>
#define mlock(addr, len) syscall(SYS_mlock, addr, len)
#define munlock(addr, len) syscall(SYS_munlock, addr, len)
#define mlockall(flags) syscall(SYS_mlockall, flags)
#define munlockall() syscall(SYS_munlockall)
#endif

#endif
