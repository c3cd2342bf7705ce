/* SPDX-License-Identifier: MIT */
/* Unit tests of common/fileio.c: atomic writes, capped reads, mkdirs. */
#include <sys/stat.h>
#include <dirent.h>
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>

#include "fileio.h"

static char tmpdir[] = "/tmp/fnwm-test-fileio.XXXXXX";

static int
count_entries(const char *dir)
{
	DIR *d = opendir(dir);
	struct dirent *de;
	int n = 0;

	while ((de = readdir(d)) != NULL)
		if (strcmp(de->d_name, ".") && strcmp(de->d_name, ".."))
			n++;
	closedir(d);
	return (n);
}

static void
test_atomic_write_replaces_content_with_mode(void **state)
{
	char path[256], *buf;
	struct stat st;
	size_t len;

	snprintf(path, sizeof path, "%s/worker_a.json", tmpdir);
	assert_int_equal(fnwm_atomic_write(path, "old", 3, 0644), 0);
	assert_int_equal(fnwm_atomic_write(path, "{\"new\": 1}", 10, 0600), 0);
	assert_int_equal(fnwm_read_file(path, 1024, &buf, &len), 0);
	assert_int_equal(len, 10);
	assert_string_equal(buf, "{\"new\": 1}");
	free(buf);
	assert_int_equal(stat(path, &st), 0);
	assert_int_equal(st.st_mode & 0777, 0600);
	/* No temporary is left behind. */
	assert_int_equal(count_entries(tmpdir), 1);
	unlink(path);
}

static void
test_atomic_write_fails_cleanly(void **state)
{
	char path[256];

	snprintf(path, sizeof path, "%s/missing/x.json", tmpdir);
	assert_int_equal(fnwm_atomic_write(path, "x", 1, 0600), -1);
	assert_int_equal(errno, ENOENT);
	assert_int_equal(count_entries(tmpdir), 0);
}

/* The temporaries of an atomic write are known by name, and only they. */
static void
test_atomic_temporary_names(void **state)
{
	char name[256], tmp[300];

	assert_true(
	    fnwm_atomic_temporary_of(".w.status.0123456789ab", "w.status"));
	assert_false(
	    fnwm_atomic_temporary_of(".w.status.0123456789AB", "w.status"));
	assert_false(
	    fnwm_atomic_temporary_of(".w.status.0123456789a", "w.status"));
	assert_false(
	    fnwm_atomic_temporary_of(".w.status.0123456789abc", "w.status"));
	assert_false(
	    fnwm_atomic_temporary_of(".w.status.0123456789ab", "w.stat"));
	assert_false(
	    fnwm_atomic_temporary_of("w.status.0123456789ab", "w.status"));
	assert_false(
	    fnwm_atomic_temporary_of(".x.status.0123456789ab", "w.status"));
	/* A long name is cut to 200 characters in its temporary's. */
	memset(name, 'n', 250);
	name[250] = '\0';
	snprintf(tmp, sizeof tmp, ".%.200s.0123456789ab", name);
	assert_true(fnwm_atomic_temporary_of(tmp, name));
}

static void
test_read_file_caps_size(void **state)
{
	char path[256], *buf = NULL;

	snprintf(path, sizeof path, "%s/big", tmpdir);
	assert_int_equal(fnwm_atomic_write(path, "0123456789", 10, 0600), 0);
	assert_int_equal(fnwm_read_file(path, 9, &buf, NULL), -1);
	assert_int_equal(errno, EFBIG);
	assert_null(buf);
	assert_int_equal(fnwm_read_file(path, 10, &buf, NULL), 0);
	assert_string_equal(buf, "0123456789");
	free(buf);
	unlink(path);
}

static void
test_read_file_refuses_directories_and_missing(void **state)
{
	char *buf = NULL, path[256];

	assert_int_equal(fnwm_read_file(tmpdir, 100, &buf, NULL), -1);
	assert_int_equal(errno, EINVAL);
	snprintf(path, sizeof path, "%s/nope", tmpdir);
	assert_int_equal(fnwm_read_file(path, 100, &buf, NULL), -1);
	assert_int_equal(errno, ENOENT);
}

static void
test_mkdirs(void **state)
{
	char path[256], file[256];

	snprintf(path, sizeof path, "%s/a/b/c", tmpdir);
	assert_int_equal(fnwm_mkdirs(path, 0700), 0);
	assert_int_equal(fnwm_mkdirs(path, 0700), 0); /* exists: fine */
	snprintf(file, sizeof file, "%s/a/f", tmpdir);
	assert_int_equal(fnwm_atomic_write(file, "", 0, 0600), 0);
	assert_int_equal(fnwm_mkdirs(file, 0700), -1);
	assert_int_equal(errno, ENOTDIR);
	unlink(file);
	rmdir(path);
	snprintf(path, sizeof path, "%s/a/b", tmpdir);
	rmdir(path);
	snprintf(path, sizeof path, "%s/a", tmpdir);
	rmdir(path);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_atomic_write_replaces_content_with_mode),
		cmocka_unit_test(test_atomic_write_fails_cleanly),
		cmocka_unit_test(test_atomic_temporary_names),
		cmocka_unit_test(test_read_file_caps_size),
		cmocka_unit_test(
		    test_read_file_refuses_directories_and_missing),
		cmocka_unit_test(test_mkdirs),
	};
	int rc;

	if (mkdtemp(tmpdir) == NULL)
		return (1);
	rc = cmocka_run_group_tests(tests, NULL, NULL);
	rmdir(tmpdir);
	return (rc);
}
