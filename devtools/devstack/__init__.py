"""The local stack: embedded Redis and Kafka-protocol broker, the services, under one supervisor."""
