// SPDX-License-Identifier: MIT
// bench/refuser.c -- the ceiling probe: a minimal UDP DNS responder that answers every query
// with REFUSED, using recvmmsg/sendmmsg in batches of up to 64 on one blocking socket.
//
// It does the least any DNS server must do per query (receive, check the header, find the
// end of the question, flip QR, set the rcode, send), so the rate it reaches with a given
// load generator on this machine bounds what any DNS server can reach there. The reply
// echoes the header and question (QDCOUNT 1, no other sections); anything that is not a
// single-question query is dropped. Same SO_RCVBUF as gatekeeperd's harness expects (4 MiB).
//   refuser -p PORT [-a 127.0.0.1]     runs until SIGTERM/SIGINT, prints counters on exit
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

enum { BATCH = 64, BUF = 4096 };

static volatile sig_atomic_t stop;
static void on_term(int sig)
{
	(void)sig;
	stop = 1;
}

// Length of header + question, or 0 when the packet is not a one-question query.
static size_t question_end(const uint8_t *p, size_t n)
{
	if (n < 12 || (p[2] & 0x80) || p[4] != 0 || p[5] != 1)
		return 0;
	size_t i = 12;
	while (i < n && p[i]) {
		if (p[i] & 0xc0)
			return 0;
		i += (size_t)p[i] + 1;
	}
	i += 5; // root label, QTYPE, QCLASS
	return i <= n ? i : 0;
}

int main(int argc, char **argv)
{
	const char *addr = "127.0.0.1";
	int port = 0, c;
	while ((c = getopt(argc, argv, "a:p:")) != -1) {
		if (c == 'a')
			addr = optarg;
		else if (c == 'p')
			port = atoi(optarg);
		else
			return 2;
	}
	if (port < 1 || port > 65535) {
		fprintf(stderr, "usage: refuser -p PORT [-a ADDR]\n");
		return 2;
	}
	struct sockaddr_in sa = {.sin_family = AF_INET, .sin_port = htons((uint16_t)port)};
	if (inet_pton(AF_INET, addr, &sa.sin_addr) != 1)
		return 2;
	int fd = socket(AF_INET, SOCK_DGRAM, 0);
	int buf = 4 << 20;
	setsockopt(fd, SOL_SOCKET, SO_RCVBUF, &buf, sizeof(buf));
	setsockopt(fd, SOL_SOCKET, SO_SNDBUF, &buf, sizeof(buf));
	if (fd < 0 || bind(fd, (struct sockaddr *)&sa, sizeof(sa)) < 0) {
		perror("refuser: bind");
		return 1;
	}
	struct sigaction act = {.sa_handler = on_term}; // no SA_RESTART: recvmmsg returns EINTR
	sigaction(SIGTERM, &act, NULL);
	sigaction(SIGINT, &act, NULL);

	static uint8_t bufs[BATCH][BUF];
	static struct sockaddr_in peers[BATCH];
	struct mmsghdr rm[BATCH], sm[BATCH];
	struct iovec riov[BATCH], siov[BATCH];
	unsigned long long in = 0, out = 0, dropped = 0, calls = 0;
	while (!stop) {
		for (int j = 0; j < BATCH; j++) {
			riov[j] = (struct iovec){.iov_base = bufs[j], .iov_len = BUF};
			rm[j].msg_hdr = (struct msghdr){.msg_name = &peers[j],
			                                .msg_namelen = sizeof(peers[j]),
			                                .msg_iov = &riov[j],
			                                .msg_iovlen = 1};
		}
		// Blocks for the first datagram, then takes whatever else is queued.
		int r = recvmmsg(fd, rm, BATCH, MSG_WAITFORONE, NULL);
		if (r < 0) {
			if (errno == EINTR)
				continue;
			perror("refuser: recvmmsg");
			return 1;
		}
		calls++;
		int k = 0;
		for (int j = 0; j < r; j++) {
			uint8_t *p = bufs[j];
			size_t e = question_end(p, rm[j].msg_len);
			in++;
			if (!e) {
				dropped++;
				continue;
			}
			p[2] = (uint8_t)(0x80 | (p[2] & 0x79)); // QR, keep opcode and RD
			p[3] = 5;                               // REFUSED, RA/Z/AD/CD clear
			p[6] = p[7] = p[8] = p[9] = p[10] = p[11] = 0;
			siov[k] = (struct iovec){.iov_base = p, .iov_len = e};
			sm[k].msg_hdr = (struct msghdr){.msg_name = &peers[j],
			                                .msg_namelen = rm[j].msg_hdr.msg_namelen,
			                                .msg_iov = &siov[k],
			                                .msg_iovlen = 1};
			k++;
		}
		for (int done = 0; done < k;) {
			int w = sendmmsg(fd, sm + done, (unsigned)(k - done), 0);
			if (w < 0) {
				if (errno == EINTR)
					continue;
				break;
			}
			done += w;
			out += (unsigned long long)w;
		}
	}
	fprintf(stderr, "refuser: %llu in, %llu answered, %llu dropped, %llu recvmmsg calls\n", in,
	        out, dropped, calls);
	return 0;
}
