"""Settings choose their backends from the environment (run in fresh interpreters)."""

import json
import os
import subprocess
import sys

from channels_redis.core import RedisChannelLayer

from tests.conftest import ROOT

PROBE = """
import json, django
from django.conf import settings
django.setup()
db = settings.DATABASES["default"]
print(json.dumps({
    "db_engine": db["ENGINE"], "db_name": str(db["NAME"]), "db_options": db.get("OPTIONS", {}),
    "cache": settings.CACHES["default"]["LOCATION"],
    "channels": [h["address"] for h in settings.CHANNEL_LAYERS["default"]["CONFIG"]["hosts"]],
    "channel_read_timeout": settings.CHANNEL_LAYERS["default"]["CONFIG"]["hosts"][0]["socket_timeout"],
    "broker": settings.CELERY_BROKER_URL, "mongo": settings.MONGODB_URI,
    "embedded_redis": settings.EMBEDDED_REDIS, "embedded_mongo": settings.EMBEDDED_MONGO,
    "debug": settings.DEBUG,
}))
"""

SERVICE_VARS = ("DATABASE_URL", "REDIS_URL", "MONGODB_URI", "CELERY_BROKER_URL", "CHANNEL_LAYER_URL", "DJANGO_DEBUG")


def resolved(tmp_path, **overrides) -> dict:
    env = {k: v for k, v in os.environ.items() if k not in SERVICE_VARS}
    env.update(TICKETING_VAR_DIR=str(tmp_path), DJANGO_SETTINGS_MODULE="ticketing.settings", **overrides)
    out = subprocess.run([sys.executable, "-c", PROBE], cwd=ROOT, env=env, capture_output=True, text=True, check=True)
    return json.loads(out.stdout.strip().splitlines()[-1])


def test_no_variables_mean_the_embedded_default(tmp_path):
    s = resolved(tmp_path)
    assert s["db_engine"] == "django.db.backends.sqlite3"
    assert s["db_name"] == str(tmp_path / "db.sqlite3")
    assert "journal_mode=WAL" in s["db_options"]["init_command"]
    assert s["cache"] == "redis://127.0.0.1:16379/0"
    assert s["channels"] == ["redis://127.0.0.1:16379/0"]
    assert s["channel_read_timeout"] > RedisChannelLayer.brpop_timeout  # an idle consumer's wait is not an error
    assert s["broker"] == "redis://127.0.0.1:16379/0"
    assert s["mongo"] == "mongodb://127.0.0.1:27117/ticketing"
    assert s["embedded_redis"] and s["embedded_mongo"]
    assert s["debug"] is False


def test_service_urls_replace_each_embedded_stand_in(tmp_path):
    s = resolved(
        tmp_path,
        DATABASE_URL="mysql://app:secret@db.internal:3306/ticketing",
        REDIS_URL="redis://cache.internal:6379/2",
        MONGODB_URI="mongodb://mongo.internal:27017/behaviour",
        CELERY_BROKER_URL="amqp://guest:guest@mq.internal:5672//",
    )
    assert s["db_engine"] == "django.db.backends.mysql"
    assert s["db_name"] == "ticketing"
    assert s["db_options"]["charset"] == "utf8mb4"
    assert s["cache"] == "redis://cache.internal:6379/2"
    assert s["channels"] == ["redis://cache.internal:6379/2"]
    assert s["broker"] == "amqp://guest:guest@mq.internal:5672//"
    assert s["mongo"] == "mongodb://mongo.internal:27017/behaviour"
    assert not s["embedded_redis"] and not s["embedded_mongo"]


def test_redis_alone_can_be_external_while_mongo_stays_embedded(tmp_path):
    s = resolved(tmp_path, REDIS_URL="redis://127.0.0.1:6379/3", DJANGO_DEBUG="1")
    assert s["broker"] == "redis://127.0.0.1:6379/3"
    assert not s["embedded_redis"] and s["embedded_mongo"]
    assert s["debug"] is True
