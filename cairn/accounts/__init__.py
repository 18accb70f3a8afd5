"""Accounts: people who sign in (administrators, instructors, learners) and their xAPI identities."""
