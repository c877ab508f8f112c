#!/usr/bin/python3
# SPDX-License-Identifier: MIT
# scripts/serve_mem.py -- start a DNS server, time until every name of a sample answers, report
# its memory (docs/ARCHITECTURE.md "Start-up", "Memory").
#
# Usage: serve_mem.py PORT SAMPLEFILE -- CMD...: start CMD, send an A query for each name in
# SAMPLEFILE (one a line) to 127.0.0.1:PORT until all answer NOERROR, then wait until the
# process tree's CPU is idle for 2 s; print the time to answer, the CPU seconds and the
# summed PSS of the process tree (NSD forks: PSS does not count shared pages twice); stop it.
# The server log goes to serve_mem-PORT.log in the current directory.
import os, socket, struct, subprocess, sys, time, random
port = int(sys.argv[1]); names = [l.split()[0] for l in open(sys.argv[2]) if l.strip()]
cmd = sys.argv[sys.argv.index("--") + 1:]
def q(name):
    w = b"".join(bytes([len(x)]) + x.encode() for x in name.rstrip(".").split(".")) + b"\0"
    m = struct.pack(">HHHHHH", random.randrange(65536), 0, 1, 0, 0, 0) + w + b"\0\1\0\1"
    s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM); s.settimeout(0.5)
    try:
        s.sendto(m, ("127.0.0.1", port)); r = s.recv(4096); return r[3] & 15
    except Exception: return None
    finally: s.close()
def tree(pid):
    out = [pid]
    for p in os.listdir("/proc"):
        if p.isdigit():
            try:
                st = open("/proc/%s/stat" % p).read().split(")")[1].split()
                if int(st[1]) in out: out.append(int(p))
            except Exception: pass
    return out
def cpu(pids):
    t = 0
    for p in pids:
        try:
            st = open("/proc/%d/stat" % p).read().split(")")[1].split(); t += int(st[11]) + int(st[12]) + int(st[13]) + int(st[14])
        except Exception: pass
    return t / os.sysconf("SC_CLK_TCK")
def pss(pids):
    t = 0
    for p in pids:
        try:
            for l in open("/proc/%d/smaps_rollup" % p):
                if l.startswith("Pss:"): t += int(l.split()[1])
        except Exception: pass
    return t
t0 = time.monotonic()
p = subprocess.Popen(cmd, stdout=open("serve_mem-%d.log" % port, "w"), stderr=subprocess.STDOUT)
pending = list(names)
while pending:
    if p.poll() is not None: print("exited", p.returncode); sys.exit(1)
    pending = [n for n in pending if q(n) != 0]
    if pending: time.sleep(0.2)
t_ans = time.monotonic() - t0
pids = tree(p.pid); last = cpu(pids)
while True:
    time.sleep(2); pids = tree(p.pid); c = cpu(pids)
    if c - last < 0.1: break
    last = c
print("answered_s=%.1f pss_kb=%d cpu_s=%.1f procs=%d" % (t_ans, pss(pids), c, len(pids)))
if os.environ.get("HOLD"): input()
p.terminate(); p.wait(60)
