from django.conf import settings
from django.contrib import messages
from django.core.paginator import Paginator
from django.http import Http404, HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.utils import translation
from django.utils.translation import gettext as _
from django.views.decorators.http import require_GET, require_http_methods, require_POST

from accounts import notifications, services, sms
from ticketing import mail
from accounts.forms import ProfileForm, RoleForm
from accounts.models import Role, User
from accounts.permissions import ANY_ROLE, role_required
from accounts.selectors import user_search


@role_required(*ANY_ROLE)
@require_http_methods(["GET", "POST"])
def profile(request):
    """The signed-in user's own profile. Roles: every logged-in role."""
    user = request.user
    form = ProfileForm(request.POST or None, request.FILES or None, instance=user)
    if request.method == "POST" and form.is_valid():
        services.profile_update(
            user=user,
            display_name=form.cleaned_data["display_name"],
            language=form.cleaned_data["language"],
            avatar=request.FILES.get("avatar"),
            personalised=form.cleaned_data["personalised"],
        )
        response = redirect("accounts:profile")
        if user.language:
            translation.activate(user.language)
            response.set_cookie(settings.LANGUAGE_COOKIE_NAME, user.language, samesite="Lax")
        messages.success(request, _("Your profile was saved."))
        return response
    return render(request, "accounts/profile.html", {"form": form})


@role_required(*ANY_ROLE)
@require_POST
def keepalive(request):
    """'Stay logged in' from the idle warning: any request counts as activity."""
    return HttpResponse(status=204)


@role_required(Role.ADMIN)
@require_GET
def user_list(request):
    """Users with their roles, searchable. Roles: admin."""
    query, role = request.GET.get("q", "").strip(), request.GET.get("role", "")
    page = Paginator(user_search(query=query, role=role), 25).get_page(request.GET.get("page"))
    template = "accounts/partials/user_rows.html" if request.htmx else "accounts/user_list.html"
    return render(request, template, {"page": page, "query": query, "role": role, "roles": Role.choices})


@role_required(Role.ADMIN)
@require_POST
def user_role(request, user_id: int):
    """Change one user's role. Roles: admin."""
    target = get_object_or_404(User, pk=user_id)
    form = RoleForm(request.POST)
    if not form.is_valid():
        messages.error(request, _("Choose one of the roles."))
    else:
        target = services.user_set_role(actor=request.user, user=target, role=form.cleaned_data["role"])
        messages.success(request, _("%(user)s is now %(role)s.") % {"user": target, "role": target.get_role_display()})
    if request.htmx:
        return render(request, "accounts/partials/user_row.html", {"u": target, "roles": Role.choices, "swap_messages": True})
    return redirect("accounts:user_list")


@require_GET
def sms_outbox(request):
    """Texts the console SMS backend "sent" (verification codes), for trying
    sign-up by phone without a provider. Exists only with DEV_OUTBOX on."""
    if not settings.DEV_OUTBOX:
        raise Http404
    return render(request, "accounts/sms_outbox.html", {"texts": sms.outbox()})


@require_GET
def mail_outbox(request):
    """Emails the console backend "sent" (verification links, password resets),
    for trying the site without a mail server. Exists only with DEV_OUTBOX on."""
    if not settings.DEV_OUTBOX:
        raise Http404
    return render(request, "accounts/mail_outbox.html", {"mails": mail.dev_outbox()})


@role_required(*ANY_ROLE)
@require_GET
def notification_list(request):
    """The user's own notifications, newest first. Roles: every logged-in role."""
    page = Paginator(request.user.notifications.all(), 30).get_page(request.GET.get("page"))
    return render(request, "accounts/notifications.html", {"page": page})


@role_required(*ANY_ROLE)
@require_POST
def notification_read(request):
    """Mark one (`id`) or all of one's notifications read. Roles: every logged-in role."""
    raw = request.POST.get("id")
    notifications.mark_read(user=request.user, notification_id=int(raw) if raw and raw.isdigit() else None)
    return redirect("accounts:notifications")
