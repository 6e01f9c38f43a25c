"""Progress bars for long transfers: shown on a terminal only, never with --quiet or --json."""
import sys


def bar(desc: str, total: int, quiet: bool):
    """A byte-counting tqdm bar on stderr, disabled unless stderr is a terminal and not quiet."""
    from tqdm import tqdm

    return tqdm(total=total, unit="B", unit_scale=True, unit_divisor=1024, desc=desc,
                disable=quiet or not sys.stderr.isatty(), leave=False)
