/* SPDX-License-Identifier: MIT */
/*
 * Dependency strings, as PEP 508 requirements: a name, extras, version
 * specifiers and an environment marker. Nothing else reaches pip or uv
 * unless fnwm.allow_direct_references says so: no option (a leading
 * "-"), no URL, no path.
 */
#include <ctype.h>
#include <string.h>

#include "master.h"

struct p508 {
	const char *s;
};

static void
pep508_ws(struct p508 *p)
{
	while (*p->s == ' ' || *p->s == '\t')
		p->s++;
}

static int
pep508_alnum(char c)
{
	return ((unsigned char)c < 0x80 && isalnum((unsigned char)c));
}

/* name: letters and digits, with "._-" only between them. */
static int
pep508_name(struct p508 *p)
{
	if (!pep508_alnum(*p->s))
		return (0);
	while (pep508_alnum(*p->s) ||
	    ((*p->s == '.' || *p->s == '_' || *p->s == '-') &&
	        pep508_alnum(p->s[1])))
		p->s += (pep508_alnum(*p->s) ? 1 : 2);
	return (1);
}

static int
pep508_lit(struct p508 *p, const char *lit)
{
	size_t n = strlen(lit);

	if (strncmp(p->s, lit, n) != 0)
		return (0);
	p->s += n;
	return (1);
}

static int
pep508_op(struct p508 *p)
{
	static const char *const ops[] = { "===", "~=", "==", "!=", "<=", ">=",
		"<", ">", NULL };
	int i;

	for (i = 0; ops[i] != NULL; i++)
		if (pep508_lit(p, ops[i]))
			return (1);
	return (0);
}

/* version_one (, version_one)*, with or without parentheses. */
static int
pep508_versionspec(struct p508 *p)
{
	int paren = 0;

	pep508_ws(p);
	if (*p->s == '(') {
		paren = 1;
		p->s++;
		pep508_ws(p);
	}
	for (;;) {
		if (!pep508_op(p))
			return (0);
		pep508_ws(p);
		if (!(pep508_alnum(*p->s) || *p->s == '*'))
			return (0);
		while (pep508_alnum(*p->s) ||
		    (*p->s != '\0' && strchr("._*+!-", *p->s) != NULL))
			p->s++;
		pep508_ws(p);
		if (*p->s != ',')
			break;
		p->s++;
		pep508_ws(p);
	}
	if (paren) {
		if (*p->s != ')')
			return (0);
		p->s++;
	}
	return (1);
}

static int pep508_marker_or(struct p508 *, int depth);

/* A marker variable or a quoted string. */
static int
pep508_marker_value(struct p508 *p)
{
	static const char *const vars[] = { "python_full_version",
		"python_version", "os_name", "sys_platform", "platform_release",
		"platform_system", "platform_version", "platform_machine",
		"platform_python_implementation", "implementation_name",
		"implementation_version", "extra", NULL };
	char q = *p->s;
	int i;

	if (q == '\'' || q == '"') {
		for (p->s++; *p->s != q; p->s++)
			if (*p->s == '\0' || (unsigned char)*p->s < 0x20)
				return (0);
		p->s++;
		return (1);
	}
	for (i = 0; vars[i] != NULL; i++) {
		size_t n = strlen(vars[i]);

		if (strncmp(p->s, vars[i], n) == 0 && !pep508_alnum(p->s[n]) &&
		    p->s[n] != '_') {
			p->s += n;
			return (1);
		}
	}
	return (0);
}

static int
pep508_marker_expr(struct p508 *p, int depth)
{
	pep508_ws(p);
	if (*p->s == '(') {
		p->s++;
		if (!pep508_marker_or(p, depth + 1))
			return (0);
		pep508_ws(p);
		if (*p->s != ')')
			return (0);
		p->s++;
		return (1);
	}
	if (!pep508_marker_value(p))
		return (0);
	pep508_ws(p);
	if (!pep508_op(p) && !pep508_lit(p, "in ") && !pep508_lit(p, "not in "))
		return (0);
	pep508_ws(p);
	return (pep508_marker_value(p));
}

static int
pep508_marker_or(struct p508 *p, int depth)
{
	if (depth > 16 || !pep508_marker_expr(p, depth))
		return (0);
	for (;;) {
		pep508_ws(p);
		if (!pep508_lit(p, "and ") && !pep508_lit(p, "or "))
			return (1);
		if (!pep508_marker_expr(p, depth))
			return (0);
	}
}

int
pep508_valid(const char *req, int allow_direct)
{
	struct p508 p = { req };

	if (req[0] == '-')
		return (0); /* an option, whatever else is allowed */
	pep508_ws(&p);
	if (!pep508_name(&p) ||
	    (pep508_ws(&p), strchr("[@(<>=!~;", *p.s) == NULL)) {
		/* Not a name first: a bare URL or path, a direct reference. */
		return (allow_direct && req[0] != '\0' &&
		    strpbrk(req, " \t\n\r") == NULL);
	}
	if (*p.s == '[') {
		p.s++;
		pep508_ws(&p);
		while (*p.s != ']') {
			if (!pep508_name(&p))
				return (0);
			pep508_ws(&p);
			if (*p.s == ',') {
				p.s++;
				pep508_ws(&p);
			} else if (*p.s != ']')
				return (0);
		}
		p.s++;
		pep508_ws(&p);
	}
	if (*p.s == '@') {
		if (!allow_direct)
			return (0);
		/* name @ URL [; marker]: the URL ends at whitespace. */
		p.s++;
		pep508_ws(&p);
		if (*p.s == '\0' || *p.s == '-')
			return (0);
		while (*p.s != '\0' && *p.s != ' ' && *p.s != '\t')
			if ((unsigned char)*p.s++ < 0x21)
				return (0);
		pep508_ws(&p);
		if (*p.s == '\0')
			return (1);
		if (*p.s != ';')
			return (0);
	} else if (*p.s != '\0' && *p.s != ';' && !pep508_versionspec(&p))
		return (0);
	pep508_ws(&p);
	if (*p.s == ';') {
		p.s++;
		if (!pep508_marker_or(&p, 0))
			return (0);
		pep508_ws(&p);
	}
	return (*p.s == '\0');
}
