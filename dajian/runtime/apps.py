from django.apps import AppConfig


class RuntimeConfig(AppConfig):
    """Records, validation, filters, the runtime GraphQL API."""

    name = "dajian.runtime"
    label = "runtime"
    verbose_name = "Dajian runtime"

    def ready(self) -> None:
        from dajian.builder.services import publish_hooks
        from dajian.runtime.services.indexes import ensure_record_indexes

        publish_hooks.register(ensure_record_indexes)
