/* SPDX-License-Identifier: MIT */
/*
 * Unit tests of the monitor's status writer thread (monitor/writer.c) on
 * real files: the newest content wins, a sync waits for it, a failure is
 * reported, and the thread takes no signal.
 */
#include <sys/stat.h>
#include <sys/syscall.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>

#include "writer.h"

static char dir[64];
static int dfd = -1;

static int
setup(void **state)
{
	snprintf(dir, sizeof dir, "/tmp/fnwm-writer-XXXXXX");
	assert_non_null(mkdtemp(dir));
	dfd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	assert_true(dfd >= 0);
	return (0);
}

static int
teardown(void **state)
{
	struct dirent *de;
	DIR *d;

	writer_stop();
	d = opendir(dir);
	while (d != NULL && (de = readdir(d)) != NULL) {
		if (de->d_name[0] == '.' &&
		    (de->d_name[1] == '\0' || strcmp(de->d_name, "..") == 0))
			continue;
		(void)unlinkat(dirfd(d), de->d_name, 0);
	}
	if (d != NULL)
		closedir(d);
	close(dfd);
	rmdir(dir);
	return (0);
}

static void
read_back(const char *name, char *buf, size_t size)
{
	char path[128];
	ssize_t n;
	int fd;

	snprintf(path, sizeof path, "%s/%s", dir, name);
	fd = open(path, O_RDONLY);
	assert_true(fd >= 0);
	n = read(fd, buf, size - 1);
	assert_true(n >= 0);
	buf[n] = '\0';
	close(fd);
}

/* Many writes in a row: after a sync the file holds the last, whole. */
static void
test_newest_wins(void **state)
{
	char text[64], got[64];
	struct stat st;
	int i;

	for (i = 0; i < 500; i++) {
		snprintf(text, sizeof text, "state=%d\n", i);
		assert_int_equal(writer_submit(dfd, "w.status", text,
		                     strlen(text)),
		    0);
	}
	assert_int_equal(writer_sync(), 0);
	read_back("w.status", got, sizeof got);
	assert_string_equal(got, "state=499\n");
	assert_int_equal(stat(dir, &st), 0);
	/* 0600, and no temporary file is left behind. */
	assert_int_equal(fstatat(dfd, "w.status", &st, 0), 0);
	assert_int_equal(st.st_mode & 07777, 0600);
	{
		DIR *d = opendir(dir);
		struct dirent *de;
		int files = 0;

		while ((de = readdir(d)) != NULL)
			if (strcmp(de->d_name, ".") != 0 &&
			    strcmp(de->d_name, "..") != 0)
				files++;
		closedir(d);
		assert_int_equal(files, 1);
	}
}

/* A write that fails is reported by the next sync, then it goes on. */
static void
test_failure_reported(void **state)
{
	char got[32];

	assert_int_equal(writer_submit(dfd, "no/such/dir", "x", 1), 0);
	errno = 0;
	assert_int_equal(writer_sync(), -1);
	assert_int_equal(errno, ENOENT);
	assert_int_equal(writer_submit(dfd, "ok.status", "fine", 4), 0);
	assert_int_equal(writer_sync(), 0);
	read_back("ok.status", got, sizeof got);
	assert_string_equal(got, "fine");
}

static void
test_too_large_refused(void **state)
{
	static char big[64 * 1024];

	errno = 0;
	assert_int_equal(writer_submit(dfd, "big", big, sizeof big), -1);
	assert_int_equal(errno, EFBIG);
}

/*
 * The monitor's signals are blocked in its loop's thread and read from a
 * signalfd; the writer thread must block them too, or the kernel would
 * give it SIGTERM and its default action would end the monitor.
 */
static void
test_thread_blocks_every_signal(void **state)
{
	char path[320], line[256];
	struct dirent *de;
	DIR *d;
	FILE *f;
	int threads = 0, checked = 0;
	pid_t self = (pid_t)syscall(SYS_gettid);

	assert_int_equal(writer_submit(dfd, "s", "1", 1), 0);
	assert_int_equal(writer_sync(), 0);
	d = opendir("/proc/self/task");
	assert_non_null(d);
	while ((de = readdir(d)) != NULL) {
		if (de->d_name[0] == '.')
			continue;
		threads++;
		if (atoi(de->d_name) == self)
			continue;
		snprintf(path, sizeof path, "/proc/self/task/%s/status",
		    de->d_name);
		f = fopen(path, "r");
		assert_non_null(f);
		while (fgets(line, sizeof line, f) != NULL)
			if (strncmp(line, "SigBlk:", 7) == 0) {
				/* SIGTERM (15), SIGINT (2), SIGHUP (1), SIGCHLD
				 * (17). */
				unsigned long long blk =
				    strtoull(line + 7, NULL, 16);

				assert_true(blk & (1ULL << 14));
				assert_true(blk & (1ULL << 1));
				assert_true(blk & (1ULL << 0));
				assert_true(blk & (1ULL << 16));
				checked++;
			}
		fclose(f);
	}
	closedir(d);
	assert_int_equal(threads, 2);
	assert_int_equal(checked, 1);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_newest_wins, setup,
		    teardown),
		cmocka_unit_test_setup_teardown(test_failure_reported, setup,
		    teardown),
		cmocka_unit_test_setup_teardown(test_too_large_refused, setup,
		    teardown),
		cmocka_unit_test_setup_teardown(test_thread_blocks_every_signal,
		    setup, teardown),
	};

	return (cmocka_run_group_tests(tests, NULL, NULL));
}
