"""People's HTTP routes: sign-in and users, members and consent, visits."""
