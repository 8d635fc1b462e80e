"""The inventory service: tickets in stock and the reservations orders hold on them."""
