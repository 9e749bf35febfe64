"""The management console's own cost: RSS and CPU with COUNT SpeechRecognizers listed and
refreshed, against the same console with none, measured in the same run.

    .venv/bin/python bench/console_cost.py --count 50 --seconds 60

For each case (the anchor: no SpeechRecognizer; then COUNT), start a fresh kmock emulator
and an asr-server (the fake engine: its real HTTP and /metrics, no model), create the
SpeechRecognizers (each pointed at that server with the console.asrfleet.io/url annotation,
so every round scrapes COUNT /metrics), start `python -m asrfleet_operator.console` with the
default 5 s rounds, let a client poll GET /api/fleet every second as an open fleet page
does, and after a warm-up read the console's CPU seconds (utime+stime from /proc) over
SECONDS and its RSS (VmRSS, and the peak VmHWM). Prints both cases and the ratios. Target:
under 100 MB RSS and under 5% of one core at 50 recognizers.
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO / "tests"))
from support.console_stack import (  # noqa: E402
    TOKEN,
    Emulator,
    Processes,
    free_port,
    http,
    recognizer,
    start_console,
    start_emulator,
)

CLK_TCK = os.sysconf("SC_CLK_TCK")
WARM_UP_SECONDS = 12.0


def cpu_seconds(pid: int) -> float:
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / CLK_TCK


def memory_mb(pid: int, key: str) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith(key + ":"):
            return int(line.split()[1]) / 1024
    raise RuntimeError(f"{key} not in /proc/{pid}/status")


def start_fake_server(processes: Processes) -> str:
    port = free_port()
    env = {"ASR_ENGINE": "fake", "ASR_HOST": "127.0.0.1", "ASR_PORT": str(port)}
    executable = str(Path(sys.executable).parent / "asr-server")
    process = processes.start("asr-server", [executable, "serve"], env)
    url = f"http://127.0.0.1:{port}"
    processes.wait_http(process, f"{url}/readyz")
    return url


def measure(count: int, seconds: float) -> dict[str, float]:
    with tempfile.TemporaryDirectory() as tmp:
        processes = Processes(Path(tmp))
        try:
            kube_url, kubeconfig = start_emulator(processes)
            emulator = Emulator(kube_url)
            server = start_fake_server(processes)
            for number in range(count):
                annotations = {"console.asrfleet.io/url": server}
                emulator.create_recognizer(
                    recognizer(f"fleet-{number:03d}", annotations=annotations)
                )
            url = start_console(processes, kubeconfig, "console",
                                ASRFLEET_CONSOLE_SCRAPE_SECONDS="5")  # fmt: skip
            pid = processes.running[-1].popen.pid
            headers = {"Authorization": f"Bearer {TOKEN}"}
            deadline = time.monotonic() + WARM_UP_SECONDS
            while time.monotonic() < deadline:
                http("GET", f"{url}/api/fleet", headers=headers)
                time.sleep(1)
            cpu_before, started = cpu_seconds(pid), time.monotonic()
            polls = 0
            while time.monotonic() - started < seconds:
                status, body = http("GET", f"{url}/api/fleet", headers=headers)
                assert status == 200 and len(body["rows"]) == count, (status, body)
                polls += 1
                time.sleep(1)
            elapsed = time.monotonic() - started
            cpu = cpu_seconds(pid) - cpu_before
            scraped = sum((row["load"] or {}).get("servers_scraped", 0) for row in body["rows"])
            return {
                "cpu_percent": 100 * cpu / elapsed,
                "rss_mb": memory_mb(pid, "VmRSS"),
                "peak_rss_mb": memory_mb(pid, "VmHWM"),
                "polls": polls,
                "scraped": scraped,
            }
        finally:
            processes.stop_all()


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--count", type=int, default=50, help="SpeechRecognizers")
    parser.add_argument("--seconds", type=float, default=60.0, help="measured window")
    args = parser.parse_args()
    print(f"load average before: {os.getloadavg()[0]:.2f}", flush=True)
    anchor = measure(0, args.seconds)
    fleet = measure(args.count, args.seconds)
    for name, figures in (("anchor (0 recognizers)", anchor), (f"{args.count} recognizers", fleet)):
        print(f"{name:>24}: CPU {figures['cpu_percent']:.2f}% of one core,"
              f" RSS {figures['rss_mb']:.1f} MB (peak {figures['peak_rss_mb']:.1f} MB),"
              f" {figures['polls']:.0f} page polls, {figures['scraped']:.0f} servers scraped"
              " in the last round")  # fmt: skip
    cpu_ratio = fleet["cpu_percent"] / max(anchor["cpu_percent"], 1e-9)
    print(f"ratio {args.count}/anchor: CPU {cpu_ratio:.2f}x,"
          f" RSS {fleet['rss_mb'] / anchor['rss_mb']:.2f}x")  # fmt: skip
    print(f"load average after: {os.getloadavg()[0]:.2f}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
