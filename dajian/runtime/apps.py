from django.apps import AppConfig


class RuntimeConfig(AppConfig):
    """Records, validation, filters, the runtime GraphQL API."""

    name = "dajian.runtime"
    label = "runtime"
    verbose_name = "Dajian runtime"

    def ready(self) -> None:
        from dajian.builder.services import publish_hooks
        from dajian.platform import demo_hooks
        from dajian.runtime.demo import install_demo_app
        from dajian.runtime.services.indexes import ensure_record_indexes

        publish_hooks.register(ensure_record_indexes)
        demo_hooks.register(install_demo_app)
