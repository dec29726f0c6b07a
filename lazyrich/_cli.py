"""The ``lazyrich`` command line: ``figures list``, ``figures make`` (and ``sweep`` where available)."""

from __future__ import annotations

import argparse
import re
import sys
from collections.abc import Sequence

from lazyrich._errors import DataFileError, UsageError


def _split_pairs(token: str) -> list[str]:
    """Split one ``--set`` argument into ``key=value`` pairs.

    Pairs are separated by whitespace that is outside brackets and quotes and followed by ``name=``, so
    ``"data=mnist data_dir=/p"`` gives two pairs while ``"alphas=[0.5, 1.0]"`` and
    ``"data_dir=/my files/mnist"`` stay one.
    """
    pairs, start, depth, quote = [], 0, 0, ""
    for i, char in enumerate(token):
        if quote:
            quote = "" if char == quote else quote
        elif char in "\"'":
            quote = char
        elif char in "([{":
            depth += 1
        elif char in ")]}":
            depth = max(depth - 1, 0)
        elif char.isspace() and depth == 0 and _PAIR_START.match(token, i + 1):
            pairs.append(token[start:i])
            start = i + 1
    pairs.append(token[start:])
    return [p.strip() for p in pairs if p.strip()]


_PAIR_START = re.compile(r"\s*[A-Za-z_][A-Za-z0-9_]*\s*=")


def _parse_sets(tokens: Sequence[str]) -> dict[str, str]:
    """``--set`` arguments (each one or more ``key=value`` pairs) as a dict; a key given twice is an error."""
    overrides: dict[str, str] = {}
    for token in tokens:
        for item in _split_pairs(token):
            key, sep, value = item.partition("=")
            if not sep or not key.strip():
                raise ValueError(f"`--set` expects key=value, got {item!r}.")
            key = key.strip()
            if key in overrides:
                raise ValueError(
                    f"`--set` gives `{key}` twice ({overrides[key]!r} and {value.strip()!r})."
                )
            overrides[key] = value.strip()
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
    from lazyrich.figures._make import check_out_dir

    if args.name is None:  # `make --set a=1 NAME`: the pairs after --set took the name
        if args.set and "=" not in args.set[-1]:
            args.name = args.set.pop()
        else:
            raise UsageError("`figures make` needs a figure name (see `lazyrich figures list`).")
    try:
        overrides = _parse_sets(args.set or [])
        names = list(figures.figure_registry()) if args.name == "all" else [args.name]
        if args.name == "all" and overrides:
            raise ValueError("`--set` applies to one figure; it cannot be combined with `all`.")
        # Validate every requested figure before running any of them: nothing runs or is written on error.
        plans = [
            figures.prepare(n, quick=args.quick, overrides=overrides, seed=args.seed) for n in names
        ]
        out = check_out_dir(args.out)  # before any work: an --out that cannot be written is refused
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
        paths = figures.make(plan, out, progress=not args.quiet, result=from_result)
        print(f"{plan.figure.NAME}: wrote {paths['png']}, {paths['pdf']}, {paths['json']}")
    return 0


def _format_setting(value) -> str:
    """A config value as ``--set`` would take it."""
    if isinstance(value, bool):
        return str(value).lower()
    if value is None:
        return "none"
    if isinstance(value, tuple | list):
        return ",".join(_format_setting(v) for v in value)
    if isinstance(value, str):
        return value if value else "''"
    return repr(value) if isinstance(value, float) else str(value)


def _figures_settings(args) -> int:
    from lazyrich.figures import get_figure
    from lazyrich.figures._make import settings

    try:
        rows = settings(args.name)
    except ValueError as err:
        raise UsageError(str(err)) from None
    figure = get_figure(args.name)
    if args.json:
        import json

        from lazyrich.sims import json_ready

        print(json.dumps(json_ready(rows), indent=2))
        return 0
    table = [
        (r["name"], r["type"], _format_setting(r["default"]), _format_setting(r["quick"]))
        for r in rows
    ]
    short = 24  # longer values go on lines of their own
    widths = [
        max(len(h), *(len(row[i]) for row in table if i < 2 or len(row[i]) <= short))
        for i, h in enumerate(("setting", "type", "default"))
    ]
    print(f"{figure.NAME}: settings of the experiment {figure.EXPERIMENT.NAME} (`--set KEY=VALUE`)")
    print(
        "  "
        + "  ".join(h.ljust(w) for h, w in zip(("setting", "type", "default"), widths))
        + "  quick"
    )
    for name, kind, default, quick in table:
        head = f"  {name.ljust(widths[0])}  {kind.ljust(widths[1])}"
        if len(default) <= short and len(quick) <= short:
            print(f"{head}  {default.ljust(widths[2])}  {quick}")
        else:
            print(head.rstrip())
            print(f"      default: {default}")
            print(f"      quick:   {quick}")
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
    mk.add_argument("name", nargs="?", help="a figure name from `lazyrich figures list`, or 'all'")
    mk.add_argument(
        "--quick", action="store_true", help="a small setting (under two minutes on 2 CPU cores)"
    )
    mk.add_argument("--out", default="figures-out", help="output folder (default: ./figures-out)")
    mk.add_argument(
        "--set",
        action="extend",
        nargs="+",
        metavar="KEY=VALUE",
        help="override settings: `--set a=1 b=2`, or `--set a=1 --set b=2`; list values as "
        '`--set widths=64,128` or `--set "widths=[64, 128]"` (see `lazyrich figures settings NAME`)',
    )
    mk.add_argument("--seed", type=int, default=0, help="integer seed (default 0)")
    mk.add_argument("--from", dest="from_dir", default=None, help="plot a finished sweep folder")
    mk.add_argument("--quiet", action="store_true", help="no progress bars")
    mk.set_defaults(func=_figures_make)
    st = fig_sub.add_parser(
        "settings", help="every setting of a figure with its type, default and quick value"
    )
    st.add_argument("name", help="a figure name from `lazyrich figures list`")
    st.add_argument("--json", action="store_true", help="print the settings as JSON")
    st.set_defaults(func=_figures_settings)

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
    except (UsageError, DataFileError, OSError) as err:
        # User errors (bad request, damaged or missing files, an output that cannot be written): one
        # line, no traceback. Anything else is a bug and keeps its traceback.
        print(f"lazyrich: error: {err}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("lazyrich: interrupted", file=sys.stderr)
        return 130


if __name__ == "__main__":
    raise SystemExit(main())
