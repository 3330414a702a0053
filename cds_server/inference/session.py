"""onnxruntime sessions: the options we tune, the provider chain, and what it actually ran on.

Settings follow shared/reference/ml-serving-and-governance.md §A1.1: one intra-op thread per
session (scale with processes, not threads), no spinning (an idle spinning session burns a core in
every web and Celery worker), sequential execution, all graph optimisations.

``get_available_providers()`` lists what the wheel was *compiled* with, not what works: the -gpu
wheel lists CUDA on a machine with no GPU and then silently runs on CPU. So the chain is only a
request; the provider we report is ``session.get_providers()[0]``.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from typing import Any

import onnxruntime as ort

log = logging.getLogger(__name__)

CPU = "CPUExecutionProvider"
CUDA = "CUDAExecutionProvider"
TENSORRT = "TensorrtExecutionProvider"

#: Providers this server knows how to configure, best first.
SUPPORTED_PROVIDERS: tuple[str, ...] = (TENSORRT, CUDA, CPU)
DEFAULT_PROVIDER_CHAIN: tuple[str, ...] = (CUDA, CPU)

# TF32 matmuls (on by default in the CUDA EP on Ampere and later) keep 10 mantissa bits: about
# 1e-3 relative error, which would break CPU/GPU parity of clinical scores. Full fp32 it is.
_PROVIDER_OPTIONS: dict[str, dict[str, str]] = {CUDA: {"use_tf32": "0"}}

_dlls_preloaded = False


def resolve_providers(requested: Sequence[str], available: Sequence[str] | None = None) -> tuple[str, ...]:
    """The requested chain, filtered to what this onnxruntime build offers, CPU always last.

    :raise ValueError: a provider this server does not support is requested (a configuration
        error worth failing on, rather than silently dropping).
    """
    unsupported = [name for name in requested if name not in SUPPORTED_PROVIDERS]
    if unsupported:
        raise ValueError(
            f"unsupported execution providers {unsupported}; supported: {list(SUPPORTED_PROVIDERS)}"
        )
    offered = set(ort.get_available_providers() if available is None else available)
    chain = [name for name in dict.fromkeys(requested) if name in offered and name != CPU]
    return (*chain, CPU)


def session_options() -> Any:
    options = ort.SessionOptions()
    options.intra_op_num_threads = 1
    options.inter_op_num_threads = 1
    options.execution_mode = ort.ExecutionMode.ORT_SEQUENTIAL
    options.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_ALL
    options.add_session_config_entry("session.intra_op.allow_spinning", "0")
    # Severity 3 hides the CUDA-library load errors of a -gpu wheel on a CPU host; the provider
    # actually used is logged by the registry instead.
    options.log_severity_level = 3
    return options


def create_session(model_bytes: bytes, providers: Sequence[str]) -> Any:
    """An InferenceSession over ``model_bytes`` (the very bytes whose sha256 was checked)."""
    if any(name != CPU for name in providers):
        _preload_gpu_libraries()
    chain: list[str | tuple[str, dict[str, str]]] = [
        (name, _PROVIDER_OPTIONS[name]) if name in _PROVIDER_OPTIONS else name for name in providers
    ]
    return ort.InferenceSession(model_bytes, sess_options=session_options(), providers=chain)


def provider_in_use(session: Any) -> str:
    providers: list[str] = session.get_providers()
    return providers[0]


def _preload_gpu_libraries() -> None:
    # onnxruntime-gpu >= 1.21 can load CUDA/cuDNN from the nvidia-* pip packages, but only when
    # asked; without this a pip-only CUDA install falls back to CPU.
    global _dlls_preloaded  # noqa: PLW0603 - once per process, whichever registry gets there first
    if _dlls_preloaded or not hasattr(ort, "preload_dlls"):
        return
    _dlls_preloaded = True
    try:
        ort.preload_dlls()
    except Exception as error:
        log.warning("onnxruntime could not preload the CUDA libraries: %s", error)
