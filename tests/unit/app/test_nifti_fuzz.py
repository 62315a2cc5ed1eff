"""Fuzzing the NIfTI reader: mutated headers (random byte flips; dims huge, negative or zero;
datatype / bitpix mismatches; vox_offset out of the file; NaN / zero spacing...) and truncated or
padded gzip streams and plain .nii files.

Every file is read in its own forked process, under a memory cap (RLIMIT_AS) and a timeout: the
read must end (no hang), without dying of a signal, with either an image or a `CaseError` (a
one-line reason), never a MemoryError or another exception.  Deterministic (fixed seed), a few
seconds in all.
"""

import gzip
import json
import os
import struct
import subprocess
import sys
import zlib

import numpy as np
import pytest

nib = pytest.importorskip("nibabel")

from segscore.app.io import write_nifti  # noqa: E402

SEED = 20240601
MEMORY_CAP = 1536 << 20  # bytes of address space for the reader
TIMEOUT_S = 20.0  # per file

# Reads each file named on stdin (one JSON job a line) in a forked child: the parent survives any
# crash, hang or memory blow-up of the child and reports what happened, one JSON line per file.
RUNNER = r'''
import json, os, resource, select, signal, sys, time
cap, timeout = int(sys.argv[1]), float(sys.argv[2])
resource.setrlimit(resource.RLIMIT_AS, (cap, cap))
from segscore.app.io import CaseError, decompressor, read_image
import nibabel  # imported once here, not in every forked reader
decompressor()

def child(job, w):
    try:
        img = read_image(job["path"], job["kind"])
        a = img.array
        checksum = float(np.asarray(a, dtype=np.float64).sum()) if a.size else 0.0
        res = {"outcome": "ok", "shape": list(a.shape), "dtype": str(a.dtype), "spacing": list(img.spacing),
               "finite": bool(np.isfinite(checksum))}
    except CaseError as e:
        res = {"outcome": "caseerror", "stage": e.stage, "reason": e.reason}
    except MemoryError as e:
        res = {"outcome": "memoryerror", "reason": str(e)}
    except BaseException as e:
        res = {"outcome": "exception", "reason": f"{type(e).__name__}: {e}"}
    data = json.dumps(res).encode()
    while data:
        data = data[os.write(w, data):]

import numpy as np
for line in sys.stdin:
    job = json.loads(line)
    r, w = os.pipe()
    pid = os.fork()
    if pid == 0:
        os.close(r)
        try:
            child(job, w)
        finally:
            os._exit(0)
    os.close(w)
    deadline = time.monotonic() + timeout
    buf, eof = b"", False
    while not eof:
        left = deadline - time.monotonic()
        if left <= 0:
            break
        ready, _, _ = select.select([r], [], [], left)
        if ready:
            chunk = os.read(r, 65536)
            eof = not chunk
            buf += chunk
    os.close(r)
    if not eof:
        os.kill(pid, signal.SIGKILL)
    _, status = os.waitpid(pid, 0)
    if not eof:
        res = {"outcome": "hang"}
    elif os.WIFSIGNALED(status):
        res = {"outcome": "signal", "signal": os.WTERMSIG(status)}
    else:
        try:
            res = json.loads(buf)
        except ValueError:
            res = {"outcome": "no result", "exit": os.WEXITSTATUS(status)}
    print(json.dumps({"name": job["name"], **res}), flush=True)
'''


# ---------------------------------------------------------------------- seed files
def _nifti_bytes(tmp, name, array, **kw):
    p = os.path.join(tmp, name)
    write_nifti(p, array, **kw)
    with open(p, "rb") as f:
        return f.read()


def _nib_bytes(tmp, name, img):
    p = os.path.join(tmp, name)
    nib.save(img, p)
    with open(p, "rb") as f:
        return f.read()


