"""Contiguous parcel clusters at city scale: ``find_clusters`` on 200,000 parcels, the
``gongjian clusters`` verb end to end, and a pairwise reference on a 5,000-parcel window.

The data: a synthetic industrial city near Zhongshan (lon 113.2–113.6, lat 22.3–22.7),
drawn in metres and brought to WGS84. Blocks of 3–8 × 3–8 plots, each plot 45–95 m a
side, are separated by roads 4–40 m wide; inside a block the plots share their edges (the
grid's inner vertices jittered by up to 12 m, so no two plots are the same shape). One
block in twelve is left empty (water, parks); one plot in sixteen is missing, two in five
in the fragmented blocks of village parks (one block in four); plots are merged in pairs
or fours into parcels of up to ~50 mu. The 200,000 parcels nearest the centre are kept,
in shuffled order, as a file would hold them.

Baseline: the plain pairwise method on the window — every pair tested with
``a.intersects(b)``, or, with a gap, their distance in UTM zone 49N (another projection
than ``find_clusters`` uses) compared with the gap — joined by a textbook union-find. Both
must give the same clusters, at 0 m and at a 10 m gap (which bridges the roads of 8 m and
less). The baseline's time on all parcels is extrapolated as the square of the count (the
number of pairs); it is not run.
"""

from __future__ import annotations

import json
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq
import shapely
from numpy.typing import NDArray
from pyproj import Transformer

from _common import peak_rss_mb, write_result
from gongjian.geo.area import M2_PER_MU
from gongjian.geo.clusters import ClusterRow, find_clusters, parcel_areas_m2

PARCELS = 200_000
WINDOW = 5_000
"""Parcels nearest the centre that both methods cluster."""
GAPS_M = (0.0, 10.0)
RUNS = 3
"""Timed runs; the fastest counts (the machine is shared)."""
SEED = 20230201
CENTRE = (113.4, 22.5)
HALF_EXTENT_M = (20_500.0, 22_000.0)
"""Half the width and height of the drawn area, in metres (lon 113.2–113.6, lat 22.3–22.7)."""
PLOT_M = (45.0, 95.0)
BLOCK_PLOTS = (3, 8)
ROADS_M = (4.0, 6.0, 8.0, 12.0, 16.0, 24.0, 32.0, 40.0)
JITTER_M = 12.0
EMPTY_BLOCK = 1 / 12
SCATTERED_BLOCK = 1 / 4
"""Blocks of a village park, fragmented: two plots in five missing."""
MISSING_PLOT = {False: 1 / 16, True: 2 / 5}
MERGE_FOUR, MERGE_PAIR = 0.03, 0.16
"""Chances that a plot starts a 2 × 2 parcel, or a pair with its right or upper neighbour."""
TARGET_SECONDS = 5.0
"""'A few seconds' for 200,000 parcels on a 2-core machine."""

Ring = list[tuple[float, float]]


def _edges(rng: np.random.Generator, half: float) -> list[NDArray[np.float64]]:
    """Plot edges of each block along one axis, blocks separated by roads."""
    blocks, at = [], -half
    while at < half:
        widths = rng.uniform(*PLOT_M, size=rng.integers(BLOCK_PLOTS[0], BLOCK_PLOTS[1] + 1))
        blocks.append(at + np.concatenate(([0.0], np.cumsum(widths))))
        at = blocks[-1][-1] + rng.choice(ROADS_M)
    return blocks


