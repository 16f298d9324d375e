#ifndef SURVEYCHARTS_SYSTEM_SHIMS_H
#define SURVEYCHARTS_SYSTEM_SHIMS_H

#include <stdint.h>

/// Blocks in `flock(fd, operation)` until the lock is granted or `timeout_ms` milliseconds pass.
/// A free lock is taken at once, without a timer.
///
/// The wait is a real blocking `flock`, so the caller wakes as soon as the holder unlocks. The
/// deadline is enforced with a per-thread POSIX timer whose signal interrupts the call (EINTR);
/// the timer re-fires every few milliseconds after the deadline, so a signal that lands before the
/// thread enters `flock` cannot leave it blocked.
///
/// Returns 0 when the lock is held, `-ETIMEDOUT` when the deadline passed, or `-errno` on any
/// other failure.
int surveycharts_flock_with_timeout(int fd, int operation, int64_t timeout_ms);

/// Names the calling thread for `ps -L` and /proc (the kernel keeps 15 bytes).
void surveycharts_set_thread_name(const char *name);

/// Copies the calling thread's kernel name into `buffer` (NUL-terminated).
void surveycharts_get_thread_name(char *buffer, int capacity);

/// Sends SIGTERM to this process once its parent process has exited (so test servers never outlive
/// a crashed test run). A thread checks `getppid()` every 200 ms: `PR_SET_PDEATHSIG` fires when the
/// parent *thread* that spawned us exits, and a test's cooperative thread may be retired while the
/// test sleeps, which killed servers under tests that were still using them.
void surveycharts_terminate_with_parent(void);

#endif
