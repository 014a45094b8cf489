"""Information sharing agreements (versioned data) and the decision point: the policy issue."""
