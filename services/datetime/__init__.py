"""Date/time over UDP: ask ``SEND_DATE`` or ``SEND_TIME``, get the server's local date or time."""
