/* SPDX-License-Identifier: MIT */
/*
 * Unit tests of master/proctree.c: a /proc/PID/stat parser that survives
 * any command name, and the sums over a process tree, on a /proc made of
 * files in a temporary directory.
 */
#include <sys/stat.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>

#include "proctree.h"

/* Fields after the name: state ppid ... utime(14) stime cutime cstime ...
 * starttime(22) vsize rss(24). */
static void
stat_line(char *buf, size_t sz, int pid, const char *comm, int ppid,
    unsigned utime, unsigned stime, unsigned cutime, unsigned start,
    unsigned rss_pages)
{
	snprintf(buf, sz,
	    "%d (%s) S %d 1 1 0 -1 4194560 10 0 0 0 %u %u %u 0 20 0 1 0 %u "
	    "1000000 %u 18446744073709551615 1 1 0 0 0 0 0 0 0 0 0 0 17 0 0 0 "
	    "0 0 0\n",
	    pid, comm, ppid, utime, stime, cutime, start, rss_pages);
}

static void
test_parse(void **state)
{
	struct proc_entry e;
	char buf[512];
	long page = sysconf(_SC_PAGESIZE);

	stat_line(buf, sizeof buf, 42, "py) S 1 (evil", 7, 100, 50, 25, 9000,
	    10);
	assert_int_equal(proctree_parse_stat(buf, &e), 0);
	assert_int_equal(e.ppid, 7);
	assert_int_equal(e.ticks, 175);
	assert_int_equal(e.start_ticks, 9000);
	assert_int_equal(e.rss_bytes, 10 * page);
	assert_int_equal(proctree_parse_stat("42 (x", &e), -1);
	assert_int_equal(proctree_parse_stat("42 (x) S 1 2", &e), -1);
	assert_int_equal(proctree_parse_stat("", &e), -1);
}

static void
fake_proc(const char *dir, int pid, int ppid, unsigned ticks, unsigned rss)
{
	char path[512], line[512];
	FILE *f;

	snprintf(path, sizeof path, "%s/%d", dir, pid);
	assert_int_equal(mkdir(path, 0700), 0);
	snprintf(path, sizeof path, "%s/%d/stat", dir, pid);
	assert_non_null(f = fopen(path, "w"));
	stat_line(line, sizeof line, pid, "w", ppid, ticks, 0, 0, 1000 + pid,
	    rss);
	fputs(line, f);
	fclose(f);
}

static void
test_tree(void **state)
{
	char dir[] = "/tmp/fnwm-proctree-XXXXXX", cmd[600];
	struct proc_table t = { 0 };
	struct proc_usage u;
	long page = sysconf(_SC_PAGESIZE);

	assert_non_null(mkdtemp(dir));
	/* 10 -> 11 -> 13, 10 -> 12; 20 beside it; 30 its own parent. */
	fake_proc(dir, 10, 1, 100, 1);
	fake_proc(dir, 11, 10, 20, 2);
	fake_proc(dir, 12, 10, 3, 4);
	fake_proc(dir, 13, 11, 4, 8);
	fake_proc(dir, 20, 1, 1000, 16);
	fake_proc(dir, 30, 30, 5, 32);
	snprintf(cmd, sizeof cmd, "mkdir %s/self %s/99", dir, dir);
	assert_int_equal(system(cmd), 0); /* no stat: skipped */
	assert_int_equal(proctree_scan(&t, dir), 0);
	assert_int_equal(t.n, 6);
	assert_int_equal(proctree_usage(&t, 10, &u), 0);
	assert_int_equal(u.nproc, 4);
	assert_int_equal(u.ticks, 127);
	assert_int_equal(u.rss_bytes, 15 * page);
	assert_int_equal(u.root_start, 1010);
	assert_int_equal(proctree_usage(&t, 11, &u), 0);
	assert_int_equal(u.nproc, 2);
	assert_int_equal(proctree_usage(&t, 30, &u), 0);
	assert_int_equal(u.nproc, 1);
	assert_int_equal(proctree_usage(&t, 77, &u), -1);
	assert_int_equal(proctree_usage(&t, 0, &u), -1);
	/* A second scan reuses the table. */
	assert_int_equal(proctree_scan(&t, dir), 0);
	assert_int_equal(t.n, 6);
	proctree_free(&t);
	assert_int_equal(proctree_scan(&t, "/nonexistent/proc"), -1);
	proctree_free(&t);
	snprintf(cmd, sizeof cmd, "rm -rf %s", dir);
	assert_int_equal(system(cmd), 0);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_parse),
		cmocka_unit_test(test_tree),
	};

	return (cmocka_run_group_tests(tests, NULL, NULL));
}
