// An LD_PRELOAD shim for Tests/SurveyServerTests/DurabilityTests.swift, which compiles it at run time
// (`cc -shared -fPIC`). It is no SwiftPM target: a C file in a test target would make that target mixed.
//
// It logs, one line per call, the calls that make a file durable (open, write, fsync, fdatasync,
// rename, close) on files under DURABILITY_SHIM_WATCH, and the first bytes of every HTTP response the
// process writes to a socket, so a test can order a 303 against the disk syncs before it. Each line
// carries two tickets of one process-wide counter, taken just before and just after the real call:
// `a.end < b.begin` means a returned before b started, whatever threads ran them.
//
// While the file DURABILITY_SHIM_FAIL_WHILE exists, fsync and fdatasync of watched files whose path
// matches the extended regex DURABILITY_SHIM_FAIL_REGEX (all watched files without it) fail with EIO
// and reach no disk: a test switches the fault on and off without restarting the process.
//
// Environment: DURABILITY_SHIM_LOG (the log, appended to), DURABILITY_SHIM_WATCH (an absolute
// directory prefix; without it nothing is logged or failed), and the two above.
//
// Line format, tab-separated: begin, end, thread id, call, then key=value fields; `path=` (and
// `to=` for renames) come last. Calls: open, close, write, fsync, fdatasync, rename, respond.

#define _GNU_SOURCE
#include <dlfcn.h>
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <regex.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/types.h>
#include <sys/uio.h>
#include <unistd.h>

#define WATCHED_FDS 65536

static pthread_once_t once = PTHREAD_ONCE_INIT;
static atomic_ulong ticket;
static int log_fd = -1;
static char watch[4096];
static size_t watch_length;
static char fail_while[4096];
static regex_t fail_regex;
static int has_fail_regex;
// Set when a watched file is opened, cleared when it is closed: a write to any other descriptor
// costs one load.
static atomic_uchar watched[WATCHED_FDS];

static void initialize(void) {
    const char *log = getenv("DURABILITY_SHIM_LOG");
    const char *prefix = getenv("DURABILITY_SHIM_WATCH");
    const char *fail = getenv("DURABILITY_SHIM_FAIL_WHILE");
    const char *pattern = getenv("DURABILITY_SHIM_FAIL_REGEX");
    if (log && *log) {
        // The raw system call: our own open hook must not see (or log) the log.
        log_fd = (int)syscall(SYS_openat, AT_FDCWD, log, O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC, 0644);
    }
    if (prefix && *prefix && strlen(prefix) < sizeof watch) {
        strcpy(watch, prefix);
        watch_length = strlen(watch);
    }
    if (fail && *fail && strlen(fail) < sizeof fail_while) strcpy(fail_while, fail);
    if (pattern && *pattern) {
        if (regcomp(&fail_regex, pattern, REG_EXTENDED | REG_NOSUB) == 0) {
            has_fail_regex = 1;
        } else {
            // A typo must not quietly turn "fail these" into "fail nothing".
            static const char message[] = "fsync_shim: bad DURABILITY_SHIM_FAIL_REGEX\n";
            syscall(SYS_write, 2, message, sizeof message - 1);
            abort();
        }
    }
}

static void setup(void) { pthread_once(&once, initialize); }

static void *real(const char *name) {
    void *function = dlsym(RTLD_NEXT, name);
    if (!function) {
        static const char message[] = "fsync_shim: dlsym failed\n";
        syscall(SYS_write, 2, message, sizeof message - 1);
        abort();
    }
    return function;
}

