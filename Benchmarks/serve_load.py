#!/usr/bin/env python3
"""Load on `facenet serve` over loopback, bounded in time (Docs/serving.md, "Measured").

Starts the server (release build, given by --facenet) on a free port of 127.0.0.1, then:

  engine     `facenet bench` at batch 1 and batch 8: the engine's own ms per image
  1 client   /represent one request after another: p50/p90/p99 latency (decode, JSON and
             HTTP included) against the engine's batch-1 time + 5 ms
  8 clients  requests/s for --burst seconds against 0.8 x (1000 / batch-8 ms per image),
             p50/p99, and the mean batch size read from /metrics
  16 clients --soak seconds with the default limits: every status counted (no error, no
             503), the server's RSS after warm-up and at the end
  identity   the served embedding against `facenet embed --detector skip --json` of the
             same image: bit-identical or the max abs difference

The request is deepface's: {"img": "data:image/png;base64,...", "model_name":
"Facenet512", "detector_backend": "skip"}, a 160x160 face crop (../shared/faces/crops).
Only the Python standard library is used (threads + http.client), so the clients cost
little beside the server; on 2 cores they still share the CPU with it.
"""
import argparse
import base64
import http.client
import json
import os
import re
import socket
import statistics
import subprocess
import sys
import threading
import time


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def rss_kb(pid):
    with open(f"/proc/{pid}/status") as f:
        for line in f:
            if line.startswith("VmRSS:"):
                return int(line.split()[1])
    return 0


def percentile(values, p):
    ordered = sorted(values)
    if not ordered:
        return float("nan")
    index = min(len(ordered) - 1, max(0, round(p / 100 * (len(ordered) - 1))))
    return ordered[index]


def engine_ms(facenet, batch, iterations):
    """`facenet bench`'s median ms per image at `batch`."""
    done = subprocess.run([facenet, "bench", "--batch", str(batch), "--iterations", str(iterations)],
                          capture_output=True, text=True, check=True)
    found = re.search(r"ms/pass, ([0-9.]+) ms/image,", done.stdout + done.stderr)
    if not found:
        sys.exit(f"serve_load: cannot read ms per image from `facenet bench`:\n{done.stdout}{done.stderr}")
    return float(found.group(1))


class Client:
    """One keep-alive connection; `post` returns (status, body bytes, seconds)."""

    def __init__(self, port, headers):
        self.port, self.headers = port, headers
        self.connection = http.client.HTTPConnection("127.0.0.1", port, timeout=60)

    def post(self, path, body):
        started = time.perf_counter()
        try:
            self.connection.request("POST", path, body=body, headers=self.headers)
            response = self.connection.getresponse()
            data = response.read()
            status = response.status
            if response.getheader("Connection", "").lower() == "close":
                self.reconnect()
        except (OSError, http.client.HTTPException) as error:
            self.reconnect()
            return f"error {type(error).__name__}", b"", time.perf_counter() - started
        return status, data, time.perf_counter() - started

    def get(self, path):
        self.connection.request("GET", path, headers={k: v for k, v in self.headers.items() if k == "Authorization"})
        response = self.connection.getresponse()
        return response.status, response.read()

    def reconnect(self):
        self.connection.close()
        self.connection = http.client.HTTPConnection("127.0.0.1", self.port, timeout=60)


def metric_sum_count(text, name_part):
    """(sum, count) of the first histogram whose name contains `name_part`."""
    total = count = None
    for line in text.splitlines():
        if line.startswith("#") or name_part not in line:
            continue
        name, _, value = line.rpartition(" ")
        if name.split("{")[0].endswith("_sum") and total is None:
            total = float(value)
        elif name.split("{")[0].endswith("_count") and count is None:
            count = float(value)
    return total, count


