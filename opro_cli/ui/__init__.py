"""Terminal output: the live leaderboard and the final summary."""
