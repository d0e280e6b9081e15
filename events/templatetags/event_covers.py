from django import template

from events.posters import category_colours

register = template.Library()


@register.filter
def cover_background(category) -> str:
    """CSS background of a no-cover placeholder: the category's own colours (events.posters)."""
    dark, light = category_colours(category.slug)
    return f"background: linear-gradient(135deg, {dark}, {light});"
