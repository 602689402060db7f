#define _GNU_SOURCE
#include <unistd.h>
#include "CShims.h"

int newsd_syncfs(int fd) { return syncfs(fd); }
