/* SPDX-License-Identifier: MIT */
/*
 * What a worker's whole process tree uses, from /proc: one pass reads
 * every process's stat (parent, CPU ticks, resident memory, start time),
 * then a walk from the worker's pid sums its descendants. A worker's
 * children (a compiler, a pool of its own) count as the worker's. CPU
 * ticks include the children a process has reaped, so work done by a
 * short-lived child is not lost between two scans. Memory is resident
 * set size summed over the tree (shared pages count once per process).
 */
#include <sys/types.h>
#include <ctype.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "xmalloc.h"
#include "proctree.h"

int
proctree_parse_stat(const char *buf, struct proc_entry *e)
{
	unsigned long long utime, stime, start, rss;
	long long cutime, cstime;
	int ppid;
	const char *p = strrchr(buf, ')');

	/* The command name may hold anything, ')' too: skip to the last. */
	if (p == NULL)
		return (-1);
	if (sscanf(p + 1,
	        " %*c %d %*d %*d %*d %*d %*u %*u %*u %*u %*u %llu %llu %lld "
	        "%lld %*d %*d %*d %*d %llu %*u %llu",
	        &ppid, &utime, &stime, &cutime, &cstime, &start, &rss) != 7)
		return (-1);
	e->ppid = (pid_t)ppid;
	e->ticks = utime + stime +
	    (unsigned long long)(cutime > 0 ? cutime : 0) +
	    (unsigned long long)(cstime > 0 ? cstime : 0);
	e->start_ticks = start;
	e->rss_bytes = rss * (unsigned long long)sysconf(_SC_PAGESIZE);
	return (0);
}

static int
proctree_read(int dfd, const char *name, struct proc_entry *e)
{
	char path[64], buf[1024];
	ssize_t n;
	int fd;

	snprintf(path, sizeof path, "%s/stat", name);
	if ((fd = openat(dfd, path, O_RDONLY | O_CLOEXEC)) == -1)
		return (-1);
	n = read(fd, buf, sizeof buf - 1);
	close(fd);
	if (n <= 0)
		return (-1);
	buf[n] = '\0';
	e->pid = (pid_t)strtol(name, NULL, 10);
	return (proctree_parse_stat(buf, e));
}

static int
proctree_by_pid(const void *a, const void *b)
{
	const struct proc_entry *x = a, *y = b;

	return ((x->pid > y->pid) - (x->pid < y->pid));
}

int
proctree_scan(struct proc_table *t, const char *procdir)
{
	struct dirent *de;
	DIR *d;
	struct proc_entry e;

	if ((d = opendir(procdir)) == NULL)
		return (-1);
	t->n = 0;
	while ((de = readdir(d)) != NULL) {
		if (!isdigit((unsigned char)de->d_name[0]))
			continue;
		if (proctree_read(dirfd(d), de->d_name, &e) == -1)
			continue; /* gone meanwhile */
		if (t->n == t->cap) {
			t->cap = t->cap == 0 ? 256 : t->cap * 2;
			t->v = xreallocarray(t->v, t->cap, sizeof *t->v);
		}
		t->v[t->n++] = e;
	}
	closedir(d);
	qsort(t->v, t->n, sizeof *t->v, proctree_by_pid);
	return (0);
}

static const struct proc_entry *
proctree_find(const struct proc_table *t, pid_t pid)
{
	struct proc_entry key;

	key.pid = pid;
	return (bsearch(&key, t->v, t->n, sizeof *t->v, proctree_by_pid));
}

/*
 * Walks the tree breadth first. A child's pid is always found by a scan
 * over the table: trees are small, and the table is read once per tick.
 */
int
proctree_usage(const struct proc_table *t, pid_t root, struct proc_usage *u)
{
	const struct proc_entry *r = proctree_find(t, root);
	pid_t *queue;
	size_t head = 0, tail = 0, i;

	memset(u, 0, sizeof *u);
	if (r == NULL || root <= 0)
		return (-1);
	u->root_start = r->start_ticks;
	queue = xreallocarray(NULL, t->n + 1, sizeof *queue);
	queue[tail++] = root;
	while (head < tail) {
		pid_t p = queue[head++];
		const struct proc_entry *e = proctree_find(t, p);

		if (e == NULL)
			continue;
		u->ticks += e->ticks;
		u->rss_bytes += e->rss_bytes;
		u->nproc++;
		for (i = 0; i < t->n && tail < t->n; i++)
			if (t->v[i].ppid == p && t->v[i].pid != p)
				queue[tail++] = t->v[i].pid;
	}
	free(queue);
	return (0);
}

void
proctree_free(struct proc_table *t)
{
	free(t->v);
	memset(t, 0, sizeof *t);
}
