"""Reading and writing images for dataset scoring.

NIfTI (.nii, .nii.gz) is read with nibabel's header classes, but the gzip
stream is decoded in one call by the fastest decompressor available
(python-isal, then zlib-ng, then the standard library's zlib; all release
the GIL, so loader threads decode in parallel) and the voxel array is a view
into the decoded buffer: no float conversion, no second copy.

Reads are bounded by the header: the first bytes are decoded to read it, then
the stream is decoded with a limit of vox_offset + prod(dim) * itemsize (+1
byte, to tell a stream holding more); a stream holding more or less than the
header declares, a gzip file larger than that data could compress to, or one
smaller than it could come from (deflate's ~1032:1 limit) is refused, as is a
plain .nii whose size is not exactly the declared size.  Only regular files
are opened (a FIFO or device named like an image would block or never end);
gzip is recognised by its magic bytes, whatever the name says.  The header's
raw pixdim is checked (nibabel silently turns a zero into 1), and so are the
affine, the value scaling and the unit code.  Label maps
come back as stored integers; a label map stored as float is accepted only
when every value is an integer.  NRRD and MHA/MHD are read with SimpleITK
when it is installed, transposed to NIfTI's (x, y, z) axis order and with
an affine in the same RAS world frame, so that files of different formats
compare.

Everything here imports nibabel / SimpleITK lazily: ``import segscore``
never needs them.
"""

from __future__ import annotations

import errno
import math
import os
import re
import stat
import time
from dataclasses import dataclass, field

import numpy as np

NIFTI_SUFFIXES = (".nii.gz", ".nii")
ITK_SUFFIXES = (".nrrd", ".nhdr", ".mha", ".mhd")
SUFFIXES = NIFTI_SUFFIXES + ITK_SUFFIXES
NUMPY_SUFFIXES = (".npy", ".npz")  # probability maps only (no geometry: the reference's is used)
PROB_SUFFIXES = SUFFIXES + NUMPY_SUFFIXES
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
def case_id(name: str, suffixes=SUFFIXES) -> str | None:
    """Case id of a file name: the name without its image extension and nnU-Net's ``_0000`` channel
    suffix; None for files that are not images (`suffixes`: the extensions of this folder's files)."""
    base = os.path.basename(name)
    low = base.lower()
    for suf in suffixes:
        if low.endswith(suf) and len(base) > len(suf):
            return _CHANNEL.sub("", base[: -len(suf)])
    return None


def scan(directory, suffixes=SUFFIXES) -> tuple[dict, list]:
    """{case id: path} of the image files in `directory` (not recursive), and a list of
    (case id, reason) for ids that cannot be paired: two files claim the id, or its entry is a
    broken symbolic link or a link loop (never followed further, never fatal)."""
    directory = os.fspath(directory)
    if not os.path.isdir(directory):
        raise FileNotFoundError(f"{directory!r} is not a directory")
    found: dict = {}
    clashes: dict = {}
    broken: dict = {}
    for entry in sorted(os.scandir(directory), key=lambda e: e.name):
        if entry.name.startswith("."):
            continue
        cid = case_id(entry.name, suffixes)
        try:
            if entry.is_dir():
                continue
        except OSError as exc:  # a symbolic link loop (ELOOP), a name too long...
            if cid is not None:
                why = ("is a symbolic link loop" if exc.errno == errno.ELOOP
                       else f"cannot be read ({exc.strerror or exc})")
                broken.setdefault(cid, f"{entry.name} {why}; fix or remove it")
            continue
        if cid is None:
            continue
        if cid in found:
            clashes.setdefault(cid, [os.path.basename(found[cid])]).append(entry.name)
            continue
        found[cid] = entry.path
    dup = [(cid, f"several files have case id {cid!r}: {', '.join(names)}") for cid, names in clashes.items()]
    dup += [(cid, why) for cid, why in broken.items() if cid not in clashes]
    for cid, _ in dup:
        found.pop(cid, None)
    return found, sorted(dup)


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


# ---------------------------------------------------------------- opening files
_KINDS = ((stat.S_ISFIFO, "a named pipe (FIFO)"), (stat.S_ISDIR, "a directory"),
          (stat.S_ISCHR, "a character device"), (stat.S_ISBLK, "a block device"), (stat.S_ISSOCK, "a socket"))


