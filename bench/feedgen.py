#!/usr/bin/env python3
# SPDX-License-Identifier: MIT
# bench/feedgen.py -- seeded registry feeds (snapshot or delta) for gk-sync benchmarks and tests.
#
# Record i of a seed is a pure function of (seed, i), so a delta can be generated against a
# snapshot without reading it: a delta on top of `--n N` changes `--changes M` domains of
# that snapshot (about 40% status flips or record edits, 30% removals, 30% new domains).
# Names look like registry data: pinyin-like labels under .cn, .com.cn, .net.cn, .org.cn,
# .gov.cn, province .cn zones, .com, .net, .top and 中国 (as A-labels, which is what the
# feed must carry after normalisation). Unique by construction (the index is in the label).
#
#   feedgen.py --n 1000000 --out /tmp/snap.jsonl [--seed 1] [--serial 10]
#   feedgen.py --n 1000000 --delta 100000 --serial 11 --base 10 --out /tmp/delta.jsonl
#   ... --sign PRIV.pem --gk-sync build/gk-sync     (writes OUT.sig with `gk-sync sign`)
import argparse
import random
import subprocess
import sys

SYL = ("an ba bai bao bei ben bi bo cai can cao ce chang chao chen cheng chu da dai dan dao de "
       "deng di dian ding dong du duan fa fan fang fei feng fu gang gao ge gong gu guan guang gui "
       "guo hai han hang hao he hong hu hua huai huan huang hui ji jia jian jiang jiao jie jin jing "
       "jiu ju kai kang ke kong lai lan lang le lei li lian liang lin ling liu long lu luo ma mei "
       "men mi min ming mu na nan neng ning pan peng ping qi qian qiang qing qiu quan ren rong rui "
       "san shan shang shen sheng shi shu shun si song tai tang tian tong wan wang wei wen xi xia "
       "xian xiang xiao xin xing xu xuan ya yan yang yao ye yi yin ying yong you yu yuan yue yun "
       "zhan zhang zhao zhen zheng zhi zhong zhou zhu zi").split()
# suffix, weight
SUFFIXES = [("cn", 38), ("com.cn", 22), ("com", 18), ("net.cn", 4), ("org.cn", 3), ("net", 4),
            ("top", 4), ("gov.cn", 1), ("bj.cn", 1), ("sh.cn", 1), ("gd.cn", 1), ("zj.cn", 1),
            ("xn--fiqs8s", 1), ("edu.cn", 1)]
SUF_TABLE = [s for s, w in SUFFIXES for _ in range(w)]
PROVINCES = "京津冀晋蒙辽吉黑沪苏浙皖闽赣鲁豫鄂湘粤桂琼渝川贵云藏陕甘青宁新"
CITIES = ["北京", "上海", "广州", "深圳", "杭州", "成都", "南京", "武汉", "西安", "重庆", "苏州",
          "天津", "长沙", "郑州", "青岛", "厦门", "合肥", "济南", "福州", "昆明"]
WORDS = ["云海", "星辰", "华信", "博远", "天成", "恒通", "盛世", "鼎新", "汇智", "明德", "宏图",
         "佳和", "瑞丰", "锦程", "睿达", "万象", "同创", "金桥", "蓝天", "绿源"]
TRADES = ["科技", "网络科技", "信息技术", "文化传媒", "电子商务", "教育咨询", "贸易", "软件"]
SURNAMES = "王李张刘陈杨黄赵吴周徐孙马朱胡郭何高林罗郑梁谢宋唐"
GIVEN = "伟芳娜敏静丽强磊军洋勇艳杰娟涛明超秀霞平刚桂英华"
PROVIDERS = ["阿里云计算有限公司", "深圳市腾讯计算机系统有限公司", "北京百度网讯科技有限公司",
             "华为云计算技术有限公司", "中国电信股份有限公司", "中国联合网络通信有限公司",
             "中国移动通信集团有限公司", "北京金山云网络技术有限公司", "优刻得科技股份有限公司",
             "西部数码", "新网数码", "景安网络", "京东云", "天翼云", "网宿科技"] + \
            ["接入商%02d" % i for i in range(25)]
NATURES = ["企业"] * 70 + ["个人"] * 24 + ["事业单位"] * 3 + ["政府机关"] * 2 + ["社会团体"]


