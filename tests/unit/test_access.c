/* SPDX-License-Identifier: MIT */
/*
 * Unit tests of master/token.c (token files, constant-time match) and
 * master/peer.c (the uid behind a real loopback connection).
 */
#include <sys/socket.h>
#include <sys/stat.h>
#include <arpa/inet.h>
#include <netinet/in.h>
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
#include "master.h"

static char tmpdir[] = "/tmp/fnwm-test-access.XXXXXX";

static char *
path_of(const char *name)
{
	static char buf[512];

	snprintf(buf, sizeof buf, "%s/%s", tmpdir, name);
	return (buf);
}

static void
write_mode(const char *name, const char *text, mode_t mode)
{
	char *p = path_of(name);

	assert_int_equal(fnwm_atomic_write(p, text, strlen(text), mode), 0);
	assert_int_equal(chmod(p, mode), 0);
}

static void
test_token_made_once(void **state)
{
	struct fnwm_token t1, t2;
	char text[300], again[300], *cause = NULL;
	struct stat st;

	assert_int_equal(token_load(path_of("made"), 1, 0, &t1, &cause), 0);
	assert_int_equal(stat(path_of("made"), &st), 0);
	assert_int_equal(st.st_mode & 07777, 0600);
	assert_int_equal(token_read_text(path_of("made"), text, sizeof text),
	    0);
	assert_int_equal(strlen(text), 64);
	assert_true(token_match(&t1, text, strlen(text)));
	/* Loaded again, never replaced. */
	assert_int_equal(token_load(path_of("made"), 1, 0, &t2, &cause), 0);
	assert_int_equal(token_read_text(path_of("made"), again, sizeof again),
	    0);
	assert_string_equal(text, again);
	assert_memory_equal(t1.digest, t2.digest, sizeof t1.digest);
}

static void
test_token_match(void **state)
{
	struct fnwm_token t, none;
	char *cause = NULL;

	memset(&none, 0, sizeof none);
	write_mode("fixed", "abcdefghijklmnop_-.~\n", 0600);
	assert_int_equal(token_load(path_of("fixed"), 0, 0, &t, &cause), 0);
	assert_true(token_match(&t, "abcdefghijklmnop_-.~", 20));
	assert_false(token_match(&t, "abcdefghijklmnop_-.", 19));
	assert_false(token_match(&t, "abcdefghijklmnop_-.~x", 21));
	assert_false(token_match(&t, "", 0));
	/* No token configured matches nothing, not even the empty string. */
	assert_false(token_match(&none, "", 0));
}

static void
test_token_bad_files(void **state)
{
	struct fnwm_token t;
	char *cause = NULL;

	assert_int_equal(token_load(path_of("absent"), 0, 0, &t, &cause), -1);
	assert_non_null(strstr(cause, "No such file"));
	free(cause);
	write_mode("open", "abcdefghijklmnopq\n", 0644);
	assert_int_equal(token_load(path_of("open"), 0, 0, &t, &cause), -1);
	assert_non_null(strstr(cause, "readable by it alone"));
	free(cause);
	write_mode("group", "abcdefghijklmnopq\n", 0640);
	assert_int_equal(token_load(path_of("group"), 0, 0, &t, &cause), -1);
	free(cause);
	assert_int_equal(token_load(path_of("group"), 0, 1, &t, &cause), 0);
	write_mode("short", "abc\n", 0600);
	assert_int_equal(token_load(path_of("short"), 0, 0, &t, &cause), -1);
	free(cause);
	write_mode("space", "abcdefgh ijklmnopq\n", 0600);
	assert_int_equal(token_load(path_of("space"), 0, 0, &t, &cause), -1);
	assert_null(strstr(cause, "abcdefgh")); /* never the token */
	free(cause);
	assert_int_equal(symlink("fixed", path_of("link")), 0);
	assert_int_equal(token_load(path_of("link"), 0, 0, &t, &cause), -1);
	free(cause);
}

/* A loopback connection: *cfd the client's end, *sfd the server's. */
static void
loopback_pair(int family, int *cfd, int *sfd)
{
	struct sockaddr_storage ss;
	struct sockaddr_in *sin = (struct sockaddr_in *)&ss;
	struct sockaddr_in6 *sin6 = (struct sockaddr_in6 *)&ss;
	socklen_t len = family == AF_INET ? sizeof *sin : sizeof *sin6;
	int lfd;

	memset(&ss, 0, sizeof ss);
	ss.ss_family = (sa_family_t)family;
	if (family == AF_INET)
		sin->sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	else
		sin6->sin6_addr = in6addr_loopback;
	lfd = socket(family, SOCK_STREAM, 0);
	*cfd = socket(family, SOCK_STREAM, 0);
	assert_true(lfd >= 0 && *cfd >= 0);
	assert_int_equal(bind(lfd, (struct sockaddr *)&ss, len), 0);
	assert_int_equal(listen(lfd, 1), 0);
	assert_int_equal(getsockname(lfd, (struct sockaddr *)&ss, &len), 0);
	assert_int_equal(connect(*cfd, (struct sockaddr *)&ss, len), 0);
	*sfd = accept(lfd, NULL, NULL);
	assert_true(*sfd >= 0);
	close(lfd);
}

static void
peer_case(int family)
{
	uid_t uid = (uid_t)-1;
	int cfd, sfd;

	loopback_pair(family, &cfd, &sfd);
	assert_int_equal(peer_identify(sfd, &uid), PEER_LOCAL_UID);
	assert_int_equal(uid, geteuid());
	/*
	 * The client gone: what is left of its socket (reported as uid 0)
	 * must not pass for root.
	 */
	close(cfd);
	usleep(20000);
	assert_int_not_equal(peer_identify(sfd, &uid), PEER_LOCAL_UID);
	close(sfd);
	peer_close();
}

static void
test_peer_ipv4(void **state)
{
	peer_case(AF_INET);
}

static void
test_peer_ipv6(void **state)
{
	int fd = socket(AF_INET6, SOCK_STREAM, 0);

	if (fd == -1)
		skip();
	close(fd);
	peer_case(AF_INET6);
}

static void
test_peer_not_ip(void **state)
{
	uid_t uid;
	int sv[2];

	assert_int_equal(socketpair(AF_UNIX, SOCK_STREAM, 0, sv), 0);
	assert_int_equal(peer_identify(sv[0], &uid), PEER_REMOTE);
	close(sv[0]);
	close(sv[1]);
}

static int
setup(void **state)
{
	return (mkdtemp(tmpdir) == NULL ? -1 : 0);
}

static int
teardown(void **state)
{
	char cmd[600];

	snprintf(cmd, sizeof cmd, "rm -rf '%s'", tmpdir);
	return (system(cmd) == 0 ? 0 : -1);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_token_made_once),
		cmocka_unit_test(test_token_match),
		cmocka_unit_test(test_token_bad_files),
		cmocka_unit_test(test_peer_ipv4),
		cmocka_unit_test(test_peer_ipv6),
		cmocka_unit_test(test_peer_not_ip),
	};

	return (cmocka_run_group_tests(tests, setup, teardown));
}
