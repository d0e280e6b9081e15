"""The multi-process helper really runs in separate processes on the test database."""

import os

import pytest
from django.db.models import F

from accounts.models import User
from tests.factories import UserFactory
from tests.helpers.processes import run_in_processes


def _claim(user_id: int) -> tuple[int, int]:
    # One conditional UPDATE: only the first process to run it changes the row.
    won = User.objects.filter(pk=user_id, first_name="").update(first_name=str(os.getpid()), last_name=F("username"))
    return os.getpid(), won


@pytest.mark.django_db(transaction=True)
def test_processes_collide_on_the_same_row_and_exactly_one_wins():
    user = UserFactory()
    results = run_in_processes(_claim, [(user.pk,)] * 4)
    pids = {pid for pid, _ in results}
    assert len(pids) == 4 and os.getpid() not in pids
    assert sum(won for _, won in results) == 1
    user.refresh_from_db()
    assert int(user.first_name) in pids
