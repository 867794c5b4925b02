from django.apps import AppConfig


class BuilderConfig(AppConfig):
    """Apps, forms, field-type registry, meta-schemas, draft → publish."""

    name = "dajian.builder"
    label = "builder"
    verbose_name = "Dajian builder"

    def ready(self) -> None:
        from dajian.builder.fields import registry

        registry.load_builtin_types()
        registry.register_checks()
