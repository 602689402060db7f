"""docs/BENCHMARKS.md, rendered from what bench/results/ holds and the hand-written sections beside
this file: a full table per corpus size (every bench-<size>.json), how each workload grows with N
(and charts, when matplotlib is installed), then bench/ANALYSIS.md, the WAL figures
(bench/results/wal.txt, written by bench/run.sh), bench/WEB.md and the mesh section (bench/MESH.md
with its table from bench/results/mesh-*.json). Nothing here measures; rendering twice from the same
files gives the same doc, charts included."""
import glob
import json
import math
import os
import platform
import statistics
import textwrap

HERE = os.path.dirname(os.path.abspath(__file__))
# One column per tool, in this order; a tool a row has no figure for shows "–".
TOOLS = [("newsd", "newsd"), ("rsync", "rsync"), ("unison", "unison"), ("syncthing", "Syncthing"), ("git", "git")]
NAMES = dict(TOOLS)
# Workloads whose number of changed articles does not grow with N; the rest change a share of N.
FIXED_CHANGES = {"none", "1 edit", "none (N read)"}


def machine():
    cpu = "?"
    try:
        with open("/proc/cpuinfo") as f:
            for line in f:
                if line.startswith("model name"):
                    cpu = line.split(":", 1)[1].strip()
                    break
    except OSError:
        pass
    mem = os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES") / 2**30
    return f"{os.cpu_count()} cores ({cpu}), {mem:.0f} GiB RAM, Linux {platform.release()}"


# Figures ----------------------------------------------------------------------------------------

def _scale(value, unit):
    """(divisor, suffix, decimals) for showing `value`; min and max of a cell reuse the median's."""
    if unit == "s":
        return 1, "s", 3 if value < 10 else 1
    if unit == "ms":
        return 1, "ms", 1
    if unit == "MiB":
        return 1, "MiB", 1
    if unit == "B":
        if value >= 1e6:
            return 1e6, "MB", 2
        if value >= 1e3:
            return 1e3, "KB", 1
        return 1, "B", 0
    return 1, unit, 2


def figure(value, unit):
    divisor, suffix, decimals = _scale(value, unit)
    return f"{value / divisor:.{decimals}f} {suffix}"


def cell(values, unit):
    """Median (min–max) of the samples, in the median's unit; the median alone for one sample or
    when min and max read the same."""
    if not values:
        return "–"
    m = statistics.median(values)
    divisor, suffix, decimals = _scale(m, unit)
    low, high = (f"{v / divisor:.{decimals}f}" for v in (min(values), max(values)))
    text = f"{m / divisor:.{decimals}f} {suffix}"
    return text if low == high else f"{text} ({low}–{high})"


def ratio(a, b):
    return f"{statistics.median(a) / statistics.median(b):.2f}×" if a and b and statistics.median(b) else "–"


def best_peer(row):
    """The peer (not newsd) with the lowest median: every workload here is better lower."""
    peers = [(statistics.median(v), t) for t, v in row["tools"].items() if t != "newsd" and v]
    return min(peers)[1] if peers else None


def wrap(text, indent=""):
    """Prose wrapped at 100 columns, as the hand-written sections are; a `code span` is kept whole."""
    parts = text.split("`")
    for i in range(1, len(parts), 2):
        parts[i] = parts[i].replace(" ", "\0")
    return textwrap.fill("`".join(parts), width=100, subsequent_indent=indent, break_long_words=False,
                         break_on_hyphens=False).replace("\0", " ")


# Per-size tables --------------------------------------------------------------------------------

def load(results_dir):
    """Every bench-<size>.json, largest corpus first."""
    results = []
    for path in glob.glob(os.path.join(results_dir, "bench-*.json")):
        with open(path) as f:
            results.append(json.load(f))
    return sorted(results, key=lambda r: -r["articles"])