def _file_kind(mode) -> str:
    for test, what in _KINDS:
        if test(mode):
            return what
    return "not a regular file"


def check_regular(path: str) -> os.stat_result:
    """stat() of `path` (following links), or CaseError when it is missing, a broken link, a link
    loop, unreadable, or not a regular file (a FIFO, a device...): such files are never opened."""
    try:
        st = os.stat(path)
    except FileNotFoundError:
        if os.path.islink(path):
            raise CaseError("missing", "broken symbolic link (its target does not exist)", path) from None
        raise CaseError("missing", "file does not exist", path) from None
    except OSError as exc:
        if exc.errno == errno.ELOOP:
            raise CaseError("read", "symbolic link loop (too many levels of symbolic links); fix or remove the link",
                            path) from None
        raise CaseError("read", f"cannot access the file ({exc.strerror or exc})", path) from None
    if not stat.S_ISREG(st.st_mode):
        raise CaseError("read", f"{_file_kind(st.st_mode)}, not a regular file: not opened; put the image file "
                        "there instead", path)
    return st


def _open_regular(path: str):
    """(binary file, size) of a regular file; O_NONBLOCK so that a file replaced by a FIFO
    after the check cannot block the open."""
    check_regular(path)
    try:
        fd = os.open(path, os.O_RDONLY | getattr(os, "O_NONBLOCK", 0) | getattr(os, "O_CLOEXEC", 0))
    except OSError as exc:
        raise CaseError("read", f"cannot open the file ({exc.strerror or exc})", path) from None
    st = os.fstat(fd)
    if not stat.S_ISREG(st.st_mode):
        os.close(fd)
        raise CaseError("read", f"{_file_kind(st.st_mode)}, not a regular file: not read", path)
    os.set_blocking(fd, True)
    return open(fd, "rb"), st.st_size


# ---------------------------------------------------------------- NIfTI
_HEAD_READ = 1 << 18  # compressed bytes read first, to decode the header
_DEFLATE_MAX_RATIO = 1032  # deflate cannot expand one byte into more than ~1032
_AXIS_NAMES = ("x", "y", "z")


@dataclass
class _Header:
    hdr: object  # nibabel header, checked
    shape: tuple
    dtype: np.dtype
    offset: int
    size: int  # offset + data bytes: what the decoded file must hold


def _nifti_header(raw, path) -> _Header:
    """Parse and check the NIfTI-1/2 header at the start of `raw` (the decoded bytes)."""
    import nibabel as nib

    if len(raw) < 348:
        raise CaseError("read", f"not a NIfTI file: {len(raw)} bytes, shorter than a NIfTI-1 header", path)
    size_le = int.from_bytes(raw[:4], "little")
    size_be = int.from_bytes(raw[:4], "big")
    if 348 in (size_le, size_be):
        klass, hsize = nib.Nifti1Header, 348
    elif 540 in (size_le, size_be):
        klass, hsize = nib.Nifti2Header, 540
        if len(raw) < 540:
            raise CaseError("read", f"not a NIfTI file: {len(raw)} bytes, shorter than a NIfTI-2 header", path)
    else:
        raise CaseError("read", f"not a NIfTI file (sizeof_hdr is {size_le}, expected 348 or 540)", path)
    block = bytes(raw[:hsize])
    try:
        as_stored = klass(block, check=False)
        pixdim = [float(v) for v in as_stored["pixdim"]]
        ndim = int(as_stored["dim"][0])
        dims = [int(v) for v in as_stored["dim"][1:]]
    except Exception as exc:
        raise CaseError("read", f"invalid NIfTI header ({exc})", path) from None
    if not 1 <= ndim <= 7:
        raise CaseError("read", f"invalid NIfTI header: dim[0] (the number of dimensions) is {ndim}, "
                        "expected 1..7", path)
    if any(d < 0 for d in dims[:ndim]):
        raise CaseError("read", f"invalid NIfTI header: negative image dimension in dim {dims[:ndim]}", path)
    # the raw pixdim: nibabel's checks replace a zero voxel size by 1 (a log line only)
    for i in range(1, min(3, ndim) + 1):
        v = pixdim[i]
        if math.isnan(v) or math.isinf(v):
            raise CaseError("read", f"the header's pixdim[{i}] (voxel size along {_AXIS_NAMES[i - 1]}) is "
                            f"{'NaN' if math.isnan(v) else 'infinite'}; fix the file's spacing", path)
        if v == 0:
            raise CaseError("read", f"the header's pixdim[{i}] (voxel size along {_AXIS_NAMES[i - 1]}) is 0; "
                            "fix the file's spacing", path)
    try:
        hdr = klass(block, check=True)
        magic = bytes(hdr["magic"]).rstrip(b"\0")
        shape = tuple(int(s) for s in hdr.get_data_shape())
        dtype = hdr.get_data_dtype()
        offset = int(hdr.get_data_offset())
    except Exception as exc:
        raise CaseError("read", f"invalid NIfTI header ({exc})", path) from None
    if magic not in (b"n+1", b"n+2"):
        raise CaseError("read", f"NIfTI magic {magic!r}: only single-file NIfTI (.nii/.nii.gz) is supported", path)
    if offset < hsize:
        raise CaseError("read", f"invalid NIfTI header: vox_offset {offset} lies inside the {hsize}-byte header",
                        path)
    if dtype.itemsize == 0 or dtype.hasobject:
        raise CaseError("read", f"invalid NIfTI header: unsupported voxel type {dtype}", path)
    return _Header(hdr, shape, dtype, offset, offset + math.prod(shape) * dtype.itemsize)


