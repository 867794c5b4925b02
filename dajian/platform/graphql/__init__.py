"""GraphQL building blocks shared by every part: the view, the mutation base class,
typed errors, and the platform's own queries (``me``)."""
