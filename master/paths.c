/* SPDX-License-Identifier: MIT */
/*
 * Where a worker's data may be: beneath the workers dir, or beneath a
 * directory listed in fnwm.allowed_data_roots. A data dir there is the
 * manager's to create and delete, always through directory fds that
 * follow no symlink. A data dir elsewhere (one FuncNodes made) is used as
 * it is, but never created or deleted.
 */
#include <sys/stat.h>
#include <sys/wait.h>
#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "beneath.h"
#include "log.h"
#include "util.h"
#include "xmalloc.h"
#include "master.h"

/* Whether dir lies strictly beneath root; *rel is the path below it. */
static int
paths_below(const char *root, const char *dir, const char **rel)
{
	size_t n = strlen(root);

	while (n > 1 && root[n - 1] == '/')
		n--;
	if (strncmp(dir, root, n) != 0 || dir[n] != '/')
		return (0);
	dir += n;
	while (*dir == '/')
		dir++;
	if (*dir == '\0' || !fnwm_path_plain(dir))
		return (0);
	*rel = dir;
	return (1);
}

/*
 * Splits dir into the root it lies strictly beneath (the workers dir or an
 * allowed data root) and its path below it; 0, or -1 when it lies
 * elsewhere or has a "." or ".." component.
 */
static int
paths_confine(const struct fnwm_config *cfg, const char *dir, const char **root,
    const char **rel)
{
	size_t i;

	if (paths_below(cfg->workers_dir, dir, rel)) {
		*root = cfg->workers_dir;
		return (0);
	}
	for (i = 0; i < cfg->n_allowed_data_roots; i++)
		if (paths_below(cfg->allowed_data_roots[i], dir, rel)) {
			*root = cfg->allowed_data_roots[i];
			return (0);
		}
	return (-1);
}

int
paths_check_client(const struct fnwm_config *cfg, const char *value)
{
	const char *root, *rel;
	char *dir;
	int rc;

	if (value[0] != '/')
		return (fnwm_path_plain(value) ? 0 : -1);
	dir = xstrdup(value);
	rc = paths_confine(cfg, dir, &root, &rel);
	free(dir);
	return (rc);
}

static int
paths_open_root(const char *root)
{
	return (open(root, O_PATH | O_DIRECTORY | O_CLOEXEC));
}

int
paths_open_data_dir(const struct fnwm_config *cfg, const char *dir,
    int *confined)
{
	const char *root, *rel;
	int rfd, fd, saved;

	if (paths_confine(cfg, dir, &root, &rel) == 0) {
		*confined = 1;
		if ((rfd = paths_open_root(root)) == -1)
			return (-1);
		fd = fnwm_open_beneath(rfd, rel, O_PATH | O_DIRECTORY, 0);
		saved = errno;
		close(rfd);
		errno = saved;
		return (fd);
	}
	/* Made by FuncNodes elsewhere: used, its last step no symlink. */
	*confined = 0;
	return (open(dir, O_PATH | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC));
}

int
paths_make_data_dir(const struct fnwm_config *cfg, const char *dir)
{
	const char *root, *rel;
	int rfd, rc, saved;

	if (paths_confine(cfg, dir, &root, &rel) == -1) {
		errno = EXDEV;
		return (-1);
	}
	if ((rfd = paths_open_root(root)) == -1)
		return (-1);
	rc = fnwm_mkdir_beneath(rfd, rel, 0700);
	saved = errno;
	close(rfd);
	errno = saved;
	return (rc);
}

/* Removes a confined dir and all it holds; 0 or -1 (logged). */
static int
paths_rmtree(const char *root, const char *rel, const char *dir)
{
	const char *base;
	char name[256];
	int rfd, pfd, dfd = -1, rc = -1;
	size_t n;

	if ((rfd = paths_open_root(root)) == -1)
		goto out;
	pfd = fnwm_parent_beneath(rfd, rel, &base);
	close(rfd);
	if (pfd == -1)
		goto out;
	n = strcspn(base, "/");
	if (n < sizeof name) {
		memcpy(name, base, n);
		name[n] = '\0';
		/* fnwm_rmtree_at reads the directory: a real fd. */
		dfd = openat(pfd, ".", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	}
	close(pfd);
	if (dfd != -1 && fnwm_rmtree_at(dfd, name) == 0)
		rc = 0;
out:
	if (rc == -1)
		log_warn("remove data dir %s", dir);
	if (dfd != -1)
		close(dfd);
	return (rc);
}

int
paths_remove_new_dir(const struct fnwm_config *cfg, const char *dir)
{
	const char *root, *rel;

	if (paths_confine(cfg, dir, &root, &rel) == -1)
		return (-1);
	return (paths_rmtree(root, rel, dir));
}

pid_t
paths_remove_data_dir(const struct fnwm_config *cfg, const char *dir)
{
	const char *root, *rel;
	pid_t pid;

	if (paths_confine(cfg, dir, &root, &rel) == -1) {
		log_info("data dir %s is outside the workers dir and "
		         "fnwm.allowed_data_roots; left in place",
		    dir);
		return (0);
	}
	/* A venv holds thousands of files: the walk runs in a child. */
	pid = fork();
	if (pid != 0) {
		if (pid == -1)
			log_warn("fork");
		return (pid == -1 ? 0 : pid);
	}
	fnwm_child_close_from(STDERR_FILENO + 1);
	fnwm_child_reset_signals();
	_exit(paths_rmtree(root, rel, dir) == 0 ? 0 : 1);
}
