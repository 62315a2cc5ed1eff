"""Reading and writing images for dataset scoring.

NIfTI (.nii, .nii.gz) is read with nibabel's header classes, but the gzip
stream is decoded in one call by the fastest decompressor available
(python-isal, then zlib-ng, then the standard library's zlib; all release
the GIL, so loader threads decode in parallel) and the voxel array is a view
into the decoded buffer: no float conversion, no second copy.  Label maps
come back as stored integers; a label map stored as float is accepted only
when every value is an integer.  NRRD and MHA/MHD are read with SimpleITK
when it is installed, transposed to NIfTI's (x, y, z) axis order and with
an affine in the same RAS world frame, so that files of different formats
compare.

Everything here imports nibabel / SimpleITK lazily: ``import segscore``
never needs them.
"""

from __future__ import annotations

import io as _io
import math
import os
import re
import time
from dataclasses import dataclass, field

import numpy as np

NIFTI_SUFFIXES = (".nii.gz", ".nii")
ITK_SUFFIXES = (".nrrd", ".nhdr", ".mha", ".mhd")
SUFFIXES = NIFTI_SUFFIXES + ITK_SUFFIXES
_CHANNEL = re.compile(r"_0000$")


class CaseError(Exception):
    """A case that cannot be scored: `stage` says where, `reason` says why."""

    def __init__(self, stage: str, reason: str, file: str | None = None):
        super().__init__(reason)
        self.stage = stage
        self.reason = reason
        self.file = file


@dataclass
class Image:
    """A voxel array in (x, y, z) order with its spacing (mm, same order) and RAS affine."""

    array: np.ndarray
    spacing: tuple
    affine: np.ndarray
    path: str
    read_s: float = 0.0
    decode_s: float = 0.0
    info: dict = field(default_factory=dict)


# ---------------------------------------------------------------- case ids
def case_id(name: str) -> str | None:
    """Case id of a file name: the name without its image extension and nnU-Net's ``_0000`` channel
    suffix; None for files that are not images."""
    base = os.path.basename(name)
    low = base.lower()
    for suf in SUFFIXES:
        if low.endswith(suf) and len(base) > len(suf):
            return _CHANNEL.sub("", base[: -len(suf)])
    return None


def scan(directory) -> tuple[dict, list]:
    """{case id: path} of the image files in `directory` (not recursive), and a list of
    (case id, reason) for ids that two files claim."""
    directory = os.fspath(directory)
    if not os.path.isdir(directory):
        raise FileNotFoundError(f"{directory!r} is not a directory")
    found: dict = {}
    clashes: dict = {}
    for entry in sorted(os.scandir(directory), key=lambda e: e.name):
        if entry.name.startswith(".") or entry.is_dir():
            continue
        cid = case_id(entry.name)
        if cid is None:
            continue
        if cid in found:
            clashes.setdefault(cid, [os.path.basename(found[cid])]).append(entry.name)
            continue
        found[cid] = entry.path
    dup = [(cid, f"several files have case id {cid!r}: {', '.join(names)}") for cid, names in clashes.items()]
    for cid, _ in dup:
        found.pop(cid, None)
    return found, dup


# ---------------------------------------------------------------- gzip
_DECOMPRESSOR = None


def decompressor():
    """(name, zlib-compatible module) of the fastest inflate available: zlib-ng, ISA-L, then zlib."""
    global _DECOMPRESSOR
    if _DECOMPRESSOR is None:
        try:
            from zlib_ng import zlib_ng as mod

            _DECOMPRESSOR = ("zlib-ng", mod)
        except ImportError:
            try:
                from isal import isal_zlib as mod

                _DECOMPRESSOR = ("isal", mod)
            except ImportError:
                import zlib as mod

                _DECOMPRESSOR = ("zlib", mod)
    return _DECOMPRESSOR


