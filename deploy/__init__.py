"""Deployment of xiaoneng per node (the city hub, the county departments): rendered from one inventory
(`python -m deploy render`), applied to RabbitMQ (`python -m deploy apply-broker`), migrated (`python -m deploy
migrate`). See deploy/README.md."""