def _block(
    rng: np.random.Generator, xs: NDArray[np.float64], ys: NDArray[np.float64], missing: float
) -> list[Ring]:
    """The parcels of one block: its plot grid jittered inside (edges stay straight), some
    plots missing, some merged."""
    nx, ny = len(xs) - 1, len(ys) - 1
    vx, vy = np.meshgrid(xs, ys)  # vertex (row j, column i)
    vx[:, 1:-1] += rng.uniform(-JITTER_M, JITTER_M, size=(ny + 1, nx - 1))
    vy[1:-1, :] += rng.uniform(-JITTER_M, JITTER_M, size=(ny - 1, nx + 1))

    def ring(*vertices: tuple[int, int]) -> Ring:
        return [(float(vx[j, i]), float(vy[j, i])) for i, j in vertices]

    taken = np.zeros((ny, nx), dtype=bool)
    parcels: list[Ring] = []
    draws = rng.random((ny, nx))
    for j in range(ny):
        for i in range(nx):
            if taken[j, i]:
                continue
            draw = draws[j, i]
            taken[j, i] = True
            if draw < missing:
                continue
            draw = (draw - missing) / (1 - missing)
            if (
                draw < MERGE_FOUR
                and i + 1 < nx
                and j + 1 < ny
                and not taken[j : j + 2, i + 1].any()
            ):
                taken[j : j + 2, i : i + 2] = True
                corners = ((i, j), (i + 1, j), (i + 2, j), (i + 2, j + 1), (i + 2, j + 2))
                parcels.append(ring(*corners, (i + 1, j + 2), (i, j + 2), (i, j + 1)))
            elif draw < MERGE_FOUR + MERGE_PAIR / 2 and i + 1 < nx and not taken[j, i + 1]:
                taken[j, i + 1] = True
                parcels.append(
                    ring((i, j), (i + 1, j), (i + 2, j), (i + 2, j + 1), (i + 1, j + 1), (i, j + 1))
                )
            elif draw < MERGE_FOUR + MERGE_PAIR and j + 1 < ny and not taken[j + 1, i]:
                taken[j + 1, i] = True
                parcels.append(
                    ring((i, j), (i + 1, j), (i + 1, j + 1), (i + 1, j + 2), (i, j + 2), (i, j + 1))
                )
            else:
                parcels.append(ring((i, j), (i + 1, j), (i + 1, j + 1), (i, j + 1)))
    return parcels


def generate() -> tuple[list[str], NDArray[np.object_]]:
    """``PARCELS`` parcel ids and WGS84 polygons, the same on every run."""
    rng = np.random.default_rng(SEED)
    columns, rows = _edges(rng, HALF_EXTENT_M[0]), _edges(rng, HALF_EXTENT_M[1])
    rings: list[Ring] = []
    for ys in rows:
        for xs in columns:
            kind = rng.random()
            if kind >= EMPTY_BLOCK:
                rings.extend(
                    _block(rng, xs, ys, MISSING_PLOT[kind < EMPTY_BLOCK + SCATTERED_BLOCK])
                )
    centres = np.array([np.mean(ring, axis=0) for ring in rings])
    keep = np.argsort(np.hypot(centres[:, 0], centres[:, 1]), kind="stable")[:PARCELS]
    keep = keep[rng.permutation(len(keep))]
    to_degrees = Transformer.from_crs(
        f"+proj=aeqd +lat_0={CENTRE[1]} +lon_0={CENTRE[0]} +datum=WGS84 +units=m",
        "EPSG:4326",
        always_xy=True,
    )
    chosen = [rings[k] for k in keep.tolist()]
    lon, lat = to_degrees.transform(*np.array([xy for ring in chosen for xy in ring]).T)
    ring_of = np.repeat(np.arange(len(chosen)), [len(ring) for ring in chosen])
    polygons = shapely.polygons(shapely.linearrings(np.column_stack((lon, lat)), indices=ring_of))
    assert shapely.is_valid(polygons).all()
    return [f"ZS{k:06d}" for k in keep.tolist()], polygons


def _partition(rows: list[ClusterRow]) -> dict[str, str]:
    return {row.parcel_id: row.cluster_id for row in rows}


