/* SPDX-License-Identifier: MIT */
/*
 * pingload: a minimal raw-socket WebSocket client for bench/hub.py, so that
 * the benchmark can measure the fnwm master rather than the Python client.
 * Compiled on the fly by hub.py with `cc -O2`; not part of the build.
 *
 *   pingload tput HOST PORT NCONN INFLIGHT WARMUP_S SECONDS
 *       NCONN connections in one thread (poll), each keeping INFLIGHT text
 *       "ping" frames in flight: sends INFLIGHT, then one more per "pong".
 *       Counts the pongs received between WARMUP_S and WARMUP_S+SECONDS.
 *       Prints: pongs=N seconds=S rate=R bad=B
 *
 *   pingload lat HOST PORT MESSAGE EXPECT_PREFIX WARMUP COUNT
 *       One connection, blocking: sends MESSAGE, waits for a whole text
 *       message starting with EXPECT_PREFIX (others are skipped), COUNT
 *       times after WARMUP untimed ones. Prints:
 *       n=N median_us=.. p99_us=.. max_us=.. min_us=.. bytes=LAST_REPLY_LEN
 *
 *   pingload watch HOST PORT NCONN SECONDS
 *       NCONN connections; each sends "worker_status" (its first command
 *       subscribes it to broadcasts) and reads the reply; then "ready" is
 *       printed and flushed, and for SECONDS every "worker_event" message is
 *       timed (CLOCK_MONOTONIC) on arrival. The k-th event of a connection
 *       is event k. Prints, per event: event=K conns=N first_ns=.. last_ns=..
 *       then: conns=N min_events=.. max_events=..
 *
 * Client frames are masked (RFC 6455 5.3); server frames must not be.
 */
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <errno.h>
#include <fcntl.h>
#include <netdb.h>
#include <poll.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

static const unsigned char mask_key[4] = { 0x37, 0xfa, 0x21, 0x3d };

struct conn {
	int fd;
	unsigned char *rbuf;
	size_t rlen, rcap;
	size_t pend;      /* bytes of ping frames still to write */
	uint64_t written; /* total ping-frame bytes written (phase) */
	/* message assembly */
	int in_msg;
	size_t msg_len;
	char prefix[64];
	size_t prefix_len;
};

static void
die(const char *what)
{
	perror(what);
	exit(1);
}

static void
dief(const char *msg)
{
	fprintf(stderr, "pingload: %s\n", msg);
	exit(1);
}

static double
now_s(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec + ts.tv_nsec / 1e9;
}

static size_t
make_frame(int opcode, const void *payload, size_t len, unsigned char *out)
{
	size_t h = 0, i;

	out[h++] = 0x80 | (unsigned char)opcode;
	if (len < 126) {
		out[h++] = 0x80 | (unsigned char)len;
	} else if (len < 65536) {
		out[h++] = 0x80 | 126;
		out[h++] = (unsigned char)(len >> 8);
		out[h++] = (unsigned char)len;
	} else {
		out[h++] = 0x80 | 127;
		for (i = 0; i < 8; i++)
			out[h++] = (unsigned char)((uint64_t)len >> (56 - 8 * i));
	}
	memcpy(out + h, mask_key, 4);
	h += 4;
	for (i = 0; i < len; i++)
		out[h + i] = ((const unsigned char *)payload)[i] ^ mask_key[i % 4];
	return h + len;
}

static void
write_all(int fd, const void *buf, size_t len)
{
	const char *p = buf;

	while (len > 0) {
		ssize_t n = write(fd, p, len);

		if (n == -1) {
			if (errno == EINTR)
				continue;
			die("write");
		}
		p += n;
		len -= (size_t)n;
	}
}

static void
rbuf_reserve(struct conn *c, size_t need)
{
	if (c->rcap >= need)
		return;
	while (c->rcap < need)
		c->rcap = c->rcap ? c->rcap * 2 : 65536;
	c->rbuf = realloc(c->rbuf, c->rcap);
	if (c->rbuf == NULL)
		dief("out of memory");
}

