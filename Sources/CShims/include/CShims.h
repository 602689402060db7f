#ifndef NEWSD_CSHIMS_H
#define NEWSD_CSHIMS_H

/// Flushes the whole file system that holds `fd` (Linux syncfs(2)), which Swift's Glibc
/// module does not export. Returns 0 or -1 with errno set.
int newsd_syncfs(int fd);

/// renameat2(2) with RENAME_EXCHANGE: swaps the two names atomically. -1 with errno set
/// (EINVAL where the file system lacks it).
int newsd_rename_exchange(int olddirfd, const char *oldpath, int newdirfd, const char *newpath);

/// renameat2(2) with RENAME_NOREPLACE: fails with EEXIST instead of replacing `newpath`.
int newsd_rename_noreplace(int olddirfd, const char *oldpath, int newdirfd, const char *newpath);

/// Whether any process has the file open for writing: tries a read lease (F_SETLEASE, F_RDLCK),
/// which the kernel refuses while a writer holds the file, and releases it at once. Returns 0 for
/// no writer, 1 for a writer, -1 when it cannot tell (not the file's owner and no CAP_LEASE, or a
/// file system without leases). `fd` must be open read-only.
int newsd_has_writers(int fd);

/// Writes all `len` bytes to `fd`, retrying writes a signal interrupted (EINTR) and short
/// writes. Returns 0, or -1 with errno set on the first other failure (EPIPE, ENOSPC, ...).
int newsd_write_all(int fd, const void *buf, unsigned long len);

/// malloc_trim(3): returns the free pages of every malloc arena to the system. glibc's
/// <malloc.h>, which Swift's Glibc module does not export.
int newsd_malloc_trim(void);

/// memmem(3), a GNU extension Swift's Glibc module does not export: the first place `needle`
/// occurs in `haystack`, or NULL.
const void *newsd_memmem(const void *haystack, unsigned long haystack_len, const void *needle, unsigned long needle_len);

#endif