def _decode_gzip_nifti(f, size: int, path: str):
    """(decoded bytes, header, time the file was read) of a gzip-compressed NIfTI file, never
    decoding more than the header's vox_offset + data size (plus one byte, to tell a stream that
    holds more), nor reading a file larger than that data could compress to."""
    _, mod = decompressor()
    head = os.pread(f.fileno(), min(size, _HEAD_READ), 0)
    try:
        head = mod.decompressobj(wbits=31).decompress(head, 544)
    except Exception as exc:
        raise CaseError("read", f"corrupt gzip stream ({type(exc).__name__}: {exc})", path) from None
    h = _nifti_header(head, path)
    need = h.size
    if need > size * _DEFLATE_MAX_RATIO + 4096:
        raise CaseError("read", f"truncated image data: the header promises {need - h.offset} bytes at offset "
                        f"{h.offset}, more than a {size}-byte gzip file can hold", path)
    if size > need + need // 8 + (1 << 20):
        raise CaseError("read", f"the gzip file ({size} bytes) is larger than the {need} bytes of header and image "
                        "data it declares could take: it holds more data than its header declares", path)
    data = f.read(size)  # at most the size checked above, even if the file grows meanwhile
    got = len(data)
    view = memoryview(data)
    t_read = time.perf_counter()
    parts, n, pos = [], 0, 0
    try:
        while True:
            d = mod.decompressobj(wbits=31)
            out = d.decompress(view[pos:], need + 1 - n)
            n += len(out)
            parts.append(out)
            if n > need:
                raise CaseError("read", f"the gzip stream holds more data than the header declares ({h.offset} "
                                f"header bytes + {need - h.offset} image bytes); is the header's dim or datatype "
                                "wrong?", path)
            if not d.eof:
                raise CaseError("read", f"truncated gzip stream (ends after {n} decoded bytes)", path)
            rest = d.unused_data
            if not rest or not rest.strip(b"\0"):
                break
            pos = got - len(rest)
    except CaseError:
        raise
    except Exception as exc:  # zlib.error and its equivalents
        raise CaseError("read", f"corrupt gzip stream ({type(exc).__name__}: {exc})", path) from None
    del data, view
    raw = parts[0] if len(parts) == 1 else b"".join(parts)
    return raw, h, t_read


_UNIT_TO_MM = {"mm": 1.0, "unknown": 1.0, "meter": 1000.0, "micron": 1e-3}
_UNIT_CODES = {0: "unknown", 1: "meter", 2: "mm", 3: "micron"}


def _slope_inter(hdr, path):
    """(slope, intercept) of the header's value scaling, (None, None) when it scales nothing
    (slope 0 or not finite, as nibabel reads it); a non-finite intercept with a slope is refused."""
    slope, inter = float(hdr["scl_slope"]), float(hdr["scl_inter"])
    if slope == 0 or not math.isfinite(slope):
        return None, None
    if not math.isfinite(inter):
        raise CaseError("read", f"the header's scl_inter is {inter} while scl_slope is {slope:g}; fix the file's "
                        "value scaling", path)
    return slope, inter


