//! Omnilateral's statements (filled in by the rating-proof issue).
