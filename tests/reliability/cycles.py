"""Leaks (issue 6, item 6): N connect / hello / close cycles against one hello_server, with flat
memory and no descriptor leak. Every cycle checks its reply; /proc/PID/fd is counted before and
after, and the server's RSS is sampled every tenth of the run (it must stay flat: the last sample
may exceed the first by at most --rss-slack-kib).

CI:   python3 cycles.py --server build/bin/hello_server --mode reactor --cycles 5000
Soak: python3 cycles.py --server ... --cycles 100000 --workers 4
(Loopback TIME_WAIT ports are reused: net.ipv4.tcp_tw_reuse defaults to 2 = loopback.)
"""

from __future__ import annotations

import threading
import time

import harness
from harness import log


def main() -> int:
    p = harness.common_args(__doc__.splitlines()[0])
    p.add_argument("--cycles", type=int, default=1000 if harness.sanitized() else 5000)
    p.add_argument("--workers", type=int, default=2, help="client threads, each cycling in turn")
    p.add_argument("--rss-slack-kib", type=int, default=2048)
    args = p.parse_args()
    harness.raise_nofile()
    chk = harness.Checker(f"cycles ({args.mode} {args.dispatch or ''}) x {args.cycles}")
    with harness.Server(args) as srv:
        time.sleep(0.3)
        fds0 = srv.fd_count()
        # Warm-up so the allocator and the server's pools reach their steady state first.
        for i in range(200):
            harness.round_trip(srv.addr(), [("warm", i + 1)])
        rss_samples = [srv.rss_kib()]
        done = [0]
        failures: list[str] = []
        lock = threading.Lock()
        step = max(1, args.cycles // 10)

        def worker(wid: int) -> None:
            while True:
                with lock:
                    if done[0] >= args.cycles or len(failures) > 10:
                        return
                    done[0] += 1
                    n = done[0]
                    if n % step == 0:
                        rss_samples.append(srv.rss_kib())
                ok, why = harness.round_trip(srv.addr(), [(f"cycle-{wid}-{n}-\u00e9", n)])
                if not ok:
                    with lock:
                        failures.append(f"cycle {n}: {why}")

        t0 = time.monotonic()
        threads = [threading.Thread(target=worker, args=(w,)) for w in range(args.workers)]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        elapsed = time.monotonic() - t0
        fds1 = srv.wait_fds_at_most(fds0, 20)
        time.sleep(1.0)
        rss_samples.append(srv.rss_kib())
        log(f"RESULT cycles mode={args.mode} dispatch={args.dispatch or '-'} cycles={done[0]} "
            f"failures={len(failures)} per_s={done[0] / elapsed:.0f} fds_before={fds0} fds_after={fds1} "
            f"rss_kib_samples={','.join(map(str, rss_samples))}")
        chk.check(not failures, f"every cycle answered right ({len(failures)} failures) {failures[:3]}")
        chk.check(fds1 <= fds0, f"no descriptor leak: {fds0} before, {fds1} after")
        growth = rss_samples[-1] - rss_samples[0]
        what = f"flat memory: RSS {rss_samples[0]} -> {rss_samples[-1]} KiB (growth {growth} <= {args.rss_slack_kib})"
        if harness.sanitized():
            # ASan's quarantine holds freed memory, so RSS grows by design; LeakSanitizer checks
            # leaks instead when the server exits (a leak makes the SIGTERM exit code non-zero).
            log(f"  (sanitizer build: reported only) {what}")
        else:
            chk.check(growth <= args.rss_slack_kib, what)
        chk.check(srv.alive(), "server still running")
        if srv.alive():
            rc = srv.terminate()
            chk.check(rc == 0, f"SIGTERM: exit code {rc}")
        return chk.finish(srv)


if __name__ == "__main__":
    harness.main_wrapper(main)
