/* io.c - files: mmap for reading, whole-file reads, atomic writes. */
#include "core/io.h"

#include <errno.h>
#include <fcntl.h>
#include <libgen.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "core/error.h"
#include "core/mem.h"

pt_status pt_map_file(const char *path, pt_mapped *m) {
    m->data = NULL;
    m->size = 0;
    int fd = open(path, O_RDONLY);
    if (fd < 0) return pt_fail(PT_ERR_IO, "%s: cannot open: %s", path, strerror(errno));
    struct stat st;
    if (fstat(fd, &st) != 0) {
        close(fd);
        return pt_fail(PT_ERR_IO, "%s: cannot stat: %s", path, strerror(errno));
    }
    if (!S_ISREG(st.st_mode)) {
        close(fd);
        return pt_fail(PT_ERR_IO, "%s: not a regular file", path);
    }
    if (st.st_size > 0) {
        void *p = mmap(NULL, (size_t)st.st_size, PROT_READ, MAP_PRIVATE, fd, 0);
        if (p == MAP_FAILED) {
            close(fd);
            return pt_fail(PT_ERR_IO, "%s: cannot map: %s", path, strerror(errno));
        }
        m->data = p;
        m->size = (size_t)st.st_size;
    }
    close(fd);
    return PT_OK;
}

void pt_unmap(pt_mapped *m) {
    if (m->data) munmap((void *)m->data, m->size);
    m->data = NULL;
    m->size = 0;
}

pt_status pt_read_file(const char *path, char **buf, size_t *len) {
    *buf = NULL;
    if (len) *len = 0;
    FILE *f = fopen(path, "rb");
    if (!f) return pt_fail(PT_ERR_IO, "%s: cannot open: %s", path, strerror(errno));
    size_t cap = 4096, n = 0;
    char *b = malloc(cap);
    if (!b) {
        fclose(f);
        return pt_fail(PT_ERR_NOMEM, "%s: out of memory", path);
    }
    for (;;) {
        if (n + 1 >= cap) {
            if (cap > ((size_t)1 << 40)) {
                free(b);
                fclose(f);
                return pt_fail(PT_ERR_NOMEM, "%s: file too large", path);
            }
            char *nb = realloc(b, cap * 2);
            if (!nb) {
                free(b);
                fclose(f);
                return pt_fail(PT_ERR_NOMEM, "%s: out of memory", path);
            }
            b = nb;
            cap *= 2;
        }
        size_t r = fread(b + n, 1, cap - 1 - n, f);
        n += r;
        if (r == 0) break;
    }
    int err = ferror(f);
    fclose(f);
    if (err) {
        free(b);
        return pt_fail(PT_ERR_IO, "%s: read error", path);
    }
    b[n] = '\0';
    *buf = b;
    if (len) *len = n;
    return PT_OK;
}

/* "path" names a file we may replace: absent, or a regular file (through a
 * symlink too). st receives its status when it exists. */
static pt_status check_target(const char *path, struct stat *st, int *exists) {
    size_t n = strlen(path);
    *exists = 0;
    if (n == 0) return pt_fail(PT_ERR_IO, "an output file name is empty");
    if (path[n - 1] == '/') return pt_fail(PT_ERR_IO, "%s: is a directory name, not a file", path);
    if (stat(path, st) == 0) {
        if (S_ISDIR(st->st_mode))
            return pt_fail(PT_ERR_IO, "%s: is a directory (give a file name)", path);
        if (!S_ISREG(st->st_mode))
            return pt_fail(PT_ERR_IO, "%s: not a regular file; ptune replaces only regular files",
                           path);
        *exists = 1;
    }
    return PT_OK;
}