def pairwise(ids: list[str], polygons: NDArray[np.object_], gap_m: float) -> dict[str, str]:
    """The reference: every pair tested (intersects, or UTM 49N distance ≤ gap), joined by
    a plain union-find; each parcel's cluster named by its smallest id."""
    if gap_m > 0:
        to_utm = Transformer.from_crs("EPSG:4326", "EPSG:32649", always_xy=True)
        shapes = shapely.transform(
            polygons, lambda c: np.column_stack(to_utm.transform(c[:, 0], c[:, 1]))
        )
    else:
        shapes = polygons
    parent = list(range(len(ids)))

    def find(k: int) -> int:
        while parent[k] != k:
            parent[k] = parent[parent[k]]
            k = parent[k]
        return k

    for i in range(len(ids) - 1):
        others = shapes[i + 1 :]
        if gap_m > 0:
            near = shapely.distance(shapes[i], others) <= gap_m
        else:
            near = shapely.intersects(shapes[i], others)
        for j in (np.flatnonzero(near) + i + 1).tolist():
            parent[find(j)] = find(i)
    smallest: dict[int, str] = {}
    for k, parcel_id in enumerate(ids):
        root = find(k)
        smallest[root] = min(smallest.get(root, parcel_id), parcel_id)
    return {parcel_id: smallest[find(k)] for k, parcel_id in enumerate(ids)}


def _window(ids: list[str], polygons: NDArray[np.object_]) -> tuple[list[str], Any]:
    """The ``WINDOW`` parcels nearest the centre: a contiguous patch of the city."""
    centroids = shapely.get_coordinates(shapely.centroid(polygons))
    nearest = np.argsort(np.hypot(*(centroids - CENTRE).T), kind="stable")[:WINDOW]
    return [ids[k] for k in nearest.tolist()], polygons[nearest]


def compare_on_window(ids: list[str], polygons: NDArray[np.object_]) -> dict[str, Any]:
    """``find_clusters`` and the pairwise reference on the window, at each gap."""
    window_ids, window = _window(ids, polygons)
    figures: dict[str, Any] = {"parcels": WINDOW}
    for gap_m in GAPS_M:
        started = time.perf_counter()
        ours = _partition(find_clusters(list(zip(window_ids, window, strict=True)), gap_m=gap_m))
        ours_s = time.perf_counter() - started
        started = time.perf_counter()
        theirs = pairwise(window_ids, window, gap_m)
        theirs_s = time.perf_counter() - started
        assert ours == theirs, f"gap {gap_m} m: find_clusters and the pairwise reference differ"
        figures[f"gap_{gap_m:g}_m"] = {
            "clusters": len(set(ours.values())),
            "identical": True,
            "find_clusters_seconds": round(ours_s, 3),
            "pairwise_seconds": round(theirs_s, 2),
            "speed_up": round(theirs_s / ours_s),
            "pairwise_seconds_extrapolated_to_all": round(theirs_s * (len(ids) / WINDOW) ** 2),
        }
        print("window", gap_m, figures[f"gap_{gap_m:g}_m"], flush=True)
    return figures


CHILD = """
import json, sys, time
from pathlib import Path
import pyarrow.parquet as pq, shapely
from gongjian.geo.clusters import find_clusters, summarize
table = pq.read_table(sys.argv[1])
features = list(zip(table['parcel_id'].to_pylist(),
                    shapely.from_wkb(table['wkb'].to_numpy(zero_copy_only=False))))
figures = {}
for gap_m in json.loads(sys.argv[2]):
    seconds = []
    for _ in range(int(sys.argv[3])):
        started = time.perf_counter()
        rows = find_clusters(features, gap_m=gap_m)
        seconds.append(time.perf_counter() - started)
    summary = summarize(rows)
    sizes = {}
    for row in rows:
        sizes[row.cluster_id] = row.cluster_parcels
    figures[gap_m] = {'seconds_all_runs': seconds, 'clusters': summary.clusters,
                      'flagged_clusters': summary.flagged_clusters,
                      'flagged_mu': str(summary.flagged_mu),
                      'largest_cluster_parcels': max(sizes.values())}
status = Path('/proc/self/status').read_text().splitlines()
peak = next(int(s.split()[1]) for s in status if s.startswith('VmHWM'))
print(json.dumps({'gaps': figures, 'peak_rss_mb': peak / 1024}))
"""
"""``find_clusters`` on the parcels in a process of its own, for a clean peak memory
(``ru_maxrss`` would carry over this process's generation)."""


