"""Helpers of the test suite: the service as processes, real outages, handins and their variants."""
