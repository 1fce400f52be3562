"""The edge agent's safety rules, as a pure core: samples and commands in, decisions out.

* ``limits`` — heater targets above the printer's limits (``check_target``).
* ``remote_gcode`` — G-code a remote client may not send (``check_remote_gcode``, ``DENIED``).
* ``thermal`` — the host's thermal watchdog (``HeaterMonitor`` → ``Trip``), on top of the firmware's.
* ``idle`` — heaters left on with nothing happening (``IdleHeaters``).

No I/O, no asyncio, no clock: times are seconds passed in. The component that owns the printer link
feeds these and acts on what they say (refuse a command, send M112, switch heaters off).
"""

from edge_agent.safety.idle import IdleHeaters
from edge_agent.safety.limits import check_target
from edge_agent.safety.remote_gcode import DENIED, check_remote_gcode
from edge_agent.safety.thermal import HeaterMonitor, Rule, ThermalRules, Trip

__all__ = [
    "DENIED",
    "HeaterMonitor",
    "IdleHeaters",
    "Rule",
    "ThermalRules",
    "Trip",
    "check_remote_gcode",
    "check_target",
]
