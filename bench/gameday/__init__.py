"""The seed's game days (`make gameday`): scenarios, the drill they run on a fresh local stack, the runner."""
