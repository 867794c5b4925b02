from django.apps import AppConfig


class AppTemplatesConfig(AppConfig):
    name = "dajian.app_templates"
    label = "app_templates"
    verbose_name = "App templates"
