"""The rebuild: behaviour logs + the catalogue → event vectors, a new FAISS index version, user embeddings.

`recs_rebuild()` is what the beat task and `manage.py recs_rebuild` run. Its array half,
`build_vectors()`, takes the interactions as arrays (the evaluation and the benchmark call it directly).
"""

import logging
import time
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta

import numpy as np
from scipy import sparse

from analytics.documents import Action, BehaviourLog, UserEmbedding
from analytics.recs import index as recs_index
from analytics.recs import vectors as vec

log = logging.getLogger(__name__)

LOG_DAYS = 180  # behaviour older than this does not shape the vectors
POPULAR_DAYS = 14
POPULAR_KEEP = 2000
EMBEDDING_BATCH = 1000
PREFERENCE_TAGS = {"category": 3, "city": 2, "tag": 3}


@dataclass
class Interactions:
    """Behaviour lines as arrays: visitor row, event row (into event_ids), action weight, age in days."""

    visitor: np.ndarray
    event: np.ndarray
    weight: np.ndarray
    age_days: np.ndarray
    n_visitors: int
    event_ids: np.ndarray  # the id of each event row

    @property
    def n_events(self) -> int:
        return len(self.event_ids)


@dataclass
class Vectors:
    event_vectors: np.ndarray  # rows of Interactions.event_ids
    has_behaviour: np.ndarray
    seconds: dict = field(default_factory=dict)


def build_vectors(interactions: Interactions, documents: list[list[str]], *,
                  behaviour_dims: int = vec.BEHAVIOUR_DIMS, content_dims: int = vec.CONTENT_DIMS) -> Vectors:
    """Event vectors from the interactions (factorised) and the documents (one per event row)."""
    timings = {}
    started = time.perf_counter()
    matrix = vec.confidence_matrix(users=interactions.visitor, events=interactions.event,
                                   weights=interactions.weight, n_users=interactions.n_visitors,
                                   n_events=interactions.n_events)
    behaviour = vec.behaviour_vectors(matrix, dims=behaviour_dims)
    timings["behaviour_svd"] = time.perf_counter() - started
    started = time.perf_counter()
    content = vec.content_vectors(documents, dims=content_dims)
    timings["content_tfidf_svd"] = time.perf_counter() - started
    has_behaviour = np.linalg.norm(behaviour, axis=1) > 0
    return Vectors(event_vectors=vec.combine(behaviour, content), has_behaviour=has_behaviour, seconds=timings)


def popularity(interactions: Interactions, *, days: float = POPULAR_DAYS) -> np.ndarray:
    """A score per event row: action weights of the last `days`, halved every few days."""
    recent = interactions.age_days <= days
    weight = interactions.weight[recent] * vec.decay(interactions.age_days[recent], half_life=days / 2)
    return np.bincount(interactions.event[recent], weights=weight, minlength=interactions.n_events)


# --- from MongoDB and the catalogue ----------------------------------------------------------------
@dataclass
class LogScan:
    visitor_keys: list[str]
    user_ids: list[int | None]  # per visitor row
    interactions: Interactions
    lines: int
    seconds: float


def scan_logs(*, now: datetime, days: int = LOG_DAYS) -> LogScan:
    """Every weighted line of the last `days` with an event (a find, not an aggregate: nx-27017)."""
    started = time.perf_counter()
    collection = BehaviourLog._get_collection()
    cursor = collection.find(
        {"action": {"$in": list(Action.WEIGHT)}, "event_id": {"$ne": None}, "timestamp": {"$gte": now - timedelta(days=days)}},
        {"_id": 0, "user_id": 1, "anon_id": 1, "event_id": 1, "action": 1, "timestamp": 1},
        batch_size=10_000,
    )
    visitor_row: dict[str, int] = {}
    user_ids: list[int | None] = []
    event_row: dict[int, int] = {}
    visitors, events, weights, ages = [], [], [], []
    now_ts = now.timestamp()
    for line in cursor:
        user_id, anon_id = line.get("user_id"), line.get("anon_id")
        key = f"u{user_id}" if user_id is not None else (f"a{anon_id}" if anon_id else None)
        if key is None:
            continue
        row = visitor_row.get(key)
        if row is None:
            row = visitor_row[key] = len(visitor_row)
            user_ids.append(user_id)
        event_id = int(line["event_id"])
        erow = event_row.setdefault(event_id, len(event_row))
        stamp = line["timestamp"]
        if stamp.tzinfo is None:
            stamp = stamp.replace(tzinfo=UTC)
        visitors.append(row)
        events.append(erow)
        weights.append(Action.WEIGHT[line["action"]])
        ages.append((now_ts - stamp.timestamp()) / 86400.0)
    interactions = Interactions(
        visitor=np.asarray(visitors, dtype=np.int64), event=np.asarray(events, dtype=np.int64),
        weight=np.asarray(weights, dtype=np.float32), age_days=np.asarray(ages, dtype=np.float64),
        n_visitors=len(visitor_row), event_ids=np.asarray(list(event_row), dtype=np.int64))
    return LogScan(visitor_keys=list(visitor_row), user_ids=user_ids, interactions=interactions,
                   lines=len(visitors), seconds=time.perf_counter() - started)


