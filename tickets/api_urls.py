"""API routes of inventory, included at the site root by tickets.urls."""

from django.urls import path

from tickets import api

urlpatterns = [
    path("api/tickets/types/create", api.TicketTypeCreateView.as_view(), name="api_ticket_type_create"),
    path("api/tickets/seatmaps/create", api.SeatMapCreateView.as_view(), name="api_seat_map_create"),
    path("api/tickets/sessions/create", api.SessionCreateView.as_view(), name="api_session_create"),
    path("api/tickets/sessions/<int:session_id>/cancel", api.SessionCancelView.as_view(), name="api_session_cancel"),
    path("api/tickets/sessions/<int:session_id>/seatmap", api.SeatMapStateView.as_view(), name="api_seatmap"),
    path("api/tickets/sessions/<int:session_id>/waiting-room", api.SessionWaitingRoomView.as_view(),
         name="api_session_waiting_room"),
    path("api/tickets/sessions/<int:session_id>/queue", api.WaitingRoomView.as_view(), name="api_waiting_room"),
    path("api/tickets/<int:event_id>/stock", api.StockView.as_view(), name="api_stock"),
    path("api/tickets/<int:event_id>/types", api.EventTicketTypesView.as_view(), name="api_event_ticket_types"),
    path("api/tickets/lock/<int:seat_id>", api.LockView.as_view(), name="api_lock"),
    path("api/tickets/holds", api.HoldsView.as_view(), name="api_holds"),
    path("api/tickets/holds/<int:hold_id>", api.HoldDetailView.as_view(), name="api_hold"),
]
