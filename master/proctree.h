/* SPDX-License-Identifier: MIT */
/* the processes of /proc, and what a process tree uses */
#ifndef FNWM_MASTER_PROCTREE_H
#define FNWM_MASTER_PROCTREE_H

#include <sys/types.h>
#include <stddef.h>

/* proctree.c */
struct proc_entry {
	pid_t pid, ppid;
	unsigned long long ticks; /* user+system, its reaped children's too */
	unsigned long long start_ticks; /* since boot: tells a reused pid */
	unsigned long long rss_bytes;
};
struct proc_table {
	struct proc_entry *v; /* sorted by ppid, then pid */
	size_t n, cap;
};
/* What a process and all its descendants use now. */
struct proc_usage {
	unsigned long long ticks;
	unsigned long long rss_bytes;
	unsigned nproc;
	unsigned long long root_start; /* start_ticks of the root */
};
/*
 * Reads every process of procdir ("/proc") into t (reusing its memory);
 * 0, or -1 with errno when procdir cannot be read. Processes that end
 * while it reads are left out.
 */
int proctree_scan(struct proc_table *t, const char *procdir);
/* Sums the tree under root; 0, or -1 when root is not in t. */
int proctree_usage(const struct proc_table *t, pid_t root, struct proc_usage *);
void proctree_free(struct proc_table *t);
/* Parses one /proc/PID/stat text into e; 0 or -1. */
int proctree_parse_stat(const char *buf, struct proc_entry *e);

#endif
