/* SPDX-License-Identifier: MIT */
/* The fuzz targets' scratch directories. */
#include <sys/stat.h>
#include <ftw.h>
#include <stdio.h>
#include <stdlib.h>

#include "fuzz_tmp.h"

static char fz_dir[4096];

static int
fz_rm(const char *path, const struct stat *sb, int type, struct FTW *f)
{
	(void)sb;
	(void)type;
	(void)f;
	(void)remove(path);
	return (0);
}

void
fz_rmtree(const char *path)
{
	(void)nftw(path, fz_rm, 16, FTW_DEPTH | FTW_PHYS);
}

static void
fz_cleanup(void)
{
	fz_rmtree(fz_dir);
}

const char *
fz_tmpdir(const char *name)
{
	const char *tmp = getenv("TMPDIR");

	snprintf(fz_dir, sizeof fz_dir, "%s/fnwm-fuzz-%s.XXXXXX",
	    tmp != NULL && *tmp != '\0' ? tmp : "/tmp", name);
	if (mkdtemp(fz_dir) == NULL)
		abort();
	atexit(fz_cleanup);
	return (fz_dir);
}
