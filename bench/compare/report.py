#!/usr/bin/env python3
"""report.py — turns bench/compare.sh's results.tsv into the comparison
section of docs/BENCHMARKS.md (between <!-- compare:begin --> and
<!-- compare:end -->, the rest of the file is left alone) and SVG charts.

    report.py --root REPO --results RESULTS.tsv [--doc FILE --charts DIR] [--print]

results.tsv has one line per command: part, label, exit status, the command
line, and its output (key=value pairs or wasmpool-bench's JSON; lines joined
with " | "). Every figure in the report is a median over the runs recorded
there, and each table names the commands that produced it. A row whose
command failed or never ran says so; nothing is filled in. Stdlib only.
"""
import argparse
import json
import math
import os
import re
import statistics
import sys

BEGIN = "<!-- compare:begin -->"
END = "<!-- compare:end -->"
KV = re.compile(r'(\w+)=("[^"]*"|\S+)')


# ---- reading -------------------------------------------------------------------

class Results:
    def __init__(self, path, root):
        self.rows = []
        self.meta = {}
        self.root = root.rstrip("/") + "/"
        self.results_path = self.short(os.path.abspath(path))
        with open(path) as f:
            for line in f:
                parts = line.rstrip("\n").split("\t")
                if len(parts) < 5:
                    parts += [""] * (5 - len(parts))
                part, label, status, cmd, out = parts[:5]
                if part == "meta":
                    self.meta[label] = out
                    continue
                self.rows.append({"part": part, "label": label, "ok": status == "0",
                                  "cmd": self.short(cmd), "out": out})

    def short(self, cmd):
        cmd = cmd.replace(self.root, "")
        return re.sub(r"/tmp/wasmpool-compare\.\w+", "$TMP", cmd)

    def get(self, part, label):
        return [r for r in self.rows if r["part"] == part and r["label"] == label]

    def labels(self, part):
        seen = []
        for r in self.rows:
            if r["part"] == part and r["label"] not in seen:
                seen.append(r["label"])
        return seen


def kv(text):
    return {k: v.strip('"') for k, v in KV.findall(text)}


def median(values):
    values = [v for v in values if v is not None]
    return statistics.median(values) if values else None


def geomean(values):
    values = [v for v in values if v]
    if not values:
        return None
    return math.exp(sum(math.log(v) for v in values) / len(values))


def fmt(value, digits=1, unit=""):
    if value is None:
        return "not run"
    if value >= 100:
        text = f"{value:,.0f}"
    elif value >= 10:
        text = f"{value:.{max(digits - 1, 0)}f}" if digits > 1 else f"{value:.1f}"
    else:
        text = f"{value:.{digits + 1}f}" if value < 1 else f"{value:.{digits}f}"
    return text + unit


def verdict(ok):
    if ok is None:
        return "not run"
    return "**met**" if ok else "**not met**"


def commands(rows, limit=1):
    out = []
    for r in rows[:limit]:
        out.append(f"`{r['cmd']}`")
    return ", ".join(out)


# ---- SVG charts ---------------------------------------------------------------------

PALETTE = ["#1f77b4", "#ff7f0e", "#2ca02c", "#d62728", "#9467bd", "#8c564b"]


