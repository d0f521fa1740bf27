#!/usr/bin/env python3
"""Spark Streaming (3.5, JVM DStreams, local[2]) and eddy side by side, on the
same load, one after the other, in one invocation (issue 13, point 6).

For each workload (word count as the plain GROUP BY a user writes first,
windowed word count 30 s / 10 s, running totals of every key every batch),
each system climbs a ladder of rates and stops at the first rate it does not
keep up with in two tries. Then eddy's stateless word count runs over the same replayed
input on 1 and on 2 lanes, in alternating rounds that each wait for the cores
to be 90% idle (records/s, the ratio of the medians, peak RSS). It prints a table:
the highest rate each keeps up with, p50 and p95 delay, peak RSS, and the
time to the first batch.

The load generator and the Spark job are the peer tools (loadgen.py,
spark_bench.py, eddy_bench.py), found with --peers; Spark comes from pyspark
in $PEER_ENV (see the peers' README). Nothing of Spark's goes into this repo.

Keep-up verdicts. Spark runs one batch at a time, so its verdict is the
peers' own: over the batches with data less the first two, p95 processing
time below the batch interval, the last three scheduling delays below 1 s,
and the second half's mean scheduling delay no more than 250 ms above the
first half's. eddy runs batches on several lanes at once, so one batch's
processing time may exceed the interval while the job keeps up; its verdict
drops the processing-time test and keeps the rest: the scheduling delay
must neither grow nor pass 1 s at the end. Both must also have counted every
line sent by the time they stop (the run lasts the send time plus 10 s).

  PEER_ENV=/work/peerenv python3 scripts/sidebyside.py --eddy .build/release/eddy --out /tmp/sbs
"""
import argparse
import json
import os
import re
import statistics
import subprocess
import sys
import time

# Spark's best rates so far: word count 150k-450k, window below 25k-100k,
# running totals 100k-250k; eddy's 300k-800k since hash counting. The rungs
# are close where Spark tops out, and wider above, where only eddy climbs.
LADDERS = {
    "wordcount": [100_000, 150_000, 200_000, 250_000, 300_000, 375_000, 450_000, 550_000, 650_000, 800_000, 1_000_000],
    "window": [25_000, 50_000, 100_000, 200_000, 300_000, 450_000, 650_000, 800_000, 1_000_000],
    "state": [50_000, 100_000, 150_000, 200_000, 250_000, 300_000, 375_000, 450_000, 650_000, 800_000, 1_000_000],
}
# eddy_bench.py's query and spark_dstream.py's mode for each workload.
EDDY_QUERY = {"wordcount": "groupby", "window": "window", "state": "state"}
SPARK_MODE = {"wordcount": "wordcount", "window": "window", "state": "state"}
METRIC = re.compile(r"(\w+)=([^\s]+)")


def pct(xs, q):
    xs = sorted(xs)
    return xs[int(q * (len(xs) - 1))] if xs else None


def eddy_delays(run_dir):
    """Per-batch figures from eddy's metrics lines, with data, less the first two."""
    batches = []
    with open(os.path.join(run_dir, "stderr.log")) as f:
        for line in f:
            if line.startswith("eddy: batch="):
                m = dict(METRIC.findall(line))
                batches.append({k: float(m[k]) for k in ("records", "processing_ms", "scheduling_delay_ms", "total_delay_ms")})
    return [b for b in batches if b["records"] > 0][2:]


def eddy_keeps_up(data, all_counted):
    """The overlap verdict: scheduling delay neither growing nor high at the end."""
    if not data or not all_counted:
        return False
    sched = [b["scheduling_delay_ms"] for b in data]
    half = len(sched) // 2
    return all(s < 1000 for s in sched[-3:]) and (half == 0 or statistics.mean(sched[half:]) <= statistics.mean(sched[:half]) + 250)


