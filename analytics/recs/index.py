"""The FAISS index of event vectors: saved as a version, found through a pointer, reloaded without restart.

A version is two files under VAR_DIR/recs: `recs-<UTC timestamp>.faiss` (the index over the events that
may be recommended) and `.npz` beside it (the ids of its rows, every known event's vector for user
vectors and "similar events", the popular list for cold starts, when it was built). Both are written
under temporary names and renamed, then the `current` pointer file is replaced: a reader sees a whole
old version or a whole new one. Older versions beyond KEEP_VERSIONS are deleted.

Each process keeps the version it loaded. `current()` looks at the pointer's mtime at most every
CHECK_SECONDS; a new version is loaded by a background thread while requests go on with the old one.
"""

import logging
import os
import threading
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from time import monotonic

import numpy as np

log = logging.getLogger(__name__)

CHECK_SECONDS = 3.0
KEEP_VERSIONS = 3
HNSW_FROM = 20_000  # events; below this an exact IndexFlatIP is as fast
HNSW_M = 16
HNSW_EF_CONSTRUCTION = 48
HNSW_EF_SEARCH = 96
POINTER = "current"


def directory() -> Path:
    from django.conf import settings

    path = Path(settings.VAR_DIR) / "recs"
    path.mkdir(parents=True, exist_ok=True)
    return path


@dataclass
class RecsIndex:
    version: str
    index: object  # faiss.Index over index_ids
    index_ids: np.ndarray  # event id of each index row
    ids: np.ndarray  # sorted ids of every event with a vector
    vectors: np.ndarray  # their vectors (rows of ids)
    popular_ids: np.ndarray  # event ids, most popular first (recent behaviour and sales)
    built_at: float  # UTC epoch seconds
    extra: dict = field(default_factory=dict)

    def vector_rows(self, event_ids) -> tuple[np.ndarray, np.ndarray]:
        """(positions in event_ids that have a vector, their rows in `vectors`)."""
        wanted = np.asarray(list(event_ids), dtype=np.int64)
        if wanted.size == 0 or self.ids.size == 0:
            return np.zeros(0, dtype=np.int64), np.zeros(0, dtype=np.int64)
        rows = np.searchsorted(self.ids, wanted)
        rows[rows >= self.ids.size] = 0
        found = self.ids[rows] == wanted
        return np.flatnonzero(found), rows[found]

    def vector_of(self, event_id: int) -> np.ndarray | None:
        _, rows = self.vector_rows([event_id])
        return self.vectors[rows[0]] if rows.size else None

    def search(self, vector: np.ndarray, n: int) -> list[tuple[int, float]]:
        """(event id, inner product) of the n nearest index rows, best first."""
        from analytics.recs.vectors import POPULARITY_BLEND

        n = min(n, len(self.index_ids))
        if n <= 0:
            return []
        vector = np.asarray(vector, dtype=np.float32).ravel()
        if self.index.d == vector.size + 1:  # the popularity column (analytics.recs.vectors.with_popularity)
            vector = np.append(vector, np.float32(POPULARITY_BLEND))
        scores, rows = self.index.search(np.ascontiguousarray(vector, dtype=np.float32).reshape(1, -1), n)
        return [(int(self.index_ids[row]), float(score)) for row, score in zip(rows[0], scores[0]) if row >= 0]


def build_faiss(vectors: np.ndarray):
    """Inner product on normalised vectors: exact below HNSW_FROM rows, HNSW above."""
    import faiss

    vectors = np.ascontiguousarray(vectors, dtype=np.float32)
    dims = vectors.shape[1]
    if len(vectors) < HNSW_FROM:
        index = faiss.IndexFlatIP(dims)
    else:
        index = faiss.IndexHNSWFlat(dims, HNSW_M, faiss.METRIC_INNER_PRODUCT)
        index.hnsw.efConstruction = HNSW_EF_CONSTRUCTION
        index.hnsw.efSearch = HNSW_EF_SEARCH
    index.add(vectors)
    return index