// The next definition of `name` (libc's), looked up once; typed as our own definition, which has its signature.
#define REAL(name) \
    static __typeof__(&name) real_##name; \
    if (!real_##name) real_##name = (__typeof__(&name))real(#name)

static unsigned long take_ticket(void) { return atomic_fetch_add(&ticket, 1) + 1; }

static int enabled(void) { return log_fd >= 0 && watch_length > 0; }

static int under_watch(const char *path) {
    return path && watch_length > 0 && strncmp(path, watch, watch_length) == 0;
}

// The file a descriptor names now, or "" when the kernel does not say.
static void path_of(int fd, char *buffer, size_t size) {
    char link[64];
    snprintf(link, sizeof link, "/proc/self/fd/%d", fd);
    ssize_t length = syscall(SYS_readlinkat, AT_FDCWD, link, buffer, size - 1);
    buffer[length > 0 ? length : 0] = 0;
}

static int is_watched(int fd) { return fd >= 0 && fd < WATCHED_FDS && atomic_load(&watched[fd]); }

static void emit(unsigned long begin, unsigned long end, const char *call, const char *format, ...) {
    char line[8192];
    int used = snprintf(line, sizeof line, "%lu\t%lu\t%ld\t%s\t", begin, end, (long)syscall(SYS_gettid), call);
    va_list arguments;
    va_start(arguments, format);
    used += vsnprintf(line + used, sizeof line - used - 1, format, arguments);
    va_end(arguments);
    if (used > (int)sizeof line - 2) used = (int)sizeof line - 2;
    line[used++] = '\n';
    // One write with O_APPEND: lines from many threads never interleave.
    syscall(SYS_write, log_fd, line, (size_t)used);
}

static int after_open(unsigned long begin, int fd, int flags, const char *given) {
    int saved = errno;
    unsigned long end = take_ticket();
    if (!enabled()) return fd;
    if (fd >= 0) {
        char path[4096];
        path_of(fd, path, sizeof path);
        if (under_watch(path)) {
            if (fd < WATCHED_FDS) atomic_store(&watched[fd], 1);
            emit(begin, end, "open", "fd=%d\tret=%d\terrno=0\tflags=0x%x\texcl=%d\tcreat=%d\tpath=%s", fd, fd, flags,
                (flags & O_EXCL) != 0, (flags & O_CREAT) != 0, path);
        }
    } else if (under_watch(given)) {
        emit(begin, end, "open", "fd=-1\tret=-1\terrno=%d\tflags=0x%x\texcl=%d\tcreat=%d\tpath=%s", saved, flags,
            (flags & O_EXCL) != 0, (flags & O_CREAT) != 0, given);
    }
    errno = saved;
    return fd;
}

static mode_t mode_argument(int flags, va_list arguments) {
    // O_TMPFILE includes O_DIRECTORY's bit: test it whole, or every directory open reads a mode.
    return (flags & O_CREAT) || (flags & O_TMPFILE) == O_TMPFILE ? (mode_t)va_arg(arguments, int) : 0;
}

int open(const char *path, int flags, ...) {
    setup();
    REAL(open);
    va_list arguments;
    va_start(arguments, flags);
    mode_t mode = mode_argument(flags, arguments);
    va_end(arguments);
    unsigned long begin = take_ticket();
    return after_open(begin, real_open(path, flags, mode), flags, path);
}

int open64(const char *path, int flags, ...) {
    setup();
    REAL(open64);
    va_list arguments;
    va_start(arguments, flags);
    mode_t mode = mode_argument(flags, arguments);
    va_end(arguments);
    unsigned long begin = take_ticket();
    return after_open(begin, real_open64(path, flags, mode), flags, path);
}

int openat(int directory, const char *path, int flags, ...) {
    setup();
    REAL(openat);
    va_list arguments;
    va_start(arguments, flags);
    mode_t mode = mode_argument(flags, arguments);
    va_end(arguments);
    unsigned long begin = take_ticket();
    return after_open(begin, real_openat(directory, path, flags, mode), flags, path);
}

int openat64(int directory, const char *path, int flags, ...) {
    setup();
    REAL(openat64);
    va_list arguments;
    va_start(arguments, flags);
    mode_t mode = mode_argument(flags, arguments);
    va_end(arguments);
    unsigned long begin = take_ticket();
    return after_open(begin, real_openat64(directory, path, flags, mode), flags, path);
}

// _FORTIFY_SOURCE turns open(path, flags) without a mode into these.
int __open_2(const char *path, int flags) {
    setup();
    REAL(__open_2);
    unsigned long begin = take_ticket();
    return after_open(begin, real___open_2(path, flags), flags, path);
}

int __open64_2(const char *path, int flags) {
    setup();
    REAL(__open64_2);
    unsigned long begin = take_ticket();
    return after_open(begin, real___open64_2(path, flags), flags, path);
}

int close(int fd) {
    setup();
    REAL(close);
    if (!is_watched(fd)) return real_close(fd);
    char path[4096];
    path_of(fd, path, sizeof path);
    // Cleared before the real close: afterwards another thread may already own the number again.
    atomic_store(&watched[fd], 0);
    unsigned long begin = take_ticket();
    int result = real_close(fd);
    int saved = errno;
    emit(begin, take_ticket(), "close", "fd=%d\tret=%d\terrno=%d\tpath=%s", fd, result, result ? saved : 0, path);
    errno = saved;
    return result;
}

static void log_write(unsigned long begin, int fd, ssize_t result, int saved, size_t count) {
    unsigned long end = take_ticket();
    char path[4096];
    path_of(fd, path, sizeof path);
    emit(begin, end, "write", "fd=%d\tret=%zd\terrno=%d\tn=%zu\tpath=%s", fd, result, result < 0 ? saved : 0, count,
        path);
}

// The status of an HTTP response whose head starts `bytes`, or 0. Logged before the real call, so its
// begin ticket is taken before the client can possibly see the status.
static int response_status(const void *bytes, size_t count) {
    const char *text = bytes;
    if (!text || count < 12 || memcmp(text, "HTTP/1.", 7) != 0 || text[8] != ' ') return 0;
    for (int index = 9; index < 12; index++) {
        if (text[index] < '0' || text[index] > '9') return 0;
    }
    return (text[9] - '0') * 100 + (text[10] - '0') * 10 + (text[11] - '0');
}

static void log_response(int fd, const void *bytes, size_t count) {
    if (!enabled()) return;
    int status = response_status(bytes, count);
    if (status == 0) return;
    int saved = errno;
    unsigned long begin = take_ticket();
    emit(begin, begin, "respond", "fd=%d\tstatus=%d", fd, status);
    errno = saved;
}

ssize_t write(int fd, const void *bytes, size_t count) {
    setup();
    REAL(write);
    if (!is_watched(fd)) {
        log_response(fd, bytes, count);
        return real_write(fd, bytes, count);
    }
    unsigned long begin = take_ticket();
    ssize_t result = real_write(fd, bytes, count);
    int saved = errno;
    log_write(begin, fd, result, saved, count);
    errno = saved;
    return result;
}

ssize_t pwrite(int fd, const void *bytes, size_t count, off_t offset) {
    setup();
    REAL(pwrite);
    if (!is_watched(fd)) return real_pwrite(fd, bytes, count, offset);
    unsigned long begin = take_ticket();
    ssize_t result = real_pwrite(fd, bytes, count, offset);
    int saved = errno;
    log_write(begin, fd, result, saved, count);
    errno = saved;
    return result;
}

ssize_t pwrite64(int fd, const void *bytes, size_t count, off_t offset) {
    setup();
    REAL(pwrite64);
    if (!is_watched(fd)) return real_pwrite64(fd, bytes, count, offset);
    unsigned long begin = take_ticket();
    ssize_t result = real_pwrite64(fd, bytes, count, offset);
    int saved = errno;
    log_write(begin, fd, result, saved, count);
    errno = saved;
    return result;
}

static size_t total(const struct iovec *vectors, int count) {
    size_t sum = 0;
    for (int index = 0; index < count; index++) sum += vectors[index].iov_len;
    return sum;
}

ssize_t writev(int fd, const struct iovec *vectors, int count) {
    setup();
    REAL(writev);
    if (!is_watched(fd)) {
        if (count > 0) log_response(fd, vectors[0].iov_base, vectors[0].iov_len);
        return real_writev(fd, vectors, count);
    }
    unsigned long begin = take_ticket();
    ssize_t result = real_writev(fd, vectors, count);
    int saved = errno;
    log_write(begin, fd, result, saved, total(vectors, count));
    errno = saved;
    return result;
}

ssize_t send(int fd, const void *bytes, size_t count, int flags) {
    setup();
    REAL(send);
    log_response(fd, bytes, count);
    return real_send(fd, bytes, count, flags);
}

ssize_t sendmsg(int fd, const struct msghdr *message, int flags) {
    setup();
    REAL(sendmsg);
    if (message && message->msg_iovlen > 0) {
        log_response(fd, message->msg_iov[0].iov_base, message->msg_iov[0].iov_len);
    }
    return real_sendmsg(fd, message, flags);
}

static int sync_call(const char *call, int (*function)(int), int fd) {
    if (!enabled()) return function(fd);
    char path[4096];
    path_of(fd, path, sizeof path);
    if (!under_watch(path)) return function(fd);
    struct stat status;
    const char *kind = fstat(fd, &status) == 0 && S_ISDIR(status.st_mode) ? "dir" : "file";
    unsigned long begin = take_ticket();
    if (fail_while[0] && syscall(SYS_faccessat, AT_FDCWD, fail_while, F_OK) == 0
        && (!has_fail_regex || regexec(&fail_regex, path, 0, NULL, 0) == 0)) {
        emit(begin, take_ticket(), call, "fd=%d\tret=-1\terrno=%d\tkind=%s\tinjected=1\tpath=%s", fd, EIO, kind, path);
        errno = EIO;
        return -1;
    }
    int result = function(fd);
    int saved = errno;
    emit(begin, take_ticket(), call, "fd=%d\tret=%d\terrno=%d\tkind=%s\tinjected=0\tpath=%s", fd, result,
        result ? saved : 0, kind, path);
    errno = saved;
    return result;
}

int fsync(int fd) {
    setup();
    REAL(fsync);
    return sync_call("fsync", real_fsync, fd);
}

int fdatasync(int fd) {
    setup();
    REAL(fdatasync);
    return sync_call("fdatasync", real_fdatasync, fd);
}

static void log_rename(unsigned long begin, int result, int saved, const char *from, const char *to) {
    unsigned long end = take_ticket();
    if (enabled() && (under_watch(from) || under_watch(to))) {
        emit(begin, end, "rename", "ret=%d\terrno=%d\tpath=%s\tto=%s", result, result ? saved : 0, from, to);
    }
}

int rename(const char *from, const char *to) {
    setup();
    REAL(rename);
    unsigned long begin = take_ticket();
    int result = real_rename(from, to);
    int saved = errno;
    log_rename(begin, result, saved, from, to);
    errno = saved;
    return result;
}

int renameat(int from_directory, const char *from, int to_directory, const char *to) {
    setup();
    REAL(renameat);
    unsigned long begin = take_ticket();
    int result = real_renameat(from_directory, from, to_directory, to);
    int saved = errno;
    log_rename(begin, result, saved, from, to);
    errno = saved;
    return result;
}

int renameat2(int from_directory, const char *from, int to_directory, const char *to, unsigned int flags) {
    setup();
    REAL(renameat2);
    unsigned long begin = take_ticket();
    int result = real_renameat2(from_directory, from, to_directory, to, flags);
    int saved = errno;
    log_rename(begin, result, saved, from, to);
    errno = saved;
    return result;
}