static void
conn_open(struct conn *c, const char *host, const char *port)
{
	struct addrinfo hints, *res;
	char req[512];
	int one = 1, r;
	char *end;

	memset(c, 0, sizeof *c);
	memset(&hints, 0, sizeof hints);
	hints.ai_family = AF_UNSPEC;
	hints.ai_socktype = SOCK_STREAM;
	if ((r = getaddrinfo(host, port, &hints, &res)) != 0)
		dief(gai_strerror(r));
	c->fd = socket(res->ai_family, SOCK_STREAM, 0);
	if (c->fd == -1)
		die("socket");
	if (connect(c->fd, res->ai_addr, res->ai_addrlen) == -1)
		die("connect");
	freeaddrinfo(res);
	setsockopt(c->fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
	snprintf(req, sizeof req,
	    "GET / HTTP/1.1\r\n"
	    "Host: %s:%s\r\n"
	    "Upgrade: websocket\r\n"
	    "Connection: Upgrade\r\n"
	    "Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n"
	    "Sec-WebSocket-Version: 13\r\n"
	    "\r\n",
	    host, port);
	write_all(c->fd, req, strlen(req));
	rbuf_reserve(c, 65536);
	for (;;) {
		ssize_t n = read(c->fd, c->rbuf + c->rlen, c->rcap - c->rlen - 1);

		if (n <= 0)
			dief("handshake: connection closed");
		c->rlen += (size_t)n;
		c->rbuf[c->rlen] = 0;
		if ((end = strstr((char *)c->rbuf, "\r\n\r\n")) != NULL)
			break;
		if (c->rlen + 1 >= c->rcap)
			dief("handshake: reply too long");
	}
	if (strncmp((char *)c->rbuf, "HTTP/1.1 101", 12) != 0) {
		fprintf(stderr, "pingload: handshake refused: %.200s\n",
		    (char *)c->rbuf);
		exit(1);
	}
	end += 4;
	c->rlen -= (size_t)(end - (char *)c->rbuf);
	memmove(c->rbuf, end, c->rlen);
}

/*
 * Parses whole frames out of c->rbuf. Calls on_msg(c, arg) for every
 * complete text message (prefix in c->prefix). Returns 0, or -1 on a close
 * frame.
 */
static int
conn_parse(struct conn *c, void (*on_msg)(struct conn *, void *), void *arg)
{
	size_t off = 0;

	while (c->rlen - off >= 2) {
		unsigned char *p = c->rbuf + off;
		size_t avail = c->rlen - off, hdr = 2, len, i;
		int opcode = p[0] & 0x0f, fin = p[0] & 0x80;

		if (p[1] & 0x80)
			dief("server sent a masked frame");
		len = p[1] & 0x7f;
		if (len == 126) {
			if (avail < 4)
				break;
			len = ((size_t)p[2] << 8) | p[3];
			hdr = 4;
		} else if (len == 127) {
			if (avail < 10)
				break;
			len = 0;
			for (i = 0; i < 8; i++)
				len = (len << 8) | p[2 + i];
			hdr = 10;
		}
		if (avail < hdr + len) {
			rbuf_reserve(c, c->rlen - off + hdr + len);
			break;
		}
		switch (opcode) {
		case 0x1: /* text */
		case 0x0: /* continuation */
			if (opcode == 0x1) {
				c->in_msg = 1;
				c->msg_len = 0;
				c->prefix_len = 0;
			}
			i = sizeof c->prefix - c->prefix_len;
			if (i > len)
				i = len;
			memcpy(c->prefix + c->prefix_len, p + hdr, i);
			c->prefix_len += i;
			c->msg_len += len;
			if (fin && c->in_msg) {
				c->in_msg = 0;
				on_msg(c, arg);
			}
			break;
		case 0x8:
			return (-1);
		case 0x9: { /* ping: answer */
			unsigned char out[140];
			size_t n;

			if (len <= 125) {
				n = make_frame(0xA, p + hdr, len, out);
				write_all(c->fd, out, n);
			}
			break;
		}
		default:
			break;
		}
		off += hdr + len;
	}
	if (off > 0) {
		memmove(c->rbuf, c->rbuf + off, c->rlen - off);
		c->rlen -= off;
	}
	return (0);
}

static void
conn_close(struct conn *c)
{
	unsigned char out[16];
	unsigned char code[2] = { 0x03, 0xe8 }; /* 1000 */
	size_t n = make_frame(0x8, code, 2, out);

	(void)!write(c->fd, out, n);
	shutdown(c->fd, SHUT_WR);
	close(c->fd);
	free(c->rbuf);
}

/* ---------------- throughput ---------------- */

struct tput_state {
	int counting, stopping;
	unsigned long long pongs, bad, counted;
};

static void
tput_on_msg(struct conn *c, void *arg)
{
	struct tput_state *s = arg;

	if (c->msg_len == 4 && memcmp(c->prefix, "pong", 4) == 0) {
		s->pongs++;
		if (s->counting)
			s->counted++;
		if (!s->stopping)
			c->pend += 10;
	} else {
		s->bad++;
	}
}

static int
tput(const char *host, const char *port, int nconn, int inflight,
    double warmup, double seconds)
{
	unsigned char one[16], rep[640];
	struct conn *cs = calloc((size_t)nconn, sizeof *cs);
	struct pollfd *pfd = calloc((size_t)nconn, sizeof *pfd);
	struct tput_state st = { 0, 0, 0, 0, 0 };
	double t0, t_start, t_end, t_count_start = 0, t_count_end = 0, t;
	int i;

	if (make_frame(0x1, "ping", 4, one) != 10)
		dief("frame size");
	for (i = 0; i < 64; i++)
		memcpy(rep + 10 * i, one, 10);
	for (i = 0; i < nconn; i++) {
		conn_open(&cs[i], host, port);
		fcntl(cs[i].fd, F_SETFL, fcntl(cs[i].fd, F_GETFL) | O_NONBLOCK);
		cs[i].pend = (size_t)inflight * 10;
	}
	t0 = now_s();
	t_start = t0 + warmup;
	t_end = t_start + seconds;
	for (;;) {
		t = now_s();
		if (!st.counting && !st.stopping && t >= t_start) {
			st.counting = 1;
			t_count_start = t;
		}
		if (st.counting && t >= t_end) {
			st.counting = 0;
			st.stopping = 1;
			t_count_end = t;
			break;
		}
		for (i = 0; i < nconn; i++) {
			pfd[i].fd = cs[i].fd;
			pfd[i].events = POLLIN | (cs[i].pend ? POLLOUT : 0);
			pfd[i].revents = 0;
		}
		if (poll(pfd, (nfds_t)nconn, 100) == -1) {
			if (errno == EINTR)
				continue;
			die("poll");
		}
		for (i = 0; i < nconn; i++) {
			struct conn *c = &cs[i];

			if (pfd[i].revents & (POLLIN | POLLHUP | POLLERR)) {
				ssize_t n;

				rbuf_reserve(c, c->rlen + 65536);
				n = read(c->fd, c->rbuf + c->rlen,
				    c->rcap - c->rlen);
				if (n == 0)
					dief("server closed the connection");
				if (n == -1 && errno != EAGAIN &&
				    errno != EINTR)
					die("read");
				if (n > 0) {
					c->rlen += (size_t)n;
					if (conn_parse(c, tput_on_msg, &st) ==
					    -1)
						dief("server sent close");
				}
			}
			while (c->pend > 0) {
				size_t ph = (size_t)(c->written % 10);
				size_t len = c->pend;
				ssize_t n;

				if (len > sizeof rep - ph)
					len = sizeof rep - ph;
				n = write(c->fd, rep + ph, len);
				if (n == -1) {
					if (errno == EAGAIN || errno == EINTR)
						break;
					die("write");
				}
				c->pend -= (size_t)n;
				c->written += (uint64_t)n;
			}
		}
	}
	for (i = 0; i < nconn; i++)
		conn_close(&cs[i]);
	printf("pongs=%llu seconds=%.4f rate=%.1f bad=%llu\n", st.counted,
	    t_count_end - t_count_start,
	    st.counted / (t_count_end - t_count_start), st.bad);
	free(cs);
	free(pfd);
	return (0);
}

/* ---------------- latency ---------------- */

struct lat_state {
	const char *expect;
	size_t expect_len;
	int got;
	size_t bytes;
};

static void
lat_on_msg(struct conn *c, void *arg)
{
	struct lat_state *s = arg;
	size_t n = s->expect_len < sizeof c->prefix ? s->expect_len :
	                                              sizeof c->prefix;

	if (c->prefix_len >= n && memcmp(c->prefix, s->expect, n) == 0) {
		s->got++;
		s->bytes = c->msg_len;
	}
}

static int
cmp_double(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;

	return (x > y) - (x < y);
}

static int
lat(const char *host, const char *port, const char *msg, const char *expect,
    int warmup, int count)
{
	struct conn c;
	struct lat_state st;
	size_t flen, mlen = strlen(msg);
	unsigned char *frame = malloc(mlen + 14);
	double *samples = malloc(sizeof(double) * (size_t)(count > 0 ? count : 1));
	int i;

	if (frame == NULL || samples == NULL)
		dief("out of memory");
	conn_open(&c, host, port);
	flen = make_frame(0x1, msg, mlen, frame);
	memset(&st, 0, sizeof st);
	st.expect = expect;
	st.expect_len = strlen(expect);
	for (i = 0; i < warmup + count; i++) {
		double t = now_s();

		st.got = 0;
		write_all(c.fd, frame, flen);
		for (;;) {
			ssize_t n;

			if (conn_parse(&c, lat_on_msg, &st) == -1)
				dief("server sent close");
			if (st.got)
				break;
			rbuf_reserve(&c, c.rlen + 65536);
			n = read(c.fd, c.rbuf + c.rlen, c.rcap - c.rlen);
			if (n == 0)
				dief("server closed the connection");
			if (n == -1) {
				if (errno == EINTR)
					continue;
				die("read");
			}
			c.rlen += (size_t)n;
		}
		if (i >= warmup)
			samples[i - warmup] = (now_s() - t) * 1e6;
	}
	conn_close(&c);
	qsort(samples, (size_t)count, sizeof *samples, cmp_double);
	printf("n=%d median_us=%.2f p99_us=%.2f max_us=%.2f min_us=%.2f "
	       "bytes=%zu\n",
	    count, samples[(count - 1) / 2],
	    samples[(size_t)((count - 1) * 0.99 + 0.5)], samples[count - 1],
	    samples[0], st.bytes);
	free(samples);
	free(frame);
	return (0);
}

/* ---------------- broadcast fan-out ---------------- */

#define WATCH_MAX_EVENTS 8192

struct watch_state {
	int ready;
	unsigned *nev;    /* events per connection */
	struct conn *base;
	uint64_t first[WATCH_MAX_EVENTS], last[WATCH_MAX_EVENTS];
	unsigned conns[WATCH_MAX_EVENTS];
	int replied;
};

static uint64_t
now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000ULL + (uint64_t)ts.tv_nsec;
}

