from django.apps import AppConfig


class PlatformConfig(AppConfig):
    """The kernel: workspaces, members, org units, roles, tokens, files, audit."""

    name = "dajian.platform"
    label = "platform"
    verbose_name = "Dajian platform"
