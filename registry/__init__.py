"""The domain: processes, aspirants, auxiliaries, supports and their events, roll, review, reports, audit."""
