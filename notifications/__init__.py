"""Notifications: the SMS port and its gateways (Twilio, log), message texts, the outbox, paging."""
