"""Print time with an acceleration model: every move is a trapezoid (accelerate, cruise, decelerate).

Junction speeds follow Marlin's classic jerk: the speed at which the velocity vector may change
direction so that no component jumps by more than ``jerk``. Moves are treated independently given their
entry and exit speeds (no look-ahead pass over the whole queue); where a short move cannot reach its
exit speed, the speed is assumed to change linearly, which errs slightly on the slow side.
Fully vectorised: ``move_times`` takes arrays of n moves and returns n durations.
"""

from __future__ import annotations

import numpy as np

from slicing.mesh_io import FloatArray


def move_times(
    delta: FloatArray,
    de: FloatArray,
    feed_mm_s: FloatArray,
    accel_mm_s2: float,
    jerk_mm_s: float,
) -> FloatArray:
    """Durations (n,) float64 s of moves ``delta`` (n, 3) mm, extrusion ``de`` (n,) mm, ``feed_mm_s`` (n,).

    Pure extruder moves (retract, prime) take ``|de| / feed`` after accelerating at the same rate.
    """
    n = len(delta)
    if n == 0:
        return np.zeros(0)
    length = np.sqrt((delta * delta).sum(axis=1))
    e_only = length < 1e-9
    length = np.where(e_only, np.abs(de), length)
    v = np.maximum(feed_mm_s, 1e-3)
    unit = np.divide(delta, np.where(e_only, 1.0, length)[:, None])
    unit[e_only] = 0.0
    vel = unit * v[:, None]
    # Junction i sits between move i and move i + 1.
    if n > 1:
        jump = np.abs(vel[1:] - vel[:-1]).max(axis=1)  # largest per-axis jump at full speed
        limit = np.minimum(v[:-1], v[1:])
        scale = np.divide(jerk_mm_s, jump, out=np.ones_like(jump), where=jump > jerk_mm_s)
        junction = np.minimum(limit, limit * np.minimum(scale, 1.0))
        stop = e_only[:-1] | e_only[1:]
        junction = np.where(stop, np.minimum(jerk_mm_s / 2, limit), junction)
    else:
        junction = np.zeros(0)
    v_in = np.r_[0.0, junction]
    v_out = np.r_[junction, 0.0]
    v_in = np.minimum(v_in, v)
    v_out = np.minimum(v_out, v)
    a = accel_mm_s2
    d_acc = (v * v - v_in * v_in) / (2 * a)
    d_dec = (v * v - v_out * v_out) / (2 * a)
    cruise = length - d_acc - d_dec
    t_trap = (v - v_in) / a + (v - v_out) / a + np.maximum(cruise, 0) / v
    peak = np.sqrt(np.maximum((2 * a * length + v_in * v_in + v_out * v_out) / 2, 0))
    t_tri = (peak - v_in) / a + (peak - v_out) / a
    reachable = peak >= np.maximum(v_in, v_out)
    t_lin = 2 * length / np.maximum(v_in + v_out, 1e-9)
    times = np.where(cruise >= 0, t_trap, np.where(reachable, t_tri, t_lin))
    return np.asarray(times, dtype=np.float64)
