"""skupper-podman: Skupper-compatible application networks on Podman, Docker and Linux hosts."""

__version__ = "0.1.0"
