"""The search box: in the navigation of every page and on the home page, its suggestions as one
types, the hint for a query with nothing searchable in it, "did you mean …", and the log of
searches that found nothing.

Full-text matches need committed rows on MariaDB (InnoDB), hence transaction=True.
"""

import re
from datetime import timedelta

import pytest
from django.urls import reverse
from django.utils import timezone

from analytics import behaviour as behaviour_report
from events import selectors
from events.models import EventStatus
from tests.events.factories import ApprovedEventFactory, CategoryFactory, EventFactory
from tests.factories import UserFactory

pytestmark = pytest.mark.django_db(transaction=True)
EN = {"HTTP_ACCEPT_LANGUAGE": "en"}
NO_CHARACTERS = ["!!!", "😀", "——", "？！…", "😀 🎉 !!"]


def suggest(client, q: str):
    return client.get(reverse("events:suggest"), {"q": q}, **EN)


def options(response, kind: str) -> list[str]:
    """The text of each suggestion of a kind (event, venue, city), tags stripped."""
    html = response.content.decode()
    found = re.findall(rf'data-testid="suggestion-{kind}">(.*?)</a>', html, flags=re.S)
    return [" ".join(re.sub(r"<[^>]+>", "", text).split()) for text in found]


# --- the box on every page ----------------------------------------------------------------------
def nav_box(html: str) -> str:
    match = re.search(r'<form class="search-box[^"]*" role="search".*?</form>', html, flags=re.S)
    assert match, "no search box"
    return match.group(0)


def test_every_kind_of_page_has_the_search_box_in_its_navigation(client):
    event = ApprovedEventFactory(title="Jazz Night")
    buyer = UserFactory()
    pages = [reverse("home"), reverse("events:list"), reverse("events:detail", args=[event.pk])]
    for url in pages:
        html = client.get(url).content.decode()
        box = nav_box(html.split('id="main-nav"', 1)[1])
        assert f'action="{reverse("events:list")}"' in box and 'method="get"' in box and 'name="q"' in box
        assert f'hx-get="{reverse("events:suggest")}"' in box and 'id="nav-q"' in box, url
        assert 'hx-trigger="input changed delay:250ms, keyup changed delay:250ms"' in box
    client.force_login(buyer)
    html = client.get(reverse("accounts:profile")).content.decode()
    assert 'id="nav-q"' in nav_box(html.split('id="main-nav"', 1)[1])
    assert 'data-testid="search-opener"' in html  # the phone's way to it inside the collapsed menu


def test_the_home_page_has_a_large_search_box_of_its_own(client):
    html = client.get(reverse("home")).content.decode()
    hero = html.split('class="hero', 1)[1].split("</section>", 1)[0]
    assert 'id="home-q"' in hero and "search-box-lg" in hero and 'aria-controls="home-suggest"' in hero
    assert html.count('role="search"') == 2


def test_the_search_box_submits_to_the_event_list(client):
    ApprovedEventFactory(title="Jazz Night")
    ApprovedEventFactory(title="Rock Night")
    response = client.get(reverse("events:list"), {"q": "jazz"}, **EN)
    assert response.status_code == 200
    assert [e.title for e in response.context["page"]] == ["Jazz Night"]


# --- suggestions ----------------------------------------------------------------------------------
def test_suggestions_are_grouped_into_events_venues_and_cities_with_the_match_marked(client):
    ApprovedEventFactory(title="Blue Note Jazz Night", venue="Blue Note Shanghai", city="上海")
    ApprovedEventFactory(title="Jazz Brunch", venue="JZ Club", city="上海")
    ApprovedEventFactory(title="Rock Night", venue="Livehouse Blue", city="北京")

    response = suggest(client, "blue")
    html = response.content.decode()
    assert response.status_code == 200
    # Rock Night is played at a Blue venue: the venue is searched too.
    assert set(options(response, "event")) == {f"Blue Note Jazz Night {_day()} · 上海", f"Rock Night {_day()} · 北京"}
    assert options(response, "venue") == ["Blue Note Shanghai · 上海", "Livehouse Blue · 北京"]
    assert options(response, "city") == []
    assert "<mark>Blue</mark> Note Jazz Night" in html and "Livehouse <mark>Blue</mark>" in html
    assert html.index('aria-label="Events"') < html.index('aria-label="Venues"')
    event_links = re.findall(r'href="(/events/\d+/)" data-testid="suggestion-event"', html)
    assert len(event_links) == 2
    assert 'href="/events/?q=Blue%20Note%20Shanghai"' in html

    cities = suggest(client, "上海")
    assert options(cities, "city") == ["上海 2 events"]
    assert 'href="/events/?city=%E4%B8%8A%E6%B5%B7"' in cities.content.decode()
    assert "<mark>上海</mark>" in cities.content.decode()


