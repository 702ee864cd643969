"""The running daemon and what surrounds it: watchers, lock, service files, doctor, demo."""