def run_eddy(a, eddy_bench, workload, rate, sets=()):
    ns = argparse.Namespace(eddy=a.eddy, seconds=a.seconds, slack=a.slack, batch=1.0, query=EDDY_QUERY[workload],
                            set=list(sets), words=10, vocab=1000, seed=42, verify=False, out=os.path.join(a.out, "eddy"))
    res = eddy_bench.run_one(ns, rate)
    tag = "eddy-%s-r%d" % (ns.query, rate)
    data = eddy_delays(os.path.join(ns.out, tag))
    total = [b["total_delay_ms"] for b in data]
    return {"system": "eddy", "workload": workload, "rate": rate, "sent": res["sent"], "counted": res["counted"],
            "keeps_up": eddy_keeps_up(data, res["all_counted"]), "peers_verdict": res["keeps_up"],
            "processing_p50": res["processing_ms"]["p50"], "processing_p95": res["processing_ms"]["p95"],
            "total_p50": pct(total, 0.5), "total_p95": pct(total, 0.95),
            "peak_rss_mb": res["peak_rss_mb"], "first_batch_s": (res["first_batch_ms"] or 0) / 1000}


def run_spark(a, spark_bench, workload, rate):
    ns = argparse.Namespace(seconds=a.seconds, slack=a.slack, batch=1.0, mode=SPARK_MODE[workload], words=10, vocab=1000,
                            seed=42, verify=False, verify_max=0, out=os.path.join(a.out, "spark-" + workload))
    r = spark_bench.run_one(ns, rate, ["--engine", "jvm"])
    pm = r.get("processing_ms") or {}
    rss = r.get("peak_rss_mb") or {}
    return {"system": "spark", "workload": workload, "rate": rate, "sent": r["lines_sent"], "counted": r["spark_records"],
            "keeps_up": bool(r["keeps_up"]) and bool(r["all_counted"]),
            "processing_p50": pm.get("p50"), "processing_p95": pm.get("p95"), "total_p50": None, "total_p95": None,
            "peak_rss_mb": rss.get("jvm"), "first_batch_s": r.get("startup_to_first_batch_s")}


def climb(run, ladder, log):
    """Rates in order until one is not kept up with twice in a row (a shared
    machine has slow minutes, and a JVM warms up); the runs and the best rate."""
    runs, best = [], None
    for rate in ladder:
        r = run(rate)
        runs.append(r)
        log(r)
        if not r["keeps_up"]:
            r = run(rate)
            runs.append(r)
            log(r)
            if not r["keeps_up"]:
                break
        best = r
    return runs, best


def cpu_idle(seconds=1.0):
    """The fraction of all cores' time spent idle over the next `seconds`."""
    def sample():
        with open("/proc/stat") as f:
            v = [int(x) for x in f.readline().split()[1:]]
        return v[3] + v[4], sum(v)  # idle + iowait, total
    i0, t0 = sample()
    time.sleep(seconds)
    i1, t1 = sample()
    return (i1 - i0) / max(1, t1 - t0)


def wait_quiet(log_to=sys.stdout, limit=60):
    """Waits (at most `limit` s) until the cores are 90% idle: a JVM that is
    still exiting, or another job on a shared machine, takes from one side of
    the lanes ratio only. Returns the last idle fraction it measured."""
    deadline = time.monotonic() + limit
    idle = cpu_idle()
    while idle < 0.9 and time.monotonic() < deadline:
        idle = cpu_idle()
    if idle < 0.9:
        print("sidebyside: the machine stayed busy (%.0f%% idle); the lanes ratio will show it" % (idle * 100),
              file=log_to, flush=True)
    return idle


def run_measured(cmd):
    """Runs cmd to its end; its wall seconds and its peak RSS in MB."""
    t0 = time.monotonic()
    p = subprocess.Popen(cmd, stdout=subprocess.DEVNULL)
    _, status, usage = os.wait4(p.pid, 0)
    p.returncode = os.waitstatus_to_exitcode(status)
    if p.returncode != 0:
        raise subprocess.CalledProcessError(p.returncode, cmd)
    return time.monotonic() - t0, usage.ru_maxrss / 1024


