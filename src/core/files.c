/* files.c - same-file test, output locks, stale temporary files, FNV-1a
 * (see files.h). */
#include "core/files.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>

#include "core/error.h"
#include "core/mem.h"

/* The directory part of path ("." when none) and a pointer to its last name. */
static char *dir_of(const char *path, const char **base) {
    const char *slash = strrchr(path, '/');
    *base = slash ? slash + 1 : path;
    if (!slash) return pt_strdup(".");
    if (slash == path) return pt_strdup("/");
    return pt_strndup(path, (size_t)(slash - path));
}

/* The resolved absolute path of a file that may not exist yet (NULL when its
 * directory does not exist either). */
static char *resolve(const char *path) {
    char *r = realpath(path, NULL);
    if (r) return r;
    const char *base;
    char *dir = dir_of(path, &base);
    if (!dir) return NULL;
    char *rd = realpath(dir, NULL);
    free(dir);
    if (!rd) return NULL;
    size_t n = strlen(rd) + strlen(base) + 2;
    char *out = malloc(n);
    if (out) snprintf(out, n, "%s%s%s", rd, strcmp(rd, "/") ? "/" : "", base);
    free(rd);
    return out;
}

int pt_same_file(const char *a, const char *b) {
    struct stat sa, sb;
    if (stat(a, &sa) == 0 && stat(b, &sb) == 0)
        return sa.st_dev == sb.st_dev && sa.st_ino == sb.st_ino;
    char *ra = resolve(a), *rb = resolve(b);
    int same = ra && rb ? !strcmp(ra, rb) : !strcmp(a, b);
    free(ra);
    free(rb);
    return same;
}

pt_status pt_lock_acquire(pt_lock *l, const char *path) {
    l->fd = -1;
    size_t n = strlen(path) + 6;
    l->path = malloc(n);
    if (!l->path) return pt_fail(PT_ERR_NOMEM, "out of memory");
    snprintf(l->path, n, "%s.lock", path);
    for (int tries = 0; tries < 100; tries++) {
        int fd = open(l->path, O_RDWR | O_CREAT | O_CLOEXEC | O_NOFOLLOW, 0666);
        if (fd < 0) {
            pt_status s =
                pt_fail(PT_ERR_IO, "%s: cannot create the lock file: %s", l->path, strerror(errno));
            free(l->path);
            l->path = NULL;
            return s;
        }
        if (flock(fd, LOCK_EX | LOCK_NB) != 0) {
            int err = errno;
            char pid[32] = "";
            ssize_t k = pread(fd, pid, sizeof pid - 1, 0);
            pid[k > 0 ? k : 0] = '\0';
            pid[strcspn(pid, "\n")] = '\0';
            close(fd);
            pt_status s =
                err == EWOULDBLOCK
                    ? pt_fail(PT_ERR_IO,
                              "%s is being written by another run (process %s holds %s); wait "
                              "for it to finish or choose another output",
                              path, pid[0] ? pid : "?", l->path)
                    : pt_fail(PT_ERR_IO, "%s: cannot lock: %s", l->path, strerror(err));
            free(l->path);
            l->path = NULL;
            return s;
        }
        /* the holder before us may have removed the file after we opened it:
         * the lock counts only on the file that still has the name */
        struct stat a, b;
        if (fstat(fd, &a) == 0 && stat(l->path, &b) == 0 && a.st_dev == b.st_dev &&
            a.st_ino == b.st_ino) {
            char pid[32];
            int len = snprintf(pid, sizeof pid, "%ld\n", (long)getpid());
            if (ftruncate(fd, 0) == 0 && pwrite(fd, pid, (size_t)len, 0) != len) {
                /* the pid is only informative */
            }
            l->fd = fd;
            return PT_OK;
        }
        close(fd);
    }
    pt_status s = pt_fail(PT_ERR_IO, "%s: cannot lock (the file keeps being replaced)", l->path);
    free(l->path);
    l->path = NULL;
    return s;
}

void pt_lock_release(pt_lock *l) {
    if (l->fd >= 0) {
        unlink(l->path); /* while still holding it: see pt_lock_acquire */
        close(l->fd);
    }
    free(l->path);
    l->fd = -1;
    l->path = NULL;
}

int pt_clean_stale_temps(const char *path) {
    const char *base;
    char *dir = dir_of(path, &base);
    if (!dir) return 0;
    DIR *d = opendir(dir);
    int removed = 0;
    size_t bl = strlen(base);
    struct dirent *e;
    while (d && (e = readdir(d))) {
        const char *nm = e->d_name;
        if (strncmp(nm, base, bl) || strncmp(nm + bl, ".tmp.", 5)) continue;
        const char *q = nm + bl + 5;
        char *end;
        errno = 0;
        long pid = strtol(q, &end, 10);
        if (errno || end == q || pid <= 0 || pid > INT_MAX || (*end && *end != '.')) continue;
        if (*end == '.') { /* ".<hex>" and nothing else */
            const char *h = end + 1;
            if (!*h || strspn(h, "0123456789abcdef") != strlen(h)) continue;
        }
        if (pid == (long)getpid() || kill((pid_t)pid, 0) == 0 || errno != ESRCH) continue;
        char *full = malloc(strlen(dir) + strlen(nm) + 2);
        if (!full) break;
        sprintf(full, "%s/%s", dir, nm);
        struct stat st;
        /* lstat: a symlink is removed itself, never what it points to */
        if (lstat(full, &st) == 0 && (S_ISREG(st.st_mode) || S_ISLNK(st.st_mode)) &&
            unlink(full) == 0)
            removed++;
        free(full);
    }
    if (d) closedir(d);
    free(dir);
    return removed;
}

uint64_t pt_fnv1a64(const void *data, size_t n, uint64_t h) {
    const unsigned char *p = data;
    for (size_t i = 0; i < n; i++) {
        h ^= p[i];
        h *= 1099511628211ULL;
    }
    return h;
}