def _day() -> str:
    from django.utils.formats import date_format
    from django.utils.translation import override

    with override("en"):
        return date_format(timezone.localtime(timezone.now() + timedelta(days=7)), "SHORT_DATE_FORMAT")


def test_suggestions_escape_titles_and_queries(client):
    ApprovedEventFactory(title="<script>alert(1)</script> Jazz & <b>Blues</b>", venue='Hall "<img src=x onerror=alert(2)>"')
    response = suggest(client, "jazz")
    html = response.content.decode()
    assert options(response, "event")
    assert "<script" not in html and "<img" not in html and "<b>" not in html
    assert "&lt;script&gt;alert(1)&lt;/script&gt; <mark>Jazz</mark> &amp; &lt;b&gt;Blues&lt;/b&gt;" in html

    response = suggest(client, '<mark>"onerror')
    assert "<mark>&quot;" not in response.content.decode() and "<img" not in response.content.decode()
    venue = suggest(client, "onerror")
    assert "Hall &quot;&lt;img src=x <mark>onerror</mark>=alert(2)&gt;&quot;" in venue.content.decode()


def test_events_and_places_the_list_would_not_show_are_never_suggested(client):
    ApprovedEventFactory(title="Jazz Visible", venue="Open Hall", city="杭州")
    for status in (EventStatus.DRAFT, EventStatus.PENDING, EventStatus.REJECTED, EventStatus.CANCELLED):
        EventFactory(title=f"Jazz {status}", venue=f"Jazz Secret {status}", city="Jazzville", status=status)
    past = timezone.now() - timedelta(days=3)
    ApprovedEventFactory(title="Jazz Past", venue="Jazz Old Hall", city="Jazztown", start_time=past,
                         end_time=past + timedelta(hours=2))

    response = suggest(client, "jazz")
    assert options(response, "event") == [f"Jazz Visible {_day()} · 杭州"]
    assert options(response, "venue") == [] and options(response, "city") == []


@pytest.mark.parametrize("q", ["", " ", "j", "爵", "  j  ", "!!!"])
def test_a_query_of_less_than_two_characters_or_nothing_searchable_gets_an_empty_answer(client, q):
    ApprovedEventFactory(title="jazz j 爵士", venue="j", city="j")
    response = suggest(client, q)
    assert response.status_code == 200 and response.content.decode().strip() == ""


def test_suggestions_cost_at_most_three_statements_cold_and_two_warm(client, django_assert_max_num_queries):
    for n in range(12):
        ApprovedEventFactory(title=f"Jazz Night {n}", venue=f"Jazz Hall {n % 4}", city=f"City{n % 3}",
                             tags=["jazz", f"tag{n}"])
    with django_assert_max_num_queries(3):
        response = suggest(client, "jazz")
    assert len(options(response, "event")) == selectors.SUGGEST_EVENTS
    assert len(options(response, "venue")) == selectors.SUGGEST_PLACES
    with django_assert_max_num_queries(2):
        suggest(client, "night")


def test_at_most_eight_suggestions_in_all(client):
    for n in range(10):
        ApprovedEventFactory(title=f"Samba {n}", venue=f"Samba Hall {n}", city=f"Sambacity {n}")
    response = suggest(client, "samba")
    counts = [len(options(response, kind)) for kind in ("event", "venue", "city")]
    assert counts == [5, 2, 1]  # venues and cities share what the events leave of eight
    response = suggest(client, "sambacity")  # a city's events, and the cities; no venue is called so
    assert [len(options(response, kind)) for kind in ("event", "venue", "city")] == [5, 0, 3]


# --- a query with nothing to search ---------------------------------------------------------------
@pytest.mark.parametrize("q", NO_CHARACTERS)
def test_a_query_of_punctuation_or_emoji_lists_nothing_and_says_why(client, q):
    ApprovedEventFactory(title="Jazz Night")
    response = client.get(reverse("events:list"), {"q": q}, **EN)
    html = response.content.decode()
    assert response.status_code == 200 and list(response.context["page"]) == []
    assert 'data-testid="search-hint"' in html and "has no letters, digits or Chinese characters" in html
    assert "No event matches" not in html and "Did you mean" not in html
    partial = client.get(reverse("events:list"), {"q": q}, HTTP_HX_REQUEST="true", **EN)
    assert 'data-testid="search-hint"' in partial.content.decode()


