"""Event and user vectors: behaviour (user × event factorisation) and content (jieba + tf-idf), combined.

Everything here works on arrays, not on MongoDB or the ORM, so that the rebuild, the evaluation and the
benchmark share it: `behaviour_vectors()` takes the interactions as index arrays, `content_vectors()` the
events' texts. An event vector is [w_b · behaviour, w_c · content], L2-normalised; an event nobody
interacted with has a zero behaviour block, so its vector is its content alone.
"""

import logging
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

import numpy as np
from scipy import sparse

log = logging.getLogger(__name__)

BEHAVIOUR_DIMS = 32
CONTENT_DIMS = 32
# The index's last column: an event's recent popularity (0..1), matched by this constant in every query,
# so that the inner product is taste + POPULARITY_BLEND × popularity (recs_evaluate chose 32 + 32 dims and 0.6).
POPULARITY_BLEND = 0.6
BEHAVIOUR_WEIGHT = 0.85  # of the squared norm of an event with both blocks
USER_HALF_LIFE_DAYS = 14.0
DESCRIPTION_CHARS = 80


def tokens(text: str) -> list[str]:
    """Words of a Chinese/English text: jieba's cut (jieba-rs through rjieba, the same dictionary and cuts as
    the Python jieba at about 8× its speed and without its second-long start; no HMM: new words are rare in
    titles), lower-cased, without spaces and punctuation."""
    import rjieba

    return [word.lower() for word in rjieba.cut(text, False) if word.strip() and (word.isalnum() or len(word) > 1)]


def l2_normalise(matrix: np.ndarray) -> np.ndarray:
    norms = np.linalg.norm(matrix, axis=1, keepdims=True)
    norms[norms == 0] = 1.0
    return (matrix / norms).astype(np.float32)


def bm25_weight(matrix: sparse.csr_matrix, *, k1: float = 1.2, b: float = 0.75) -> sparse.csr_matrix:
    """BM25 weighting of a user × event confidence matrix (as `implicit` does): a popular event and a
    very active user count for less, so the factors find taste rather than popularity."""
    matrix = sparse.coo_matrix(matrix)
    n_users = matrix.shape[0]
    idf = np.log(n_users) - np.log1p(np.bincount(matrix.col, minlength=matrix.shape[1]))
    row_sums = np.ravel(matrix.sum(axis=1))
    length_norm = (1.0 - b) + b * row_sums / max(row_sums.mean(), 1e-9)
    data = matrix.data * (k1 + 1.0) / (k1 * length_norm[matrix.row] + matrix.data) * idf[matrix.col]
    return sparse.csr_matrix((data.astype(np.float32), (matrix.row, matrix.col)), shape=matrix.shape)


def confidence_matrix(*, users: np.ndarray, events: np.ndarray, weights: np.ndarray, n_users: int,
                      n_events: int) -> sparse.csr_matrix:
    """user × event: log1p of the summed action weights (a purchase says more than ten views)."""
    summed = sparse.csr_matrix((weights.astype(np.float32), (users, events)), shape=(n_users, n_events))
    summed.sum_duplicates()
    summed.data = np.log1p(summed.data)
    return summed


def behaviour_vectors(matrix: sparse.csr_matrix, *, dims: int = BEHAVIOUR_DIMS, seed: int = 0) -> np.ndarray:
    """Event factors of a truncated SVD of the BM25-weighted confidence matrix (n_events × dims, each
    row L2-normalised; zero rows for events without interactions)."""
    from sklearn.decomposition import TruncatedSVD

    n_events = matrix.shape[1]
    if matrix.nnz == 0 or min(matrix.shape) < 3:
        return np.zeros((n_events, dims), dtype=np.float32)
    weighted = bm25_weight(matrix)
    dims_used = min(dims, min(matrix.shape) - 1)
    svd = TruncatedSVD(n_components=dims_used, algorithm="randomized", n_iter=4, random_state=seed)
    svd.fit(weighted)
    factors = svd.components_.T * np.sqrt(svd.singular_values_)  # items, weighted by sqrt(sigma)
    out = np.zeros((n_events, dims), dtype=np.float32)
    out[:, :dims_used] = factors
    seen = np.ravel((matrix != 0).sum(axis=0)) > 0
    out[~seen] = 0.0
    return l2_normalise(out)