def run_clients(port, headers, body, clients, seconds):
    """`clients` threads posting /represent for `seconds`; returns latencies and statuses."""
    latencies, statuses, lock = [], {}, threading.Lock()
    deadline = time.perf_counter() + seconds

    def work():
        client = Client(port, headers)
        mine, counts = [], {}
        while time.perf_counter() < deadline:
            status, _, elapsed = client.post("/represent", body)
            counts[status] = counts.get(status, 0) + 1
            if status == 200:
                mine.append(elapsed)
        with lock:
            latencies.extend(mine)
            for key, value in counts.items():
                statuses[key] = statuses.get(key, 0) + value

    threads = [threading.Thread(target=work) for _ in range(clients)]
    started = time.perf_counter()
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    return latencies, statuses, time.perf_counter() - started


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--facenet", required=True, help="the facenet binary (release)")
    parser.add_argument("--image", default=os.path.join(os.path.dirname(__file__), "..", "..", "shared", "faces", "crops", "img1.png"))
    parser.add_argument("--single", type=int, default=100, help="requests of the 1-client run")
    parser.add_argument("--burst", type=float, default=20, help="seconds of the 8-client run")
    parser.add_argument("--soak", type=float, default=60, help="seconds of the 16-client run")
    parser.add_argument("--max-batch", type=int, default=8)
    parser.add_argument("--max-delay-ms", type=float, default=5)
    parser.add_argument("--json", help="also write every figure here")
    args = parser.parse_args()

    if not os.path.exists(args.image):
        sys.exit(f"serve_load: no image at {args.image} (../shared absent?): give --image A_160x160_FACE.png")
    with open(args.image, "rb") as f:
        image = f.read()
    mime = "png" if image[:4] == b"\x89PNG" else "jpeg"
    body = json.dumps({"img": f"data:image/{mime};base64," + base64.b64encode(image).decode(),
                       "model_name": "Facenet512", "detector_backend": "skip"}).encode()
    headers = {"Content-Type": "application/json"}
    cpu = next((l.split(":", 1)[1].strip() for l in open("/proc/cpuinfo") if l.startswith("model name")), "?")
    figures = {"cpu": cpu, "cores": os.cpu_count(), "image": os.path.basename(args.image)}
    print(f"CPU: {cpu}, {os.cpu_count()} cores")

    figures["engine_ms_batch1"] = engine_ms(args.facenet, 1, 20)
    figures["engine_ms_batch8"] = engine_ms(args.facenet, 8, 5)
    print(f"engine: batch 1 {figures['engine_ms_batch1']:.1f} ms per image, batch 8 {figures['engine_ms_batch8']:.1f} ms per image")

    port = free_port()
    server = subprocess.Popen([args.facenet, "serve", "--port", str(port), "--max-batch", str(args.max_batch),
                               "--max-delay-ms", str(args.max_delay_ms)],
                              stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
    try:
        started = time.time()
        while True:
            if server.poll() is not None:
                sys.exit(f"serve_load: the server exited ({server.returncode}): {server.stderr.read()[-2000:]}")
            try:
                status, _ = Client(port, headers).get("/health")
                if status == 200:
                    break
            except OSError:
                pass
            if time.time() - started > 120:
                sys.exit("serve_load: /health did not answer 200 within 120 s")
            time.sleep(0.2)
        figures["startup_s"] = round(time.time() - started, 2)

        # Identity with `facenet embed`.
        client = Client(port, headers)
        status, data, _ = client.post("/represent", body)
        if status != 200:
            sys.exit(f"serve_load: /represent answered {status}: {data[:500]!r}")
        served = json.loads(data)["results"][0]["embedding"]
        embedded = json.loads(subprocess.run([args.facenet, "embed", "--detector", "skip", "--json", args.image],
                                             capture_output=True, text=True, check=True).stdout.splitlines()[0])["embedding"]
        difference = max(abs(a - b) for a, b in zip(served, embedded))
        figures["embedding_max_abs_difference"] = difference
        figures["embedding_bit_identical"] = served == embedded
        print(f"identity: served vs `facenet embed`: {'bit-identical' if served == embedded else f'max abs difference {difference:.3g}'}")

        # One client.
        for _ in range(5):
            client.post("/represent", body)
        single = []
        for _ in range(args.single):
            status, _, elapsed = client.post("/represent", body)
            if status != 200:
                sys.exit(f"serve_load: /represent answered {status} in the 1-client run")
            single.append(elapsed * 1000)
        figures["one_client"] = {"p50_ms": percentile(single, 50), "p90_ms": percentile(single, 90),
                                 "p99_ms": percentile(single, 99), "requests": len(single)}
        target1 = figures["engine_ms_batch1"] + 5
        print(f"1 client: p50 {figures['one_client']['p50_ms']:.1f} ms, p99 {figures['one_client']['p99_ms']:.1f} ms "
              f"(target p50 <= engine batch 1 + 5 ms = {target1:.1f} ms)")

        # Eight clients.
        _, before = client.get("/metrics")
        latencies, statuses, elapsed = run_clients(port, headers, body, 8, args.burst)
        _, after = client.get("/metrics")
        s0, c0 = metric_sum_count(before.decode(), "facenet_batch_size")
        s1, c1 = metric_sum_count(after.decode(), "facenet_batch_size")
        mean_batch = (s1 - s0) / (c1 - c0) if None not in (s0, c0, s1, c1) and c1 > c0 else float("nan")
        rate = len(latencies) / elapsed
        target8 = 0.8 * 1000 / figures["engine_ms_batch8"]
        figures["eight_clients"] = {"requests_per_s": rate, "p50_ms": percentile(latencies, 50) * 1000,
                                    "p99_ms": percentile(latencies, 99) * 1000, "mean_batch": mean_batch,
                                    "statuses": {str(k): v for k, v in statuses.items()}, "target_requests_per_s": target8}
        print(f"8 clients: {rate:.1f} requests/s (target >= 0.8 x 1000 / batch-8 ms = {target8:.1f}), "
              f"p50 {figures['eight_clients']['p50_ms']:.1f} ms, p99 {figures['eight_clients']['p99_ms']:.1f} ms, "
              f"mean batch {mean_batch:.2f}, statuses {statuses}")

        # Sixteen clients, the soak.
        warm, _, _ = run_clients(port, headers, body, 16, 5)
        rss_warm = rss_kb(server.pid)
        latencies, statuses, elapsed = run_clients(port, headers, body, 16, args.soak)
        rss_end = rss_kb(server.pid)
        errors = sum(v for k, v in statuses.items() if k != 200)
        figures["sixteen_clients"] = {"seconds": round(elapsed, 1), "requests": len(latencies), "errors": errors,
                                      "statuses": {str(k): v for k, v in statuses.items()},
                                      "requests_per_s": len(latencies) / elapsed,
                                      "p50_ms": percentile(latencies, 50) * 1000, "p99_ms": percentile(latencies, 99) * 1000,
                                      "rss_after_warmup_mb": rss_warm / 1024, "rss_end_mb": rss_end / 1024,
                                      "rss_growth": rss_end / rss_warm - 1 if rss_warm else float("nan")}
        f16 = figures["sixteen_clients"]
        print(f"16 clients, {f16['seconds']} s: {f16['requests']} requests, {errors} errors {statuses}, "
              f"{f16['requests_per_s']:.1f} requests/s, p99 {f16['p99_ms']:.1f} ms; RSS {f16['rss_after_warmup_mb']:.0f} MB "
              f"after warm-up, {f16['rss_end_mb']:.0f} MB at the end ({100 * f16['rss_growth']:+.1f}%)")
    finally:
        server.terminate()
        try:
            figures["sigterm_exit"] = server.wait(timeout=15)
        except subprocess.TimeoutExpired:
            server.kill()
            figures["sigterm_exit"] = "killed after 15 s"
        print(f"SIGTERM: exit {figures['sigterm_exit']}")
    if args.json:
        with open(args.json, "w") as f:
            json.dump(figures, f, indent=2)


if __name__ == "__main__":
    main()
