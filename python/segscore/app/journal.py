"""The run's journal ``<stem>.journal.jsonl``: one JSON line per finished case (flushed,
fsynced), the single source of truth of a run; its header records the options and the input
folders, so a resumed run refuses other ones."""

from __future__ import annotations

import json
import os
import threading


JOURNAL_VERSION = 1

# ====================================================================== journal
_FOLDER_NAMES = {"pred": "prediction folder (PRED)", "ref": "reference folder (REF)",
                 "raters": "rater folders (--rater)", "probs": "probability folder (--probs)"}


class Journal:
    """Append-only JSON-lines file: a header line, then one line per finished (or failed) case,
    each flushed and fsynced before the next case is reported done.

    The header records the options (``config``) and the folders scored (``folders``: absolute
    paths); each case line records its files' identities (``files``: name, size, mtime_ns).
    Resuming refuses a journal written with other options or folders; a case whose files changed
    is scored again (its new line replaces the old one: the last line of a case wins).  A journal
    written before identities were recorded resumes by scoring every case again."""

    def __init__(self, path: str, header: dict, resume: bool):
        self.path = path
        self.records: dict = {}
        self.lock = threading.Lock()
        self.legacy = False  # a resumed journal without file identities
        if resume and os.path.exists(path):
            old_header, self.records, good_bytes = read_journal(path)
            if old_header is not None and old_header.get("config") != header.get("config"):
                diff = sorted(k for k in set(old_header.get("config", {})) | set(header["config"])
                              if old_header.get("config", {}).get(k) != header["config"].get(k))
                raise ValueError(f"cannot resume: {path} was written with different options ({', '.join(diff)}); "
                                 "rerun without --resume to start over")
            if old_header is not None:
                _check_folders(path, old_header, header)
                self.legacy = "folders" not in old_header
            elif self.records:
                raise ValueError(f"cannot resume: {path} has no header line (it is not a complete segscore journal); "
                                 "rerun without --resume to start over")
            with open(path, "r+b") as f:  # drop a line cut by a crash
                f.truncate(good_bytes)
            self.f = open(path, "ab")
            if old_header is None:
                self._write(header)
        else:
            self.f = open(path, "wb")
            self._write(header)

    def done(self, identities: dict | None = None) -> set:
        """Cases whose last record is ok and, when `identities` ({case: case_identity}) is given,
        was scored from the same files."""
        if identities is None:
            return {c for c, r in self.records.items() if r.get("status") == "ok"}
        return {c for c, r in self.records.items()
                if r.get("status") == "ok" and c in identities and r.get("files") == identities[c]}

    def _write(self, obj) -> None:
        line = json.dumps(obj, ensure_ascii=False, allow_nan=True, separators=(",", ":")) + "\n"
        self.f.write(line.encode("utf-8"))
        self.f.flush()
        os.fsync(self.f.fileno())

    def append(self, record: dict) -> None:
        with self.lock:
            self._write(record)
            self.records[record["case"]] = record

    def close(self):
        self.f.close()


def _check_folders(path: str, old: dict, new: dict) -> None:
    """ValueError naming the folder when a journal was written for other input folders."""
    was = old.get("folders")
    if was is None:  # an older journal: only PRED and REF were recorded
        was = {k: old[k] for k in ("pred", "ref") if k in old}
    now = new["folders"]
    for key, what in _FOLDER_NAMES.items():
        if key in was and was[key] != now.get(key):
            def show(v):
                if isinstance(v, dict):
                    return ", ".join(f"{n}={d}" for n, d in v.items()) or "none"
                return "none" if v is None else str(v)
            raise ValueError(f"cannot resume: {path} was written for the {what} {show(was[key])}, this run scores "
                             f"{show(now.get(key))}; rerun without --resume to start over, or choose another --output")


def read_journal(path: str):
    """(header, {case: last record}, byte length of the complete lines).  The last line of a case
    wins: a case scored again (its files changed) replaces its earlier record."""
    header = None
    records: dict = {}
    good = 0
    with open(path, "rb") as f:
        data = f.read()
    pos = 0
    while pos < len(data):
        nl = data.find(b"\n", pos)
        if nl < 0:
            break  # a line cut by a crash: dropped
        line = data[pos:nl]
        pos = nl + 1
        try:
            obj = json.loads(line.decode("utf-8"))
        except (ValueError, UnicodeDecodeError):
            continue
        good = pos
        if not isinstance(obj, dict):
            continue
        if "segscore_journal" in obj:
            header = obj
        elif "case" in obj:
            records[obj["case"]] = obj
    return header, records, good if good else (len(data) if data.endswith(b"\n") else 0)
