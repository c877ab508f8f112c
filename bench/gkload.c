// SPDX-License-Identifier: MIT
// bench/gkload.c -- open-loop UDP DNS load generator with latency percentiles.
//
// dnsperf 2.10 prints only average and stddev latency. gkload sends the queries of a
// dnsperf-format file ("name TYPE" per line, looped) at a fixed rate, on a schedule that does
// not wait for answers (open loop), and records each answer's latency in a log-linear
// histogram (1/64 relative precision). Send times are taken just before sendmmsg; receive
// times are the kernel's SO_TIMESTAMPNS, so the client's own wake-up delay is not counted.
// A query unanswered after -t ms is lost. Output is key=value lines, one per figure.
// -W N switches to closed loop: N queries outstanding per socket, a new one sent as each
// answer arrives (or its predecessor times out), to find the peak rate of a server that
// dnsperf cannot saturate. -B busy-polls instead of sleeping in ppoll (a VM's wake-up
// latency otherwise leaves both cores partly idle and bounds the closed-loop rate). -x FILE gives
// the expected rcode of each line of the query file (one name per line: NOERROR, NXDOMAIN, REFUSED,
// ...; "-" for any); answers with another rcode are counted as wrong= (the first few are printed to
// stderr). -D sets DO=1 in the OPT record (implies -e): the queries of a DNSSEC-aware resolver.
// Single-threaded; it is a bench tool and links none of the modules.
#include <errno.h>
#include <getopt.h>
#include <netinet/in.h>
#include <arpa/inet.h>
#include <poll.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

enum { MAX_SOCKS = 64, BATCH = 64, QMAX = 300, NSLOTS = 65536 };
enum { HB = 64, HLIN = 128, HBUCKETS = HLIN + 40 * HB };

typedef struct {
	uint8_t *wire;
	uint16_t len;
	int8_t expect; // rcode expected, -1: any
	uint32_t line; // line number in the query file (1-based)
} query;

typedef struct {
	uint64_t sent_ns; // 0: free
	uint32_t qi;      // query index
	uint16_t sock;
} slot;

static uint64_t hist[HBUCKETS];

static int hidx(uint64_t v)
{
	if (v < HLIN)
		return (int)v;
	int msb = 63 - __builtin_clzll(v);
	int shift = msb - 6;
	int i = HLIN + (msb - 7) * HB + (int)((v >> shift) - HB);
	return i < HBUCKETS ? i : HBUCKETS - 1;
}

static uint64_t hval(int i) // middle of bucket i
{
	if (i < HLIN)
		return (uint64_t)i;
	int msb = (i - HLIN) / HB + 7;
	uint64_t top = (uint64_t)((i - HLIN) % HB + HB);
	int shift = msb - 6;
	return (top << shift) + ((1ull << shift) >> 1);
}

static uint64_t now_ns(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_REALTIME, &ts);
	return (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
}

static int qtype_code(const char *t)
{
	static const struct {
		const char *n;
		int c;
	} tab[] = {
	    {"A", 1},       {"NS", 2},     {"CNAME", 5}, {"SOA", 6},   {"PTR", 12},
	    {"MX", 15},     {"TXT", 16},   {"AAAA", 28}, {"SRV", 33},  {"DS", 43},
	    {"DNSKEY", 48}, {"HTTPS", 65}, {"CAA", 257}, {"ANY", 255},
	};
	for (size_t i = 0; i < sizeof(tab) / sizeof(tab[0]); i++)
		if (!strcasecmp(t, tab[i].n))
			return tab[i].c;
	if (!strncasecmp(t, "TYPE", 4))
		return atoi(t + 4);
	return -1;
}

