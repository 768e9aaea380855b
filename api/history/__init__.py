"""A patient's check-in and report history for their clinicians."""