def gunzip(data, path=None) -> bytes:
    """Decode a whole gzip file in memory (every member, as gzip does; trailing zero padding
    allowed).  One inflate call per member, which is markedly faster than a streaming GzipFile."""
    name, mod = decompressor()
    parts = []
    view = memoryview(data)
    pos = 0
    try:
        while True:
            d = mod.decompressobj(wbits=31)
            parts.append(d.decompress(view[pos:]))
            if not d.eof:
                raise CaseError("read", f"truncated gzip stream (ends after {len(parts[-1])} decoded bytes)", path)
            rest = d.unused_data
            if not rest or not bytes(rest).strip(b"\0"):
                break
            pos = len(data) - len(rest)
    except CaseError:
        raise
    except Exception as exc:  # zlib.error and its equivalents
        raise CaseError("read", f"corrupt gzip stream ({type(exc).__name__}: {exc})", path) from None
    return parts[0] if len(parts) == 1 else b"".join(parts)


def _gunzip(data: bytes, path: str) -> bytes:
    return gunzip(data, path)


# ---------------------------------------------------------------- NIfTI
def _nifti_header(raw, path):
    import nibabel as nib

    if len(raw) < 348:
        raise CaseError("read", f"not a NIfTI file: {len(raw)} bytes, shorter than a NIfTI-1 header", path)
    size_le = int.from_bytes(raw[:4], "little")
    size_be = int.from_bytes(raw[:4], "big")
    if 348 in (size_le, size_be):
        klass = nib.Nifti1Header
    elif 540 in (size_le, size_be):
        klass = nib.Nifti2Header
    else:
        raise CaseError("read", f"not a NIfTI file (sizeof_hdr is {size_le}, expected 348 or 540)", path)
    try:
        hdr = klass.from_fileobj(_io.BytesIO(raw), check=True)
    except Exception as exc:
        raise CaseError("read", f"invalid NIfTI header ({exc})", path) from None
    magic = bytes(hdr["magic"]).rstrip(b"\0")
    if magic not in (b"n+1", b"n+2"):
        raise CaseError("read", f"NIfTI magic {magic!r}: only single-file NIfTI (.nii/.nii.gz) is supported", path)
    return hdr


_UNIT_TO_MM = {"mm": 1.0, "unknown": 1.0, "meter": 1000.0, "micron": 1e-3}


def _read_nifti(path: str, kind: str) -> Image:
    t0 = time.perf_counter()
    with open(path, "rb") as f:
        data = f.read()
    t1 = time.perf_counter()
    raw = _gunzip(data, path) if path.lower().endswith(".gz") else data
    del data
    hdr = _nifti_header(raw, path)
    shape = tuple(int(s) for s in hdr.get_data_shape())
    dtype = hdr.get_data_dtype()
    offset = int(hdr.get_data_offset())
    nbytes = int(np.prod(shape, dtype=np.int64)) * dtype.itemsize
    if offset + nbytes > len(raw):
        raise CaseError(
            "read", f"truncated image data: the header promises {nbytes} bytes at offset {offset}, "
            f"the file holds {len(raw) - offset}", path)
    arr = np.ndarray(shape, dtype=dtype, buffer=raw, offset=offset, order="F")
    zooms = [float(z) for z in hdr.get_zooms()]
    unit = hdr.get_xyzt_units()[0]
    scale = _UNIT_TO_MM.get(unit, 1.0)
    slope, inter = hdr.get_slope_inter()
    affine = np.asarray(hdr.get_best_affine(), dtype=float)
    if scale != 1.0:
        affine = affine.copy()
        affine[:3, :] *= scale
    img = Image(arr, tuple(z * scale for z in zooms[: min(3, len(shape))]), affine, path, t1 - t0)
    img.info = {"format": "nifti", "stored_dtype": str(dtype), "slope": slope, "inter": inter}
    _finish(img, kind, slope, inter)
    img.decode_s = time.perf_counter() - t1
    return img