def _seeds(tmp):
    rng = np.random.default_rng(SEED)
    lab = rng.integers(0, 4, (16, 12, 8)).astype(np.uint8)
    seeds = {
        "u8": (_nifti_bytes(tmp, "u8.nii", lab, spacing=(0.8, 0.8, 2.5)), "label", 1),
        "i16": (_nifti_bytes(tmp, "i16.nii", rng.integers(-5, 300, (9, 7, 5)).astype(np.int16)), "label", 1),
        "f32": (_nifti_bytes(tmp, "f32.nii", lab[:8, :8, :8].astype(np.float32)), "label", 1),
        "prob": (_nifti_bytes(tmp, "prob.nii", rng.random((6, 6, 6, 3)).astype(np.float32)), "prob", 1),
        "be": (_nib_bytes(tmp, "be.nii", nib.Nifti1Image(lab[:8, :6, :4].astype(">i2"), np.eye(4),
                                                         nib.Nifti1Header(endianness=">"))), "label", 1),
        "n2": (_nib_bytes(tmp, "n2.nii", nib.Nifti2Image(lab[:8, :6, :4], np.eye(4))), "label", 2),
    }
    return seeds


# ---------------------------------------------------------------------- mutations
def _put(raw, off, fmt, *values, endian="<"):
    b = bytearray(raw)
    struct.pack_into(endian + fmt, b, off, *values)
    return bytes(b)


def _nifti1_mutations(raw, rng):
    """(name, bytes) of structural header mutations of a little-endian NIfTI-1 file."""
    out = []
    for d0 in (0, -1, 8, 100):
        out.append((f"dim0={d0}", _put(raw, 40, "h", d0)))
    for i in (1, 2, 3):
        for v in (0, -1, -32768, 32767):
            out.append((f"dim{i}={v}", _put(raw, 40 + 2 * i, "h", v)))
    huge = _put(raw, 40, "8h", 7, *([32767] * 7))
    out.append(("dims-huge", huge))
    for code in (0, 1, 3, 7, 32, 128, 1792, 2304, 9999, -4):
        out.append((f"datatype={code}", _put(raw, 70, "h", code)))
    for bp in (0, 1, 3, 7, 64, -8):
        out.append((f"bitpix={bp}", _put(raw, 72, "h", bp)))
    out.append(("datatype-int32-bitpix-8", _put(_put(raw, 70, "h", 8), 72, "h", 8)))
    out.append(("datatype-float64", _put(_put(raw, 70, "h", 64), 72, "h", 64)))
    for vo in (0.0, 100.0, 351.0, 353.0, 1e9, -352.0, float("nan"), float("inf"), float(len(raw) + 1),
               float(len(raw) * 4)):
        out.append((f"vox_offset={vo}", _put(raw, 108, "f", vo)))
    for i in (1, 2, 3):
        for v in (0.0, float("nan"), float("inf"), -1.0, 1e38, 1e-45):
            out.append((f"pixdim{i}={v}", _put(raw, 76 + 4 * i, "f", v)))
    for v in (float("nan"), float("inf"), 0.0, -1.0, 1e30):
        out.append((f"scl_slope={v}", _put(raw, 112, "f", v)))
        out.append((f"scl_inter={v}", _put(raw, 116, "f", v)))
    for q, s in ((1, 0), (0, 1), (0, 0), (5, 7), (-1, -1)):
        out.append((f"qform{q}-sform{s}", _put(_put(raw, 252, "h", q), 254, "h", s)))
    for v in (float("nan"), float("inf"), 2.0, -2.0):
        out.append((f"quatern_b={v}", _put(_put(raw, 252, "h", 1), 256, "f", v)))
        out.append((f"srow_x={v}", _put(_put(raw, 254, "h", 1), 280, "f", v)))
    for magic in (b"ni1\0", b"n+2\0", b"\0\0\0\0", b"XXXX"):
        b = bytearray(raw)
        b[344:348] = magic
        out.append((f"magic={magic!r}", bytes(b)))
    out.append(("sizeof_hdr=540", _put(raw, 0, "i", 540)))
    out.append(("sizeof_hdr=0", _put(raw, 0, "i", 0)))
    out.append(("sizeof_hdr-big-endian", _put(raw, 0, "i", 348, endian=">")))
    out.append(("xyzt_units=255", _put(raw, 123, "B", 255)))
    out.append(("header-only", raw[:348]))
    out.append(("header-and-extension-flag", raw[:352]))
    b = bytearray(raw)  # an extension that claims more bytes than the file holds
    b[348] = 1
    out.append(("extension-flag-set", bytes(b)))
    return out


