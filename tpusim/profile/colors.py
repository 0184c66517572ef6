"""One palette for every view (PNG, SVG, HTML): TIU by instruction class, GDMA by direction."""

from __future__ import annotations

import colorsys
import zlib

COMMAND_COLORS = {
    "CONV": "#2b7a3d", "MM2": "#3f9e4f", "AR": "#d9b13b", "SFU": "#c2503f", "SG": "#9c6b3a",
    "PorD": "#6e8fb3", "TRANS": "#8c8c8c",
    "S2L": "#4c9be8", "L2S": "#e8944c", "S2S": "#b05cc6", "L2L": "#8fbf7f",
}
GLOBAL_LAYER_COLORS = ("#8d99ae", "#b8c1d1")  # alternate so neighbours stay apart
LOCAL_LAYER_COLORS = ("#e07a5f", "#f2a98f")
GROUP_COLOR = "#6a4c93"
DDR_COLOR = "#4c9be8"
LMEM_COLOR = "#6a4c93"


def command_color(key: str) -> str:
    """The colour of a TIU kind or a GDMA direction; unknown keys get a stable colour."""
    if key in COMMAND_COLORS:
        return COMMAND_COLORS[key]
    hue = (zlib.crc32(key.encode()) % 360) / 360
    r, g, b = colorsys.hls_to_rgb(hue, 0.55, 0.45)
    return f"#{round(r * 255):02x}{round(g * 255):02x}{round(b * 255):02x}"
