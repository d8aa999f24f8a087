"""Echo: the course's starter pair over UDP and TCP. The server replies with the text upper-cased."""
