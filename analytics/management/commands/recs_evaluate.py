import time

from django.core.management.base import BaseCommand
from django.utils import timezone

from analytics.recs import evaluate


class Command(BaseCommand):
    help = ("Time-split the behaviour logs (each visitor's newest 20% held out), print HitRate@10, NDCG@10 and "
            "catalogue coverage of the recommender beside a popularity and an item co-occurrence baseline.")

    def add_arguments(self, parser):
        parser.add_argument("--synthetic", action="store_true",
                            help="synthetic logs with hidden preferences instead of MongoDB's (see --events …)")
        parser.add_argument("--events", type=int, default=2000)
        parser.add_argument("--users", type=int, default=3000)
        parser.add_argument("--lines", type=int, default=120_000)
        parser.add_argument("--max-users", type=int, default=3000, help="evaluate at most this many visitors")

    def handle(self, *args, **options):
        started = time.perf_counter()
        if options["synthetic"]:
            from analytics.recs.synthetic import generate

            data = generate(events=options["events"], users=options["users"], lines=options["lines"])
            interactions, documents, source = data.interactions, data.documents(), "synthetic"
            evaluated = None
        else:
            from analytics.recs.build import training_data

            import numpy as np

            scan, interactions, _events, documents = training_data(now=timezone.now())
            source = "behaviour_logs"
            # Signed-in users are evaluated; anonymous visitors' lines only help the training.
            evaluated = np.asarray([user_id is not None for user_id in scan.user_ids], dtype=bool)
        if interactions.event.size == 0:
            self.stderr.write("no behaviour lines to evaluate (run seed_demo, or use --synthetic)")
            return
        scores, split = evaluate.evaluate(interactions, documents, max_users=options["max_users"], evaluated=evaluated)
        self.stdout.write(f"{source}: {interactions.event.size} lines, {interactions.n_visitors} visitors, "
                          f"{interactions.n_events} events; {len(split.test_items)} visitors evaluated "
                          f"({'visitors' if evaluated is None else 'signed-in users'} with {evaluate.MIN_LINES}+ lines; newest "
                          f"{evaluate.TEST_SHARE:.0%} of each one's lines held out)")
        self.stdout.write(f"{'model':<34} {'HitRate@10':>10} {'NDCG@10':>9} {'coverage':>9}")
        for score in scores:
            self.stdout.write(score.row())
        popular = next(s for s in scores if s.name.startswith("popularity"))
        ours = scores[0]
        ratio = ours.hit_rate / popular.hit_rate if popular.hit_rate else float("inf")
        self.stdout.write(f"HitRate@10 recommender / popularity: {ratio:.2f}× (target ≥ 2×); "
                          f"{time.perf_counter() - started:.1f} s")
