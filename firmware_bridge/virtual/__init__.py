"""A Marlin-like printer on a pty: wire timing, small buffers, resends, heaters, faults on demand.

``VirtualPrinter`` (asyncio shell, owns the pty) wraps ``MarlinCore`` (pure firmware model).
"""

from firmware_bridge.virtual.config import VirtualPrinterConfig
from firmware_bridge.virtual.printer import NotPluggedError, VirtualPrinter

__all__ = ["NotPluggedError", "VirtualPrinter", "VirtualPrinterConfig"]