def size_section(r):
    v = r["versions"]
    syncthing = v["syncthing"].split(' "')[0]  # "syncthing v1.19.2-ds1", without the release name and build
    runs = (f"Each figure is the median of {r['repeat']} runs with min–max" if r["repeat"] > 1 else "Each figure is one run")
    runs += ", except percentiles (one run of 100–200 edits)."
    lines = [
        f"## {r['size']} articles",
        "",
        wrap(f"Measured by `bench/bench.py --size {r['size']}` (as `bench/run.sh` runs it) on {r['date']} at commit {r['commit']} (newsd binary "
             f"dated {r['binary_date']}): {r['machine']}. Corpus: `gen_corpus.py --n {r['articles']} --seed 1`, "
             f"{r['files']} files, {r['corpus_bytes'] / 1e6:.1f} MB, warm page cache. {runs} Peers: {v['rsync']}; "
             f"{v['unison']}; {syncthing}; {v['git']}."),
        "",
        "| workload | " + " | ".join(name for _, name in TOOLS) + " | floor | newsd ÷ best peer | newsd ÷ floor | target | met |",
        "|---|" + "---|" * (len(TOOLS) + 5),
    ]
    for row in r["rows"]:
        tools = row["tools"]
        best = best_peer(row)
        floor = row["floor"]
        met = "–" if row["met"] is None else ("yes" if row["met"] else "**no**")
        cells = [cell(tools.get(t), row["unit"]) for t, _ in TOOLS]
        lines.append(" | ".join([
            f"| {row['workload']}", *cells,
            f"{floor['name']}: {cell(floor['samples'], row['unit'])}" if floor else "–",
            f"{ratio(tools['newsd'], tools[best])} ({NAMES[best]})" if best else "–",
            ratio(tools["newsd"], floor["samples"]) if floor else "–",
            row["target"] or "–", met]) + " |")
    lines += ["", "Notes:"]
    for row in r["rows"]:
        parts = [row["note"]] if row["note"] else []
        parts += [f"{NAMES[t]}: {how}" for t, how in row["how"].items() if t in row["tools"]]
        if parts:
            lines.append(wrap(f"- {row['workload']}: " + "; ".join(parts) + ".", indent="  "))
    return lines + [""]


# Scaling ----------------------------------------------------------------------------------------

def grows_with(k, factor, n_factor, row):
    """What a workload's newsd figure follows, from k = log(factor) / log(n_factor) between the two
    largest corpora: near 1 it grows with the number of articles, near 0 it does not."""
    memory = row["unit"] == "MiB"
    fixed = row["changes"] in FIXED_CHANGES
    if k >= 0.8:
        if memory:
            return "number of articles"
        return "number of articles, though the changes are fixed: a cost per article" if fixed else \
            "number of articles and of changes alike (the changes are a share of N)"
    if k <= 0.25:
        if memory:
            return "flat in N"
        return "number of changes: flat in N" if fixed else "neither yet: fixed costs dominate at these sizes"
    return f"partly the number of articles (×{factor:.1f} for ×{n_factor:g}): fixed costs still a large share"


def scaling_section(results, images):
    by_size = sorted(results, key=lambda r: r["articles"])
    lines = ["## How the figures grow with N", ""]
    if len(by_size) < 2:
        lines += [wrap(f"Only {by_size[0]['size']} has been measured so far: a second size (`bench/run.sh --size 1k "
                       "--write` or `--size 100k`) fills in this section."), ""]
    else:
        sizes = [r["size"] for r in by_size]
        lines += [
            wrap("newsd's medians at each size measured, the factor from one size to the next, and what the "
                 "workload follows, judged from the factor between the two largest sizes (for ×10 articles: near "
                 "×10 it grows with the number of articles, near ×1 with the number of changes alone). The edits change a share of N, so for them "
                 "the two cannot be told apart. The charts below show every tool."),
            "",
            "| workload | articles changed | " + " | ".join(sizes) + " | "
            + " | ".join(f"{a}→{b}" for a, b in zip(sizes, sizes[1:])) + " | grows with |",
            "|---|---|" + "---|" * (2 * len(sizes)),
        ]
        for row in by_size[-1]["rows"]:
            medians = []
            for r in by_size:
                match = [x for x in r["rows"] if x["key"] == row["key"] and x["tools"].get("newsd")]
                medians.append(statistics.median(match[0]["tools"]["newsd"]) if match else None)
            factors = [b / a if a and b else None for a, b in zip(medians, medians[1:])]
            last = by_size[-1]["articles"] / by_size[-2]["articles"]
            k = math.log(factors[-1]) / math.log(last) if factors[-1] else None
            verdict = grows_with(k, factors[-1], last, row) if k is not None else "–"
            lines.append(" | ".join([f"| {row['workload']}", row["changes"] or "–",
                                     *(figure(m, row["unit"]) if m is not None else "–" for m in medians),
                                     *(f"×{f:.2f}" if f else "–" for f in factors), verdict]) + " |")
        lines.append("")
    for name, alt in images:
        lines += [f"![{alt}]({name})", ""]
    return lines