def _nifti2_mutations(raw):
    out = []
    for d0 in (0, -1, 8):
        out.append((f"n2-dim0={d0}", _put(raw, 16, "q", d0)))
    for v in (0, -1, 2**62, 2**40):
        out.append((f"n2-dim1={v}", _put(raw, 24, "q", v)))
    for vo in (0, 100, 2**62, -544, len(raw) + 8):
        out.append((f"n2-vox_offset={vo}", _put(raw, 168, "q", vo)))
    for v in (0.0, float("nan"), float("inf")):
        out.append((f"n2-pixdim1={v}", _put(raw, 112, "d", v)))
    out.append(("n2-datatype=9999", _put(raw, 12, "h", 9999)))
    return out


def _flips(raw, rng, n, span):
    out = []
    for k in range(n):
        b = bytearray(raw)
        for _ in range(int(rng.integers(1, 9))):
            b[int(rng.integers(0, span))] = int(rng.integers(0, 256))
        out.append((f"flip{k}", bytes(b)))
    return out


def _gz(raw, level=1):
    return gzip.compress(raw, compresslevel=level, mtime=0)


def _stream_mutations(raw, rng):
    """(name, bytes, suffix) of damaged gzip streams and plain files around a valid `raw`."""
    gz = _gz(raw)
    out = []
    for k, cut in enumerate(sorted({1, 2, 9, 10, 20, len(gz) // 2, len(gz) - 8, len(gz) - 4, len(gz) - 1,
                                    *rng.integers(1, len(gz), 8).tolist()})):
        out.append((f"gz-cut{k}@{cut}", gz[:cut], ".nii.gz"))
    out.append(("gz-zero-padding", gz + bytes(4096), ".nii.gz"))
    out.append(("gz-garbage-after", gz + b"garbage!" * 16, ".nii.gz"))
    out.append(("gz-second-member-data", gz + _gz(b"\1" * 1000), ".nii.gz"))
    out.append(("gz-second-member-empty", gz + _gz(b""), ".nii.gz"))
    out.append(("gz-two-members-split", _gz(raw[:500]) + _gz(raw[500:]), ".nii.gz"))
    out.append(("gz-more-data", _gz(raw + bytes(100_000)), ".nii.gz"))
    out.append(("gz-less-data", _gz(raw[:-10]), ".nii.gz"))
    out.append(("gz-empty-file", b"", ".nii.gz"))
    out.append(("gz-bad-crc", gz[:-8] + bytes(4) + gz[-4:], ".nii.gz"))
    out.append(("gz-bad-isize", gz[:-4] + b"\xff\xff\xff\x7f", ".nii.gz"))
    for k in range(12):
        b = bytearray(gz)
        for _ in range(int(rng.integers(1, 4))):
            b[int(rng.integers(10, len(b)))] = int(rng.integers(0, 256))
        out.append((f"gz-body-flip{k}", bytes(b), ".nii.gz"))
    # raw deflate without the gzip wrapper, a zlib wrapper
    out.append(("zlib-wrapper", zlib.compress(raw), ".nii.gz"))
    # plain files
    for k, cut in enumerate((0, 100, 347, 348, 352, len(raw) - 1)):
        out.append((f"nii-cut{k}@{cut}", raw[:cut], ".nii"))
    out.append(("nii-padded", raw + bytes(64), ".nii"))
    out.append(("nii-gzip-content", gz, ".nii"))
    out.append(("gz-plain-content", raw, ".nii.gz"))
    return out


