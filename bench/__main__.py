"""``python -m bench seed`` fills a database; ``python -m bench run`` measures the hub on it."""

from __future__ import annotations

import argparse
import sys

DEFAULT_SERVER = "postgresql://postgres@127.0.0.1:5432"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench")
    commands = parser.add_subparsers(dest="command", required=True)

    seed = commands.add_parser("seed", help="fill a database with N children (COPY)")
    seed.add_argument("--children", type=int, required=True)
    seed.add_argument(
        "--database-url", help=f"default: {DEFAULT_SERVER}/bench_<children>", default=None
    )
    seed.add_argument("--seed", type=int, default=2020, help="random seed (deterministic data)")
    seed.add_argument("--keep", action="store_true", help="add to an existing database")

    run = commands.add_parser("run", help="drive HTTP load against hub processes")
    run.add_argument("--database-url", required=True)
    run.add_argument("--duration", type=float, default=20.0, help="seconds per scenario")
    run.add_argument("--concurrency", type=int, default=16)
    run.add_argument("--json", dest="json_path", required=True, help="where to write the report")
    run.add_argument("--processes", type=int, default=1, help="hub processes to start")
    run.add_argument(
        "--workers", type=int, default=2, help="workers of each hub process (hub serve --workers)"
    )
    run.add_argument(
        "--hub-url",
        action="append",
        default=None,
        help="use running hub processes instead of starting them (repeatable)",
    )
    run.add_argument(
        "--scenarios",
        default="needs_page,changes_feed,claim_storm,child_detail",
        help="comma-separated subset",
    )
    run.add_argument("--label", default="", help="a note kept in the report")

    profile = commands.add_parser("profile", help="cProfile a page or a claim in-process")
    profile.add_argument("--database-url", required=True)
    profile.add_argument(
        "--scenario", choices=("page", "claim"), default="page", help="what to profile"
    )
    profile.add_argument("--requests", type=int, default=200)
    profile.add_argument("--top", type=int, default=40)

    table = commands.add_parser("table", help="markdown rows from run reports")
    table.add_argument("reports", nargs="+")

    args = parser.parse_args(argv)
    if args.command == "table":
        from bench.table import render

        print(render(args.reports))
        return 0
    if args.command == "profile":
        from bench.profile import run as run_profile

        run_profile(args.database_url, args.requests, args.top, args.scenario)
        return 0
    if args.command == "seed":
        from bench.seed import run as run_seed

        url = args.database_url or f"{DEFAULT_SERVER}/bench_{args.children}"
        run_seed(url, children=args.children, seed_value=args.seed, recreate=not args.keep)
        return 0
    from bench.run import main as run_main

    return run_main(args)


if __name__ == "__main__":
    sys.exit(main())
