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

#endif