def lanes_ratio(a):
    """eddy's word count over the same replayed input (20 batches of 100k lines) on 1 and 2 lanes,
    in alternating rounds, each on a quiet machine; the medians, their ratio, and the peak RSS."""
    fixture = os.path.join(a.out, "replay")
    lines_dir = os.path.join(fixture, "lines")
    os.makedirs(lines_dir, exist_ok=True)
    # Streamed to the files: a child's peak RSS (wait4) starts from this
    # process's size, so this process stays small.
    gen = subprocess.Popen([a.eddy, "gen", "--rate", "0", "--count", "2000000", "--words", "10", "--vocab", "1000",
                            "--seed", "7"], stdout=subprocess.PIPE)
    for k in range(20):
        with open(os.path.join(lines_dir, "%06d.txt" % (k + 1)), "wb") as f:
            for _ in range(100_000):
                f.write(gen.stdout.readline())
    if gen.wait() != 0:
        raise subprocess.CalledProcessError(gen.returncode, gen.args)
    figures, rss = {}, {}
    for n in (1, 2):
        job = os.path.join(a.out, "replay-p%d.sql" % n)
        with open(job, "w") as f:
            f.write("SET batch_interval = '1s';\nSET parallelism = %d;\n"
                    "CREATE SOURCE lines (line TEXT) WITH (connector = 'socket', address = '127.0.0.1:9');\n"
                    "SELECT batch_time() AS t, s.value AS word, count(*) AS n FROM lines, split(lines.line, ' ') AS s GROUP BY s.value;\n" % n)
    for _ in range(a.lane_rounds):
        for n in (1, 2):  # alternating, so drift on a shared machine hits both
            wait_quiet()
            seconds, mb = run_measured([a.eddy, "run", os.path.join(a.out, "replay-p%d.sql" % n), "--replay", fixture, "--quiet"])
            figures.setdefault(n, []).append(2_000_000 / seconds)
            rss[n] = max(rss.get(n, 0), mb)
    one, two = statistics.median(figures[1]), statistics.median(figures[2])
    return {"p1_lines_per_s": round(one), "p2_lines_per_s": round(two), "ratio": round(two / one, 2),
            "rounds": {n: [round(x) for x in figures[n]] for n in figures},
            "p1_peak_rss_mb": round(rss[1], 1), "p2_peak_rss_mb": round(rss[2], 1)}


def fmt(v, unit=""):
    if v is None:
        return "–"
    if isinstance(v, float):
        v = round(v)
    return "%s%s" % (v, unit)


def main():
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    here = os.path.dirname(os.path.abspath(__file__))
    p.add_argument("--peers", default=os.path.join(here, "..", "..", "shared", "peers"))
    p.add_argument("--eddy", default=os.path.join(here, "..", ".build", "release", "eddy"))
    p.add_argument("--workloads", default="wordcount,window,state")
    p.add_argument("--seconds", type=float, default=30, help="seconds of load per rate")
    p.add_argument("--slack", type=float, default=10, help="each run lasts seconds + slack")
    p.add_argument("--lane-rounds", type=int, default=5)
    p.add_argument("--out", default="sidebyside-out")
    p.add_argument("--from-json", help="print the table of an earlier invocation's sidebyside.json, running nothing")
    a = p.parse_args()
    a.out = os.path.abspath(a.out)
    if a.from_json:
        with open(a.from_json) as f:
            saved = json.load(f)
        workloads = [w for w in LADDERS if any(r["workload"] == w for r in saved["runs"])]
        print_table(saved["runs"], workloads, saved["lanes"], saved.get("date", "?"), a.seconds)
        return
    a.eddy = os.path.abspath(a.eddy)
    if not os.path.isfile(os.path.join(a.peers, "spark_bench.py")):
        sys.exit("sidebyside: no peer tools at %s (--peers DIR)" % a.peers)
    if not os.environ.get("PEER_ENV"):
        sys.exit("sidebyside: set PEER_ENV to the directory with pyspark and loadgen (see the peers' README)")
    sys.path.insert(0, os.path.abspath(a.peers))
    import eddy_bench  # noqa: E402
    import spark_bench  # noqa: E402
    os.makedirs(a.out, exist_ok=True)

    def log(r):
        print("sidebyside: %-5s %-9s %7d lines/s  keeps up: %-5s  processing p50/p95 %s/%s ms  total p50/p95 %s/%s ms  RSS %s MB"
              % (r["system"], r["workload"], r["rate"], r["keeps_up"], fmt(r["processing_p50"]), fmt(r["processing_p95"]),
                 fmt(r["total_p50"]), fmt(r["total_p95"]), fmt(r["peak_rss_mb"])), flush=True)

    everything = []
    workloads = list(filter(None, a.workloads.split(",")))  # --workloads "": the lanes ratio alone
    for w in workloads:
        everything += climb(lambda r: run_spark(a, spark_bench, w, r), LADDERS[w], log)[0]
        everything += climb(lambda r: run_eddy(a, eddy_bench, w, r), LADDERS[w], log)[0]
    lanes = lanes_ratio(a)
    date = time.strftime("%Y-%m-%d")
    with open(os.path.join(a.out, "sidebyside.json"), "w") as f:
        json.dump({"runs": everything, "lanes": lanes, "date": date}, f, indent=1)
    print_table(everything, workloads, lanes, date, a.seconds)


