/* SPDX-License-Identifier: MIT */
/*
 * Token files: the control token (made at first start when it is the
 * default <config dir>/fnwm.token) and the optional read-only token. A
 * token is 16..256 URL-safe characters, so that it travels unchanged in a
 * "?token=" query; the file may end in a newline. Tokens are never logged.
 */
#include <sys/random.h>
#include <sys/stat.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <openssl/crypto.h>
#include <openssl/sha.h>

#include "fileio.h"
#include "xmalloc.h"
#include "master.h"

#define TOKEN_MIN       16
#define TOKEN_MAX       256
#define TOKEN_NEW_BYTES 32 /* 256 bits, 64 hex digits */

static int
token_char_ok(int ch)
{
	return ((ch >= 'A' && ch <= 'Z') || (ch >= 'a' && ch <= 'z') ||
	    (ch >= '0' && ch <= '9') || ch == '-' || ch == '.' || ch == '_' ||
	    ch == '~');
}

/* A fresh random token, written atomically with mode 0600. */
static int
token_create(const char *path, char **cause)
{
	unsigned char rnd[TOKEN_NEW_BYTES];
	char text[TOKEN_NEW_BYTES * 2 + 2];
	size_t i;

	if (getrandom(rnd, sizeof rnd, 0) != (ssize_t)sizeof rnd) {
		*cause = xasprintf("getrandom: %s", strerror(errno));
		return (-1);
	}
	for (i = 0; i < sizeof rnd; i++)
		snprintf(text + 2 * i, 3, "%02x", rnd[i]);
	text[2 * sizeof rnd] = '\n';
	text[2 * sizeof rnd + 1] = '\0';
	explicit_bzero(rnd, sizeof rnd);
	if (fnwm_atomic_write(path, text, strlen(text), 0600) == -1) {
		*cause =
		    xasprintf("cannot create %s: %s", path, strerror(errno));
		explicit_bzero(text, sizeof text);
		return (-1);
	}
	explicit_bzero(text, sizeof text);
	return (0);
}

int
token_load(const char *path, int create, int group_ok, struct fnwm_token *t,
    char **cause)
{
	struct stat st;
	char *buf = NULL;
	size_t len, i;
	int fd;

	memset(t, 0, sizeof *t);
	fd = open(path, O_RDONLY | O_CLOEXEC | O_NOFOLLOW);
	if (fd == -1 && errno == ENOENT && create) {
		if (token_create(path, cause) == -1)
			return (-1);
		fd = open(path, O_RDONLY | O_CLOEXEC | O_NOFOLLOW);
	}
	if (fd == -1) {
		*cause = xasprintf("token file %s: %s", path, strerror(errno));
		return (-1);
	}
	if (fstat(fd, &st) == -1 || !S_ISREG(st.st_mode)) {
		*cause = xasprintf("token file %s: not a regular file", path);
		close(fd);
		return (-1);
	}
	close(fd);
	/* Like ssh with its keys: a secret others can read is no secret. */
	if ((st.st_mode & (group_ok ? 007 : 077)) != 0 ||
	    st.st_uid != geteuid()) {
		*cause = xasprintf("token file %s: must belong to this user "
		                   "and be readable by it alone (chmod %s)",
		    path, group_ok ? "640" : "600");
		return (-1);
	}
	if (fnwm_read_file(path, TOKEN_MAX + 2, &buf, &len) == -1) {
		*cause = xasprintf("token file %s: %s", path,
		    errno == EFBIG ? "too long" : strerror(errno));
		return (-1);
	}
	while (len > 0 && (buf[len - 1] == '\n' || buf[len - 1] == '\r'))
		len--;
	for (i = 0; i < len && token_char_ok((unsigned char)buf[i]); i++)
		;
	if (len < TOKEN_MIN || len > TOKEN_MAX || i != len) {
		*cause = xasprintf("token file %s: a token is %d to %d "
		                   "characters of A-Z a-z 0-9 - . _ ~",
		    path, TOKEN_MIN, TOKEN_MAX);
		explicit_bzero(buf, len);
		free(buf);
		return (-1);
	}
	SHA256((const unsigned char *)buf, len, t->digest);
	t->set = 1;
	explicit_bzero(buf, len);
	free(buf);
	return (0);
}

int
token_read_text(const char *path, char *out, size_t outsz)
{
	char *buf;
	size_t len, i;

	if (fnwm_read_file(path, TOKEN_MAX + 2, &buf, &len) == -1)
		return (-1);
	while (len > 0 && (buf[len - 1] == '\n' || buf[len - 1] == '\r'))
		len--;
	for (i = 0; i < len && token_char_ok((unsigned char)buf[i]); i++)
		;
	if (i != len || len < TOKEN_MIN || len >= outsz) {
		explicit_bzero(buf, len);
		free(buf);
		errno = EINVAL;
		return (-1);
	}
	memcpy(out, buf, len);
	out[len] = '\0';
	explicit_bzero(buf, len);
	free(buf);
	return (0);
}

int
token_match(const struct fnwm_token *t, const char *given, size_t len)
{
	unsigned char d[SHA256_DIGEST_LENGTH];

	if (!t->set)
		return (0);
	/* Digests of equal length: the time says nothing of the token. */
	SHA256((const unsigned char *)given, len, d);
	return (CRYPTO_memcmp(d, t->digest, sizeof d) == 0);
}
