"""The signed-in patient: profile, plan, outcome and history."""
