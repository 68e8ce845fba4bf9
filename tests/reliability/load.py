"""Load held (issue 6, item 1): C concurrent connections against one hello_server, every
connection doing pipelined round trips for S seconds, every reply checked.

Passes when: all C connections were established and held, zero wrong replies, zero lost replies,
zero connection errors; the server's RSS after the clients leave came back down (at most
`--rss-after-factor` of the growth remains; skipped under sanitizers, whose allocators keep freed
memory in quarantine); its descriptor count returns to the baseline; SIGTERM exits 0.
Prints one `RESULT ...` line with the figures (docs/RELIABILITY.md quotes them).

CI:   python3 load.py --server build/bin/hello_server --mode reactor              (2,000 x 5 s)
Soak: python3 load.py --server ... --connections 10000 --duration 60 --procs 2
"""

from __future__ import annotations

import time

import harness
import loadgen
from harness import log


def main() -> int:
    p = harness.common_args(__doc__.splitlines()[0])
    small = harness.sanitized()
    p.add_argument("--connections", type=int, default=300 if small else 2000)
    p.add_argument("--duration", type=float, default=3.0 if small else 5.0)
    p.add_argument("--pipeline", type=int, default=2)
    p.add_argument("--procs", type=int, default=1, help="client worker processes")
    p.add_argument("--rss-after-factor", type=float, default=0.5,
                   help="max share of the RSS growth still held once the clients are gone")
    args = p.parse_args()
    nofile = harness.raise_nofile()
    if args.connections + 64 > nofile:
        log(f"RLIMIT_NOFILE is {nofile}: too low for {args.connections} connections")
        return 2
    chk = harness.Checker(f"load ({args.mode} {args.dispatch or ''}) {args.connections} x {args.duration} s")
    extra = ["--max-connections", str(args.connections + 100)]
    with harness.Server(args, extra) as srv:
        time.sleep(0.3)
        rss_before, fds_before = srv.rss_kib(), srv.fd_count()
        sampler = harness.RssSampler(srv)
        sampler.start()
        held_rss = {}

        def on_connected(n):
            held_rss["kib"] = srv.rss_kib()
            log(f"{n} connections open, server RSS {held_rss['kib']} KiB, fds {srv.fd_count()}")

        def tick(st):
            log(f"  ok={st.ok} wrong={st.wrong} lost={st.lost} conn_errors={st.conn_errors}")

        t0 = time.monotonic()
        if args.procs > 1:
            st = loadgen.run_procs(srv.addr(), args.connections, args.pipeline, args.duration, args.procs,
                                   on_connected)
        else:
            g = loadgen.LoadGen(srv.addr(), args.connections, args.pipeline)
            g.connect_all()
            on_connected(g.stats.connections)
            st = g.run(args.duration, on_tick=tick)
            g.close_all()
        elapsed = time.monotonic() - t0
        rss_peak = sampler.stop()
        fds_after = srv.wait_fds_at_most(fds_before, 20)
        time.sleep(2.0)  # let the server finish closing and free the connections
        rss_after = srv.rss_kib()
        rate = st.ok / args.duration if args.duration else 0
        log(f"RESULT load mode={args.mode} dispatch={args.dispatch or '-'} connections={st.held} "
            f"duration_s={args.duration} requests={st.ok} req_per_s={rate:.0f} wrong={st.wrong} "
            f"lost={st.lost} conn_errors={st.conn_errors} rss_before_kib={rss_before} "
            f"rss_held_kib={held_rss.get('kib', 0)} rss_peak_kib={rss_peak} rss_after_kib={rss_after} "
            f"elapsed_s={elapsed:.1f}")
        chk.check(st.held == args.connections, f"{st.held}/{args.connections} connections held")
        chk.check(st.ok > 0, f"{st.ok} replies checked")
        chk.check(st.wrong == 0, f"wrong replies: {st.wrong} {st.first_problem}")
        chk.check(st.lost == 0, f"lost replies: {st.lost} {st.first_problem}")
        chk.check(st.conn_errors == 0, f"connection errors: {st.conn_errors} {st.first_problem}")
        chk.check(fds_after <= fds_before, f"server descriptors back to baseline ({fds_after} <= {fds_before})")
        # Known server issue (reported 2026-11-22, issue 6): both modes keep the peak RSS after
        # the clients leave (glibc keeps the freed per-connection memory in its arenas; calling
        # malloc_trim(0) in the server, e.g. via gdb, brings 16.4 MiB back to 7.4 MiB). Not a leak:
        # repeated load cycles stay flat (cycles.py). This check fails until the server returns it.
        growth = max(0, rss_peak - rss_before)
        limit = rss_before + args.rss_after_factor * growth + 4096
        if small:
            log(f"  (sanitizer build: RSS-after check reported only: {rss_after} KiB, limit {limit:.0f})")
        else:
            chk.check(rss_after <= limit, f"RSS came back down: before {rss_before} peak {rss_peak} "
                      f"after {rss_after} KiB (limit {limit:.0f})")
        chk.check(srv.alive(), "server still running")
        if srv.alive():
            rc = srv.terminate()
            chk.check(rc == 0, f"SIGTERM: exit code {rc}")
        return chk.finish(srv)


if __name__ == "__main__":
    harness.main_wrapper(main)
