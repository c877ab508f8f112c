#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# scripts/demo.sh -- install what is missing, build, and run Gatekeeper on loopback:
#   a private redis-server (127.0.0.1, a free port, data in build/demo/),
#   the sample registry feed (samples/registry-feed.jsonl) signed with a demo key and
#   applied with gk-sync, and gatekeeperd in the foreground on 127.0.0.1:5300 and
#   [::1]:5300 serving zones/ with the filing check and the sample policy (policy/) on;
#   and, as a registrar's nameserver that can only be fronted (docs/FRONTEND.md), NSD on a
#   free loopback port serving geo.example.cn and blog.cn, which gatekeeperd forwards to it.
# Ctrl-C stops gatekeeperd; the script then stops its redis-server and NSD.
set -euo pipefail
cd "$(dirname "$0")/.."
ROOT=$(pwd)
bash scripts/deps.sh
cmake -S . -B build/release -DCMAKE_BUILD_TYPE=RelWithDebInfo >/dev/null
cmake --build build/release -j"$(nproc)" --target gatekeeperd gk-sync gkctl
BIN=$ROOT/build/release
DEMO=$ROOT/build/demo
mkdir -p "$DEMO"

# free loopback ports for Redis and the metrics endpoint
free_port() { /usr/bin/python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }
PORT=$(free_port)
MPORT=$(free_port)
NSD_PORT=$(free_port)
redis-server --bind 127.0.0.1 --port "$PORT" --save "" --appendonly no --dir "$DEMO" \
	--logfile "$DEMO/redis.log" &
REDIS_PID=$!
GK_PID=""
NSD_PID=""
cleanup() {
	[ -z "$GK_PID" ] || kill "$GK_PID" 2>/dev/null || true
	[ -z "$NSD_PID" ] || kill "$NSD_PID" 2>/dev/null || true
	kill "$REDIS_PID" 2>/dev/null || true
	wait 2>/dev/null || true
}
trap cleanup EXIT
trap 'exit 130' INT TERM
for _ in $(seq 50); do
	redis-cli -p "$PORT" ping >/dev/null 2>&1 && break
	sleep 0.1
done

# the registry's key pair (made once for the demo), the signed feed, applied to Redis
[ -f "$DEMO/registry.key" ] || "$BIN/gk-sync" keygen "$DEMO/registry.key" "$DEMO/registry.pub"
cp samples/registry-feed.jsonl "$DEMO/feed.jsonl"
"$BIN/gk-sync" sign --key "$DEMO/registry.key" "$DEMO/feed.jsonl"
"$BIN/gk-sync" apply --redis "127.0.0.1:$PORT" --pubkey "$DEMO/registry.pub" "$DEMO/feed.jsonl"
# the access providers' filed address ranges (IP filing feed), for attribution in reports
cp samples/ip-feed.jsonl "$DEMO/ip-feed.jsonl"
"$BIN/gk-sync" sign --key "$DEMO/registry.key" "$DEMO/ip-feed.jsonl"
"$BIN/gk-sync" apply-ip --redis "127.0.0.1:$PORT" --pubkey "$DEMO/registry.pub" "$DEMO/ip-feed.jsonl"

# a zone to add at run time through the control channel (a child of the filed example.cn)
sed -e 's/newsite\.cn\./shop2.example.cn./g' -e 's/^; zones.*//' -e '/^; The zone/,/^; the filing/d' \
  zones/newsite.cn.zone >"$DEMO/shop2.example.cn.zone"

# the registrar's nameserver behind the front end: NSD with two zones of its own, geo.example.cn
# (under the filed example.cn) and blog.cn (not filed: gatekeeperd refuses it, NSD never sees it)
mkdir -p "$DEMO/nsd"
for z in geo.example.cn blog.cn; do
	cat >"$DEMO/nsd/$z.zone" <<ZONE
