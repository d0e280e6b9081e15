"""API routes of the orders domain."""

from django.urls import path

from orders import api

urlpatterns = [
    path("api/orders", api.OrderListView.as_view(), name="api_orders"),
    path("api/orders/create", api.OrderCreateView.as_view(), name="api_order_create"),
    path("api/orders/<int:order_id>", api.OrderDetailView.as_view(), name="api_order"),
    path("api/orders/pay/<int:order_id>", api.OrderPayView.as_view(), name="api_order_pay"),
    path("api/orders/refund/<int:order_id>", api.OrderRefundView.as_view(), name="api_order_refund"),
    path("api/orders/<int:order_id>/refund-quote", api.OrderRefundQuoteView.as_view(), name="api_order_refund_quote"),
    path("api/orders/<int:order_id>/cancel", api.OrderCancelView.as_view(), name="api_order_cancel"),
    path("api/orders/<int:order_id>/attendees", api.OrderAttendeesView.as_view(), name="api_order_attendees"),
    path("api/orders/event/<int:event_id>", api.EventOrdersView.as_view(), name="api_event_orders"),
    path("api/orders/<int:order_id>/promo", api.OrderPromoView.as_view(), name="api_order_promo"),
    path("api/events/<int:event_id>/promo-codes", api.EventPromoCodesView.as_view(), name="api_event_promo_codes"),
    path("api/etickets", api.MyTicketsView.as_view(), name="api_my_tickets"),
    path("api/etickets/<int:ticket_id>", api.MyTicketView.as_view(), name="api_my_ticket"),
    path("api/etickets/<int:ticket_id>/transfer", api.TicketTransferView.as_view(), name="api_ticket_transfer"),
    path("api/transfers", api.TransferListView.as_view(), name="api_transfers"),
    path("api/transfers/<int:transfer_id>/accept", api.TransferAcceptView.as_view(), name="api_transfer_accept"),
    path("api/transfers/<int:transfer_id>/decline", api.TransferDeclineView.as_view(), name="api_transfer_decline"),
    path("api/transfers/<int:transfer_id>/cancel", api.TransferCancelView.as_view(), name="api_transfer_cancel"),
    path("api/checkin/events/<int:event_id>/revocations", api.CheckinRevocationsView.as_view(),
         name="api_checkin_revocations"),
    path("api/checkin/events/<int:event_id>/sessions/<int:session_id>/tickets", api.CheckinTicketListView.as_view(),
         name="api_checkin_tickets"),
    path("api/checkin/sync", api.CheckinSyncView.as_view(), name="api_checkin_sync"),
    path("api/waitlist", api.WaitlistView.as_view(), name="api_waitlist"),
    path("api/waitlist/<int:entry_id>", api.WaitlistEntryView.as_view(), name="api_waitlist_entry"),
    path("api/wallet", api.WalletView.as_view(), name="api_wallet"),
    path("api/attendees", api.SavedAttendeesView.as_view(), name="api_attendees"),
    path("api/attendees/<int:attendee_id>", api.SavedAttendeeView.as_view(), name="api_attendee"),
    path("api/wallets/<int:user_id>/adjust", api.WalletAdjustView.as_view(), name="api_wallet_adjust"),
    path("api/refunds", api.RefundQueueView.as_view(), name="api_refunds"),
    path("api/refunds/<int:refund_id>/review", api.RefundReviewView.as_view(), name="api_refund_review"),
    path("api/checkin", api.CheckinView.as_view(), name="api_checkin"),
    path("api/payments/callback/<slug:provider>", api.PaymentCallbackView.as_view(), name="api_payment_callback"),
]