def charts(results, docs_dir):
    """docs/bench-scaling.svg (time per workload against N, log-log, every tool) and
    docs/bench-latency.svg (one edit's end-to-end latency and change-to-log latency, as CDFs per
    size). Returns [(file, alt text)], or [] with a warning when matplotlib is not installed."""
    try:
        import matplotlib
        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
        from matplotlib.ticker import FuncFormatter, NullFormatter
    except ImportError:
        print("report: matplotlib is not installed: the charts are left out of docs/BENCHMARKS.md")
        return []
    # Fixed ids and no date in the SVG, so a rerun on the same figures writes the same bytes.
    matplotlib.rcParams.update({"svg.hashsalt": "newsd-bench", "svg.fonttype": "none", "font.size": 9})
    by_size = sorted(results, key=lambda r: r["articles"])
    timed = [row for row in by_size[-1]["rows"] if row["unit"] == "s"]
    columns = 3
    fig, axes = plt.subplots(math.ceil(len(timed) / columns), columns, figsize=(11, 3.2 * math.ceil(len(timed) / columns)),
                             squeeze=False)
    styles = {"newsd": ("tab:blue", "o"), "rsync": ("tab:orange", "s"), "unison": ("tab:green", "^"),
              "syncthing": ("tab:red", "D"), "git": ("tab:purple", "v"), "floor": ("black", "x")}
    for ax, row in zip(axes.flat, timed):
        for tool in [t for t, _ in TOOLS] + ["floor"]:
            xs, ys = [], []
            for r in by_size:
                match = [x for x in r["rows"] if x["key"] == row["key"]]
                samples = (match[0]["floor"] or {}).get("samples") if match and tool == "floor" else \
                    match[0]["tools"].get(tool) if match else None
                if samples:
                    xs.append(r["articles"])
                    ys.append(statistics.median(samples))
            if xs:
                color, marker = styles[tool]
                label = (row["floor"] or {}).get("name", "floor") if tool == "floor" else NAMES[tool]
                ax.plot(xs, ys, marker=marker, color=color, linestyle="--" if tool == "floor" else "-", label=label)
        ax.set_xscale("log")
        ax.set_yscale("log")
        ax.set_xticks([r["articles"] for r in by_size], [r["size"] for r in by_size])
        ax.xaxis.set_minor_formatter(NullFormatter())
        ax.set_xlim(by_size[0]["articles"] / 2, by_size[-1]["articles"] * 2)
        ax.yaxis.set_major_formatter(FuncFormatter(lambda v, _: f"{v:g}"))
        ax.yaxis.set_minor_formatter(FuncFormatter(_minor_label))
        ax.set_title(row["workload"])
        ax.set_xlabel("articles")
        ax.set_ylabel("seconds")
        ax.grid(True, which="both", linewidth=0.3)
        ax.legend(fontsize=7)
    for ax in list(axes.flat)[len(timed):]:
        ax.set_visible(False)
    fig.tight_layout()
    fig.savefig(os.path.join(docs_dir, "bench-scaling.svg"), format="svg", metadata={"Date": None})
    plt.close(fig)

    fig, axes = plt.subplots(1, 2, figsize=(11, 3.4))
    for ax, key, title in ((axes[0], "one_edit_ms", "One edit end to end (save at A to bytes at B)"),
                           (axes[1], "change_to_log_ms", "Change to log (save to entry committed)")):
        for r in by_size:
            values = sorted(r["samples"].get(key, []))
            if values:
                ax.step(values, [(i + 1) / len(values) for i in range(len(values))], where="post", label=r["size"])
        ax.set_title(title)
        ax.set_xlabel("ms")
        ax.set_ylabel("fraction of edits")
        ax.grid(True, linewidth=0.3)
        ax.legend(title="articles", fontsize=7)
    fig.tight_layout()
    fig.savefig(os.path.join(docs_dir, "bench-latency.svg"), format="svg", metadata={"Date": None})
    plt.close(fig)
    return [("bench-scaling.svg", "Time of each workload against the number of articles, every tool"),
            ("bench-latency.svg", "Distribution of one edit's end-to-end latency and of change-to-log latency, per size")]


def _minor_label(value, _):
    """2 and 5 of each decade labelled too, so a short log axis still reads."""
    if value <= 0:
        return ""
    return f"{value:g}" if round(value / 10 ** math.floor(math.log10(value))) in (2, 5) else ""


# Hand-written and other benches' sections -------------------------------------------------------

