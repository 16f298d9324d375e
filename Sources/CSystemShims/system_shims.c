#define _GNU_SOURCE
#include "system_shims.h"

#include <errno.h>
#include <pthread.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <sys/file.h>
#include <sys/prctl.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

/* A real-time signal that nothing else in the process uses; its handler does nothing. Installed
   without SA_RESTART, so it makes a blocked flock return EINTR. */
static int wake_signal(void) { return SIGRTMIN + 6; }

static void ignore_wake(int signal_number) { (void)signal_number; }

static pthread_once_t install_once = PTHREAD_ONCE_INIT;

static void install_handler(void) {
    struct sigaction action;
    memset(&action, 0, sizeof action);
    action.sa_handler = ignore_wake;
    sigemptyset(&action.sa_mask);
    action.sa_flags = 0;
    sigaction(wake_signal(), &action, NULL);
}

static int64_t monotonic_ms(void) {
    struct timespec now;
    clock_gettime(CLOCK_MONOTONIC, &now);
    return (int64_t)now.tv_sec * 1000 + now.tv_nsec / 1000000;
}


int surveycharts_flock_with_timeout(int fd, int operation, int64_t timeout_ms) {
    /* Most locks are free (a writer locks the file it has just created): take those without
       arming a timer, which costs three system calls and a signal mask change. */
    if (flock(fd, operation | LOCK_NB) == 0) return 0;
    if (errno != EWOULDBLOCK) return -errno;
    if (timeout_ms <= 0) return -ETIMEDOUT;
    pthread_once(&install_once, install_handler);

    sigset_t unblock;
    sigemptyset(&unblock);
    sigaddset(&unblock, wake_signal());
    sigset_t previous_mask;
    pthread_sigmask(SIG_UNBLOCK, &unblock, &previous_mask);

    struct sigevent event;
    memset(&event, 0, sizeof event);
    event.sigev_notify = SIGEV_THREAD_ID;
    event.sigev_signo = wake_signal();
    event._sigev_un._tid = (pid_t)syscall(SYS_gettid);
    timer_t timer;
    if (timer_create(CLOCK_MONOTONIC, &event, &timer) != 0) {
        int saved = errno;
        pthread_sigmask(SIG_SETMASK, &previous_mask, NULL);
        return -saved;
    }
    struct itimerspec schedule;
    memset(&schedule, 0, sizeof schedule);
    schedule.it_value.tv_sec = timeout_ms / 1000;
    schedule.it_value.tv_nsec = (timeout_ms % 1000) * 1000000;
    schedule.it_interval.tv_nsec = 5 * 1000000; /* re-fire until we notice */
    int64_t deadline = monotonic_ms() + timeout_ms;
    timer_settime(timer, 0, &schedule, NULL);

    int result;
    for (;;) {
        if (flock(fd, operation) == 0) {
            result = 0;
            break;
        }
        if (errno != EINTR) {
            result = -errno;
            break;
        }
        if (monotonic_ms() >= deadline) {
            result = -ETIMEDOUT;
            break;
        }
    }
    timer_delete(timer);
    pthread_sigmask(SIG_SETMASK, &previous_mask, NULL);
    return result;
}

void surveycharts_set_thread_name(const char *name) { prctl(PR_SET_NAME, (unsigned long)name, 0, 0, 0); }

void surveycharts_get_thread_name(char *buffer, int capacity) {
    char name[17] = {0};
    prctl(PR_GET_NAME, (unsigned long)name, 0, 0, 0);
    snprintf(buffer, (size_t)capacity, "%s", name);
}

static void *watch_parent(void *argument) {
    pid_t parent = (pid_t)(intptr_t)argument;
    prctl(PR_SET_NAME, (unsigned long)"parent-watch", 0, 0, 0);
    for (;;) {
        if (getppid() != parent) {
            kill(getpid(), SIGTERM);
            return NULL;
        }
        struct timespec pause = {.tv_sec = 0, .tv_nsec = 200 * 1000 * 1000};
        nanosleep(&pause, NULL);
    }
}

void surveycharts_terminate_with_parent(void) {
    pid_t parent = getppid();
    if (parent <= 1) return;
    pthread_t thread;
    pthread_attr_t attributes;
    pthread_attr_init(&attributes);
    pthread_attr_setdetachstate(&attributes, PTHREAD_CREATE_DETACHED);
    pthread_attr_setstacksize(&attributes, 64 * 1024);
    if (pthread_create(&thread, &attributes, watch_parent, (void *)(intptr_t)parent) != 0) {
        /* Without the thread, the kernel's weaker rule is better than nothing. */
        prctl(PR_SET_PDEATHSIG, SIGTERM, 0, 0, 0);
    }
    pthread_attr_destroy(&attributes);
}