def _read_nifti(path: str, kind: str) -> Image:
    t0 = time.perf_counter()
    f, size = _open_regular(path)
    with f:
        magic = f.read(2)
        f.seek(0)
        if magic == b"\x1f\x8b":  # gzip, whatever the name says
            raw, h, t1 = _decode_gzip_nifti(f, size, path)
        else:
            head = f.read(544)
            if path.lower().endswith(".gz") and not (len(head) >= 4 and {int.from_bytes(head[:4], o) for o in (
                    "little", "big")} & {348, 540}):
                raise CaseError("read", "corrupt gzip stream: the file does not start with gzip's magic bytes "
                                "(nor with a NIfTI header)", path)
            h = _nifti_header(head, path)
            if size > h.size:
                raise CaseError("read", f"the file ({size} bytes) holds more data than its header declares "
                                f"({h.offset} header bytes + {h.size - h.offset} image bytes); is the header's "
                                "dim or datatype wrong?", path)
            if size < h.size:
                raise CaseError("read", f"truncated image data: the header promises {h.size - h.offset} bytes at "
                                f"offset {h.offset}, the file holds {max(size - h.offset, 0)}", path)
            f.seek(0)
            raw = f.read(h.size)
            if len(raw) != h.size:
                raise CaseError("read", "truncated image data: the file shrank while it was read", path)
            t1 = time.perf_counter()
    hdr, shape, dtype, offset = h.hdr, h.shape, h.dtype, h.offset
    if len(raw) < h.size:
        raise CaseError(
            "read", f"truncated image data: the header promises {h.size - offset} bytes at offset {offset}, "
            f"the file holds {max(len(raw) - offset, 0)}", path)
    arr = np.ndarray(shape, dtype=dtype, buffer=raw, offset=offset, order="F")
    zooms = [float(z) for z in hdr.get_zooms()]
    code = int(hdr["xyzt_units"]) & 0x07
    if code not in _UNIT_CODES:
        raise CaseError("read", f"the header's xyzt_units holds spatial unit code {code}, not a NIfTI unit "
                        "(0 unknown, 1 m, 2 mm, 3 micron)", path)
    scale = _UNIT_TO_MM[_UNIT_CODES[code]]
    slope, inter = _slope_inter(hdr, path)
    affine = np.asarray(hdr.get_best_affine(), dtype=float)
    if not np.isfinite(affine).all():
        raise CaseError("read", "the header's affine (sform / qform) holds NaN or infinite values; fix the file's "
                        "orientation", path)
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


# ---------------------------------------------------------------- numpy files
def _npy_header(f, path: str, total: int):
    """(shape, fortran_order, dtype) from the .npy stream `f` (positioned at its start), whose
    file or archive member is `total` bytes: the data after the header must be exactly what the
    header declares (a truncated or padded array is refused before any data is read), and the
    dtype numeric (object arrays, which numpy would unpickle, are refused)."""
    fmt = np.lib.format
    try:
        version = fmt.read_magic(f)
        if version == (1, 0):
            shape, fortran, dtype = fmt.read_array_header_1_0(f)
        elif version in ((2, 0), (3, 0)):
            shape, fortran, dtype = fmt.read_array_header_2_0(f)
        else:
            raise ValueError(f"unsupported .npy version {version}")
    except ValueError as exc:
        raise CaseError("read", f"not a valid .npy array ({exc})", path) from None
    if dtype.hasobject or dtype.kind not in "biuf" or dtype.fields is not None or dtype.subdtype is not None:
        raise CaseError("values", f"probability array has dtype {dtype}; give a numeric (float) array "
                        "(object / pickled arrays are never loaded)", path)
    need = int(np.prod(shape, dtype=np.int64)) * dtype.itemsize
    have = total - f.tell()
    if need != have:
        raise CaseError("read", f"array header declares {need} data bytes (shape {tuple(shape)}, {dtype}) but the "
                        f"file holds {have}; truncated or corrupt", path)
    return tuple(shape), fortran, dtype, need