def print_table(everything, workloads, lanes, date, seconds):
    """The table, from every run in climbing order: each system's best rate is
    its last run that kept up (a rung failed once and passed on its retry
    counts)."""
    print("\n%s, %d s of load per rate, 10-word lines, vocabulary 1000, 1 s batches\n" % (date, seconds))
    print("| workload | system | keeps up at (lines/s) | p50 / p95 at that rate (ms) | peak RSS (MB) | first batch (s) |")
    print("|---|---|---|---|---|---|")
    for w in workloads:
        best, peaks = {}, {}
        for system, name, delay in (("spark", "Spark 3.5 JVM, local[2]", "processing"), ("eddy", "eddy", "total")):
            runs = [r for r in everything if r["system"] == system and r["workload"] == w]
            kept = [r for r in runs if r["keeps_up"]]
            best[system] = kept[-1] if kept else None
            # RSS at the best rate kept up with: a run far behind holds its backlog.
            peaks[system] = ((best[system] or max(runs, key=lambda r: r["peak_rss_mb"] or 0, default={})).get("peak_rss_mb")
                             if runs else None) or 0
            first = statistics.median([r["first_batch_s"] for r in runs if r["first_batch_s"]] or [0])
            if best[system]:
                b = best[system]
                rate = "%d" % b["rate"] + (" (the top of the ladder)" if b["rate"] == LADDERS[w][-1] else "")
                lat = "%s / %s %s" % (fmt(b["%s_p50" % delay]), fmt(b["%s_p95" % delay]), delay)
            else:
                rate, lat = "below %d" % LADDERS[w][0], "–"
            print("| %s | %s | %s | %s | %s | %.1f |" % (w, name, rate, lat, fmt(float(peaks[system])), first))
        sb, eb = best["spark"], best["eddy"]
        ratio = (eb["rate"] / sb["rate"]) if eb and sb else None
        print("| %s | eddy ÷ Spark | %s | | %s | |" % (w, "%.2f×" % ratio if ratio else "–", rss_ratios(everything, w, sb, peaks)))
    print("\neddy word count over the same replayed 2M lines (100k per batch), median of %d rounds: "
          "1 lane %d lines/s, 2 lanes %d lines/s: %.2f×; peak RSS 1 lane %.1f MB, 2 lanes %.1f MB"
          % (len(lanes["rounds"]["1"] if "1" in lanes["rounds"] else lanes["rounds"][1]),
             lanes["p1_lines_per_s"], lanes["p2_lines_per_s"], lanes["ratio"], lanes["p1_peak_rss_mb"], lanes["p2_peak_rss_mb"]))
    rounds = {str(k): v for k, v in lanes["rounds"].items()}
    print("rounds, lines/s: 1 lane %s; 2 lanes %s" % (rounds["1"], rounds["2"]))


def rss_ratios(everything, w, spark_best, peaks):
    """eddy's peak RSS ÷ Spark's: at each one's best rate, and on the same
    load (eddy's run at Spark's best rate), where eddy is not carrying many
    times Spark's lines."""
    at_best = "%.2f at each one's best rate" % (peaks["eddy"] / peaks["spark"]) if peaks["spark"] else "–"
    if not spark_best:
        return at_best
    same = [r for r in everything if r["system"] == "eddy" and r["workload"] == w and r["rate"] == spark_best["rate"] and r["keeps_up"]]
    if not same or not spark_best["peak_rss_mb"]:
        return at_best
    return "%s; %.2f on the same load (%d lines/s: %s MB)" % (at_best, same[-1]["peak_rss_mb"] / spark_best["peak_rss_mb"],
                                                            spark_best["rate"], fmt(float(same[-1]["peak_rss_mb"])))


if __name__ == "__main__":
    main()
