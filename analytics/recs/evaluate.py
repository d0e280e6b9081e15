"""Offline evaluation: a time split of the behaviour logs, HitRate@10 / NDCG@10 / coverage per model.

Each visitor's newest TEST_SHARE of lines (visitors with at least MIN_LINES) is held out; every model
learns from the rest and ranks the events that visitor had not touched in training. A hit is a
held-out event among the top K. Models: the recommender (as the rebuild builds it), its behaviour and
content halves alone, a co-occurrence embedding (PPMI + SVD) in place of the factorisation, the
popularity baseline, and the item co-occurrence baseline (sum of co-counts with the visitor's events).
"""

from dataclasses import dataclass

import numpy as np
from scipy import sparse

from analytics.recs import vectors as vec
from analytics.recs.build import Interactions

K = 10
TEST_SHARE = 0.2
MIN_LINES = 5


@dataclass
class Split:
    train: Interactions
    test_items: dict[int, set[int]]  # visitor row → held-out event rows not seen in training
    train_items: dict[int, np.ndarray]


def time_split(data: Interactions, *, test_share: float = TEST_SHARE, max_users: int = 3000, seed: int = 0,
               evaluated: np.ndarray | None = None) -> Split:
    """evaluated: per visitor row, whether to hold out their newest lines (signed-in users); the others'
    lines all stay in training."""
    order = np.lexsort((-data.age_days, data.visitor))  # per visitor, oldest first
    visitor, event = data.visitor[order], data.event[order]
    starts = np.flatnonzero(np.r_[True, visitor[1:] != visitor[:-1]])
    ends = np.r_[starts[1:], len(visitor)]
    is_test = np.zeros(len(visitor), dtype=bool)
    test_items, train_items = {}, {}
    candidates = []
    for start, end in zip(starts, ends):
        n = end - start
        if n < MIN_LINES or (evaluated is not None and not evaluated[visitor[start]]):
            continue
        cut = end - max(1, int(round(n * test_share)))
        is_test[cut:end] = True
        seen = np.unique(event[start:cut])
        held = set(np.unique(event[cut:end]).tolist()) - set(seen.tolist())
        if held:
            candidates.append((int(visitor[start]), held, seen))
    rng = np.random.default_rng(seed)
    if len(candidates) > max_users:
        candidates = [candidates[i] for i in sorted(rng.choice(len(candidates), max_users, replace=False))]
    for row, held, seen in candidates:
        test_items[row], train_items[row] = held, seen
    keep = ~is_test
    train = Interactions(visitor=visitor[keep], event=event[keep], weight=data.weight[order][keep],
                         age_days=data.age_days[order][keep], n_visitors=data.n_visitors, event_ids=data.event_ids)
    return Split(train=train, test_items=test_items, train_items=train_items)


@dataclass
class Score:
    name: str
    hit_rate: float
    ndcg: float
    coverage: float

    def row(self) -> str:
        return f"{self.name:<34} {self.hit_rate:>10.4f} {self.ndcg:>9.4f} {self.coverage:>9.4f}"


def _metrics(name: str, split: Split, top: dict[int, np.ndarray], n_events: int) -> Score:
    hits, ndcgs, shown = [], [], set()
    discounts = 1.0 / np.log2(np.arange(2, K + 2))
    for row, held in split.test_items.items():
        ranked = top[row]
        shown.update(ranked.tolist())
        gains = np.asarray([1.0 if item in held else 0.0 for item in ranked])
        hits.append(float(gains.any()))
        ideal = discounts[: min(len(held), K)].sum()
        ndcgs.append(float((gains * discounts[: len(gains)]).sum() / ideal))
    return Score(name, float(np.mean(hits)) if hits else 0.0, float(np.mean(ndcgs)) if ndcgs else 0.0,
                 len(shown) / max(n_events, 1))


def _top_k(scores: np.ndarray, seen: np.ndarray) -> np.ndarray:
    scores = scores.astype(np.float64, copy=True)
    scores[seen] = -np.inf
    top = np.argpartition(-scores, K)[:K]
    return top[np.argsort(-scores[top])]


