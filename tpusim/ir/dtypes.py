"""Element types, as tpu-mlir stores tensors on the BM1684X."""

from __future__ import annotations

from enum import Enum


class DType(Enum):
    """An element type. The value is its short name; `bytes` its storage size."""

    __hash__ = object.__hash__  # members are singletons: identity hashes, fast

    F32 = "f32"
    F16 = "f16"
    BF16 = "bf16"
    INT8 = "int8"
    UINT8 = "uint8"
    INT16 = "int16"
    INT32 = "int32"

    @property
    def bytes(self) -> int:
        return _BYTES[self]

    @property
    def is_float(self) -> bool:
        return self in (DType.F32, DType.F16, DType.BF16)

    @classmethod
    def parse(cls, name: str) -> DType:
        try:
            return cls(_ALIASES.get(name.lower(), name.lower()))
        except ValueError:
            known = ", ".join(d.value for d in cls)
            raise ValueError(f"unknown dtype {name!r} (expected one of {known})") from None

    def __str__(self) -> str:
        return self.value


_BYTES = {
    DType.F32: 4,
    DType.F16: 2,
    DType.BF16: 2,
    DType.INT8: 1,
    DType.UINT8: 1,
    DType.INT16: 2,
    DType.INT32: 4,
}

_ALIASES = {"fp32": "f32", "fp16": "f16", "float32": "f32", "float16": "f16", "i8": "int8",
            "si8": "int8", "ui8": "uint8", "i16": "int16", "i32": "int32", "si32": "int32"}
