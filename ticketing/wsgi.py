"""WSGI entry point: gunicorn serves every HTTP page and API call in the services mode."""

import os

from django.core.wsgi import get_wsgi_application

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "ticketing.settings")

application = get_wsgi_application()
