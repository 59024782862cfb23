"""What operators see and the process needs: health, metrics, logs, memory, system limits."""
