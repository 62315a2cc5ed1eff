"""Progress reporting for dataset scoring: a bar with cases/s and ETA on a terminal, plain log
lines otherwise (one per case, so CI logs and `tee` stay readable), nothing with --quiet."""

from __future__ import annotations

import sys
import time


class Progress:
    def __init__(self, total: int, initial: int = 0, enabled: bool = True, log=None, stream=None):
        self.total = total
        self.done = initial
        self.start_done = initial
        self.failed = 0
        self.enabled = enabled
        self.stream = stream or sys.stderr
        self.tty = enabled and hasattr(self.stream, "isatty") and self.stream.isatty()
        self.log = log or (lambda m: None)
        self.t0 = time.perf_counter()
        self._last = 0.0

    def update(self, rec: dict) -> None:
        self.done += 1
        ok = rec.get("status") == "ok"
        if not ok:
            self.failed += 1
        if not self.enabled:
            return
        el = time.perf_counter() - self.t0
        n = self.done - self.start_done
        rate = n / el if el > 0 else 0.0
        left = self.total - self.done
        eta = left / rate if rate > 0 else float("inf")
        if self.tty:
            if not ok:
                self._clear()
                self.stream.write(f"segscore: {rec['case']}: FAILED ({rec.get('stage')}): {rec.get('reason')}\n")
            now = time.perf_counter()
            if now - self._last > 0.1 or self.done == self.total or not ok:
                self._last = now
                width = 30
                fill = int(width * self.done / max(self.total, 1))
                msg = (f"\r[{'#' * fill}{'.' * (width - fill)}] {self.done}/{self.total} cases  {rate:.2f} cases/s  "
                       f"ETA {_hms(eta)}" + (f"  {self.failed} failed" if self.failed else ""))
                self.stream.write(msg)
                self.stream.flush()
        else:
            what = "ok" if ok else f"FAILED ({rec.get('stage')}): {rec.get('reason')}"
            t = rec.get("meta", {})
            extra = f" load {t.get('load_s', 0):.2f}s compute {t.get('compute_s', 0):.2f}s" if ok else ""
            self.stream.write(f"segscore: [{self.done}/{self.total}] {rec['case']}: {what}{extra}  "
                              f"({rate:.2f} cases/s, ETA {_hms(eta)})\n")
            self.stream.flush()

    def _clear(self):
        self.stream.write("\r" + " " * 100 + "\r")

    def close(self):
        if self.enabled and self.tty and self.done > self.start_done:
            self.stream.write("\n")
            self.stream.flush()


def _hms(s: float) -> str:
    if s != s or s == float("inf"):
        return "--:--"
    s = int(round(s))
    h, r = divmod(s, 3600)
    m, s = divmod(r, 60)
    return f"{h}:{m:02d}:{s:02d}" if h else f"{m:02d}:{s:02d}"
