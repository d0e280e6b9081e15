"""Publisher, reviewer and visitor pages of the events catalogue."""

from datetime import timedelta

import pytest
from django.utils import timezone

from events import services
from events.models import Category, Event, EventStatus
from events.services import EventData
from tests.factories import UserFactory

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.usefixtures("eager_celery")]
S = EventStatus


@pytest.fixture
def category():
    root = Category.objects.add_root({"slug": "show", "name_zh": "演出", "name_en": "Shows"})
    return Category.objects.add_child(root, {"slug": "jazz", "name_zh": "爵士", "name_en": "Jazz"})


@pytest.fixture
def publisher():
    return UserFactory(role="publisher")


@pytest.fixture
def admin():
    return UserFactory(role="admin", is_staff=True)


def form_data(category, **overrides):
    start = timezone.localtime() + timedelta(days=20)
    data = {"title": "Blue Note 爵士之夜", "category": category.pk, "start_time": start.strftime("%Y-%m-%dT19:30"),
            "end_time": start.strftime("%Y-%m-%dT22:00"), "city": "上海", "venue": "Blue Note Shanghai",
            "address": "黄浦区中山东一路", "description": "<p>今晚爵士</p>", "tags": "jazz, 爵士"}
    data.update(overrides)
    return data


def create(publisher, category, status=S.DRAFT, admin=None, **overrides):
    start = timezone.now() + timedelta(days=10)
    values = {"title": "Jazz night", "start_time": start, "end_time": start + timedelta(hours=2), "venue": "Blue Note",
              "city": "上海", "category": category}
    values.update(overrides)
    event = services.event_create(publisher=publisher, data=EventData(**values))
    if status != S.DRAFT:
        event = services.event_submit(actor=publisher, event=event)
    if status == S.APPROVED:
        event = services.event_approve(actor=admin, event=event)
    return event


def test_a_publisher_saves_a_draft_then_submits_it_from_the_pages(client, publisher, category):
    client.force_login(publisher)
    assert client.get("/publisher/events/new/").status_code == 200
    response = client.post("/publisher/events/new/", form_data(category))
    assert response.status_code == 302
    event = Event.objects.get()
    assert event.status == S.DRAFT and event.city == "上海"
    assert sorted(event.tags.values_list("name", flat=True)) == ["jazz", "爵士"]
    client.post(f"/publisher/events/{event.pk}/submit/")
    event.refresh_from_db()
    assert event.status == S.PENDING
    page = client.get("/publisher/events/", HTTP_ACCEPT_LANGUAGE="en").content.decode()
    assert "Pending review" in page


@pytest.mark.parametrize(("overrides", "english", "chinese"), [
    ({"title": ""}, "This field is required.", "必填项"),
    ({"end_time": "2020-01-01T00:00"}, "The event must end after it starts.", "活动结束时间必须晚于开始时间。"),
    ({"start_time": "not a date"}, "Enter a valid date/time.", "输入一个有效的日期/时间。"),
])
def test_bad_event_input_is_explained_and_saves_nothing(client, publisher, category, overrides, english, chinese):
    client.force_login(publisher)
    en = client.post("/publisher/events/new/", form_data(category, **overrides), HTTP_ACCEPT_LANGUAGE="en")
    zh = client.post("/publisher/events/new/", form_data(category, **overrides), HTTP_ACCEPT_LANGUAGE="zh-CN")
    assert english in en.content.decode() and chinese in zh.content.decode()
    assert not Event.objects.exists()


def test_a_cover_that_is_not_an_image_is_refused(client, publisher, category):
    from django.core.files.uploadedfile import SimpleUploadedFile

    client.force_login(publisher)
    fake = SimpleUploadedFile("cover.png", b"not an image", content_type="image/png")
    response = client.post("/publisher/events/new/", {**form_data(category), "cover": fake}, HTTP_ACCEPT_LANGUAGE="en")
    assert "Upload a valid image" in response.content.decode()
    assert not Event.objects.exists()


def test_the_admin_rejects_with_a_reason_and_the_publisher_sees_it(client, publisher, admin, category):
    event = create(publisher, category, status=S.PENDING)
    client.force_login(admin)
    queue = client.get("/review/events/").content.decode()
    assert "Jazz night" in queue
    no_reason = client.post(f"/review/events/{event.pk}/", {"decision": "reject", "reason": ""},
                            HTTP_REFERER=f"http://testserver/review/events/{event.pk}/", HTTP_ACCEPT_LANGUAGE="en",
                            follow=True)
    assert "Give the publisher a reason for the rejection." in no_reason.content.decode()
    client.post(f"/review/events/{event.pk}/", {"decision": "reject", "reason": "请上传清晰的海报"})
    event.refresh_from_db()
    assert event.status == S.REJECTED
    client.force_login(publisher)
    assert "请上传清晰的海报" in client.get("/publisher/events/").content.decode()
    history = client.get(f"/events/{event.pk}/")
    assert history.status_code == 200  # the owner still sees a rejected event


