from django.apps import AppConfig


class RuntimeConfig(AppConfig):
    """Records, validation, filters, the runtime GraphQL API."""

    name = "dajian.runtime"
    label = "runtime"
    verbose_name = "Dajian runtime"

    def ready(self) -> None:
        from dajian.builder.services import publish_hooks
        from dajian.platform import demo_hooks
        from dajian.runtime import timers
        from dajian.runtime.approvals import timers as approval_timers  # noqa: F401
        from dajian.runtime.demo import install_demo_app
        from dajian.runtime.services.indexes import ensure_record_indexes
        from dajian.runtime.stages import timers as stage_timers  # noqa: F401
        from dajian.runtime.stages.initial import on_workflow_published

        publish_hooks.register(ensure_record_indexes)
        publish_hooks.register_metadata_hook(on_workflow_published)
        timers.register_checks()
        demo_hooks.register(install_demo_app)
