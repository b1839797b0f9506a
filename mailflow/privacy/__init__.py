"""Personal data after intake: purges on a schedule or on request, mailbox copies, and people's requests.

``purge`` purges one document (file, row, stored raw, audit). ``retention`` finds what
the ``[privacy]`` settings make due and runs the daily purge. ``mailbox_copies`` brings
the copies in the mailbox folders in line with the stored raw. ``person`` finds
everything held about one person, and ``export`` and ``erase`` answer the requests
under the personal information law.
"""
