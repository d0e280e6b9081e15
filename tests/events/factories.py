"""Factories for categories, tags and events (shared by every events test).

    root = CategoryFactory(name_zh="演出", name_en="Shows")
    concerts = CategoryFactory(parent=root, name_zh="演唱会", name_en="Concerts")
    EventFactory()                                   # a draft
    ApprovedEventFactory(category=concerts, tags=["爵士", "jazz"], city="上海")

Events come out searchable: search_text is computed after the tags are set.
"""

from datetime import timedelta

import factory
from django.utils import timezone

from accounts.models import Role
from events.models import Category, Event, EventStatus, Tag
from events.search import refresh_search_text
from tests.factories import UserFactory


class CategoryFactory(factory.django.DjangoModelFactory):
    """A root category, or a child with parent=<Category>."""

    class Meta:
        model = Category

    # Zero-padded so new siblings sort after old ones (node_order_by = slug): no paths move.
    slug = factory.Sequence(lambda n: f"category-{n:05d}")
    name_zh = factory.Sequence(lambda n: f"分类{n}")
    name_en = factory.Sequence(lambda n: f"Category {n}")

    @classmethod
    def _create(cls, model_class, *args, parent=None, **kwargs):
        if parent is None:
            return model_class.objects.add_root(kwargs)
        return model_class.objects.add_child(parent, kwargs)


class TagFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Tag
        django_get_or_create = ("name",)

    name = factory.Sequence(lambda n: f"tag{n}")


class EventFactory(factory.django.DjangoModelFactory):
    """A draft event a week from now. tags=["爵士", tag, …] takes names or Tag objects."""

    class Meta:
        model = Event
        skip_postgeneration_save = True

    title = factory.Sequence(lambda n: f"测试活动 {n}")
    description = ""
    start_time = factory.LazyFunction(lambda: timezone.now() + timedelta(days=7))
    end_time = factory.LazyAttribute(lambda e: e.start_time + timedelta(hours=3))
    venue = "杭州大剧院"
    city = "杭州"
    address = ""
    category = factory.SubFactory(CategoryFactory)
    publisher = factory.SubFactory(UserFactory, role=Role.PUBLISHER)
    status = EventStatus.DRAFT

    @factory.post_generation
    def tags(obj, create, extracted, **kwargs):
        if not create:
            return
        if extracted:
            obj.tags.set([Tag.objects.get_or_create(name=t)[0] if isinstance(t, str) else t for t in extracted])
        refresh_search_text(obj)


class ApprovedEventFactory(EventFactory):
    """A public event: approved, submitted an hour and reviewed half an hour ago."""

    status = EventStatus.APPROVED
    submitted_at = factory.LazyFunction(lambda: timezone.now() - timedelta(hours=1))
    reviewed_at = factory.LazyFunction(lambda: timezone.now() - timedelta(minutes=30))
