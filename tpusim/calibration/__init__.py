"""Calibration against the vendor's per-command model and the chip's measured times."""