def mesh_section(results_dir):
    """bench/MESH.md with its {table} from bench/results/mesh-*.json (full meshes first) and {dates}."""
    rows = []
    for path in glob.glob(os.path.join(results_dir, "mesh-*.json")):
        with open(path) as f:
            rows.append(json.load(f))
    if not rows:
        return []
    rows.sort(key=lambda m: (m["shape"] != "mesh", m["sites"]))
    table = ["| shape | sites | edit at every site p50 ms | p99 ms | bytes sent per edit per site, mean | max (one site) "
             "| RSS per site MiB (anonymous) |", "|---|---|---|---|---|---|---|"]
    for m in rows:
        e, b, rss = m["edit_to_every_site_ms"], m["bytes_sent_per_edit_per_site"], m["rss_mib_per_site"]
        table.append(f"| {m['shape']} | {m['sites']} | {e['p50']} | {e['p99']} | {b['mean']:,} | {b['max']:,} "
                     f"| {rss['mean']} ({rss['anonymous_mean']}) |")
    dates = sorted({m.get("date", "undated") for m in rows})
    with open(os.path.join(HERE, "MESH.md")) as f:
        text = f.read()
    return [text.replace("{table}", "\n".join(table)).replace("{dates}", " and ".join(dates)).rstrip(), ""]


def wal_section(results_dir):
    """bench/results/wal.txt: a line saying when and how, then bench/wal.py's output."""
    path = os.path.join(results_dir, "wal.txt")
    if not os.path.exists(path):
        return []
    with open(path) as f:
        when, *output = f.read().rstrip().splitlines()
    return ["## Many small commits (`bench/wal.py`)", wrap(when), "```", *output, "```", ""]


def fragment(name):
    path = os.path.join(HERE, name)
    if not os.path.exists(path):
        return []
    with open(path) as f:
        return [f.read().rstrip(), ""]


HEADER = """# Benchmarks

newsd beside the tools newsrooms replicate folders with today, on the same corpus in the same run
(`bench/bench.py`; raw figures, every sample, in `bench/results/bench-<size>.json`; this file is
rendered from them by `bench/report.py`). newsd is a release build with the Swift runtime linked in,
as `scripts/install.sh` ships it. Every server listens on 127.0.0.1 only and is stopped at the end
of the run.

- **rsync**: an rsync daemon serving a copy of the articles read-only; `rsync -a --delete` pulls;
  bytes are its own `--stats` totals (sent + received).
- **unison**: `unison -socket PORT -listen 127.0.0.1` (2.52 binds the address it is given) serving
  the same copy; the client runs `-batch -auto -times -confirmbigdel=false` into a local replica,
  server and client each with their own `UNISON` directory (nothing shared in `~/.unison`).
- **Syncthing**: two instances with their own homes, GUI/REST on 127.0.0.1 with a known API key,
  listening on 127.0.0.1, with discovery, relays, NAT, usage and crash reporting, upgrades and its
  lowered process priority off; one send-receive folder watched with `fsWatcherDelayS=1` (its
  shortest) and no periodic rescan during the run; B is given A's address and dials it. Each runs as
  one process (`STMONITORED=1`: no monitor parent) with `STHASHING=minio` (the SHA-256 code it picks
  on this machine anyway, so a start skips its ~0.9 s hashing benchmark). Waits go through the REST
  API (`/rest/db/status`).
- **git**: `git add -A` + `git commit` of the corpus, and `git status`.
- Bytes on the wire for newsd, unison and Syncthing are counted by a TCP relay in front of the
  serving side (TLS included for newsd and Syncthing; unison's socket protocol is not encrypted).
- Each tool's replica is checked byte-identical to newsd's folder after every step that moves
  articles; the edits are made by `gen_corpus.py --mutate` with the same seeds in each tool's source.

Durability, which the times below include or leave out: newsd commits with SQLite `synchronous=FULL`
(WAL) and writes replicated files with temp + rename and a `syncfs` per batch, so an acknowledged
entry survives a power cut. rsync does not fsync. git writes objects without fsync by default.
Syncthing fsyncs every file it writes before renaming it into place (its folder option `disableFsync`
is off by default). unison writes each file to a temporary name and renames it into place (the
invariant its manual states), but `strace` of unison 2.52.1 receiving files shows no `fsync`,
`fdatasync` or `syncfs` on the files or its archive: a power cut can lose what it reported done. The
durable floor beside first replication is the least a replica that survives a power cut must do:
the same files written into a fresh folder and one `syncfs`.
"""


def render(root):
    results_dir = os.path.join(root, "bench", "results")
    results = load(results_dir)
    lines = HEADER.split("\n")
    if results:
        for r in results:
            lines += size_section(r)
        lines += scaling_section(results, charts(results, os.path.join(root, "docs")))
    else:
        lines += ["No `bench/results/bench-*.json` yet: run `bench/run.sh`.", ""]
    lines += fragment("ANALYSIS.md") + wal_section(results_dir) + fragment("WEB.md") + mesh_section(results_dir)
    return "\n".join(lines).rstrip() + "\n"


def write_doc(root):
    path = os.path.join(root, "docs", "BENCHMARKS.md")
    text = render(root)
    with open(path, "w") as f:
        f.write(text)
    return path