def documents(events: list[dict]) -> list[list[str]]:
    """The cut document of each catalogue event (vectors.EventText). Cut afresh at every rebuild: jieba-rs
    takes about 30 µs an event, less than keeping the cuts in a file would cost to read and write."""
    return [vec.EventText(event_id=e["id"], title=e["title"], description=_strip_html(e["description"]),
                          categories=e["categories"], tags=e["tags"], city=e["city"]).document() for e in events]


def catalogue(*, since: datetime):
    """Events that ended after `since` (every event the logs may name, and all that may be recommended),
    with what their content vector is made of."""
    from events.models import Category, Event, EventStatus

    categories = {pk: (path, zh, en) for pk, path, zh, en in Category.objects.values_list("pk", "path", "name_zh", "name_en")}
    by_path = {path: (zh, en) for path, zh, en in categories.values()}
    from django.db.models.functions import Substr

    rows = list(Event.objects.filter(end_time__gte=since).order_by("pk").annotate(
        opening=Substr("description", 1, 4 * vec.DESCRIPTION_CHARS)).values_list(  # room for the markup
        "pk", "title", "opening", "city", "category_id", "status", "end_time", "updated_at"))
    # Every event's tags, without a join to the events: MariaDB went tag by tag, then to each event's wide
    # row (7 s at 100,000 events); the pairs alone are a short scan, and the ids not wanted are dropped here.
    wanted = {row[0] for row in rows}
    tags: dict[int, list[str]] = {}
    for event_id, name in Event.tags.through.objects.order_by().values_list("event_id", "tag__name"):
        if event_id in wanted:
            tags.setdefault(event_id, []).append(name)
    events = []
    for pk, title, description, city, category_id, status, end_time, updated_at in rows:
        path = categories.get(category_id, ("", "", ""))[0]
        names = [name for depth in range(4, len(path) + 1, 4) for name in by_path.get(path[:depth], ())]
        events.append({"id": pk, "title": title, "description": description, "city": city, "categories": names,
                       "category_id": category_id, "tags": tags.get(pk, []), "public": status == EventStatus.APPROVED,
                       "end_time": end_time, "updated_at": updated_at})
    return events


def _strip_html(text: str) -> str:
    from django.utils.html import strip_tags

    return strip_tags(text or "")


def training_data(*, now: datetime, timings: dict | None = None):
    """(log scan, interactions on the catalogue's event rows, catalogue events, their cut documents)."""
    timings = timings if timings is not None else {}
    scan = scan_logs(now=now)
    timings["log_scan"] = scan.seconds
    started = time.perf_counter()
    events = catalogue(since=now - timedelta(days=LOG_DAYS))
    known = {event["id"]: i for i, event in enumerate(events)}
    # Re-map the interactions' event rows onto the catalogue's (lines of deleted events drop out).
    inter = scan.interactions
    remap = np.asarray([known.get(int(pk), -1) for pk in inter.event_ids], dtype=np.int64)
    mapped = remap[inter.event] if inter.event.size else inter.event
    keep = mapped >= 0
    interactions = Interactions(visitor=inter.visitor[keep], event=mapped[keep], weight=inter.weight[keep],
                                age_days=inter.age_days[keep], n_visitors=inter.n_visitors,
                                event_ids=np.asarray([e["id"] for e in events], dtype=np.int64))
    cut = documents(events)
    timings["catalogue_and_tokens"] = time.perf_counter() - started
    return scan, interactions, events, cut


@dataclass
class RebuildResult:
    version: str
    events: int
    indexed: int
    lines: int
    users: int
    seconds: dict

    def __str__(self) -> str:
        steps = ", ".join(f"{name} {value:.2f} s" for name, value in self.seconds.items())
        return (f"index {self.version}: {self.indexed} events indexed of {self.events}, {self.lines} lines, "
                f"{self.users} user embeddings ({steps})")