# ---------------------------------------------------------------- ITK formats
def _read_itk(path: str, kind: str) -> Image:
    try:
        import SimpleITK as sitk
    except ImportError:
        raise CaseError("read", "NRRD/MHA files need SimpleITK (pip install SimpleITK)", path) from None
    t0 = time.perf_counter()
    try:
        reader = sitk.ImageFileReader()
        reader.SetFileName(path)
        im = reader.Execute()
    except Exception as exc:
        raise CaseError("read", f"unreadable image ({str(exc).strip().splitlines()[-1] if str(exc).strip() else exc})",
                        path) from None
    t1 = time.perf_counter()
    arr = sitk.GetArrayFromImage(im)  # (z, y, x[, components])
    nd = im.GetDimension()
    if im.GetNumberOfComponentsPerPixel() > 1:
        arr = np.moveaxis(arr, -1, 0)  # components first, then reverse -> (x, y, z, c)
    arr = arr.T
    spacing = tuple(float(s) for s in im.GetSpacing())
    d = np.asarray(im.GetDirection(), dtype=float).reshape(nd, nd)
    o = np.asarray(im.GetOrigin(), dtype=float)
    m = np.eye(4)
    m3 = d @ np.diag(spacing)
    k = min(nd, 3)
    m[:k, :k] = m3[:k, :k]
    m[:k, 3] = o[:k]
    lps_to_ras = np.diag([-1.0, -1.0, 1.0, 1.0])
    affine = lps_to_ras @ m
    img = Image(arr, spacing[:3], affine, path, t1 - t0)
    img.info = {"format": "itk", "stored_dtype": str(arr.dtype)}
    _finish(img, kind, None, None)
    img.decode_s = time.perf_counter() - t1
    return img


# ---------------------------------------------------------------- values
def _trivial(slope, inter):
    return (slope is None or (isinstance(slope, float) and math.isnan(slope)) or slope == 1.0) and (
        inter is None or (isinstance(inter, float) and math.isnan(inter)) or inter == 0.0)


def _finish(img: Image, kind: str, slope, inter) -> None:
    arr = img.array
    if arr.dtype.byteorder not in ("=", "|") and arr.dtype.byteorder != np.dtype(arr.dtype.type).byteorder:
        arr = arr.astype(arr.dtype.newbyteorder("="))
    if kind == "label":
        # a 3-D label map written with trailing singleton axes (x, y, z, 1)
        while arr.ndim > 3 and arr.shape[-1] == 1:
            arr = arr[..., 0]
        if not _trivial(slope, inter):
            arr = arr * np.float64(slope if slope is not None else 1.0) + np.float64(inter or 0.0)
        if arr.dtype.kind == "f":
            arr = _float_labels(arr, img.path)
        elif arr.dtype.kind not in "biu":
            raise CaseError("values", f"label map has unsupported voxel type {arr.dtype}", img.path)
    elif kind == "prob":
        if arr.dtype.kind not in "biuf":
            raise CaseError("values", f"probability map has unsupported voxel type {arr.dtype}", img.path)
        if not _trivial(slope, inter):
            arr = arr.astype(np.float32) * np.float32(slope if slope is not None else 1.0) + np.float32(inter or 0.0)
        elif arr.dtype.kind != "f":
            arr = arr.astype(np.float32)
    else:  # pragma: no cover - internal
        raise ValueError(kind)
    img.array = arr


def _float_labels(arr: np.ndarray, path: str) -> np.ndarray:
    """A label map stored as float: accepted when every value is a (non-negative) integer."""
    if not np.isfinite(arr).all():
        raise CaseError("values", "label map holds NaN or infinite values", path)
    rounded = np.rint(arr)
    bad = rounded != arr
    if bad.any():
        v = arr[bad].flat[0]
        raise CaseError("values", f"label map is stored as {arr.dtype} and holds non-integer values (e.g. {v:g}); "
                        "is it a probability map? Pass probabilities with --probs", path)
    lo, hi = (float(rounded.min()), float(rounded.max())) if rounded.size else (0.0, 0.0)
    if lo < 0 or hi >= 2**31:
        raise CaseError("values", f"label values must lie in [0, 2**31), found {lo:g}..{hi:g}", path)
    out = np.uint8 if hi < 256 else np.uint16 if hi < 65536 else np.int32
    return rounded.astype(out)


