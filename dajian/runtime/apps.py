from django.apps import AppConfig


class RuntimeConfig(AppConfig):
    """Records, validation, filters, the runtime GraphQL API."""

    name = "dajian.runtime"
    label = "runtime"
    verbose_name = "Dajian runtime"

    def ready(self) -> None:
        from dajian.builder.models import MetadataKind
        from dajian.builder.services import publish_hooks
        from dajian.platform import demo_hooks
        from dajian.runtime import outbox, timers
        from dajian.runtime.approvals import timers as approval_timers  # noqa: F401
        from dajian.runtime.automations import actions, checks, schedules, triggers
        from dajian.runtime.dashboards import hooks as dashboard_hooks
        from dajian.runtime.demo import install_demo_app
        from dajian.runtime.services.indexes import ensure_record_indexes
        from dajian.runtime.stages import timers as stage_timers  # noqa: F401
        from dajian.runtime.stages.initial import on_workflow_published

        publish_hooks.register(ensure_record_indexes)
        publish_hooks.register_metadata_hook(on_workflow_published)
        timers.register_checks()
        outbox.register(triggers.on_event)
        publish_hooks.register_metadata_checker(MetadataKind.AUTOMATION, checks.check_automation)
        publish_hooks.register_metadata_hook(schedules.on_published)
        publish_hooks.register_unpublish_hook(schedules.on_unpublished)
        actions.registry.register_checks()
        demo_hooks.register(install_demo_app)
        dashboard_hooks.register()
