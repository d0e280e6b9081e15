from django.contrib import admin
from treebeard.admin import TreeAdmin
from treebeard.forms import movenodeform_factory

from events.models import Category, Event, EventTransition, Favourite, SearchAlias, Tag
from ticketing.admin import ReadOnlyMixin
from events.services import sanitize_description


@admin.register(Category)
class CategoryAdmin(TreeAdmin):
    form = movenodeform_factory(Category)
    list_display = ("name_zh", "name_en", "slug")
    search_fields = ("name_zh", "name_en", "slug")


@admin.register(Tag)
class TagAdmin(admin.ModelAdmin):
    search_fields = ("name",)


@admin.register(SearchAlias)
class SearchAliasAdmin(admin.ModelAdmin):
    """Names that find each other's events (an artist's other names, a city's English name); saving one
    reindexes the catalogue in the background (events.reindex)."""

    list_display = ("__str__", "note", "updated_at")
    search_fields = ("names", "note")


class TransitionInline(admin.TabularInline):
    model = EventTransition
    extra = 0
    can_delete = False
    readonly_fields = ("from_status", "to_status", "actor", "reason", "note", "created_at")

    def has_add_permission(self, request, obj=None) -> bool:
        return False


@admin.register(Event)
class EventAdmin(admin.ModelAdmin):
    """Reading and small corrections. Status changes go through the review pages
    (/review/events/), which notify people; here the status is read-only."""

    list_display = ("title", "status", "city", "start_time", "publisher", "category")
    list_filter = ("status", "category", "city")
    search_fields = ("title", "venue", "city")
    date_hierarchy = "start_time"
    readonly_fields = ("status", "review_reason", "submitted_at", "reviewed_at", "created_at", "updated_at",
                       "refund_policy", "refund_tiers")  # the publisher's form checks the tiers
    autocomplete_fields = ("tags",)
    raw_id_fields = ("publisher",)
    inlines = [TransitionInline]

    def save_model(self, request, obj, form, change):
        obj.description = sanitize_description(obj.description)
        super().save_model(request, obj, form, change)

    def save_related(self, request, form, formsets, change):
        super().save_related(request, form, formsets, change)
        from events.search import refresh_search_text

        refresh_search_text(form.instance)


@admin.register(Favourite)
class FavouriteAdmin(ReadOnlyMixin, admin.ModelAdmin):
    """Who wants what (想看): read-only; buyers mark and unmark on the event page."""

    list_display = ("event", "user", "created_at")
    list_select_related = ("event", "user")
    search_fields = ("event__title", "user__username", "user__email")
    date_hierarchy = "created_at"
