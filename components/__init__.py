"""The platform's component resources and the building blocks they share."""
