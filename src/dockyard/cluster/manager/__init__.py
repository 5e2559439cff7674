"""What only managers run: the leadership and, later, the leader's control loops."""
