# SPDX-License-Identifier: MIT
# bench/gkbench/common.py -- paths, cores, priorities, the list of scenarios, logging.
import os
import sys

HERE = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))  # bench/
ROOT = os.path.dirname(HERE)


SERVER_CORE, CLIENT_CORE = "0", "1"
ALL_CORES = "0-%d" % (os.cpu_count() - 1)  # gk-sync and Redis in the sync scenario: no server under test


# Other work on a shared machine (builds, tests) would steal the pinned cores; a higher CFS
# weight keeps most of it off without starving anything (no real-time class). With autogroup
# scheduling, nice counts only inside a session, so each server and client gets its own
# session and that session's autogroup is given the same nice (see boost()).
NICE_LEVEL = -10
NICE = ["nice", "-n", str(NICE_LEVEL)]


def boost(pid):
	try:
		with open("/proc/%d/autogroup" % pid, "w") as f:
			f.write(str(NICE_LEVEL))
	except OSError:
		pass  # no autogroup support or no permission: plain nice still applies


CLK_TCK = os.sysconf("SC_CLK_TCK")
STARTED = []  # Popen objects, for cleanup
SCENARIOS = ["udp", "tcp", "redis", "storm", "propagate", "policy", "sync", "cold", "onoff", "zones", "dnssec", "rrl",
	     "secondary", "dot", "frontend"]
SCENARIO_HELP = {
	"udp": "max UDP rate (dnsperf and gkload closed loop) and 20k qps fixed rate, 1M status set: "
	       "gatekeeperd, NSD, dnsdist+NSD, ceiling",
	"tcp": "TCP, 100 connections, pipelined: gatekeeperd vs NSD",
	"redis": "Redis killed for 10 s while serving 20k qps: answers lost or wrong",
	"storm": "100k revocations through gk-sync while serving 20k qps: time until enforced, lost",
	"propagate": "200 one-record status changes through gk-sync, two gatekeeperd instances on the same Redis "
	             "(the first serving 20k qps): delay until each instance enforces each change",
	"policy": "1M-entry block/allow lists: compile time (polc), UDP rate with them vs an empty policy, and `gkctl policy push` of them while serving 20k qps: time until enforced, lost",
	"sync": "gk-sync at 10M: snapshot and 100k-delta apply times (registry records), Redis bytes/domain of "
	        "the status set and of the record buckets",
	"cold": "cold start with the 10M status set: time to ready, RSS over the empty baseline",
	"onoff": "10M status set: the same gatekeeperd with filing enforcement on vs off",
	"zones": "--zones-n generated zones (default 1M) from the same files, gatekeeperd, NSD and Knot one at a time: "
	         "time until every zone answers, memory per record and zone, one changed zone reloaded (SIGHUP, "
	         "nsd-control reload, knotc zone-reload); then gatekeeperd vs NSD at N zones: peak, 20k-qps CPU, "
	         "p99 from dnsperf -v fresh and right after a peak; zone updates through the control channel",
	"dnssec": "--dnssec-zones zones signed with NSEC3, then NSEC (ldns-signzone, cached); the udp mix with DO=1: "
	          "gatekeeperd vs NSD peak, 20k-qps CPU, memory per signed record",
	"rrl": "gatekeeperd with rate limiting on and the bench client exempt vs rate limiting off: peak",
	"dot": "DNS over TLS (dnsperf -m dot -c 8 -q 64): gatekeeperd vs NSD 4.6 (tls-port), same zones and certificate: "
	       "qps and server CPU per query",
	"frontend": "gatekeeperd forwarding every zone to NSD vs dnsdist in front of NSD, 1M status set, packet cache "
	            "off and on: peaks, 20k-qps CPU per query and dnsperf -v p99, a revocation of a cached name, a "
	            "backend killed under load",
	"secondary": "Knot as the primary of --secondary-n zones: gatekeeperd vs Knot as secondaries, time until "
	             "every zone is served, NOTIFY-to-served p99 of one-record changes, restart from persisted zones",
}


def log(*a):
	print(*a, file=sys.stderr, flush=True)
