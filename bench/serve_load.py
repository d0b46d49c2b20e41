"""Micro-batching in `rnnkit serve`, measured: a load generator against the running server on loopback.

    python bench/serve_load.py RUN_DIR --texts ../shared/data/imdb/train.csv.xz [--seconds 20]

Starts `rnnkit serve` twice on a free port, once as shipped (concurrent requests batched: up to 64
texts, a 5 ms window) and once one request at a time (--batch-size 1 --batch-wait-ms 0), and for
each drives it with 1, 8 and 32 closed-loop clients (each a keep-alive connection that sends a
request as soon as its last one is answered, one text per request) for --seconds each. Prints
requests/s and the p50/p99 latency side by side, with the ratio. The clients run in this process,
on the same machine: they take some of its CPU in both runs alike.
"""

import argparse
import csv
import http.client
import json
import lzma
import os
import socket
import statistics
import subprocess
import sys
import threading
import time


def read_texts(path: str, count: int):
    opener = lzma.open if path.endswith(".xz") else open
    with opener(path, "rt", encoding="utf-8") as f:
        reader = csv.DictReader(f)
        texts = (row["text"] for row in reader if len(row["text"].split()) <= 1000)  # the server's default limit
        return [text for _, text in zip(range(count), texts)]


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def start(run: str, port: int, options):
    process = subprocess.Popen([sys.executable, "-m", "rnnkit", "serve", f"model={run}", "--port", str(port),
                                "--log-level", "warning", "--queue-size", "256", *options], stderr=subprocess.PIPE)
    for _ in range(600):
        try:
            connection = http.client.HTTPConnection("127.0.0.1", port, timeout=2)
            connection.request("GET", "/health")
            if connection.getresponse().status == 200:
                return process
        except OSError:
            time.sleep(0.1)
    process.kill()
    raise SystemExit("the server did not start: " + process.stderr.read().decode())


def drive(port: int, texts, clients: int, seconds: float):
    """(requests per second, latencies in ms) of ``clients`` closed-loop clients over ``seconds``."""
    latencies, errors = [[] for _ in range(clients)], []
    stop = time.perf_counter() + seconds

    def client(index: int):
        connection = http.client.HTTPConnection("127.0.0.1", port, timeout=60)
        i = index
        while time.perf_counter() < stop:
            body = json.dumps({"texts": [texts[i % len(texts)]]})
            start = time.perf_counter()
            connection.request("POST", "/v1/models/model/classify", body, {"content-type": "application/json"})
            response = connection.getresponse()
            response.read()
            if response.status != 200:
                errors.append(response.status)
            latencies[index].append(1000 * (time.perf_counter() - start))
            i += clients

    threads = [threading.Thread(target=client, args=(k,)) for k in range(clients)]
    began = time.perf_counter()
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    elapsed = time.perf_counter() - began
    everything = sorted(t for per in latencies for t in per)
    if errors:
        print(f"  {len(errors)} errors: {sorted(set(errors))}", file=sys.stderr)
    return len(everything) / elapsed, everything


def percentile(values, q: float) -> float:
    return values[min(len(values) - 1, int(q * len(values)))]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("run", help="a trained classify run")
    parser.add_argument("--texts", required=True, help="a CSV file with a text column (.xz read as such)")
    parser.add_argument("--seconds", type=float, default=20.0, help="per measurement (default 20)")
    parser.add_argument("--clients", default="1,8,32")
    args = parser.parse_args()
    texts = read_texts(args.texts, 2000)
    modes = {"batched": [], "one at a time": ["--batch-size", "1", "--batch-wait-ms", "0"]}
    rows = {}
    for mode, options in modes.items():
        port = free_port()
        process = start(args.run, port, options)
        try:
            drive(port, texts, 4, 3.0)  # warm-up: first calls, allocator, threads
            for clients in (int(c) for c in args.clients.split(",")):
                rate, latencies = drive(port, texts, clients, args.seconds)
                rows[mode, clients] = (rate, percentile(latencies, 0.5), percentile(latencies, 0.99))
                print(f"{mode:>14}  {clients:>2} clients: {rate:7.1f} requests/s, p50 {rows[mode, clients][1]:7.1f} ms, "
                      f"p99 {rows[mode, clients][2]:7.1f} ms", file=sys.stderr, flush=True)
        finally:
            process.terminate()
            process.wait(30)
    words = statistics.mean(len(t.split()) for t in texts)
    print(f"\nrun {os.path.basename(os.path.normpath(args.run))}, {len(texts)} texts of {words:.0f} words on average, "
          f"one per request, {args.seconds:g} s per cell, {os.cpu_count()} CPUs")
    print("| clients | batched: req/s | p50 ms | p99 ms | one at a time: req/s | p50 ms | p99 ms | throughput gain |")
    print("|---|---|---|---|---|---|---|---|")
    for clients in (int(c) for c in args.clients.split(",")):
        b, o = rows["batched", clients], rows["one at a time", clients]
        print(f"| {clients} | {b[0]:.1f} | {b[1]:.1f} | {b[2]:.1f} | {o[0]:.1f} | {o[1]:.1f} | {o[2]:.1f} | "
              f"{b[0] / o[0]:.2f}x |")


if __name__ == "__main__":
    main()
