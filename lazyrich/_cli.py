"""The ``lazyrich`` command line: ``figures list``, ``figures make`` (and ``sweep`` where available)."""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence

from lazyrich._errors import UsageError


def _parse_sets(pairs: Sequence[str]) -> dict[str, str]:
    overrides: dict[str, str] = {}
    for pair in pairs:
        for item in pair.split() if " " in pair.strip() else [pair]:
            if "=" not in item:
                raise ValueError(f"`--set` expects key=value, got {item!r}.")
            key, value = item.split("=", 1)
            overrides[key.strip()] = value.strip()
    return overrides


def _figures_list(args) -> int:
    from lazyrich.figures import figure_registry

    registry = figure_registry()
    width = max(len(n) for n in registry) if registry else 0
    for name, module in registry.items():
        print(f"{name:<{width}}  {module.DESCRIPTION}  [{module.PAPER}]")
    return 0


def _figures_make(args) -> int:
    from lazyrich import figures

    try:
        overrides = _parse_sets(args.set or [])
        names = list(figures.figure_registry()) if args.name == "all" else [args.name]
        if args.name == "all" and overrides:
            raise ValueError("`--set` applies to one figure; it cannot be combined with `all`.")
        # Validate every requested figure before running any of them: nothing runs or is written on error.
        plans = [
            figures.prepare(n, quick=args.quick, overrides=overrides, seed=args.seed) for n in names
        ]
    except (ValueError, TypeError) as err:
        raise UsageError(str(err)) from None
    from_result = None
    if args.from_dir is not None:
        from lazyrich.sims import load_figure_result  # provided by the sweep machinery

        try:
            from_result = load_figure_result(args.from_dir, plans[0].figure.EXPERIMENT)
        except (ValueError, TypeError) as err:
            raise UsageError(str(err)) from None
    for plan in plans:
        if not args.quiet:
            print(
                f"making {plan.figure.NAME} ({'quick' if plan.quick else 'full'} setting) ...",
                file=sys.stderr,
            )
        paths = figures.make(plan, args.out, progress=not args.quiet, result=from_result)
        print(f"{plan.figure.NAME}: wrote {paths['png']}, {paths['pdf']}, {paths['json']}")
    return 0


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="lazyrich", description=__doc__)
    sub = parser.add_subparsers(dest="command", required=True)

    fig = sub.add_parser("figures", help="list or make the paper figures")
    fig_sub = fig.add_subparsers(dest="action", required=True)
    lst = fig_sub.add_parser("list", help="every figure with a one-line description and its paper")
    lst.set_defaults(func=_figures_list)
    mk = fig_sub.add_parser(
        "make", help="run the experiment behind a figure and write PNG, PDF and JSON"
    )
    mk.add_argument("name", help="a figure name from `lazyrich figures list`, or 'all'")
    mk.add_argument(
        "--quick", action="store_true", help="a small setting (under two minutes on 2 CPU cores)"
    )
    mk.add_argument("--out", default="figures-out", help="output folder (default: ./figures-out)")
    mk.add_argument(
        "--set", action="append", metavar="KEY=VALUE", help="override a setting (repeatable)"
    )
    mk.add_argument("--seed", type=int, default=0, help="integer seed (default 0)")
    mk.add_argument("--from", dest="from_dir", default=None, help="plot a finished sweep folder")
    mk.add_argument("--quiet", action="store_true", help="no progress bars")
    mk.set_defaults(func=_figures_make)

    try:
        from lazyrich.sims import _sweep_cli  # the sweep subcommands, when present
    except ImportError:
        pass
    else:
        _sweep_cli.add_parser(sub)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    from lazyrich import _xla_flags

    _xla_flags.serial_cpu_scheduler()  # before any JAX computation: see its docstring
    parser = build_parser()
    args = parser.parse_args(argv)
    try:
        return int(args.func(args) or 0)
    except (UsageError, FileNotFoundError) as err:
        print(f"lazyrich: error: {err}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    raise SystemExit(main())
