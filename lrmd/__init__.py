"""The local resource manager: runs OCF and LSB resource agents with timeouts and monitors."""