def esc(text):
    return (str(text).replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;"))


def bar_chart(path, title, unit, groups, log_scale=False, note=""):
    """groups: [(group label, [(series label, value or None)])]; horizontal bars."""
    series = []
    for _, bars in groups:
        for name, _ in bars:
            if name not in series:
                series.append(name)
    values = [v for _, bars in groups for _, v in bars if v]
    if not values:
        return False
    bar_h, gap, left, right, top = 16, 14, 170, 150, 58
    rows = sum(len(bars) for _, bars in groups)
    height = top + rows * bar_h + len(groups) * gap + 50
    width = 820
    plot_w = width - left - right
    vmax = max(values)
    vmin = min(values)
    if log_scale:
        lo = 10 ** math.floor(math.log10(vmin))
        hi = 10 ** math.ceil(math.log10(vmax))
        if hi == lo:
            hi = lo * 10

        def scale(v):
            return plot_w * (math.log10(v) - math.log10(lo)) / (math.log10(hi) - math.log10(lo))
        ticks = [10 ** e for e in range(int(math.log10(lo)), int(math.log10(hi)) + 1)]
    else:
        lo, hi = 0, vmax * 1.05

        def scale(v):
            return plot_w * v / hi
        step = 10 ** math.floor(math.log10(hi / 5)) if hi > 0 else 1
        for mult in (1, 2, 5, 10):
            if hi / (step * mult) <= 6:
                step *= mult
                break
        ticks = [i * step for i in range(int(hi / step) + 1)]
    out = [f'<svg xmlns="http://www.w3.org/2000/svg" width="{width}" height="{height}" '
           f'font-family="sans-serif" font-size="12">',
           f'<rect width="{width}" height="{height}" fill="white"/>',
           f'<text x="{width / 2}" y="20" text-anchor="middle" font-size="15" '
           f'font-weight="bold">{esc(title)}</text>']
    if note:
        out.append(f'<text x="{width / 2}" y="38" text-anchor="middle" fill="#555">'
                   f'{esc(note)}</text>')
    plot_bottom = height - 40
    for t in ticks:
        x = left + scale(t) if (not log_scale or t > 0) else left
        out.append(f'<line x1="{x:.1f}" y1="{top - 6}" x2="{x:.1f}" y2="{plot_bottom}" '
                   f'stroke="#ddd"/>')
        out.append(f'<text x="{x:.1f}" y="{plot_bottom + 14}" text-anchor="middle" '
                   f'fill="#555">{esc(fmt_tick(t))}</text>')
    out.append(f'<text x="{left + plot_w / 2}" y="{plot_bottom + 30}" text-anchor="middle">'
               f'{esc(unit)}{" (log scale)" if log_scale else ""}</text>')
    y = top
    for label, bars in groups:
        out.append(f'<text x="{left - 8}" y="{y + bar_h * len(bars) / 2 + 4:.1f}" '
                   f'text-anchor="end" font-weight="bold">{esc(label)}</text>')
        for name, value in bars:
            color = PALETTE[series.index(name) % len(PALETTE)]
            if value:
                w = max(scale(value), 1.0)
                out.append(f'<rect x="{left}" y="{y}" width="{w:.1f}" height="{bar_h - 3}" '
                           f'fill="{color}"/>')
                out.append(f'<text x="{left + w + 4:.1f}" y="{y + bar_h - 5}">'
                           f'{esc(name)}: {esc(fmt(value))}</text>')
            else:
                out.append(f'<text x="{left + 4}" y="{y + bar_h - 5}" fill="#999">'
                           f'{esc(name)}: not run</text>')
            y += bar_h
        y += gap
    out.append("</svg>")
    os.makedirs(os.path.dirname(path), exist_ok=True)
    with open(path, "w") as f:
        f.write("\n".join(out) + "\n")
    return True


def fmt_tick(t):
    if t >= 1000:
        return f"{t:,.0f}"
    if t >= 1:
        return f"{t:g}"
    return f"{t:g}"


# ---- the four parts -------------------------------------------------------------------

P1_ENGINES = [("wasmpool-warm", "wasmpool warm slot"), ("wasmpool-cold", "wasmpool cold slot"),
              ("wasm2c-stock", "wasm2c stock runtime"), ("v8", "V8 (node)")]
P1_MODULES = [("bigdata", "1 MiB image (examples/bigdata.wasm, 17 pages)"),
              ("nodata", "no data (bench/compare/nodata.wat, 16 pages)")]


def part1(res, charts, lines, targets):
    lines += ["### 1. Instantiate + release latency", "",
              "One cycle = instantiate, store one byte into the first page (the holder "
              "dirties one page), release. Median and p99 of single cycles, and the mean "
              "over the whole loop (which, for V8, includes the garbage collections that "
              "free its instances), in microseconds; each cell is the median over runs.", ""]
    stats = {}
    lines += ["| module | engine | median µs | p99 µs | mean µs | runs × cycles |",
              "|---|---|---:|---:|---:|---|"]
    for mod, mod_name in P1_MODULES:
        for eng, eng_name in P1_ENGINES:
            rows = res.get("p1", f"{mod}/{eng}")
            good = [kv(r["out"]) for r in rows if r["ok"] and "median_ns" in r["out"]]
            med = median([float(g["median_ns"]) / 1000 for g in good])
            p99 = median([float(g["p99_ns"]) / 1000 for g in good])
            mean = median([float(g["mean_ns"]) / 1000 for g in good])
            stats[(mod, eng)] = (med, mean, good)
            count = f"{len(good)} × {good[0]['iterations']}" if good else "not run"
            if len(good) < len(rows):
                count += f" ({len(rows) - len(good)} failed)"
            lines.append(f"| {mod_name} | {eng_name} | {fmt(med, 2)} | {fmt(p99, 2)} | "
                         f"{fmt(mean, 2)} | {count} |")
    lines.append("")
    checks = []
    for mod, _ in P1_MODULES:
        for eng in ("wasmpool-warm", "wasmpool-cold"):
            good = stats[(mod, eng)][2]
            if good:
                hits = sum(int(g.get("affinity_hits", 0)) for g in good)
                misses = sum(int(g.get("affinity_misses", 0)) for g in good)
                checks.append(f"{mod}/{eng}: {hits} affinity hits, {misses} misses")
    if checks:
        lines += ["Pool counters over the timed cycles (a warm run must hit, a cold run "
                  "must miss; a module without data has no image, so neither): "
                  + "; ".join(checks) + ".", ""]
    lines += ["Commands (one run of each):", ""]
    for mod, _ in P1_MODULES:
        for eng, eng_name in P1_ENGINES:
            rows = res.get("p1", f"{mod}/{eng}")
            if rows:
                lines.append(f"- {mod}, {eng_name}: {commands(rows)}")
    lines += ["", "wasm2c's stock `wasm_rt_free_memory` unmaps only the current size, not the "
              "8 GiB reservation, so a process dies after about 16,000 cycles "
              "(128 TiB / 8 GiB); the stock harness runs a few thousand per process and "
              "refuses more than 12,000.", ""]

    def ratio(mod, other):
        warm = stats[(mod, "wasmpool-warm")][0]
        base = stats[(mod, other)][0]
        return base / warm if warm and base else None
    r_stock = ratio("bigdata", "wasm2c-stock")
    r_v8 = ratio("bigdata", "v8")
    r_v8_nodata = ratio("nodata", "v8")
    warm_med = stats[("bigdata", "wasmpool-warm")][0]
    targets += [
        ("1", "warm slot ≥ 100× faster than wasm2c stock, 1 MiB module (medians)",
         f"{fmt(r_stock)}×", None if r_stock is None else r_stock >= 100),
        ("1", "warm slot ≥ 100× faster than V8, 1 MiB module (medians)",
         f"{fmt(r_v8)}×", None if r_v8 is None else r_v8 >= 100),
        ("1", "warm slot ≥ 10× faster than V8, no-data module (medians)",
         f"{fmt(r_v8_nodata)}×", None if r_v8_nodata is None else r_v8_nodata >= 10),
        ("1", "warm acquire + release ≤ 2 µs median, 1 MiB module (DESIGN.md)",
         fmt(warm_med, 2, " µs"), None if warm_med is None else warm_med <= 2),
    ]
    groups = []
    for mod, mod_name in P1_MODULES:
        groups.append((mod, [(eng_name, stats[(mod, eng)][0]) for eng, eng_name in P1_ENGINES]))
    if charts and bar_chart(os.path.join(charts, "compare-instantiate.svg"),
                            "Instantiate + release, median per cycle", "µs", groups,
                            log_scale=True, note="shorter is better"):
        lines += ["![instantiate + release latency](bench/compare-instantiate.svg)", ""]


P2_ENGINES = [("native", "native (cc -O2)"), ("wasmpool", "wasmpool"), ("v8", "V8 (node)")]


def part2(res, charts, lines, targets):
    lines += ["### 2. Guest speed", "",
              "Six kernels in C (bench/kernels/), built with `clang --target=wasm32-wasi "
              "-O2` for the engines and with `cc -O2` natively. Each run does bench(N) a "
              "few times untimed (V8 reaches its optimizing tier), then times several "
              "calls inside the guest with the same clock (bench/kernels/main.c); the cell "
              "is the median over processes of each process's median, in milliseconds. "
              "wasmpool runs the module through its own compile path at tier 1 (wasm2c "
              "1.0.36, then `cc -O2` on its split outputs: what a module runs after "
              "tier-up; `wasmpool-compare-kernel --tier 1`). "
              "wasm-interp (Debian's build has no WASI) runs a smaller N in an import-free "
              "module; its CPU time (user + sys, including start-up of a few ms) is "
              "scaled linearly to the full N and marked ≈.", ""]
    kernels = []
    for label in res.labels("p2"):
        k = label.split("/")[0]
        if k not in kernels:
            kernels.append(k)
    lines += ["| kernel | N | native ms | wasmpool ms | V8 ms | wasm-interp ms | "
              "wasmpool / native | V8 / wasmpool | checksums |",
              "|---|---:|---:|---:|---:|---:|---:|---:|---|"]
    ratios_native, ratios_v8, ratios_interp = [], [], []
    chart_groups = []
    cmd_lines = []
    for k in kernels:
        times, sums, n = {}, {}, None
        for eng, _ in P2_ENGINES:
            rows = res.get("p2", f"{k}/{eng}")
            good = [kv(r["out"]) for r in rows if r["ok"] and "median_ns" in r["out"]]
            times[eng] = median([float(g["median_ns"]) / 1e6 for g in good])
            sums[eng] = {g["checksum"] for g in good}
            if good:
                n = int(good[0]["n"])
            if rows and k == kernels[0]:
                cmd_lines.append(f"- {dict(P2_ENGINES)[eng]}: {commands(rows)}")
        interp_rows = [r for r in res.rows if r["part"] == "p2"
                       and r["label"].startswith(f"{k}/interp@")]
        interp_time, interp_ok = None, None
        if interp_rows:
            interp_n = int(interp_rows[0]["label"].split("@")[1])
            good = [kv(r["out"]) for r in interp_rows if r["ok"] and "cpu_ns" in r["out"]]
            cpu = median([float(g["cpu_ns"]) / 1e6 for g in good])
            if cpu is not None and n:
                interp_time = cpu * n / interp_n
            ref = [kv(r["out"]).get("checksum") for r in res.get("p2", f"{k}/native@{interp_n}")
                   if r["ok"]]
            interp_ok = bool(good) and bool(ref) and all(g["checksum"] == ref[0] for g in good)
            if k == kernels[0]:
                cmd_lines.append(f"- wasm-interp (N = {interp_n}): `{interp_rows[0]['cmd']}`"
                                 f" (`interp_kernel` in compare.sh: `wasm-interp "
                                 f"--run-all-exports FILE` under bash's `time`)")
        all_sums = set().union(*sums.values()) if sums else set()
        agree = all(sums[e] for e, _ in P2_ENGINES) and len(all_sums) == 1
        check = ("agree" if agree else "DIFFER") + (
            "" if interp_ok is None else (", interp agrees" if interp_ok else ", interp DIFFERS"))
        r_native = times["wasmpool"] / times["native"] if times["wasmpool"] and times["native"] else None
        r_v8 = times["v8"] / times["wasmpool"] if times["v8"] and times["wasmpool"] else None
        if r_native:
            ratios_native.append(r_native)
        if r_v8:
            ratios_v8.append(r_v8)
        if interp_time and times["wasmpool"]:
            ratios_interp.append(interp_time / times["wasmpool"])
        lines.append(f"| {k} | {n if n else '–'} | {fmt(times['native'], 2)} | "
                     f"{fmt(times['wasmpool'], 2)} | {fmt(times['v8'], 2)} | "
                     f"{'≈ ' + fmt(interp_time, 0) if interp_time else 'not run'} | "
                     f"{fmt(r_native, 2)}× | {fmt(r_v8, 2)}× | {check} |")
        if times["native"]:
            chart_groups.append((k, [
                ("wasmpool", times["wasmpool"] / times["native"] if times["wasmpool"] else None),
                ("V8", times["v8"] / times["native"] if times["v8"] else None),
                ("wasm-interp ≈", interp_time / times["native"] if interp_time else None)]))
    g_native, g_v8, g_interp = geomean(ratios_native), geomean(ratios_v8), geomean(ratios_interp)
    lines += [f"| **geometric mean** | | | | | | **{fmt(g_native, 2)}×** | **{fmt(g_v8, 2)}×** | |",
              "", f"wasm-interp is ≈ {fmt(g_interp, 0)}× slower than wasmpool on the "
              "geometric mean (scaled, see above).", "", "Commands (the first kernel; the "
              "others differ only in the file and N):", ""] + cmd_lines + [""]
    targets += [
        ("2", "guest code ≥ 1.3× faster than V8 (geometric mean of V8 / wasmpool)",
         f"{fmt(g_v8, 2)}×", None if g_v8 is None else g_v8 >= 1.3),
        ("2", "guest code within 1.5× of native (geometric mean of wasmpool / native)",
         f"{fmt(g_native, 2)}×", None if g_native is None else g_native <= 1.5),
    ]
    if charts and bar_chart(os.path.join(charts, "compare-kernels.svg"),
                            "Guest speed: time relative to native cc -O2", "× native time",
                            chart_groups, log_scale=True, note="1 = native; shorter is better"):
        lines += ["![guest speed relative to native](bench/compare-kernels.svg)", ""]


def kernel_times(res, label, scale_to=None):
    """Median over processes of each process's median (ms), checksums, tiers
    built; with scale_to, each time is scaled linearly from its N to that N."""
    rows = res.get("p2", label)
    good = [kv(r["out"]) for r in rows if r["ok"] and "median_ns" in r["out"]]
    def ms(g):
        factor = scale_to / int(g["n"]) if scale_to else 1
        return float(g["median_ns"]) / 1e6 * factor
    return (median([ms(g) for g in good]),
            {g["checksum"] for g in good}, {g.get("tier", "?") for g in good}, rows)


def ratio_of(a, b):
    return a / b if a and b else None


def part2_tiers_simd(res, charts, lines, targets):
    """Tier 0 against tier 1, gcc against clang-19 at tier 1, and the -msimd128
    builds against V8 (issue 9 item 6, issue 10's tier-up)."""
    kernels = []
    for label in res.labels("p2"):
        k = label.split("/")[0]
        if k not in kernels:
            kernels.append(k)
    if not kernels:
        return
    cc2 = res.meta.get("p2_cc2", "none")
    has_cc2 = cc2 != "none"
    lines += ["#### Tier 0 against tier 1, and tier 1's compiler", "",
              "The same scalar kernels, same processes' protocol, in the same run: tier 0 "
              "(tcc, what a deploy answers with), tier 1 with `cc` (gcc, as above) and "
              f"tier 1 with {cc2 if has_cc2 else 'clang-19 (not installed in this run)'} "
              "as `[runtime] cc` (`--cc`). Milliseconds, medians; \"gcc / clang\" above "
              "1 means clang's code ran faster. Tier 0 runs N / 10 (3 timed calls after "
              "one warm-up; tcc's code is up to 20× slower) and its time is scaled "
              "linearly to N (≈); its checksum is checked against native's at that N.", "",
              f"| kernel | tier 0 ms | tier 1 gcc ms | tier 1 {cc2} ms | tier 0 / tier 1 gcc "
              f"| gcc / {cc2} | checksums |",
              "|---|---:|---:|---:|---:|---:|---|"]
    r_tier, r_cc = [], []
    cmd_lines = []
    for k in kernels:
        t1, s1, b1, rows1 = kernel_times(res, f"{k}/wasmpool")
        n_full = next((int(kv(r["out"])["n"]) for r in rows1 if r["ok"] and "n=" in r["out"]), None)
        t0, s0, b0, rows0 = kernel_times(res, f"{k}/wasmpool-t0", n_full)
        s0 = set()  # tier 0 ran a smaller N: its checksum is checked below
        for r in rows0:
            if r["ok"] and "checksum=" in r["out"]:
                g = kv(r["out"])
                ref = [kv(x["out"]).get("checksum") for x in res.rows if x["part"] == "p2"
                       and x["label"].startswith(f"{k}/") and x["ok"]
                       and kv(x["out"]).get("n") == g["n"] and x["label"] != f"{k}/wasmpool-t0"]
                if ref and g["checksum"] not in ref:
                    s0.add("tier0-differs")
        t2, s2, b2, rows2 = kernel_times(res, f"{k}/wasmpool-{cc2}")
        native = kernel_times(res, f"{k}/native")[1]
        sums = [x for x in (s0, s1, s2, native) if x]
        agree = "agree" if sums and len(set().union(*sums)) == 1 else "DIFFER"
        built = "" if b0 <= {"0"} else f" (tier 0 run built at tier {'/'.join(sorted(b0))})"
        a, b = ratio_of(t0, t1), ratio_of(t1, t2)
        r_tier += [a] if a else []
        r_cc += [b] if b else []
        lines.append(f"| {k} | {'≈ ' + fmt(t0, 0) if t0 else 'not run'} | {fmt(t1, 2)} | {fmt(t2, 2)} | {fmt(a, 2)}× | "
                     f"{fmt(b, 2)}× | {agree}{built} |")
        if k == kernels[0]:
            for name, rows in (("tier 0", rows0), (f"tier 1 {cc2}", rows2)):
                if rows:
                    cmd_lines.append(f"- {name}: {commands(rows)}")
    lines += [f"| **geometric mean** | | | | **{fmt(geomean(r_tier), 2)}×** | "
              f"**{fmt(geomean(r_cc), 2)}×** | |", "", "Commands (first kernel):", ""]
    lines += cmd_lines + [""]

    lines += ["#### SIMD: auto-vectorised kernels against V8", "",
              "The same kernel sources built with `clang --target=wasm32-wasi -O3 "
              "-msimd128` (build/compare/KERNEL-simd.wasm): wasmpool runs them at tier 1 "
              "(SIMD always builds at tier 1; wasm2c turns v128 into SIMDe calls) with gcc "
              f"and with {cc2}, V8 runs the same bytes; V8 and wasmpool-gcc alternate which "
              "goes first. \"SIMD ops\" counts v128 instructions in the module "
              "(`wasm-objdump -d`): 0 means clang vectorised nothing and the module is "
              "scalar code at -O3. Milliseconds, medians; the scalar (-O2) tier-1 and V8 "
              "columns repeat the main table for reference.", "",
              f"| kernel | SIMD ops | scalar wasmpool | scalar V8 | SIMD wasmpool gcc | "
              f"SIMD wasmpool {cc2} | SIMD V8 | V8 / wasmpool (SIMD, gcc) | "
              f"V8 / wasmpool (SIMD, {cc2}) | checksums |",
              "|---|---:|---:|---:|---:|---:|---:|---:|---:|---|"]
    r_gcc, r_clang, r_gcc_vec, r_clang_vec = [], [], [], []
    groups = []
    cmd_lines = []
    for k in kernels:
        ops = res.meta.get(f"simd_ops_{k}", "?")
        scalar_wp = kernel_times(res, f"{k}/wasmpool")[0]
        scalar_v8 = kernel_times(res, f"{k}/v8")[0]
        sg, ssg, _, rows_g = kernel_times(res, f"{k}/simd-wasmpool")
        sc, ssc, _, rows_c = kernel_times(res, f"{k}/simd-wasmpool-{cc2}")
        sv, ssv, _, rows_v = kernel_times(res, f"{k}/simd-v8")
        native = kernel_times(res, f"{k}/native")[1]
        sums = [x for x in (ssg, ssc, ssv, native) if x]
        agree = "agree" if sums and len(set().union(*sums)) == 1 else "DIFFER"
        a, b = ratio_of(sv, sg), ratio_of(sv, sc)
        r_gcc += [a] if a else []
        r_clang += [b] if b else []
        if ops not in ("0", "?"):
            r_gcc_vec += [a] if a else []
            r_clang_vec += [b] if b else []
        lines.append(f"| {k} | {ops} | {fmt(scalar_wp, 2)} | {fmt(scalar_v8, 2)} | "
                     f"{fmt(sg, 2)} | {fmt(sc, 2)} | {fmt(sv, 2)} | {fmt(a, 2)}× | "
                     f"{fmt(b, 2)}× | {agree} |")
        groups.append((k, [("wasmpool gcc", sg), (f"wasmpool {cc2}", sc), ("V8", sv)]))
        if k == kernels[0]:
            for name, rows in (("wasmpool gcc", rows_g), (f"wasmpool {cc2}", rows_c),
                               ("V8", rows_v)):
                if rows:
                    cmd_lines.append(f"- {name}: {commands(rows)}")
    g_gcc, g_clang = geomean(r_gcc), geomean(r_clang)
    lines += [f"| **geometric mean, all six** | | | | | | | **{fmt(g_gcc, 2)}×** | "
              f"**{fmt(g_clang, 2)}×** | |",
              f"| **geometric mean, kernels with SIMD ops** | | | | | | | "
              f"**{fmt(geomean(r_gcc_vec), 2)}×** | **{fmt(geomean(r_clang_vec), 2)}×** | |",
              "", "Commands (first kernel):", ""] + cmd_lines + [""]
    targets += [
        ("2", "SIMD kernels ≥ 1.3× faster than V8 (geometric mean of V8 / wasmpool, tier 1 gcc)",
         f"{fmt(g_gcc, 2)}×", None if g_gcc is None else g_gcc >= 1.3),
    ]
    if charts and bar_chart(os.path.join(charts, "compare-simd.svg"),
                            "SIMD kernels (-O3 -msimd128), median per bench(N)", "ms", groups,
                            log_scale=True, note="shorter is better"):
        lines += ["![SIMD kernels](bench/compare-simd.svg)", ""]


P3_TARGETS = [("wasmpool", "wasmpoold"), ("node", "node + V8 per request"),
              ("nginx", "nginx static 200")]


def part3(res, charts, lines, targets):
    lines += ["### 3. End to end over a Unix socket", ""]
    if res.meta.get("daemon_run") != "1":
        lines += ["**Not run**: wasmpoold did not come up or the deploy failed in this run "
                  "(see the run's wasmpoold.log and stderr.log).", ""]
        targets += [("3", t, "not run", None) for t in (
            "run: p50 ≤ 30 µs on one connection", "run: ≥ 3× node's throughput",
            "run: ≥ 60% of nginx's throughput")]
        return
    lines += ["`wasmpool-bench` (closed loop, keep-alive) against each server in the same "
              "run: wasmpoold's one-shot `POST /v1/modules/hello/run` (examples/hello.c, "
              "a WASI command writing 13 bytes) and `POST /v1/modules/add/call/add` "
              "(examples/add.wat); the node server (bench/compare/node_server.cjs: one "
              "process, modules compiled at start, a fresh V8 instance per request, a "
              "minimal WASI shim) on the same paths; nginx answering every request with a "
              "static 200 and the same 13 bytes (bench/compare/nginx.conf.in, one worker "
              "per core). Throughput in requests/s, latency in µs from each request's "
              "send; each cell is the median over runs.", ""]
    if res.meta.get("nginx_run") != "1":
        lines += ["nginx was not available in this run: its rows are not run.", ""]
    lines += ["| workload | connections | server | req/s | p50 µs | p99 µs | non-2xx |",
              "|---|---:|---|---:|---:|---:|---:|"]
    table = {}
    for workload in ("run", "call"):
        for conns in ("1", "16"):
            for tgt, name in P3_TARGETS:
                rows = res.get("p3", f"{workload}/c{conns}/{tgt}")
                data = []
                for r in rows:
                    try:
                        data.append(json.loads(r["out"].replace(" | ", "\n")))
                    except ValueError:
                        pass
                rps = median([d.get("throughput_rps") for d in data])
                p50 = median([d.get("latency_us", {}).get("p50") for d in data])
                p99 = median([d.get("latency_us", {}).get("p99") for d in data])
                bad = sum(v for d in data for s, v in d.get("status", {}).items()
                          if not s.startswith("2"))
                table[(workload, conns, tgt)] = (rps, p50, p99)
                if not rows:
                    continue
                lines.append(f"| {workload} | {conns} | {name} | {fmt(rps, 0)} | "
                             f"{fmt(p50, 1)} | {fmt(p99, 1)} | {bad if data else 'failed'} |")
    lines += ["", "Commands (one of each; `$TMP` is the run's socket directory):", ""]
    for tgt, name in P3_TARGETS:
        rows = res.get("p3", f"run/c16/{tgt}")
        if rows:
            lines.append(f"- {name}: {commands(rows)}")
    lines.append("")

    def get(workload, conns, tgt, i):
        v = table.get((workload, conns, tgt))
        return v[i] if v else None
    p50 = get("run", "1", "wasmpool", 1)
    wp = get("run", "16", "wasmpool", 0)
    node = get("run", "16", "node", 0)
    nginx = get("run", "16", "nginx", 0)
    r_node = wp / node if wp and node else None
    r_nginx = wp / nginx if wp and nginx else None
    targets += [
        ("3", "hello run: p50 ≤ 30 µs on one connection", fmt(p50, 1, " µs"),
         None if p50 is None else p50 <= 30),
        ("3", "hello run, 16 connections: ≥ 3× node's throughput", f"{fmt(r_node, 2)}×",
         None if r_node is None else r_node >= 3),
        ("3", "hello run, 16 connections: ≥ 60% of nginx's throughput",
         "not run" if r_nginx is None else f"{r_nginx * 100:.0f}%",
         None if r_nginx is None else r_nginx >= 0.6),
    ]
    groups = []
    for workload in ("run", "call"):
        groups.append((f"{workload}, 16 conns", [(name, get(workload, "16", t, 0))
                                                 for t, name in P3_TARGETS]))
    if charts and bar_chart(os.path.join(charts, "compare-e2e.svg"),
                            "End to end over a Unix socket, 16 connections", "requests/s",
                            groups, note="longer is better"):
        lines += ["![end-to-end throughput](bench/compare-e2e.svg)", ""]


def part4(res, charts, lines, targets):
    lines += ["### 4. Density", "",
              "Resident set (VmRSS) while N instances of examples/bigdata.wasm (a 1 MiB "
              "image) are live, each having stored one byte into its first page. "
              "wasmpoold: instances created over its API by bench/compare/"
              "daemon_density.py, RSS read from /proc/PID/status of the daemon. harness: "
              "the same through the instance API in one process "
              "(bench/compare/wp_density.c). V8: node holding the instances after a full "
              "GC (bench/compare/v8_density.cjs). MiB.", ""]
    series = [("wasmpoold", "wasmpoold"), ("harness", "instance API harness"), ("v8", "node + V8")]
    data = {}
    stopped = {}
    for key, _ in series:
        for r in res.get("p4", key):
            for chunk in r["out"].split(" | "):
                d = kv(chunk)
                if "instances" in d and "rss_bytes" in d:
                    data.setdefault(key, {})[int(d["instances"])] = int(d["rss_bytes"]) / 2**20
                if "stopped" in d:
                    stopped[key] = d["stopped"]
    counts = sorted({c for v in data.values() for c in v})
    lines += ["| live instances | " + " | ".join(name for _, name in series) + " |",
              "|---:|" + "---:|" * len(series)]
    for c in counts:
        lines.append(f"| {c:,} | " + " | ".join(
            fmt(data.get(k, {}).get(c), 1) for k, _ in series) + " |")
    lines.append("")
    for key, name in series:
        pts = data.get(key, {})
        if len(pts) >= 2:
            lo, hi = min(pts), max(pts)
            if hi > lo:
                per = (pts[hi] - pts[lo]) * 1024 / (hi - lo)
                lines.append(f"- {name}: ≈ {per:,.0f} KiB per added instance "
                             f"({lo:,} → {hi:,}).")
        if key in stopped:
            lines.append(f"- {name} stopped early: {stopped[key]}")
    cap = res.meta.get("v8_density_cap")
    if cap is not None:
        biggest = max(data.get("v8", {0: 0}))
        lines.append(f"- node was asked for at most {int(cap):,} instances in this run "
                     f"(MemAvailable − 6 GiB at 1.1 MiB each, so the shared machine "
                     f"stays usable); it held {biggest:,}.")
    lines += ["", "Commands:", ""]
    for key, name in series:
        rows = res.get("p4", key)
        if rows:
            lines.append(f"- {name}: {commands(rows)}")
    lines.append("")
    which = "wasmpoold" if 10000 in data.get("wasmpoold", {}) else "harness"
    rss = data.get(which, {}).get(10000)
    targets.append(("4", f"10,000 live 1 MiB-image instances ≤ 1 GiB RSS ({which})",
                    fmt(rss, 0, " MiB"), None if rss is None else rss <= 1024))
    groups = [(f"{c:,}", [(name, data.get(k, {}).get(c)) for k, name in series])
              for c in counts if c > 0]
    if charts and bar_chart(os.path.join(charts, "compare-density.svg"),
                            "RSS with N live instances of a 1 MiB-image module", "MiB",
                            groups, log_scale=True, note="shorter is better"):
        lines += ["![density](bench/compare-density.svg)", ""]


# ---- the section ------------------------------------------------------------------------

def build_section(res, charts):
    m = res.meta
    body = []
    targets = []
    part1(res, charts, body, targets)
    part2(res, charts, body, targets)
    part2_tiers_simd(res, charts, body, targets)
    part3(res, charts, body, targets)
    part4(res, charts, body, targets)
    build_dir = res.results_path.split("/compare/run-")[0]
    env = "" if build_dir == "build" else f"BUILD_DIR={build_dir} "
    head = ["## Side-by-side comparison", "",
            f"Generated by `{env}bench/compare.sh" + (" --quick" if m.get("mode") == "quick" else "")
            + f"` ({m.get('started', '?')} to {m.get('finished', '?')}); do not edit "
            "between the markers, rerun the script. Raw output of every command, with "
            f"its command line: `{res.results_path}`.", ""]
    if m.get("mode") == "quick":
        head += ["> **Quick smoke run** (`--quick`): small sizes, one repetition. Not the "
                 "figures to quote; run `bench/compare.sh` without `--quick`.", ""]
    head += ["| machine | |", "|---|---|"]
    for key, name in (("cpu", "CPU"), ("memory", "memory"), ("os", "OS"), ("kernel", "kernel"),
                      ("node", "node"), ("cc", "cc"), ("clang", "clang"), ("wabt", "wabt"),
                      ("nginx", "nginx")):
        if key in m:
            head.append(f"| {name} | {m[key]} |")
    head.append(f"| load average (1/5/15 min) | {m.get('load_start', '?')} at start, "
                f"{m.get('load_end', '?')} at the end |")
    head += ["", "The machine is shared (other builds and tests ran alongside), so single "
             "figures are noisy; medians over several runs are reported and the raw "
             "samples kept.", "", "### Targets", "",
             "| part | target | measured | verdict |", "|---|---|---:|---|"]
    for part, text, value, ok in targets:
        head.append(f"| {part} | {text} | {value} | {verdict(ok)} |")
    head.append("")
    return "\n".join(head + body).rstrip() + "\n"


def write_doc(path, section):
    text = ""
    if os.path.exists(path):
        with open(path) as f:
            text = f.read()
    block = f"{BEGIN}\n{section}{END}\n"
    if BEGIN in text and END in text:
        start = text.index(BEGIN)
        end = text.index(END) + len(END)
        tail = text[end:]
        if tail.startswith("\n"):
            tail = tail[1:]
        text = text[:start] + block + tail
    else:
        if not text:
            text = "# Benchmarks\n"
        text = text.rstrip("\n") + "\n\n" + block
    with open(path, "w") as f:
        f.write(text)


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--root", required=True)
    ap.add_argument("--results", required=True)
    ap.add_argument("--doc")
    ap.add_argument("--charts")
    ap.add_argument("--print", action="store_true")
    args = ap.parse_args()
    res = Results(args.results, args.root)
    section = build_section(res, args.charts)
    if args.doc:
        write_doc(args.doc, section)
    if args.print or not args.doc:
        sys.stdout.write(section)
    return 0


if __name__ == "__main__":
    sys.exit(main())
