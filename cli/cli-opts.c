/* SPDX-License-Identifier: MIT */
/*
 * One parser for every option table of the command line: getopt_long in
 * order (options stop at the first word that is not one), its messages
 * as "fnwm: ...", values stored where the table says.
 */
#include <getopt.h>
#include <stddef.h>
#include <stdlib.h>

#include "util.h"
#include "xmalloc.h"
#include "cli-opts.h"
#include "cli-output.h"

/* getopt_long's value of a long-only option: past every char. */
#define CLI_OPT_LONG 256

static const struct cli_opt *
cli_opt_of(const struct cli_opt *opts, size_t n, int ch)
{
	size_t i;

	if (ch >= CLI_OPT_LONG && (size_t)(ch - CLI_OPT_LONG) < n)
		return (&opts[ch - CLI_OPT_LONG]);
	for (i = 0; i < n; i++)
		if (opts[i].abbr != 0 && opts[i].abbr == ch)
			return (&opts[i]);
	return (NULL); /* '?': getopt_long said why */
}

static int
cli_opt_store(const struct cli_opt *o, const char *value, struct cli_args *a)
{
	char *field = (char *)a + o->off;
	long long v;

	switch (o->kind) {
	case CLI_OPT_FLAG:
		*(int *)(void *)field = 1;
		return (0);
	case CLI_OPT_STR:
		*(const char **)(void *)field = value;
		return (0);
	case CLI_OPT_INT:
		if (fnwm_parse_int(value, o->min, o->max, &v) == -1) {
			cli_err("--%s takes a number from %lld to %lld, not %s",
			    o->name, o->min, o->max, value);
			return (-1);
		}
		*(int *)(void *)field = (int)v;
		return (0);
	}
	return (-1);
}

int
cli_opts_parse(const struct cli_opt *opts, int argc, char **argv,
    struct cli_args *a)
{
	static char prog[] = "fnwm"; /* getopt_long's messages name it */
	const struct cli_opt *o;
	struct option *lo;
	char *shorts, **v;
	size_t n = 0, i, k = 0;
	int ch, rc = 0;

	while (opts != NULL && opts[n].name != NULL)
		n++;
	lo = xcalloc(n + 1, sizeof *lo);
	shorts = xcalloc(2 * n + 2, 1);
	shorts[k++] = '+';
	for (i = 0; i < n; i++) {
		lo[i].name = opts[i].name;
		lo[i].has_arg = opts[i].kind == CLI_OPT_FLAG
		    ? no_argument
		    : required_argument;
		lo[i].val = CLI_OPT_LONG + (int)i;
		if (opts[i].abbr == 0)
			continue;
		shorts[k++] = (char)opts[i].abbr;
		if (opts[i].kind != CLI_OPT_FLAG)
			shorts[k++] = ':';
	}
	v = xcalloc((size_t)argc + 1, sizeof *v);
	v[0] = prog;
	for (i = 1; i < (size_t)argc; i++)
		v[i] = argv[i];
	optind = 0; /* a fresh scan, whatever parsed before */
	while ((ch = getopt_long(argc, v, shorts, lo, NULL)) != -1) {
		o = cli_opt_of(opts, n, ch);
		if (o == NULL || cli_opt_store(o, optarg, a) == -1) {
			rc = -1;
			break;
		}
		/* --help ends the words: the usage is all that is asked. */
		if (o->off == offsetof(struct cli_args, help))
			break;
	}
	if (rc == 0)
		rc = optind;
	free(v);
	free(shorts);
	free(lo);
	return (rc);
}
