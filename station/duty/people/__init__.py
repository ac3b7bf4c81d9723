"""People: staff users and sign-in, members and their consent, visits, the audit log."""
