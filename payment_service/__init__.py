"""The payment service: accepts payment requests, lets a simulated gateway decide them, and
publishes each decision on Kafka through a transactional outbox."""
