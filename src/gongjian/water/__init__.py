"""Water-pollution control (治水): rivers, monitoring, grading, plans, complaints."""
