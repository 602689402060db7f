#ifndef NEWSD_CSPAWN_H
#define NEWSD_CSPAWN_H
#include <spawn.h>

/// Adds "close every descriptor from `low` up" to a spawn's file actions (glibc's
/// posix_spawn_file_actions_addclosefrom_np, a GNU extension Swift's Glibc module leaves out).
int newsd_spawn_close_from(posix_spawn_file_actions_t *actions, int low);

#endif