def recs_rebuild(*, now: datetime | None = None) -> RebuildResult:
    """Scan the logs, build the vectors, save a new index version, upsert the user embeddings.

    Safe to run while web processes serve: they switch to the new version when it is complete."""
    from django.utils import timezone

    now = now or timezone.now()
    timings: dict[str, float] = {}
    scan, interactions, events, documents = training_data(now=now, timings=timings)
    built = build_vectors(interactions, documents)
    timings.update(built.seconds)
    started = time.perf_counter()
    public = np.asarray([e["public"] and e["end_time"] >= now for e in events], dtype=bool)
    popular_score = popularity(interactions)
    popular_rows = [row for row in np.argsort(-popular_score, kind="stable") if public[row] and popular_score[row] > 0]
    version = recs_index.save(
        index_ids=interactions.event_ids[public],
        index_vectors=vec.with_popularity(built.event_vectors[public], popular_score[public]),
        ids=interactions.event_ids, vectors=built.event_vectors,
        popular_ids=interactions.event_ids[popular_rows[:POPULAR_KEEP]], built_at=now)
    timings["faiss_build_save"] = time.perf_counter() - started

    started = time.perf_counter()
    users = store_user_embeddings(scan=scan, interactions=interactions, events=events,
                                  event_vectors=built.event_vectors, version=version, now=now)
    timings["user_embeddings"] = time.perf_counter() - started
    return RebuildResult(version=version, events=len(events), indexed=int(public.sum()), lines=scan.lines,
                         users=users, seconds=timings)


def _top_labels(weights: sparse.csr_matrix, labels_of_event: list[list[str]], limit: int) -> list[list[str]]:
    """Per user row, the `limit` labels (categories, cities, tags) of most weight."""
    vocabulary: dict[str, int] = {}
    rows, cols = [], []
    for event_row, labels in enumerate(labels_of_event):
        for label in labels:
            rows.append(event_row)
            cols.append(vocabulary.setdefault(label, len(vocabulary)))
    if not vocabulary:
        return [[] for _ in range(weights.shape[0])]
    one_hot = sparse.csr_matrix((np.ones(len(rows), dtype=np.float32), (rows, cols)),
                                shape=(weights.shape[1], len(vocabulary)))
    per_user = (weights @ one_hot).toarray() if weights.shape[0] * len(vocabulary) < 50_000_000 else None
    names = np.asarray(list(vocabulary))
    out = []
    for row in range(weights.shape[0]):
        scores = per_user[row] if per_user is not None else (weights[row] @ one_hot).toarray().ravel()
        best = np.argsort(-scores)[:limit]
        out.append([str(names[i]) for i in best if scores[i] > 0])
    return out


def store_user_embeddings(*, scan: LogScan, interactions: Interactions, events: list[dict],
                          event_vectors: np.ndarray, version: str, now: datetime) -> int:
    """Upsert a UserEmbedding per signed-in visitor who has not opted out; drop those of who opted out."""
    from pymongo import DeleteMany, ReplaceOne

    from accounts.models import User

    user_rows = [row for row, user_id in enumerate(scan.user_ids) if user_id is not None]
    opted_out = set(User.objects.filter(personalised=False).values_list("pk", flat=True))
    collection = UserEmbedding._get_collection()
    if opted_out:
        collection.bulk_write([DeleteMany({"_id": {"$in": sorted(opted_out)}})], ordered=False)
    rows = [row for row in user_rows if scan.user_ids[row] not in opted_out]
    if not rows or interactions.event.size == 0:
        return 0
    taste = vec.user_vectors(users=interactions.visitor, events=interactions.event, weights=interactions.weight,
                             age_days=interactions.age_days, event_vectors=event_vectors, n_users=interactions.n_visitors)
    weights = sparse.csr_matrix((interactions.weight * vec.decay(interactions.age_days),
                                 (interactions.visitor, interactions.event)),
                                shape=(interactions.n_visitors, interactions.n_events))[rows]
    labels = {
        "category": [e["categories"][-2:-1] or e["categories"][:1] for e in events],  # the event's own category, in Chinese
        "city": [[e["city"]] if e["city"] else [] for e in events],
        "tag": [e["tags"] for e in events],
    }
    tops = {kind: _top_labels(weights, labels[kind], PREFERENCE_TAGS[kind]) for kind in labels}
    written = 0
    batch = []
    for i, row in enumerate(rows):
        if not np.any(taste[row]):
            continue
        preference = [f"{kind}:{label}" for kind in ("category", "city", "tag") for label in tops[kind][i]]
        user_id = int(scan.user_ids[row])
        # _id in the replacement too: nx-27017 gives an upserted document an ObjectId otherwise.
        batch.append(ReplaceOne({"_id": user_id}, {
            "_id": user_id, "vector": [round(float(x), 6) for x in taste[row]],
            "metadata": {"last_updated": now, "preference_tags": preference, "index_version": version},
        }, upsert=True))
        if len(batch) >= EMBEDDING_BATCH:
            collection.bulk_write(batch, ordered=False)
            written += len(batch)
            batch = []
    if batch:
        collection.bulk_write(batch, ordered=False)
        written += len(batch)
    return written
