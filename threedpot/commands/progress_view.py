"""A progress bar for a stream: file name, percent by bytes acknowledged, layer, time left."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager

from rich.console import Console
from rich.progress import BarColumn, Progress, TextColumn, TimeRemainingColumn

from firmware_bridge.streamer import Progress as StreamProgress


@contextmanager
def progress_bar(title: str, *, enabled: bool) -> Iterator[Callable[[StreamProgress], None]]:
    """Yields the `on_progress` callback for `Streamer.stream`; the bar goes to stderr."""
    with Progress(
        TextColumn("[bold]{task.description}"),
        BarColumn(),
        TextColumn("{task.percentage:>5.1f}%"),
        TextColumn("layer {task.fields[layer]}"),
        TextColumn("{task.fields[rate]}"),
        TimeRemainingColumn(),
        console=Console(stderr=True),
        disable=not enabled,
    ) as bar:
        task = bar.add_task(title, total=1.0, layer="-", rate="")

        def update(p: StreamProgress) -> None:
            layer = f"{p.layer + 1}/{p.layers_total}" if p.layers_total else "-"
            rate = f"{p.lines_acked / p.elapsed_s:,.0f} lines/s" if p.elapsed_s > 0 else ""
            bar.update(task, completed=p.fraction, layer=layer, rate=rate)

        yield update