def test_an_approval_publishes_the_event(client, publisher, admin, category):
    event = create(publisher, category, status=S.PENDING)
    assert client.get(f"/events/{event.pk}/").status_code == 404
    client.force_login(admin)
    client.post(f"/review/events/{event.pk}/", {"decision": "approve", "reason": ""})
    client.logout()
    page = client.get(f"/events/{event.pk}/")
    assert page.status_code == 200 and "Jazz night" in page.content.decode()
    assert "Jazz night" in client.get("/events/").content.decode()


@pytest.mark.parametrize("status", [S.DRAFT, S.PENDING])
def test_unpublished_events_are_hidden_from_everyone_but_owner_and_admins(client, publisher, admin, category, status):
    event = create(publisher, category, status=status)
    assert client.get(f"/events/{event.pk}/").status_code == 404
    client.force_login(UserFactory(role="customer"))
    assert client.get(f"/events/{event.pk}/").status_code == 404
    client.force_login(UserFactory(role="publisher"))
    assert client.get(f"/events/{event.pk}/").status_code == 404
    assert client.get(f"/publisher/events/{event.pk}/edit/").status_code == 404
    client.force_login(publisher)
    assert client.get(f"/events/{event.pk}/").status_code == 200
    client.force_login(admin)
    assert client.get(f"/events/{event.pk}/").status_code == 200


def test_editing_a_pending_event_is_refused_with_a_message(client, publisher, category):
    event = create(publisher, category, status=S.PENDING)
    client.force_login(publisher)
    response = client.post(f"/publisher/events/{event.pk}/edit/", form_data(category, title="new"),
                           HTTP_REFERER=f"http://testserver/publisher/events/{event.pk}/edit/",
                           HTTP_ACCEPT_LANGUAGE="en", follow=True)
    assert "cannot be edited now" in response.content.decode()
    event.refresh_from_db()
    assert event.title == "Jazz night"


def test_the_publisher_cancels_their_event(client, publisher, admin, category):
    event = create(publisher, category, status=S.APPROVED, admin=admin)
    client.force_login(publisher)
    client.post(f"/events/{event.pk}/cancel/", {"reason": "艺人行程冲突"})
    event.refresh_from_db()
    assert event.status == S.CANCELLED
    assert client.get("/events/").content.decode().count("Jazz night") == 0


def test_the_list_filters_by_category_subtree_and_city(client, publisher, admin, category):
    other_root = Category.objects.add_root({"slug": "sport", "name_zh": "体育", "name_en": "Sports"})
    create(publisher, category, status=S.APPROVED, admin=admin, title="Jazz in Shanghai")
    create(publisher, other_root, status=S.APPROVED, admin=admin, title="Football in Beijing", city="北京")
    shows = client.get(f"/events/?category={Category.objects.get_parent(category).pk}").content.decode()
    assert "Jazz in Shanghai" in shows and "Football in Beijing" not in shows
    beijing = client.get("/events/?city=北京").content.decode()
    assert "Football in Beijing" in beijing and "Jazz in Shanghai" not in beijing
    bad = client.get("/events/?date_from=yesterday", HTTP_ACCEPT_LANGUAGE="en", follow=True).content.decode()
    assert "were not understood" in bad and "Jazz in Shanghai" in bad


def test_the_home_page_shows_upcoming_events(client, publisher, admin, category):
    create(publisher, category, status=S.APPROVED, admin=admin, title="Jazz night upcoming")
    page = client.get("/", HTTP_ACCEPT_LANGUAGE="en").content.decode()
    assert "Jazz night upcoming" in page and "上海" in page


# --- Chinese pages and formatted descriptions ---------------------------------------------
def test_chinese_selects_prompt_in_chinese(client, publisher, category):
    client.force_login(publisher)
    for url in ("/publisher/events/new/", "/events/"):
        page = client.get(url, HTTP_ACCEPT_LANGUAGE="zh-CN").content.decode()
        assert "- Select an option -" not in page, url
    assert "— 请选择 —" in client.get("/publisher/events/new/", HTTP_ACCEPT_LANGUAGE="zh-CN").content.decode()


def test_the_event_form_says_which_formatting_the_description_keeps(client, publisher):
    client.force_login(publisher)
    page = client.get("/publisher/events/new/", HTTP_ACCEPT_LANGUAGE="zh-CN").content.decode()
    assert "空一行开始新段落" in page and "**粗体**" in page


FORMATTED = """第一段，第一行
第一段，第二行

这里有 **粗体** 和 *斜体*。

- 早鸟票
- 学生票

详情见 [官网](https://example.com/jazz)。"""


def test_a_description_keeps_paragraphs_line_breaks_bold_lists_and_links(client, publisher, admin, category):
    event = create(publisher, category, status=S.APPROVED, admin=admin, description=FORMATTED)
    page = client.get(f"/events/{event.pk}/").content.decode()
    assert "<p>第一段，第一行<br>\n第一段，第二行</p>" in page
    assert "<p>这里有 <strong>粗体</strong> 和 <em>斜体</em>。</p>" in page
    assert "<ul>\n<li>早鸟票</li>\n<li>学生票</li>\n</ul>" in page
    assert '<a href="https://example.com/jazz" rel="noopener nofollow">官网</a>' in page
    assert "**" not in page.split('event-description">')[1].split("</section>")[0]


