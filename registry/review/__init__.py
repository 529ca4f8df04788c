"""The mesa de control: why a support waits for a reviewer (flags), the queue, claims and decisions."""
