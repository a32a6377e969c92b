"""Generation: turning the shot list into takes, durably and within budget."""
