"""The search box's suggestions: the words of the query marked in a title or a name."""

import re

from django import template
from django.utils.html import escape
from django.utils.safestring import SafeString, mark_safe

register = template.Library()

_HAN_RUN = re.compile("[\u3400-\u4dbf\u4e00-\u9fff\uf900-\ufaff]{2,}")


def _terms(query: str) -> set[str]:
    """The query's words, and the pairs of each Chinese run (an event with 周杰伦 matches 周杰伦演唱会)."""
    terms = {word.casefold() for word in query.split() if any(ch.isalnum() for ch in word)}
    for run in _HAN_RUN.findall(query):
        terms.update(run[i:i + 2] for i in range(len(run) - 1))
    return terms


@register.filter
def highlight(text: str, query: str) -> SafeString:
    """text escaped, with every occurrence of the query's words in <mark> (case-insensitive;
    overlapping occurrences make one mark)."""
    text = str(text or "")
    folded = text.casefold()
    marked = [False] * len(text)
    if len(folded) == len(text):  # casefold may change lengths (ß → ss); then nothing is marked
        for term in _terms(str(query or "")):
            start = folded.find(term)
            while start != -1:
                marked[start:start + len(term)] = [True] * len(term)
                start = folded.find(term, start + 1)
    pieces, i = [], 0
    while i < len(text):
        j = i
        while j < len(text) and marked[j] == marked[i]:
            j += 1
        chunk = escape(text[i:j])
        pieces.append(f"<mark>{chunk}</mark>" if marked[i] else chunk)
        i = j
    return mark_safe("".join(pieces))
