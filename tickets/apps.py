from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class TicketsConfig(AppConfig):
    name = "tickets"
    verbose_name = _("Tickets")

    def ready(self):
        # The catalogue's review page shows what an event sells without importing the inventory.
        from events.selectors import review_inventory_register
        from tickets.publisher_views import inventory_overview

        review_inventory_register(inventory_overview)

        # The event page's sessions, drawn by this app, without the catalogue importing its views.
        from events.views import event_detail_context_register
        from tickets.views import event_page_sessions

        event_detail_context_register(event_page_sessions)

        # What a sale keeps of an event (tickets.catalogue) is dropped whenever its publisher changes it.
        from django.db.models.signals import post_delete, post_save

        from events.models import Event
        from tickets import catalogue
        from tickets.models import PriceTier, Seat, SeatMap, Session, TicketType

        def forget(sender, instance, **kwargs):
            event_id = catalogue.event_id_of(instance)
            if event_id:
                catalogue.forget_event(event_id)

        # A cancelled event's sessions still to come are cancelled with it.
        from events.signals import event_cancelled
        from tickets.services import sessions_cancel_with_event

        event_cancelled.connect(lambda sender, event_id, reason, **kw: sessions_cancel_with_event(
            event_id=event_id, reason=reason), weak=False, dispatch_uid="tickets-sessions-of-cancelled-event")

        for model in (Event, TicketType, PriceTier, Session, SeatMap, Seat):
            post_save.connect(forget, sender=model, weak=False, dispatch_uid=f"catalogue-save-{model.__name__}")
            post_delete.connect(forget, sender=model, weak=False, dispatch_uid=f"catalogue-delete-{model.__name__}")

        # The waiting room reads its session's settings from Redis: written again after each change.
        from django.db import transaction

        from tickets import waiting_room

        def room_session(sender, instance, **kwargs):
            waiting_room.config_sync([instance.pk])

        def room_event(sender, instance, **kwargs):
            # The event's review or cancellation: its hot sessions' rooms open, close or say so.
            transaction.on_commit(lambda: waiting_room.config_sync(
                Session.objects.filter(event_id=instance.pk, waiting_room=True).values_list("pk", flat=True)))

        post_save.connect(room_session, sender=Session, weak=False, dispatch_uid="waiting-room-session")
        post_save.connect(room_event, sender=Event, weak=False, dispatch_uid="waiting-room-event")
