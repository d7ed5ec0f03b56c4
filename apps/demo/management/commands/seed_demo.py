import datetime as dt

from django.core.management.base import BaseCommand
from django.utils import timezone

from apps.accounts.models import User
from apps.accounts.services import api_key_rotate, user_create
from apps.concerts.services import concert_seed
from apps.wallet.selectors import wallet_balance
from apps.wallet.services import wallet_charge

DEMO_CONCERTS = [
    ("IU Golden Hour", "Olympic Gymnastics Arena, Seoul", 150_000),
    ("Seoul Philharmonic: Mahler 5", "Seoul Arts Center", 90_000),
]
DEMO_USERS = ["alice", "bob", "carol"]
DEMO_BALANCE = 1_000_000


class Command(BaseCommand):
    help = (
        "Fill the database with demo concerts (dates from next week), seats and users with money. "
        "Safe to run again: existing rows are kept, and each demo user gets a fresh API key, printed."
    )

    def add_arguments(self, parser):
        parser.add_argument("--admin-password", default=None, help="Also create or reset staff user 'admin'.")

    def handle(self, *args, admin_password, **options):
        today = timezone.localdate()
        dates = [today + dt.timedelta(days=offset) for offset in (7, 8, 14)]
        for title, venue, price in DEMO_CONCERTS:
            concert = concert_seed(title=title, venue=venue, dates=dates, seats=50, price=price)
            self.stdout.write(f"concert {concert.pk}: {title}")
        for username in DEMO_USERS:
            user = User.objects.filter(username=username).first()
            if user is None:
                user, key = user_create(username=username)
            else:
                key = api_key_rotate(user=user)
            if wallet_balance(user=user) < DEMO_BALANCE:
                wallet_charge(user=user, amount=DEMO_BALANCE - wallet_balance(user=user))
            self.stdout.write(f"user {user.pk} {username}: api key {key} (balance {wallet_balance(user=user)} won)")
        if admin_password:
            admin = User.objects.filter(username="admin").first() or User(username="admin")
            admin.is_staff = admin.is_superuser = True
            admin.set_password(admin_password)
            admin.save()
            self.stdout.write("staff user: admin (password as given) at /admin/")