def _build(tmp):
    rng = np.random.default_rng(SEED)
    jobs = []

    def add(name, data, suffix, kind):
        path = os.path.join(tmp, f"f{len(jobs):04d}{suffix}")
        with open(path, "wb") as f:
            f.write(data)
        jobs.append({"name": f"{name}{suffix}", "path": path, "kind": kind})

    for seed_name, (raw, kind, version) in _seeds(tmp).items():
        add(f"{seed_name}-valid", raw, ".nii", kind)
        add(f"{seed_name}-valid", _gz(raw), ".nii.gz", kind)
        muts = []
        if version == 1 and seed_name != "be":
            muts += _nifti1_mutations(raw, rng)
        if version == 2:
            muts += _nifti2_mutations(raw)
        muts += _flips(raw, rng, 40 if seed_name == "u8" else 12, 544 if version == 2 else 352)
        for name, data in muts:
            add(f"{seed_name}-{name}", data, ".nii", kind)
            add(f"{seed_name}-{name}", _gz(data), ".nii.gz", kind)
        if seed_name in ("u8", "prob", "n2"):
            for name, data, suffix in _stream_mutations(raw, rng):
                add(f"{seed_name}-{name}", data, suffix, kind)
    return jobs


def _run(jobs):
    env = dict(os.environ, OPENBLAS_NUM_THREADS="1", OMP_NUM_THREADS="1", MKL_NUM_THREADS="1")
    p = subprocess.run([sys.executable, "-c", RUNNER, str(MEMORY_CAP), str(TIMEOUT_S)],
                       input="".join(json.dumps(j) + "\n" for j in jobs), capture_output=True, text=True,
                       timeout=300, env=env)
    assert p.returncode == 0, p.stderr[-3000:]
    results = [json.loads(line) for line in p.stdout.splitlines() if line.startswith("{")]
    assert len(results) == len(jobs), p.stderr[-3000:]
    return {r["name"]: r for r in results}


def test_fuzzed_nifti_files_fail_cleanly(tmp_path):
    jobs = _build(str(tmp_path))
    assert len(jobs) > 500
    res = _run(jobs)
    bad = {n: r for n, r in res.items() if r["outcome"] not in ("ok", "caseerror")}
    assert not bad, f"{len(bad)} reads crashed, hung or raised: {dict(list(bad.items())[:10])}"
    for n, r in res.items():
        if r["outcome"] == "caseerror":
            assert r["reason"] and "\n" not in r["reason"] and "Traceback" not in r["reason"], (n, r)
            # an error the reader anticipated, not an internal exception wrapped as "unreadable"
            assert not r["reason"].startswith("unreadable ("), (n, r)
    # the valid files read, and a few verdicts that must not drift
    for seed in ("u8", "i16", "f32", "prob", "be", "n2"):
        for suffix in (".nii", ".nii.gz"):
            assert res[f"{seed}-valid{suffix}"]["outcome"] == "ok", res[f"{seed}-valid{suffix}"]
    expect = {
        "u8-dims-huge.nii.gz": "truncated", "u8-dim1=-1.nii": "negative", "u8-dim0=8.nii": "dim[0]",
        "u8-pixdim1=0.0.nii.gz": "pixdim[1]", "u8-pixdim2=nan.nii": "NaN",
        "u8-vox_offset=1000000000.0.nii.gz": "truncated", "u8-gz-more-data.nii.gz": "more data",
        "u8-gz-less-data.nii.gz": "truncated", "u8-nii-padded.nii": "more data",
        "u8-gz-second-member-data.nii.gz": "more data", "u8-datatype-float64.nii": "truncated",
    }
    for name, word in expect.items():
        if word is None:
            continue
        r = res[name]
        assert r["outcome"] == "caseerror" and word in r["reason"], (name, r)
    # padding of zeros and an empty extra member are accepted; a split stream too; gzip content in a .nii
    for name in ("u8-gz-zero-padding.nii.gz", "u8-gz-second-member-empty.nii.gz", "u8-gz-two-members-split.nii.gz",
                 "u8-nii-gzip-content.nii", "u8-gz-plain-content.nii.gz"):
        assert res[name]["outcome"] == "ok", (name, res[name])
