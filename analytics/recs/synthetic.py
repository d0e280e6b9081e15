"""Synthetic behaviour with hidden preferences, as arrays (the benchmark; the evaluation without demo data).

Each event has a category (of N_CATEGORIES), a city and a popularity (Zipf). Each user has one or two
favourite categories and a home city; most of their lines go to events of their categories (mostly
in their city), chosen by popularity, the rest to any popular event (noise). Lines are views mostly,
then seat-map opens, holds and payments, spread over `days`.
"""

from dataclasses import dataclass

import numpy as np

from analytics.documents import Action
from analytics.recs.build import Interactions

CITIES = ["上海", "北京", "广州", "深圳", "杭州", "成都", "南京", "武汉", "西安", "重庆"]
CATEGORY_WORDS = ["流行 演唱会", "摇滚 音乐节", "古典 音乐会", "爵士 现场", "话剧 经典", "音乐剧 百老汇", "脱口秀 喜剧",
                  "相声 曲艺", "芭蕾 舞剧", "京剧 戏曲", "儿童剧 亲子", "电竞 比赛", "篮球 赛事", "足球 联赛",
                  "展览 艺术", "科技 大会", "读书 分享", "魔术 表演", "杂技 马戏", "民谣 专场"]
ACTIONS = [Action.EVENT_VIEW, Action.SESSION_VIEW, Action.SEATMAP_OPEN, Action.HOLD, Action.PAY]
ACTION_SHARE = [0.62, 0.16, 0.1, 0.07, 0.05]


@dataclass
class Synthetic:
    interactions: Interactions
    timestamps_days: np.ndarray  # per line: days before "now"
    actions: np.ndarray  # per line: index into ACTIONS
    event_category: np.ndarray
    event_city: np.ndarray
    titles: list[str]

    def documents(self) -> list[list[str]]:
        """The events' documents as the rebuild makes them (category, tag and city tokens), without jieba."""
        return [[*title.split(), f"c:{CATEGORY_WORDS[c].split()[1]}", f"t:{CATEGORY_WORDS[c].split()[0]}",
                 f"city:{CITIES[y]}"] for title, c, y in zip(self.titles, self.event_category, self.event_city)]


def generate(*, events: int, users: int, lines: int, days: float = 42.0, noise: float = 0.2, seed: int = 7,
             event_category: np.ndarray | None = None, event_city: np.ndarray | None = None) -> Synthetic:
    """event_category / event_city (indices below 20 and 10): a real catalogue's, so that the hidden tastes
    follow its content; random otherwise."""
    rng = np.random.default_rng(seed)
    n_categories = len(CATEGORY_WORDS)
    category = event_category if event_category is not None else rng.integers(0, n_categories, events)
    city = event_city if event_city is not None else rng.choice(
        len(CITIES), events, p=np.linspace(2, 1, len(CITIES)) / np.linspace(2, 1, len(CITIES)).sum())
    popularity = 1.0 / np.power(rng.permutation(events) + 1.0, 0.6)
    popularity /= popularity.sum()
    # Events of each (category, city), and of each category, with their popularity as sampling weights.
    everything = np.arange(events)
    by_category = [np.flatnonzero(category == c) for c in range(n_categories)]
    by_category = [pool if pool.size else everything for pool in by_category]  # a category without events
    by_cell = {(c, y): np.flatnonzero((category == c) & (city == y)) for c in range(n_categories) for y in range(len(CITIES))}

    favourite = rng.integers(0, n_categories, (users, 2))
    second = rng.random(users) < 0.5
    home = rng.choice(len(CITIES), users)
    per_user = rng.multinomial(lines, rng.dirichlet(np.full(users, 2.0)))
    visitor = np.repeat(np.arange(users), per_user)
    n = len(visitor)
    event = np.empty(n, dtype=np.int64)
    noisy = rng.random(n) < noise
    event[noisy] = rng.choice(events, noisy.sum(), p=popularity)
    rest = np.flatnonzero(~noisy)
    pick_second = second[visitor[rest]] & (rng.random(rest.size) < 0.4)
    wanted_category = np.where(pick_second, favourite[visitor[rest], 1], favourite[visitor[rest], 0])
    in_city = rng.random(rest.size) < 0.7
    for c in range(n_categories):
        for local in (True, False):
            mask = (wanted_category == c) & (in_city == local)
            idx = rest[mask]
            if idx.size == 0:
                continue
            if local:
                for y in range(len(CITIES)):
                    sub = idx[home[visitor[idx]] == y]
                    pool = by_cell[(c, y)]
                    if sub.size == 0:
                        continue
                    pool = pool if pool.size else by_category[c]
                    weight = popularity[pool] / popularity[pool].sum()
                    event[sub] = rng.choice(pool, sub.size, p=weight)
            else:
                pool = by_category[c]
                weight = popularity[pool] / popularity[pool].sum()
                event[idx] = rng.choice(pool, idx.size, p=weight)
    actions = rng.choice(len(ACTIONS), n, p=ACTION_SHARE)
    weight = np.asarray([Action.WEIGHT[a] for a in ACTIONS], dtype=np.float32)[actions]
    age = rng.random(n) * days
    titles = [f"{CITIES[city[i]]} {CATEGORY_WORDS[category[i]]} 第{i}场" for i in range(events)]
    interactions = Interactions(visitor=visitor.astype(np.int64), event=event, weight=weight, age_days=age,
                                n_visitors=users, event_ids=np.arange(1, events + 1, dtype=np.int64))
    return Synthetic(interactions=interactions, timestamps_days=age, actions=actions, event_category=category,
                     event_city=city, titles=titles)
