"""What a run knows about itself: run information and the timeline (neutral: every stage may import it)."""
