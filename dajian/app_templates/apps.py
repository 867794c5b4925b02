from django.apps import AppConfig


class AppTemplatesConfig(AppConfig):
    name = "dajian.app_templates"
    label = "app_templates"
    verbose_name = "App templates"

    def ready(self) -> None:
        from dajian.app_templates.demo import install_demo_templates
        from dajian.platform import demo_hooks

        demo_hooks.register(install_demo_templates)
