"""The monitor console (电子监察室): a live page for approval monitors, served by notify. Placeholder mixin;
the console endpoints, its live feed and its board are added here."""


class ConsoleEndpoints:
    """Mixed into NotifyService: the console page, its live feed and the acknowledge/resolve buttons."""
