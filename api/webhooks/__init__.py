"""Twilio webhooks: inbound SMS and delivery status callbacks."""