def _rank_by_vectors(split: Split, event_vectors: np.ndarray, popular: np.ndarray | None = None) -> dict[int, np.ndarray]:
    train = split.train
    rows = np.asarray(sorted(split.test_items))
    taste = vec.user_vectors(users=train.visitor, events=train.event, weights=train.weight, age_days=train.age_days,
                             event_vectors=event_vectors, n_users=train.n_visitors)[rows]
    top = {}
    for begin in range(0, len(rows), 256):
        block = taste[begin:begin + 256] @ event_vectors.T
        if popular is not None:  # as the index's popularity column does
            block = block + vec.POPULARITY_BLEND * vec.popularity_column(popular)[None, :]
        for i, row in enumerate(rows[begin:begin + 256]):
            top[int(row)] = _top_k(block[i], split.train_items[int(row)])
    return top


def cooccurrence_vectors(matrix: sparse.csr_matrix, *, dims: int = vec.BEHAVIOUR_DIMS) -> np.ndarray:
    """Item embedding from the positive PMI of the item × item co-occurrence counts, by truncated SVD."""
    from sklearn.decomposition import TruncatedSVD

    binary = (matrix > 0).astype(np.float32)
    counts = (binary.T @ binary).tocoo()
    mask = counts.row != counts.col
    rows, cols, data = counts.row[mask], counts.col[mask], counts.data[mask]
    item = np.ravel(binary.sum(axis=0))
    total = data.sum() or 1.0
    pmi = np.log(data * total / (item[rows] * item[cols] + 1e-9) + 1e-9)
    keep = pmi > 0
    ppmi = sparse.csr_matrix((pmi[keep], (rows[keep], cols[keep])), shape=counts.shape)
    out = np.zeros((matrix.shape[1], dims), dtype=np.float32)
    if ppmi.nnz == 0:
        return out
    used = min(dims, ppmi.shape[0] - 1)
    svd = TruncatedSVD(n_components=used, algorithm="randomized", n_iter=4, random_state=0)
    out[:, :used] = svd.fit_transform(ppmi)
    return vec.l2_normalise(out)


def evaluate(data: Interactions, documents: list[list[str]], *, max_users: int = 3000,
             evaluated: np.ndarray | None = None) -> tuple[list[Score], Split]:
    split = time_split(data, max_users=max_users, evaluated=evaluated)
    train, n_events = split.train, data.n_events
    matrix = vec.confidence_matrix(users=train.visitor, events=train.event, weights=train.weight,
                                   n_users=train.n_visitors, n_events=n_events)
    behaviour = vec.behaviour_vectors(matrix)
    content = vec.content_vectors(documents)
    from analytics.recs.build import popularity

    recent = popularity(train)
    scores = [
        _metrics("recommender (SVD + content + pop.)", split,
                 _rank_by_vectors(split, vec.combine(behaviour, content), recent), n_events),
        _metrics("  SVD + content, no popularity", split, _rank_by_vectors(split, vec.combine(behaviour, content)), n_events),
        _metrics("  behaviour SVD only", split, _rank_by_vectors(split, behaviour), n_events),
        _metrics("  content only", split, _rank_by_vectors(split, content), n_events),
        _metrics("  co-occurrence embedding + content", split,
                 _rank_by_vectors(split, vec.combine(cooccurrence_vectors(matrix), content)), n_events),
    ]
    popular = np.bincount(train.event, weights=train.weight, minlength=n_events)
    scores.append(_metrics("popularity baseline", split,
                           {row: _top_k(popular, split.train_items[row]) for row in split.test_items}, n_events))
    binary = (matrix > 0).astype(np.float32).tocsr()
    rows = np.asarray(sorted(split.test_items))
    top = {}
    for begin in range(0, len(rows), 256):
        block = rows[begin:begin + 256]
        co = np.asarray(((binary[block] @ binary.T) @ binary).todense())
        for i, row in enumerate(block):
            top[int(row)] = _top_k(co[i] + 1e-6 * popular, split.train_items[int(row)])
    scores.append(_metrics("item co-occurrence baseline", split, top, n_events))
    return scores, split
