"""What the payment service talks to: its database tables and the Kafka broker."""
