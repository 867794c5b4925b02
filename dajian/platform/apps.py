from django.apps import AppConfig


class PlatformConfig(AppConfig):
    """The kernel: workspaces, members, org units, roles, tokens, files, audit."""

    name = "dajian.platform"
    label = "platform"
    verbose_name = "Dajian platform"

    def ready(self) -> None:
        from dajian.platform.recipients import registry as recipients

        recipients.load_builtin_types()
        recipients.register_checks()
