"""What a task plugin provides (a trained model and its data), and verified checkpoints."""
