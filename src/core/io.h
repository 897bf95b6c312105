/* io.h - files: mmap for reading, whole-file reads, atomic writes. */
#ifndef PT_CORE_IO_H
#define PT_CORE_IO_H

#include <stddef.h>
#include <stdio.h>

#include "ptune.h"

typedef struct pt_mapped {
    const unsigned char *data; /* read-only mapping (NULL if size 0) */
    size_t size;
} pt_mapped;

/* Map a whole file read-only. Errors name the path. */
pt_status pt_map_file(const char *path, pt_mapped *m);
void pt_unmap(pt_mapped *m);

/* Read a whole file into a NUL-terminated heap buffer (*len excludes the NUL). */
pt_status pt_read_file(const char *path, char **buf, size_t *len);

/* Atomic writer: writes go to "<path>.tmp.<pid>.<unique>", created
 * exclusively (O_CREAT|O_EXCL|O_NOFOLLOW: an existing file or a planted
 * symlink of that name is never followed); commit fsyncs, renames over path
 * and fsyncs the directory; abort removes the temporary file. A crash
 * mid-write leaves the previous file intact. An existing path must be a
 * regular file (not a directory, device or fifo) and keeps its permission
 * bits; a new one gets 0666 less the umask. */
typedef struct pt_atomic_file {
    FILE *f;
    char *path;
    char *tmp;
} pt_atomic_file;

pt_status pt_atomic_open(pt_atomic_file *af, const char *path);
pt_status pt_atomic_write(pt_atomic_file *af, const void *data, size_t n);
pt_status pt_atomic_commit(pt_atomic_file *af);
void pt_atomic_abort(pt_atomic_file *af);
/* Check now that path could be written by pt_atomic_open (its directory
 * exists and is writable, it is no directory): creates and removes a
 * temporary file. */
pt_status pt_output_check(const char *path);
/* Convenience: write a whole buffer atomically. */
pt_status pt_write_file_atomic(const char *path, const void *data, size_t n);

int pt_file_exists(const char *path);
int pt_is_dir(const char *path);
/* Join a directory and a file name into a heap string (NULL on failure). */
char *pt_path_join(const char *dir, const char *name);

#endif