def read_image(path, kind: str = "label") -> Image:
    """Read one image. ``kind="label"``: integer label map (as stored); ``kind="prob"``:
    float probabilities (scaled by the header's slope/intercept when set).

    Raises `CaseError` with a one-line reason for a missing, truncated or corrupt file.
    """
    path = os.fspath(path)
    if not os.path.exists(path):
        raise CaseError("missing", "file does not exist", path)
    low = path.lower()
    try:
        if low.endswith(NIFTI_SUFFIXES):
            return _read_nifti(path, kind)
        if low.endswith(ITK_SUFFIXES):
            return _read_itk(path, kind)
    except CaseError:
        raise
    except MemoryError:
        raise
    except Exception as exc:
        raise CaseError("read", f"unreadable ({type(exc).__name__}: {exc})", path) from None
    raise CaseError("read", f"unsupported file type (supported: {', '.join(SUFFIXES)})", path)


# ---------------------------------------------------------------- geometry
def check_geometry(a: Image, b: Image, what: str, tolerance: float = 1e-3, check_affine: bool = True,
                   spatial_only: bool = False) -> None:
    """Raise CaseError("mismatch") unless `b` lies on `a`'s grid: same shape, spacing within
    `tolerance` (relative) and affine within `tolerance` (mm / direction cosines)."""
    sa = a.array.shape[:3] if spatial_only else a.array.shape
    sb = b.array.shape[:3] if spatial_only else b.array.shape
    if sa != sb:
        raise CaseError("mismatch", f"{what}: shape {sb} differs from {sa}", b.path)
    if len(a.spacing) != len(b.spacing) or not np.allclose(a.spacing, b.spacing, rtol=tolerance, atol=0):
        raise CaseError("mismatch", f"{what}: spacing {_fmt(b.spacing)} differs from {_fmt(a.spacing)} "
                        f"(relative tolerance {tolerance:g})", b.path)
    if check_affine and not np.allclose(a.affine, b.affine, rtol=0, atol=tolerance * max(1.0, max(a.spacing))):
        da = np.abs(a.affine - b.affine).max()
        raise CaseError("mismatch", f"{what}: orientation/origin (affine) differs by up to {da:.4g} "
                        f"(tolerance {tolerance * max(1.0, max(a.spacing)):.3g}); use --ignore-affine to compare "
                        "shape and spacing only", b.path)


def _fmt(sp):
    return "(" + ", ".join(f"{s:.6g}" for s in sp) + ")"


# ---------------------------------------------------------------- writing
def write_nifti(path, array, spacing=(1.0, 1.0, 1.0), affine=None, compresslevel: int = 1, slope=None) -> None:
    """Write `array` ((x, y, z[, c])) as NIfTI-1 (.nii or .nii.gz), fast gzip, atomically."""
    import nibabel as nib

    path = os.fspath(path)
    if affine is None:
        affine = np.diag([*[float(s) for s in spacing[:3]], 1.0])
    img = nib.Nifti1Image(np.asarray(array), np.asarray(affine, dtype=float))
    img.header.set_zooms(tuple(float(s) for s in spacing[:3]) + tuple(1.0 for _ in range(np.ndim(array) - 3)))
    img.header.set_xyzt_units("mm")
    if slope is not None:
        img.header.set_slope_inter(slope, 0.0)
    img.set_qform(img.affine, code=1)
    img.set_sform(img.affine, code=1)
    raw = img.header.binaryblock + b"\0\0\0\0"
    hdr_len = len(raw)
    img.header.set_data_offset(hdr_len)
    raw = img.header.binaryblock + b"\0\0\0\0"
    body = np.asarray(array).astype(img.header.get_data_dtype(), copy=False).tobytes(order="F")
    blob = raw + body
    if path.lower().endswith(".gz"):
        blob = _gzip(blob, compresslevel)
    tmp = f"{path}.tmp{os.getpid()}"
    with open(tmp, "wb") as f:
        f.write(blob)
    os.replace(tmp, path)


def _gzip(data: bytes, level: int) -> bytes:
    try:
        from isal import igzip

        return igzip.compress(data, compresslevel=min(max(level, 0), 3), mtime=0)
    except ImportError:
        import gzip

        return gzip.compress(data, compresslevel=level, mtime=0)