def test_a_description_written_as_html_still_shows_its_paragraphs(client, publisher, admin, category):
    event = create(publisher, category, status=S.APPROVED, admin=admin, description="<p>今晚爵士</p><p>请提前入场</p>")
    page = client.get(f"/events/{event.pk}/").content.decode()
    assert "<p>今晚爵士</p><p>请提前入场</p>" in page


XSS = """<script>alert("x1")</script>

[点我](javascript:alert("x2")) <a href="javascript:alert('x3')">也点我</a>

<img src="x" onerror="alert('x4')"> <p onclick="alert('x5')">段落</p>"""


@pytest.mark.parametrize("stored", ["saved by the publisher", "straight into the database"])
def test_scripts_event_handlers_and_javascript_links_in_a_description_stay_inert(
        client, publisher, admin, category, stored):
    event = create(publisher, category, status=S.APPROVED, admin=admin, description=XSS)
    if stored == "straight into the database":  # as an import or an old row might hold it
        Event.objects.filter(pk=event.pk).update(description=XSS)
    page = client.get(f"/events/{event.pk}/").content.decode()
    description = page.split('event-description">')[1].split("</section>")[0]
    assert "<script" not in description and "onerror" not in description and "onclick" not in description
    assert 'href="javascript' not in description and "<img" not in description
    assert "段落" in description and "也点我" in description


def test_an_event_without_a_cover_shows_its_title_and_category_instead_of_an_empty_block(client, publisher, admin,
                                                                                          category):
    event = create(publisher, category, status=S.APPROVED, admin=admin, title="Jazz night without a cover")
    for url in ("/", "/events/", f"/events/{event.pk}/"):
        page = client.get(url, HTTP_ACCEPT_LANGUAGE="zh-hans").content.decode()
        start = page.index('data-testid="cover-placeholder"')
        placeholder = page[start:page.index("</div>", start)]
        assert "Jazz night without a cover" in placeholder and "爵士" in placeholder, url


def test_the_review_page_shows_the_cover_ticket_types_prices_sessions_and_seat_map(client, publisher, admin, category):
    from io import BytesIO

    from django.core.files.uploadedfile import SimpleUploadedFile
    from PIL import Image

    from tickets import services as inventory
    from tickets.services import TierData

    jpeg = BytesIO()
    Image.new("RGB", (800, 450), "#c2185b").save(jpeg, "JPEG")
    event = create(publisher, category, cover=SimpleUploadedFile("cover.jpg", jpeg.getvalue(), "image/jpeg"))
    early_bird = timezone.make_aware(timezone.datetime(2026, 12, 20, 23, 59))
    vip = inventory.ticket_type_create(actor=publisher, event=event, name="VIP 内场", base_price=880)
    standard = inventory.ticket_type_create(
        actor=publisher, event=event, name="标准票", base_price=380,
        tiers=[TierData(kind="time", adjust_percent=-20, until=early_bird, label="早鸟")])
    seat_map = inventory.seat_map_create(actor=publisher, event=event, name="主厅 Main hall", layout={
        "stage": "舞台", "sections": [{"name": "池座", "ticket_type": vip.pk, "rows": 2, "seats": 6, "first_row": "A"}]})
    now = timezone.now()
    inventory.session_create(actor=publisher, event=event, name="晚场", hall="一号厅", start_time=event.start_time,
                             end_time=event.end_time, sales_start=now, sales_end=event.start_time, seat_map=seat_map)
    inventory.session_create(actor=publisher, event=event, hall="二号厅", start_time=event.start_time,
                             end_time=event.end_time, sales_start=now, sales_end=event.start_time,
                             stock={standard.pk: 150})
    services.event_submit(actor=publisher, event=event)
    event.refresh_from_db()

    client.force_login(admin)
    page = client.get(f"/review/events/{event.pk}/", HTTP_ACCEPT_LANGUAGE="zh-hans").content.decode()
    assert f'src="{event.cover.url}"' in page
    assert "VIP 内场" in page and "¥880.00" in page and "标准票" in page and "¥380.00" in page
    assert "早鸟 −20%" in page and "12-20 23:59" in page
    start = timezone.localtime(event.start_time).strftime("%Y-%m-%d %H:%M")
    assert page.count(start) >= 3  # the event's times and each session's
    assert "一号厅" in page and "二号厅" in page and "晚场" in page
    assert 'data-testid="review-session"' in page and ">12<" in page and ">150<" in page  # capacities
    assert page.count('class="seatmap-svg"') == 1 and "主厅 Main hall" in page


def test_the_reviewer_reads_the_description_as_buyers_will_see_it(client, publisher, admin, category):
    event = create(publisher, category, description=FORMATTED)
    services.event_submit(actor=publisher, event=event)
    client.force_login(admin)

    page = client.get(f"/review/events/{event.pk}/").content.decode()

    description = page.split('event-description">')[1].split("</section>")[0]
    assert "<strong>粗体</strong>" in description and "<li>早鸟票</li>" in description
    assert "**" not in description
