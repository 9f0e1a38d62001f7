/* SPDX-License-Identifier: Apache-2.0 */
#include "store/diskcap.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "common/diag.h"

/* Entries looked at per pass, at most. */
#define SCAN_MAX 100000

enum kind { CURRENT, ROTATED, OTHER };

/* Deletion classes, in the order files go. */
enum class { IDLE_ROTATED, IDLE_CURRENT, LIVE_ROTATED, KEEP };

struct file {
	unsigned dir; /* index into dirs */
	enum class cls;
	int64_t mtime_ns;
	uint64_t bytes;
	char name[96];
};

struct dir {
	char id[65];
	bool active;
	bool removed;
	int64_t newest_ns;
	unsigned files; /* files of ours left in it */
};

struct scan {
	struct file *files;
	size_t n_files, cap_files;
	struct dir *dirs;
	size_t n_dirs, cap_dirs;
	uint64_t total;
	size_t seen;
};

static bool is_id(const char *s)
{
	size_t i;

	for (i = 0; i < 64; i++) {
		if (!((s[i] >= '0' && s[i] <= '9') ||
		      (s[i] >= 'a' && s[i] <= 'f')))
			return false;
	}
	return s[64] == '\0';
}

/* "<id>-json.log" is current; "<id>-json.log.<n>[.gz]" rotated. */
static enum kind kind_of(const char *id, const char *name)
{
	const char *p;

	if (strncmp(name, id, 64) != 0 || strncmp(name + 64, "-json.log", 9))
		return OTHER;
	p = name + 73;
	if (*p == '\0')
		return CURRENT;
	if (*p++ != '.' || *p < '1' || *p > '9')
		return OTHER;
	while (*p >= '0' && *p <= '9')
		p++;
	if (*p == '\0' || strcmp(p, ".gz") == 0)
		return ROTATED;
	return OTHER; /* ".gz.tmp": being compressed */
}

static int64_t mtime_of(const struct stat *st)
{
	return (int64_t)st->st_mtim.tv_sec * 1000000000 + st->st_mtim.tv_nsec;
}

static int add_file(struct scan *sc, unsigned dir, enum class cls,
		    const struct stat *st, const char *name)
{
	struct file *f;

	if (sc->n_files == sc->cap_files) {
		size_t cap = sc->cap_files < 64 ? 64 : sc->cap_files * 2;
		struct file *v = realloc(sc->files, cap * sizeof(*v));

		if (v == NULL)
			return -ENOMEM;
		sc->files = v;
		sc->cap_files = cap;
	}
	f = &sc->files[sc->n_files++];
	f->dir = dir;
	f->cls = cls;
	f->mtime_ns = mtime_of(st);
	f->bytes = (uint64_t)st->st_blocks * 512;
	strncpy(f->name, name, sizeof(f->name) - 1);
	f->name[sizeof(f->name) - 1] = '\0';
	return 0;
}

