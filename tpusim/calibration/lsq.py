"""Bounded nonlinear least squares: a projected Levenberg-Marquardt, in numpy alone.

Minimises 1/2 |r(x)|^2 with lower <= x <= upper. Each step solves the damped normal equations
over the parameters not held at a bound (a parameter at a bound whose gradient pushes it
outward is held there), in coordinates where every box is [0, 1], and clips the step into the
box. The uncertainty of each free parameter is the usual one, from the Jacobian at the
solution: the diagonal of s^2 (J^T J)^-1 with s^2 the residual variance.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import numpy as np

Residuals = Callable[[np.ndarray], tuple[np.ndarray, np.ndarray]]  # x -> (r, dr/dx)


@dataclass(frozen=True)
class Solution:
    x: np.ndarray
    sigma: np.ndarray  # one standard deviation per parameter (nan: held at a bound)
    at_bound: np.ndarray  # bool per parameter
    cost: float  # 1/2 |r|^2
    residuals: np.ndarray
    iterations: int


def least_squares(fun: Residuals, x0: np.ndarray, lower: np.ndarray, upper: np.ndarray,
                  max_iterations: int = 200, tolerance: float = 1e-10) -> Solution:
    lower, upper = np.asarray(lower, float), np.asarray(upper, float)
    span = np.where(upper > lower, upper - lower, 1.0)
    u = np.clip((np.asarray(x0, float) - lower) / span, 0.0, 1.0)

    def evaluate(u: np.ndarray) -> tuple[np.ndarray, np.ndarray, float]:
        r, jac = fun(lower + u * span)
        return r, jac * span, 0.5 * float(r @ r)

    r, jac, cost = evaluate(u)
    damping = 1e-3
    iterations = 0
    while iterations < max_iterations:
        iterations += 1
        grad = jac.T @ r
        free = ~(((u <= 0) & (grad > 0)) | ((u >= 1) & (grad < 0))) & (upper > lower)
        if not free.any():
            break
        a = jac[:, free].T @ jac[:, free]
        improved = False
        while damping < 1e12:
            step = np.zeros_like(u)
            scale = np.diag(a) + 1e-12
            try:
                step[free] = np.linalg.solve(a + damping * np.diag(scale), -grad[free])
            except np.linalg.LinAlgError:
                damping *= 10
                continue
            trial = np.clip(u + step, 0.0, 1.0)
            r_new, jac_new, cost_new = evaluate(trial)
            if cost_new < cost:
                gain = cost - cost_new
                u, r, jac, cost = trial, r_new, jac_new, cost_new
                damping = max(damping / 3, 1e-9)
                improved = True
                break
            damping *= 4
        if not improved or gain <= tolerance * cost:
            break
    x = lower + u * span
    at_bound = ((u <= 0) | (u >= 1)) & (upper > lower)
    return Solution(x, _sigma(jac / span, r, ~at_bound & (upper > lower)), at_bound, cost, r,
                    iterations)


def _sigma(jac: np.ndarray, r: np.ndarray, free: np.ndarray) -> np.ndarray:
    sigma = np.full(len(free), np.nan)
    n, p = len(r), int(free.sum())
    if p == 0 or n <= p:
        return sigma
    j = jac[:, free]
    variance = float(r @ r) / (n - p)
    try:
        cov = np.linalg.pinv(j.T @ j) * variance
    except np.linalg.LinAlgError:
        return sigma
    sigma[free] = np.sqrt(np.maximum(np.diag(cov), 0.0))
    return sigma


__all__ = ["Solution", "least_squares"]
