"""Who is acting (principals) and what they may do (the access policy)."""