static void
watch_on_msg(struct conn *c, void *arg)
{
	struct watch_state *s = arg;
	size_t i = (size_t)(c - s->base);
	unsigned k;
	uint64_t t;

	if (memmem(c->prefix, c->prefix_len, "worker_event", 12) == NULL) {
		if (!s->ready &&
		    memmem(c->prefix, c->prefix_len, "worker_status", 13))
			s->replied++;
		return;
	}
	if (!s->ready)
		return;
	t = now_ns();
	k = s->nev[i]++;
	if (k >= WATCH_MAX_EVENTS)
		return;
	if (s->conns[k]++ == 0 || t < s->first[k])
		s->first[k] = t;
	if (t > s->last[k])
		s->last[k] = t;
}

static int
watch(const char *host, const char *port, int nconn, double seconds)
{
	static const char cmd[] = "worker_status";
	struct conn *cs = calloc((size_t)nconn, sizeof *cs);
	struct pollfd *pfd = calloc((size_t)nconn, sizeof *pfd);
	struct watch_state *st = calloc(1, sizeof *st);
	unsigned char frame[64];
	unsigned mn = ~0U, mx = 0;
	struct rlimit rl;
	size_t flen;
	double t_end = 0;
	int i, k;

	if (cs == NULL || pfd == NULL || st == NULL)
		dief("out of memory");
	st->nev = calloc((size_t)nconn, sizeof *st->nev);
	st->base = cs;
	if (st->nev == NULL)
		dief("out of memory");
	if (getrlimit(RLIMIT_NOFILE, &rl) == 0 &&
	    rl.rlim_cur < (rlim_t)nconn + 16) {
		rl.rlim_cur = rl.rlim_max;
		(void)setrlimit(RLIMIT_NOFILE, &rl);
	}
	flen = make_frame(0x1, cmd, sizeof cmd - 1, frame);
	for (i = 0; i < nconn; i++) {
		conn_open(&cs[i], host, port);
		write_all(cs[i].fd, frame, flen);
		fcntl(cs[i].fd, F_SETFL, fcntl(cs[i].fd, F_GETFL) | O_NONBLOCK);
		pfd[i].fd = cs[i].fd;
		pfd[i].events = POLLIN;
	}
	for (;;) {
		if (!st->ready && st->replied == nconn) {
			st->ready = 1;
			printf("ready\n");
			fflush(stdout);
			t_end = now_s() + seconds;
		}
		if (st->ready && now_s() >= t_end)
			break;
		if (poll(pfd, (nfds_t)nconn, 50) == -1 && errno != EINTR)
			die("poll");
		for (i = 0; i < nconn; i++) {
			ssize_t n;

			if (!(pfd[i].revents & (POLLIN | POLLHUP | POLLERR)))
				continue;
			for (;;) {
				rbuf_reserve(&cs[i], cs[i].rlen + 4096);
				n = read(cs[i].fd, cs[i].rbuf + cs[i].rlen,
				    cs[i].rcap - cs[i].rlen);
				if (n > 0) {
					cs[i].rlen += (size_t)n;
					continue;
				}
				if (n == 0)
					dief("server closed the connection");
				if (errno == EAGAIN || errno == EINTR)
					break;
				die("read");
			}
			if (conn_parse(&cs[i], watch_on_msg, st) == -1)
				dief("server closed the connection");
		}
	}
	for (k = 0; k < WATCH_MAX_EVENTS && st->conns[k] > 0; k++)
		printf("event=%d conns=%u first_ns=%llu last_ns=%llu\n", k,
		    st->conns[k], (unsigned long long)st->first[k],
		    (unsigned long long)st->last[k]);
	for (i = 0; i < nconn; i++) {
		if (st->nev[i] < mn)
			mn = st->nev[i];
		if (st->nev[i] > mx)
			mx = st->nev[i];
		conn_close(&cs[i]);
	}
	printf("conns=%d min_events=%u max_events=%u\n", nconn, mn, mx);
	return (0);
}

int
main(int argc, char **argv)
{
	if (argc == 8 && strcmp(argv[1], "tput") == 0)
		return (tput(argv[2], argv[3], atoi(argv[4]), atoi(argv[5]),
		    atof(argv[6]), atof(argv[7])));
	if (argc == 8 && strcmp(argv[1], "lat") == 0)
		return (lat(argv[2], argv[3], argv[4], argv[5], atoi(argv[6]),
		    atoi(argv[7])));
	if (argc == 6 && strcmp(argv[1], "watch") == 0)
		return (watch(argv[2], argv[3], atoi(argv[4]), atof(argv[5])));
	fprintf(stderr,
	    "usage: pingload tput HOST PORT NCONN INFLIGHT WARMUP_S SECONDS\n"
	    "       pingload watch HOST PORT NCONN SECONDS\n"
	    "       pingload lat HOST PORT MESSAGE EXPECT_PREFIX WARMUP "
	    "COUNT\n");
	return (2);
}
