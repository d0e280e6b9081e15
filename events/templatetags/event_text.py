from django import template
from django.utils.safestring import mark_safe
from markdown_it import MarkdownIt

from events.services import sanitize_description

register = template.Library()

# CommonMark with single line breaks kept; raw HTML passes (older descriptions are HTML)
# and is then cut down to the allowlist, as it is on save.
_markdown = MarkdownIt("commonmark", {"breaks": True, "html": True})


@register.filter
def rich_text(text: str) -> str:
    """A description as the publisher form promises: paragraphs, line breaks, **bold**,
    *italic*, lists and links (rel="noopener nofollow"); scripts, event handlers and
    javascript: links never survive."""
    return mark_safe(sanitize_description(_markdown.render(text or "")))
