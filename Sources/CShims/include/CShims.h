#ifndef NEWSD_CSHIMS_H
#define NEWSD_CSHIMS_H

/// Flushes the whole file system that holds `fd` (Linux syncfs(2)), which Swift's Glibc
/// module does not export. Returns 0 or -1 with errno set.
int newsd_syncfs(int fd);

#endif
