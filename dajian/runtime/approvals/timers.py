"""Timer actions of this engine (registered with ``@timer_action``)."""