def _read_numpy(path: str, kind: str) -> Image:
    """A probability map saved by numpy: a .npy array, or a .npz archive holding exactly one
    array; (x, y, z) or (x, y, z, C) like the NIfTI maps.  Never unpickles (no allow_pickle,
    object dtypes refused from the header); the header's size must match the file.  The file
    carries no geometry: it is on the reference's grid when the shapes agree (spacing and
    affine None here)."""
    import zipfile

    t0 = time.perf_counter()
    if path.lower().endswith(".npz"):
        try:
            zf = zipfile.ZipFile(path)
        except (zipfile.BadZipFile, OSError) as exc:
            raise CaseError("read", f"not a valid .npz archive ({exc})", path) from None
        with zf:
            members = [i for i in zf.infolist() if not i.is_dir()]
            if len(members) != 1:
                listed = ", ".join(i.filename for i in members[:5]) or "none"
                raise CaseError("read", f".npz archive holds {len(members)} arrays ({listed}); a probability file "
                                "must hold exactly one", path)
            info = members[0]
            if info.compress_type not in (zipfile.ZIP_STORED, zipfile.ZIP_DEFLATED):
                raise CaseError("read", f".npz member {info.filename} uses zip compression {info.compress_type}; "
                                "only stored and deflated members (numpy's savez / savez_compressed) are read", path)
            if info.file_size > max(info.compress_size, 1) * _DEFLATE_MAX_RATIO + 1024:
                raise CaseError("read", f".npz member declares {info.file_size} bytes, more than its "
                                f"{info.compress_size} compressed bytes can hold; corrupt", path)
            with zf.open(info) as f:
                shape, fortran, dtype, need = _npy_header(f, path, info.file_size)
                data = f.read(need + 1)
    else:
        f, size = _open_regular(path)
        with f:
            shape, fortran, dtype, need = _npy_header(f, path, size)
            data = f.read(need + 1)
    if len(data) != need:
        raise CaseError("read", f"array data is {len(data)} bytes, the header declares {need}; truncated or corrupt",
                        path)
    t1 = time.perf_counter()
    arr = np.frombuffer(data, dtype=dtype).reshape(shape, order="F" if fortran else "C")
    if arr.ndim not in (3, 4):
        raise CaseError("values", f"probability array has shape {arr.shape}; expected (x, y, z) or (x, y, z, C)", path)
    img = Image(arr, None, None, path, read_s=t1 - t0, info={"format": "npy"})
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
    check_regular(path)
    low = path.lower()
    try:
        if low.endswith(NIFTI_SUFFIXES):
            return _read_nifti(path, kind)
        if low.endswith(ITK_SUFFIXES):
            return _read_itk(path, kind)
        if low.endswith(NUMPY_SUFFIXES) and kind == "prob":
            return _read_numpy(path, kind)
    except CaseError:
        raise
    except MemoryError:
        raise
    except Exception as exc:
        raise CaseError("read", f"unreadable ({type(exc).__name__}: {exc})", path) from None
    allowed = PROB_SUFFIXES if kind == "prob" else SUFFIXES
    raise CaseError("read", f"unsupported file type (supported: {', '.join(allowed)})", path)


# ---------------------------------------------------------------- geometry
def check_geometry(a: Image, b: Image, what: str, tolerance: float = 1e-3, check_affine: bool = True,
                   spatial_only: bool = False) -> None:
    """Raise CaseError("mismatch") unless `b` lies on `a`'s grid: same shape, spacing within
    `tolerance` (relative) and affine within `tolerance` (mm / direction cosines)."""
    sa = a.array.shape[:3] if spatial_only else a.array.shape
    sb = b.array.shape[:3] if spatial_only else b.array.shape
    if sa != sb:
        raise CaseError("mismatch", f"{what}: shape {sb} differs from {sa}", b.path)
    if b.spacing is None:  # a file without geometry (.npy / .npz): on the reference's grid by shape
        return
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


def blocking_file(folder: str):
    """The path that stops `folder` from being created: its nearest existing ancestor (itself
    included) when that is not a folder; None when there is none."""
    p = folder
    while not os.path.lexists(p) and os.path.dirname(p) != p:
        p = os.path.dirname(p)
    return p if os.path.lexists(p) and not os.path.isdir(p) else None
