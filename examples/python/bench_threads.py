"""Is the GIL really released? Runs 8 configs one after another, then on 2 Python threads,
and prints both times and the speed-up (about 2 on a machine with 2 free cores).

    python examples/python/bench_threads.py [--repeat N]
"""

import argparse
import time
from concurrent.futures import ThreadPoolExecutor

import tfmm


def configs() -> list[dict]:
    base = {
        "pool": {"tokens": ["BTC", "ETH", "SOL"], "rule": "momentum", "k_per_day": 1},
        "market": {"fees": 0.003},
        "window": {"start": "2023-07-01", "end": "2024-01-01", "burn_in_days": 60},
    }
    return tfmm.grid(base, {"pool.memory_days": [3, 5, 8, 10, 15, 20, 30, 45]})


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--repeat", type=int, default=3, help="timings to take the best of")
    args = parser.parse_args()
    runs = configs()
    prices = tfmm.load_prices(["BTC", "ETH", "SOL"], start="2023-05-01", end="2024-01-01")
    tfmm.run(runs[0], prices)  # warm up: page in the library and the prices

    def serial() -> list:
        return [tfmm.run(c, prices) for c in runs]

    def threaded() -> list:
        with ThreadPoolExecutor(max_workers=2) as pool:
            return list(pool.map(lambda c: tfmm.run(c, prices), runs))

    best = {}
    for name, job in (("serial", serial), ("2 threads", threaded)):
        times = []
        for _ in range(args.repeat):
            started = time.perf_counter()
            results = job()
            times.append(time.perf_counter() - started)
        best[name] = min(times)
        minutes = sum(len(r.value) for r in results)
        print(f"{name:<10} {best[name]:7.3f} s  ({minutes:,} minutes simulated in {len(runs)} runs)")
    print(f"speed-up   {best['serial'] / best['2 threads']:7.2f}x")
    same = all(a.identical(b) for a, b in zip(serial(), threaded()))
    print(f"identical results: {same}")


if __name__ == "__main__":
    main()
