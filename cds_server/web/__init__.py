"""Pages for people: model cards now; the demo chart and the dashboard live here too."""
