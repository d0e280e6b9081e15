"""Pages of the orders domain: checkout, orders, e-tickets, wallet, refunds, check-in, exports."""

from django.urls import path

from orders import views

urlpatterns = [
    # buyers
    path("orders/", views.order_list, name="mine"),
    path("orders/checkout/", views.checkout, name="checkout"),
    path("orders/<int:pk>/", views.order_detail, name="detail"),
    path("orders/<int:pk>/attendees/", views.order_attendees, name="attendees"),
    path("orders/<int:pk>/pay/", views.order_pay, name="pay"),
    path("orders/<int:pk>/cancel/", views.order_cancel, name="cancel"),
    path("orders/<int:pk>/refund/", views.order_refund, name="refund"),
    path("orders/<int:pk>/promo/", views.order_promo, name="promo"),
    path("payments/sandbox/<str:number>/", views.sandbox_pay, name="sandbox"),
    path("tickets/mine/", views.ticket_list, name="tickets"),
    path("tickets/mine/<int:pk>/", views.ticket_detail, name="ticket"),
    path("tickets/mine/<int:pk>/qr.png", views.ticket_qr, name="ticket_qr"),
    path("tickets/mine/<int:pk>/transfer/", views.ticket_transfer, name="ticket_transfer"),
    path("tickets/transfers/", views.transfer_list, name="transfers"),
    path("tickets/transfers/<int:pk>/accept/", views.transfer_accept, name="transfer_accept"),
    path("tickets/transfers/<int:pk>/decline/", views.transfer_decline, name="transfer_decline"),
    path("tickets/transfers/<int:pk>/cancel/", views.transfer_cancel, name="transfer_cancel"),
    path("sessions/<int:pk>/waitlist/", views.waitlist_join, name="waitlist_join"),
    path("waitlist/", views.waitlist_list, name="waitlist"),
    path("waitlist/<int:pk>/leave/", views.waitlist_leave, name="waitlist_leave"),
    path("wallet/", views.wallet, name="wallet"),
    path("attendees/", views.saved_attendees, name="people"),
    # admins
    path("manage/users/<int:user_id>/wallet/", views.user_wallet, name="user_wallet"),
    path("review/refunds/", views.refund_queue, name="refund_queue"),
    path("review/refunds/<int:pk>/", views.refund_decide, name="refund_decide"),
    # the door: publishers, their staff, admins
    path("checkin/", views.checkin_events, name="checkin_events"),
    path("checkin/<int:pk>/", views.checkin_page, name="checkin"),
    path("checkin/<int:pk>/counts/", views.checkin_counts, name="checkin_counts"),
    path("checkin/<int:pk>/conflicts/", views.checkin_conflicts, name="checkin_conflicts"),
    path("checkin/sw.js", views.checkin_service_worker, name="checkin_sw"),
    path("checkin/manifest.webmanifest", views.checkin_manifest, name="checkin_manifest"),
    # publishers
    path("publisher/events/<int:pk>/staff/", views.staff_list, name="staff"),
    path("publisher/events/<int:pk>/staff/<int:user_id>/remove/", views.staff_remove, name="staff_remove"),
    path("publisher/events/<int:pk>/orders/", views.publisher_orders, name="publisher_orders"),
    path("publisher/events/<int:pk>/promo-codes/", views.promo_codes, name="promo_codes"),
    path("publisher/events/<int:pk>/promo-codes/<int:code_pk>/switch/", views.promo_switch, name="promo_switch"),
    path("publisher/events/<int:pk>/orders.csv", views.publisher_orders_csv, name="publisher_orders_csv"),
]