\$ORIGIN $z.
\$TTL 300
@	IN SOA ns1.$z. hostmaster.$z. 1 7200 900 1209600 300
@	IN NS ns1.$z.
ns1	IN A 192.0.2.53
www	IN A 192.0.2.80
ZONE
done
# a name of the filed zone whose CNAME leads into the unfiled one NSD also serves
echo "blog	IN CNAME www.blog.cn." >>"$DEMO/nsd/geo.example.cn.zone"
cat >"$DEMO/nsd/nsd.conf" <<NSDCONF
server:
	ip-address: 127.0.0.1@$NSD_PORT
	port: $NSD_PORT
	username: ""
	chroot: ""
	zonesdir: "$DEMO/nsd"
	database: ""
	pidfile: "$DEMO/nsd/nsd.pid"
	xfrdfile: "$DEMO/nsd/xfrd.state"
	zonelistfile: "$DEMO/nsd/zone.list"
	xfrdir: "$DEMO/nsd"
	logfile: "$DEMO/nsd/nsd.log"
	server-count: 1
	zonefiles-write: 0
remote-control:
	control-enable: no
zone:
	name: geo.example.cn
	zonefile: "geo.example.cn.zone"
zone:
	name: blog.cn
	zonefile: "blog.cn.zone"
NSDCONF
nsd -d -c "$DEMO/nsd/nsd.conf" &
NSD_PID=$!

# the example config, with absolute zone paths, the forwarded zones and the redis section
sed -e "s|file: zones/|file: $ROOT/zones/|" \
    -e "s|^zones:\$|zones:\n  - {name: geo.example.cn, forward: registrar}\n  - {name: blog.cn, forward: registrar}|" \
    gatekeeperd.conf.example >"$DEMO/gatekeeperd.conf"
cat >>"$DEMO/gatekeeperd.conf" <<CONF
redis:
  address: "127.0.0.1:$PORT"
  instance_id: demo
filing:
  startup: refuse
policy:
  file: $ROOT/policy/policy.yaml
metrics:
  listen: "127.0.0.1:$MPORT"
dnstap:
  file: $DEMO/decisions.dnstap
control:
  socket: $DEMO/control.sock
  state_file: $DEMO/zones.added
pools:
  - name: registrar
    backends: ["127.0.0.1:$NSD_PORT"]
    check: {name: geo.example.cn, interval_ms: 1000}
CONF
echo "demo: redis on 127.0.0.1:$PORT (pid $REDIS_PID); config $DEMO/gatekeeperd.conf"
echo "demo: try  dig @127.0.0.1 -p 5300 www.example.cn  (filed)"
echo "           dig @127.0.0.1 -p 5300 www.newsite.cn  (unfiled: REFUSED + EDE)"
echo "           dig @127.0.0.1 -p 5300 www.shop.com.cn (revoked: the policy redirects to a notice page + EDE)"
echo "           dig @127.0.0.1 -p 5300 x.phish.example.cn (operator block list: NXDOMAIN + EDE)"
echo "           dig @127.0.0.1 -p 5300 x.bad.example.cn   (the RPZ list: NXDOMAIN + EDE)"
echo "           dig @127.0.0.1 -p 5300 www.geo.example.cn (forwarded: NSD's answer, relayed)"
echo "           dig @127.0.0.1 -p 5300 www.blog.cn (forwarded zone, not filed: REFUSED + EDE, NSD never asked)"
echo "           dig @127.0.0.1 -p 5300 blog.geo.example.cn (a CNAME into blog.cn: relayed without blog.cn's data)"
echo "           build/release/gkctl -c build/demo/gatekeeperd.conf stats (the pool's backends and their state)"
echo "           build/release/gkctl lookup www.newsite.cn -c build/demo/gatekeeperd.conf (why?)"
echo "           build/release/gkctl -c build/demo/gatekeeperd.conf zone status      (the control channel: docs/CONTROL.md)"
echo "           build/release/gkctl -c build/demo/gatekeeperd.conf zone add shop2.example.cn build/demo/shop2.example.cn.zone"
echo "             (then dig @127.0.0.1 -p 5300 www.shop2.example.cn: served, filed under example.cn)"
echo "           build/release/gkctl --redis 127.0.0.1:$PORT report --format notice"
echo "             (unfiled sites per access provider; --format table shows each site's addresses,"
echo "              reserved ones in the sample zones, and the filings' accuracy: samples/README.md)"
"$BIN/gatekeeperd" -c "$DEMO/gatekeeperd.conf" &
GK_PID=$!
wait "$GK_PID"
