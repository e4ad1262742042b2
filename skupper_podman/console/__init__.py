"""The web console: a flow collector, the network view made from its records, and the
web server that shows it."""