@dataclass
class EventText:
    event_id: int
    title: str
    description: str
    categories: Sequence[str]  # the category and its parents, Chinese and English names
    tags: Sequence[str]
    city: str

    def document(self) -> list[str]:
        # Title words count twice; the category, tags and city are whole tokens (prefixed: 演唱会 the
        # category is not the word in a title).
        # The description's opening only: titles and tags say most.
        words = tokens(self.title) * 2 + tokens(self.description[:DESCRIPTION_CHARS])
        words += [f"c:{name.lower()}" for name in self.categories]
        words += [f"t:{tag.lower()}" for tag in self.tags] * 2
        if self.city:
            words.append(f"city:{self.city.lower()}")
        return words


def content_vectors(documents: Sequence[list[str]], *, dims: int = CONTENT_DIMS, seed: int = 0) -> np.ndarray:
    """TfidfVectorizer over pre-cut documents, then a truncated SVD: n × dims, rows L2-normalised."""
    from sklearn.decomposition import TruncatedSVD
    from sklearn.feature_extraction.text import TfidfVectorizer

    out = np.zeros((len(documents), dims), dtype=np.float32)
    if len(documents) < 3:
        return out
    vectorizer = TfidfVectorizer(analyzer=lambda words: words, min_df=1, sublinear_tf=True, dtype=np.float32)
    tfidf = vectorizer.fit_transform(documents)
    dims_used = min(dims, min(tfidf.shape) - 1)
    if dims_used < 1:
        return out
    svd = TruncatedSVD(n_components=dims_used, algorithm="randomized", n_iter=4, random_state=seed)
    out[:, :dims_used] = svd.fit_transform(tfidf)
    return l2_normalise(out)


def combine(behaviour: np.ndarray, content: np.ndarray, *, behaviour_weight: float = BEHAVIOUR_WEIGHT) -> np.ndarray:
    """[√w · behaviour, √(1-w) · content], L2-normalised: events without behaviour are content only."""
    joined = np.hstack([np.sqrt(behaviour_weight) * behaviour, np.sqrt(1.0 - behaviour_weight) * content])
    return l2_normalise(joined)


def popularity_column(scores: np.ndarray) -> np.ndarray:
    """log1p-scaled to 0..1: the index's popularity column."""
    scaled = np.log1p(np.maximum(scores, 0.0))
    top = scaled.max() if scaled.size else 0.0
    return (scaled / top if top > 0 else scaled).astype(np.float32)


def with_popularity(event_vectors: np.ndarray, scores: np.ndarray) -> np.ndarray:
    return np.hstack([event_vectors, popularity_column(scores)[:, None]]).astype(np.float32)


def decay(age_days: np.ndarray | float, *, half_life: float = USER_HALF_LIFE_DAYS) -> np.ndarray:
    return np.power(0.5, np.maximum(np.asarray(age_days, dtype=np.float64), 0.0) / half_life)


def user_vectors(*, users: np.ndarray, events: np.ndarray, weights: np.ndarray, age_days: np.ndarray,
                 event_vectors: np.ndarray, n_users: int) -> np.ndarray:
    """Each user's taste: the sum of the vectors of the events they interacted with, each line weighted by
    its action and halved every USER_HALF_LIFE_DAYS of age; L2-normalised (zero for users without lines)."""
    line_weight = weights * decay(age_days)
    taste = sparse.csr_matrix((line_weight, (users, events)), shape=(n_users, event_vectors.shape[0]))
    return l2_normalise(np.asarray(taste @ event_vectors))


def user_vector(*, event_rows: Iterable[int], weights: Iterable[float], age_days: Iterable[float],
                event_vectors: np.ndarray) -> np.ndarray | None:
    """One user's vector from their lines (rows into event_vectors); None when no line has a vector."""
    rows = np.fromiter(event_rows, dtype=np.int64)
    if rows.size == 0:
        return None
    weight = np.fromiter(weights, dtype=np.float64) * decay(np.fromiter(age_days, dtype=np.float64))
    vector = (weight[:, None] * event_vectors[rows]).sum(axis=0)
    norm = np.linalg.norm(vector)
    return (vector / norm).astype(np.float32) if norm > 0 else None