def cluster_all(ids: list[str], polygons: NDArray[np.object_], folder: Path) -> dict[str, Any]:
    """``find_clusters`` on all parcels at each gap: best of ``RUNS``, peak memory."""
    path = folder / "parcels.parquet"
    pq.write_table(
        pa.table({"parcel_id": ids, "wkb": pa.array(shapely.to_wkb(polygons), pa.binary())}),
        path,
    )
    finished = subprocess.run(
        [sys.executable, "-c", CHILD, str(path), json.dumps(GAPS_M), str(RUNS)],
        check=True,
        capture_output=True,
        text=True,
    )
    child = json.loads(finished.stdout.splitlines()[-1])
    figures: dict[str, Any] = {"peak_rss_mb": round(child["peak_rss_mb"])}
    for gap_m, result in child["gaps"].items():
        runs = result.pop("seconds_all_runs")
        figures[f"gap_{float(gap_m):g}_m"] = {
            "seconds": round(min(runs), 2),
            "seconds_all_runs": [round(s, 2) for s in runs],
            "parcels_per_second": round(len(ids) / min(runs)),
            **result,
        }
        print("all", gap_m, figures[f"gap_{float(gap_m):g}_m"], flush=True)
    figures["target_seconds"] = TARGET_SECONDS
    figures["ratio_to_target"] = round(figures["gap_0_m"]["seconds"] / TARGET_SECONDS, 2)
    return figures


def verb(ids: list[str], polygons: NDArray[np.object_], folder: Path) -> dict[str, Any]:
    """``gongjian clusters`` on the parcels as a GeoJSON file, once, in its own process."""
    source = folder / "parcels.geojson"
    features = ",\n".join(
        f'{{"type": "Feature", "properties": {{"parcel_id": "{parcel_id}"}},'
        f' "geometry": {geometry}}}'
        for parcel_id, geometry in zip(ids, shapely.to_geojson(polygons).tolist(), strict=True)
    )
    source.write_text(f'{{"type": "FeatureCollection", "features": [\n{features}\n]}}\n')
    out = folder / "clusters.csv"
    script = (
        "import sys, time\n"
        "from pathlib import Path\n"
        "from gongjian.cli import app\n"
        "started = time.perf_counter()\n"
        "app(['clusters', sys.argv[1], '--out', sys.argv[2]], standalone_mode=False)\n"
        "seconds = time.perf_counter() - started\n"
        "status = Path('/proc/self/status').read_text().splitlines()\n"
        "peak = next(int(s.split()[1]) for s in status if s.startswith('VmHWM'))\n"
        "print(seconds, peak / 1024)\n"
    )
    finished = subprocess.run(
        [sys.executable, "-c", script, str(source), str(out)],
        check=True,
        capture_output=True,
        text=True,
    )
    seconds, peak = map(float, finished.stdout.split()[-2:])
    lines = out.read_text(encoding="utf-8").splitlines()
    assert len(lines) == len(ids) + 1
    figures = {
        "file_mb": round(source.stat().st_size / 2**20, 1),
        "seconds": round(seconds, 2),
        "peak_rss_mb": round(peak),
        "summary": finished.stdout.splitlines()[0].split("；结果已写入")[0],
    }
    print("verb", figures, flush=True)
    return figures


def main() -> None:
    started = time.perf_counter()
    ids, polygons = generate()
    generate_s = time.perf_counter() - started
    mu = parcel_areas_m2(polygons) / float(M2_PER_MU)
    figures: dict[str, Any] = {
        "parcels": len(ids),
        "seed": SEED,
        "generate_seconds": round(generate_s, 2),
        "parcel_mu": {
            "min": round(float(mu.min()), 1),
            "median": round(statistics.median(mu.tolist()), 1),
            "max": round(float(mu.max()), 1),
            "total": round(float(mu.sum())),
        },
        "runs": RUNS,
    }
    print("generated", figures, flush=True)
    with tempfile.TemporaryDirectory() as scratch:
        figures["find_clusters"] = cluster_all(ids, polygons, Path(scratch))
        figures["verb"] = verb(ids, polygons, Path(scratch))
    figures["window"] = compare_on_window(ids, polygons)
    figures["bench_process_peak_rss_mb"] = round(peak_rss_mb())
    print(json.dumps(figures, ensure_ascii=False, indent=2, default=str))
    print("wrote", write_result("clusters", figures))


if __name__ == "__main__":
    main()
