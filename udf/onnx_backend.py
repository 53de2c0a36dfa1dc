"""The encoder on ONNX Runtime (CPU): exported once per artifact, fp32 and dynamic int8.

The graph is the encoder plus mean pooling and L2 normalization, so it returns exactly what
`AnomalyModel.embed` returns; the head stays in torch. Files live in `<artifact>/runtime/`:

    encoder-fp32.onnx   torch.onnx export, dynamic batch and sequence axes
    encoder-int8.onnx   onnxruntime dynamic quantization of it: weights int8 per output
                        channel, activations quantized per call
    onnx.json           the manifest: sha256 of each file and of the weights they came from,
                        the library versions, the CPU's int8 instruction set

They are written by training (inside the artifact before it is renamed into place) or on
first use. An export goes to a temporary folder and each file is renamed into place, the
manifest last: a reader sees either no manifest or a complete, verified set. Loading checks
every file's sha256 against the manifest and the manifest's weights digest against
duckbert.json; a mismatch means a re-export, never a silently different encoder.

Batch invariance: dynamic int8 takes one activation scale per call from the whole input, so a
text would score differently beside other texts. Each text therefore runs alone, at its own
length (no padding at all): its score is a function of the text, never of its neighbours.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import os
import shutil
import threading
import uuid
from functools import lru_cache
from pathlib import Path

RUNTIME_DIR = "runtime"
MANIFEST = "onnx.json"
FILES = {"fp32": "encoder-fp32.onnx", "int8": "encoder-int8.onnx"}
OPSET = 17
MANIFEST_VERSION = 1

_EXPORT_LOCK = threading.Lock()


class OnnxUnavailable(RuntimeError):
    """ONNX Runtime cannot serve this artifact here; the message says why."""


@lru_cache(maxsize=1)
def cpu_isa() -> str:
    """The int8 dot-product instructions this CPU has: avx512_vnni, avx_vnni, avx2 or none."""
    try:
        with open("/proc/cpuinfo") as fh:
            flags = set()
            for line in fh:
                if line.startswith("flags"):
                    flags.update(line.split(":", 1)[1].split())
                    break
    except OSError:
        return "unknown"
    for isa in ("avx512_vnni", "avx_vnni", "avx2"):
        if isa in flags:
            return isa
    return "none"


def versions() -> dict:
    """onnx and onnxruntime versions, or raise OnnxUnavailable naming what is missing."""
    try:
        import onnx
        import onnxruntime
    except ImportError as exc:
        raise OnnxUnavailable(f"onnxruntime/onnx not installed ({exc.name})") from exc
    return {"onnx": onnx.__version__, "onnxruntime": onnxruntime.__version__}


def _sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as fh:
        while block := fh.read(1 << 20):
            digest.update(block)
    return digest.hexdigest()


class _Pooled:
    """encoder -> mean pooling -> L2 normalization, as one torch module to export."""

    @staticmethod
    def build(encoder):
        import torch

        from udf.model import mean_pool

        class Pooled(torch.nn.Module):
            def __init__(self):
                super().__init__()
                self.encoder = encoder

            def forward(self, input_ids, attention_mask):
                out = self.encoder(input_ids=input_ids, attention_mask=attention_mask)
                return mean_pool(out.last_hidden_state, attention_mask)

        return Pooled().eval()


def _export_fp32(model, path: Path) -> None:
    import copy
    import warnings

    import torch

    encoder = copy.deepcopy(model.encoder).float().cpu().eval()
    # The plain attention graph exports everywhere; the fused kernel is ORT's to choose.
    with contextlib.suppress(Exception):
        encoder.set_attn_implementation("eager")
    module = _Pooled.build(encoder)
    ids = torch.tensor([[model.tokenizer.cls_id, 1000, 1001, model.tokenizer.sep_id]] * 2)
    mask = torch.ones_like(ids)
    with warnings.catch_warnings(), torch.inference_mode(False), torch.no_grad():
        warnings.simplefilter("ignore")
        torch.onnx.export(
            module, (ids, mask), str(path), input_names=["input_ids", "attention_mask"],
            output_names=["pooled"], opset_version=OPSET, dynamo=False,
            dynamic_axes={"input_ids": {0: "batch", 1: "sequence"},
                          "attention_mask": {0: "batch", 1: "sequence"},
                          "pooled": {0: "batch"}},
        )


def _quantize_int8(fp32: Path, int8: Path) -> None:
    import logging

    from onnxruntime.quantization import QuantType, quantize_dynamic

    root = logging.getLogger()
    level = root.level
    root.setLevel(logging.ERROR)  # the quantizer's advice to pre-process goes to root
    try:
        # Per output channel, signed weights: VNNI (and AVX2 u8s8) kernels take them.
        quantize_dynamic(str(fp32), str(int8), per_channel=True,
                         weight_type=QuantType.QInt8, op_types_to_quantize=["MatMul", "Gemm"])
    finally:
        root.setLevel(level)


def export(model, model_dir: str | Path, weights_sha256: str) -> dict:
    """Export fp32 and int8 encoders into `<model_dir>/runtime/`; returns the manifest."""
    import time

    lib = versions()
    runtime = Path(model_dir) / RUNTIME_DIR
    runtime.mkdir(exist_ok=True)
    tmp = runtime / f".export-{uuid.uuid4().hex[:8]}"
    tmp.mkdir()
    started = time.perf_counter()
    try:
        _export_fp32(model, tmp / FILES["fp32"])
        _quantize_int8(tmp / FILES["fp32"], tmp / FILES["int8"])
        manifest = {
            "manifest_version": MANIFEST_VERSION, "weights_sha256": weights_sha256,
            "opset": OPSET, "cpu_isa": cpu_isa(), **lib,
            "files": {p: {"name": name, "sha256": _sha256(tmp / name)}
                      for p, name in FILES.items()},
            "export_seconds": round(time.perf_counter() - started, 2),
        }
        for name in FILES.values():
            with open(tmp / name, "rb") as fh:
                os.fsync(fh.fileno())
            os.replace(tmp / name, runtime / name)
        manifest_tmp = tmp / MANIFEST
        manifest_tmp.write_text(json.dumps(manifest, indent=2, sort_keys=True))
        with open(manifest_tmp, "rb") as fh:
            os.fsync(fh.fileno())
        os.replace(manifest_tmp, runtime / MANIFEST)  # the commit point
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    return manifest


def verified_file(model_dir: str | Path, weights_sha256: str, precision: str) -> Path | None:
    """The exported file for `precision` when the manifest vouches for it, else None."""
    runtime = Path(model_dir) / RUNTIME_DIR
    try:
        manifest = json.loads((runtime / MANIFEST).read_text())
        entry = manifest["files"][precision]
        path = runtime / entry["name"]
        if (manifest.get("weights_sha256") != weights_sha256 or path.parent != runtime
                or "/" in entry["name"] or _sha256(path) != entry["sha256"]):
            return None
    except (OSError, ValueError, KeyError, TypeError):
        return None
    return path


def ensure_exported(model, model_dir: str | Path, weights_sha256: str, precision: str) -> Path:
    """The verified file for `precision`, exporting first when it is missing or stale."""
    if precision not in FILES:
        raise OnnxUnavailable(f"no ONNX export for precision {precision!r}")
    path = verified_file(model_dir, weights_sha256, precision)
    if path is not None:
        return path
    with _EXPORT_LOCK:
        path = verified_file(model_dir, weights_sha256, precision)
        if path is not None:
            return path
        try:
            export(model, model_dir, weights_sha256)
        except OnnxUnavailable:
            raise
        except Exception as exc:  # read-only folder, exporter gap, quantizer failure
            raise OnnxUnavailable(f"ONNX export failed: {type(exc).__name__}: {exc}") from exc
    path = verified_file(model_dir, weights_sha256, precision)
    if path is None:
        raise OnnxUnavailable("the exported ONNX files do not match their manifest")
    return path


def manifest(model_dir: str | Path) -> dict | None:
    with contextlib.suppress(OSError, ValueError):
        return json.loads((Path(model_dir) / RUNTIME_DIR / MANIFEST).read_text())
    return None


class OnnxEncoder:
    """An ONNX Runtime session over one exported encoder; `pooled` runs one text at a time."""

    def __init__(self, path: str | Path, threads: int | None = None):
        versions()
        import onnxruntime as ort

        options = ort.SessionOptions()
        options.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_ALL
        options.intra_op_num_threads = int(threads or _threads())
        options.inter_op_num_threads = 1
        options.execution_mode = ort.ExecutionMode.ORT_SEQUENTIAL
        # Spinning threads would take the cores from DuckDB and the other workers.
        options.add_session_config_entry("session.intra_op.allow_spinning", "0")
        try:
            self.session = ort.InferenceSession(str(path), sess_options=options,
                                                providers=["CPUExecutionProvider"])
        except Exception as exc:
            raise OnnxUnavailable(f"onnxruntime cannot load {path}: {exc}") from exc
        self.path = Path(path)

    def pooled(self, fitted_ids: list[int]):
        """Pooled, normalized embedding (float32 numpy [1, hidden]) of one fitted id list."""
        import numpy as np

        ids = np.asarray([fitted_ids], dtype=np.int64)
        mask = np.ones_like(ids)
        return self.session.run(["pooled"], {"input_ids": ids, "attention_mask": mask})[0]


def _threads() -> int:
    import torch

    return max(1, torch.get_num_threads())