pt_status pt_atomic_open(pt_atomic_file *af, const char *path) {
    static unsigned counter;
    memset(af, 0, sizeof *af);
    struct stat st;
    int exists;
    pt_status s = check_target(path, &st, &exists);
    if (s) return s;
    size_t n = strlen(path) + 48;
    af->path = pt_strdup(path);
    af->tmp = malloc(n);
    if (!af->path || !af->tmp) {
        pt_atomic_abort(af);
        return pt_fail(PT_ERR_NOMEM, "out of memory");
    }
    /* "<path>.tmp.<pid>.<unique>", created exclusively: an existing file or a
     * planted symlink of that name is never opened, let alone truncated */
    int fd = -1, err = 0;
    for (int tries = 0; tries < 100 && fd < 0; tries++) {
        struct timespec ts;
        clock_gettime(CLOCK_REALTIME, &ts);
        unsigned u = (unsigned)ts.tv_nsec ^ (unsigned)ts.tv_sec * 2654435761u ^ ++counter * 40503u;
        snprintf(af->tmp, n, "%s.tmp.%ld.%08x", path, (long)getpid(), u);
        fd = open(af->tmp, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC | O_NOFOLLOW, 0666);
        err = errno;
        if (fd < 0 && err != EEXIST) break;
    }
    if (fd < 0) {
        s = pt_fail(PT_ERR_IO, "%s: cannot write: %s", path, strerror(err));
        free(af->path);
        free(af->tmp);
        memset(af, 0, sizeof *af);
        return s;
    }
    /* an existing output keeps its permissions (a 0444 file stays 0444) */
    if (exists) (void)fchmod(fd, st.st_mode & 07777);
    af->f = fdopen(fd, "wb");
    if (!af->f) {
        close(fd);
        unlink(af->tmp);
        free(af->path);
        free(af->tmp);
        memset(af, 0, sizeof *af);
        return pt_fail(PT_ERR_NOMEM, "out of memory");
    }
    return PT_OK;
}

pt_status pt_output_check(const char *path) {
    pt_atomic_file af;
    pt_status s = pt_atomic_open(&af, path);
    if (s) return s;
    pt_atomic_abort(&af);
    return PT_OK;
}

pt_status pt_atomic_write(pt_atomic_file *af, const void *data, size_t n) {
    if (n && fwrite(data, 1, n, af->f) != n)
        return pt_fail(PT_ERR_IO, "%s: write failed: %s", af->path, strerror(errno));
    return PT_OK;
}

static void fsync_parent_dir(const char *path) {
    char *copy = pt_strdup(path);
    if (!copy) return;
    int fd = open(dirname(copy), O_RDONLY);
    if (fd >= 0) {
        fsync(fd);
        close(fd);
    }
    free(copy);
}

pt_status pt_atomic_commit(pt_atomic_file *af) {
    pt_status s = PT_OK;
    if (fflush(af->f) != 0 || fsync(fileno(af->f)) != 0)
        s = pt_fail(PT_ERR_IO, "%s: write failed: %s", af->path, strerror(errno));
    if (fclose(af->f) != 0 && s == PT_OK)
        s = pt_fail(PT_ERR_IO, "%s: write failed: %s", af->path, strerror(errno));
    af->f = NULL;
    if (s == PT_OK && rename(af->tmp, af->path) != 0)
        s = pt_fail(PT_ERR_IO, "%s: cannot rename into place: %s", af->path, strerror(errno));
    if (s == PT_OK)
        fsync_parent_dir(af->path);
    else
        unlink(af->tmp);
    free(af->path);
    free(af->tmp);
    memset(af, 0, sizeof *af);
    return s;
}

void pt_atomic_abort(pt_atomic_file *af) {
    if (af->f) fclose(af->f);
    if (af->tmp) unlink(af->tmp);
    free(af->path);
    free(af->tmp);
    memset(af, 0, sizeof *af);
}

pt_status pt_write_file_atomic(const char *path, const void *data, size_t n) {
    pt_atomic_file af;
    pt_status s = pt_atomic_open(&af, path);
    if (s) return s;
    s = pt_atomic_write(&af, data, n);
    if (s) {
        pt_atomic_abort(&af);
        return s;
    }
    return pt_atomic_commit(&af);
}

int pt_file_exists(const char *path) {
    struct stat st;
    return stat(path, &st) == 0 && S_ISREG(st.st_mode);
}

int pt_is_dir(const char *path) {
    struct stat st;
    return stat(path, &st) == 0 && S_ISDIR(st.st_mode);
}

char *pt_path_join(const char *dir, const char *name) {
    size_t a = strlen(dir), b = strlen(name);
    char *p = malloc(a + b + 2);
    if (!p) return NULL;
    memcpy(p, dir, a);
    size_t k = a;
    if (a && dir[a - 1] != '/') p[k++] = '/';
    memcpy(p + k, name, b + 1);
    return p;
}