static int scan_dir(struct scan *sc, int rootfd, const char *id, bool active)
{
	struct dirent *de;
	struct dir *d;
	unsigned di;
	DIR *dp;
	int fd;
	int rc = 0;

	fd = openat(rootfd, id,
		    O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
	if (fd == -1)
		return 0;
	dp = fdopendir(fd);
	if (dp == NULL) {
		close(fd);
		return 0;
	}
	if (sc->n_dirs == sc->cap_dirs) {
		size_t cap = sc->cap_dirs < 16 ? 16 : sc->cap_dirs * 2;
		struct dir *v = realloc(sc->dirs, cap * sizeof(*v));

		if (v == NULL) {
			closedir(dp);
			return -ENOMEM;
		}
		sc->dirs = v;
		sc->cap_dirs = cap;
	}
	di = (unsigned)sc->n_dirs++;
	d = &sc->dirs[di];
	memset(d, 0, sizeof(*d));
	memcpy(d->id, id, 65);
	d->active = active;
	while ((de = readdir(dp)) != NULL && sc->seen++ < SCAN_MAX) {
		struct stat st;
		enum kind k;
		enum class cls;

		if (de->d_name[0] == '.' ||
		    fstatat(fd, de->d_name, &st, AT_SYMLINK_NOFOLLOW) == -1 ||
		    !S_ISREG(st.st_mode))
			continue;
		sc->total += (uint64_t)st.st_blocks * 512;
		if (mtime_of(&st) > d->newest_ns)
			d->newest_ns = mtime_of(&st);
		k = kind_of(id, de->d_name);
		if (k == OTHER)
			continue;
		d->files++;
		if (k == CURRENT)
			cls = active ? KEEP : IDLE_CURRENT;
		else
			cls = active ? LIVE_ROTATED : IDLE_ROTATED;
		rc = add_file(sc, di, cls, &st, de->d_name);
		if (rc != 0)
			break;
	}
	closedir(dp);
	return rc;
}

static int cmp_files(const void *a, const void *b)
{
	const struct file *x = a, *y = b;

	if (x->cls != y->cls)
		return x->cls < y->cls ? -1 : 1;
	return x->mtime_ns < y->mtime_ns ? -1 : x->mtime_ns > y->mtime_ns;
}

static bool delete_file(int rootfd, struct scan *sc, struct file *f)
{
	struct dir *d = &sc->dirs[f->dir];
	char rel[65 + sizeof(f->name)];

	memcpy(rel, d->id, 64);
	rel[64] = '/';
	memcpy(rel + 65, f->name, sizeof(f->name));
	if (unlinkat(rootfd, rel, 0) == -1 && errno != ENOENT)
		return false;
	sc->total = sc->total > f->bytes ? sc->total - f->bytes : 0;
	d->files--;
	f->cls = KEEP; /* gone: never again */
	return true;
}

/* Remove what is left of a container's directory (only ours is there). */
static bool remove_dir(int rootfd, struct scan *sc, struct dir *d,
		       struct diskcap_stats *out)
{
	for (size_t i = 0; i < sc->n_files; i++) {
		struct file *f = &sc->files[i];

		if (&sc->dirs[f->dir] == d && f->cls != KEEP &&
		    delete_file(rootfd, sc, f))
			out->files_deleted++;
	}
	if (d->files == 0 && unlinkat(rootfd, d->id, AT_REMOVEDIR) == 0) {
		d->removed = true;
		out->dirs_deleted++;
		return true;
	}
	return false;
}

int diskcap_pass(const char *log_root, uint64_t max_disk,
		 int64_t keep_stopped_ns, int64_t now_real_ns,
		 diskcap_active_cb *active, void *arg,
		 struct diskcap_stats *out)
{
	struct scan sc;
	struct dirent *de;
	DIR *root;
	int rootfd;
	int rc = 0;

	memset(out, 0, sizeof(*out));
	memset(&sc, 0, sizeof(sc));
	rootfd = open(log_root, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (rootfd == -1)
		return -errno;
	root = fdopendir(dup(rootfd));
	if (root == NULL) {
		rc = -errno;
		close(rootfd);
		return rc;
	}
	while ((de = readdir(root)) != NULL && sc.seen++ < SCAN_MAX) {
		if (!is_id(de->d_name))
			continue;
		rc = scan_dir(&sc, rootfd, de->d_name, active(arg, de->d_name));
		if (rc != 0)
			break;
	}
	closedir(root);
	out->bytes_before = sc.total;
	if (rc != 0)
		goto out;

	/* Stopped long enough ago: the whole container goes. */
	for (size_t i = 0; keep_stopped_ns > 0 && i < sc.n_dirs; i++) {
		struct dir *d = &sc.dirs[i];

		if (!d->active && d->newest_ns != 0 &&
		    now_real_ns - d->newest_ns > keep_stopped_ns)
			remove_dir(rootfd, &sc, d, out);
	}

	if (sc.n_files > 0)
		qsort(sc.files, sc.n_files, sizeof(*sc.files), cmp_files);
	for (size_t i = 0;
	     max_disk > 0 && sc.total > max_disk && i < sc.n_files; i++) {
		struct file *f = &sc.files[i];

		if (f->cls == KEEP)
			continue;
		if (delete_file(rootfd, &sc, f))
			out->files_deleted++;
	}
	out->over_cap = max_disk > 0 && sc.total > max_disk;
	/* Empty directories of containers that are not logging. */
	for (size_t i = 0; i < sc.n_dirs; i++) {
		struct dir *d = &sc.dirs[i];

		if (!d->active && !d->removed && d->files == 0 &&
		    unlinkat(rootfd, d->id, AT_REMOVEDIR) == 0)
			out->dirs_deleted++;
	}
out:
	out->bytes_after = sc.total;
	if (out->files_deleted > 0 || out->dirs_deleted > 0)
		diag(DIAG_INFO,
		     "disk: %llu bytes under %s, now %llu: deleted %u files "
		     "and %u directories",
		     (unsigned long long)out->bytes_before, log_root,
		     (unsigned long long)out->bytes_after, out->files_deleted,
		     out->dirs_deleted);
	free(sc.files);
	free(sc.dirs);
	close(rootfd);
	return rc;
}