def b36(n):
	"""Fixed width (5 digits: 60M names), so the index is always the name's last 5 chars."""
	s = ""
	for _ in range(5):
		n, r = divmod(n, 36)
		s = "0123456789abcdefghijklmnopqrstuvwxyz"[r] + s
	return s


def record(seed, i, status="filed", edit=0):
	r = random.Random(seed * 1000003 + i * 7919)
	name = r.choice(SYL) + r.choice(SYL) + b36(i)
	dom = name + "." + r.choice(SUF_TABLE)
	if edit:  # same domain, other record fields
		r = random.Random(seed * 1000003 + i * 7919 + edit * 1000000007)
	nature = r.choice(NATURES)
	if nature == "个人":
		sponsor = r.choice(SURNAMES) + "".join(r.choice(GIVEN) for _ in range(r.randint(1, 2)))
		site = sponsor + "的个人博客"
	else:
		sponsor = r.choice(CITIES) + r.choice(WORDS) + r.choice(TRADES) + "有限公司"
		site = r.choice(WORDS) + "官网"
	lic = "%sICP备%08d号-%d" % (r.choice(PROVINCES), r.randrange(10**8), r.randint(1, 3))
	ip = "%d.%d.%d.%d" % (r.randint(1, 223), r.randrange(256), r.randrange(256), r.randint(1, 254))
	return ('{"domain":"%s","status":"%s","licence":"%s","sponsor":"%s","nature":"%s",'
	        '"provider":"%s","updated":"2024-%02d-%02dT%02d:%02d:00+08:00","site_name":"%s",'
	        '"home_url":"http://www.%s/","ips":["%s"]}\n' % (
	            dom, status, lic, sponsor, nature, r.choice(PROVIDERS), r.randint(1, 12),
	            r.randint(1, 28), r.randrange(24), r.randrange(60), site, dom, ip)), dom


def write(out, n, seed=1, serial=1, delta=0, base=None, revoked=0.02):
	"""Writes the snapshot of n domains (delta=0) or a delta of `delta` changes on top of it."""
	r = random.Random(seed)
	with open(out, "w", encoding="utf-8", buffering=1 << 20) as f:
		if not delta:
			f.write('{"kind":"snapshot","serial":%d,"count":%d,"generated":"2024-06-01T00:00:00Z"}\n'
			        % (serial, n))
			w = f.write
			for i in range(n):
				w(record(seed, i, "revoked" if r.random() < revoked else "filed")[0])
		else:
			base = base if base is not None else serial - 1
			f.write('{"kind":"delta","serial":%d,"base":%d,"count":%d,"generated":"2024-06-02T00:00:00Z"}\n'
			        % (serial, base, delta))
			n_new = int(delta * 0.3)
			n_rm = int(delta * 0.3)
			n_mod = delta - n_new - n_rm
			picked = r.sample(range(n), n_mod + n_rm)
			for k, i in enumerate(picked):
				line, dom = record(seed, i, "revoked" if k % 2 == 0 else "filed", edit=k % 2)
				if k < n_rm:
					f.write('{"domain":"%s","op":"remove"}\n' % dom)
				else:
					f.write(line)
			for i in range(n, n + n_new):
				f.write(record(seed, i)[0])


def main():
	ap = argparse.ArgumentParser(description=__doc__)
	ap.add_argument("--n", type=int, required=True, help="domains in the snapshot")
	ap.add_argument("--seed", type=int, default=1)
	ap.add_argument("--serial", type=int, default=1)
	ap.add_argument("--delta", type=int, default=0, help="make a delta of this many changes")
	ap.add_argument("--base", type=int, default=None, help="delta base (default serial-1)")
	ap.add_argument("--revoked", type=float, default=0.02, help="share of revoked in a snapshot")
	ap.add_argument("--out", required=True)
	ap.add_argument("--sign", help="private key: sign with gk-sync sign")
	ap.add_argument("--gk-sync", default="gk-sync")
	a = ap.parse_args()
	write(a.out, a.n, a.seed, a.serial, a.delta, a.base, a.revoked)
	if a.sign:
		subprocess.run([a.gk_sync, "sign", "--key", a.sign, a.out], check=True)


if __name__ == "__main__":
	sys.exit(main())
