"""What-if studies: sweeps of chip fields and compiler settings, and sensitivity reports.

    from tpusim.sweep import sweep, sensitivity
    result = sweep("swin-t", {"ddr_gbps": [32, 64, 128], "tiu_mhz": [500, 1000, 1500]})
    print(result.table())
    result.save("out/")                     # sweep.csv, sweep.json, sweep.png
    report = sensitivity("swin-t", ["ddr_gbps", "tiu_mhz", "gdma_mhz"], delta=0.2)
    report.save("out/")                     # sensitivity.csv, .json, tornado.png, .svg

Sweeps run on every local core by default, or on a Dask cluster (executor="dask://HOST:PORT").
"""

from tpusim.sweep.execute import Progress, ProgressLine, local_workers
from tpusim.sweep.params import (
    COMPILER_SETTINGS,
    STRUCTURAL_FIELDS,
    SweepError,
    parameter_names,
    parse_set,
)
from tpusim.sweep.result import SweepResult
from tpusim.sweep.run import run_points, sweep
from tpusim.sweep.sensitivity import DEFAULT_PARAMS, Effect, SensitivityResult, sensitivity
from tpusim.sweep.work import METRICS, clear_caches

__all__ = ["COMPILER_SETTINGS", "DEFAULT_PARAMS", "METRICS", "STRUCTURAL_FIELDS", "Effect",
           "Progress", "ProgressLine", "SensitivityResult", "SweepError", "SweepResult",
           "clear_caches", "local_workers", "parameter_names", "parse_set", "run_points",
           "sensitivity", "sweep"]
