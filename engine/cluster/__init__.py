"""Processing on other machines: the engine dispatches chosen kinds through Dramatiq (Redis or
RabbitMQ) to `chute worker` processes, and places what they send back.

Nothing here is imported unless `[cluster] broker` is set or `chute worker` runs, so an engine
without a broker needs neither dramatiq nor redis.
"""