// Builds the wire query (ID 0, RD=0, optional EDNS with a 1232 payload; edns 2: with DO=1) into q.
static int build(query *q, const char *name, int type, int edns)
{
	uint8_t b[QMAX];
	size_t n = 12;
	memset(b, 0, 12);
	b[5] = 1; // QDCOUNT
	const char *p = name;
	while (*p && !(p[0] == '.' && p[1] == 0)) {
		const char *e = strchr(p, '.');
		size_t l = e ? (size_t)(e - p) : strlen(p);
		if (l == 0 || l > 63 || n + l + 1 > 255 + 12)
			return -1;
		b[n++] = (uint8_t)l;
		memcpy(b + n, p, l);
		n += l;
		p += l;
		if (*p == '.')
			p++;
	}
	b[n++] = 0;
	b[n++] = (uint8_t)(type >> 8);
	b[n++] = (uint8_t)type;
	b[n++] = 0;
	b[n++] = 1;
	if (edns) {
		b[11] = 1; // ARCOUNT
		uint8_t opt[11] = {0, 0, 41, 1232 >> 8, 1232 & 255, 0, 0, 0, 0, 0, 0};
		if (edns == 2)
			opt[7] = 0x80; // DO
		memcpy(b + n, opt, sizeof(opt));
		n += sizeof(opt);
	}
	q->wire = malloc(n);
	if (!q->wire)
		return -1;
	memcpy(q->wire, b, n);
	q->len = (uint16_t)n;
	return 0;
}

static query *load(const char *path, int edns, size_t *count)
{
	FILE *f = fopen(path, "r");
	if (!f) {
		perror(path);
		return NULL;
	}
	size_t cap = 1024, n = 0;
	query *qs = malloc(cap * sizeof(*qs));
	char line[1024], name[512], type[32];
	uint32_t lno = 0;
	while (qs && fgets(line, sizeof(line), f)) {
		lno++;
		if (line[0] == '#' || sscanf(line, "%511s %31s", name, type) != 2)
			continue;
		int t = qtype_code(type);
		if (t < 0)
			continue;
		if (n == cap) {
			cap *= 2;
			query *g = realloc(qs, cap * sizeof(*qs));
			if (!g) {
				free(qs);
				qs = NULL;
				break;
			}
			qs = g;
		}
		if (build(&qs[n], name, t, edns) == 0) {
			qs[n].expect = -1;
			qs[n].line = lno;
			n++;
		}
	}
	fclose(f);
	*count = n;
	return qs;
}

static const char *rn[16] = {"NOERROR", "FORMERR", "SERVFAIL", "NXDOMAIN", "NOTIMP", "REFUSED"};

// Expected rcodes, one per line of the query file, matched by line number.
static int load_expect(const char *path, query *qs, size_t nq)
{
	FILE *f = fopen(path, "r");
	if (!f) {
		perror(path);
		return -1;
	}
	char line[64], tok[32];
	uint32_t lno = 0;
	size_t qi = 0;
	while (fgets(line, sizeof(line), f)) {
		lno++;
		while (qi < nq && qs[qi].line < lno)
			qi++;
		if (qi >= nq)
			break;
		if (qs[qi].line != lno || sscanf(line, "%31s", tok) != 1)
			continue;
		for (int i = 0; i < 16; i++)
			if (rn[i] && !strcasecmp(tok, rn[i]))
				qs[qi].expect = (int8_t)i;
	}
	fclose(f);
	return 0;
}

static void usage(void)
{
	fprintf(stderr, "usage: gkload -d FILE -Q QPS [-s ADDR] [-p PORT] [-l SECONDS] [-c SOCKETS]"
	                " [-t TIMEOUT_MS] [-e] [-D] [-W WINDOW] [-B] [-x EXPECTED]\n");
	exit(2);
}

