"""The measuring instrument: a national-shape dataset generator and an HTTP load driver."""
