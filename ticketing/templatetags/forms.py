from django import template

register = template.Library()

_SELECTS = {"select", "selectmultiple"}
_CHECKS = {"checkbox", "radioselect", "checkboxselectmultiple"}


@register.filter
def bootstrap(field):
    """Render a bound field's widget with Bootstrap's classes (invalid state included)."""
    kind = field.widget_type
    if kind in _CHECKS:
        css = "form-check-input"
    elif kind in _SELECTS:
        css = "form-select"
    else:
        css = "form-control"
    if field.errors:
        css += " is-invalid"
    existing = field.field.widget.attrs.get("class", "")
    return field.as_widget(attrs={"class": f"{existing} {css}".strip()})
