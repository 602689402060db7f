#define _GNU_SOURCE
#include <malloc.h>
#include <stdio.h>
#include <unistd.h>
#include <sys/syscall.h>
#include <linux/fs.h>
#include <fcntl.h>
#include <errno.h>
#include <string.h>
#include <signal.h>
#include "CShims.h"

int newsd_syncfs(int fd) { return syncfs(fd); }

int newsd_rename_exchange(int olddirfd, const char *oldpath, int newdirfd, const char *newpath) {
    return (int)syscall(SYS_renameat2, olddirfd, oldpath, newdirfd, newpath, RENAME_EXCHANGE);
}

int newsd_rename_noreplace(int olddirfd, const char *oldpath, int newdirfd, const char *newpath) {
    return (int)syscall(SYS_renameat2, olddirfd, oldpath, newdirfd, newpath, RENAME_NOREPLACE);
}

int newsd_has_writers(int fd) {
    // A lease broken while held is signalled with SIGIO, whose default action ends the process.
    // The lease is released at once and nothing here waits for the signal: ignore it.
    static int sigio_ignored = 0;
    if (!sigio_ignored) {
        signal(SIGIO, SIG_IGN);
        sigio_ignored = 1;
    }
    if (fcntl(fd, F_SETLEASE, F_RDLCK) == 0) {
        fcntl(fd, F_SETLEASE, F_UNLCK);
        return 0;
    }
    return errno == EAGAIN ? 1 : -1;
}

int newsd_write_all(int fd, const void *buf, unsigned long len) {
    const char *p = buf;
    while (len > 0) {
        ssize_t n = write(fd, p, len);
        if (n < 0) {
            if (errno == EINTR) continue;
            return -1;
        }
        p += n;
        len -= (unsigned long)n;
    }
    return 0;
}

const void *newsd_memmem(const void *haystack, unsigned long haystack_len, const void *needle, unsigned long needle_len) {
    return memmem(haystack, haystack_len, needle, needle_len);
}

int newsd_malloc_trim(void) {
    return malloc_trim(0);
}
