from django.http import HttpResponseServerError, JsonResponse
from django.shortcuts import render
from django.template import loader
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_GET

from analytics.recs.pages import home_recommendations
from events import selectors
from ticketing.health import health_report


@require_GET
def home(request):
    """Landing page: soonest events, categories and cities. Roles: anyone."""
    return render(request, "home.html", {
        "upcoming": selectors.event_search(sort="start")[:8],
        "categories": selectors.category_roots(),
        "cities": selectors.popular_cities(limit=10),
        "recommended": home_recommendations(request),
    })


@never_cache
@require_GET
def healthz(request):
    """State of the database, Redis, MongoDB and Celery. Roles: anyone (no secrets in it)."""
    report = health_report()
    return JsonResponse(report, status=200 if report["ok"] else 503, json_dumps_params={"ensure_ascii": False})


def error_403(request, exception=None):
    return render(request, "403.html", status=403)


def error_404(request, exception=None):
    return render(request, "404.html", status=404)


def error_500(request):
    # No context processors here: the failing request may be the reason.
    return HttpResponseServerError(loader.get_template("500.html").render())
