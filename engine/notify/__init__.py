"""Alerts and notifications: grouping (alerter), delivery (discord, email), and the service that
runs them beside the pipeline, from a journaled outbox, so a slow neighbour never stalls it."""
