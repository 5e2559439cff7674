"""What every swarm node runs: the agent that takes its assignments from the dispatcher and runs their tasks."""