int main(int argc, char **argv)
{
	const char *file = NULL, *addr = "127.0.0.1";
	int port = 53, nsock = 4, edns = 0, timeout_ms = 1000;
	double qps = 0, secs = 10;
	int c, window = 0, busy = 0;
	const char *xfile = NULL;
	while ((c = getopt(argc, argv, "d:Q:s:p:l:c:t:eDW:x:B")) != -1) {
		switch (c) {
		case 'd':
			file = optarg;
			break;
		case 'Q':
			qps = atof(optarg);
			break;
		case 's':
			addr = optarg;
			break;
		case 'p':
			port = atoi(optarg);
			break;
		case 'l':
			secs = atof(optarg);
			break;
		case 'c':
			nsock = atoi(optarg);
			break;
		case 't':
			timeout_ms = atoi(optarg);
			break;
		case 'e':
			edns = edns ? edns : 1;
			break;
		case 'D':
			edns = 2;
			break;
		case 'W':
			window = atoi(optarg);
			break;
		case 'x':
			xfile = optarg;
			break;
		case 'B':
			busy = 1;
			break;
		default:
			usage();
		}
	}
	if (!file || (qps <= 0 && window <= 0) || secs <= 0 || nsock < 1 || nsock > MAX_SOCKS ||
	    timeout_ms < 1 || window < 0 || (long)window * nsock > NSLOTS / 2)
		usage();
	// 16-bit IDs index the in-flight table: an ID must not come back before it times out.
	if (!window && qps * timeout_ms / 1000.0 > NSLOTS / 2) {
		fprintf(stderr, "gkload: -Q x -t exceeds %d in-flight IDs\n", NSLOTS / 2);
		return 2;
	}
	size_t nq;
	query *qs = load(file, edns, &nq);
	if (!qs || nq == 0) {
		fprintf(stderr, "gkload: no queries in %s\n", file);
		return 1;
	}
	if (xfile && load_expect(xfile, qs, nq) != 0)
		return 1;
	prctl(PR_SET_TIMERSLACK, 1UL, 0, 0, 0);

	struct sockaddr_in sa = {.sin_family = AF_INET, .sin_port = htons((uint16_t)port)};
	if (inet_pton(AF_INET, addr, &sa.sin_addr) != 1)
		usage();
	struct pollfd pfd[MAX_SOCKS];
	for (int i = 0; i < nsock; i++) {
		int fd = socket(AF_INET, SOCK_DGRAM | SOCK_NONBLOCK, 0);
		int one = 1, buf = 4 << 20;
		if (fd < 0 || connect(fd, (struct sockaddr *)&sa, sizeof(sa)) < 0) {
			perror("gkload: socket");
			return 1;
		}
		setsockopt(fd, SOL_SOCKET, SO_RCVBUF, &buf, sizeof(buf));
		setsockopt(fd, SOL_SOCKET, SO_SNDBUF, &buf, sizeof(buf));
		setsockopt(fd, SOL_SOCKET, SO_TIMESTAMPNS, &one, sizeof(one));
		pfd[i] = (struct pollfd){.fd = fd, .events = POLLIN};
	}

	static slot slots[NSLOTS];
	static uint8_t rbuf[BATCH][2048];
	static char cbuf[BATCH][64];
	struct mmsghdr rm[BATCH], sm[BATCH];
	struct iovec riov[BATCH], siov[2 * BATCH];
	uint8_t shdr[BATCH][2];
	uint64_t sent = 0, recvd = 0, lost = 0, late = 0, stray = 0, tc = 0, rcode[16] = {0};
	uint64_t lat_sum = 0, lat_max = 0, inflight = 0, wrong = 0;
	uint64_t timeout_ns = (uint64_t)timeout_ms * 1000000ull;
	uint64_t t0 = now_ns(), end = t0 + (uint64_t)(secs * 1e9), drain_end = 0, next_scan = t0;
	double interval = window ? 0 : 1e9 / qps;
	size_t qi = 0;
	int rr = 0;
	uint32_t next_id = 0;
	static uint64_t credit[MAX_SOCKS]; // closed loop: queries each socket may send now
	for (int i = 0; i < nsock; i++)
		credit[i] = (uint64_t)window;

	for (;;) {
		uint64_t now = now_ns();
		if (now < end) {
			// Open loop: what is due by the clock. Closed loop: what the window allows.
			for (;;) {
				int s, k = 0;
				uint64_t want;
				if (window) {
					for (s = 0; s < nsock && !credit[(rr + s) % nsock]; s++)
						;
					if (s == nsock)
						break;
					s = (rr + s) % nsock;
					want = credit[s];
				} else {
					uint64_t due =
					    (uint64_t)((double)(now - t0) / interval) + 1;
					if (sent >= due)
						break;
					s = rr;
					want = due - sent;
				}
				rr = (rr + 1) % nsock;
				for (; k < BATCH && (uint64_t)k < want; k++) {
					query *q = &qs[qi];
					uint16_t id;
					if (window) { // the next free ID (window x sockets <=
						      // NSLOTS / 2)
						while (slots[(uint16_t)next_id].sent_ns)
							next_id++;
						id = (uint16_t)next_id++;
					} else {
						id = (uint16_t)(sent + (uint64_t)k);
						if (slots[id].sent_ns) { // never answered and its
							                 // ID is due again
							lost++;
							inflight--;
						}
					}
					slots[id] = (slot){.sent_ns = now,
					                   .qi = (uint32_t)qi,
					                   .sock = (uint16_t)s};
					qi = (qi + 1) % nq;
					inflight++;
					// The ID goes in its own iovec so the query templates stay
					// shared.
					shdr[k][0] = (uint8_t)(id >> 8);
					shdr[k][1] = (uint8_t)id;
					siov[2 * k] =
					    (struct iovec){.iov_base = shdr[k], .iov_len = 2};
					siov[2 * k + 1] = (struct iovec){.iov_base = q->wire + 2,
					                                 .iov_len = q->len - 2u};
					sm[k] = (struct mmsghdr){
					    .msg_hdr = {.msg_iov = &siov[2 * k], .msg_iovlen = 2}};
				}
				int done = 0;
				while (done < k) {
					int r =
					    sendmmsg(pfd[s].fd, sm + done, (unsigned)(k - done), 0);
					if (r < 0) {
						if (errno == EINTR)
							continue;
						break; // ENOBUFS/EAGAIN: the rest time out and
						       // count as lost
					}
					done += r;
				}
				sent += (uint64_t)k;
				if (window)
					credit[s] -= (uint64_t)k;
			}
		} else if (!drain_end) {
			drain_end = now + timeout_ns;
		}
		if (drain_end && (inflight == 0 || now >= drain_end))
			break;

		// Closed loop: a query unanswered after the timeout is lost and frees its place.
		if (window && now >= next_scan) {
			next_scan = now + timeout_ns / 4;
			for (uint32_t id = 0; id < NSLOTS; id++)
				if (slots[id].sent_ns && now - slots[id].sent_ns > timeout_ns) {
					slots[id].sent_ns = 0;
					lost++;
					inflight--;
					if (now < end)
						credit[slots[id].sock]++;
				}
		}

		// Receive everything that is waiting, on every socket.
		for (int s = 0; s < nsock; s++) {
			for (;;) {
				for (int j = 0; j < BATCH; j++) {
					riov[j] = (struct iovec){.iov_base = rbuf[j],
					                         .iov_len = sizeof(rbuf[j])};
					rm[j].msg_hdr =
					    (struct msghdr){.msg_iov = &riov[j],
					                    .msg_iovlen = 1,
					                    .msg_control = cbuf[j],
					                    .msg_controllen = sizeof(cbuf[j])};
				}
				int r = recvmmsg(pfd[s].fd, rm, BATCH, MSG_DONTWAIT, NULL);
				if (r <= 0)
					break;
				uint64_t tnow = now_ns();
				for (int j = 0; j < r; j++) {
					uint8_t *p = rbuf[j];
					if (rm[j].msg_len < 12 || !(p[2] & 0x80)) {
						stray++;
						continue;
					}
					uint16_t id = (uint16_t)(p[0] << 8 | p[1]);
					slot *sl = &slots[id];
					if (!sl->sent_ns) {
						stray++;
						continue;
					}
					uint64_t t = tnow;
					for (struct cmsghdr *cm = CMSG_FIRSTHDR(&rm[j].msg_hdr); cm;
					     cm = CMSG_NXTHDR(&rm[j].msg_hdr, cm))
						if (cm->cmsg_level == SOL_SOCKET &&
						    cm->cmsg_type == SO_TIMESTAMPNS) {
							struct timespec ts;
							memcpy(&ts, CMSG_DATA(cm), sizeof(ts));
							t = (uint64_t)ts.tv_sec * 1000000000ull +
							    (uint64_t)ts.tv_nsec;
						}
					uint64_t lat = t > sl->sent_ns ? t - sl->sent_ns : 0;
					sl->sent_ns = 0;
					inflight--;
					if (window && tnow < end)
						credit[sl->sock]++;
					if (lat > timeout_ns) {
						late++;
						lost++;
						continue;
					}
					recvd++;
					int rc = p[3] & 15;
					rcode[rc]++;
					const query *q = &qs[sl->qi];
					if (q->expect >= 0 && q->expect != rc) {
						if (wrong++ < 10)
							fprintf(
							    stderr,
							    "gkload: line %u: %s, expected %s\n",
							    q->line, rn[rc] ? rn[rc] : "?",
							    rn[q->expect] ? rn[q->expect] : "?");
					}
					if (p[2] & 0x02)
						tc++;
					hist[hidx(lat)]++;
					lat_sum += lat;
					if (lat > lat_max)
						lat_max = lat;
				}
			}
		}

		// Sleep until the next send is due or an answer arrives.
		now = now_ns();
		int64_t wait_ns;
		if (now < end) {
			if (window) {
				int any = 0;
				for (int s = 0; s < nsock; s++)
					any |= credit[s] != 0;
				wait_ns =
				    any ? 0 : (int64_t)(next_scan > now ? next_scan - now : 0);
				if (wait_ns > (int64_t)(end - now))
					wait_ns = (int64_t)(end - now);
			} else {
				uint64_t next = t0 + (uint64_t)((double)sent * interval);
				wait_ns = next > now ? (int64_t)(next - now) : 0;
			}
		} else {
			wait_ns = drain_end > now ? (int64_t)(drain_end - now) : 0;
		}
		if (busy && now < end)
			wait_ns = 0; // -B: poll without sleeping (the client core is ours alone)
		if (wait_ns > 0) {
			struct timespec ts = {.tv_sec = wait_ns / 1000000000,
			                      .tv_nsec = wait_ns % 1000000000};
			ppoll(pfd, (nfds_t)nsock, &ts, NULL);
		}
	}
	lost += inflight;
	double dur = (double)(end - t0) / 1e9;

	printf("sent=%llu\nreceived=%llu\nlost=%llu\nlate=%llu\nstray=%llu\ntruncated=%llu\nwrong=%"
	       "llu\n",
	       (unsigned long long)sent, (unsigned long long)recvd, (unsigned long long)lost,
	       (unsigned long long)late, (unsigned long long)stray, (unsigned long long)tc,
	       (unsigned long long)wrong);
	printf("duration_s=%.3f\nsend_qps=%.1f\nrecv_qps=%.1f\n", dur, (double)sent / dur,
	       (double)recvd / dur);
	for (int i = 0; i < 16; i++)
		if (rcode[i]) {
			if (rn[i])
				printf("rcode_%s=%llu\n", rn[i], (unsigned long long)rcode[i]);
			else
				printf("rcode_%d=%llu\n", i, (unsigned long long)rcode[i]);
		}
	if (recvd) {
		static const struct {
			const char *k;
			double q;
		} pct[] = {
		    {"p50_us", 0.50},
		    {"p90_us", 0.90},
		    {"p99_us", 0.99},
		    {"p999_us", 0.999},
		};
		printf("mean_us=%.2f\nmax_us=%.2f\n", (double)lat_sum / (double)recvd / 1e3,
		       (double)lat_max / 1e3);
		for (size_t k = 0; k < sizeof(pct) / sizeof(pct[0]); k++) {
			uint64_t target = (uint64_t)(pct[k].q * (double)recvd + 0.5), acc = 0;
			if (target < 1)
				target = 1;
			for (int i = 0; i < HBUCKETS; i++) {
				acc += hist[i];
				if (acc >= target) {
					printf("%s=%.2f\n", pct[k].k, (double)hval(i) / 1e3);
					break;
				}
			}
		}
	}
	return 0;
}