@pytest.mark.parametrize("q", NO_CHARACTERS)
def test_the_search_api_answers_a_query_of_punctuation_or_emoji_with_no_events_and_a_hint(client, q):
    ApprovedEventFactory(title="Jazz Night")
    response = client.get("/api/events/search", {"q": q}, **EN)
    assert response.status_code == 200
    body = response.json()
    assert body["count"] == 0 and body["results"] == []
    assert "no letters, digits or Chinese characters" in body["hint"]
    assert "hint" not in client.get("/api/events/search", {"q": "jazz"}).json()
    assert client.get("/api/events/search", {"q": ""}).json()["count"] == 1  # no query is browsing


def test_a_query_with_words_among_the_punctuation_is_still_searched(client):
    ApprovedEventFactory(title="Jazz Night")
    response = client.get(reverse("events:list"), {"q": "!!! jazz 😀"}, **EN)
    assert [e.title for e in response.context["page"]] == ["Jazz Night"]
    assert "search-hint" not in response.content.decode()


def test_a_query_of_punctuation_is_logged_as_a_search_that_found_nothing(client, behaviour):
    ApprovedEventFactory(title="Jazz Night")
    client.get(reverse("events:list"), {"q": "!!!"})
    client.get("/api/events/search", {"q": "😀"})
    page, api = behaviour.lines(action="search")
    assert page["details"] == {"q": "!!!", "filters": {}, "results": 0, "page": 1}
    assert api["details"] == {"q": "😀", "filters": {}, "results": 0, "page": 1}
    today = timezone.localdate()
    empty = {row["query"]: row["count"] for row in behaviour_report.searches_empty(start=today, end=today)}
    assert empty["!!!"] == 1 and empty["😀"] == 1  # the dashboard's "searches that found nothing"


# --- did you mean ---------------------------------------------------------------------------------
# Two typos in each word: the search is to forgive one typo in a word of 5-8 letters by itself (issue 14).
def did_you_mean(client, **params) -> str | None:
    html = client.get(reverse("events:list"), params, **EN).content.decode()
    match = re.search(r'data-testid="did-you-mean">.*?<a href="([^"]+)"[^>]*>([^<]+)</a>', html, flags=re.S)
    return (match.group(2), match.group(1).replace("&amp;", "&")) if match else None


def test_an_english_typo_is_offered_its_correction_as_a_link_to_the_same_search(client):
    concerts = CategoryFactory(name_zh="演唱会", name_en="Concerts")
    ApprovedEventFactory(title="Spring Concert", city="上海", category=concerts)
    ApprovedEventFactory(title="Jazz Night", city="北京")

    word, link = did_you_mean(client, q="konsert", city="上海", sort="start")
    assert word == "concert"
    assert link.startswith("/events/?") and "q=concert" in link and "city=%E4%B8%8A%E6%B5%B7" in link
    assert "sort=start" in link
    followed = client.get(link, **EN)
    assert [e.title for e in followed.context["page"]] == ["Spring Concert"]


def test_the_search_api_offers_the_correction_too(client):
    ApprovedEventFactory(title="Spring Concert", city="上海")
    body = client.get("/api/events/search", {"q": "konsert"}).json()
    assert body["count"] == 0 and body["did_you_mean"] == "concert"
    assert "did_you_mean" not in client.get("/api/events/search", {"q": "konsert", "city": "北京"}).json()
    assert "did_you_mean" not in client.get("/api/events/search", {"q": "concert"}).json()


def test_a_mistyped_city_or_venue_is_corrected(client):
    ApprovedEventFactory(title="Winter Gala", city="Shanghai", venue="Mercedes Arena")
    ApprovedEventFactory(title="新年音乐会", city="杭州", venue="国家大剧院")
    assert did_you_mean(client, q="shonghia")[0] == "shanghai"
    assert did_you_mean(client, q="gala merzedez")[0] == "gala mercedes"
    assert did_you_mean(client, q="国家大刷院")[0] == "国家大剧院"


def test_no_correction_is_offered_when_it_would_find_nothing_or_nothing_is_close(client):
    ApprovedEventFactory(title="Spring Concert", city="上海")
    ApprovedEventFactory(title="Jazz Night", city="北京")
    assert did_you_mean(client, q="konsert", city="北京") is None  # "concert" finds nothing in 北京 either
    assert did_you_mean(client, q="xqzvwk") is None
    assert did_you_mean(client, q="concert") is None  # it found something: nothing to correct
    assert did_you_mean(client, q="!!!") is None


def test_words_of_tags_and_categories_are_known_too(client):
    ApprovedEventFactory(title="周末现场", tags=["flamenco"], category=CategoryFactory(name_en="Musicals"))
    assert did_you_mean(client, q="flamanko")[0] == "flamenco"
    assert did_you_mean(client, q="muzicels")[0] == "musicals"
