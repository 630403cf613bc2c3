"""What several gateway processes share through Redis (issue 19): the limits (one atomic
script per rate), the adaptive rate, bind-slot leases, the work queue and the platform
streams. Redis is reached through coredis, which runs on trio.
"""