def save(*, index_ids: np.ndarray, index_vectors: np.ndarray, ids: np.ndarray, vectors: np.ndarray,
         popular_ids: np.ndarray, built_at: datetime | None = None, folder: Path | None = None) -> str:
    """Write a new version and point `current` at it; returns its name."""
    import faiss

    folder = folder or directory()
    built_at = built_at or datetime.now(UTC)
    version = "recs-" + built_at.strftime("%Y%m%dT%H%M%S%f")
    order = np.argsort(ids, kind="stable")
    index = build_faiss(index_vectors)
    tmp_index, tmp_arrays = folder / f".{version}.faiss.tmp", folder / f".{version}.npz.tmp"
    faiss.write_index(index, str(tmp_index))
    with open(tmp_arrays, "wb") as out:
        np.savez(out, index_ids=np.asarray(index_ids, dtype=np.int64), ids=np.asarray(ids, dtype=np.int64)[order],
                 vectors=np.asarray(vectors, dtype=np.float32)[order], popular_ids=np.asarray(popular_ids, dtype=np.int64),
                 built_at=np.float64(built_at.timestamp()))
    os.replace(tmp_index, folder / f"{version}.faiss")
    os.replace(tmp_arrays, folder / f"{version}.npz")
    tmp_pointer = folder / f".{POINTER}.tmp"
    tmp_pointer.write_text(version)
    os.replace(tmp_pointer, folder / POINTER)
    _prune(folder, keep=version)
    return version


def _prune(folder: Path, *, keep: str) -> None:
    versions = sorted({path.name.split(".")[0] for path in folder.glob("recs-*.npz")}, reverse=True)
    for old in [v for v in versions if v != keep][KEEP_VERSIONS - 1:]:
        for suffix in (".faiss", ".npz"):
            (folder / f"{old}{suffix}").unlink(missing_ok=True)


def load(version: str, *, folder: Path | None = None) -> RecsIndex:
    import faiss

    folder = folder or directory()
    index = faiss.read_index(str(folder / f"{version}.faiss"))
    if hasattr(index, "hnsw"):
        index.hnsw.efSearch = HNSW_EF_SEARCH
    with np.load(folder / f"{version}.npz") as arrays:
        return RecsIndex(version=version, index=index, index_ids=arrays["index_ids"], ids=arrays["ids"],
                         vectors=arrays["vectors"], popular_ids=arrays["popular_ids"],
                         built_at=float(arrays["built_at"]))


class _Current:
    def __init__(self) -> None:
        self.loaded: RecsIndex | None = None
        self.checked_at = float("-inf")
        self.pointer_mtime: int | None = None
        self.loading = False
        self.lock = threading.Lock()

    def get(self) -> RecsIndex | None:
        if monotonic() - self.checked_at < CHECK_SECONDS:
            return self.loaded
        with self.lock:  # only to decide who loads; the load itself runs outside it
            if monotonic() - self.checked_at < CHECK_SECONDS or self.loading:
                return self.loaded
            self.checked_at = monotonic()
            pointer = directory() / POINTER
            try:
                mtime = pointer.stat().st_mtime_ns
            except FileNotFoundError:
                return self.loaded
            if mtime == self.pointer_mtime:
                return self.loaded
            version = pointer.read_text().strip()
            if self.loaded is not None and version == self.loaded.version:
                self.pointer_mtime = mtime
                return self.loaded
            self.loading = True
            first = self.loaded is None
        if first:  # nothing to serve meanwhile: this caller waits for it
            self._load(version, mtime)
        else:
            threading.Thread(target=self._load, args=(version, mtime), name="recs-index-load", daemon=True).start()
        return self.loaded

    def _load(self, version: str, mtime: int) -> None:
        try:
            loaded = load(version)
        except Exception:  # noqa: BLE001 - a broken or pruned version: keep serving the old one
            log.warning("recommendations: could not load index %s", version, exc_info=True)
            loaded = None
        with self.lock:
            if loaded is not None:
                self.loaded, self.pointer_mtime = loaded, mtime
                log.info("recommendations: serving index %s (%d events)", version, len(loaded.index_ids))
            self.loading = False

    def forget(self) -> None:
        with self.lock:
            self.loaded, self.pointer_mtime, self.checked_at = None, None, float("-inf")


_current = _Current()


def current() -> RecsIndex | None:
    """The index this process serves (None before the first build): never waits for a reload."""
    return _current.get()


def forget() -> None:
    """Drop what this process loaded (tests; a removed index directory)."""
    _current.forget()
