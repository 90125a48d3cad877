"""Create the demo scheme and one login per role, and print them; then the demo tasking's evidence."""

from django.core.management.base import BaseCommand

from portal.demo import demo_seed, demo_seed_evidence


class Command(BaseCommand):
    help = "Create demo data (idempotent) and print a login for each role."

    def handle(self, *args, **options) -> None:
        logins = demo_seed()  # the people are committed before any evidence is created
        self.stdout.write("Demo logins (password, then a code from an authenticator app where shown):")
        for login in logins:
            line = f"  {login.role:<24} {login.email:<32} {login.password}"
            if login.totp_secret:
                line += f"   TOTP secret {login.totp_secret}"
            self.stdout.write(line)
        self.stdout.write(
            "Add a TOTP secret to any authenticator app, or print the current code with `make totp EMAIL=<address>`."
        )
        self.stdout.write(demo_seed_evidence().message)
