/* files.h - guards around the files a run reads and writes: is an output the
 * same file as an input, one writer per output (a lock file), leftovers of
 * dead writers, and a content hash to notice a changed input. */
#ifndef PT_CORE_FILES_H
#define PT_CORE_FILES_H

#include <stddef.h>
#include <stdint.h>

#include "ptune.h"

/* 1 when a and b name the same file: the same device and inode (symlinks and
 * hard links followed), or the same resolved path (for a file that does not
 * exist yet: its directory resolved, plus its name). */
int pt_same_file(const char *a, const char *b);

/* An exclusive lock on "<path>.lock" (flock, never blocking): a second
 * process asking for the same path gets PT_ERR_IO with a message naming the
 * lock file and, when it can be read, the holder's process id. The lock file
 * holds the owner's pid; pt_lock_release removes it. A process that dies
 * loses its lock; the file left behind is reused. */
typedef struct pt_lock {
    int fd; /* -1 when not held */
    char *path;
} pt_lock;

pt_status pt_lock_acquire(pt_lock *l, const char *path);
void pt_lock_release(pt_lock *l);

/* Remove the temporary files "<path>.tmp.<pid>[.<unique>]" that pt_atomic_open
 * made for path in processes that no longer exist (a crash or SIGKILL in the
 * middle of a write). Returns how many were removed. Call it only while
 * holding path's lock. */
int pt_clean_stale_temps(const char *path);

/* 64-bit FNV-1a over n bytes, continuing from h (start with PT_FNV_OFFSET). */
#define PT_FNV_OFFSET 14695981039346656037ULL
uint64_t pt_fnv1a64(const void *data, size_t n, uint64_t h);

#endif
